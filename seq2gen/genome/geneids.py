"""Gene identifiers across files: versioned vs unversioned Ensembl IDs (``ENSG00000141510.17`` vs
``ENSG00000141510``) reconciled, with counts of what matched how.

Why: GENCODE GTFs carry versions, many expression tables (GTEx GCTs of another GENCODE release, DESeq2 output,
Ensembl BioMart exports) drop or change them. Exact string matching then loses most genes — in the worst case all
of them, which surfaces far away as "no train rows". ``match_gene_ids`` matches exactly first, then on the ID with
its ``.N`` version dropped (``_PAR_Y`` kept: the X and Y copies of a pseudoautosomal gene stay distinct), and only
where that base ID is unique on both sides — ``RP11-34P13.3`` / ``RP11-34P13.7`` (old clone names, not versions)
never collapse onto one gene.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from seq2gen.errors import InputError

_VERSION = r"\.\d+(?=(_PAR_Y)?$)"


def strip_version(ids) -> pd.Series:
    """``ENSG00000223972.5`` → ``ENSG00000223972``; ``ENSG00000182378.14_PAR_Y`` → ``ENSG00000182378_PAR_Y``."""
    return pd.Series(ids, dtype=object).astype(str).str.replace(_VERSION, "", regex=True)


@dataclass
class GeneIdMatch:
    """``mapping``: table ID → annotation ID for every matched row; ``counts``: ``exact``, ``version
    reconciled``, ``ambiguous``, ``unmatched``; ``unmatched``: a few table IDs no rule matched."""

    mapping: dict[str, str]
    counts: dict[str, int]
    unmatched: list[str] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        total = sum(self.counts.values())
        return len(self.mapping) / total if total else 1.0

    def report(self) -> str:
        return "gene IDs: " + ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)


def match_gene_ids(table_ids, annotation_ids) -> GeneIdMatch:
    """Match the IDs of a table (expression rows, eQTL genes) onto an annotation's gene IDs."""
    table = pd.Index(pd.Series(table_ids, dtype=object).astype(str))
    ref = pd.Index(pd.Series(annotation_ids, dtype=object).astype(str)).unique()
    exact = table.isin(ref)
    mapping = dict(zip(table[exact], table[exact]))
    rest = table[~exact]
    rest_base = strip_version(rest)
    free = ref[~ref.isin(table[exact])]
    free_base = strip_version(free)
    unique_ref = free_base[~free_base.duplicated(keep=False)]
    by_base = pd.Series(free[unique_ref.index].to_numpy(), index=unique_ref.to_numpy())
    unique_rest = ~rest_base.duplicated(keep=False).to_numpy()
    hit = rest_base.isin(by_base.index).to_numpy()
    ok = hit & unique_rest
    mapping.update(zip(rest[ok], by_base[rest_base[ok].to_numpy()].to_numpy()))
    ambiguous = int((hit & ~unique_rest).sum()) + int(rest_base.isin(free_base[free_base.duplicated(
        keep=False)]).sum())
    counts = {"exact": int(exact.sum()), "version reconciled": int(ok.sum()), "ambiguous": ambiguous,
              "unmatched": int(len(table) - exact.sum() - ok.sum() - ambiguous)}
    missing = [t for t in rest[~ok][:8]]
    return GeneIdMatch(mapping, counts, missing)


def require_match(m: GeneIdMatch, min_fraction: float, path: str | os.PathLike | None, annotation_ids,
                  what: str = "expression table") -> None:
    """InputError when fewer than ``min_fraction`` of the table's IDs found a gene — with examples of both
    sides, so a naming mismatch (symbols vs IDs, another species or release) is visible at once."""
    if m.fraction >= min_fraction:
        return
    from seq2gen.genome.aliases import shown
    total = sum(m.counts.values())
    raise InputError(f"only {len(m.mapping):,} of {total:,} rows of the {what} ({100 * m.fraction:.0f} %) name a "
                     f"gene of the annotation ({m.report()}); unmatched e.g. {shown(m.unmatched, 4)}; the "
                     f"annotation has e.g. {shown(list(annotation_ids)[:4], 4)}", path=path,
                     hint="use the annotation (GTF) release the table was made with (GTEx v8 = GENCODE v26), "
                          f"map symbols to gene IDs first, or lower the source's min_matched (now {min_fraction})")
