"""Human-readable quantities on the command line and in configs."""
from __future__ import annotations

from seq2gen.errors import InputError

_SIZE_SUFFIXES = (("gb", 10**9), ("mb", 10**6), ("kb", 10**3), ("bp", 1), ("g", 10**9), ("m", 10**6), ("k", 10**3))


def parse_size(text: str | int) -> int:
    """Base pairs from ``"500kb"``, ``"2Mb"``, ``"1_000_000"``, ``"40,000,000"`` (case-insensitive) or an int."""
    if isinstance(text, int):
        return text
    t = str(text).strip().lower().replace("_", "").replace(",", "")
    for suffix, mult in _SIZE_SUFFIXES:
        if t.endswith(suffix):
            t, scale = t[: -len(suffix)], mult
            break
    else:
        scale = 1
    try:
        return int(float(t) * scale)
    except ValueError:
        raise InputError(f"cannot read size {text!r}", hint="use e.g. 500kb, 2Mb, 50Mb") from None
