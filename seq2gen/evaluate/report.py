"""The transfer report: numbers → tables, verdicts and plots (``report.md``, PNGs, ``results.json``).

Everything here is computed from the cell results that ``seq2gen.evaluate.transfer`` writes, so a report can be
rebuilt from ``results.json`` alone. Comparisons are paired by seed (the two arms of one seed share the weight
initialisation); a verdict is **positive** / **negative** only when the 95 % t-interval of the paired mean
difference excludes 0 — with few seeds that is deliberately hard to reach — and "no clear transfer" otherwise.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.evaluate.run import CHANCE, HEADLINE
from seq2gen.evaluate.study import DEFAULT_SCARCE_ARMS, FULL_ARMS, parse_scarce, run_time, scarce_arm

LEVEL = 0.95
#: What each world task's answer is a function of, read off the world's generative model (docs/world.md: occupancy
#: occ = affinity × tissue level drives TF peaks, chromatin and expression; f(P, t) adds the core promoter; variant
#: effects are Δf; annotation reads splice motifs and exon structure). Two tasks that share factors are expected to
#: transfer; the pairwise arm's measured matrix is set beside ``expected_share``.
SHARED_FACTORS = {
    "promoter": {"motif affinity", "core promoter"},
    "tf_binding": {"motif affinity", "tissue level"},
    "tf_tissues": {"motif affinity", "tissue level"},
    "chromatin": {"motif affinity", "tissue level"},
    "expression": {"motif affinity", "tissue level", "core promoter"},
    "variant_effect": {"motif affinity", "tissue level", "core promoter"},
    "annotate": {"splice motifs", "gene structure"},
}
NEAR_CHANCE = 0.05        # both arms within this of chance: the budget is too small to tell
FIGURES = {"matrix": "transfer_matrix.png", "curves": "learning_curves.png", "calibration": "calibration.png",
           "scarcity": "scarcity.png", "pairs": "pairs.png"}


# --------------------------------------------------------------------------------------------------- statistics
def verdict(deltas, level: float = LEVEL) -> str:
    """``positive`` / ``negative`` when the ``level`` t-interval of the mean of ``deltas`` (one per seed) excludes
    0, else ``unclear`` (also with fewer than two finite values)."""
    d = np.asarray([x for x in deltas if x is not None and np.isfinite(x)], dtype=np.float64)
    lo, hi = interval(d, level)
    if not np.isfinite(lo):
        return "unclear"
    return "positive" if lo > 0 else "negative" if hi < 0 else "unclear"


def interval(d, level: float = LEVEL) -> tuple[float, float]:
    """t confidence interval of the mean (nan, nan with fewer than two values)."""
    from scipy import stats
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + level / 2, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    return float(d.mean() - half), float(d.mean() + half)


def mean_sd(values) -> dict:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    return {"mean": float(v.mean()) if v.size else math.nan, "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan,
            "n": int(v.size)}


def compare(base: dict, other: dict, chance: float | None = None) -> dict:
    """``other − base``, paired over the seeds both have (``{seed: value}`` each)."""
    seeds = sorted(set(base) & set(other))
    d = [other[s] - base[s] for s in seeds]
    fin = [x for x in d if np.isfinite(x)]
    lo, hi = interval(fin)
    out = {"base": mean_sd(base.values()), "other": mean_sd(other.values()), "delta": mean_sd(d),
           "ci": [lo, hi], "verdict": verdict(d)}
    out["near_chance"] = bool(chance is not None and all(
        abs(out[k]["mean"] - chance) < NEAR_CHANCE for k in ("base", "other")))
    return out


# --------------------------------------------------------------------------------------------------- extraction
def family_of(results: dict, task: str) -> str | None:
    for c in results["cells"]:
        if task in c["scores"]:
            return c["scores"][task]["family"]
    return None


def _row_verdict(cmp: dict, rows: dict | None) -> dict:
    out = {**cmp, "rows": rows, "verdict_seeds": cmp["verdict"]}
    if rows is not None:
        lo, hi = rows["ci"]
        side = "positive" if lo > 0 else "negative" if hi < 0 else "unclear"
        out["verdict"] = cmp["verdict"] if side == cmp["verdict"] else "unclear"
    return out


def _boot(results: dict) -> dict:
    """The run's bootstrap settings as ``paired_by_seed`` keywords (``n`` 0: off, also for older results)."""
    boot = results["config"].get("bootstrap") or {}
    return {"n": int(boot.get("n") or 0), "seed": int(boot.get("seed", 0))}


def zero_shot_rows(cmp: dict, results: dict, task: str, tissue: str, metric: str,
                   base=("joint", "agnostic"), other=("joint", "zero_shot")) -> dict:
    """A zero-shot comparison plus its row bootstrap on the held-out tissue's rows (paired by row and seed): by
    default the joint model's zero-shot vs its tissue-agnostic predictions; ``base`` / ``other`` name another
    ``(arm, prediction)`` side, e.g. the single-task model's zero-shot."""
    from seq2gen.evaluate.bootstrap import paired_by_seed

    def side(arm: str, which: str) -> dict:
        return {c["seed"]: (r["target"], r[which]) for c in results["cells"] if c["arm"] == arm
                and (r := (((c.get("zero_shot") or {}).get(task) or {}).get(tissue) or {}).get("rows"))}
    kw = _boot(results)
    rows = paired_by_seed(side(*base), side(*other), family_of(results, task), metric,
                          what=f"{task} × {tissue} zero-shot", **kw) if kw["n"] else None
    return _row_verdict(cmp, rows)


def with_rows(cmp: dict, results: dict, base_arm: str, other_arm: str, task: str, metric: str) -> dict:
    """``cmp`` (a seed comparison) plus the paired row bootstrap of the same two arms (``rows``) when the cells kept
    their test rows; the verdict then needs *both* intervals to exclude 0 on the same side (``verdict_seeds`` keeps
    the seed-only one)."""
    from seq2gen.evaluate.bootstrap import compare_rows
    kw = _boot(results)
    rows = compare_rows(results, base_arm, other_arm, task, family_of(results, task), metric,
                        **kw) if kw["n"] else None
    return _row_verdict(cmp, rows)


