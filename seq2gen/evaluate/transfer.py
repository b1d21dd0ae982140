"""Transfer-evaluation protocol (DESIGN §7): does training one model on many tasks help each task?

One world, tokenizer and data build per run (under ``out_dir``), then *cells* — one arm × one seed, each a
``seq2gen.train.train`` run whose export is scored with ``evaluate_model``. Arms: ``single:T``, ``joint``,
``joint+pretrain``, ``loto:T`` → ``finetune:T``; (task, tissue) pairs of ``zero_shot`` are left out of every arm's
train split and scored zero-shot vs a tissue-agnostic baseline. Data scarcity (``scarcity``): the target task T with a
fraction f of its train rows, the other tasks full — ``single:T@f``, ``joint:T@f``, ``seq:T@f`` (the ``loto:T``
model fine-tuned on T's f rows) and, at the smallest f, ``pair:T@f+B`` (T with one other task B: the transfer
matrix). Table of arms, budget rule and report: docs/transfer.md.

**Budget rule: equal examples of each task.** S steps per task and a uniform mixture: every arm sees S × B examples
of each task it trains on, so the single-task model of T and the joint model see the same data of T and differ only
in what they share the model with (equal *total* steps would starve each joint task to 1/n of its data). A constant
learning rate after warm-up makes a run scored at step k a k-step run: single-task runs double as the scratch curve.

Each cell writes ``cells/<arm>__s<seed>.json`` atomically with a key of everything its numbers depend on; a rerun
skips cells whose key matches. ``keep_models: false`` deletes a cell's model folder once nothing needs it.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.evaluate import metrics as M
from seq2gen.evaluate.run import HEADLINE, evaluate_model, evaluate_task, sample_rows
from seq2gen.evaluate.study import (DEFAULT_SCARCE_ARMS, FULL_ARMS, SCARCE_ARMS, TRAIN_DEFAULTS, Cell, cell_hash,
                                   check_study_keys, device, load_cell, parse_scarce, read_study_config,
                                   resolved_preset, resolved_templates, run_cells, scarce_arm)

log = logging.getLogger(__name__)
#: train config keys the protocol sets per cell
OWNED = ("out_dir", "max_steps", "rates", "seed", "pretrain_task", "pretrain_steps", "init_from", "schedule",
         "eval_every", "eval_examples", "save_every", "resume", "stop_at_step", "export_files", "tokenizer", "data")
CALIBRATION_BINS = 10


@dataclass
class TransferConfig:
    tasks: list[str]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    world: dict = field(default_factory=lambda: {"size": 2_000_000, "seed": 0})   # or {dir: an existing world}
    data: dict = field(default_factory=lambda: {"max_per_task": 2000, "seed": 0, "tokenizer": "char"})
    templates: str | None = None             # task_templates folder (default: the repository's)
    steps_per_task: int = 100                # S: optimizer steps per task an arm trains on
    finetune_steps: list[int] = field(default_factory=lambda: [10, 25, 50])
    loto_tasks: list[str] | str = "all"      # tasks that get a leave-one-task-out + fine-tune arm
    zero_shot: dict = field(default_factory=dict)   # {task: [tissue, …]} held out of every arm's train split
    pretrain: dict = field(default_factory=lambda: {"task": "span_corruption", "steps": 0})
    #: {tasks: [T…], fractions: [f…] (< 1; 1 = the single/joint cells), arms: [single, joint, seq, pair]}
    scarcity: dict = field(default_factory=dict)
    #: the full-data arms: ``single:T`` of every task, ``joint``; [] runs the scarcity arms only (e.g. one row of
    #: the pairwise matrix at a budget where the full protocol would not fit)
    full_arms: list[str] = field(default_factory=lambda: list(FULL_ARMS))
    #: paired bootstrap over test rows (on top of the seed interval): replicates, seed; n 0 = off
    bootstrap: dict = field(default_factory=lambda: {"n": 1000, "seed": 0})
    train: dict = field(default_factory=dict)       # train config keys shared by every arm (configs/train)
    eval: dict = field(default_factory=lambda: {"split": "test", "max_examples": 300, "batch_size": 64,
                                                "device": None})    # device None: cuda when available
    keep_models: bool = False
    out_dir: str = "runs/transfer"

    @property
    def loto(self) -> list[str]:
        return list(self.tasks) if self.loto_tasks == "all" else list(self.loto_tasks)

    @property
    def scarce(self) -> list[tuple[str, float]]:
        """(target task, fraction) pairs of the scarcity arms."""
        return [(t, float(f)) for t in self.scarcity.get("tasks", []) for f in self.scarcity.get("fractions", [])]

    @property
    def scarce_arms(self) -> list[str]:
        return list(self.scarcity.get("arms", DEFAULT_SCARCE_ARMS))

    @property
    def pretrain_steps(self) -> int:
        return int(self.pretrain.get("steps") or 0)

    def train_dict(self) -> dict:
        return {**TRAIN_DEFAULTS, **self.train}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_transfer_config(config, overrides: dict | None = None) -> TransferConfig:
    """A ``TransferConfig`` from a YAML path, a preset name (``cpu`` → configs/transfer/cpu.yaml) or a dict."""
    data, where = read_study_config(config, TransferConfig, "transfer")
    data.update(overrides or {})
    check_study_keys(data, TransferConfig, "transfer config", where)
    if "tasks" not in data:
        raise InputError("transfer config needs `tasks:` (the supervised tasks to study)", path=where)
    for key in ("data", "eval", "pretrain", "bootstrap"):     # partial mappings keep the other defaults
        default = getattr(TransferConfig(tasks=[]), key)
        data[key] = {**default, **(data.get(key) or {})}
    cfg = TransferConfig(**data)
    check_config(cfg, where)
    return cfg


def check_config(cfg: TransferConfig, where=None) -> None:
    def bad(msg, hint=None):
        raise InputError(msg, path=where, hint=hint)
    if len(cfg.tasks) < 2 or len(set(cfg.tasks)) != len(cfg.tasks):
        bad(f"tasks must list at least two distinct tasks, got {cfg.tasks}")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        bad(f"seeds must be distinct and not empty, got {cfg.seeds}")
    if cfg.steps_per_task < 1:
        bad(f"steps_per_task must be >= 1, got {cfg.steps_per_task}")
    ft = cfg.finetune_steps
    if not ft or sorted(set(ft)) != list(ft) or ft[0] < 1 or ft[-1] > cfg.steps_per_task:
        bad(f"finetune_steps must increase, from >= 1 to <= steps_per_task ({cfg.steps_per_task}), got {ft}",
            "the single-task runs provide the from-scratch curve, so they must reach every fine-tune step")
    for t in cfg.loto + list(cfg.zero_shot):
        if t not in cfg.tasks:
            bad(f"{t!r} (in loto_tasks or zero_shot) is not one of tasks {cfg.tasks}")
    if set(cfg.full_arms) - set(FULL_ARMS):
        bad(f"full_arms must be among {list(FULL_ARMS)}, got {cfg.full_arms}")
    needs = {"single": ["loto_tasks (their scratch curve)"] * bool(cfg.loto) + ["zero_shot"] * bool(cfg.zero_shot),
             "joint": ["zero_shot"] * bool(cfg.zero_shot) + ["pretrain"] * bool(cfg.pretrain_steps)}
    for arm, users in needs.items():
        if users and arm not in cfg.full_arms:
            bad(f"{' and '.join(users)} need the full-data {arm!r} arm: add it to full_arms or remove them")
    for key in cfg.train:
        if key in OWNED:
            bad(f"train.{key} is set by the protocol per cell", "remove it (schedule is constant: a run scored at "
                "step k must equal a k-step run)" if key == "schedule" else "remove it")
    from seq2gen.train import load_train_config
    from seq2gen.train.config import batch_geometry
    tc = load_train_config({**cfg.train_dict(), "max_steps": cfg.steps_per_task})   # unknown / invalid keys fail now
    try:
        batch_geometry(tc, 1)                                # the batch sizes multiply up (before the world is built)
    except InputError as e:
        bad(f"train: {e}")
    if cfg.pretrain_steps and not cfg.pretrain.get("task"):
        bad("pretrain.steps > 0 needs pretrain.task (a pretrain-family template, e.g. span_corruption)")
    sc = cfg.scarcity
    if sc:
        unknown = sorted(set(sc) - {"tasks", "fractions", "arms"})
        if unknown:
            bad(f"unknown scarcity keys {unknown}", "scarcity: {tasks: [T], fractions: [0.01, 0.1], arms: [single, "
                "joint, seq]}")
        fr = sc.get("fractions") or []
        if not fr or any(isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1 for f in fr):
            bad(f"scarcity.fractions must be fractions in (0, 1), got {fr}", "1.0 is the single/joint cells")
        if not sc.get("tasks") or any(t not in cfg.tasks for t in sc["tasks"]):
            bad(f"scarcity.tasks must be some of tasks {cfg.tasks}, got {sc.get('tasks')}")
        if set(cfg.scarce_arms) - set(SCARCE_ARMS):
            bad(f"scarcity.arms must be among {list(SCARCE_ARMS)}, got {cfg.scarce_arms}")
        if "seq" in cfg.scarce_arms and set(sc["tasks"]) - set(cfg.loto):
            bad(f"the seq arm fine-tunes loto:T: add {sorted(set(sc['tasks']) - set(cfg.loto))} to loto_tasks")
    n = cfg.bootstrap.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        bad(f"bootstrap.n must be a number of replicates >= 0, got {n!r}")


# --------------------------------------------------------------------------------------------------- cells
def plan(cfg: TransferConfig) -> list[Cell]:
    """Every cell, seeds outermost (a partial run has whole seeds); a fine-tune right after its LOTO model, then the
    scarcity arms (``seq:T@f`` after ``loto:T``)."""
    n, S, ft = len(cfg.tasks), cfg.steps_per_task, tuple(cfg.finetune_steps)
    cells = []
    for s in cfg.seeds:
        if "single" in cfg.full_arms:
            cells += [Cell(f"single:{t}", s, (t,), S, curve=ft if t in cfg.loto else ()) for t in cfg.tasks]
        if "joint" in cfg.full_arms:
            cells.append(Cell("joint", s, tuple(cfg.tasks), S * n))
        if cfg.pretrain_steps:
            cells.append(Cell("joint+pretrain", s, tuple(cfg.tasks), S * n, pretrain_steps=cfg.pretrain_steps))
        for t in cfg.loto:
            cells.append(Cell(f"loto:{t}", s, tuple(x for x in cfg.tasks if x != t), S * (n - 1)))
            cells.append(Cell(f"finetune:{t}", s, (t,), ft[-1], init_arm=f"loto:{t}", curve=ft))
        for t, f in cfg.scarce:
            arms = cfg.scarce_arms
            cells += [Cell(scarce_arm("single", t, f), s, (t,), S)] if "single" in arms else []
            cells += [Cell(scarce_arm("joint", t, f), s, tuple(cfg.tasks), S * n)] if "joint" in arms else []
            cells += [Cell(scarce_arm("seq", t, f), s, (t,), S, init_arm=f"loto:{t}")] if "seq" in arms else []
            if "pair" in arms and f == min(cfg.scarcity["fractions"]):     # the measured transfer matrix
                cells += [Cell(f"{scarce_arm('pair', t, f)}+{b}", s, (t, b), 2 * S) for b in cfg.tasks if b != t]
    return cells


def cell_key(cfg: TransferConfig, cell: Cell) -> str:
    """Hash of everything a cell's numbers depend on (seeds, loto_tasks and the tasks it trains on only through the
    cell itself). Not the config's task list: a task's rows are seeded by its name (``data.build.task_seed``), so
    ``pair:T@f+B`` computes the same in any config that lists T and B — one preset can reuse another's cells."""
    shared = {k: getattr(cfg, k) for k in ("world", "data", "templates", "zero_shot", "eval")}
    if cfg.bootstrap.get("n"):
        shared["rows"] = True                 # the cell keeps its per-row test predictions
    shared["train"] = cfg.train_dict()
    shared["preset"] = resolved_preset(shared["train"]["model"])
    shared["task_templates"] = resolved_templates(cfg.templates, cell.tasks)
    return cell_hash(shared, cell, cfg.pretrain)


