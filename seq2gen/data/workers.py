"""Build the tasks of one ``build_datasets`` call one after the other, or in ``num_proc`` worker processes.

Tasks are independent (each has its own seed, ``task_seed(seed, name)``), so a parallel build writes the same rows
as a serial one (tested). Workers are forked and each reopens the world: a forked pyfaidx / pyBigWig handle shares
its file offset with the parent, and concurrent seeks through it would silently return wrong bases.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

_JOB: dict = {}          # set in the parent before the fork; read by the workers


def _run_one(world, name: str) -> tuple:
    j = _JOB
    t0 = time.perf_counter()
    _, q, st = j["build_task"](world, j["registry"].get(name), j["tokenizer"], j["seed"], j["max_per_task"],
                               j["data_root"], out=Path(j["tmp"]) / name, chunk_rows=j["chunk_rows"])
    return name, q, {**st, "seconds": round(time.perf_counter() - t0, 2)}, dict(getattr(world, "report", {}) or {})


def _worker(name: str) -> tuple:
    if "world" not in _JOB["local"]:
        from seq2gen.data.specworld import open_world
        src = _JOB["world_src"]
        _JOB["local"]["world"] = None if src is None else open_world(src, validate=False)  # checked in the parent
    return _run_one(_JOB["local"]["world"], name)


def world_source(world):
    """What a worker reopens: a spec's YAML path, a world folder, or None."""
    if world is None:
        return None
    spec = getattr(world, "spec", None)
    return spec.path if spec is not None else world.dir


def build_tasks(world, names: list[str], num_proc: int = 1, **job):
    """Yield ``(name, quantizer, stats, inputs report)`` per task as each finishes (``job``: registry, tokenizer,
    seed, max_per_task, data_root, tmp, chunk_rows; ``build_task``: ``seq2gen.data.build.build_task``, passed in so this
    module needs no import of the builder that calls it)."""
    _JOB.clear()
    _JOB.update(job, world_src=world_source(world), local={})
    if num_proc <= 1 or len(names) <= 1:
        for name in names:
            yield _run_one(world, name)
        return
    import multiprocessing as mp
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with mp.get_context("fork").Pool(min(num_proc, len(names))) as pool:
        yield from pool.imap_unordered(_worker, names)


def merge_reports(into: dict, report: dict) -> None:
    """Fold one worker's inputs report into the build's (nested per-file mappings are united)."""
    for k, v in report.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            into[k].update(v)
        else:
            into[k] = v
