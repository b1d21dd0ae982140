"""Embedded synthetic genome world: a seeded generator writing genome.fa, genes.gtf, peaks.bed, <tissue>.bw,
expression.tsv, variants.vcf and world.json whose biology (motifs -> tissue occupancy -> chromatin, expression,
variant effects) is shared across tasks by construction. See docs/world.md."""
from .generate import TISSUES, generate_world
from .motifs import Motif
from .signals import promoter_activity

__all__ = ["generate_world", "TISSUES", "Motif", "promoter_activity"]