# --------------------------------------------------------------------------------------------------- environment
@dataclass
class Env:
    """What every cell shares: paths, tokenizer, datasets, the evaluation views and the world's tissues."""
    cfg: TransferConfig
    out: Path
    tokenizer: object
    data_dir: Path
    datasets: dict
    views: dict
    tissues: list[str]

    def run_dir(self, arm: str, seed: int) -> Path:
        return self.out / "runs" / Cell(arm, seed, (), 0).name

    def cell_path(self, cell: Cell) -> Path:
        return self.out / "cells" / f"{cell.name}.json"


def prepare(cfg: TransferConfig, out: Path, progress: bool = True) -> Env:
    """World (generated once under ``out/world`` unless ``world.dir`` is given), tokenizer and one data build."""
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.tasks.registry import DEFAULT_TEMPLATES_DIR
    from seq2gen.vocab import build_tokenizer
    from seq2gen.world import generate_world
    world_dir = Path(cfg.world["dir"]) if "dir" in cfg.world else out / "world"
    if "dir" not in cfg.world and not (world_dir / "world.json").is_file():
        generate_world(world_dir, progress=False, **cfg.world)          # deterministic: once per out_dir
    if not (world_dir / "world.json").is_file():
        raise InputError("not a world folder (no world.json)", path=world_dir, hint="seq2gen world --out DIR")
    manifest = json.loads((world_dir / "world.json").read_text())
    stale = [k for k in ("size", "seed") if k in cfg.world and manifest.get(k) != cfg.world[k]]
    if stale:
        raise InputError(f"{world_dir} holds a world with other {stale}", hint="use a new out_dir")
    tok = build_tokenizer(mode=cfg.data.get("tokenizer", "char"), k=cfg.data.get("k"))
    reg = TaskRegistry.from_dir(cfg.templates or DEFAULT_TEMPLATES_DIR, vocab=tok.vocab)
    names = list(cfg.tasks) + ([cfg.pretrain["task"]] if cfg.pretrain_steps else [])
    reg = reg.subset(names)
    for t, held in cfg.zero_shot.items():
        if not reg.get(t).tissue_conditioned:
            raise InputError(f"zero_shot.{t}: task {t!r} is not tissue-conditioned")
        reg.override(t, holdout_tissues=list(held))
        reg.get(t).resolve_tissues(manifest["tissues"])      # unknown tissue names fail here
    data_dir = out / "data"
    datasets = build_datasets(world_dir, reg, tok, data_dir, max_per_task=cfg.data.get("max_per_task"),
                              seed=cfg.data.get("seed", 0), progress=progress)
    return Env(cfg, out, tok, data_dir, datasets, eval_views(datasets, cfg.zero_shot, cfg.eval["split"]),
               manifest["tissues"])


