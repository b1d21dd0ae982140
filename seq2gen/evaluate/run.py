"""Score a trained model on task datasets: predictions through ``Seq2Gen`` → the task family's metrics.

The datasets are the ones ``seq2gen.data.build_datasets`` writes (columns ``task, input_ids, target, start, end, rc``
…), so the quickstart, the transfer protocol and ``seq2gen evaluate`` all score the same way:

* classification: probability of the positive label (``<yes>`` or the row's own tissue token ``{tissue}`` when the
  grammar has it, else the last token) or the (n, C) probability matrix for more than two labels → MCC / AUROC /
  AUPRC / accuracy;
* regression and variant: the expected value of the value-token distribution (one teacher-forced pass);
* track: the expected value per bin; annotation: the constrained-decoded spans in bases.

Reverse-complement augmented rows are left out (each region counts once); rows are drawn with a fixed seed.
"""
from __future__ import annotations

import json

import numpy as np

from seq2gen.evaluate import metrics as M

SKIP_FAMILIES = ("pretrain",)


def positive_label(tokens: list[str]) -> str:
    """The label whose probability is the binary score: ``<yes>`` or ``{tissue}`` (the prompt's tissue: "bound in
    liver") if offered, else the last token (label 1)."""
    return next((t for t in ("<yes>", "{tissue}") if t in tokens), tokens[-1])


def sample_rows(split, max_examples: int | None, seed: int = 0) -> np.ndarray:
    """Indices of non-RC rows, at most ``max_examples`` of them, drawn without replacement with ``seed``."""
    idx = np.arange(len(split))
    if "rc" in split.column_names and len(split):
        idx = idx[~np.asarray(split["rc"], dtype=bool)]
    if max_examples is not None and len(idx) > max_examples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_examples, replace=False))
    return idx


def evaluate_task(m, task, rows, batch_size: int | None = None) -> tuple[dict, dict]:
    """Metrics and the raw (target, prediction) arrays of one task on a ``datasets.Dataset`` slice."""
    ids = [np.asarray(r, dtype=np.int64) for r in rows["input_ids"]]
    preds = m.predict_ids(ids, [task.name] * len(ids), batch_size=batch_size)
    targets = rows["target"]
    fam = task.family
    if fam == "classification":
        labels = list(task.answer_grammar["tokens"])
        probs = np.asarray([list(p.probs.values()) for p in preds])     # grammar order ({tissue} resolved per row)
        if len(labels) == 2:
            pos = labels.index(positive_label(labels))
            y = np.asarray([t == list(p.probs)[pos] for t, p in zip(targets, preds)], dtype=int)
            score = probs[:, pos]
        else:
            y = np.asarray([labels.index(t) for t in targets])
            score = probs
        return M.classification(y, score), {"target": y, "prediction": score}
    if fam in ("regression", "variant"):
        y = np.asarray(targets, dtype=np.float64)
        p = np.asarray([float(x.value.expected[0]) for x in preds])
        return M.FAMILY_METRICS[fam](y, p), {"target": y, "prediction": p}
    if fam == "track":
        y = np.asarray([json.loads(t) for t in targets], dtype=np.float64)
        p = np.stack([x.value.expected for x in preds])
        return M.track(y, p), {"target": y, "prediction": p}
    if fam == "annotation":
        y = [[tuple(s) for s in json.loads(t)] for t in targets]
        p = [list(x.parsed) for x in preds]
        lengths = np.asarray(rows["end"]) - np.asarray(rows["start"])
        labels = list(task.answer_grammar["labels"])
        return M.annotation(y, p, lengths, labels), {"target": y, "prediction": p}
    raise ValueError(f"no metrics for family {fam!r}")


def per_class(targets, scores, labels: list[str], threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """Per answer label: support ``n``, precision / recall / F1 of the predicted label, one-vs-rest AUROC / AUPRC.

    ``targets``/``scores`` as ``evaluate_task`` returns them: binary → 0/1 (1 = the positive label) and P(positive),
    predicted positive at ``threshold``; more labels → indices into ``labels`` and an (n, C) matrix, argmax
    predicted. AUROC / AUPRC are NaN for a label absent from (or the only one in) ``targets``."""
    from sklearn import metrics as skm
    y = np.asarray(targets).astype(np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 1:                                   # binary: rebuild the (n, 2) matrix in grammar order
        pos = labels.index(positive_label(labels))
        probs = np.empty((len(s), 2))
        probs[:, pos], probs[:, 1 - pos] = s, 1 - s
        y = np.where(y == 1, pos, 1 - pos)
        pred = np.where(s >= threshold, pos, 1 - pos)
    else:
        probs, pred = s, s.argmax(axis=1)
    out = {}
    for c, lab in enumerate(labels):
        truth, called = y == c, pred == c
        both = 0 < truth.sum() < len(y)
        tp = float((truth & called).sum())
        prec = tp / called.sum() if called.any() else float("nan")
        rec = tp / truth.sum() if truth.any() else float("nan")
        out[lab] = {"n": float(truth.sum()), "precision": float(prec), "recall": float(rec),
                    "f1": float(2 * prec * rec / (prec + rec)) if prec + rec > 0 else float("nan"),
                    "auroc": float(skm.roc_auc_score(truth, probs[:, c])) if both else float("nan"),
                    "auprc": float(skm.average_precision_score(truth, probs[:, c])) if both else float("nan")}
    return out


def evaluate_model(m, datasets: dict, split: str = "test", tasks=None, max_examples: int | None = 500,
                   seed: int = 0, batch_size: int | None = None, keep_predictions: bool = False) -> dict:
    """``{task: {metric: value, …}}`` on ``split`` of every (or the named) non-pretraining task the model knows.

    With ``keep_predictions`` each entry also holds ``"_arrays": {"target", "prediction"}`` (for calibration plots).
    """
    out = {}
    names = list(tasks) if tasks is not None else sorted(datasets)
    for name in names:
        task = m.registry.get(name)
        if task.family in SKIP_FAMILIES or split not in datasets[name]:
            continue
        data = datasets[name][split]
        idx = sample_rows(data, max_examples, seed)
        if len(idx) == 0:
            continue
        scores, arrays = evaluate_task(m, task, data.select(idx), batch_size)
        out[name] = {"family": task.family, **scores}
        if keep_predictions:
            out[name]["_arrays"] = arrays
    return out


#: the metric that speaks for each family in one-line summaries and transfer tables
HEADLINE = {"classification": "auroc", "regression": "spearman", "track": "pearson_bins",
            "annotation": "per_base_f1", "variant": "spearman"}
#: what a model that knows nothing scores on the headline metric
CHANCE = {"auroc": 0.5, "spearman": 0.0, "pearson_bins": 0.0, "per_base_f1": None}


def headline(result: dict) -> tuple[str, float]:
    """(metric name, value) of one task's result."""
    key = HEADLINE[result["family"]]
    return key, float(result.get(key, float("nan")))


def chance_level(result: dict) -> float:
    """The headline metric of a model that knows nothing about the input: ``CHANCE``, or for annotation the best
    constant answer's per-base F1 (an all-intron answer is not chance-level 0)."""
    key = HEADLINE[result["family"]]
    value = CHANCE.get(key)
    return float(result.get(f"{key}_constant", float("nan")) if value is None else value)
