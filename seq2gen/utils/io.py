"""Atomic writes: a reader sees the old artefact or the complete new one, never a half-written file or folder.

One implementation for every writer (readers' outputs, reports, datasets, checkpoints' exports, model folders):
write beside the target, flush and ``fsync`` the data, then ``os.replace`` it into place. A crashed run therefore
never poisons a cache that later runs trust.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO, Iterator


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
    """Yield an empty temp folder beside ``path``; when the block succeeds it replaces ``path`` (``replace_dir``),
    when it fails it is removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    replace_dir(tmp, final)