def eval_views(datasets: dict, zero_shot: dict, split: str) -> dict:
    """Per task ``{split: rows of seen tissues, "zero_shot": rows of held-out tissues}`` (the latter when held)."""
    views = {}
    for t, dd in datasets.items():
        rows = dd[split]
        held = zero_shot.get(t)
        if not held:
            views[t] = {split: rows}
            continue
        mask = np.isin(np.asarray(rows["tissue"]), held)
        views[t] = {split: rows.select(np.flatnonzero(~mask)), "zero_shot": rows.select(np.flatnonzero(mask))}
    return views


# --------------------------------------------------------------------------------------------------- scoring
def headline_scores(result: dict) -> dict:
    """``{task: headline metric value}`` of an ``evaluate_model`` result."""
    return {t: float(r.get(HEADLINE[r["family"]], math.nan)) for t, r in result.items()}


def calibration(target, prediction, n_bins: int = CALIBRATION_BINS) -> dict:
    """Mean prediction and mean truth in quantile bins of the prediction (the calibration plot's points)."""
    y, p = np.asarray(target, dtype=np.float64).ravel(), np.asarray(prediction, dtype=np.float64).ravel()
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if p.size == 0:
        return {"pred": [], "true": [], "n": []}
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    keep = [b for b in range(max(len(edges) - 1, 1)) if (which == b).any()]
    return {"pred": [float(p[which == b].mean()) for b in keep], "true": [float(y[which == b].mean()) for b in keep],
            "n": [int((which == b).sum()) for b in keep]}


