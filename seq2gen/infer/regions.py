"""Genomic region strings for the inference API: ``chr7:1,000-3,000``, ``chr7:1000-3000:-``, ``chr7:1000-3000(-)``.

Region strings follow the samtools / genome-browser convention — **1-based, both ends inclusive** — and are turned
into the package's 0-based half-open intervals: ``chr7:1,000-3,000`` is ``Region("chr7", 999, 3000)``, 2,001 bp.
Commas and underscores in numbers are ignored; the strand (``+`` default, or ``-``: the reverse complement is read)
is an optional ``:+``/``:-`` or ``(+)``/``(-)`` suffix.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from seq2gen.errors import InputError

_REGION = re.compile(r"^\s*(?P<chrom>[^\s:()]+):(?P<start>[\d,_]+)-(?P<end>[\d,_]+)"
                     r"(?:(?::(?P<s1>[+-]))|(?:\((?P<s2>[+-])\)))?\s*$")


@dataclass(frozen=True)
class Region:
    """0-based half-open ``[start, end)`` on ``chrom``; ``strand="-"`` reads the reverse complement."""

    chrom: str
    start: int
    end: int
    strand: str = "+"

    def __post_init__(self):
        if self.strand not in ("+", "-"):
            raise InputError(f"strand must be '+' or '-', got {self.strand!r}")
        if self.start < 0 or self.end <= self.start:
            raise InputError(f"empty or negative region {self.chrom}:{self.start}-{self.end} (0-based)")

    def __len__(self) -> int:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start + 1:,}-{self.end:,}:{self.strand}"

    def fetch(self, fasta) -> str:
        fasta.check_contig(self.chrom)
        return fasta.fetch(self.chrom, self.start, self.end, self.strand)

    def to_genome(self, a: int, b: int) -> tuple[int, int]:
        """Shown-orientation offsets ``[a, b)`` of this region → genomic 0-based half-open coordinates."""
        if self.strand == "+":
            return self.start + a, self.start + b
        return self.end - b, self.end - a

    def position(self, offset: int) -> int:
        """Genomic 0-based coordinate of the base at shown-orientation ``offset``."""
        return self.start + offset if self.strand == "+" else self.end - 1 - offset

    def resized(self, length: int, before: int, anchor_offset: int) -> "Region":
        """A ``length``-bp region (same chrom/strand) whose base at shown offset ``before`` is the base at shown
        offset ``anchor_offset`` of this region."""
        anchor = self.position(anchor_offset)
        start = anchor - before if self.strand == "+" else anchor - (length - before) + 1
        if start < 0:
            raise InputError(f"a {length}-bp window around {self.chrom}:{anchor + 1:,} would start before the "
                             "contig", hint="choose a region further from the chromosome start")
        return Region(self.chrom, start, start + length, self.strand)


def parse_region(text: "str | Region") -> Region:
    """``"chr7:1,000-3,000"`` (1-based, inclusive; optional ``:-`` or ``(-)``) → ``Region``."""
    if isinstance(text, Region):
        return text
    m = _REGION.match(str(text))
    if not m:
        raise InputError(f"cannot read region {text!r}",
                         hint="write CHROM:START-END with 1-based inclusive positions, optionally :+ or :-, "
                              "e.g. chr7:1,000-3,000:-")
    start, end = (int(m.group(k).replace(",", "").replace("_", "")) for k in ("start", "end"))
    if start < 1 or end < start:
        raise InputError(f"region {text!r} needs 1 ≤ START ≤ END (1-based, inclusive)")
    return Region(m.group("chrom"), start - 1, end, m.group("s1") or m.group("s2") or "+")


def looks_like_region(text: str) -> bool:
    return isinstance(text, Region) or bool(_REGION.match(str(text)))
