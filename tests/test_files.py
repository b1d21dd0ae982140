"""The genome readers on tiny real-format files committed in tests/files/ (FASTA + .fai, BED, GTF, VCF, bigWig,
a labelled table, an expression matrix); every expected value is read off the files by hand."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from seq2gen.genome import (BigWig, Fasta, exons, read_bed, read_expression, read_gtf, read_sequence_table,
                            read_vcf)

FILES = Path(__file__).parent / "files"


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    """A copy, so that nothing a reader might write (an index) lands in the repository."""
    d = tmp_path_factory.mktemp("files")
    for name in ("mini.fa", "mini.fa.fai"):
        shutil.copy(FILES / name, d / name)
    return Fasta(d / "mini.fa")


def test_fasta_and_its_index(fasta):
    assert fasta.contigs == {"chr1": 22, "chr2": 14}
    assert fasta.fetch("chr1", 0, 22) == "ACGTACGTACGGGGCCCCAATT"          # three lines joined
    assert fasta.fetch("chr2", 10, 16, "-") == "NNGTAC"                    # past the end: N, then reverse complement
    assert [s[:6] for s in fasta.sequences()] == ["ACGTAC", "NNNNAC"]


def test_bed_and_gtf_are_zero_based_half_open(fasta):
    bed = read_bed(FILES / "mini.bed", fasta.contigs)                    # track line and comment skipped
    assert bed[["chrom", "start", "end", "name", "strand"]].values.tolist() == [
        ["chr1", 2, 8, "peak1", "+"], ["chr2", 4, 10, "peak2", "-"]]
    gtf = read_gtf(FILES / "mini.gtf", fasta.contigs)
    assert gtf["feature"].tolist() == ["gene", "transcript", "exon", "exon"] and set(gtf["gene_id"]) == {"g1"}
    assert exons(gtf)[["start", "end"]].values.tolist() == [[2, 8], [14, 20]]   # GTF 3..8 and 15..20


def test_vcf_checked_against_the_fasta(fasta):
    v = read_vcf(FILES / "mini.vcf", fasta)
    assert v[["chrom", "start", "end", "pos", "ref", "alt"]].values.tolist() == [
        ["chr1", 1, 2, 2, "C", "T"], ["chr1", 10, 11, 11, "G", "A"], ["chr2", 5, 6, 6, "C", "CA"]]
    assert v["info_EFFECT"].tolist() == [0.5, -1.25, 0.0]


def test_bigwig_bins():
    bw = BigWig(FILES / "mini.bw")                                       # chr1: 1.0 on [0, 10), 3.0 on [10, 20)
    np.testing.assert_allclose(bw.binned_mean("chr1", 0, 20, 2), [1.0, 3.0])
    np.testing.assert_allclose(bw.binned_mean("chr1", 5, 15, 4), [1.0, 1.0, 3.0, 3.0])
    np.testing.assert_allclose(bw.binned_mean("chr2", 0, 14, 1), [2.0])


def test_table_and_expression():
    t = read_sequence_table(FILES / "table.tsv", extra_cols=["cell"])
    assert t["sequence"].tolist() == ["ACGTACGTAA", "acgtNNacgt", "ACGTRYACGT"]    # IUPAC kept as written
    assert t["label"].tolist() == [1, 0, 1] and t["line"].tolist() == [2, 3, 4]
    e = read_expression(FILES / "expression.tsv")
    assert e.loc["g1", "liver"] == 1.5 and e.loc["g2", "heart"] == 3.0 and list(e.columns) == ["liver", "heart"]
