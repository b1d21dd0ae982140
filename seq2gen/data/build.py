"""Render every task of a registry on a world into tokenized HF datasets, split by chromosome, cached by config hash.

Per task: candidates (cheap rows from the source functions, no DNA) → split by chromosome (``world.json`` or the
template's rule) → held-out tissues dropped from train → seeded subsample to the caps → bigWig values of the kept
rows (track tasks) → quantizer fit on the train values (from the candidate frame, or those bigWig values) → then
each split streams (``seq2gen.data.stream``): chunks of ≤ ``chunk_rows`` consecutive rows of one chromosome have
their DNA fetched, the split's RC picks applied (drawn for the whole split up front), are rendered, encoded
(``encode_pieces``, numpy) and appended as one record batch to an Arrow file, which ``save_to_disk`` then writes as
the split. Memory holds the candidate frame, a track split's binned values (``n_bins`` floats a row) and one chunk's
records, not a split's; the rows are the same for any ``chunk_rows`` and any ``num_proc``.

Output folder: ``<task>/`` (``DatasetDict.save_to_disk``: train/validation/test), ``quantizers.json``, ``tasks.json``
(registry snapshot), ``data_config.json`` (the config, its hash, per-task stats). Written to a temp folder and renamed;
a rebuild with the same hash is skipped. See docs/tasks.md.

Table tasks (``sequence_table`` source, e.g. ``task_templates/gue/``) bring their own rows, DNA and split rule
(``seq2gen.tasks.seqtable``, docs/gue.md): they need no world (``world_dir=None`` when every task is one) and the
config hash covers their files instead.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import numpy as np

from seq2gen.data.stream import to_table, with_dna
from seq2gen.errors import InputError

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
SPLITS = ("train", "validation", "test")
CONFIG_FILE = "data_config.json"
#: rows fetched, rendered and written at a time (one chromosome's; docs/own-data.md "Memory")
CHUNK_ROWS = 4096


def task_seed(seed: int, name: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(name.encode())]).generate_state(1)[0])


def caps(task, max_per_task: int | None) -> tuple[int | None, int | None]:
    """(train cap, validation/test cap): ``max_per_task`` replaces the template's ``max_examples``; the eval cap is
    ``max_eval_examples`` but never above the train cap."""
    train = max_per_task if max_per_task is not None else task.max_examples
    ev = [c for c in (task.max_eval_examples, train) if c is not None]
    return train, (min(ev) if ev else None)


# ---------------------------------------------------------------------------------------------------- one task
def candidates(world, task, seed: int = 0, stats: dict | None = None, data_root=None, vocab=None):
    """All candidate rows of ``task`` (DataFrame, ``split`` column added; rows in no split dropped).

    Table tasks (``sequence_table`` source) read their files under ``data_root`` and split them by their own rule
    (``seq2gen.tasks.seqtable``); they need no world and their rows already hold ``dna``."""
    import pandas as pd
    from seq2gen.tasks.seqtable import is_table_task, table_candidates
    from seq2gen.tasks.sources import SOURCES
    stats = {} if stats is None else stats
    if is_table_task(task):
        df = table_candidates(task, data_root, stats, vocab)
        df["row"] = np.arange(len(df), dtype=np.int64)
    else:
        if world is None:
            raise InputError(f"task {task.name!r} renders windows of a world: pass world_dir (--world DIR)",
                             path=task.path)
        rng = np.random.default_rng([task_seed(seed, task.name), 1])
        tissues = task.resolve_tissues(world.tissues)
        prim = [SOURCES[s.type].fn(world, task, s.params, tissues, rng, None, stats).assign(source=s.type)
                for s in task.sources if not SOURCES[s.type].secondary]
        primary = pd.concat(prim, ignore_index=True)
        sec = [SOURCES[s.type].fn(world, task, s.params, tissues, rng, primary, stats).assign(source=s.type)
               for s in task.sources if SOURCES[s.type].secondary]
        df = pd.concat([primary, *sec], ignore_index=True)
        df["row"] = np.arange(len(df), dtype=np.int64)
        df["split"] = world.split_of(df["chrom"], task.split).to_numpy()
    if (df["split"] == "").any():
        stats["rows on chromosomes in no split"] = int((df["split"] == "").sum())
    if task.family in ("regression", "variant"):
        bad = ~np.isfinite(df["value"].to_numpy(np.float64))
        if bad.any():
            stats["rows with a missing or non-finite target dropped"] = int(bad.sum())
            df = df[~bad]
    held = (df["split"] == "train") & df["tissue"].isin(task.holdout_tissues)
    if held.any():
        stats["train rows of held-out tissues dropped"] = int(held.sum())
    return df[(df["split"] != "") & ~held].reset_index(drop=True)


def sample_frames(world, task, seed: int = 0, max_per_task: int | None = None, stats=None, data_root=None,
                  vocab=None) -> dict:
    """Split → capped, seeded subsample, kept in genomic / file order: ``{split: DataFrame}`` of the rows to build
    (no DNA fetched yet)."""
    df = candidates(world, task, seed, stats, data_root, vocab)
    rng = np.random.default_rng([task_seed(seed, task.name), 2])
    cap_train, cap_eval = caps(task, max_per_task)
    out = {}
    for split in SPLITS:
        part = df[df["split"] == split]
        cap = cap_train if split == "train" else cap_eval
        if cap is not None and len(part) > cap:
            part = part.iloc[np.sort(rng.choice(len(part), size=cap, replace=False))]
        out[split] = part.reset_index(drop=True)
    return out


def track_values(world, task, part):
    """A track task's binned values of ``part``'s rows (``(rows, n_bins)`` float64), else None."""
    from seq2gen.tasks.sources import track_matrix
    return track_matrix(world, task, part) if task.family == "track" and len(part) else None


def sample_records(world, task, seed: int = 0, max_per_task: int | None = None, stats=None, data_root=None,
                   vocab=None) -> dict[str, list]:
    """``sample_frames`` as records with ``dna`` (and ``values``), every split in memory (``build_task`` streams
    instead)."""
    parts = sample_frames(world, task, seed, max_per_task, stats, data_root, vocab)
    return {split: with_dna(world, part, track_values(world, task, part)) for split, part in parts.items()}


def fit_quantizer(task, train_records: list[dict], stats: dict | None = None):
    if task.quantizer is None:
        return None
    key = "values" if task.family == "track" else "value"
    return fit_values(task, np.asarray([r[key] for r in train_records], dtype=np.float64).ravel(), stats)


def fit_values(task, vals: np.ndarray, stats: dict | None = None):
    """The task's quantizer fit on its train targets ``vals`` (flat float64; None when the task has none)."""
    from seq2gen.vocab import Quantizer
    if task.quantizer is None:
        return None
    if vals.size == 0:
        dropped = "; ".join(f"{k}: {v}" for k, v in (stats or {}).items() if not isinstance(v, dict))
        raise InputError(f"task {task.name!r} has no train rows to fit its quantizer on"
                         + (f" (this build: {dropped})" if dropped else ""), path=task.path,
                         hint="check the split chromosomes and tissue exclusions")
    return Quantizer.fit(vals, task.quantizer.method, task.quantizer.n_bins)


