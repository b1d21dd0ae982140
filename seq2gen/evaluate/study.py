"""What the transfer protocol and the GUE study share: config reading with did-you-mean, cells (one arm × one seed),
their keys, resumable per-cell results and the loop over cells.

A cell's result is ``cells/<arm>__s<seed>.json``, written atomically with a key (``cell_hash``) of everything its
numbers depend on; a rerun reuses a stored result whose key matches and recomputes the others.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from seq2gen.errors import InputError
from seq2gen.resources import config_dir, study_presets

log = logging.getLogger(__name__)
CONFIG_DIR = config_dir("transfer")
#: train config defaults of every arm (a preset's ``train:`` mapping updates them)
TRAIN_DEFAULTS = {"model": "tiny", "micro_batch_size": 8, "grad_accum": 1, "lr": 3e-3, "warmup_steps": 10,
                  "grad_clip": 1.0, "deepspeed": "cpu_zero0", "log_every": 25, "progress": False}


def read_study_config(config, cls, label: str, gue: bool = False) -> tuple[dict, Path | None]:
    """``(mapping, file)`` of a study config given as a ``cls`` instance, a dict, a YAML path or a preset name
    (``cpu`` → configs/transfer/cpu.yaml); shared by the transfer protocol and the GUE study."""
    if isinstance(config, cls):
        return config.to_dict(), None
    if isinstance(config, dict):
        return copy.deepcopy(config), None
    where = Path(config)
    if not where.suffix and not where.exists():
        where = CONFIG_DIR / f"{config}.yaml"
    if not where.is_file():
        raise InputError(f"{label} config not found", path=where, hint=f"presets: {', '.join(study_presets(gue))}")
    return yaml.safe_load(where.read_text()) or {}, where


def check_study_keys(data: dict, cls, label: str, where) -> None:
    """Unknown keys are errors, with the closest known key as a hint."""
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            raise InputError(f"unknown {label} key {key!r}", path=where,
                             hint=f"did you mean {near[0]!r}?" if near else f"keys: {', '.join(names)}")


@dataclass(frozen=True)
class Cell:
    """One training run: an arm of the protocol with one seed."""
    arm: str
    seed: int
    tasks: tuple[str, ...]            # trained (and scored) on
    steps: int                        # mixture steps (after pretraining)
    pretrain_steps: int = 0
    init_arm: str | None = None       # fine-tune from this arm's model (same seed)
    curve: tuple[int, ...] = ()       # steps at which the (single) task is scored during training

    @property
    def name(self) -> str:
        return f"{self.arm.replace(':', '-')}__s{self.seed}"


#: the transfer protocol's arm families and defaults (TransferConfig; the report reads results.json configs with them)
SCARCE_ARMS = ("single", "joint", "seq", "pair")
DEFAULT_SCARCE_ARMS = ("single", "joint", "seq")
FULL_ARMS = ("single", "joint")


def scarce_arm(kind: str, task: str, fraction: float) -> str:
    """The transfer protocol's scarcity arm names: ``single:T@0.02``, ``joint:T@0.02``, ``seq:T@0.02``."""
    return f"{kind}:{task}@{fraction:g}"


def parse_scarce(arm: str) -> tuple[str, str, float] | None:
    """``"joint:tf_binding@0.01"`` → ``("joint", "tf_binding", 0.01)`` (``pair:T@f+B`` → ``("pair", T, f)``);
    None for the other arms."""
    base, at, f = arm.partition("@")
    if not at:
        return None
    kind, _, task = base.partition(":")
    return kind, task, float(f.partition("+")[0])


def resolved_preset(preset) -> dict:
    """A model preset's content (name, YAML path or dict): cached cells must not survive an edit of the preset."""
    from seq2gen.model import load_preset
    return load_preset(preset)


def resolved_templates(folder, tasks) -> dict:
    """The templates of ``tasks`` in ``folder`` (None: the repository's) as data: cached cells must not survive an
    edit of a task's template (tf_binding's answer format changed once) any more than an edit of the preset."""
    from seq2gen.tasks import DEFAULT_TEMPLATES_DIR, TaskRegistry
    reg = TaskRegistry.from_dir(folder or DEFAULT_TEMPLATES_DIR)
    return {t: reg.get(t).to_dict() for t in tasks if t in reg.names}


