"""Labelled sequence tables (CSV/TSV, optionally gzip; or FASTA + labels) → one checked DataFrame.

Why strict: benchmark tables such as GUE's ``sequence,label`` CSVs are fed straight into training, so one empty
sequence, a stray ``?`` or a ``NA`` label would silently become a wrong example. Every row is checked once, column
by column, and the first problem is reported as ``file:line: what is wrong (how to fix)``, where *line* is the line
an editor shows (header = line 1, blank and ``#`` lines still counted).

Sequences: IUPAC nucleotide codes in either case are accepted (``ACGTN`` plus ``RYSWKMBDHV`` and ``U``) and kept as
written (stripped of surrounding spaces); the tokenizer normalises them later (IUPAC → ``N``, ``U`` → ``T``) and the
CNN baseline one-hot encodes them as base fractions. Anything else is an error naming line and position.

Also here: ``split_table`` (seeded, stratified split for folders that ship only one file). Deduplication against
other splits is ``seq2gen.tasks.overlap.dedup`` (the one rule).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.genome.fasta import IUPAC
from seq2gen.genome.io import data_lines, field_counts, first_bad, read_text

#: Label spellings read as "missing" — always an error (a NaN label is never a valid training target).
MISSING = ("", "NA", "NaN", "nan", "N/A", "n/a", "null", "None", ".")
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fas", ".ffn")
_BAD_BASE = re.compile(f"[^{IUPAC}{IUPAC.lower()}]")


def _unquote(s: pd.Series) -> pd.Series:
    return s.str.strip().str.replace(r'^"(.*)"$', r"\1", regex=True)


def _separator(path: Path, header: str) -> str:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return ","
    if name.endswith((".tsv", ".tab")):
        return "\t"
    return "\t" if "\t" in header else ","


def _is_fasta(path: Path, text: str) -> bool:
    if path.name.lower().removesuffix(".gz").endswith(FASTA_SUFFIXES):
        return True
    return text.lstrip()[:1] == ">"


def check_sequences(seqs: pd.Series, lineno: np.ndarray, path) -> pd.Series:
    """Strip spaces; raise ``InputError`` at the first empty sequence or non-IUPAC character (line + position)."""
    seqs = seqs.astype(str).str.strip()
    i = first_bad(seqs.str.len().to_numpy() == 0)
    if i is not None:
        raise InputError("empty sequence", path=path, line=int(lineno[i]), hint="remove the row or fill it in")
    i = first_bad(seqs.str.contains(_BAD_BASE, regex=True).to_numpy())
    if i is not None:
        s = seqs.iloc[i]
        m = _BAD_BASE.search(s)
        raise InputError(f"invalid character {m.group()!r} at position {m.start() + 1} of the sequence "
                         f"({len(s)} bp)", path=path, line=int(lineno[i]),
                         hint=f"allowed: A, C, G, T, N and IUPAC codes {IUPAC[5:]} in either case")
    return seqs


def check_labels(raw: pd.Series, lineno: np.ndarray, path, kind: str, name: str = "label") -> pd.Series:
    """Missing labels are an error; ``kind="value"`` needs finite numbers; ``kind="class"`` keeps integers as int64
    and anything else as strings."""
    raw = raw.astype(str).str.strip()
    i = first_bad(raw.isin(MISSING).to_numpy())
    if i is not None:
        raise InputError(f"missing {name} {raw.iloc[i]!r}", path=path, line=int(lineno[i]),
                         hint="every row needs a label; drop unlabelled rows before training")
    num = pd.to_numeric(raw, errors="coerce")
    if kind == "value":
        i = first_bad(~np.isfinite(num.to_numpy(dtype=np.float64)))
        if i is not None:
            raise InputError(f"{name} {raw.iloc[i]!r} is not a finite number", path=path, line=int(lineno[i]),
                             hint="kind='value' needs numeric labels; use kind='class' for categories "
                                  "(--param kind=class on `seq2gen evaluate table`)")
        return num.astype(np.float64)
    vals = num.to_numpy(dtype=np.float64)
    if np.isfinite(vals).all() and (vals == np.round(vals)).all():
        return pd.Series(vals.astype(np.int64), index=raw.index)
    return raw


def _read_delimited(path: Path, text: str, seq_col: str, label_col: str, extra: list[str], sep: str | None
                    ) -> tuple[pd.DataFrame, np.ndarray]:
    lines, lineno = data_lines(text, skip_prefixes=("#",))
    if not lines:
        raise InputError("empty table: no header line", path=path,
                         hint=f"expected a header such as '{seq_col},{label_col}'")
    sep = sep or _separator(path, lines[0])
    header = _unquote(pd.Series(lines[0].split(sep), dtype=str)).tolist()
    for col in [seq_col, label_col, *extra]:
        if col not in header:
            shown = ", ".join(repr(h) for h in header)
            raise InputError(f"missing column {col!r}; the header (separator {sep!r}) has: {shown}", path=path,
                             line=int(lineno[0]), hint="name the columns to match the file: seq_col=/label_col=/sep= "
                             "in Python or a sequence_table source, --param seq_col=… on `seq2gen evaluate table`")
    counts = field_counts(lines[1:], sep)
    i = first_bad(counts != len(header))
    if i is not None:
        raise InputError(f"expected {len(header)} fields separated by {sep!r}, found {counts[i]}", path=path,
                         line=int(lineno[i + 1]), hint="separators inside quoted fields are not supported")
    if len(lines) == 1:
        raise InputError("table has a header but no rows", path=path, line=int(lineno[0]))
    cells = pd.Series(lines[1:], dtype=str).str.split(sep, expand=True, regex=False)
    cells.columns = header
    df = pd.DataFrame({c: _unquote(cells[c]) for c in [seq_col, label_col, *extra]})
    return df, lineno[1:]


def _fasta_records(path: Path, text: str) -> tuple[list[str], list[str], list[str], list[int]]:
    names, headers, seqs, lines = [], [], [], []
    chunks: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith(">"):
            if names:
                seqs.append("".join(chunks))
            parts = line[1:].split(None, 1)
            if not parts:
                raise InputError("empty sequence name after '>'", path=path, line=n)
            names.append(parts[0])
            headers.append(parts[1] if len(parts) > 1 else "")
            lines.append(n)
            chunks = []
        elif line.strip() and not line.startswith(";"):
            if not names:
                raise InputError("sequence line before the first '>' header", path=path, line=n,
                                 hint="every sequence needs a '>name' line above it")
            chunks.append(line.strip())
    if not names:
        raise InputError("empty FASTA: no '>' sequence header found", path=path)
    seqs.append("".join(chunks))
    return names, headers, seqs, lines


def _read_fasta(path: Path, text: str, label_col: str, extra: list[str], labels: str | os.PathLike | None
                ) -> tuple[pd.DataFrame, np.ndarray]:
    names, headers, seqs, lines = _fasta_records(path, text)
    lineno = np.asarray(lines, dtype=np.int64)
    dup = pd.Series(names).duplicated()
    i = first_bad(dup.to_numpy())
    if i is not None:
        raise InputError(f"duplicate record name {names[i]!r}", path=path, line=lines[i],
                         hint="record names must be unique to attach labels")
    df = pd.DataFrame({"name": names, "sequence": seqs})
    want = [label_col, *extra]
    if labels is None:  # labels in the header: ">rec1 label=1 cell=K562"
        kv = [dict(re.findall(r"(\S+?)=(\S+)", h)) for h in headers]
        for col in want:
            i = next((k for k, d in enumerate(kv) if col not in d), None)
            if i is not None:
                raise InputError(f"record {names[i]!r} has no '{col}=…' in its header", path=path, line=lines[i],
                                 hint=f"write headers like '>{names[i]} {col}=1', or pass labels='labels.tsv'")
            df[col] = [d[col] for d in kv]
        return df, lineno
    lab_path = Path(labels)
    lab, lab_lines = _read_delimited(lab_path, read_text(lab_path), "name", label_col, extra, None)
    d = pd.Series(lab_lines).groupby(lab["name"].to_numpy()).agg(list)
    dup_names = d[d.map(len) > 1]
    if len(dup_names):
        raise InputError(f"duplicate name {dup_names.index[0]!r} in the labels table", path=lab_path,
                         line=int(dup_names.iloc[0][1]), hint="one label per record")
    lab = lab.set_index("name")
    i = first_bad(~df["name"].isin(lab.index).to_numpy())
    if i is not None:
        raise InputError(f"record {names[i]!r} has no row in {lab_path.name}", path=path, line=lines[i],
                         hint=f"add '{names[i]}' with its {label_col} to {lab_path}")
    for col in want:
        df[col] = lab.loc[df["name"], col].to_numpy()
    return df, lineno


def read_sequence_table(path: str | os.PathLike, seq_col: str = "sequence", label_col: str = "label",
                        kind: str = "class", extra_cols: Sequence[str] | None = None, sep: str | None = None,
                        labels: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read a labelled sequence table → DataFrame ``sequence, label, <extra_cols…>, line`` (FASTA adds ``name``).

    ``path``: CSV/TSV (``.gz`` fine; separator from the extension ``.csv``/``.tsv``, else sniffed from the header,
    or ``sep=``), or FASTA (``.fa``/``.fasta``/``.fna`` or text starting with ``>``) whose headers carry
    ``label=…`` (and ``<extra>=…``) or whose labels come from ``labels=``, a CSV/TSV with columns ``name`` and
    ``label_col`` (rows for records not in the FASTA are ignored). ``kind="class"``: integer labels → int64, other
    labels kept as strings; ``kind="value"``: finite floats. ``line`` is the 1-based file line of the row (FASTA:
    of its header). Output columns are always named ``sequence`` and ``label`` whatever ``seq_col``/``label_col``.
    """
    if kind not in ("class", "value"):
        raise ValueError(f"kind must be 'class' or 'value', got {kind!r}")
    path = Path(path)
    extra = list(extra_cols or [])
    text = read_text(path).removeprefix("\ufeff")  # a spreadsheet's byte-order mark is not part of the header
    is_fasta = _is_fasta(path, text)
    if is_fasta:
        df, lineno = _read_fasta(path, text, label_col, extra, labels)
        seq_col = "sequence"
    else:
        df, lineno = _read_delimited(path, text, seq_col, label_col, extra, sep)
    out = pd.DataFrame({"sequence": check_sequences(df[seq_col], lineno, path),
                        "label": check_labels(df[label_col], lineno, path, kind, name=label_col)})
    if is_fasta and "name" not in extra:
        out.insert(0, "name", df["name"].to_numpy())
    for col in extra:
        out[col] = df[col].to_numpy()
    out["line"] = lineno
    return out.reset_index(drop=True)