def swap_tissue(rows, tokenizer, old: str, new: str) -> dict:
    """The rows' prompts with the tissue token ``old`` replaced by ``new`` (what ``evaluate_task`` reads); a target
    naming ``old`` (tf_binding's "bound in brain") names ``new``, so each row keeps its label."""
    voc = tokenizer.vocab
    (ta, a), (tb, b) = ((voc.tissue_token(t), tokenizer.token_to_id[voc.tissue_token(t)]) for t in (old, new))
    ids = [np.where(np.asarray(r) == a, b, np.asarray(r)) for r in rows["input_ids"]]
    return {"input_ids": ids, "target": [tb if t == ta else t for t in rows["target"]]}


def zero_shot_scores(m, env: Env, task_name: str) -> dict:
    """Per held-out tissue: metrics with its own token (zero-shot) and with the mean prediction over the seen
    tissues' tokens (tissue-agnostic baseline), on the same rows."""
    ev = env.cfg.eval
    task = m.registry.get(task_name)
    rows = env.views[task_name]["zero_shot"]
    rows = rows.select(sample_rows(rows, ev.get("max_examples"), seed=0))
    held = env.cfg.zero_shot[task_name]
    seen = [t for t in task.resolve_tissues(env.tissues) if t not in held]
    out = {}
    for tissue in held:
        sub = rows.select(np.flatnonzero(np.asarray(rows["tissue"]) == tissue))
        if len(sub) < 3:
            continue
        direct, arrays = evaluate_task(m, task, sub, ev.get("batch_size"))
        preds = [evaluate_task(m, task, swap_tissue(sub, env.tokenizer, tissue, s), ev.get("batch_size"))[1]
                 ["prediction"] for s in seen]
        agnostic = M.FAMILY_METRICS[task.family](arrays["target"], np.mean(preds, axis=0))
        out[tissue] = {"zero_shot": direct, "agnostic": agnostic, "seen_tissues": seen}
        if env.cfg.bootstrap.get("n") and task.family in ROW_FAMILIES:       # for the paired row bootstrap
            out[tissue]["rows"] = row_arrays(target=arrays["target"], zero_shot=arrays["prediction"],
                                             agnostic=np.mean(preds, axis=0))
    return out


