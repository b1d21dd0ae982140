"""Variant-effect side tables (eQTL slopes, MPRA log fold changes) for a data spec's ``variants.effect.table``.

One row per (variant, tissue): ``chrom pos ref alt tissue effect`` (``pos`` 1-based, as in the VCF), or
``variant_id tissue effect`` with GTEx-style ids ``chr1_13550_G_A_b38``. Tissue names are normalised like the
sample sheet's; a duplicated (variant, tissue) or a non-numeric effect is an error at its line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError

COLUMNS = ("chrom", "pos", "ref", "alt", "variant_id", "tissue", "effect")


def read_effect_table(path: Path, tissues: list[str], aliases) -> pd.DataFrame:
    """``key`` (``chrom:pos:ref:alt`` in the FASTA's chromosome names), ``tissue``, ``effect``. Rows of tissues
    outside ``tissues`` are dropped and counted in ``df.attrs["other_tissues"]`` (name → rows); when no row is of
    one of ``tissues`` it is an error naming both lists. ``aliases(names, what) → {file name: FASTA name}``."""
    from seq2gen.vocab.extend import token_name as tissue_key
    from seq2gen.genome.io import data_lines, first_bad, parse_table, read_text
    lines, lineno = data_lines(read_text(path), skip_prefixes=("#",))
    if len(lines) < 2:
        raise InputError("effect table needs a header and at least one row", path=path)
    header = [h.strip().lower() for h in lines[0].split("\t")]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}", path=path, line=int(lineno[0]),
                         hint=f"columns: {', '.join(COLUMNS)}")
    by_id = "variant_id" in header
    need = ("variant_id", "tissue", "effect") if by_id else ("chrom", "pos", "ref", "alt", "tissue", "effect")
    missing = [c for c in need if c not in header]
    if missing:
        raise InputError(f"effect table lacks column(s) {missing}", path=path, line=int(lineno[0]),
                         hint="chrom pos ref alt tissue effect, or variant_id (chr1_13550_G_A_b38) tissue effect")
    body, rows = lines[1:], lineno[1:]
    cells = parse_table(body, len(header), str_cols=tuple(range(len(header))))
    cells.columns = header
    if by_id:
        parts = cells["variant_id"].str.split("_", expand=True)
        bad = (np.ones(len(parts), bool) if parts.shape[1] < 4
               else parts[[0, 1, 2, 3]].isna().any(axis=1).to_numpy())
        i = first_bad(bad)
        if i is not None:
            raise InputError(f"variant_id {cells['variant_id'].iat[i]!r} is not chrom_pos_ref_alt[_build]",
                             path=path, line=int(rows[i]))
        chrom, pos, ref, alt = parts[0], parts[1], parts[2], parts[3]
    else:
        chrom, pos, ref, alt = cells["chrom"], cells["pos"], cells["ref"], cells["alt"]
    i = first_bad(~pos.str.fullmatch(r"\d+").fillna(False))
    if i is not None:
        raise InputError(f"pos must be a positive integer, got {pos.iat[i]!r}", path=path, line=int(rows[i]))
    effect = pd.to_numeric(cells["effect"], errors="coerce").to_numpy(np.float64)
    i = first_bad(~np.isfinite(effect))
    if i is not None:
        raise InputError(f"effect {cells['effect'].iat[i]!r} is not a finite number", path=path, line=int(rows[i]))
    mapping = aliases(sorted(pd.unique(chrom)), path.name)
    chrom = chrom.map(lambda c: mapping.get(c, c))
    key = chrom + ":" + pos.str.lstrip("0") + ":" + ref.str.upper() + ":" + alt.str.upper()
    tissue = cells["tissue"].map(tissue_key)
    dup = (key + "|" + tissue).duplicated()
    i = first_bad(dup.to_numpy())
    if i is not None:
        raise InputError(f"variant {key.iat[i]} has a second effect in tissue {tissue.iat[i]!r}", path=path,
                         line=int(rows[i]), hint="one effect per variant and tissue")
    df = pd.DataFrame({"key": key, "tissue": tissue, "effect": effect})
    ours = df["tissue"].isin(tissues)
    if not ours.any():
        raise InputError(f"no row of the effect table names a tissue of the spec ({', '.join(tissues)}); the "
                         f"table has {', '.join(sorted(pd.unique(tissue))[:8])}", path=path,
                         hint="rename the table's tissues, or list them in the spec's samples / tissues:")
    out = df[ours].reset_index(drop=True)
    out.attrs["other_tissues"] = {str(t): int(n) for t, n in df.loc[~ours, "tissue"].value_counts().items()}
    return out
