"""Chromosome name aliases between files: UCSC ``chr1``/``chrM`` vs Ensembl/NCBI ``1``/``MT``, detected, not guessed.

Why: a GENCODE GTF says ``chr1``, an Ensembl bigWig or a VCF from a variant caller says ``1``; matching names by
exact string then drops every row of one file (or, for a signal track, reads zeros). ``detect_aliases(names,
reference)`` maps each name of one file onto the reference's (the FASTA's) by a short, fixed list of rules and
says which rule mapped how many names; what no rule maps is listed, never dropped quietly. The caller decides
whether an unmatched name is an error (a row on it) or harmless (an unplaced contig nothing uses).

Rules, in order: the name itself; an explicit table (``extra``, e.g. a spec's ``aliases:`` or UCSC
``chromAlias.txt`` rows); adding or removing the ``chr`` prefix (any case); the mitochondrion's spellings ``M``,
``MT``, ``chrM``, ``chrMT``. Two names that would land on the same reference name are an error (a file holding both
``1`` and ``chr1`` is ambiguous).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from seq2gen.errors import InputError

MITO = ("chrM", "chrMT", "MT", "M")
_RULES = ("exact", "table", "add 'chr'", "drop 'chr'", "mitochondrion")


@dataclass
class AliasMap:
    """``mapping``: file name → reference name for every matched name (identity included); ``unmatched``: names no
    rule maps; ``counts``: rule → how many names it mapped."""

    mapping: dict[str, str]
    unmatched: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)   # rule → "1→chr1"

    @property
    def renamed(self) -> dict[str, str]:
        """Only the names that change."""
        return {k: v for k, v in self.mapping.items() if k != v}

    def __call__(self, name: str) -> str | None:
        return self.mapping.get(name)

    def report(self) -> str:
        """One line for a log: what was mapped by which rule, and what was left unmatched."""
        parts = [f"{n} {'unchanged' if r == 'exact' else 'by ' + r}"
                 + (f" (e.g. {self.examples[r]})" if r in self.examples and r != "exact" else "")
                 for r, n in self.counts.items()]
        text = "chromosome names: " + (", ".join(parts) or "none matched")
        if self.unmatched:
            text += f"; {len(self.unmatched)} unmatched ({shown(self.unmatched)})"
        return text


def shown(names, n: int = 8) -> str:
    """``a, b, c, … (40 in all)``: enough names to recognise a naming style without flooding a message."""
    names = list(names)
    return ", ".join(names[:n]) + (f", … ({len(names)} in all)" if len(names) > n else "")


def _candidates(name: str, extra: dict[str, str]):
    yield "exact", name
    if name in extra:
        yield "table", extra[name]
    if name[:3].lower() == "chr":
        yield "drop 'chr'", name[3:]
    else:
        yield "add 'chr'", "chr" + name
    if name in MITO:
        for m in MITO:
            yield "mitochondrion", m


def detect_aliases(names, reference, extra: dict[str, str] | None = None,
                   path: str | os.PathLike | None = None) -> AliasMap:
    """Map each of ``names`` (one file's chromosomes) onto ``reference`` (e.g. ``Fasta.contigs``).

    ``extra``: an explicit file-name → reference-name table tried right after the exact name. ``path`` names the
    file in the error raised when two of its names would map onto one reference name.
    """
    ref = set(reference)
    extra = dict(extra or {})
    out = AliasMap(mapping={})
    taken: dict[str, str] = {}
    for name in dict.fromkeys(str(n) for n in names):
        hit = next(((rule, c) for rule, c in _candidates(name, extra) if c in ref), None)
        if hit is None:
            out.unmatched.append(name)
            continue
        rule, target = hit
        if target in taken:
            raise InputError(f"chromosome names {taken[target]!r} and {name!r} both map to {target!r} of the "
                             "reference", path=path, hint="the file mixes naming styles: keep one of them")
        taken[target] = name
        out.mapping[name] = target
        out.counts[rule] = out.counts.get(rule, 0) + 1
        out.examples.setdefault(rule, f"{name}→{target}")
    out.counts = {r: out.counts[r] for r in _RULES if r in out.counts}
    return out


def suggest(name: str, reference) -> str | None:
    """The reference name an unknown ``name`` most likely means under the alias rules (for error hints)."""
    return detect_aliases([name], reference).mapping.get(name)


def naming_hint(names, reference) -> str:
    """What to tell a user whose file's chromosome names are not the reference's."""
    amap = detect_aliases(names, reference)
    if amap.renamed:
        k, v = next(iter(amap.renamed.items()))
        return (f"the names differ only in style ({k!r} is {v!r} in the FASTA): rename them, e.g. with a UCSC "
                "chromAlias table, or declare the aliases")
    return "check the chromosome naming (e.g. 'chr1' vs '1') and that the file is from the same genome build"
