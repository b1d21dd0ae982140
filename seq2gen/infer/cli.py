"""CLI commands of the inference layer, registered by ``seq2gen/cli.py``::

    app.command("predict")(predict_cmd)
    app.command("score-vcf")(score_vcf_cmd)

``seq2gen predict MODEL "<prompt>"`` · ``seq2gen predict MODEL --tsv in.tsv [--out out.tsv]`` ·
``seq2gen score-vcf MODEL --vcf v.vcf --fasta g.fa --tissue liver --out scores.tsv [--resume]``. Bad input prints
``error: …`` and exits with status 2. (``seq2gen serve`` is in ``seq2gen/cli.py``: the server is a later layer.)
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from seq2gen.errors import InputError

console = Console(stderr=True)

# The model-placement options every command that loads a model shares (predict, score-vcf, explain, design,
# serve, evaluate table): one declaration, one help text.
DEVICE_OPTION = typer.Option("cpu", help="cpu, cuda, cuda:1 …")
DTYPE_OPTION = typer.Option("float32", help="float32 | bfloat16 | float16")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(2)


def _load(model: Path, device: str, dtype: str, batch_size: int, fasta: Optional[Path] = None):
    from seq2gen.infer import Seq2Gen
    return Seq2Gen.from_pretrained(model, device=device, dtype=dtype, batch_size=batch_size, fasta=fasta)


def _row(pred) -> dict:
    """Flat TSV/JSON fields of a prediction (the same columns for every task; empty where they do not apply)."""
    d = {"task": pred.task, "answer": pred.answer, "parsed": json.dumps(pred.parsed, default=list),
         "finished": pred.finished, "probs": "", "expected": "", "argmax": "", "lo": "", "hi": ""}
    if pred.probs is not None:
        d["probs"] = json.dumps({k: round(v, 6) for k, v in pred.probs.items()})
    if pred.value is not None:
        v = pred.value.to_dict()
        for k in ("expected", "argmax", "lo", "hi"):
            d[k] = v[k][0] if len(v[k]) == 1 else json.dumps(v[k])
    return d


def predict_cmd(
    model: Path = typer.Argument(..., help="Model directory (training export or Seq2Gen.save_pretrained)."),
    prompt: Optional[str] = typer.Argument(None, help='One prompt, e.g. "<task:promoter> <dna> ACGT… </dna>".'),
    tsv: Optional[Path] = typer.Option(None, "--tsv", help="TSV with a 'prompt' column (other columns are kept)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output TSV for --tsv (default: stdout)."),
    batch_size: int = typer.Option(32, help="Prompts per forward pass."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Default: the longest answer the grammar allows."),
    chunk_size: int = typer.Option(4096, help="TSV rows read and answered at a time (bounded memory)."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Answer one prompt (printed as JSON) or every prompt of a TSV (answers added as columns)."""
    import pandas as pd

    from seq2gen.utils.io import atomic_write
    if (prompt is None) == (tsv is None):
        _fail(InputError("give either one PROMPT or --tsv FILE"))
    try:
        m = _load(model, device, dtype, batch_size)
        if prompt is not None:
            print(json.dumps(_row(m.predict(prompt, max_new_tokens=max_new_tokens))))
            return
        if not tsv.is_file():
            raise InputError("no such TSV file", path=tsv)

        def write(f):
            first = True
            reader = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False, chunksize=chunk_size)
            for start, chunk in _chunks(reader):
                if "prompt" not in chunk.columns:
                    raise InputError("the TSV has no 'prompt' column", path=tsv,
                                     hint=f"columns: {', '.join(chunk.columns)}")
                try:
                    preds = m.predict(chunk["prompt"].tolist(), max_new_tokens=max_new_tokens)
                except InputError as exc:           # name the TSV line (header = line 1, one line per row)
                    hit = re.match(r"prompt (\d+): (.*)", str(exc), re.S)
                    if hit:
                        raise InputError(hit.group(2), path=tsv, line=start + int(hit.group(1)) + 2) from None
                    raise InputError(str(exc), path=tsv, hint=f"rows {start + 2}–{start + len(chunk) + 1}") from None
                res = pd.concat([chunk.reset_index(drop=True), pd.DataFrame([_row(p) for p in preds])], axis=1)
                f.write(res.to_csv(sep="\t", index=False, header=first, lineterminator="\n"))
                first = False

        try:
            if out is None:
                write(sys.stdout)
            else:
                with atomic_write(out) as f:
                    write(f)
                console.print(f"answers → {out}")
        except UnicodeDecodeError:
            from seq2gen.utils.io import read_text
            read_text(tsv)                          # raises the located error (line, byte offset)
            raise
    except InputError as exc:
        _fail(exc)


def _chunks(reader):
    start = 0
    for chunk in reader:
        yield start, chunk
        start += len(chunk)


def score_vcf_cmd(
    model: Path = typer.Argument(..., help="Model directory."),
    vcf: Path = typer.Option(..., "--vcf", help="VCF (plain or .gz) of SNVs / short indels."),
    fasta: Path = typer.Option(..., "--fasta", help="Reference FASTA the VCF was called against."),
    out: Path = typer.Option(..., "--out", help="Output TSV (written as OUT.partial, renamed when complete)."),
    tissue: Optional[List[str]] = typer.Option(None, "--tissue", help="Tissue(s) for the task score "
                                               "(repeat the option); default: every trained tissue."),
    method: Optional[List[str]] = typer.Option(None, "--method", help="task, zero_shot and/or delta (repeat); "
                                               "default: task, plus zero_shot if the model trained span "
                                               "corruption."),
    delta_task: str = typer.Option("expression", help="--method delta: the task whose ALT − REF prediction "
                                   "change is the score (expression, chromatin, tf_binding)."),
    genes: Optional[Path] = typer.Option(None, "--genes", help="--method delta: GTF whose TSSs anchor "
                                         "TSS-centred tasks (expression) in gene orientation."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run (no duplicate rows)."),
    chunk_size: int = typer.Option(2048, help="VCF records read and scored at a time (bounded memory)."),
    batch_size: int = typer.Option(64, help="Prompts per forward pass."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Score every VCF record: variant-task effect per tissue, the zero-shot log-likelihood ratio and/or the
    ALT − REF change of another task's prediction (delta)."""
    from seq2gen.infer.variants import write_scores
    try:
        m = _load(model, device, dtype, batch_size)
        res = write_scores(m, vcf, fasta, out, tissue=list(tissue) if tissue else None,
                           methods=tuple(method) if method else None, chunk_size=chunk_size, batch_size=batch_size,
                           resume=resume, progress=progress, delta_task=delta_task, genes=genes)
    except InputError as exc:
        _fail(exc)
    if res["rows"] is None:
        console.print(f"{out} is already complete")
    else:
        console.print(f"{res['rows']} variants scored → {out}")
