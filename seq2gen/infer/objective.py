"""The scalar an explanation explains: one number per prompt from one teacher-forced pass, for any task.

Text-to-text makes this generic. By answer grammar:

* ``values``, one token (expression, variant effect) — the expected value over the ``<val:*>`` tokens (the same
  number ``Seq2Gen.predict`` reports), optionally in the quantizer's log1p space (``space="log1p"``).
* ``values``, K tokens (tracks) — the mean expected value of the chosen bins; the decoder is teacher-forced on the
  reference prompt's own decoded answer, so every mutant is read against the same answer prefix.
* ``choice`` (promoter, tf_binding) — ``log p(label)`` of one label (default: the first, e.g. ``<yes>``).
* anything else (annotation spans) — ``log p(answer)`` of the reference's decoded answer.

``Objective`` holds what the score needs; ``evaluate`` maps decoder logits to scores as a torch expression, so the
same code serves in-silico mutagenesis (no gradients) and attributions (gradients).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer import engine

SPACES = ("value", "log1p")


@dataclass
class Objective:
    """What ``evaluate`` needs: the kind of score, its token ids, and the teacher-forced decoder input."""

    task: str
    kind: str                    # value | track | label | answer
    token_ids: np.ndarray        # value tokens (value, track) or the label's id (label) or the answer (answer)
    decoder_input: np.ndarray    # decoder_start + teacher-forced answer prefix
    centres: np.ndarray | None = None
    bins: np.ndarray | None = None
    space: str = "value"
    label: str | None = None
    describe: str = ""
    extra: dict = field(default_factory=dict)


def natural_space(m, task: str) -> str:
    """``log1p`` for tasks quantised in log1p space (expression: scores in log expression), else ``value``."""
    q = m.quantizers.get(task)
    return "log1p" if q is not None and q.method == "log1p-quantile" else "value"


def objective(m, task: str, ref_row: np.ndarray, label: str | None = None, bins=None,
              space: str = "value") -> Objective:
    """The score of task ``task`` for prompts shaped like ``ref_row`` (its decoded answer fixes tracks/spans)."""
    if space not in SPACES:
        raise InputError(f"space must be one of {SPACES}, got {space!r}")
    g = m._row_grammar(task, ref_row)
    start = np.array([m.start_id], dtype=np.int64)
    if g.kind == "values":
        q = m.quantizers[task]
        centres = q.centres
        if space == "log1p":
            centres = np.log1p(np.maximum(centres, -1 + 1e-12))
        if g.count == 1:
            return Objective(task, "value", np.asarray(g.values), start, centres, space=space,
                             describe=f"expected {task}" + (" (log1p)" if space == "log1p" else ""))
        pred = m.predict_ids([ref_row], [task])[0]
        answer = np.asarray(m.tokenizer.ids_of(pred.answer.split()), dtype=np.int64)
        sel = np.arange(g.count) if bins is None else np.asarray(bins, dtype=np.int64).ravel()
        if sel.size == 0 or sel.min() < 0 or sel.max() >= g.count:
            raise InputError(f"bins must lie in 0..{g.count - 1} for task {task}, got {list(sel)}")
        return Objective(task, "track", np.asarray(g.values), np.concatenate([start, answer[:-1]]), centres, sel,
                         space=space, describe=f"mean expected {task} over bins {sel.tolist()}",
                         extra={"answer": pred.answer})
    if g.kind == "choice":
        labels = list(g.spec["tokens"])
        label = label or labels[0]
        if label not in labels:
            raise InputError(f"task {task} answers {', '.join(labels)}; got label {label!r}")
        return Objective(task, "label", np.asarray(g.choices), start, label=label,
                         extra={"index": labels.index(label)}, describe=f"log p({label})")
    pred = m.predict_ids([ref_row], [task])[0]
    ids = m.tokenizer.ids_of(pred.answer.split()) if pred.answer else []
    answer = np.asarray(list(ids) + [g.eos], dtype=np.int64)
    return Objective(task, "answer", answer, np.concatenate([start, answer[:-1]]),
                     describe="log p(reference answer)", extra={"answer": pred.answer})


def evaluate(obj: Objective, logits):
    """Decoder logits ``(n, steps, vocab)`` → scores ``(n,)`` (torch, differentiable)."""
    import torch
    dev = logits.device
    if obj.kind in ("value", "track"):
        vid = torch.as_tensor(obj.token_ids, device=dev)
        centres = torch.as_tensor(obj.centres, device=dev, dtype=torch.float32)
        steps = [0] if obj.kind == "value" else obj.bins.tolist()
        p = torch.softmax(logits[:, steps][..., vid].float(), dim=-1)
        return (p @ centres).mean(dim=1)
    if obj.kind == "label":
        allowed = torch.as_tensor(obj.token_ids, device=dev)
        return torch.log_softmax(logits[:, 0, allowed].float(), dim=-1)[:, obj.extra["index"]]
    tgt = torch.as_tensor(obj.token_ids, device=dev)
    logp = torch.log_softmax(logits.float(), dim=-1)
    return logp[:, torch.arange(len(tgt), device=dev), tgt].sum(dim=1)


def decoder_batch(obj: Objective, n: int, device):
    import torch
    return torch.as_tensor(obj.decoder_input, device=device).expand(n, -1).contiguous()


def score_rows(m, obj: Objective, rows: list[np.ndarray], batch_size: int | None = None) -> np.ndarray:
    """Scores of encoded prompts, batched (rows sorted by length, one forward pass per batch, no gradients)."""
    import torch
    bs = int(batch_size or m.batch_size)
    out = np.empty(len(rows), dtype=np.float64)
    for idx in engine.length_batches([len(r) for r in rows], bs):
        ids, mask = engine.pad_batch([rows[i] for i in idx], m.tokenizer.pad_id, m.device)
        with torch.inference_mode():
            logits = m.model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_batch(obj, len(idx),
                             m.device), use_cache=False).logits
            out[idx] = evaluate(obj, logits).cpu().numpy()
    return out
