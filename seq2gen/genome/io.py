"""Shared plumbing for the genome readers: decoding text safely, splitting tables with file line numbers, atomic writes.

Why it exists: every reader must report *file:line* for bad input and must never leak a ``UnicodeDecodeError``
or ``gzip`` traceback to a user; and every writer must leave either the old file or the complete new one, never a
half-written artefact (a crashed run must not poison a cache). Those three jobs live here once.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import io
import os
import re
import tempfile
import zlib
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd

from seq2gen.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str | os.PathLike) -> bytes:
    """Whole file as bytes, transparently gunzipped (gzip and bgzip are detected by magic bytes, not by name)."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, expected a file", path=p)
    data = p.read_bytes()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"corrupt or truncated gzip data ({e})", path=p,
                             hint="re-download the file or check it with `gzip -t`") from None
    return data


def decode_utf8(data: bytes, path: str | os.PathLike) -> str:
    """Decode UTF-8 or raise ``InputError`` naming the line and byte offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(f"not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start}", path=path,
                         line=line, hint="re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None


def read_text(path: str | os.PathLike) -> str:
    """Whole text file (plain or gzip) decoded as UTF-8, with a located error instead of a decode traceback."""
    return decode_utf8(read_bytes(path), path)


def data_lines(text: str, skip_prefixes: tuple[str, ...] = ("#",), stop_at: str | None = None
               ) -> tuple[list[str], np.ndarray]:
    """The lines worth parsing, with their 1-based *file* line numbers.

    Blank lines and lines starting with one of ``skip_prefixes`` are dropped, but the numbering keeps counting
    them, so an error on a data row can name the line an editor would show. ``stop_at`` ends the table at a line
    starting with it (GFF3's ``##FASTA`` section).
    """
    lines = text.splitlines()
    if stop_at is not None:
        for i, line in enumerate(lines):
            if line.startswith(stop_at):
                lines = lines[:i]
                break
    keep = [i for i, line in enumerate(lines) if line.strip() and not line.startswith(skip_prefixes)]
    return [lines[i] for i in keep], np.asarray(keep, dtype=np.int64) + 1


def field_counts(lines: list[str], sep: str = "\t") -> np.ndarray:
    """Number of ``sep``-separated fields on each line."""
    return np.fromiter((line.count(sep) for line in lines), dtype=np.int64, count=len(lines)) + 1


def parse_table(lines: list[str], ncols: int, sep: str = "\t", str_cols: tuple[int, ...] = ()) -> pd.DataFrame:
    """Parse lines with pandas' C reader → columns ``0..ncols-1``; short rows are padded with ``""``.

    Types are inferred per whole column (``low_memory=False``), so a coordinate column comes back ``int64`` unless
    some cell is not an integer — the caller then locates that cell. ``str_cols`` are kept verbatim as strings
    (chromosome "1" stays "1", frame "0" stays "0"). No quoting, no NA guessing: "." and "NA" stay strings.
    """
    if not lines:
        return pd.DataFrame({i: pd.Series(dtype=object) for i in range(ncols)})
    return pd.read_csv(io.StringIO("\n".join(lines)), sep=sep, header=None, names=range(ncols),
                       dtype={i: "str" for i in str_cols}, quoting=csv.QUOTE_NONE, na_filter=False,
                       skip_blank_lines=False, low_memory=False, float_precision="round_trip", engine="c")


def extract(col: pd.Series, pattern: str) -> pd.Series:
    """First capture group of ``pattern`` per cell (NaN where no match); pyarrow's regex engine when available
    (about 5x faster than ``Series.str.extract`` on a GENCODE-sized GTF)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow ships with datasets/pandas
        return col.str.extract(pattern, expand=False)
    named = re.sub(r"\((?!\?)", "(?P<v>", pattern, count=1)
    res = pc.struct_field(pc.extract_regex(pa.array(col.astype(str), type=pa.large_string()), pattern=named), "v")
    return pd.Series(res.to_pandas(), index=col.index)


def first_bad(mask: np.ndarray | pd.Series) -> int | None:
    """Position of the first True in a boolean mask (None when all rows are fine) — used to report one line."""
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(idx[0]) if idx.size else None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on error it is removed.

    For writers that need a file *name* (pyBigWig, pyfaidx); ``atomic_write`` wraps it for file objects.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the artefact ordinary permissions
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO]:
    """Open a temp file beside ``path`` for writing; ``os.replace`` it into place only if the block succeeds.

    ``mode`` is ``"w"`` (text, UTF-8, ``\\n`` line ends on every OS) or ``"wb"``. Readers never see a partial file.
    """
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp:
        if "b" in mode:
            f = open(tmp, "wb")
        else:
            f = open(tmp, "w", encoding=encoding, newline="\n")
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict:
    """A YAML file whose top level must be a mapping (``what`` names it in the error), with the YAML error's line.

    One definition for the config-style YAML files (data specs; task templates and train configs can share it)."""
    import yaml
    try:
        data = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", path=path,
                         line=None if mark is None else mark.line + 1) from None
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a YAML mapping", path=path)
    return data