def _strata(labels: pd.Series, n_bins: int = 10) -> np.ndarray:
    """Stratum per row: the label itself for classes; quantile bin for continuous (float, many values) labels."""
    if pd.api.types.is_float_dtype(labels) and labels.nunique() > n_bins:
        return pd.qcut(labels.rank(method="first"), n_bins, labels=False).to_numpy()
    return pd.factorize(labels)[0]


def split_table(df: pd.DataFrame, fractions: Sequence[float] = (0.8, 0.2), seed: int = 0, stratify: bool = True,
                label_col: str = "label") -> list[pd.DataFrame]:
    """Seeded random split into ``len(fractions)`` frames (row order kept within each part, index reset).

    ``stratify=True`` splits each label (or, for continuous labels, each of 10 quantile bins) separately, so every
    part keeps the label proportions; part sizes are exact per stratum up to rounding. Same ``seed`` → same split.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) < 2 or (fr < 0).any() or abs(fr.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must be >= 2 non-negative numbers summing to 1, got {tuple(fractions)}")
    rng = np.random.default_rng(seed)
    strata = _strata(df[label_col]) if stratify else np.zeros(len(df), dtype=np.int64)
    cum = np.concatenate([[0.0], np.cumsum(fr)])
    cum[-1] = 1.0
    parts: list[list[np.ndarray]] = [[] for _ in fr]
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        idx = idx[rng.permutation(len(idx))]
        cuts = np.round(cum * len(idx)).astype(int)
        for k in range(len(fr)):
            parts[k].append(idx[cuts[k]:cuts[k + 1]])
    return [df.iloc[np.sort(np.concatenate(p))].reset_index(drop=True) for p in parts]
