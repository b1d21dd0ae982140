"""Baselines seq2gen is compared against, on the shared GUE benchmark subsets.

``gue``: task registry (``GUE_TASKS``), ``load_gue`` (split rules: our ``test`` is GUE's dev split), scoring
with ``seq2gen.evaluate.metrics.classification``, and ``python -m seq2gen.baselines.gue --task … --budget-s …``.
``cnn``: a small DeepSEA/Basset-style CNN, ``train_cnn`` / ``predict_cnn`` under a wall-clock or step budget.
``kmer``: k-mer counts → logistic regression (``KmerLR``, ``train_kmer_lr``).

Names are resolved lazily, so ``import seq2gen.baselines`` does not import torch (and ``python -m`` of a submodule
does not import it twice).
"""
from __future__ import annotations

import importlib

_NAMES = {
    "GUE_TASKS": "gue", "GueTask": "gue", "GueSplits": "gue", "get_task": "gue", "gue_root": "gue",
    "load_gue": "gue", "run_cnn_baseline": "gue",
    "SeqCNN": "cnn", "train_cnn": "cnn", "predict_cnn": "cnn", "one_hot": "cnn", "encode_codes": "cnn",
    "KmerLR": "kmer", "train_kmer_lr": "kmer",
}
__all__ = list(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"seq2gen.baselines.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'seq2gen.baselines' has no attribute {name!r}")