def _train_targets(task, part, values) -> np.ndarray:
    """The train values a quantizer is fit on, without fetching any DNA (track values are fetched up front)."""
    if task.family == "track":
        return np.zeros(0) if values is None else values.ravel()
    return part["value"].to_numpy(np.float64) if task.quantizer is not None else np.zeros(0)


def to_dataset(task, rows: list[dict], prompts, answers, ids, labels, targets):
    """``to_table`` as an in-memory ``datasets.Dataset``."""
    import datasets
    from datasets.table import InMemoryTable
    return datasets.Dataset(InMemoryTable(to_table(task, rows, prompts, answers, ids, labels, targets)))


def build_task(world, task, tokenizer, seed: int = 0, max_per_task: int | None = None, data_root=None, out=None,
               chunk_rows: int = CHUNK_ROWS):
    """``(DatasetDict, quantizer or None, stats)`` for one task (``world`` may be None for table tasks).

    Splits stream to Arrow files a chunk at a time (``stream_split``), then are saved to ``out``
    (``DatasetDict.save_to_disk``) and returned memory-mapped from there; with ``out=None`` they are read into memory.
    """
    import datasets
    from seq2gen.data.stream import split_passes, stream_split
    from seq2gen.tasks.render import Renderer
    stats: dict = {}
    parts = sample_frames(world, task, seed, max_per_task, stats, data_root, tokenizer.vocab)
    values = {split: track_values(world, task, part) for split, part in parts.items()}
    quantizer = fit_values(task, _train_targets(task, parts["train"], values["train"]), stats)
    tseed = task_seed(seed, task.name)
    render = Renderer(task, tokenizer.vocab, quantizer, seed=tseed)
    scratch = Path(tempfile.mkdtemp(prefix=f".{task.name}.chunks-", dir=None if out is None else Path(out).parent))
    try:
        files = {split: scratch / f"{split}.arrow" for split in parts}
        for split, part in parts.items():
            passes = split_passes(task, part, values.pop(split), split, tseed)
            stats[split] = stream_split(world, task, tokenizer, render, passes, files[split], chunk_rows)
        dd = datasets.DatasetDict({s: datasets.Dataset.from_file(str(f), in_memory=out is None)
                                   for s, f in files.items()})
        if out is None:
            return dd, quantizer, stats
        dd.save_to_disk(str(out))
        return datasets.load_from_disk(str(out)), quantizer, stats
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------- config / cache
def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def data_config(world, registry, names, tokenizer, seed, max_per_task, data_root=None) -> dict:
    from seq2gen.tasks.seqtable import data_root as table_root, is_table_task, table_files
    world_cfg = None
    if world is not None and hasattr(world, "fingerprint"):      # a data spec (seq2gen.data.specworld)
        world_cfg = world.fingerprint()
    elif world is not None:
        files = {}
        for p in sorted(world.dir.iterdir()):
            if p.is_file() and not p.name.startswith(".") and p.suffix not in (".fai", ".gzi"):   # rebuilt on read
                st = p.stat()
                files[p.name] = [st.st_size, st.st_mtime_ns]
        world_cfg = {"dir": str(world.dir.resolve()), "manifest_sha256": hashlib.sha256(
            (world.dir / "world.json").read_bytes()).hexdigest(), "files": files}
    tables = {}
    for n in names:
        if is_table_task(registry.get(n)):
            tables[n] = {str(p.resolve()): [p.stat().st_size, p.stat().st_mtime_ns]
                         for p in table_files(registry.get(n), data_root)}
    cfg = {"format_version": FORMAT_VERSION, "world": world_cfg,
           "templates": {n: registry.get(n).to_dict() for n in names},
           "tokenizer": {"mode": tokenizer.mode, "size": len(tokenizer),
                         "vocab_sha256": _sha(sorted(tokenizer.token_to_id.items()))},
           "seed": int(seed), "max_per_task": max_per_task, "tasks": list(names)}
    if tables:                                      # absent for world-only builds: their hashes stay unchanged
        cfg["tables"] = {"root": str(table_root(data_root).resolve()), "files": tables}
    cfg["hash"] = _sha(cfg)
    return cfg


