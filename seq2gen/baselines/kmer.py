"""The cheapest serious baseline: k-mer counts → logistic regression (scikit-learn), one model per task.

Why it exists: a T5 that cannot beat a bag of k-mers at the same (or more) CPU time has learned nothing a linear
model on word counts would not; on GUE it is a stronger bar than the CNN at small budgets (docs/gue.md, "Study").

Features: counts of every ``A/C/G/T`` k-mer (``CountVectorizer`` over characters with a fixed vocabulary of the
4^k k-mers, so k-mers containing ``N`` are not counted), L2-normalised per row; ``rc_augment`` adds the reverse
complement's counts (strand-symmetric tasks: binding, occupancy). Model: ``LogisticRegression`` (L2, multinomial
for C > 2 classes), fitted on every train row (it needs seconds, less CPU time than any T5 cell). Defaults k = 6,
C = 1: chosen once on the *validation* rows of prom_core_all, tf_0, mouse_0 and EMP_H3 from k ∈ {4, 6, 1–6, 3–6},
C ∈ {0.1, 1}, L1/L2 row norm (the test rows were not looked at); no per-task tuning, like the other arms.
"""
from __future__ import annotations

import itertools
import time
from typing import Sequence

import numpy as np
import pandas as pd

_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


class KmerLR:
    """A fitted k-mer logistic regression: ``predict_proba(seqs)`` → (n, C) class probabilities."""

    def __init__(self, k: int = 6, C: float = 1.0, rc_augment: bool = False, max_iter: int = 2000, seed: int = 0):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        self.k, self.rc_augment = int(k), bool(rc_augment)
        vocab = ["".join(p) for p in itertools.product("ACGT", repeat=self.k)]
        self.vectorizer = CountVectorizer(analyzer="char", ngram_range=(self.k, self.k), vocabulary=vocab,
                                          lowercase=False, dtype=np.float32)
        self.model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)

    def features(self, seqs: Sequence[str]):
        from sklearn.preprocessing import normalize
        up = [str(s).upper() for s in seqs]
        x = self.vectorizer.transform(up)
        if self.rc_augment:
            x = x + self.vectorizer.transform([s.translate(_COMPLEMENT)[::-1] for s in up])
        return normalize(x, norm="l2")

    def fit(self, seqs: Sequence[str], labels) -> "KmerLR":
        self.model.fit(self.features(seqs), np.asarray(labels))
        return self

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        return self.model.predict_proba(self.features(seqs))


def train_kmer_lr(train_df: pd.DataFrame, n_classes: int, k: int = 6, C: float = 1.0, rc_augment: bool = False,
                  seed: int = 0, max_iter: int = 2000) -> tuple[KmerLR, dict]:
    """Fit on ``train_df`` (``sequence``, ``label`` ∈ 0..C-1) → ``(model, history)``; the labels must cover every
    class (a class the fit never saw would get no probability column)."""
    y = train_df["label"].to_numpy()
    missing = sorted(set(range(n_classes)) - set(np.unique(y).tolist()))
    if missing:
        raise ValueError(f"train rows lack class(es) {missing} of 0..{n_classes - 1}")
    t0 = time.perf_counter()
    model = KmerLR(k=k, C=C, rc_augment=rc_augment, max_iter=max_iter, seed=seed).fit(
        train_df["sequence"].tolist(), y)
    return model, {"wall_s": round(time.perf_counter() - t0, 2), "n_train": len(train_df), "k": k, "C": C,
                   "rc_augment": rc_augment, "n_features": 4 ** k, "iterations": int(np.max(model.model.n_iter_))}


__all__ = ["KmerLR", "train_kmer_lr"]