ROW_FAMILIES = ("classification", "regression", "variant", "track")   # per-row predictions the bootstrap can resample


def row_arrays(**arrays) -> dict:
    """Per-row test arrays as a cell stores them for the row bootstrap (JSON lists, 5 decimals)."""
    return {k: np.round(np.asarray(v, dtype=np.float64), 5).tolist() for k, v in arrays.items()}


def score_model(m, env: Env, tasks) -> dict:
    """Scores, calibration points (value tasks), zero-shot results and (``bootstrap.n`` > 0) the per-row test
    predictions of a model on ``tasks``."""
    ev = env.cfg.eval
    res = evaluate_model(m, env.views, split=ev["split"], tasks=tasks, max_examples=ev.get("max_examples"),
                         seed=0, batch_size=ev.get("batch_size"), keep_predictions=True)
    out = {"scores": {}, "calibration": {}, "zero_shot": {}}
    keep_rows = bool(env.cfg.bootstrap.get("n"))
    if keep_rows:
        out["rows"] = {}
    for t, r in res.items():
        arrays = r.pop("_arrays")
        out["scores"][t] = r
        if keep_rows and r["family"] in ROW_FAMILIES:
            out["rows"][t] = row_arrays(**arrays)
        if r["family"] in ("regression", "variant", "track"):
            out["calibration"][t] = calibration(arrays["target"], arrays["prediction"])
    for t in tasks:
        if t in env.cfg.zero_shot:
            out["zero_shot"][t] = zero_shot_scores(m, env, t)
    return out


