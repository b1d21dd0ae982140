"""BED and GTF/GFF3 readers returning seq2gen's one interval contract: ``chrom, start, end`` first, 0-based half-open.

Why vectorised-then-located: files are parsed as whole columns (fast on a 3 M-line GENCODE GTF) and every check is a
column mask; only when a mask fires do we look up the *file* line of its first row, kept alongside each row, so the
message points where an editor would. GTF's 1-based closed coordinates are converted here, once.
GTF/GFF3 attribute parsing and the derived tables (genes, exons, introns, TSS) live in ``annotation.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.genome import annotation
from seq2gen.genome.annotation import exons, genes, introns, transcripts, tss  # noqa: F401  (re-exported)
from seq2gen.genome.io import data_lines, field_counts, first_bad, parse_table, read_text

BED_NAMES = ["chrom", "start", "end", "name", "score", "strand"]
#: ENCODE narrowPeak (BED6+4): signalValue, pValue and qValue (-log10, -1 = not given), summit offset (-1 = none)
NARROWPEAK = BED_NAMES + ["signal", "p_value", "q_value", "peak"]
BED_SKIP = ("#", "track", "browser")


def _parse_with_ints(lines: list[str], ncol: int, int_cols: tuple[int, ...]) -> pd.DataFrame:
    """Parse with the C reader letting it type the coordinate columns (fast); if one is not all-integer, parse
    again keeping them as text, so the error can quote the offending cell exactly as written."""
    other = tuple(i for i in range(ncol) if i not in int_cols)
    raw = parse_table(lines, ncol, str_cols=other)
    if not all(pd.api.types.is_integer_dtype(raw[i]) for i in int_cols):
        raw = parse_table(lines, ncol, str_cols=tuple(range(ncol)))
    return raw


def _to_int(col: pd.Series, what: str, path, lines: np.ndarray) -> np.ndarray:
    """Integer column or InputError at the first cell that is not a plain integer."""
    if pd.api.types.is_integer_dtype(col):
        return col.to_numpy(np.int64)
    text = col.astype(str).str.strip()
    ok = text.str.fullmatch(r"[+-]?\d{1,18}").fillna(False).to_numpy(bool)
    i = first_bad(~ok)
    if i is not None:
        raise InputError(f"{what} is not an integer: {col.iat[i]!r}", path=path, line=int(lines[i]))
    return text.astype(np.int64).to_numpy()


def _check_field_counts(lines: list[str], lineno: np.ndarray, path, lo: int, hi: int | None, what: str,
                        same: bool = False) -> int:
    """Number of tab-separated fields per row; error on the first row outside [lo, hi] (or differing, if same)."""
    n = field_counts(lines)
    bad = (n < lo) if hi is None else ((n < lo) | (n > hi))
    i = first_bad(bad)
    if i is not None:
        want = f"at least {lo}" if hi is None else (str(lo) if lo == hi else f"{lo} to {hi}")
        raise InputError(f"expected {want} tab-separated columns for {what}, found {n[i]}", path=path,
                         line=int(lineno[i]), hint="columns must be separated by tabs, not spaces")
    if same:
        i = first_bad(n != n[0])
        if i is not None:
            raise InputError(f"row has {n[i]} columns but line {lineno[0]} has {n[0]}; all rows of a BED file must "
                             "have the same number of columns", path=path, line=int(lineno[i]))
    return int(n.max())


def check_coordinates(df: pd.DataFrame, lineno: np.ndarray, path, contigs: dict[str, int] | None) -> None:
    """Shared checks on 0-based ``start``/``end``: start ≥ 0, end ≥ start, known contig, end ≤ contig length."""
    start, end = df["start"].to_numpy(), df["end"].to_numpy()
    i = first_bad(start < 0)
    if i is not None:
        raise InputError(f"negative start {start[i]}", path=path, line=int(lineno[i]))
    i = first_bad(end < start)
    if i is not None:
        raise InputError(f"end < start ({df['chrom'].iat[i]}:{start[i]}-{end[i]} in 0-based half-open coordinates)",
                         path=path, line=int(lineno[i]))
    if contigs is None:
        return
    lengths = df["chrom"].map(contigs)
    i = first_bad(lengths.isna())
    if i is not None:
        from seq2gen.genome.aliases import naming_hint, shown
        raise InputError(f"unknown contig {df['chrom'].iat[i]!r}; known: {shown(contigs)}", path=path,
                         line=int(lineno[i]), hint=naming_hint([df["chrom"].iat[i]], contigs))
    i = first_bad(end > lengths.to_numpy())
    if i is not None:
        raise InputError(f"end {end[i]} is beyond the length of {df['chrom'].iat[i]} ({int(lengths.iat[i])})",
                         path=path, line=int(lineno[i]), hint="is the file from a different genome build?")


def _maybe_numeric(col: pd.Series) -> pd.Series:
    """Column as numbers when every cell parses ('.' counts as missing); otherwise unchanged strings."""
    if pd.api.types.is_numeric_dtype(col):
        return col
    vals = col.where(col != ".")
    num = pd.to_numeric(vals, errors="coerce")
    return num if num.notna().sum() == vals.notna().sum() else col


def read_bed(path: str | os.PathLike, contigs: dict[str, int] | None = None) -> pd.DataFrame:
    """BED3–BED12 (and narrowPeak-style extras) → ``chrom, start, end[, name, score, strand, col7, …]``.

    ``track``/``browser``/``#`` lines and blank lines are skipped. Every row must have the same number of columns.
    ``contigs`` (name → length, e.g. ``Fasta.contigs``) enables the contig and bounds checks. An empty BED gives an
    empty frame with the three core columns.
    """
    path = Path(path)
    lines, lineno = data_lines(read_text(path), skip_prefixes=BED_SKIP)
    if len(lines) == 0:
        return pd.DataFrame({"chrom": pd.Series(dtype=str), "start": pd.Series(dtype=np.int64),
                             "end": pd.Series(dtype=np.int64)})
    ncol = _check_field_counts(lines, lineno, path, 3, None, "BED", same=True)
    raw = _parse_with_ints(lines, ncol, (1, 2))
    raw.columns = (BED_NAMES + [f"col{i}" for i in range(7, ncol + 1)])[:ncol]
    df = pd.DataFrame({"chrom": raw["chrom"]})
    df["start"] = _to_int(raw["start"], "start", path, lineno)
    df["end"] = _to_int(raw["end"], "end", path, lineno)
    check_coordinates(df, lineno, path, contigs)
    for name in raw.columns[3:]:
        df[name] = raw[name] if name in ("name", "strand") else _maybe_numeric(raw[name])
    if "strand" in df:
        i = first_bad(~df["strand"].isin(["+", "-", "."]))
        if i is not None:
            raise InputError(f"strand must be '+', '-' or '.', got {df['strand'].iat[i]!r}", path=path,
                             line=int(lineno[i]))
    return df


def bed_row_lines(path: str | os.PathLike) -> np.ndarray:
    """File line number of each row ``read_bed`` returns (for errors found after reading, e.g. a bad tissue)."""
    return data_lines(read_text(path), skip_prefixes=BED_SKIP)[1]


def read_narrowpeak(path: str | os.PathLike, contigs: dict[str, int] | None = None) -> pd.DataFrame:
    """ENCODE narrowPeak (exactly 10 columns) → ``chrom, start, end, name, score, strand, signal, p_value,
    q_value, peak`` plus ``summit`` (genome position: ``start + peak``, or the interval centre when ``peak`` is
    -1). A broadPeak (9 columns) or a plain BED is an error that says which it looks like."""
    path = Path(path)
    df = read_bed(path, contigs)
    if len(df) == 0:                    # a cell type with no peaks: a valid, empty narrowPeak
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("chrom", "name", "strand") else np.int64
                                          if c in ("start", "end", "peak") else float)
                             for c in NARROWPEAK}).assign(summit=pd.Series(dtype=np.int64))
    if df.shape[1] != 10:
        kind = {9: "a broadPeak (BED6+3)", 3: "a plain BED3", 6: "a BED6"}.get(df.shape[1], "not a narrowPeak")
        raise InputError(f"{df.shape[1]} columns: this looks like {kind}, a narrowPeak has 10", path=path,
                         line=int(bed_row_lines(path)[0]),
                         hint="read it with read_bed, or pass the ENCODE narrowPeak (BED6+4) file")
    df.columns = NARROWPEAK
    for col in ("score", "signal", "p_value", "q_value", "peak"):
        if not pd.api.types.is_numeric_dtype(df[col]):
            i = first_bad(pd.to_numeric(df[col], errors="coerce").isna())
            raise InputError(f"narrowPeak column {col!r} must be numeric, got {df[col].iat[i]!r}", path=path,
                             line=int(bed_row_lines(path)[i]))
    peak = df["peak"].to_numpy()
    width = (df["end"] - df["start"]).to_numpy()
    i = first_bad((peak != np.round(peak)) | (peak < -1) | (peak >= np.maximum(width, 1)))
    if i is not None:
        raise InputError(f"summit offset (column 10) {df['peak'].iat[i]} is not -1 or within the peak "
                         f"(0..{width[i] - 1})", path=path, line=int(bed_row_lines(path)[i]),
                         hint="column 10 is the summit's offset from the peak start")
    df["peak"] = df["peak"].astype(np.int64)
    df["summit"] = np.where(peak >= 0, df["start"] + peak, (df["start"] + df["end"]) // 2).astype(np.int64)
    return df


def read_gtf(path: str | os.PathLike, contigs: dict[str, int] | None = None, fmt: str | None = None) -> pd.DataFrame:
    """GTF (or GFF3) → ``chrom, start, end, strand, feature, source, score, frame, gene_id, transcript_id, …``.

    Coordinates become 0-based half-open (``start = file start - 1``). ``fmt`` is ``"gtf"``, ``"gff3"`` or None to
    detect it (``##gff-version 3``, a ``.gff``/``.gff3`` name, or ``key=value`` attributes). See ``annotation.py``
    for the attribute columns.
    """
    if fmt not in (None, "gtf", "gff3"):
        raise ValueError(f"fmt must be 'gtf', 'gff3' or None, got {fmt!r}")
    path = Path(path)
    text = read_text(path)
    lines, lineno = data_lines(text, skip_prefixes=("#",), stop_at="##FASTA")
    fmt = fmt or annotation.detect_format(path, text, lines)
    cols = ["chrom", "start", "end", "strand", "feature", "source", "score", "frame"]
    if len(lines) == 0:
        raise InputError(f"no features found in {fmt.upper()} file", path=path, hint="is the file empty?")
    _check_field_counts(lines, lineno, path, 9, 9, fmt.upper())
    raw = _parse_with_ints(lines, 9, (3, 4))
    df = pd.DataFrame({"chrom": raw[0]})
    df["start"] = _to_int(raw[3], "start", path, lineno) - 1
    df["end"] = _to_int(raw[4], "end", path, lineno)
    i = first_bad(df["start"].to_numpy() < 0)
    if i is not None:
        raise InputError(f"start must be >= 1 (GTF/GFF coordinates are 1-based), got {raw[3].iat[i]}", path=path,
                         line=int(lineno[i]))
    i = first_bad(df["end"].to_numpy() <= df["start"].to_numpy())
    if i is not None:
        raise InputError(f"end < start ({raw[4].iat[i]} < {raw[3].iat[i]})", path=path, line=int(lineno[i]))
    check_coordinates(df, lineno, path, contigs)
    strands = ["+", "-", "."] + (["?"] if fmt == "gff3" else [])
    i = first_bad(~raw[6].isin(strands))
    if i is not None:
        raise InputError(f"strand must be one of {' '.join(strands)}, got {raw[6].iat[i]!r}", path=path,
                         line=int(lineno[i]))
    df["strand"] = raw[6]
    df["feature"] = raw[2]
    df["source"] = raw[1]
    df["score"] = pd.to_numeric(raw[5].where(raw[5] != "."), errors="coerce")
    i = first_bad(df["score"].isna() & (raw[5] != "."))
    if i is not None:
        raise InputError(f"score must be a number or '.', got {raw[5].iat[i]!r}", path=path, line=int(lineno[i]))
    df["frame"] = raw[7]
    i = first_bad(~raw[7].isin([".", "0", "1", "2"]))
    if i is not None:
        raise InputError(f"frame must be 0, 1, 2 or '.', got {raw[7].iat[i]!r}", path=path, line=int(lineno[i]))
    attrs = annotation.parse_attributes(raw[8], raw[2], fmt, path, lineno)
    out = pd.concat([df[cols], attrs], axis=1)
    if fmt == "gff3":
        out = annotation.explode_transcripts(out)
    out.attrs["path"] = str(path)
    return out