def arm_vs_arm(results: dict, base_arm: str, other_arm: str, task: str, metric: str, chance=None) -> dict:
    """``other_arm`` − ``base_arm`` on ``task``'s ``metric``: seeds paired, plus the row bootstrap (``with_rows``)."""
    get = score(task, metric)
    return with_rows(compare(values(results, base_arm, get), values(results, other_arm, get), chance),
                     results, base_arm, other_arm, task, metric)


def metric_of(results: dict, task: str) -> str:
    """The headline metric of a task (from any cell that scored it)."""
    for c in results["cells"]:
        if task in c["scores"]:
            return HEADLINE[c["scores"][task]["family"]]
    return "n/a"


def values(results: dict, arm: str, get) -> dict:
    """``{seed: get(cell)}`` over the cells of ``arm`` where ``get`` finds a number."""
    out = {}
    for c in results["cells"]:
        if c["arm"] == arm:
            try:
                v = get(c)
            except (KeyError, IndexError, ValueError):
                continue
            if v is not None:
                out[c["seed"]] = float(v)
    return out


def score(task: str, metric: str):
    return lambda c: c["scores"][task][metric]


def curve_point(metric: str, step: int):
    return lambda c: c["curve"]["scores"][c["curve"]["steps"].index(step)][metric]


def zero_shot_point(task: str, tissue: str, which: str, metric: str):
    return lambda c: c["zero_shot"][task][tissue][which][metric]


def summarize(results: dict) -> dict:
    """Every table of the report as data (also stored in results.json under ``summary``)."""
    cfg = results["config"]
    arms = {c["arm"] for c in results["cells"]}
    out = {"joint_vs_single": [], "pretrain": [], "finetune": [], "zero_shot": []}
    for t in cfg["tasks"]:
        m = metric_of(results, t)
        row, ch = {"task": t, "metric": m}, CHANCE.get(m)
        single, joint = values(results, f"single:{t}", score(t, m)), values(results, "joint", score(t, m))
        if single or joint:                   # a run of the scarcity arms only (full_arms: []) has neither
            out["joint_vs_single"].append({**row, **with_rows(compare(single, joint, ch), results, f"single:{t}",
                                                              "joint", t, m)})
        if "joint+pretrain" in arms:
            out["pretrain"].append({**row, **compare(joint, values(results, "joint+pretrain", score(t, m)), ch)})
        if f"finetune:{t}" in arms:
            out["finetune"].append({**row, **finetune_row(results, t, m, ch), "joint": mean_sd(joint.values())})
        for tissue in cfg.get("zero_shot", {}).get(t, []):
            z = {(arm, w): values(results, arm, zero_shot_point(t, tissue, w, m))
                 for arm in ("joint", f"single:{t}") for w in ("zero_shot", "agnostic")}
            out["zero_shot"].append({
                **row, "tissue": tissue, **zero_shot_rows(compare(z["joint", "agnostic"], z["joint", "zero_shot"], ch),
                                                          results, t, tissue, m),
                "single_zero_shot": mean_sd(z[f"single:{t}", "zero_shot"].values()),
                "single_agnostic": mean_sd(z[f"single:{t}", "agnostic"].values()),
                "joint_seen": mean_sd(joint.values()),
                # what the other tasks taught the held-out token: joint vs single-task, both prompted with it
                "vs_single": zero_shot_rows(compare(z[f"single:{t}", "zero_shot"], z["joint", "zero_shot"], ch),
                                            results, t, tissue, m, (f"single:{t}", "zero_shot"),
                                            ("joint", "zero_shot"))})
    out["matrix"] = transfer_matrix(results, cfg["tasks"])
    out["scarcity"] = scarcity_rows(results)
    out["pairs"] = pair_rows(results)
    return out


def expected_share(target: str, partner: str) -> float | None:
    """Fraction of the target's factors (``SHARED_FACTORS``) the partner task also reads; None when unknown."""
    a, b = SHARED_FACTORS.get(target), SHARED_FACTORS.get(partner)
    return len(a & b) / len(a) if a and b is not None else None


def pair_rows(results: dict) -> dict:
    """The measured transfer matrix at the scarce end: per (target T, partner B), ``pair:T@f+B`` − ``single:T@f``
    (seed and row intervals) beside the expected share of factors, and their rank correlation over the pairs."""
    from scipy import stats

    arms = sorted({c["arm"] for c in results["cells"] if c["arm"].startswith("pair:")})
    rows = []
    for arm in arms:
        _, t, f = parse_scarce(arm)
        partner = arm.partition("+")[2]
        m = metric_of(results, t)
        base = scarce_arm("single", t, f)
        c = arm_vs_arm(results, base, arm, t, m, CHANCE.get(m))
        rows.append({"task": t, "partner": partner, "fraction": float(f), "metric": m, "arm": arm,
                     "shared": sorted(SHARED_FACTORS.get(t, set()) & SHARED_FACTORS.get(partner, set())),
                     "expected_share": expected_share(t, partner), **c})
    for r in rows:       # a partner sharing none of the target's factors is its negative control (the first such;
        ctrl = next((x for x in rows if x["task"] == r["task"] and x["fraction"] == r["fraction"]   # a second one
                     and x["expected_share"] == 0), None)                                           # is compared)
        if ctrl is not None and ctrl is not r:
            r["vs_control"] = {"partner": ctrl["partner"],
                               **arm_vs_arm(results, ctrl["arm"], r["arm"], r["task"], r["metric"])}
    pts = [(r["expected_share"], r["delta"]["mean"]) for r in rows
           if r["expected_share"] is not None and np.isfinite(r["delta"]["mean"])]
    rho = float(stats.spearmanr(*zip(*pts))[0]) if len(pts) >= 3 and len({p[0] for p in pts}) > 1 else math.nan
    return {"rows": rows, "spearman_expected_vs_measured": rho, "n_pairs": len(pts)}