def _cached(out: Path, digest: str) -> bool:
    try:
        cfg = json.loads((out / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return cfg.get("hash") == digest and all((out / t).is_dir() for t in cfg.get("tasks", []))


def _swap_into_place(tmp: Path, out: Path) -> None:
    from seq2gen.utils.io import replace_dir
    if out.exists() and not (out / CONFIG_FILE).is_file() and any(out.iterdir()):
        raise InputError("output folder exists and is not a seq2gen data folder (no data_config.json)",
                         path=out, hint="choose another --out or empty it")
    replace_dir(tmp, out)


def _build_all(world, names, num_proc: int, job: dict, bar) -> tuple[dict, dict, dict]:
    """Every task built into ``job["tmp"]`` (``seq2gen.data.workers``): ``(quantizers, stats, inputs report)``."""
    from seq2gen.data.workers import build_tasks, merge_reports
    quantizers, stats, inputs = {}, {}, dict(getattr(world, "report", None) or {})
    done = {}
    for name, q, st, report in build_tasks(world, names, num_proc, **job):
        done[name] = (q, st)
        merge_reports(inputs, report)
        for k, v in st.items():
            if not isinstance(v, dict) and k != "seconds":
                log.warning("%s: %s: %d", name, k, v)
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update(1)
    for name in names:                                   # task order, whatever order the workers finished in
        q, stats[name] = done[name]
        if q is not None:
            quantizers[name] = q
    return quantizers, stats, inputs


def build_datasets(world_dir, registry, tokenizer, out_dir, tasks=None, max_per_task: int | None = None,
                   seed: int = 0, progress: bool = True, force: bool = False, data_root=None,
                   num_proc: int = 1, chunk_rows: int = CHUNK_ROWS) -> dict:
    """Build (or reuse, when the config hash matches) ``out_dir``; returns ``{task: DatasetDict}``.

    ``world_dir``: the world folder, a data spec YAML (``seq2gen.data.spec``, docs/own-data.md), or None when
    every task is a table task (``sequence_table`` source: GUE, user
    tables); ``registry``: a ``TaskRegistry`` (or a templates folder); ``tokenizer``: a ``Seq2GenTokenizer`` (or
    its folder); ``tasks``: names to build (default all); ``max_per_task``: train cap replacing the templates'
    ``max_examples`` (validation/test ≤ min(max_eval_examples, cap)); ``force``: rebuild even if the hash matches;
    ``data_root``: where table paths start (default ``$SEQ2GEN_REAL_DATA`` or ``../shared/data/real``);
    ``num_proc``: tasks built in that many worker processes (same rows as one; ``seq2gen.data.workers``);
    ``chunk_rows``: rows fetched, rendered and written at a time (``seq2gen.data.stream``; same rows for any value,
    not part of the config hash).
    """
    from seq2gen.data.specworld import open_world
    from seq2gen.vocab import Seq2GenTokenizer, save_quantizers
    if isinstance(tokenizer, (str, os.PathLike)):
        tokenizer = Seq2GenTokenizer.from_pretrained(tokenizer)
    if isinstance(registry, (str, os.PathLike)):
        from seq2gen.tasks import TaskRegistry
        registry = TaskRegistry.from_dir(registry, vocab=tokenizer.vocab)
    from seq2gen.tasks.seqtable import is_table_task
    names = registry.names if tasks is None else [registry.get(t).name for t in tasks]
    if world_dir is None:
        need = [n for n in names if not is_table_task(registry.get(n))]
        if need:
            raise InputError(f"tasks {need} render windows of a world: pass world_dir (--world DIR)",
                             hint="or build only table tasks (--only NAME / a template folder such as "
                                  "task_templates/gue)")
    world = None if world_dir is None else open_world(world_dir, vocab=tokenizer.vocab)
    registry = registry.subset(names)
    if world is not None:            # `{tissues}` choices → this world's tissue tokens (hashed and in tasks.json)
        for n in names:
            registry.add(registry.get(n).resolve_choices(world.tissues, tokenizer.vocab), overwrite=True)
    if max_per_task is not None and max_per_task < 1:
        raise InputError(f"max_per_task must be >= 1, got {max_per_task}")
    if chunk_rows < 1:
        raise InputError(f"chunk_rows must be >= 1, got {chunk_rows}")
    cfg = data_config(world, registry, names, tokenizer, seed, max_per_task, data_root)
    out = Path(out_dir)
    if not force and _cached(out, cfg["hash"]):
        log.info("%s: data config unchanged (hash %s), reusing it", out, cfg["hash"][:12])
        return load_datasets(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    bar = None
    import datasets
    bars_were_off = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()             # one bar per task below, not one per saved split
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(names), desc="data build", unit="task")
    try:
        job = dict(build_task=build_task, registry=registry, tokenizer=tokenizer, seed=seed,
                   max_per_task=max_per_task, data_root=data_root, tmp=tmp, chunk_rows=chunk_rows)
        quantizers, stats, inputs = _build_all(world, names, num_proc, job, bar)
        save_quantizers(quantizers, tmp / "quantizers.json")
        registry.to_json(tmp / "tasks.json")
        for k, v in inputs.items():                   # a spec's renames / reconciliations / exclusions, counted
            log.warning("inputs: %s: %s", k, v)
        (tmp / CONFIG_FILE).write_text(json.dumps({**cfg, "stats": stats, **({"inputs": inputs} if inputs else {})},
                                                  indent=1, default=str) + "\n")
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()
        if not bars_were_off:
            datasets.enable_progress_bars()
    return load_datasets(out)


#: what a model trained on a data folder needs beside its weights (``Seq2Gen.from_pretrained`` refuses without them)
MODEL_FILES = ("quantizers.json", "tasks.json")


def model_files(data_dir) -> list[Path]:
    """The data folder's ``quantizers.json`` and ``tasks.json`` (empty when ``data_dir`` is not a data folder)."""
    d = Path(data_dir)
    if not (d / CONFIG_FILE).is_file():
        return []
    return [d / n for n in MODEL_FILES if (d / n).is_file()]


def load_datasets(out_dir, tasks=None) -> dict:
    """``{task: DatasetDict(train/validation/test)}`` from a built folder (memory-mapped Arrow)."""
    import datasets
    out = Path(out_dir)
    if not (out / CONFIG_FILE).is_file():
        raise InputError("not a seq2gen data folder (no data_config.json)", path=out,
                         hint="build it with `seq2gen data build --world DIR --out DIR`")
    names = json.loads((out / CONFIG_FILE).read_text())["tasks"]
    if tasks is not None:
        unknown = [t for t in tasks if t not in names]
        if unknown:
            raise InputError(f"tasks {unknown} were not built here", path=out, hint=f"built: {', '.join(names)}")
        names = list(tasks)
    return {n: datasets.load_from_disk(str(out / n)) for n in names}
