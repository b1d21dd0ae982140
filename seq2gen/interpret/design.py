"""Model-guided sequence design: batched (1 + k) evolution under an edit budget.

Each of ``n`` lineages starts from its own sequence (random background, or motif-free on a world) and, every round,
proposes ``k`` random single-base edits; all ``n × k`` proposals (× the tissues in the objective) are scored in one
batched pass set and a lineage keeps its best proposal if it beats the current score. A lineage that has spent its
edit budget (Hamming distance to its start) may still change bases it already edited, never new ones. Greedy ISM
(all 3L edits) is the ``k = 3L`` limit; random proposals make the rounds cheap and keep lineages apart.

Objective: ``target="high"`` maximises the task's score in ``tissue`` (expression: log1p of the expected value,
i.e. log expression), minus the score in ``against`` when given (tissue-specific design); ``"low"`` minimises it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer.objective import objective, score_rows
from seq2gen.interpret.ism import build_prompt

TARGETS = ("high", "low")


@dataclass
class DesignResult:
    designs: list[str]
    starts: list[str]
    scores: np.ndarray           # (n,) final objective (model)
    edits: np.ndarray            # (n,) Hamming distance to the start
    history: np.ndarray          # (rounds + 1, n) objective of every lineage after each round
    designs_by_round: list[list[str]] = field(default_factory=list)
    describe: str = ""


class _Objective:
    """Model objective of DNA strings: Σ sign · score over (tissue, sign) pairs, one batched pass set."""

    def __init__(self, m, task, tissue, against, target, length, chrom, pos, space, batch_size):
        self.m, self.bs = m, batch_size
        start = "A" * length
        self.parts = []
        for tis, sign in [(tissue, 1.0)] + ([(against, -1.0)] if against else []):
            p = build_prompt(m, task, start, tis, chrom, pos)
            obj = objective(m, task, p.ids, space=space)
            self.parts.append((p, obj, sign * (1.0 if target == "high" else -1.0)))

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        total = np.zeros(len(codes))
        for p, obj, sign in self.parts:
            rows = np.repeat(p.ids[None], len(codes), axis=0)
            rows[:, p.dna_pos] = p.base_ids[codes]
            total += sign * score_rows(self.m, obj, list(rows), self.bs)
        return total


def design(m, task: str = "expression", tissue: str = "liver", against: str | None = None, target: str = "high",
           n: int = 20, rounds: int = 40, k: int = 16, edit_budget: int = 40, starts=None, seed: int = 0,
           chrom: str | None = "chr1", pos: int | None = 0, world=None, batch_size: int | None = None,
           progress: bool = False, score_fn=None) -> DesignResult:
    """Design ``n`` sequences for ``task`` (see the module doc). ``starts``: DNA strings of the task's window
    length; default random — motif-free when ``world`` (a ``WorldTruth``) is given. ``score_fn``: codes (m, L) →
    (m,) scores to maximise instead of the model's objective (e.g. an oracle, to test the search itself)."""
    if target not in TARGETS:
        raise InputError(f"target must be one of {TARGETS}, got {target!r}")
    if against is not None and against == tissue:
        raise InputError("--against names the tissue the design should stay low in; it must differ from --tissue")
    w = m.registry.get(task).window
    rng = np.random.default_rng(seed)
    if starts is None:
        if world is not None:
            starts = world.motif_free(rng, n, w.length, w.before)
        else:
            starts = ["".join("ACGT"[c] for c in rng.integers(0, 4, w.length)) for _ in range(n)]
    starts = list(starts)
    if any(len(s) != w.length for s in starts):
        raise InputError(f"design starts must be {w.length} bp (task {task}'s window)")
    q = m.quantizers.get(task)
    space = "log1p" if q is not None and q.method == "log1p-quantile" else "value"
    f = score_fn or _Objective(m, task, tissue, against, target, w.length, chrom, pos, space, batch_size)
    from seq2gen.interpret.ism import _codes
    start = np.stack([_codes(s) for s in starts])
    if (start > 3).any():
        raise InputError("design starts must be ACGT only")
    cur, score = start.copy(), f(start)
    history, by_round = [score.copy()], [_strings(cur)]
    bar = _bar(progress, rounds)
    for _ in range(rounds):
        props = _propose(rng, cur, start, k, edit_budget)                 # (n, k, L)
        s = f(props.reshape(-1, props.shape[-1])).reshape(len(cur), k)
        best = s.argmax(1)
        better = s[np.arange(len(cur)), best] > score
        cur[better] = props[better, best[better]]
        score[better] = s[better, best[better]]
        history.append(score.copy())
        by_round.append(_strings(cur))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{score.max():.3f}")
    if bar is not None:
        bar.close()
    desc = f"{'+' if target == 'high' else '-'}{task}[{tissue}]" + (f" − {task}[{against}]" if against else "")
    return DesignResult(_strings(cur), starts, score, (cur != start).sum(1), np.stack(history), by_round, desc)


def _propose(rng, cur: np.ndarray, start: np.ndarray, k: int, budget: int) -> np.ndarray:
    """``k`` single-base edits per lineage; lineages at the budget edit only already-edited positions."""
    n, L = cur.shape
    props = np.repeat(cur[:, None], k, axis=1)
    for i in range(n):
        edited = np.flatnonzero(cur[i] != start[i])
        pool = edited if len(edited) >= budget else np.arange(L)
        where = rng.choice(pool, size=k, replace=len(pool) < k)
        shift = rng.integers(1, 4, size=k)
        props[i, np.arange(k), where] = (cur[i, where] + shift) % 4
    return props


def _strings(codes: np.ndarray) -> list[str]:
    return ["".join("ACGT"[c] for c in row) for row in codes]


def _bar(progress: bool, total: int):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc="design", unit="round")


def judge(world, result: DesignResult, tissue: str, against: str | None = None, tss_offset: int = 320) -> dict:
    """Score designs with the world's true function: per design true f in the tissue(s) and its percentile among
    the world's real promoters (and of the specificity f[tissue] − f[against])."""
    _, real = world.real_promoters()
    ti = world.tissues.index(tissue)
    f_start = world.activity(result.starts, tss_offset)
    f_design = world.activity(result.designs, tss_offset)
    out = {"n_real_promoters": int(len(real)), "real_top5_threshold": float(np.quantile(real[:, ti], 0.95)),
           "start_true": f_start[:, ti].tolist(), "design_true": f_design[:, ti].tolist(),
           "design_percentile": [float((real[:, ti] < v).mean() * 100) for v in f_design[:, ti]]}
    if against is not None:
        ai = world.tissues.index(against)
        spec_real = real[:, ti] - real[:, ai]
        spec = f_design[:, ti] - f_design[:, ai]
        out.update(design_specificity=spec.tolist(),
                   specificity_percentile=[float((spec_real < v).mean() * 100) for v in spec])
    return out
