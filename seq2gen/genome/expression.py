"""Gene × tissue expression tables (TSV/CSV, optionally gzip) → a float DataFrame indexed by ``gene_id``.

Why a dedicated reader: expression targets are quantised into value tokens, so one stray ``"n/a"`` or a duplicated
gene row would quietly shift quantiles or double-count a gene. Cells are parsed column-wise, and the first problem
is reported with its file line (header = line 1, blank lines still counted) and column name.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.genome.io import data_lines, field_counts, first_bad, parse_table, read_text

#: Cell spellings treated as a missing value (an error unless ``allow_missing=True``).
MISSING = ("", "NA", "NaN", "nan", "N/A", "n/a", ".")


def _separator(path: Path, header: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".txt", ".tab")):
        return "\t"
    return "\t" if "\t" in header else ","


def _unquote(s: pd.Series) -> pd.Series:
    return s.str.strip().str.replace(r'^"(.*)"$', r"\1", regex=True)


def read_expression(path: str | os.PathLike, tissues: list[str] | None = None,
                    allow_missing: bool = False) -> pd.DataFrame:
    """First column = gene id, other columns = tissues; every cell a finite number.

    ``tissues`` selects (and orders) columns; a requested tissue that is absent is an error listing those present.
    Missing cells (``NA``, empty, …) are an error unless ``allow_missing=True`` (then NaN). Quoted fields are
    unquoted, but separators inside quotes are not supported.
    """
    path = Path(path)
    lines, lineno = data_lines(read_text(path), skip_prefixes=())
    if len(lines) == 0:
        raise InputError("empty expression table", path=path)
    sep = _separator(path, lines[0])
    header = _unquote(pd.Series(lines[0].split(sep), dtype=str)).tolist()
    names = header[1:]
    if not names:
        raise InputError(f"empty expression table: no tissue columns in the header (separator {sep!r})",
                         path=path, line=int(lineno[0]), hint="expected: gene_id<TAB>tissue1<TAB>tissue2 …")
    seen: dict[str, int] = {}
    for j, name in enumerate(names, start=2):
        if not name:
            raise InputError(f"empty column name in header (column {j})", path=path, line=int(lineno[0]))
        if name in seen:
            raise InputError(f"duplicate tissue column {name!r} (columns {seen[name]} and {j})", path=path,
                             line=int(lineno[0]))
        seen[name] = j
    body, body_no = lines[1:], lineno[1:]
    if len(body) == 0:
        raise InputError("empty expression table: header but no gene rows", path=path, line=int(lineno[0]))
    n = field_counts(body, sep)
    i = first_bad(n != len(header))
    if i is not None:
        raise InputError(f"row has {n[i]} columns, the header has {len(header)}", path=path, line=int(body_no[i]),
                         hint=f"columns must be separated by {sep!r}")
    cells = parse_table(body, len(header), sep=sep, str_cols=(0,))
    genes = _unquote(cells[0])
    i = first_bad(genes == "")
    if i is not None:
        raise InputError("empty gene id", path=path, line=int(body_no[i]))
    dup = genes.duplicated()
    i = first_bad(dup)
    if i is not None:
        first = int(body_no[first_bad(genes == genes.iat[i])])
        raise InputError(f"duplicate gene id {genes.iat[i]!r} (first at line {first})", path=path,
                         line=int(body_no[i]))
    values = {}
    problems = []  # (row, column position, message, hint) of the first problem in each column
    for j, name in enumerate(names, start=1):
        col = cells[j]
        if pd.api.types.is_numeric_dtype(col):  # the common case: the C reader already parsed every cell
            num, col, missing = col.astype(np.float64), col.astype(str), np.zeros(len(col), bool)
        else:
            col = _unquote(col.astype(str))
            num = pd.to_numeric(col, errors="coerce")
            missing = col.isin(MISSING).to_numpy()
        for mask, msg, hint in (
                (num.isna().to_numpy() & ~missing, "is not a number: {!r}", None),
                (np.isinf(num.to_numpy(dtype=float)), "is not finite: {!r}", None),
                (missing if not allow_missing else np.zeros_like(missing), "is missing ({!r})",
                 "pass allow_missing=True to keep missing values as NaN")):
            i = first_bad(mask)
            if i is not None:
                problems.append((i, j, f"column {name!r}: value " + msg.format(col.iat[i]), hint))
        values[name] = num.to_numpy(dtype=np.float64)
    if problems:
        i, _, msg, hint = min(problems, key=lambda p: (p[0], p[1]))
        raise InputError(msg, path=path, line=int(body_no[i]), hint=hint)
    df = pd.DataFrame(values, index=pd.Index(genes.to_numpy(object), name="gene_id"))
    if tissues is not None:
        absent = [t for t in tissues if t not in df.columns]
        if absent:
            raise InputError(f"requested tissues {absent} are not in the table; it has: {', '.join(names)}",
                             path=path, line=int(lineno[0]))
        df = df[list(tissues)]
    return df
