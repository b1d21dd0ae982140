"""What one step touches: reading rows of the mixture, the forward pass with per-example losses, eval losses."""
from __future__ import annotations

from seq2gen.train import distributed as dist_utils


def columns(split):
    """A view with only input_ids/labels (HF Dataset), made once: per-batch reads then cost ~30 µs."""
    return split.select_columns(["input_ids", "labels"]) if hasattr(split, "select_columns") else split


def _take(view, indices: list[int]) -> list[dict]:
    if hasattr(view, "select_columns"):        # datasets.Dataset: one Arrow read per task
        cols = view[indices]
        return [{"input_ids": a, "labels": b} for a, b in zip(cols["input_ids"], cols["labels"])]
    return [view[i] for i in indices]


def fetch_rows(views: dict, picks: list[tuple[str, int]], task_index: dict) -> list[dict]:
    """Rows for ``picks`` [(task, index)], in order, each tagged with its ``task_id``."""
    by_task: dict[str, list[int]] = {}
    for pos, (task, _) in enumerate(picks):
        by_task.setdefault(task, []).append(pos)
    rows: list = [None] * len(picks)
    for task, positions in by_task.items():
        for pos, row in zip(positions, _take(views[task], [picks[p][1] for p in positions])):
            rows[pos] = {**row, "task_id": task_index[task]}
    return rows


def token_losses(engine, batch, weighting: str = "token", norm: float | None = None):
    """Per-example (loss sum, label tokens) from one forward pass, and the loss that is optimised.

    ``weighting="token"``: every answer token weighs the same (T5's usual loss), so a 68-token span-corruption
    answer weighs 34x a one-token classification answer. ``"example"``: each row's token mean, so every prompt counts
    once whatever its answer length (docs/training.md). ``norm=None``: the mean over this batch's tokens (rows);
    otherwise the sum divided by ``norm`` — the training loop passes the whole step's answer tokens (rows) over
    grad_accum × world, so DeepSpeed's averaging over micro-steps and ranks yields the exact token mean of the step.
    Everything returned stays on the device (no host sync).
    """
    import torch.nn.functional as F
    dev = dist_utils.device()
    labels = batch["labels"].to(dev, non_blocking=True)
    dec_in = engine.module.prepare_decoder_input_ids_from_labels(labels=labels)
    out = engine(input_ids=batch["input_ids"].to(dev, non_blocking=True),
                 attention_mask=batch["attention_mask"].to(dev, non_blocking=True),
                 decoder_input_ids=dec_in, use_cache=False)
    logits = out.logits.float()
    tok = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1), ignore_index=-100, reduction="none")
    ex_sum = tok.view(labels.shape).sum(1)
    ex_tok = (labels != -100).sum(1)
    if weighting == "example":
        per_row = ex_sum / ex_tok.clamp(min=1)
        loss = per_row.mean() if norm is None else per_row.sum() / norm
    else:
        loss = ex_sum.sum() / (ex_tok.sum().clamp(min=1) if norm is None else norm)
    return loss, ex_sum.detach(), ex_tok


def eval_losses(engine, datasets, cfg, tasks, collate, world, rank) -> dict:
    """Teacher-forced validation loss per task (token mean) on the first ``eval_examples`` rows.

    Every rank runs the same number of forward passes (needed under ZeRO-3); padding rows get weight 0. Sums stay
    on the device and are reduced there (NCCL cannot reduce CPU tensors); one host read at the end.
    """
    import torch
    if not cfg.eval_examples:
        return {}
    dev = dist_utils.device()
    sums = torch.zeros(2 * len(tasks), dtype=torch.float64, device=dev)
    engine.eval()
    with torch.no_grad():
        for i, task in enumerate(tasks):
            split = datasets[task].get(cfg.eval_split) if hasattr(datasets[task], "get") else None
            if split is None or len(split) == 0:
                continue
            split = columns(split)
            n = min(cfg.eval_examples, len(split))
            mine = list(range(rank, n, world))
            per_rank = -(-n // world)
            weights = [1.0] * len(mine) + [0.0] * (per_rank - len(mine))
            mine += [0] * (per_rank - len(mine))
            for lo in range(0, per_rank, cfg.micro_batch_size):
                idx = mine[lo:lo + cfg.micro_batch_size]
                w = torch.tensor(weights[lo:lo + cfg.micro_batch_size], dtype=torch.float64, device=dev)
                _, ex_sum, ex_tok = token_losses(engine, collate(_take(split, idx)))
                sums[i] += (ex_sum.double() * w).sum()
                sums[len(tasks) + i] += (ex_tok.double() * w).sum()
    engine.train()
    s = dist_utils.all_reduce_sum(sums).tolist()
    n = len(tasks)
    return {f"val_loss/{t}": s[i] / s[n + i] for i, t in enumerate(tasks) if s[n + i] > 0}
