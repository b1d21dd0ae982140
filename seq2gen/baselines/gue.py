"""The GUE benchmark subsets shared with the project: task registry, split rules, scoring, and a CNN baseline run.

Why it exists: every model here (the T5 and the baselines) must be scored on the *same* held-out rows with the same
metrics, or comparisons mean nothing. GUE's own test split is withheld from the shared folder on purpose (model
choices must not be tuned on it), so our held-out scoring split — called ``test`` below — is **GUE's dev split**:

* task with ``train.csv.gz``: train → train/validation (``1 - val_fraction`` / ``val_fraction``, seeded,
  stratified); ``dev.csv.gz`` → test.
* task with only ``dev.csv.gz``: dev → train/validation/test (``dev_fractions``, default 70/10/20, seeded,
  stratified).
* then test rows whose sequence (case-insensitive) also occurs in train or validation are dropped, and validation
  rows also in train; the counts are in ``splits.info``.

Data root: ``root=`` argument, else ``$SEQ2GEN_REAL_DATA`` (the ``real`` folder or its ``gue`` subfolder), else
``<repo>/../shared/data/real/gue``. Files are read in place, never copied.

Command line: ``python -m seq2gen.baselines.gue --task prom_prom_core_all --budget-s 300`` trains the CNN baseline
(``seq2gen.baselines.cnn``) and prints one JSON line of metrics on the held-out split.
"""
from __future__ import annotations

import difflib
import json
import logging
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import typer

from seq2gen.errors import InputError
from seq2gen.genome.tables import read_sequence_table, split_table
from seq2gen.tasks.overlap import dedup as dedup_rows
from seq2gen.utils.cli import run_command, usage_error

log = logging.getLogger(__name__)

REFERENCE_SOURCE = ("published, not ours: 'Benchmarking DNA foundation models for genomic and genetic tasks', "
                    "Nature Communications 2025, Tables 1-2 — AUROC on GUE's withheld *test* split, frozen embeddings "
                    "+ mean-token pooling (as quoted in shared/data/real/README.md); our 'test' is GUE's dev split, "
                    "so these are context, not a like-for-like comparison")


@dataclass(frozen=True)
class GueTask:
    name: str
    folder: str
    length: int
    n_classes: int
    species: str
    description: str
    has_train: bool
    class_names: tuple[str, ...] = ("negative", "positive")
    #: published AUROC by model (REFERENCE_SOURCE) — theirs, on GUE's test split; empty where the README has none
    reference_auroc: dict[str, float] = field(default_factory=dict)


def _tasks() -> dict[str, GueTask]:
    t = [
        GueTask("prom_prom_core_all", "prom_prom_core_all", 70, 2, "human",
                "core promoter (TATA + non-TATA) vs non-promoter", True, ("non-promoter", "promoter"),
                {"DNABERT-2": 0.831, "NT-v2": 0.853, "HyenaDNA": 0.832, "Caduceus-Ph": 0.875}),
        GueTask("prom_prom_core_tata", "prom_prom_core_tata", 70, 2, "human", "core promoter, TATA only", True,
                ("non-promoter", "promoter")),
        GueTask("prom_prom_300_tata", "prom_prom_300_tata", 300, 2, "human", "promoter -249..+50, TATA only", True,
                ("non-promoter", "promoter")),
        GueTask("prom_prom_300_all", "prom_prom_300_all", 300, 2, "human", "promoter -249..+50", False,
                ("non-promoter", "promoter"), {"DNABERT-2": 0.943, "NT-v2": 0.945}),
        GueTask("EMP_H3", "EMP_H3", 500, 2, "yeast", "yeast H3 occupancy (epigenetic mark)", False,
                reference_auroc={"DNABERT-2": 0.914, "NT-v2": 0.895}),
        # Label order checked on the data (dev, 4,562 rows): label 0 has AG at the two bases before the centre in
        # 99.6% of rows (acceptor), label 1 has GT at the centre in 98.7% (donor), label 2 neither consistently.
        GueTask("splice_reconstructed", "splice_reconstructed", 400, 3, "human",
                "splice site: 0 acceptor, 1 donor, 2 non-splice (order checked on the data)", False,
                ("acceptor", "donor", "non-splice")),
    ]
    tf_ref = [0.838, 0.821, 0.790, 0.726, 0.920]  # "Human TFBS 1-5", assumed to be tf_0..tf_4 in order
    t += [GueTask(f"tf_{i}", f"tf_{i}", 101, 2, "human", f"human TF binding site set {i} (ChIP-seq)", True,
                  ("no binding", "binding"), {"DNABERT-2": tf_ref[i]}) for i in range(5)]
    t += [GueTask(f"mouse_{i}", f"mouse_{i}", 101, 2, "mouse", f"mouse TF binding site set {i} (ChIP-seq)", True,
                  ("no binding", "binding")) for i in (0, 2, 3, 4)]
    return {x.name: x for x in t}