def compare_runs(base: dict, base_arm: str, other: dict, other_arm: str, task: str) -> dict:
    """``other_arm`` of one study's results minus ``base_arm`` of another's on ``task``, seeds paired and test rows
    bootstrapped — e.g. a three-task arm against its control run (two presets, one question). Both studies must
    score the same rows: the same world, data, templates, eval and zero-shot settings, else an ``InputError``."""
    for key in ("world", "data", "templates", "eval", "zero_shot"):
        if base["config"].get(key) != other["config"].get(key):
            raise InputError(f"the two studies differ in `{key}`, so their test rows are not the same rows",
                             hint="compare arms of studies with one world, data and eval block")
    merged = {"config": base["config"],                       # its bootstrap settings
              "cells": [{**c, "arm": f"base/{c['arm']}"} for c in base["cells"] if c["arm"] == base_arm]
              + [{**c, "arm": f"other/{c['arm']}"} for c in other["cells"] if c["arm"] == other_arm]}
    for name, arm in (("base", base_arm), ("other", other_arm)):
        if not any(c["arm"] == f"{name}/{arm}" and task in c["scores"] for c in merged["cells"]):
            raise InputError(f"no cell of arm {arm!r} scored {task!r} in the {name} study")
    m = metric_of(merged, task)
    return {"task": task, "metric": m, **arm_vs_arm(merged, f"base/{base_arm}", f"other/{other_arm}", task, m)}


def compare_line(r: dict, base_arm: str, other_arm: str) -> str:
    """One line for a ``compare_runs`` result (``seq2gen evaluate compare``)."""
    return (f"{r['task']} ({r['metric']}): {other_arm} {fmt(r['other'])} vs {base_arm} {fmt(r['base'])}, "
            f"Δ {fmt(r['delta'], True)} (seeds {_ci(r['ci'])}, rows {_ci((r.get('rows') or {}).get('ci'))}; "
            f"{r['delta']['n']} seeds) → {r['verdict']}")


def scarcity_rows(results: dict) -> list[dict]:
    """Per scarcity target and fraction (1 = the full-data cells): single / joint / seq values, and joint − single,
    seq − single with seed and row intervals."""
    cfg = results["config"]
    sc = cfg.get("scarcity") or {}
    full_seq = cfg["finetune_steps"][-1] == cfg["steps_per_task"]        # finetune:T then is seq:T at 100 %
    rows = []
    for t in sc.get("tasks", []):
        m = metric_of(results, t)
        full = any(c["arm"] in (f"single:{t}", "joint") for c in results["cells"])
        for f in sorted({float(x) for x in sc.get("fractions", [])} | ({1.0} if full else set())):
            arms = {"single": f"single:{t}", "joint": "joint", "seq": f"finetune:{t}" if full_seq else None} \
                if f == 1.0 else {k: scarce_arm(k, t, f) for k in ("single", "joint", "seq")}
            vals = {k: values(results, a, score(t, m)) if a else {} for k, a in arms.items()}
            n_rows = next((c["train_rows"] for c in results["cells"] if c["arm"] == arms["single"]
                           and "train_rows" in c), None)
            row = {"task": t, "metric": m, "fraction": f, "train_rows": n_rows,
                   **{k: mean_sd(v.values()) for k, v in vals.items()}}
            for k in ("joint", "seq"):
                if vals[k] and vals["single"]:
                    row[f"{k}_vs_single"] = with_rows(compare(vals["single"], vals[k], CHANCE.get(m)), results,
                                                      arms["single"], arms[k], t, m)
            rows.append(row)
    return rows


def finetune_row(results: dict, task: str, metric: str, chance) -> dict:
    """Fine-tuned vs scratch at each fine-tune step; the verdict is on the per-seed gain averaged over the steps."""
    steps = results["config"]["finetune_steps"]
    scratch = [values(results, f"single:{task}", curve_point(metric, k)) for k in steps]
    tuned = [values(results, f"finetune:{task}", curve_point(metric, k)) for k in steps]
    seeds = set.intersection(*(set(x) for x in scratch + tuned))
    gain = [float(np.mean([tu[s] - sc[s] for sc, tu in zip(scratch, tuned)])) for s in sorted(seeds)]
    per_step = [compare(a, b, chance) for a, b in zip(scratch, tuned)]
    return {"steps": steps, "per_step": per_step, "mean_gain": mean_sd(gain), "ci": list(interval(gain)),
            "verdict": verdict(gain), "near_chance": all(p["near_chance"] for p in per_step)}


def transfer_matrix(results: dict, tasks: list[str]) -> dict:
    """Rows: what a model was trained on; columns: evaluated task; ``value`` = headline metric (seed mean),
    ``delta`` = paired difference to the column task's single-task model (nan where the row never saw the task)."""
    arms = {c["arm"] for c in results["cells"]}
    rows = [(f"only {t}", f"single:{t}") for t in tasks]
    rows += [(f"all but {t}", f"loto:{t}") for t in tasks if f"loto:{t}" in arms]
    rows += [(label, arm) for label, arm in (("all (joint)", "joint"), ("all + pretrain", "joint+pretrain"))
             if arm in arms]
    value = np.full((len(rows), len(tasks)), np.nan)
    delta = np.full_like(value, np.nan)
    for i, (_, arm) in enumerate(rows):
        for j, t in enumerate(tasks):
            m = metric_of(results, t)
            v = values(results, arm, score(t, m))
            if v:
                value[i, j] = mean_sd(v.values())["mean"]
                if not arm.startswith("single:"):
                    delta[i, j] = compare(values(results, f"single:{t}", score(t, m)), v)["delta"]["mean"]
    clean = lambda a: [[None if not np.isfinite(x) else round(float(x), 4) for x in r] for r in a]  # noqa: E731
    return {"rows": [r[0] for r in rows], "arms": [r[1] for r in rows], "columns": list(tasks),
            "metrics": [metric_of(results, t) for t in tasks], "value": clean(value), "delta": clean(delta)}


