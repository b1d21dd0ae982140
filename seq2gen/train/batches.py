"""Step plans and the DataLoader that turns them into micro-batches ahead of the training thread.

A *plan* is one optimizer step: the global batch's picks, drawn from the mixture sampler exactly as the rates say,
then (``batching: grouped``) sorted by (answer length, prompt length, task, row) and cut into ``world × accum``
micro-batches of unequal rows that waste the fewest padded tokens, so that a 100-token span-corruption answer pads
only the rows of its own length group instead of the whole batch (``cut_micro_batches``). ``batching: mixed`` keeps
the draw order: micro-step ``j`` of rank ``r`` trains rows ``[(j·world + r)·micro, …+micro)``. Sorting a step's picks changes
which rows share a micro-batch, never which rows the step trains on, so the rates hold exactly in expectation and
the gradient is the same (the loss is normalised by the whole step's answer tokens, ``norm``).

Plans are drawn in the main process (the DataLoader's sampler iterates them a few steps ahead); workers read the
rows from Arrow and collate them. Each plan carries every sampler's state *after* its draw, which is what a
checkpoint after that step stores: prefetching ahead never leaks into a checkpoint, and resume stays exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2gen.train.steps import fetch_rows


@dataclass
class StepPlan:
    step: int                  # steps done before this one (0-based)
    stage: str                 # pretrain | curriculum | mixture
    micro: list                # this rank's micro-batches: lists of (task, row)
    norm: float                # the step's answer tokens (token weighting) or rows (example weighting), all ranks
    states: dict               # sampler name → state after this step's draw


def row_lengths(split) -> tuple[np.ndarray, np.ndarray]:
    """(prompt tokens, answer tokens) of every row; from Arrow list offsets for an HF Dataset (no row decoding)."""
    if hasattr(split, "with_format") and hasattr(split, "select_columns"):
        import pyarrow.compute as pc
        table = split.select_columns(["input_ids", "labels"]).with_format("arrow")[:]
        return tuple(pc.list_value_length(table.column(c)).to_numpy(zero_copy_only=False).astype(np.int64)
                     for c in ("input_ids", "labels"))
    rows = [split[i] for i in range(len(split))]
    return (np.array([len(r["input_ids"]) for r in rows], dtype=np.int64),
            np.array([len(r["labels"]) for r in rows], dtype=np.int64))


def cut_micro_batches(picks: list, lengths: dict, world: int, accum: int, rank: int, grouped: bool) -> list:
    """This rank's ``accum`` micro-batches of the global ``picks`` (identical input on every rank).

    ``grouped``: sort by (answer, prompt) length and cut into ``world × accum`` contiguous groups that minimise the
    padded tokens Σ rows × (longest prompt + longest answer) — a few long span-corruption rows get a micro-batch
    of their own instead of stretching 8 short ones — then deal the groups to ranks, costliest first, to the rank
    with the least padded work that still has a micro-step free (ranks wait for each other once per step)."""
    k = world * accum
    if not grouped:
        micro = len(picks) // k
        return [picks[(j * world + rank) * micro:(j * world + rank + 1) * micro] for j in range(accum)]
    order = sorted(picks, key=lambda p: (int(lengths[p[0]][1][p[1]]), int(lengths[p[0]][0][p[1]]), p[0], p[1]))
    S = np.array([lengths[t][0][i] for t, i in order], dtype=np.float64)
    T = np.array([lengths[t][1][i] for t, i in order], dtype=np.float64)
    cuts = _least_padding_cuts(S, T, k)
    groups = [order[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
    cost = [(b - a) * (S[a:b].max() + T[a:b].max()) for a, b in zip(cuts[:-1], cuts[1:])]
    load, mine = [0.0] * world, [[] for _ in range(world)]
    for g in sorted(range(k), key=lambda g: (-cost[g], g)):
        r = min((r for r in range(world) if len(mine[r]) < accum), key=lambda r: (load[r], r))
        mine[r].append(g)
        load[r] += cost[g]
    return [groups[g] for g in sorted(mine[rank])]


def _least_padding_cuts(S: np.ndarray, T: np.ndarray, k: int) -> list[int]:
    """Boundaries 0 = c0 < c1 < … < ck = n of ``k`` non-empty contiguous groups of the sorted rows minimising
    Σ rows × (max S + max T) (dynamic programme over cut points, vectorised: O(k·n²), ~ms for n = 512)."""
    n = len(S)
    cost = np.full((n + 1, n + 1), np.inf)
    for i in range(n):
        cost[i, i + 1:] = np.arange(1, n - i + 1) * (np.maximum.accumulate(S[i:]) + np.maximum.accumulate(T[i:]))
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = []
    for _ in range(k):
        total = best[:, None] + cost
        back.append(np.argmin(total, axis=0))
        best = total[back[-1], np.arange(n + 1)]
    cuts = [n]
    for arg in reversed(back):
        cuts.append(int(arg[cuts[-1]]))
    return cuts[::-1]


class StepPlans:
    """Iterable of ``StepPlan`` for steps ``start … total-1`` (the DataLoader's sampler; runs in the main process).

    ``stage_of(step) → sampler name``; ``lengths``: task → (prompt lengths, answer lengths) of the train rows.
    """

    def __init__(self, samplers: dict, stage_of, lengths: dict, geometry: tuple, batching: str, weighting: str,
                 start: int, total: int):
        self.samplers, self.stage_of, self.lengths = samplers, stage_of, lengths
        self.world, self.rank, self.accum, self.global_bs = geometry
        self.grouped, self.by_token = batching == "grouped", weighting == "token"
        self.start, self.total = start, total

    def __len__(self) -> int:
        return self.total - self.start

    def __iter__(self):
        for step in range(self.start, self.total):
            stage = self.stage_of(step)
            picks = self.samplers[stage].draw(self.global_bs)
            norm = (sum(int(self.lengths[t][1][i]) for t, i in picks) if self.by_token else len(picks))
            yield StepPlan(step, stage, cut_micro_batches(picks, self.lengths, self.world, self.accum, self.rank,
                                                          self.grouped),
                           float(norm), {k: s.state_dict() for k, s in self.samplers.items()})


class StepBatches:
    """Map-style dataset indexed by plans: reads and collates a plan's micro-batches (in a loader worker)."""

    def __init__(self, views: dict, task_index: dict, collate):
        self.views, self.task_index, self.collate = views, task_index, collate

    def __getitem__(self, plan: StepPlan) -> dict:
        batches = [self.collate(fetch_rows(self.views, m, self.task_index)) for m in plan.micro]
        tokens = sum(int(b["attention_mask"].sum()) + int((b["labels"] != -100).sum()) for b in batches)
        return {"plan": plan, "batches": batches, "tokens": tokens}


def _first(items):
    return items


def step_loader(plans: StepPlans, batches: StepBatches, workers: int, prefetch: int, pin_memory: bool):
    """A torch DataLoader yielding ``{"plan", "batches", "tokens"}`` per step, ``prefetch`` steps per worker ahead."""
    import torch
    from torch.utils.data import DataLoader
    extra = {"prefetch_factor": prefetch} if workers else {}
    # its own generator: an iterator draws a base seed, which from the global RNG would shift the dropout stream
    # of a resumed run against the uninterrupted one (the loader is created after the RNG is restored)
    return DataLoader(batches, sampler=plans, batch_size=None, collate_fn=_first, num_workers=workers,
                      pin_memory=pin_memory, generator=torch.Generator().manual_seed(0), **extra)
