"""Strict readers (and small writers) for genome files: FASTA, BED, GTF/GFF3, bigWig, VCF, expression tables.

Every reader returns plain Python/pandas/numpy objects, converts coordinates to 0-based half-open, and raises
``seq2gen.errors.InputError`` naming file and line for bad input. pyBigWig is imported only when a bigWig is used.
"""
from seq2gen.genome.aliases import AliasMap, detect_aliases
from seq2gen.genome.annotation import exons, genes, introns, transcripts, tss
from seq2gen.genome.bigwig import BigWig, write_bigwig
from seq2gen.genome.expression import read_expression
from seq2gen.genome.fasta import Fasta, reverse_complement, scan_fasta, validate_fasta, write_fasta
from seq2gen.genome.geneids import match_gene_ids, strip_version
from seq2gen.genome.intervals import read_bed, read_gtf, read_narrowpeak
from seq2gen.genome.io import atomic_path, atomic_write, read_text
from seq2gen.genome.tables import read_sequence_table, split_table
from seq2gen.genome.vcf import read_vcf, write_vcf

__all__ = [
    "Fasta", "write_fasta", "validate_fasta", "scan_fasta", "reverse_complement",
    "detect_aliases", "AliasMap", "match_gene_ids", "strip_version",
    "read_bed", "read_narrowpeak", "read_gtf", "genes", "transcripts", "exons", "introns", "tss",
    "BigWig", "write_bigwig",
    "read_vcf", "write_vcf",
    "read_expression",
    "read_sequence_table", "split_table",
    "atomic_write", "atomic_path", "read_text",
]