# --------------------------------------------------------------------------------------------------- text
def fmt(x: dict | float, signed: bool = False) -> str:
    """``mean ± sd`` (or one number)."""
    if isinstance(x, dict):
        if not np.isfinite(x["mean"]):
            return "–"
        sd = f" ± {x['sd']:.3f}" if np.isfinite(x["sd"]) else ""
        return f"{x['mean']:+.3f}{sd}" if signed else f"{x['mean']:.3f}{sd}"
    return "–" if x is None or not np.isfinite(x) else (f"{x:+.3f}" if signed else f"{x:.3f}")


WORDS = {"joint_vs_single": {"positive": "positive transfer", "negative": "negative transfer",
                             "unclear": "no clear transfer"},
         "finetune": {"positive": "starting from the other tasks helps", "negative": "starting from the other "
                      "tasks hurts", "unclear": "no clear difference from scratch"},
         "zero_shot": {"positive": "the tissue token transfers", "negative": "the tissue token misleads",
                       "unclear": "no clear zero-shot transfer"},
         "pretrain": {"positive": "span-corruption pre-training helps", "negative": "span-corruption pre-training "
                      "hurts", "unclear": "no clear effect of pre-training"}}


def say(kind: str, row: dict) -> str:
    """The verdict words of a row, with the near-chance warning when it applies."""
    words = WORDS[kind][row["verdict"]]
    return words + (" (both near chance: budget too small to tell)" if row.get("near_chance") else "")


def headline(results: dict) -> str:
    """A few lines "joint vs single per task" (what the quickstart prints)."""
    s = results.get("summary") or summarize(results)
    n = len(results["config"]["seeds"])
    if not s["joint_vs_single"]:
        return "no full-data arms in this run (full_arms: []): see report.md's scarcity and pairwise tables"
    lines = [f"joint vs single-task (same examples per task; headline metric, mean ± sd over {n} seeds):"]
    for r in s["joint_vs_single"]:
        lines.append(f"  {r['task']:<16} {r['metric']:<13} single {fmt(r['base']):<15} joint {fmt(r['other']):<15} "
                     f"Δ {fmt(r['delta']['mean'], True):<7} {say('joint_vs_single', r)}")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |"
                                                                            for r in rows]


def _ci(ci) -> str:
    ok = ci is not None and all(x is not None and np.isfinite(x) for x in ci)
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ok else "–"


