"""Paired bootstrap over test rows: how much of a difference between two arms is the luck of the test rows drawn.

The seed interval (``seq2gen.evaluate.report.compare``) measures training noise — three seeds, the same test rows.
It says nothing about the rows: 200 test rows give an AUROC an SE of ~0.03 whatever the seeds. Here the rows are
resampled with replacement, the *same* resample for both arms and every seed (paired), and each replicate's delta
is the mean over seeds of ``metric(other) − metric(base)``; the percentile interval of those deltas is the row
interval. A verdict needs both intervals to exclude 0 (docs/transfer.md, "Scarcity").

Per-row predictions come from the cells (``rows: {task: {target, prediction}}``, written when ``bootstrap.n`` > 0).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

LEVEL = 0.95


def _binary_auroc(y, score):
    """Mann-Whitney AUROC (ties averaged) — the same number as sklearn's roc_auc_score, without its input checks
    (a bootstrap calls this thousands of times)."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(score)
    return (r[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def _auroc(y, p):
    if p.ndim == 1:
        return _binary_auroc(y, p)
    if len(np.unique(y)) < p.shape[1]:
        return math.nan
    q = p / p.sum(axis=1, keepdims=True)
    return float(np.mean([_binary_auroc((y == c).astype(np.int64), q[:, c]) for c in range(p.shape[1])]))


def _spearman(y, p):
    ok = np.isfinite(y) & np.isfinite(p)
    if ok.sum() < 3:
        return math.nan
    a, b = rankdata(y[ok]), rankdata(p[ok])
    return np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else math.nan


def _pearson_bins(y, p):
    a, b = y.ravel(), p.ravel()
    return np.corrcoef(a, b)[0, 1] if a.std() > 0 and b.std() > 0 else math.nan


#: the headline metric of each family (``seq2gen.evaluate.run.HEADLINE``), lean: only that number, no others
HEADLINE_FN = {("classification", "auroc"): _auroc, ("regression", "spearman"): _spearman,
               ("variant", "spearman"): _spearman, ("track", "pearson_bins"): _pearson_bins}


def paired_bootstrap(target, base: list, other: list, family: str, metric: str, n: int = 1000, seed: int = 0,
                     level: float = LEVEL) -> dict | None:
    """Row interval of ``mean_seeds(metric(other_s) − metric(base_s))``: ``base`` / ``other`` are per-seed
    prediction arrays on the rows of ``target`` (paired by position: seed s of base with seed s of other).
    None when the metric has no lean form here (annotation) or nothing pairs."""
    fn = HEADLINE_FN.get((family, metric))
    if fn is None or not base or len(base) != len(other) or n < 1:
        return None
    y = np.asarray(target, dtype=np.float64)
    if family == "classification" and np.ndim(base[0]) == 2:
        y = y.astype(np.int64)
    b = [np.asarray(x, dtype=np.float64) for x in base]
    o = [np.asarray(x, dtype=np.float64) for x in other]
    rng = np.random.default_rng(seed)
    N = len(y)
    deltas = np.empty(n)
    for r in range(n):
        idx = rng.integers(0, N, N)
        deltas[r] = np.mean([fn(y[idx], oi[idx]) - fn(y[idx], bi[idx]) for bi, oi in zip(b, o)])
    deltas = deltas[np.isfinite(deltas)]
    if not deltas.size:
        return None
    lo, hi = np.quantile(deltas, [0.5 - level / 2, 0.5 + level / 2])
    point = float(np.mean([fn(y, oi) - fn(y, bi) for bi, oi in zip(b, o)]))
    return {"delta": point, "ci": [float(lo), float(hi)], "n_boot": int(deltas.size), "n_rows": int(N),
            "n_seeds": len(b)}


def cell_rows(results: dict, arm: str, task: str) -> dict:
    """``{seed: (target, prediction)}`` of the cells of ``arm`` that kept ``task``'s test rows."""
    out = {}
    for c in results["cells"]:
        if c["arm"] == arm and task in (c.get("rows") or {}):
            r = c["rows"][task]
            out[c["seed"]] = (r["target"], r["prediction"])
    return out


def paired_by_seed(base: dict, other: dict, family: str, metric: str, n: int = 1000, seed: int = 0,
                   what: str = "") -> dict | None:
    """``paired_bootstrap`` of ``{seed: (target, prediction)}`` pairs over the seeds both have; every seed must
    have scored the same rows (same targets in the same order), else a ``ValueError`` naming ``what`` — a
    bootstrap of different rows is not paired."""
    seeds = sorted(set(base) & set(other))
    if not seeds:
        return None
    y = np.asarray(base[seeds[0]][0], dtype=np.float64)
    for s in seeds:
        for side, rows in (("base", base), ("other", other)):
            if not np.array_equal(np.asarray(rows[s][0], dtype=np.float64), y):
                raise ValueError(f"{what}: the {side} arm's seed {s} scored other test rows than seed {seeds[0]}")
    return paired_bootstrap(y, [base[s][1] for s in seeds], [other[s][1] for s in seeds], family, metric, n=n,
                            seed=seed)


def compare_rows(results: dict, base_arm: str, other_arm: str, task: str, family: str, metric: str,
                 n: int = 1000, seed: int = 0) -> dict | None:
    """``paired_by_seed`` of two arms' cells on ``task``."""
    return paired_by_seed(cell_rows(results, base_arm, task), cell_rows(results, other_arm, task), family, metric,
                          n=n, seed=seed, what=f"{task}: {base_arm} vs {other_arm}")


__all__ = ["paired_bootstrap", "paired_by_seed", "compare_rows", "cell_rows", "HEADLINE_FN"]
