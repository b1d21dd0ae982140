"""seq2gen.data: rendered examples as HF datasets, splits, augmentation, collation.

Imports are lazy (``datasets``/``torch`` load only when used): ``build_datasets``, ``load_datasets`` (build.py),
``Seq2GenCollator`` (collate.py).
"""
from __future__ import annotations

__all__ = ["build_datasets", "load_datasets", "Seq2GenCollator"]


def __getattr__(name: str):
    if name in ("build_datasets", "load_datasets"):
        from seq2gen.data import build
        return getattr(build, name)
    if name == "Seq2GenCollator":
        from seq2gen.data.collate import Seq2GenCollator
        return Seq2GenCollator
    raise AttributeError(f"module 'seq2gen.data' has no attribute {name!r}")
