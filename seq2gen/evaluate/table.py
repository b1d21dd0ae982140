"""Score a trained model on any labelled sequence table (CSV/TSV(.gz) or FASTA + labels) with its task's metrics.

``evaluate_table(model_dir, "gue_tf_0", "new_chipseq.csv.gz", out="eval/")`` reads the table with the task's own
column / label mapping (its ``sequence_table`` source, docs/gue.md), drops rows whose sequence (case-insensitive)
equals, lies inside or contains one the model trained and was selected on — the train + validation splits of every
table task in the model's registry (a joint model saw them all), rebuilt from their source files, or
``train_table`` — renders the rows exactly like the data build, and scores them with
``seq2gen.evaluate.run.evaluate_task`` (AUROC, AUPRC, MCC, accuracy; per-label precision / recall / F1 / AUROC /
AUPRC for classification). ``table`` may also be ``train``, ``validation`` or ``test``: the task's own split.

Writes ``OUT/<task>.json`` (all numbers), ``OUT/<task>.md`` (tables) and ``OUT/<task>.predictions.tsv`` (one row per
scored sequence), each atomically. ``evaluate_cmd`` is the typer command ``seq2gen evaluate table MODEL --task
NAME --table FILE [--out DIR]`` (registered by ``seq2gen/cli.py``).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import pandas as pd
import typer

from seq2gen.errors import InputError
from seq2gen.infer.cli import DEVICE_OPTION, DTYPE_OPTION

SPLIT_NAMES = ("train", "validation", "test")


def _load_model(model_dir, device: str, dtype: str, batch_size: int):
    if hasattr(model_dir, "predict_ids"):             # an already loaded Seq2Gen
        return model_dir
    from seq2gen.infer import Seq2Gen
    return Seq2Gen.from_pretrained(model_dir, device=device, dtype=dtype, batch_size=batch_size)


def read_params(task, overrides: dict | None = None) -> dict:
    """How to read a table for ``task``: its ``sequence_table`` source parameters, or — for a world task whose
    prompt holds only ``{dna}`` (zero-shot on real sequences) — defaults with ``0 → <no>, 1 → <yes>``."""
    from seq2gen.tasks.seqtable import PARAMS, is_table_task, params_of
    if task.family not in ("classification", "regression"):
        raise InputError(f"task {task.name!r} is a {task.family} task: a labelled table scores classification or "
                         "regression tasks")
    if is_table_task(task):
        p = dict(params_of(task))
    else:
        extra = [x for x in task.prompt if x.startswith("{") and x != "{dna}"]
        if extra:
            raise InputError(f"task {task.name!r} needs prompt fields {extra} that a sequence table does not give",
                             hint="use a task with a sequence_table source (task_templates/gue/) or one whose "
                                  "prompt has only {dna}")
        p = dict(PARAMS, kind="class" if task.family == "classification" else "value", fixed_length=False)
        toks = task.answer_grammar.get("tokens", [])
        if task.family == "classification" and sorted(toks) == ["<no>", "<yes>"]:
            p["labels"] = {0: "<no>", 1: "<yes>"}
    p.update(overrides or {})
    if p["kind"] == "class" and not p.get("labels"):
        raise InputError(f"task {task.name!r}: no mapping from table labels to its answer tokens "
                         f"{task.answer_grammar.get('tokens')}", hint="pass params={'labels': {0: '<no>', …}} "
                         "(seq2gen evaluate table … --param 'labels={0: <no>, 1: <yes>}')")
    return p


def _read(path, task, params: dict, root, fasta_labels=None) -> pd.DataFrame:
    from seq2gen.tasks.seqtable import read_table, resolve
    p = Path(path)
    if not p.is_file():
        p = resolve(path, root)                      # relative to the data root, like template paths
    return read_table(p, params, None if fasta_labels is None else Path(fasta_labels))


def seen_by(m, data_root=None) -> tuple[list[pd.DataFrame], str | None]:
    """What the model trained and was selected on: the train + validation splits of every table task it knows
    (a joint model saw them all), rebuilt from the task sources."""
    from seq2gen.tasks.seqtable import is_table_task, table_splits
    names = [t.name for t in m.registry if is_table_task(t)]
    refs = []
    for name in names:
        sp = table_splits(m.registry.get(name), data_root)
        refs += [sp["train"], sp["validation"]]
    return refs, (f"train + validation splits of the model's table tasks ({', '.join(names)})" if names else None)


def _clean(x):
    """JSON-safe: NaN/inf → None, numpy scalars → Python numbers."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.4f}"
    return str(v)