def markdown(results: dict) -> str:
    cfg, s = results["config"], results["summary"]
    B = next((c["examples_per_step"] for c in results["cells"]), "?")
    S, n = cfg["steps_per_task"], len(cfg["tasks"])
    shown = figures_of(results)
    out = ["# Transfer report: does joint training transfer across tasks?", "",
           f"Tasks: {', '.join(cfg['tasks'])}. Seeds: {cfg['seeds']}. Model: `{cfg['train'].get('model', 'tiny')}`. "
           f"Budget: **{S} steps × {B} examples per task** for every arm (single-task: {S} steps; "
           + (f"joint: {S * n} steps of a uniform mixture" if "joint" in cfg.get("full_arms", FULL_ARMS) else
              (f"pairs: {2 * S} steps, " if "pair" in (cfg.get("scarcity") or {}).get("arms", ()) else "")
              + "no full-data arms") + (f"; leave-one-out: {S * (n - 1)} steps" if cfg.get("loto_tasks") else "")
           + "). Compute: "
           f"{cell_minutes(results):.0f} min of training and scoring over the {len(results['cells'])} cells "
           f"({run_time(results)}).", "",
           "Numbers: the task's headline metric on the test split (chromosome held out), mean ± sd over seeds; "
           "Δ = paired difference (same seed = same initial weights); CI = 95 % t-interval of Δ. Verdicts say "
           "*positive* / *negative* only when that interval excludes 0" + (
               f"; where a row CI is shown (paired bootstrap over the test rows: {_boot(results)['n']:,} resamples, "
               f"seed {_boot(results)['seed']}), it must exclude 0 on the same side too." if _boot(results)["n"]
               else "."), ""]
    if s["joint_vs_single"]:                  # none in a run of the scarcity arms only
        out += ["## Joint vs single-task", ""]
        out += _table(["task", "metric", "single", "joint", "Δ (joint − single)", "95 % CI (seeds)",
                       "95 % CI (rows)", "verdict"],
                      [[r["task"], r["metric"], fmt(r["base"]), fmt(r["other"]), fmt(r["delta"], True), _ci(r["ci"]),
                        _ci((r.get("rows") or {}).get("ci")), say("joint_vs_single", r)] for r in s["joint_vs_single"]])
    if s.get("scarcity"):
        kinds = [k for k in ("joint", "seq") if k in (cfg.get("scarcity") or {}).get("arms", DEFAULT_SCARCE_ARMS)]
        out += ["", "## Data scarcity: the target task with a fraction of its train rows", "",
                "The target task trains on a seeded fraction of its train rows (the same rows for every arm and seed), "
                "the other tasks on all of theirs; every arm still sees the same number of examples of the target "
                f"({S} steps × {B}, repeating the few rows). *single*: the target alone"
                + (f"; *joint*: all tasks, uniform mixture ({S * n} steps)" if "joint" in kinds else "")
                + (f"; *seq*: the model trained on the other tasks (`loto`), then {S} steps on the target's rows"
                   if "seq" in kinds else "")
                + ". Row CI: paired bootstrap over the test rows (same resample for both arms); a verdict needs the "
                "seed and the row interval to exclude 0.", ""]
        rows = []
        for r in s["scarcity"]:
            cells = [r["task"], r["metric"], f"{r['fraction']:g}" + (f" ({r['train_rows']})" if r["train_rows"]
                                                                     else ""),
                     fmt(r["single"])] + [fmt(r[k]) for k in kinds]
            for k in kinds:
                c = r.get(f"{k}_vs_single")
                cells += [f"{fmt(c['delta'], True)} {_ci(c['ci'])} {_ci((c.get('rows') or {}).get('ci'))}",
                          say("joint_vs_single", c)] if c else ["–", ""]
            rows.append(cells)
        out += _table(["task", "metric", "fraction (rows)", "single"] + kinds
                      + [x for k in kinds for x in (f"Δ {k} − single [seeds] [rows]", "verdict")], rows)
    pr = s.get("pairs") or {}
    if pr.get("rows"):
        f = pr["rows"][0]["fraction"]
        out += ["", f"### Pairwise transfer at {f:g} of the target's rows, beside the world's shared factors", "",
                f"`pair:T@{f:g}+B`: the target T (its scarce rows) with one other task B (all rows), {2 * S} steps, "
                f"against `single:T@{f:g}`. *Expected share*: the fraction of T's factors in the world's generative "
                "model (docs/world.md; `report.SHARED_FACTORS`) that B also reads.", ""]
        ctrl = any("vs_control" in r for r in pr["rows"])
        out += _table(["target", "partner", "shared factors", "expected share", "Δ (pair − single) [seeds] [rows]",
                       "verdict"] + (["Δ (pair − control pair) [seeds] [rows]", "verdict"] if ctrl else []),
                      [[r["task"], r["partner"], ", ".join(r["shared"]) or "none",
                        "–" if r["expected_share"] is None else f"{r['expected_share']:.2f}",
                        f"{fmt(r['delta'], True)} {_ci(r['ci'])} {_ci((r.get('rows') or {}).get('ci'))}",
                        say("joint_vs_single", r)] + (_vs_control(r) if ctrl else []) for r in pr["rows"]])
        if ctrl:
            out += ["", "*Control pair*: the target beside a partner that shares none of its factors (expected share "
                    "0). A second task moves a target for reasons other than shared biology (twice the encoder "
                    "updates, a second loss on the same DNA); pair − control pair is what the shared factors add."]
        out += ["", f"Rank correlation of the measured Δ with the expected share over {pr['n_pairs']} pairs: "
                f"Spearman {fmt(pr['spearman_expected_vs_measured'])} (positive = the matrix follows the known "
                "structure)."]
    if s["finetune"]:
        out += ["", "## Leave-one-task-out + fine-tune vs from scratch", "",
                "The model trained on every *other* task, fine-tuned on the left-out task for k steps, against a "
                "model trained on that task alone for k steps (same examples of it). Verdict: on the gain averaged "
                "over the k.", ""]
        rows = []
        for r in s["finetune"]:
            for k, p in zip(r["steps"], r["per_step"]):
                rows.append([r["task"], r["metric"], str(k), fmt(p["base"]), fmt(p["other"]), fmt(p["delta"], True),
                             ""])
            rows.append([r["task"], r["metric"], "mean gain", "", "", fmt(r["mean_gain"], True),
                         f"{say('finetune', r)} {_ci(r['ci'])}; joint ({S} steps/task): {fmt(r['joint'])}"])
        out += _table(["task", "metric", "fine-tune steps", "scratch", "fine-tuned", "Δ", "verdict"], rows)
    if s["zero_shot"]:
        out += ["", "## Zero-shot tissue × task", "",
                "These (task, tissue) pairs were dropped from the training split of *every* arm; the joint model saw "
                "the tissue in the other tasks. *zero-shot*: prompted with the held-out tissue's token; "
                "*tissue-agnostic*: the same model's prediction averaged over the seen tissues' tokens (same rows). "
                "References: the joint model on the seen tissues' test rows, and the single-task model (which never "
                "saw the tissue token at all).", ""]
        out += _table(["task", "held-out tissue", "metric", "tissue-agnostic", "zero-shot", "Δ", "95 % CI (seeds)",
                       "95 % CI (rows)", "verdict", "joint, seen tissues", "single-task zero-shot / agnostic"],
                      [[r["task"], r["tissue"], r["metric"], fmt(r["base"]), fmt(r["other"]), fmt(r["delta"], True),
                        _ci(r["ci"]), _ci((r.get("rows") or {}).get("ci")), say("zero_shot", r), fmt(r["joint_seen"]),
                        f"{fmt(r['single_zero_shot'])} / {fmt(r['single_agnostic'])}"] for r in s["zero_shot"]])
        for r in s["zero_shot"]:
            ch = CHANCE.get(r["metric"])
            if ch is not None and r["base"]["mean"] < ch - NEAR_CHANCE:
                out += ["", f"The tissue-agnostic baseline of {r['task']} × {r['tissue']} is below chance "
                        f"({fmt(r['base'])} against {ch:g}): what is positive in the held-out tissue is mostly "
                        "negative in the seen ones, so beating the baseline is a weaker bar than chance. The "
                        "stricter test is the next table: the joint model against the single-task model, both "
                        "prompted with the held-out token."]
        out += ["", "Joint vs single-task model, both prompted with the held-out tissue's token on the same rows: "
                "what the other tasks taught the model about that token.", ""]
        out += _table(["task", "held-out tissue", "metric", "single-task zero-shot", "joint zero-shot", "Δ",
                       "95 % CI (seeds)", "95 % CI (rows)", "verdict"],
                      [[r["task"], r["tissue"], r["metric"], fmt(v["base"]), fmt(v["other"]), fmt(v["delta"], True),
                        _ci(v["ci"]), _ci((v.get("rows") or {}).get("ci")), say("zero_shot", v)]
                       for r in s["zero_shot"] if (v := r.get("vs_single"))])
    if s["pretrain"]:
        out += ["", f"## Span-corruption pre-training vs none ({cfg['pretrain'].get('steps')} pre-training steps)", "",
                "Both arms are the joint mixture with the same supervised budget; the pre-trained one first trains "
                "on span corruption alone (extra unlabelled compute).", ""]
        out += _table(["task", "metric", "joint", "joint + pretrain", "Δ", "95 % CI", "verdict"],
                      [[r["task"], r["metric"], fmt(r["base"]), fmt(r["other"]), fmt(r["delta"], True), _ci(r["ci"]),
                        say("pretrain", r)] for r in s["pretrain"]])
    out += ["", "## Verdicts", ""]
    rows = [r for k in ("joint_vs_single", "finetune", "zero_shot", "pretrain") for r in s[k]]
    rows += [r[k] for r in s.get("scarcity", []) for k in ("joint_vs_single", "seq_vs_single") if k in r]
    rows += (s.get("pairs") or {}).get("rows", []) + [r["vs_single"] for r in s["zero_shot"] if "vs_single" in r]
    weak = sum(r.get("near_chance", False) for r in rows)
    if weak:
        out += [f"{weak} of {len(rows)} comparisons above have both arms within {NEAR_CHANCE} of chance: the models "
                "barely learned those tasks at this budget, so their verdicts say nothing about transfer.", ""]
    for r in s["joint_vs_single"]:
        out.append(f"- **{r['task']}** ({r['metric']}): joint {fmt(r['other'])} vs single {fmt(r['base'])}, "
                   f"Δ {fmt(r['delta']['mean'], True)} (95 % CI {_ci(r['ci'])}, {r['delta']['n']} seeds) → "
                   f"{say('joint_vs_single', r)}.")
    for r in s["zero_shot"]:
        line = (f"- **{r['task']} zero-shot in {r['tissue']}** ({r['metric']}): {fmt(r['other'])} vs tissue-agnostic "
                f"{fmt(r['base'])}, Δ {fmt(r['delta']['mean'], True)} (seeds {_ci(r['ci'])}, rows "
                f"{_ci((r.get('rows') or {}).get('ci'))}) → {say('zero_shot', r)}")
        if v := r.get("vs_single"):
            line += (f"; vs the single-task model prompted the same way ({fmt(v['base'])}): Δ "
                     f"{fmt(v['delta']['mean'], True)} (seeds {_ci(v['ci'])}, rows "
                     f"{_ci((v.get('rows') or {}).get('ci'))}) → {say('zero_shot', v)}")
        out.append(line + ".")
    for r in s.get("scarcity", []):
        for k, name in (("joint_vs_single", "joint"), ("seq_vs_single", "seq")):
            if r["fraction"] < 1 and k in r:
                c = r[k]
                out.append(f"- **{r['task']} at {r['fraction']:g} of its rows** ({r['train_rows']} rows): {name} "
                           f"{fmt(c['other'])} vs single {fmt(c['base'])}, Δ {fmt(c['delta']['mean'], True)} (seeds "
                           f"{_ci(c['ci'])}, rows {_ci((c.get('rows') or {}).get('ci'))}) → "
                           f"{say('joint_vs_single', c)}.")
    pr = s.get("pairs") or {}
    for r in pr.get("rows", []):
        out.append(f"- **{r['task']} + {r['partner']}** at {r['fraction']:g} of {r['task']}'s rows (expected share "
                   + ("–" if r["expected_share"] is None else f"{r['expected_share']:.2f}") + f"): pair "
                   f"{fmt(r['other'])} vs single {fmt(r['base'])}, Δ {fmt(r['delta']['mean'], True)} (seeds "
                   f"{_ci(r['ci'])}, rows {_ci((r.get('rows') or {}).get('ci'))}) → {say('joint_vs_single', r)}"
                   + (f"; against the {c['partner']} control pair Δ {fmt(c['delta']['mean'], True)} (seeds "
                      f"{_ci(c['ci'])}, rows {_ci((c.get('rows') or {}).get('ci'))}) → {say('joint_vs_single', c)}"
                      if (c := r.get("vs_control")) else "") + ".")
    if pr.get("rows"):
        rho, gains = pr["spearman_expected_vs_measured"], [r for r in pr["rows"] if r["verdict"] == "positive"]
        name = lambda r: f"{r['task']} + {r['partner']}"                                     # noqa: E731
        missed = [r for r in pr["rows"] if r["verdict"] != "positive" and (r["expected_share"] or 0) >= 1]
        if not gains:
            read = ("no pair shows positive transfer, so the matrix does **not** show the known structure at this "
                    "budget (the correlation only ranks the losses).")
        else:
            read = (f"transfer in {', '.join(map(name, gains))}; the matrix "
                    + ("cannot be ranked against the expected share (unknown or constant over these pairs)"
                       if not np.isfinite(rho) else "follows the known structure" if rho >= 0.5 and not missed
                       else "does **not** follow the known structure")
                    + (f" — {', '.join(map(name, missed))} share every factor of the target and do not transfer"
                       if missed else "") + ".")
        out.append(f"- **Pairwise matrix vs the world's shared factors**: Spearman {fmt(rho)} over {pr['n_pairs']} "
                   f"pairs — {read}")
    out += ["", "## Figures", "",
            *([f"![transfer matrix]({FIGURES['matrix']})", "",
               "Transfer matrix. Rows: what the model was trained on (*only T*: the single-task model; *all but T*: "
               "the leave-one-out model before fine-tuning; *all*: joint). Columns: the task evaluated. Left: "
               "headline metric (mean over seeds; blank = the row never trained that task). Right: difference to the "
               "column task's single-task model — the row's transfer into that task; down a column, *all* minus "
               "*all but T* is task T's own contribution to it.", ""] if "matrix" in shown else []),
            *([f"![pairwise transfer]({FIGURES['pairs']})", "",
               "Pairwise transfer at the scarce end: Δ (pair − single) of the target's headline metric per partner, "
               "mean over seeds with the 95 % seed interval (thick) and row interval (thin); the partner's label "
               "gives the expected share of the target's factors.", ""] if "pairs" in shown else []),
            *([f"![learning curves]({FIGURES['curves']})", "",
               "Learning curves on each left-out task: fine-tuned from the leave-one-out model vs from scratch, by "
               "fine-tune steps (mean ± sd over seeds); dashed: the joint model.", ""] if "curves" in shown else []),
            *([f"![data scarcity]({FIGURES['scarcity']})", "",
               "Data scarcity: the target task's headline metric by the fraction of its train rows it trained on "
               "(log scale; mean ± sd over seeds), alone, jointly, and fine-tuned from the other tasks.", ""]
              if "scarcity" in shown else []),
            *([f"![calibration]({FIGURES['calibration']})", "",
               "Calibration of value tokens: the expected value decoded from the value-token distribution vs the "
               "true value, in 10 quantile bins of the prediction (one line per seed); on the diagonal = "
               "calibrated.", ""] if "calibration" in shown else []),
            "All numbers: `results.json` (cells + this summary). Protocol and budget rule: docs/transfer.md."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------- plots
def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_matrix(summary: dict, path: Path) -> None:
    plt = _plt()
    mx = summary["matrix"]
    cols = [f"{c}\n({m})" for c, m in zip(mx["columns"], mx["metrics"])]
    val = np.array([[np.nan if x is None else x for x in r] for r in mx["value"]], dtype=float)
    dl = np.array([[np.nan if x is None else x for x in r] for r in mx["delta"]], dtype=float)
    above = val - np.array([CHANCE.get(m) or 0.0 for m in mx["metrics"]])[None, :]
    fig, axes = plt.subplots(1, 2, figsize=(4 + 2.6 * len(cols), 1.2 + 0.5 * len(mx["rows"])), squeeze=False)
    lim = (np.nanmax(np.abs(dl)) or 1.0) if np.isfinite(dl).any() else 1.0
    a_lo = min(0.0, np.nanmin(above)) if np.isfinite(above).any() else 0.0   # below chance everywhere: a tiny run
    a_hi = np.nanmax(above) if np.isfinite(above).any() else 1.0
    for ax, data, shown, title, cmap, (lo, hi) in (
            (axes[0, 0], above, val, "headline metric (colour: above chance)", "viridis",
             (a_lo, a_hi if a_hi > a_lo else a_lo + 1.0)),
            (axes[0, 1], dl, dl, "Δ vs the column task's single-task model", "RdBu", (-lim, lim))):
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
        ax.set_facecolor("0.9")
        ax.set_xticks(range(len(cols)), cols, fontsize=8)
        ax.set_yticks(range(len(mx["rows"])), mx["rows"], fontsize=8)
        for i in range(shown.shape[0]):
            for j in range(shown.shape[1]):
                if np.isfinite(shown[i, j]):
                    r, g, b, _ = im.cmap(im.norm(data[i, j]))
                    ax.text(j, i, f"{shown[i, j]:+.2f}" if data is dl else f"{shown[i, j]:.2f}", ha="center",
                            va="center", fontsize=7, color="white" if 0.3 * r + 0.6 * g + 0.1 * b < 0.5 else "black")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.04)
    axes[0, 0].set_ylabel("trained on (same examples per task)")
    fig.suptitle("Transfer matrix: rows = training set, columns = evaluated task (test split, mean over seeds)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_curves(results: dict, path: Path) -> None:
    plt = _plt()
    rows = results["summary"]["finetune"]
    fig, axes = plt.subplots(1, max(len(rows), 1), figsize=(4.2 * max(len(rows), 1), 3.4), squeeze=False)
    if not rows:
        axes[0, 0].text(0.5, 0.5, "no leave-one-task-out arm in this run", ha="center", va="center")
        axes[0, 0].axis("off")
    for ax, r in zip(axes[0], rows):
        for key, label, colour in (("other", "fine-tuned from all-but-task", "C0"), ("base", "from scratch", "C1")):
            mean = [p[key]["mean"] for p in r["per_step"]]
            sd = [p[key]["sd"] if np.isfinite(p[key]["sd"]) else 0.0 for p in r["per_step"]]
            ax.errorbar(r["steps"], mean, yerr=sd, marker="o", capsize=3, label=label, color=colour)
        if np.isfinite(r["joint"]["mean"]):
            ax.axhline(r["joint"]["mean"], ls="--", color="0.4", label="joint (full budget)")
        ax.set_xlabel(f"steps on {r['task']} (× {results['cells'][0]['examples_per_step']} examples)")
        ax.set_ylabel(r["metric"])
        ax.set_title(r["task"])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_scarcity(summary: dict, path: Path) -> None:
    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in summary["scarcity"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, t in zip(axes[0], tasks):
        rows = [r for r in summary["scarcity"] if r["task"] == t]
        for k, colour in (("single", "C1"), ("joint", "C0"), ("seq", "C2")):
            pts = [(r["fraction"], r[k]["mean"], r[k]["sd"]) for r in rows if np.isfinite(r[k]["mean"])]
            if pts:
                x, y, e = zip(*pts)
                ax.errorbar(x, y, yerr=np.nan_to_num(e), marker="o", capsize=3, label=k, color=colour)
        ax.set_xscale("log")
        ax.set_xlabel(f"fraction of {t}'s train rows")
        ax.set_ylabel(rows[0]["metric"])
        ax.set_title(t)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def _vs_control(r: dict) -> list[str]:
    c = r.get("vs_control")
    if not c:
        return ["control" if r["expected_share"] == 0 else "–", ""]     # the target's first share-0 partner
    return [f"{fmt(c['delta'], True)} {_ci(c['ci'])} {_ci((c.get('rows') or {}).get('ci'))}",
            say("joint_vs_single", c)]


def plot_pairs(summary: dict, path: Path) -> None:
    """One panel per target: Δ (pair − single) per partner with the seed (thick) and row (thin) intervals."""
    plt = _plt()
    by_target: dict[str, list] = {}
    for r in summary["pairs"]["rows"]:
        by_target.setdefault(r["task"], []).append(r)
    width = 1.6 + 1.4 * max(map(len, by_target.values())) * len(by_target)
    fig, axes = plt.subplots(1, len(by_target), figsize=(width, 3.4), squeeze=False)
    for ax, (t, mine) in zip(axes[0], by_target.items()):
        for i, r in enumerate(mine):
            d = r["delta"]["mean"]
            colour = {"positive": "C2", "negative": "C3"}.get(r["verdict"], "0.5")
            for ci, width in ((r["ci"], 6), ((r.get("rows") or {}).get("ci"), 1.5)):
                if ci and all(x is not None and np.isfinite(x) for x in ci):
                    ax.plot([i, i], ci, color=colour, lw=width, alpha=0.6, solid_capstyle="butt")
            if np.isfinite(d):
                ax.plot(i, d, "o", color=colour)
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(range(len(mine)), [f"+ {r['partner']}\n(share {r['expected_share']:.2f})"
                                         if r["expected_share"] is not None else f"+ {r['partner']}" for r in mine],
                      fontsize=8)
        ax.set_xlim(-0.6, len(mine) - 0.4)
        ax.set_ylabel(f"Δ {mine[0]['metric']} (pair − single)")
        ax.set_title(f"{t} at {mine[0]['fraction']:g} of its rows", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def plot_calibration(results: dict, path: Path) -> None:
    plt = _plt()
    tasks = sorted({t for c in calibration_cells(results) for t in c["calibration"]})
    fig, axes = plt.subplots(1, max(len(tasks), 1), figsize=(3.8 * max(len(tasks), 1), 3.6), squeeze=False)
    if not tasks:
        axes[0, 0].text(0.5, 0.5, "no value-token task in this run", ha="center", va="center")
        axes[0, 0].axis("off")
    for ax, t in zip(axes[0], tasks):
        pts = []
        for arm, colour in (("joint", "C0"), (f"single:{t}", "C1")):
            for k, c in enumerate(c for c in calibration_cells(results) if c["arm"] == arm and t in c["calibration"]):
                cal = c["calibration"][t]
                ax.plot(cal["pred"], cal["true"], "o-", ms=3, lw=1, color=colour, alpha=0.8,
                        label=arm if k == 0 else None)
                pts += cal["pred"] + cal["true"]
        if pts:
            lo, hi = min(pts), max(pts)
            ax.plot([lo, hi], [lo, hi], ":", color="0.3", label="calibrated")
            if lo >= 0 and hi > 50 * (np.median(pts) + 1e-9):
                ax.set_xscale("symlog", linthresh=max(np.percentile(pts, 10), 1e-3))
                ax.set_yscale("symlog", linthresh=max(np.percentile(pts, 10), 1e-3))
        ax.set_xlabel("predicted expected value")
        ax.set_ylabel("true value (bin mean)")
        ax.set_title(t)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def calibration_cells(results: dict) -> list[dict]:
    """The cells the calibration figure draws: the full-data ``joint`` and ``single:T`` arms with calibration
    points (the scarcity, LOTO and fine-tune arms have them too but are not drawn)."""
    return [c for c in results["cells"] if c.get("calibration") and parse_scarce(c["arm"]) is None
            and (c["arm"] == "joint" or c["arm"].startswith("single:"))]


def cell_minutes(results: dict) -> float:
    """Minutes the cells took to train and score (the sum over cells, whichever run computed them)."""
    return sum(sum((c.get("seconds") or {}).values()) for c in results["cells"]) / 60


def figures_of(results: dict) -> set[str]:
    """The figures a run has data for: learning curves need fine-tune arms, calibration a value-token task in the
    full-data arms (what ``plot_calibration`` draws), the scarcity curve two fractions, the matrix a full-data arm."""
    s = results.get("summary") or summarize(results)
    has_matrix = any(x is not None and np.isfinite(x) for r in s["matrix"]["value"] for x in r)
    points = Counter(r["task"] for r in s.get("scarcity", [])      # a scarcity curve needs two fractions
                     if any(np.isfinite(r[k]["mean"]) for k in ("single", "joint", "seq")))
    return ({"matrix"} if has_matrix else set()) | ({"curves"} if s["finetune"] else set()) \
        | ({"scarcity"} if any(n >= 2 for n in points.values()) else set()) \
        | ({"pairs"} if (s.get("pairs") or {}).get("rows") else set()) \
        | ({"calibration"} if calibration_cells(results) else set())


def write_report(results: dict, out_dir) -> Path:
    """``report.md``, the PNGs it has data for (``figures_of``) and ``results.json`` (with ``summary`` added)
    under ``out_dir``."""
    from seq2gen.utils.io import atomic_path, atomic_write
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results["summary"] = summarize(results)
    shown = figures_of(results)
    plots = [(name, fn) for name, fn in (("matrix", lambda p: plot_matrix(results["summary"], p)),
                                          ("curves", lambda p: plot_curves(results, p)),
                                          ("scarcity", lambda p: plot_scarcity(results["summary"], p)),
                                          ("pairs", lambda p: plot_pairs(results["summary"], p)),
                                          ("calibration", lambda p: plot_calibration(results, p))) if name in shown]
    for name, fn in plots:
        with atomic_path(out / FIGURES[name]) as tmp:
            fn(tmp)
    for name in set(FIGURES) - shown:              # an earlier report's figure would sit beside one without it
        (out / FIGURES[name]).unlink(missing_ok=True)
    with atomic_write(out / "results.json") as f:
        json.dump(_jsonable(results), f, indent=1)
    with atomic_write(out / "report.md") as f:
        f.write(markdown(results))
    return out / "report.md"


def _jsonable(x):
    """NaN → null (strict JSON)."""
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x
