"""Metrics per task family, vectorised, with seqio's calling convention ``metric(targets, predictions|scores)``.

Classification: MCC / AUROC / AUPRC / accuracy; regression: Pearson / Spearman on decoded expected values;
track: Pearson over all bins and mean per-region Pearson; annotation: per-base F1 and exact-boundary rate;
variant: Spearman with true effects and sign accuracy. Library implementations (scikit-learn, scipy) do the maths.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn import metrics as skm

Span = tuple[str, int, int]  # (label, start, end) in bases, half-open


def _finite(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def classification(targets, scores, threshold: float = 0.5) -> dict[str, float]:
    """The one classification metric set (T5 arms, the CNN baseline, tables, transfer).

    Binary: 0/1 targets with positive-class scores (n,) or class probabilities (n, 2); MCC and accuracy at
    ``threshold``. Multi-class: an (n, C) score matrix; MCC, accuracy and ``f1_macro`` of the argmax, AUROC and
    AUPRC macro one-vs-rest. AUROC/AUPRC are NaN when a class is absent from ``targets``.
    """
    from sklearn.preprocessing import label_binarize
    y = np.asarray(targets)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 2:
        s = s[:, 1]
    out: dict[str, float] = {"n": float(len(y))}
    if s.ndim == 2:  # multi-class
        pred, C = s.argmax(axis=1), s.shape[1]
        out["accuracy"] = float(skm.accuracy_score(y, pred))
        out["mcc"] = float(skm.matthews_corrcoef(y, pred))
        out["auroc"] = out["auprc"] = float("nan")
        if len(np.unique(y)) == C:
            out["auroc"] = float(skm.roc_auc_score(y, s / s.sum(axis=1, keepdims=True), multi_class="ovr",
                                                   average="macro", labels=np.arange(C)))
            out["auprc"] = float(skm.average_precision_score(label_binarize(y, classes=np.arange(C)), s,
                                                             average="macro"))
        out["f1_macro"] = float(skm.f1_score(y, pred, average="macro"))
        return out
    pred = (s >= threshold).astype(int)
    out["accuracy"] = float(skm.accuracy_score(y, pred))
    out["mcc"] = float(skm.matthews_corrcoef(y, pred))
    if len(np.unique(y)) == 2:
        out["auroc"] = float(skm.roc_auc_score(y, s))
        out["auprc"] = float(skm.average_precision_score(y, s))
    else:
        out["auroc"] = out["auprc"] = float("nan")
    return out


def regression(targets, predictions) -> dict[str, float]:
    t, p = _finite(targets, predictions)
    if len(t) < 3 or np.std(t) == 0 or np.std(p) == 0:
        return {"n": float(len(t)), "pearson": float("nan"), "spearman": float("nan"), "mse": float("nan")}
    return {"n": float(len(t)), "pearson": float(stats.pearsonr(t, p)[0]),
            "spearman": float(stats.spearmanr(t, p)[0]), "mse": float(np.mean((t - p) ** 2))}


def track(targets, predictions) -> dict[str, float]:
    """(n_regions, n_bins) arrays: Pearson over all bins pooled, and the mean of per-region Pearson."""
    t = np.asarray(targets, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    pooled = regression(t.ravel(), p.ravel())
    tc, pc = t - t.mean(axis=1, keepdims=True), p - p.mean(axis=1, keepdims=True)
    denom = np.sqrt((tc ** 2).sum(axis=1) * (pc ** 2).sum(axis=1))
    per_region = np.where(denom > 0, (tc * pc).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)
    return {"n": float(len(t)), "pearson_bins": pooled["pearson"], "spearman_bins": pooled["spearman"],
            "pearson_per_region": float(np.nanmean(per_region)) if np.isfinite(per_region).any() else float("nan")}


def _mask(spans: list[Span], length: int, labels: list[str]) -> np.ndarray:
    m = np.zeros((len(labels), length), dtype=bool)
    idx = {lab: i for i, lab in enumerate(labels)}
    for lab, s, e in spans:
        if lab in idx:
            m[idx[lab], max(0, int(s)):min(length, int(e))] = True
    return m


def annotation(targets: list[list[Span]], predictions: list[list[Span]], lengths, labels: list[str],
               tolerance: int = 0) -> dict[str, float]:
    """Per-base F1 per label (pooled over windows), the rate of true span boundaries hit within ``tolerance``, and
    ``per_base_f1_constant``: the per-base F1 of the best constant answer (one label over every window), the level a
    model that learnt only the label frequencies reaches."""
    tp = np.zeros(len(labels))
    fp = np.zeros(len(labels))
    fn = np.zeros(len(labels))
    hit = total = 0
    for t, p, n in zip(targets, predictions, lengths):
        mt, mp = _mask(t, int(n), labels), _mask(p, int(n), labels)
        tp += (mt & mp).sum(axis=1)
        fp += (~mt & mp).sum(axis=1)
        fn += (mt & ~mp).sum(axis=1)
        pred_bounds = np.array(sorted({b for _, s, e in p for b in (s, e)}), dtype=np.int64)
        for _, s, e in t:
            for b in (s, e):
                total += 1
                hit += bool(pred_bounds.size) and np.abs(pred_bounds - b).min() <= tolerance
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (2 * tp + fp + fn)
    out = {f"f1_{lab.strip('<>')}": float(v) for lab, v in zip(labels, f1)}
    out["per_base_f1"] = float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan")
    truth, bases = tp + fn, float(np.sum(lengths))
    constant = [np.nanmean(np.where(np.arange(len(labels)) == k, 2 * truth[k] / (truth[k] + bases),
                                    np.where(truth > 0, 0.0, np.nan))) for k in range(len(labels))]
    out["per_base_f1_constant"] = float(max(constant)) if labels and bases else float("nan")
    out["boundary_rate"] = float(hit / total) if total else float("nan")
    out["n"] = float(len(targets))
    return out


def variant(true_effects, predicted_effects, min_abs: float = 0.0) -> dict[str, float]:
    """Spearman with the true effects, and sign agreement on variants whose true |effect| > ``min_abs``."""
    t, p = _finite(true_effects, predicted_effects)
    r = regression(t, p)
    big = np.abs(t) > min_abs
    sign = float(np.mean(np.sign(t[big]) == np.sign(p[big]))) if big.any() else float("nan")
    return {"n": float(len(t)), "spearman": r["spearman"], "pearson": r["pearson"], "sign_accuracy": sign}


FAMILY_METRICS = {"classification": classification, "regression": regression, "track": track,
                  "annotation": annotation, "variant": variant}
