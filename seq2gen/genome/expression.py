"""Gene × tissue expression tables (TSV/CSV or GTEx GCT, optionally gzip) → a float DataFrame indexed by ``gene_id``.

Why a dedicated reader: expression targets are quantised into value tokens, so one stray ``"n/a"`` or a duplicated
gene row would quietly shift quantiles or double-count a gene. Cells are parsed column-wise, and the first problem
is reported with its file line (header = line 1, blank lines still counted) and column name.

GCT (GTEx's format: a ``#1.2`` line, a ``rows<TAB>columns`` line, then ``Name<TAB>Description<TAB>samples…``) is
detected by its first line; ``Name`` becomes the gene id, ``Description`` (the gene symbol) is dropped, and the
declared dimensions must match the table.
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


def _gct_body(lines: list[str], lineno, path: Path) -> tuple[list[str], object]:
    """Strip a GCT's two preamble lines and its Description column (checking the declared dimensions)."""
    dims = lines[1].split("\t") if len(lines) > 1 else []
    if len(dims) < 2 or not all(d.strip().isdigit() for d in dims[:2]):
        raise InputError(f"GCT line 2 must be '<rows><TAB><columns>', got {lines[1] if len(lines) > 1 else ''!r}",
                         path=path, line=int(lineno[1]) if len(lineno) > 1 else 1)
    n_rows, n_cols = int(dims[0]), int(dims[1])
    if len(lines) < 3 or lines[2].split("\t")[:2] != ["Name", "Description"]:
        raise InputError("GCT header must start with Name<TAB>Description", path=path,
                         line=int(lineno[2]) if len(lineno) > 2 else None)
    body = [line.split("\t", 2) for line in lines[2:]]
    i = next((k for k, parts in enumerate(body) if len(parts) < 3), None)
    if i is not None:
        raise InputError("GCT row needs Name, Description and at least one value column", path=path,
                         line=int(lineno[2 + i]))
    out = [f"{parts[0]}\t{parts[2]}" for parts in body]
    if len(out) - 1 != n_rows or len(body[0][2].split("\t")) != n_cols:
        raise InputError(f"GCT declares {n_rows} rows × {n_cols} columns, the table has {len(out) - 1} × "
                         f"{len(body[0][2].split(chr(9)))}", path=path, line=int(lineno[1]),
                         hint="the file may be truncated; re-download it")
    return out, lineno[2:]


def _unquote(s: pd.Series) -> pd.Series:
    return s.str.strip().str.replace(r'^"(.*)"$', r"\1", regex=True)


def read_expression(path: str | os.PathLike, tissues: list[str] | None = None,
                    allow_missing: bool = False) -> pd.DataFrame:
    """First column = gene id, other columns = tissues (or a GTEx GCT); every cell a finite number.

    ``tissues`` selects (and orders) columns; a requested tissue that is absent is an error listing those present.
    Missing cells (``NA``, empty, …) are an error unless ``allow_missing=True`` (then NaN). Quoted fields are
    unquoted, but separators inside quotes are not supported.
    """
    path = Path(path)
    lines, lineno = data_lines(read_text(path), skip_prefixes=())
    if len(lines) == 0:
        raise InputError("empty expression table", path=path)
    if lines[0].startswith("#1."):
        lines, lineno = _gct_body(lines, lineno, path)
        sep = "\t"
    else:
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
