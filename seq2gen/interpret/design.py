"""Model-guided sequence design: batched (1 + k) evolution under an edit budget.

Each of ``n`` lineages starts from its own sequence (random background, or motif-free on a world) and, every round,
proposes ``k`` random edits; all ``n × k`` proposals (× the tissues in the objective) are scored in one batched pass
set and a lineage keeps its best proposal if it beats the current score. A proposal is a single-base edit or, given
``patterns`` (motifs the model itself taught: cores of TF-MoDISco patterns of its attributions,
``seq2gen.interpret.motifs.cores``), with probability ``insert_fraction`` one pattern written over a random offset
on either strand. A proposal may not take a lineage past its edit budget (Hamming distance to its start): a lineage
at the budget changes only bases it already edited.

Why insertions: the world's function (like a real promoter's) rewards whole sites — a TF site's affinity is zero
until most of its 10–12 bases match — so single-base steps see no gain on the way to one. Even with the world's
*true* function as the objective, single-base search from motif-free starts stays far below the real top 5 %
(docs/explain.md, "Design"); inserting patterns lets the model's own motif knowledge be tried whole. Greedy ISM
(all 3L single edits) is the ``k = 3L`` limit of the single-base moves.

Patterns are first **screened** (``screen_patterns``, a global importance analysis: Koo et al. 2021): each is
written into the starts at random offsets and its mean objective gain compared with that of shuffles of itself
(same composition). Only patterns whose gain beats their shuffles by ``screen`` standard deviations are inserted
(default 3: about a Bonferroni 5 % bar for the ~16 patterns TF-MoDISco returns), highest z first, at most
``max_patterns``: a passing GC-rich non-motif can still out-score the real site in the model's eyes, and on the
quickstart model keeping only the top-screened pattern is what reached the real top 5 % (docs/explain.md).
Why: a small model reads base composition (the quickstart model scores any GC-rich insert alike), so without the
screen the search fills designs with GC-rich non-motifs — or repressor sites — that it cannot tell from activators.

Objective: ``target="high"`` maximises the task's score in ``tissue`` (expression: log1p of the expected value,
i.e. log expression), minus the score in ``against`` when given (tissue-specific design); ``"low"`` minimises it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer.objective import natural_space, objective, score_rows
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
    patterns: list[str] = field(default_factory=list)   # what insertion proposals could write (none: single bases)
    screen: list[dict] = field(default_factory=list)     # screen_patterns rows of every given pattern


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
           progress: bool = False, score_fn=None, patterns=None, insert_fraction: float = 1.0,
           screen: float | None = 3.0, max_patterns: int | None = None) -> DesignResult:
    """Design ``n`` sequences for ``task`` (see the module doc). ``starts``: DNA strings of the task's window
    length; default random — motif-free when ``world`` (a ``WorldTruth``) is given. ``score_fn``: codes (m, L) →
    (m,) scores to maximise instead of the model's objective (e.g. an oracle, to test the search itself).
    ``patterns``: DNA strings that proposals may insert (``insert_fraction`` of them), kept if their screen z ≥
    ``screen`` (None: all; when none passes, the best one), at most ``max_patterns`` of them (highest z first)."""
    if target not in TARGETS:
        raise InputError(f"target must be one of {TARGETS}, got {target!r}")
    if not 0.0 <= insert_fraction <= 1.0:
        raise InputError(f"insert_fraction must be in [0, 1], got {insert_fraction!r}")
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
    f = score_fn or _Objective(m, task, tissue, against, target, w.length, chrom, pos, natural_space(m, task),
                               batch_size)
    from seq2gen.interpret.ism import _codes
    start = np.stack([_codes(s) for s in starts])
    if (start > 3).any():
        raise InputError("design starts must be ACGT only")
    patterns = [str(p).strip().upper() for p in patterns or []]
    codes = {p: _pattern_codes(p, w.length) for p in patterns}             # validated before any scoring
    table = screen_patterns(f, patterns, start, rng) if patterns and screen is not None else []
    if table:
        ranked = sorted(table, key=lambda r: -r["z"])
        patterns = [r["pattern"] for r in ranked if r["z"] >= screen] or [ranked[0]["pattern"]]
    if max_patterns is not None:
        if max_patterns < 1:
            raise InputError(f"max_patterns must be >= 1, got {max_patterns!r}")
        patterns = patterns[:max_patterns]
    inserts = [c for p in patterns for c in codes[p]]
    cur, score = start.copy(), f(start)
    history, by_round = [score.copy()], [_strings(cur)]
    bar = _bar(progress, rounds)
    for _ in range(rounds):
        props = _propose(rng, cur, start, k, edit_budget, inserts, insert_fraction if inserts else 0.0)  # (n, k, L)
        s = f(props.reshape(-1, props.shape[-1])).reshape(len(cur), k)
        s[(props != start[:, None]).sum(-1) > edit_budget] = -np.inf        # an insertion past the budget
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
    return DesignResult(_strings(cur), starts, score, (cur != start).sum(1), np.stack(history), by_round, desc,
                        patterns, table)


def screen_patterns(f, patterns: list[str], backgrounds: np.ndarray, rng, n_shuffles: int = 8) -> list[dict]:
    """Per pattern: mean objective gain of writing it (random strand and offset) into each background,
    the same for ``n_shuffles`` shuffles of it (same offsets), and ``z`` = (gain − shuffled mean) / shuffled sd.
    One batched pass set: patterns × (1 + shuffles) × backgrounds rows."""
    n, L = backgrounds.shape
    base = f(backgrounds)
    rows, variants = [], []
    for p in patterns:
        c = _pattern_codes(p, L)
        offs = rng.integers(0, L - len(p) + 1, size=n)
        strand = rng.integers(0, 2, size=n)
        for v in [None] + list(range(n_shuffles)):
            x = backgrounds.copy()
            for i in range(n):
                motif = c[strand[i]] if v is None else rng.permutation(c[strand[i]])
                x[i, offs[i]:offs[i] + len(p)] = motif
            variants.append(x)
    gain = (f(np.concatenate(variants)).reshape(len(patterns), 1 + n_shuffles, n) - base).mean(2)
    for p, g in zip(patterns, gain):
        sd = float(g[1:].std(ddof=1)) if n_shuffles > 1 else 0.0
        rows.append({"pattern": p, "gain": float(g[0]), "shuffled_gain": float(g[1:].mean()) if n_shuffles else 0.0,
                     "shuffled_sd": sd, "z": float((g[0] - g[1:].mean()) / max(sd, 1e-12)) if n_shuffles > 1
                     else float("nan")})
    return rows


def _propose(rng, cur: np.ndarray, start: np.ndarray, k: int, budget: int, inserts=(),
             insert_fraction: float = 0.0) -> np.ndarray:
    """``k`` proposals per lineage: single-base edits (lineages at the budget edit only already-edited positions)
    or, with probability ``insert_fraction``, one of ``inserts`` (code arrays, both strands) at a random offset."""
    n, L = cur.shape
    props = np.repeat(cur[:, None], k, axis=1)
    for i in range(n):
        edited = np.flatnonzero(cur[i] != start[i])
        pool = edited if len(edited) >= budget else np.arange(L)
        where = rng.choice(pool, size=k, replace=len(pool) < k)
        shift = rng.integers(1, 4, size=k)
        props[i, np.arange(k), where] = (cur[i, where] + shift) % 4
        for j in np.flatnonzero(rng.random(k) < insert_fraction):
            motif = inserts[rng.integers(len(inserts))]
            o = int(rng.integers(0, L - len(motif) + 1))
            props[i, j] = cur[i]
            props[i, j, o:o + len(motif)] = motif
    return props


def _pattern_codes(p: str, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Insertable code arrays of a DNA pattern: forward and reverse-complemented."""
    if not p or set(p) - set("ACGT") or len(p) > length:
        raise InputError(f"design pattern {p!r}: expected an ACGT string of at most {length} bp")
    c = np.array(["ACGT".index(b) for b in p], dtype=np.int64)
    return c, (3 - c)[::-1].copy()


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