def to_markdown(res: dict) -> str:
    d = res["dedup"]
    lines = [f"# {res['task']} on {Path(res['table']).name}", "",
             f"Model `{res['model']}` · table `{res['table']}` · {res['date']}", "",
             f"Rows read {res['n_rows']}; dropped as also in {d['against'] or '(no reference)'}: "
             f"{_fmt(d['n_dropped'])}; scored {res['n_evaluated']}"
             + (f" (seeded sample of max_examples={res['max_examples']})" if res.get("sampled") else "") + ".", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in res["metrics"].items() if k != "family"]
    if res.get("per_class"):
        cols = ["n", "precision", "recall", "f1", "auroc", "auprc"]
        lines += ["", "| label | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [f"| `{lab}` | " + " | ".join(_fmt(m[c]) for c in cols) + " |" for lab, m in res["per_class"].items()]
    if res.get("label_counts"):
        lines += ["", "Labels scored: " + ", ".join(f"`{k}` {v}" for k, v in res["label_counts"].items())]
    return "\n".join(lines) + "\n"


def evaluate_table(model_dir, task: str, table, out=None, train_table=None, max_examples: int | None = None, *,
                   data_root=None, params: dict | None = None, fasta_labels=None, dedup: bool = True,
                   seed: int = 0, batch_size: int = 32, device: str = "cpu", dtype: str = "float32") -> dict:
    """Score ``model_dir`` (export folder or a loaded ``Seq2Gen``) on the labelled ``table`` for task ``task``.

    ``table``: a CSV/TSV(.gz) / FASTA path (relative paths also tried under the data root), or ``"validation"`` /
    ``"test"`` for the task's own split; ``train_table``: dedup reference instead of the train + validation splits
    of every table task the model knows (``seen_by``); ``max_examples``: seeded
    sample of the remaining rows; ``params``: overrides of the table-reading parameters (``seq_col``,
    ``label_col``, ``labels``, ``sep`` …); ``fasta_labels``: label table for a FASTA ``table``; ``dedup=False``
    keeps every row. Returns the result dict also written to ``out`` (when given).
    """
    from seq2gen.evaluate.run import evaluate_task, per_class
    from seq2gen.tasks.seqtable import to_rows
    t0 = time.perf_counter()
    m = _load_model(model_dir, device, dtype, batch_size)
    t = m.registry.get(task)
    p = read_params(t, params)
    df, info = _rows_to_score(m, t, table, p, train_table, data_root, fasta_labels, dedup)
    sampled = max_examples is not None and len(df) > max_examples
    if sampled:
        df = df.iloc[np.sort(np.random.default_rng(seed).choice(len(df), max_examples, replace=False))]
        df = df.reset_index(drop=True)
    rows = to_rows(t, df, m.tokenizer.vocab, p)
    ds, targets = _dataset(m, t, rows)
    scores, arrays = evaluate_task(m, t, ds, batch_size)
    res = {"task": t.name, "family": t.family, "model": str(getattr(m, "source", None) or model_dir),
           "table": info["table"], "date": time.strftime("%Y-%m-%d %H:%M"),
           "n_rows": int(info["n_rows"]), "dedup": {"against": info["against"], "n_dropped": info["n_dropped"]},
           "n_evaluated": len(ds), "sampled": bool(sampled), "max_examples": max_examples,
           "metrics": scores}
    if t.family == "classification":      # metrics.classification gives the macro AUPRC of >2 classes itself
        res["per_class"] = per_class(arrays["target"], arrays["prediction"], list(t.answer_grammar["tokens"]))
        res["label_counts"] = {k: int(v) for k, v in zip(*np.unique(np.asarray(targets, dtype=str),
                                                                  return_counts=True))}
    res["seconds"] = round(time.perf_counter() - t0, 2)
    res = _clean(res)
    if out is not None:
        _write(Path(out), t, res, rows, arrays)
    return res


def _rows_to_score(m, t, table, p: dict, train_table, data_root, fasta_labels, dedup: bool):
    """The table's rows (or the task's own split), minus those seen in training → (df, provenance)."""
    from seq2gen.tasks.overlap import dedup as drop_seen
    from seq2gen.tasks.seqtable import is_table_task, table_splits
    own_split = isinstance(table, str) and table in SPLIT_NAMES and not Path(table).exists()
    n_dropped, against = None, None
    if own_split:
        if not is_table_task(t):
            raise InputError(f"task {t.name!r} has no table splits of its own", hint="pass a table file")
        stats: dict = {}
        df = table_splits(t, data_root, stats)[table]
        n_rows = len(df) + sum(v for k, v in stats.items() if k.startswith(table))
        n_dropped = n_rows - len(df)
    else:
        df = _read(table, t, p, data_root, fasta_labels)
        n_rows = len(df)
    if dedup and table != "train":
        if train_table is not None:
            refs, against = [_read(train_table, t, p, data_root)], str(train_table)
        else:
            refs, against = seen_by(m, data_root)
        if refs:
            df, n = drop_seen(df, refs)
            n_dropped = (n_dropped or 0) + n
    if len(df) == 0:
        raise InputError("no rows left to score", path=None if own_split else table,
                         hint="every row's sequence is also in the training data" if n_rows else "empty table")
    return df, {"table": table if own_split else str(table), "n_rows": n_rows, "n_dropped": n_dropped,
                "against": against}


def _dataset(m, t, rows: pd.DataFrame):
    """Rows rendered and encoded exactly as the data pipeline does → (dataset, targets)."""
    from seq2gen.data.build import to_dataset
    from seq2gen.data.stream import encode_records
    from seq2gen.tasks.render import Renderer
    records = rows.to_dict("records")
    cols = encode_records(t, m.tokenizer, Renderer(t, m.tokenizer.vocab, m.quantizers.get(t.name)), records)
    return to_dataset(t, records, *cols), cols[4]


def _write(out: Path, t, res: dict, rows: pd.DataFrame, arrays: dict) -> None:
    from seq2gen.utils.io import atomic_write
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / f"{t.name}.json") as f:
        f.write(json.dumps(res, indent=1) + "\n")
    with atomic_write(out / f"{t.name}.md") as f:
        f.write(to_markdown(res))
    with atomic_write(out / f"{t.name}.predictions.tsv") as f:
        f.write(_predictions(t, rows, arrays).to_csv(sep="\t", index=False, lineterminator="\n"))