#: name → GueTask for every task folder of the shared GUE subset
GUE_TASKS: dict[str, GueTask] = _tasks()


def get_task(name: str) -> GueTask:
    try:
        return GUE_TASKS[name]
    except KeyError:
        close = difflib.get_close_matches(name, GUE_TASKS, n=3)
        raise InputError(f"unknown GUE task {name!r}", hint=(f"did you mean {', '.join(close)}?" if close else
                         f"known: {', '.join(GUE_TASKS)}")) from None


def gue_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the task folders (see the module docstring for the lookup order)."""
    if root is None:
        env = os.environ.get("SEQ2GEN_REAL_DATA")
        if env:
            p = Path(env)
            return p / "gue" if (p / "gue").is_dir() else p
        from seq2gen.resources import real_data_default
        return real_data_default() / "gue"
    return Path(root)


class GueSplits(dict):
    """``{"train", "validation", "test"}`` → DataFrame (``sequence, label, line, source``), plus ``.info``."""
    info: dict


def load_gue(name: str, root: str | os.PathLike | None = None, seed: int = 0, val_fraction: float = 0.1,
             dev_fractions: tuple[float, float, float] = (0.7, 0.1, 0.2), dedup: bool = True) -> GueSplits:
    """Load one task's splits by the rules in the module docstring. ``test`` is GUE's dev split (or a part of it)."""
    task = get_task(name)
    folder = gue_root(root) / task.folder
    dev_path, train_path = folder / "dev.csv.gz", folder / "train.csv.gz"
    if not dev_path.is_file():
        raise InputError("GUE task folder has no dev.csv.gz", path=folder,
                         hint="set SEQ2GEN_REAL_DATA to the shared 'real' data folder, or pass --root "
                              "(root= in Python)")
    dev = read_sequence_table(dev_path).assign(source="dev")
    if train_path.is_file():
        full = read_sequence_table(train_path).assign(source="train")
        train, val = split_table(full, (1 - val_fraction, val_fraction), seed=seed)
        test, rule = dev, f"train.csv.gz → train/validation {1 - val_fraction:g}/{val_fraction:g}; dev → test"
    else:
        train, val, test = split_table(dev, dev_fractions, seed=seed)
        rule = "dev.csv.gz → train/validation/test " + "/".join(f"{f:g}" for f in dev_fractions)
    for split, df, path in (("train", train, train_path if task.has_train else dev_path), ("test", test, dev_path)):
        bad = df["sequence"].str.len() != task.length
        if bad.any():
            raise InputError(f"{split} sequence of {len(df['sequence'][bad].iloc[0])} bp, expected {task.length}",
                             path=path, line=int(df["line"][bad].iloc[0]))
        if df["label"].min() < 0 or df["label"].max() >= task.n_classes:
            raise InputError(f"{split} labels outside 0..{task.n_classes - 1}", path=path)
    n_test = n_val = 0
    if dedup:
        test, n_test = dedup_rows(test, [train, val])     # fixed-length tables: exact, case-insensitive
        val, n_val = dedup_rows(val, [train])
        log.info("%s: dropped %d test and %d validation rows whose sequence is also in train", name, n_test, n_val)
    out = GueSplits(train=train, validation=val, test=test)
    out.info = {"task": name, "root": str(folder), "rule": rule, "test_is": "GUE dev split (GUE test is withheld)",
                "seed": seed, "n_dropped_test": n_test, "n_dropped_validation": n_val,
                "sizes": {k: len(v) for k, v in out.items()}}
    return out


def run_cnn_baseline(name: str, budget_s: float | None = 300, max_steps: int | None = None, seed: int = 0,
                     root: str | os.PathLike | None = None, batch_size: int = 128, rc_augment: bool = False,
                     verbose: bool = False, **train_kwargs) -> dict:
    """Load ``name``, train the CNN baseline within the budget, score it on the held-out split → one result dict."""
    from seq2gen.baselines.cnn import predict_cnn, train_cnn
    import torch

    task = get_task(name)
    splits = load_gue(name, root=root, seed=seed)
    echo = (lambda s: print(f"[{name}] {s}", file=sys.stderr, flush=True)) if verbose else None
    model, hist = train_cnn(splits["train"], splits["validation"], task.n_classes, budget_s=budget_s,
                            max_steps=max_steps, batch_size=batch_size, seed=seed, rc_augment=rc_augment,
                            log=echo, **train_kwargs)
    t = time.perf_counter()
    probs = predict_cnn(model, splits["test"]["sequence"].tolist())
    from seq2gen.evaluate.metrics import classification
    test = classification(splits["test"]["label"].to_numpy(), probs)
    return {"task": name, "model": "cnn", "split": "test = GUE dev (deduplicated against train/validation)",
            **{k: round(v, 4) for k, v in test.items() if k != "n"}, "n_test": int(test["n"]),
            "n_train": len(splits["train"]), "n_validation": len(splits["validation"]),
            "n_dropped_test": splits.info["n_dropped_test"], "rule": splits.info["rule"],
            "examples_seen": hist["examples_seen"], "steps": hist["steps"], "train_wall_s": hist["wall_s"],
            "predict_s": round(time.perf_counter() - t, 2), "stop_reason": hist["stop_reason"],
            "best_step": hist["best_step"],
            "best_val_auroc": round(hist["best_val"]["auroc"], 4) if hist["best_val"] else None,
            "batch_size": batch_size, "rc_augment": rc_augment, "n_params": hist["n_params"],
            "threads": torch.get_num_threads(), "seed": seed, "machine": f"{platform.machine()} {os.cpu_count()} CPU",
            "date": time.strftime("%Y-%m-%d"), "reference_auroc": task.reference_auroc,
            "reference_source": REFERENCE_SOURCE if task.reference_auroc else None}


def main(argv: list[str] | None = None) -> int:
    """The exit status (2 on bad input or usage); ``argv`` defaults to ``sys.argv[1:]``."""
    return run_command(baseline_command, argv, prog="python -m seq2gen.baselines.gue",
                       help="Train the CNN baseline on one GUE task; print one JSON line of metrics on the held-out "
                            "split (GUE's dev split, deduplicated).")


def baseline_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Option(None, "--task", help="GUE task name (see --list)"),
    budget_s: Optional[float] = typer.Option(None, "--budget-s", help="wall-clock budget in seconds (default 300 "
                                             "when --max-steps is not given)"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps"),
    batch_size: int = typer.Option(128, "--batch-size"),
    seed: int = typer.Option(0, "--seed"),
    root: Optional[str] = typer.Option(None, "--root", help="GUE folder (default: $SEQ2GEN_REAL_DATA or "
                                       "../shared/data/real/gue)"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads (default 1: on a small shared machine 2 "
                                "OpenMP threads competing with other jobs ran up to 20x slower than 1)"),
    rc_augment: bool = typer.Option(False, "--rc-augment", help="reverse-complement augmentation (+ averaging)"),
    list_tasks: bool = typer.Option(False, "--list", help="list the tasks as JSON lines and exit"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="validation curve on stderr"),
) -> None:
    if list_tasks:
        for t in GUE_TASKS.values():
            print(json.dumps(asdict(t)))
        return
    if not task:
        raise usage_error("--task is required (or --list)", ctx)
    import torch

    torch.set_num_threads(threads)
    budget = budget_s if (budget_s is not None or max_steps is not None) else 300.0
    res = run_cnn_baseline(task, budget_s=budget, max_steps=max_steps, seed=seed, root=root, batch_size=batch_size,
                           rc_augment=rc_augment, verbose=verbose)
    print(json.dumps(res))


if __name__ == "__main__":
    sys.exit(main())