# --------------------------------------------------------------------------------------------------- one cell
def train_config(env: Env, cell: Cell) -> dict:
    cfg = env.cfg
    tc = {**cfg.train_dict(), "out_dir": str(env.run_dir(cell.arm, cell.seed)), "max_steps": cell.steps,
          "rates": "uniform", "seed": int(cell.seed), "schedule": "constant", "eval_examples": 0, "save_every": 0,
          "eval_every": math.gcd(*cell.curve) if cell.curve else 0,
          "export_files": [str(env.data_dir / "quantizers.json"), str(env.data_dir / "tasks.json")]}
    tc["warmup_steps"] = min(tc.get("warmup_steps", 0), cell.steps + cell.pretrain_steps)
    if cell.pretrain_steps:
        tc.update(pretrain_task=cfg.pretrain["task"], pretrain_steps=cell.pretrain_steps)
    if cell.init_arm:
        tc["init_from"] = str(env.run_dir(cell.init_arm, cell.seed) / "model")
    return tc


def run_cell(env: Env, cell: Cell) -> dict:
    """Train one cell, score its export, return the JSON-able result (the caller writes it)."""
    from seq2gen.infer import Seq2Gen
    from seq2gen.tasks import TaskRegistry
    from seq2gen.train import train
    from seq2gen.vocab import load_quantizers
    ev = env.cfg.eval
    run_dir = env.run_dir(cell.arm, cell.seed)
    shutil.rmtree(run_dir, ignore_errors=True)          # an interrupted earlier attempt starts over
    train_data = {t: env.datasets[t] for t in cell.tasks}
    scarce = parse_scarce(cell.arm)
    if scarce:
        train_data[scarce[1]] = scarce_split(env.datasets[scarce[1]], scarce[2], env.cfg.data.get("seed", 0))
    if cell.pretrain_steps:
        train_data[env.cfg.pretrain["task"]] = env.datasets[env.cfg.pretrain["task"]]
    registry = TaskRegistry.from_json(env.data_dir / "tasks.json", vocab=env.tokenizer.vocab)
    quantizers = load_quantizers(env.data_dir / "quantizers.json")
    curve: dict[int, dict] = {}

    def eval_fn(model, step):         # the learning curve, scored on the in-memory model
        if step not in cell.curve or step == cell.steps:
            return {}
        m = Seq2Gen(model, env.tokenizer, quantizers, registry, batch_size=ev.get("batch_size") or 32)
        curve[step] = evaluate_model(m, env.views, split=ev["split"], tasks=cell.tasks[:1],
                                     max_examples=ev.get("max_examples"), seed=0,
                                     batch_size=ev.get("batch_size"))[cell.tasks[0]]
        return {f"curve/{k}": v for k, v in headline_scores({cell.tasks[0]: curve[step]}).items()}

    t0 = time.perf_counter()
    result = train(train_config(env, cell), datasets=train_data, tokenizer=env.tokenizer,
                   eval_fn=eval_fn if cell.curve else None)
    t1 = time.perf_counter()
    m = Seq2Gen.from_pretrained(result["export_dir"], device=ev.get("device") or device(),
                                batch_size=ev.get("batch_size") or 32)
    out = {"arm": cell.arm, "seed": cell.seed, "trained_on": list(cell.tasks), "steps": cell.steps,
           "pretrain_steps": cell.pretrain_steps, "examples_per_step": _global_batch(env.cfg),
           **score_model(m, env, [scarce[1]] if scarce else list(cell.tasks))}
    if scarce:
        out["train_rows"] = len(train_data[scarce[1]]["train"])
    if cell.curve:
        task = cell.tasks[0]
        curve[cell.steps] = out["scores"][task]
        out["curve"] = {"task": task, "steps": list(cell.curve), "scores": [curve[k] for k in cell.curve]}
    out["seconds"] = {"train": round(t1 - t0, 2), "score": round(time.perf_counter() - t1, 2)}
    return out


