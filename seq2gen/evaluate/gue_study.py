"""The GUE real-data transfer study as one command (docs/gue.md, "Study"): does one T5 trained on several real GUE
tasks beat one T5 per task, does pre-training help, and where does a CNN baseline stand?

Arms, each run once per seed (a *cell*), all with the **same budget: S × B examples of every evaluated task**
(S = ``steps_per_task``, B = global batch; uniform mixtures, so the joint model of n tasks runs S × n steps):

==================  ===========================================================================================
``single:T``        the T5 on task T alone, S steps
``joint``           the T5 on every task of the study, S × n steps
``joint+pretrain``  ``pretrain.steps`` of span corruption on the GUE train splits (``gue_span_corruption``), then joint
``world``           the T5 on the synthetic world's tasks (``world_pretrain``; or an export given as its ``model``)
``joint+world``     joint, starting from the ``world`` cell's weights (``init_from``; the vocabulary is shared)
``cnn:T``           the Basset-style CNN (``seq2gen.baselines.cnn``) on the T5's own rows of T (``table_splits(T)``
                    after the build's cap), S × B examples (``cnn.budget: examples``) or the wall time of the same
                    seed's ``single:T`` cell (``cnn.budget: time``); its last weights (``cnn.select: last``, the T5's
                    rule) or its best validation AUROC (``best``)
``kmer_lr:T``       k-mer counts → logistic regression (``seq2gen.baselines.kmer``) on every train row of T
                    (seconds: less CPU time than any T5 cell), fixed ``kmer_lr: {k, C}``
``ARM@V``           ``single:T`` / ``joint`` with tokenization variant V (``tokenization.variants``)
==================  ===========================================================================================

Every arm is scored on the same test rows (GUE's dev split, deduplicated; ``eval.max_examples`` draws a seeded
sample, the same rows for the CNN). Cells are written atomically to ``out_dir/cells/<cell>.json`` with a key of
everything their numbers depend on; a rerun skips finished cells. The report (``report.md``, ``gue_auroc_mcc.png``,
``results.json``) is rebuilt from the cells: ``seq2gen.evaluate.gue_report``.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from seq2gen.errors import InputError
from seq2gen.evaluate.gue_report import BASELINES
from seq2gen.evaluate.study import (TRAIN_DEFAULTS, Cell, cell_hash, check_study_keys, device, load_cell,
                                   read_study_config, resolved_preset, resolved_templates, run_cells)
from seq2gen.resources import data_root

log = logging.getLogger(__name__)
REPO = data_root()   # relative config paths (configs/…, task_templates/…) start here
ARMS = ("single", "joint", "joint+pretrain", "joint+world", "cnn", "kmer_lr")
#: train config keys the study sets per cell (the model comes from ``model:``)
OWNED = ("model", "out_dir", "max_steps", "rates", "seed", "pretrain_task", "pretrain_steps", "init_from",
         "eval_every", "eval_examples", "save_every", "resume", "stop_at_step", "export_files", "tokenizer", "data")


@dataclass
class GueStudyConfig:
    tasks: list[str]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    templates: str = "task_templates/gue"    # relative paths start at the repository
    model: dict = field(default_factory=lambda: {"preset": "tiny", "tokenizer": "char", "k": None})
    data: dict = field(default_factory=lambda: {"seed": 0, "max_per_task": None, "data_root": None})
    steps_per_task: int = 100                # S
    arms: list[str] = field(default_factory=lambda: list(ARMS))
    pretrain: dict = field(default_factory=lambda: {"task": "gue_span_corruption", "steps": 100})
    world_pretrain: dict = field(default_factory=lambda: {
        "steps": 200, "world": {"size": 2_000_000, "seed": 0}, "tasks": ["promoter", "tf_binding", "chromatin",
                                                                         "expression"],
        "max_per_task": 2000, "eval_examples": 200, "model": None})
    cnn: dict = field(default_factory=lambda: {"budget": "examples", "batch_size": 64, "lr": 2e-3,
                                               "warmup_steps": 20, "model": {}, "select": "last"})
    kmer_lr: dict = field(default_factory=lambda: {"k": 6, "C": 1.0})
    tokenization: Optional[dict] = None      # {variants: {name: {preset, tokenizer, k}}, arms: [single, joint]}
    train: dict = field(default_factory=dict)
    eval: dict = field(default_factory=lambda: {"split": "test", "max_examples": None, "batch_size": 64,
                                                "device": None})
    keep_models: bool = False
    out_dir: str = "runs/gue_study"

    @property
    def variants(self) -> dict:
        return dict((self.tokenization or {}).get("variants") or {})

    @property
    def variant_arms(self) -> list[str]:
        return list((self.tokenization or {}).get("arms") or ["single", "joint"])

    def spec(self, variant: str = "") -> dict:
        """Model preset + tokenizer of the main model (``""``) or a tokenization variant."""
        return {**self.model, **(self.variants[variant] if variant else {})}

    def train_dict(self) -> dict:
        return {**TRAIN_DEFAULTS, **self.train}

    @property
    def global_batch(self) -> int:
        t = self.train_dict()
        return int(t.get("global_batch_size") or t["micro_batch_size"] * (t.get("grad_accum") or 1))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(config, overrides: dict | None = None) -> GueStudyConfig:
    """A ``GueStudyConfig`` from a YAML path, a preset name (``gue_cpu`` → configs/transfer/gue_cpu.yaml), a dict
    or a config; ``overrides`` replace top-level keys (a mapping updates the preset's mapping); mappings the
    config leaves out keep their defaults."""
    data, where = read_study_config(config, GueStudyConfig, "GUE study", gue=True)
    for key, value in copy.deepcopy(overrides or {}).items():     # a mapping updates the preset's mapping
        both = isinstance(value, dict) and isinstance(data.get(key), dict)
        data[key] = {**data[key], **value} if both else value
    check_study_keys(data, GueStudyConfig, "GUE study", where)
    if "tasks" not in data:
        raise InputError("the study needs `tasks:` (GUE task names, e.g. gue_tf_0)", path=where)
    default = GueStudyConfig(tasks=[])
    for key in ("model", "data", "pretrain", "world_pretrain", "cnn", "kmer_lr", "eval"):
        data[key] = {**getattr(default, key), **(data.get(key) or {})}
    cfg = GueStudyConfig(**data)
    _check(cfg, where)
    return cfg


def _check(cfg: GueStudyConfig, where) -> None:
    def bad(msg, hint=None):
        raise InputError(msg, path=where, hint=hint)
    if not cfg.tasks or len(set(cfg.tasks)) != len(cfg.tasks):
        bad(f"tasks must be distinct and not empty, got {cfg.tasks}")
    if not cfg.seeds or len(set(cfg.seeds)) != len(cfg.seeds):
        bad(f"seeds must be distinct and not empty, got {cfg.seeds}")
    if cfg.steps_per_task < 1:
        bad(f"steps_per_task must be >= 1, got {cfg.steps_per_task}")
    unknown = [a for a in cfg.arms if a not in ARMS]
    if unknown:
        bad(f"unknown arms {unknown}", f"arms: {', '.join(ARMS)}")
    if cfg.data.get("max_per_task") is not None:
        log.warning("data.max_per_task caps validation/test too: smoke runs only (docs/gue.md)")
    for key in cfg.train:
        if key in OWNED:
            bad(f"train.{key} is set by the study per cell", "the model preset goes in model.preset")
    if cfg.cnn["budget"] not in ("examples", "time"):
        bad(f"cnn.budget must be examples or time, got {cfg.cnn['budget']!r}")
    if cfg.cnn["select"] not in ("best", "last"):
        bad(f"cnn.select must be best or last, got {cfg.cnn['select']!r}",
            "last: the final weights, like every T5 arm (the fair rule); best: the best validation AUROC")
    if set(cfg.kmer_lr) - {"k", "C"}:
        bad(f"unknown kmer_lr keys {sorted(set(cfg.kmer_lr) - {'k', 'C'})}", "kmer_lr: {k: 6, C: 1.0}")
    if cfg.cnn["budget"] == "time" and "single" not in cfg.arms:
        bad("cnn.budget: time copies the single-task cells' wall time: keep the single arm")
    if cfg.variants and not set(cfg.variant_arms) <= {"single", "joint"}:
        bad(f"tokenization.arms must be single and/or joint, got {cfg.variant_arms}")
    from seq2gen.train import load_train_config
    t = cfg.train_dict()                  # unknown / invalid keys fail now (cells clip the warm-up to their steps)
    load_train_config({**t, "model": cfg.model["preset"], "max_steps": cfg.steps_per_task,
                       "warmup_steps": min(t.get("warmup_steps", 0), cfg.steps_per_task)})


# --------------------------------------------------------------------------------------------------- cells
def parse_arm(arm: str) -> tuple[str, str, str]:
    """``"single:gue_tf_0@kmer"`` → ``("single", "gue_tf_0", "kmer")``."""
    base, _, variant = arm.partition("@")
    kind, _, task = base.partition(":")
    return kind, task, variant


def plan(cfg: GueStudyConfig) -> list[Cell]:
    """Every cell, seeds outermost; a CNN after the single-task cell it may copy the time of, ``world`` before
    ``joint+world``."""
    S, tasks, arms = cfg.steps_per_task, tuple(cfg.tasks), cfg.arms
    joint = S * len(tasks)
    cells = []
    for s in cfg.seeds:
        for t in tasks:
            cells += [Cell(f"single:{t}", s, (t,), S)] if "single" in arms else []
            cells += [Cell(f"cnn:{t}", s, (t,), S)] if "cnn" in arms else []
            cells += [Cell(f"kmer_lr:{t}", s, (t,), S)] if "kmer_lr" in arms else []
        cells += [Cell("joint", s, tasks, joint)] if "joint" in arms else []
        if "joint+pretrain" in arms:
            cells.append(Cell("joint+pretrain", s, tasks, joint, pretrain_steps=int(cfg.pretrain["steps"])))
        if "joint+world" in arms:
            if not cfg.world_pretrain.get("model"):
                cells.append(Cell("world", s, tuple(cfg.world_pretrain["tasks"]), int(cfg.world_pretrain["steps"])))
            cells.append(Cell("joint+world", s, tasks, joint, init_arm="world"))
        for v in cfg.variants:
            cells += [Cell(f"single:{t}@{v}", s, (t,), S) for t in tasks] if "single" in cfg.variant_arms else []
            cells += [Cell(f"joint@{v}", s, tasks, joint)] if "joint" in cfg.variant_arms else []
    return cells


def cell_key(cfg: GueStudyConfig, cell: Cell) -> str:
    """Hash of everything a cell's numbers depend on (a single-task cell not on the other tasks, a CNN not on the
    T5's settings beyond its budget)."""
    kind, _, variant = parse_arm(cell.arm)
    shared = {"data": cfg.data, "templates": cfg.templates, "eval": cfg.eval}
    if kind == "cnn":
        shared.update(cnn=cfg.cnn, examples=cfg.steps_per_task * cfg.global_batch,
                      single=cell_key(cfg, Cell(f"single:{cell.tasks[0]}", cell.seed, cell.tasks, cell.steps))
                      if cfg.cnn["budget"] == "time" else None)
    elif kind == "kmer_lr":
        shared.update(kmer_lr=cfg.kmer_lr)
    else:
        spec = cfg.spec(variant)
        shared.update(model=spec, train=cfg.train_dict(), preset=resolved_preset(spec["preset"]))
    if kind in ("world", "joint+world"):
        shared["world_pretrain"] = cfg.world_pretrain
        shared["world_templates"] = resolved_templates(None, cfg.world_pretrain.get("tasks", ()))
    shared["task_templates"] = resolved_templates(_repo_path(cfg.templates), cell.tasks)
    return cell_hash(shared, cell, cfg.pretrain)


# --------------------------------------------------------------------------------------------------- data
@dataclass
class Build:
    tokenizer: object
    data_dir: Path
    datasets: dict


class Env:
    """Paths and the data builds every cell shares (each built once, on first use, cached by config hash)."""

    def __init__(self, cfg: GueStudyConfig, out: Path, progress: bool):
        self.cfg, self.out, self.progress = cfg, out, progress
        self._builds: dict[str, Build] = {}

    def run_dir(self, arm: str, seed: int) -> Path:
        return self.out / "runs" / Cell(arm, seed, (), 0).name

    def cell_path(self, cell: Cell) -> Path:
        return self.out / "cells" / f"{cell.name}.json"

    def tokenizer(self, variant: str = ""):
        from seq2gen.vocab import build_tokenizer
        spec = self.cfg.spec(variant)
        return build_tokenizer(mode=spec.get("tokenizer", "char"), k=spec.get("k"))

    def gue(self, variant: str = "") -> Build:
        """The study's GUE tasks (+ the span-corruption task for the main model) rendered with ``variant``'s
        tokenizer under ``out/data/<variant or main>``."""
        if variant not in self._builds:
            from seq2gen.data import build_datasets
            from seq2gen.tasks import TaskRegistry
            cfg, tok = self.cfg, self.tokenizer(variant)
            names = list(cfg.tasks) + ([cfg.pretrain["task"]] if "joint+pretrain" in cfg.arms and not variant
                                       else [])
            reg = TaskRegistry.from_dir(_repo_path(cfg.templates), vocab=tok.vocab).subset(names)
            d = self.out / "data" / (variant or "main")
            ds = build_datasets(None, reg, tok, d, max_per_task=cfg.data.get("max_per_task"),
                                seed=cfg.data.get("seed", 0), progress=self.progress,
                                data_root=cfg.data.get("data_root"))
            self._builds[variant] = Build(tok, d, ds)
        return self._builds[variant]

    def world(self) -> Build:
        """The synthetic world (generated under ``out/world`` unless ``world_pretrain.world.dir``) and its tasks,
        rendered with the main tokenizer."""
        if "<world>" not in self._builds:
            from seq2gen.data import build_datasets
            from seq2gen.tasks import TaskRegistry
            from seq2gen.world import generate_world
            wp, tok = self.cfg.world_pretrain, self.tokenizer()
            spec = dict(wp["world"])
            world_dir = Path(spec["dir"]) if "dir" in spec else self.out / "world"
            if "dir" not in spec and not (world_dir / "world.json").is_file():
                generate_world(world_dir, progress=False, **spec)
            reg = TaskRegistry.from_dir(vocab=tok.vocab).subset(list(wp["tasks"]))
            d = self.out / "data" / "world"
            ds = build_datasets(world_dir, reg, tok, d, max_per_task=wp.get("max_per_task"),
                                seed=self.cfg.data.get("seed", 0), progress=self.progress)
            self._builds["<world>"] = Build(tok, d, ds)
        return self._builds["<world>"]


def _repo_path(p) -> Path:
    p = Path(p)
    return p if p.is_absolute() or p.exists() else REPO / p


# --------------------------------------------------------------------------------------------------- one cell
def run_t5(env: Env, cell: Cell) -> dict:
    """Train one T5 cell, score its export on its tasks' test rows."""
    from seq2gen.evaluate.run import evaluate_model
    from seq2gen.infer import Seq2Gen
    from seq2gen.train import train
    cfg, ev = env.cfg, env.cfg.eval
    kind, _, variant = parse_arm(cell.arm)
    b = env.world() if kind == "world" else env.gue(variant)
    run_dir = env.run_dir(cell.arm, cell.seed)
    shutil.rmtree(run_dir, ignore_errors=True)            # an interrupted earlier attempt starts over
    data = {t: b.datasets[t] for t in cell.tasks}
    tc = {**cfg.train_dict(), "model": cfg.spec(variant)["preset"], "out_dir": str(run_dir),
          "max_steps": cell.steps, "rates": "uniform", "seed": int(cell.seed), "eval_examples": 0, "eval_every": 0,
          "save_every": 0, "export_files": [str(b.data_dir / "quantizers.json"), str(b.data_dir / "tasks.json")]}
    tc["warmup_steps"] = min(tc.get("warmup_steps", 0), cell.steps + cell.pretrain_steps)
    if cell.pretrain_steps:
        tc.update(pretrain_task=cfg.pretrain["task"], pretrain_steps=cell.pretrain_steps)
        data[cfg.pretrain["task"]] = b.datasets[cfg.pretrain["task"]]
    if cell.init_arm:
        tc["init_from"] = str(world_model(env, cell.seed))
    t0 = time.perf_counter()
    result = train(tc, datasets=data, tokenizer=b.tokenizer)
    t1 = time.perf_counter()
    m = Seq2Gen.from_pretrained(result["export_dir"], device=ev.get("device") or device(),
                                batch_size=ev.get("batch_size") or 32)
    n_eval = cfg.world_pretrain.get("eval_examples") if kind == "world" else ev.get("max_examples")
    scores = evaluate_model(m, b.datasets, split=ev["split"], tasks=list(cell.tasks), max_examples=n_eval, seed=0,
                            batch_size=ev.get("batch_size"))
    return {"scores": scores, "examples_per_step": cfg.global_batch,
            "seconds": {"train": round(t1 - t0, 2), "score": round(time.perf_counter() - t1, 2)}}


def world_model(env: Env, seed: int) -> Path:
    """The export ``joint+world`` starts from: ``world_pretrain.model``, or the ``world`` cell's model (retrained
    when ``keep_models: false`` already removed it)."""
    given = env.cfg.world_pretrain.get("model")
    if given:
        return Path(given)
    path = env.run_dir("world", seed) / "model"
    if not (path / "config.json").is_file():
        log.info("world model of seed %d missing; retraining it", seed)
        run_t5(env, next(c for c in plan(env.cfg) if c.arm == "world" and c.seed == seed))
    return path


def baseline_rows(env: Env, task_name: str) -> tuple[dict, int, bool]:
    """The T5's own rows of a table task for a baseline — ``table_splits(task)`` after the build's cap, via the
    build's ``sample_records`` — as ``{split: DataFrame(name, sequence, label)}`` with the file's class labels
    (0..C-1), the number of classes, and whether the template augments with reverse complements (then so does the
    baseline)."""
    import pandas as pd
    from seq2gen.data.build import sample_records
    from seq2gen.tasks import TaskRegistry
    from seq2gen.tasks.seqtable import params_of
    cfg, b = env.cfg, env.gue()
    task = TaskRegistry.from_json(b.data_dir / "tasks.json", vocab=b.tokenizer.vocab).get(task_name)
    label_of = {v: int(k) for k, v in params_of(task)["labels"].items()}
    recs = sample_records(None, task, cfg.data.get("seed", 0), cfg.data.get("max_per_task"),
                          data_root=cfg.data.get("data_root"), vocab=b.tokenizer.vocab)
    frames = {split: pd.DataFrame({"name": [r["name"] for r in rows], "sequence": [r["dna"] for r in rows],
                                   "label": [label_of[r["label"]] for r in rows]}) for split, rows in recs.items()}
    return frames, len(label_of), task.rc_fraction > 0


def _baseline_test(env: Env, t: str, frames: dict):
    """The rows of the T5's test split a baseline scores: the same rows (checked by name), the same sample."""
    from seq2gen.evaluate.run import sample_rows
    split = env.cfg.eval["split"]
    test_ds = env.gue().datasets[t][split]
    if list(test_ds["name"]) != frames[split]["name"].tolist():
        raise RuntimeError(f"{t}: the baseline's {split} rows differ from the T5's (data build changed?)")
    return frames[split].iloc[sample_rows(test_ds, env.cfg.eval.get("max_examples"), seed=0)]


def run_kmer_lr(env: Env, cell: Cell) -> dict:
    """Fit the k-mer logistic regression on every train row of one task, score the T5's test rows."""
    from seq2gen.baselines.kmer import train_kmer_lr
    from seq2gen.evaluate.metrics import classification
    t = cell.tasks[0]
    frames, n_classes, rc = baseline_rows(env, t)
    test = _baseline_test(env, t, frames)
    t0 = time.perf_counter()
    model, hist = train_kmer_lr(frames["train"], n_classes, rc_augment=rc, seed=int(cell.seed), **env.cfg.kmer_lr)
    t1 = time.perf_counter()
    scores = classification(test["label"].to_numpy(), model.predict_proba(test["sequence"].tolist()))
    return {"scores": {t: {"family": "classification", **scores}}, "examples_per_step": None,
            "seconds": {"train": round(t1 - t0, 2), "score": round(time.perf_counter() - t1, 2)}, "kmer_lr": hist}


def run_cnn(env: Env, cell: Cell) -> dict:
    """Train the CNN baseline on one task with the same rows and budget as the T5, score the same test rows."""
    import torch
    from seq2gen.baselines.cnn import predict_cnn, train_cnn
    from seq2gen.evaluate.metrics import classification
    cfg, c, t = env.cfg, env.cfg.cnn, cell.tasks[0]
    frames, n_classes, rc = baseline_rows(env, t)
    test = _baseline_test(env, t, frames)
    budget = {"max_steps": math.ceil(cell.steps * cfg.global_batch / c["batch_size"])}
    if c["budget"] == "time":
        single = Cell(f"single:{t}", cell.seed, cell.tasks, cell.steps)
        budget = {"budget_s": load_cell(env.cell_path(single), cell_key(cfg, single))["seconds"]["train"]}
    if cfg.train_dict().get("num_threads"):
        torch.set_num_threads(int(cfg.train_dict()["num_threads"]))
    t0 = time.perf_counter()
    model, hist = train_cnn(frames["train"], frames["validation"], n_classes, **budget, batch_size=c["batch_size"],
                            seed=int(cell.seed), lr=c["lr"], warmup_steps=c["warmup_steps"], rc_augment=rc,
                            model_kwargs=c.get("model") or {}, select=c["select"])
    t1 = time.perf_counter()
    scores = classification(test["label"].to_numpy(), predict_cnn(model, test["sequence"].tolist()))
    return {"scores": {t: {"family": "classification", **scores}}, "examples_per_step": c["batch_size"],
            "seconds": {"train": round(t1 - t0, 2), "score": round(time.perf_counter() - t1, 2)},
            "cnn": {k: hist[k] for k in ("steps", "examples_seen", "best_step", "stop_reason", "n_params", "select")}}


# --------------------------------------------------------------------------------------------------- the study
def run_gue_study(config, out_dir=None, resume: bool = True, progress: bool = True) -> dict:
    """Run (or finish) the study; returns the results dict also written with the report under ``out_dir``
    (``results.json``, ``report.md``, ``gue_auroc_mcc.png``). ``resume=False`` recomputes every cell."""
    from seq2gen.evaluate.gue_report import write_report
    cfg = load_config(config)
    out = Path(out_dir or cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env, cells = Env(cfg, out, progress), plan(cfg)
    results: list[dict] = []
    computed = 0

    def doc():
        return {"format_version": 1, "config": cfg.to_dict(), "cells": list(results), "computed_cells": computed,
                "seconds": round(time.perf_counter() - started, 1)}

    def compute(cell):
        run = {"cnn": run_cnn, "kmer_lr": run_kmer_lr}.get(parse_arm(cell.arm)[0], run_t5)
        return {"arm": cell.arm, "seed": cell.seed, "trained_on": list(cell.tasks), "steps": cell.steps,
                "pretrain_steps": cell.pretrain_steps, **run(env, cell)}

    def after(i, cell, done, n_computed):
        nonlocal results, computed
        results, computed = done, n_computed
        if not cfg.keep_models:
            _drop_models(env, cell, resume)
        if computed and i + 1 < len(cells) and cells[i + 1].seed != cell.seed:
            write_report(doc(), out)           # a long run reports each finished seed

    results, computed = run_cells(cells, desc="gue study", progress=progress, resume=resume, path_of=env.cell_path,
                                  key_of=lambda c: cell_key(cfg, c), compute=compute, after=after)
    results_doc = doc()
    write_report(results_doc, out)
    return results_doc


def _drop_models(env: Env, cell: Cell, resume: bool) -> None:
    """Delete a cell's model once scored; the world model after its seed's ``joint+world`` cell."""
    if parse_arm(cell.arm)[0] in BASELINES:
        return
    if cell.arm == "world":
        child = Cell("joint+world", cell.seed, tuple(env.cfg.tasks), env.cfg.steps_per_task * len(env.cfg.tasks),
                     init_arm="world")
        if not (resume and load_cell(env.cell_path(child), cell_key(env.cfg, child))):
            return
    shutil.rmtree(env.run_dir(cell.arm, cell.seed) / "model", ignore_errors=True)
    if cell.init_arm:
        shutil.rmtree(env.run_dir(cell.init_arm, cell.seed) / "model", ignore_errors=True)


__all__ = ["GueStudyConfig", "load_config", "plan", "run_gue_study"]