def _predictions(task, rows: pd.DataFrame, arrays: dict) -> pd.DataFrame:
    out = pd.DataFrame({"name": rows["name"].to_numpy(), "line": rows["line"].to_numpy()})
    pred = np.asarray(arrays["prediction"], dtype=np.float64)
    if task.family == "classification":
        labels = list(task.answer_grammar["tokens"])
        out["label"] = rows["label"].to_numpy()
        if pred.ndim == 1:
            from seq2gen.evaluate.run import positive_label
            out[f"p_{positive_label(labels)}"] = np.round(pred, 6)
        else:
            for i, lab in enumerate(labels):
                out[f"p_{lab}"] = np.round(pred[:, i], 6)
    else:
        out["value"] = rows["value"].to_numpy()
        out["expected"] = np.round(pred, 6)
    return out


# ---------------------------------------------------------------------------------------------------- CLI
def evaluate_cmd(
    model: Path = typer.Argument(..., help="Model directory (training export or Seq2Gen.save_pretrained)."),
    task: str = typer.Option(..., "--task", help="Task name the model knows, e.g. gue_tf_0."),
    table: str = typer.Option(..., "--table", help="Labelled CSV/TSV(.gz) or FASTA (label=… headers or "
                              "--fasta-labels); or train|validation|test for the task's own split."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for TASK.json, TASK.md, TASK.predictions.tsv."),
    train_table: Optional[Path] = typer.Option(None, "--train-table", help="Dedup against this table instead of "
                                               "the task's train + validation splits."),
    no_dedup: bool = typer.Option(False, "--no-dedup", help="Score every row, even those seen in training."),
    max_examples: Optional[int] = typer.Option(None, help="Score a seeded sample of at most this many rows."),
    fasta_labels: Optional[Path] = typer.Option(None, "--fasta-labels", help="name,label table for a FASTA."),
    param: Optional[List[str]] = typer.Option(None, "--param", help="Table-reading parameter KEY=VALUE (YAML "
                                             "value; repeatable): seq_col, label_col, sep, kind, labels, e.g. "
                                             "--param seq_col=seq --param 'labels={0: <no>, 1: <yes>}'."),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help="Where relative table paths start "
                                             "(default: $SEQ2GEN_REAL_DATA or ../shared/data/real)."),
    batch_size: int = typer.Option(32, help="Sequences per forward pass."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Score a model on a labelled sequence table with its task's metrics (deduplicated against training)."""
    from rich.console import Console
    console = Console(stderr=True)
    from seq2gen.utils.overrides import parse_overrides
    try:
        params = dict(parse_overrides(param)) or None
        res = evaluate_table(model, task, table, out=out, train_table=train_table, max_examples=max_examples,
                             data_root=data_root, params=params, fasta_labels=fasta_labels, dedup=not no_dedup,
                             batch_size=batch_size, device=device, dtype=dtype)
    except InputError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2)
    print(to_markdown(res), end="")
    if out is not None:
        console.print(f"results → {out / (res['task'] + '.json')}")


__all__ = ["evaluate_cmd", "evaluate_table", "read_params", "to_markdown"]
