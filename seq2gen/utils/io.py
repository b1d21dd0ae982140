"""File plumbing for every layer: reading text safely, and atomic writes.

Reading: gzip/bgzip detected by magic bytes, UTF-8 decoded with a located error, YAML with the line of a syntax
error — never a ``UnicodeDecodeError``, ``gzip`` or ``yaml`` traceback for a user. Writing: a reader sees the old
artefact or the complete new one, never a half-written file or folder — write beside the target, flush and
``fsync`` the data, then ``os.replace`` it into place, so a crashed run never poisons a cache that later runs trust.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import uuid
import zlib
from pathlib import Path
from typing import IO, Iterator

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


def read_yaml(path: str | os.PathLike):
    """A YAML file (plain or gzip) parsed, with ``file:line`` of a syntax error instead of a yaml traceback."""
    import yaml
    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", path=path,
                         line=None if mark is None else mark.line + 1) from None


def read_yaml_mapping(path: str | os.PathLike, what: str) -> dict:
    """``read_yaml`` for config-style files (data specs, task templates, train configs): an empty file is ``{}``,
    a top level other than a mapping is an error naming ``what``."""
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{what} must be a YAML mapping", path=path)
    return data


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a closed file's data to disk (for files written by libraries that only take a name)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed over ``path``, on error removed.

    For writers that need a file *name* (pyBigWig, pyfaidx, ``torch.save``); ``atomic_write`` wraps it for file
    objects.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        fsync_path(tmp_path)
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


def replace_dir(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move the complete folder ``tmp`` over ``target``: the old one is renamed aside first, then deleted, so a
    crash leaves either the old folder or the new one at ``target``."""
    tmp, target = Path(tmp), Path(target)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temp path beside ``path`` for the block to fill (writers such as ``save_pretrained`` create
    the folder themselves); when the block succeeds it replaces ``path`` (``replace_dir``), when it fails it is
    removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, final)