def cell_hash(shared: dict, cell, pretrain: dict | None = None) -> str:
    """Short stable hash of a cell (a dataclass) and the configuration it depends on; ``pretrain`` (the stage's
    config) counts only for cells with pre-training steps."""
    if cell.pretrain_steps:
        shared = {**shared, "pretrain": pretrain}
    blob = json.dumps({"shared": shared, "cell": dataclasses.asdict(cell)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def device() -> str:
    """Where a study trains: the GPU when there is one."""
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def cell_result(path: Path, key: str, resume: bool, compute) -> tuple[dict, bool]:
    """``(result, computed)``: the cell's stored result when ``resume`` and its key matches, else ``compute()`` with
    the key, written atomically (shared by the transfer protocol and the GUE study)."""
    res = load_cell(path, key) if resume else None
    if res is not None:
        return res, False
    res = {**compute(), "key": key}
    store_cell(path, res)
    return res, True


def store_cell(path: Path, res: dict) -> None:
    """A cell's result file, written atomically (a killed run never leaves half a cell)."""
    from seq2gen.utils.io import atomic_write
    with atomic_write(path) as f:
        json.dump(res, f, indent=1)


def load_cell(path: Path, key: str) -> dict | None:
    """A stored cell result, or None when absent or computed with another configuration (``key``)."""
    if not path.is_file():
        return None
    res = json.loads(path.read_text())
    if res.get("key") != key:
        log.warning("%s was computed with another configuration; recomputing it", path.name)
        return None
    return res


def run_cells(cells: list, *, desc: str, progress: bool, resume: bool, path_of, key_of, compute,
              after=None) -> tuple[list[dict], int]:
    """The loop both studies share → ``(results, n_computed)``: each cell's stored result (``resume`` and the key
    matches) or ``compute(cell)``; ``after(i, cell, results, n_computed)`` runs after each cell (dropping models
    nothing needs any more, interim reports)."""
    results, computed = [], 0
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(cells), desc=desc, unit="cell")
    try:
        for i, cell in enumerate(cells):
            if bar is not None:
                bar.set_postfix_str(cell.name)
            res, new = cell_result(path_of(cell), key_of(cell), resume, lambda cell=cell: compute(cell))
            if new:
                computed += 1
                log.info("%s: train %.0fs, score %.0fs", cell.name, res["seconds"]["train"], res["seconds"]["score"])
            results.append(res)
            if after is not None:
                after(i, cell, results, computed)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results, computed


def seed_subset(cfg, seeds: list[int], where=None):
    """``cfg`` restricted to ``seeds`` — one process's part of a study run as several side by side (``--seeds``),
    gathered afterwards by ``merge_runs``. A seed the config does not list is an error: merging would not find it."""
    extra = sorted(set(seeds) - set(cfg.seeds))
    if not seeds or extra:
        raise InputError(f"--seeds {extra or seeds} not among the config's seeds {cfg.seeds}", path=where,
                         hint="pick a subset of the config's `seeds:`")
    return dataclasses.replace(cfg, seeds=[s for s in cfg.seeds if s in seeds])


def seeds_folder(out_dir, seeds: list[int]) -> Path:
    """The default output folder of a ``--seeds`` part: ``<out_dir>_s0-1``, so parts never share a folder."""
    return Path(f"{out_dir}_s{'-'.join(map(str, seeds))}")


def merge_runs(cfg, cells: list, key_of, sources: list, out: Path) -> dict:
    """The results document of a study whose seeds ran as separate processes: every planned cell from the first of
    ``out``, ``sources`` whose stored key matches (copied into ``out/cells``). A cell in none of them, or stored with
    another configuration, is an error naming it — never a report over fewer cells. ``computed_cells``/``seconds``
    add the sources' own (their wall times, not one run's)."""
    sources = [Path(s) for s in sources]
    for s in sources:
        if not (s / "cells").is_dir():
            raise InputError("not a study run folder (no cells/ in it)", path=s,
                             hint="pass the --out folders of the --seeds runs")
    results, missing = [], []
    for cell in cells:
        key, res, stale = key_of(cell), None, None
        for folder in [Path(out), *sources]:
            path = folder / "cells" / f"{cell.name}.json"
            if path.is_file():
                stored = json.loads(path.read_text())
                if stored.get("key") == key:
                    res = stored
                    break
                stale = stale or path
        if res is None:
            missing.append(cell.name + (f" ({stale} has another configuration's key)" if stale else ""))
        results.append(res)
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        raise InputError(f"{len(missing)} of the config's {len(cells)} cells are in none of the merged runs: {shown}",
                         path=sources[0] if sources else out,
                         hint="run their seeds with --seeds and the same config, then merge again")
    for cell, res in zip(cells, results):
        store_cell(Path(out) / "cells" / f"{cell.name}.json", res)
    runs = [json.loads(p.read_text()) for s in sources if (p := s / "results.json").is_file()]
    if len(runs) < len(sources):
        log.warning("%d of the %d merged folders have no results.json (an unfinished run): their compute time is not "
                    "in the report's total", len(sources) - len(runs), len(sources))
    return {"format_version": 1, "config": cfg.to_dict(), "cells": results,
            "computed_cells": sum(r.get("computed_cells", 0) for r in runs),
            "seconds": round(sum(r.get("seconds", 0) for r in runs), 1), "merged_from": [s.name for s in sources]}


def run_time(results: dict) -> str:
    """How the results were computed, for a report's first paragraph: one run, or runs merged (``merge_runs``)."""
    merged = results.get("merged_from")
    runs = f"the {len(merged)} merged runs ({', '.join(merged)})" if merged else "this run"
    return (f"{runs} computed {results['computed_cells']} of them in {results['seconds'] / 60:.1f} min"
            + (" of their wall times added" if merged else ""))
