"""Argument broadcasting shared by the typed helpers (helpers.py) and variant scoring (variants.py)."""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError


def listify(x, n: int | None = None, name: str = "argument") -> list:
    """``x`` as a list of ``n`` entries: a list/tuple/array as is (its length checked), a scalar repeated."""
    items = list(x) if isinstance(x, (list, tuple, np.ndarray)) else [x] * (1 if n is None else n)
    if n is not None and len(items) != n:
        raise InputError(f"{name} has {len(items)} entries for {n} sequences")
    return items


def scalar_value(v) -> dict:
    """First entry of a decoded value (``expected``, ``argmax``, ``lo``, ``hi``) as plain floats."""
    return {"expected": float(v.expected[0]), "argmax": float(v.argmax[0]), "lo": float(v.lo[0]),
            "hi": float(v.hi[0])}