def scarce_split(dd, fraction: float, seed: int):
    """``dd`` with its train split cut to ``fraction`` of the rows (at least one): a seeded draw that depends on the
    data seed only, so every arm and model seed of a scarcity cell trains on the same rows."""
    from datasets import DatasetDict
    n = len(dd["train"])
    k = max(1, int(round(fraction * n)))
    idx = np.sort(np.random.default_rng([seed, 7919]).choice(n, k, replace=False))
    return DatasetDict({**dict(dd), "train": dd["train"].select(idx)})


def _global_batch(cfg: TransferConfig) -> int:
    t = cfg.train_dict()
    return int(t.get("global_batch_size") or t["micro_batch_size"] * (t.get("grad_accum") or 1))


# --------------------------------------------------------------------------------------------------- the protocol
def run_transfer(config, out_dir=None, resume: bool = True, progress: bool = True) -> dict:
    """Run (or finish) the protocol; returns the results dict also written to ``out_dir/results.json`` with the
    report (``report.md`` + PNGs). ``config``: a ``configs/transfer`` YAML path, preset name, dict or
    ``TransferConfig``; ``resume=False`` recomputes every cell."""
    from seq2gen.evaluate.report import write_report
    cfg = load_transfer_config(config)
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env = prepare(cfg, out, progress)
    cells = plan(cfg)
    needed_by: dict[str, list[Cell]] = {}
    for c in cells:
        if c.init_arm and c.seed == cells[0].seed:
            needed_by.setdefault(c.init_arm, []).append(c)

    def compute(cell):
        if cell.init_arm and not (env.run_dir(cell.init_arm, cell.seed) / "model").is_dir():
            _recompute_parent(env, cells, cell)
        return run_cell(env, cell)

    def after(i, cell, results, computed):
        if not cfg.keep_models:
            _drop_models(env, cell, needed_by, resume)

    results, computed = run_cells(cells, desc="transfer", progress=progress, resume=resume, path_of=env.cell_path,
                                  key_of=lambda c: cell_key(cfg, c), compute=compute, after=after)
    doc = {"format_version": 1, "config": cfg.to_dict(), "cells": results, "computed_cells": computed,
           "seconds": round(time.perf_counter() - started, 1)}
    write_report(doc, out)
    return doc


def _recompute_parent(env: Env, cells: list[Cell], cell: Cell) -> None:
    """A fine-tune needs its LOTO model; retrain it when ``keep_models: false`` already removed it."""
    parent = next(c for c in cells if c.arm == cell.init_arm and c.seed == cell.seed)
    log.info("%s: its start model %s was deleted; retraining it", cell.name, parent.name)
    run_cell(env, parent)


def _drop_models(env: Env, cell: Cell, needed_by: dict, resume: bool) -> None:
    """Delete a cell's model folder unless a later cell starts from it (``finetune:T``, ``seq:T@f``); a start model
    goes once every cell that starts from it has its result."""
    def done(arm):
        children = [dataclasses.replace(c, seed=cell.seed) for c in needed_by.get(arm, [])]
        return all(load_cell(env.cell_path(c), cell_key(env.cfg, c)) for c in children)
    if cell.arm not in needed_by or (resume and done(cell.arm)):
        shutil.rmtree(env.run_dir(cell.arm, cell.seed) / "model", ignore_errors=True)
    if cell.init_arm and done(cell.init_arm):
        shutil.rmtree(env.run_dir(cell.init_arm, cell.seed) / "model", ignore_errors=True)
