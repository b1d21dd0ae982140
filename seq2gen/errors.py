"""One error type for bad user input, so every reader reports *where* the problem is.

Readers raise ``InputError(msg, path=..., line=...)``; the message then reads ``genes.gtf:17: end < start``.
"""
from __future__ import annotations

import os


class Seq2GenError(Exception):
    """Base class of seq2gen's own errors."""


class InputError(Seq2GenError, ValueError):
    """Malformed or inconsistent input: names the file and line/record and, where it can, how to fix it."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None,
                 hint: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.hint = hint
        where = ""
        if self.path is not None:
            where = self.path + (f":{line}" if line is not None else "") + ": "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(where + message + (f" ({hint})" if hint else ""))
