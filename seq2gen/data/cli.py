"""``seq2gen data …`` commands (a typer app mounted by ``seq2gen/cli.py`` as ``data``)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

data_app = typer.Typer(help="Render task templates on a world into tokenized datasets.", no_args_is_help=True)


@data_app.callback()
def _group() -> None:
    """Render task templates on a world into tokenized datasets (``seq2gen data build``)."""


@data_app.command("build")
def build(
    world: Optional[Path] = typer.Option(None, help="World folder (world.json, genome.fa, genes.gtf, peaks.bed, "
                                         "…); not needed when every task reads a table (--tasks "
                                         "task_templates/gue)."),
    spec: Optional[Path] = typer.Option(None, help="Data spec YAML naming your own genome files (genome, "
                                        "annotation, samples, expression, variants, splits; docs/own-data.md)."),
    data_root: Optional[Path] = typer.Option(None, help="Where table tasks' relative paths start (default: "
                                             "$SEQ2GEN_REAL_DATA or ../shared/data/real)."),
    tasks: Optional[Path] = typer.Option(None, help="Folder of task template YAML files (default: the repo's "
                                                   "task_templates/)."),
    tokenizer: Optional[Path] = typer.Option(None, help="Tokenizer folder from `seq2gen vocab build`."),
    mode: str = typer.Option("char", help="Nucleotide mode for a tokenizer built on the fly (no --tokenizer)."),
    out: Path = typer.Option(..., help="Output folder (one DatasetDict per task + quantizers/tasks/config JSON)."),
    only: Optional[List[str]] = typer.Option(None, "--only", help="Build only these tasks (repeatable)."),
    mixture: Optional[str] = typer.Option(None, help="Build a mixture's tasks with its overrides (name or YAML)."),
    max_per_task: Optional[int] = typer.Option(None, help="Cap train rows per task (eval splits ≤ this too)."),
    seed: int = typer.Option(0),
    num_proc: int = typer.Option(1, help="Build tasks in this many worker processes (same rows as one)."),
    chunk_rows: int = typer.Option(4096, help="Rows fetched, rendered and written at a time per split (bounds "
                                   "memory; same rows for any value)."),
    force: bool = typer.Option(False, help="Rebuild even when the config hash matches."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Build train/validation/test datasets (world tasks split by chromosome, table tasks by their files); skipped
    when the config hash is unchanged."""
    import json
    import time

    from rich.console import Console

    from seq2gen.errors import InputError
    console = Console()
    try:
        from seq2gen.data.build import CONFIG_FILE, build_datasets
        from seq2gen.tasks import TaskRegistry
        from seq2gen.vocab import Seq2GenTokenizer, build_tokenizer
        if spec is not None and world is not None:
            raise InputError("give --world DIR or --spec FILE, not both")
        tok = Seq2GenTokenizer.from_pretrained(tokenizer) if tokenizer else build_tokenizer(mode=mode)
        from seq2gen.tasks import DEFAULT_TEMPLATES_DIR
        registry = TaskRegistry.from_dir(tasks or DEFAULT_TEMPLATES_DIR, vocab=tok.vocab)
        names = list(only) if only else None
        if mixture:
            mix = registry.mixture(mixture)
            registry = mix.apply(registry)
            names = names or mix.tasks
        t0 = time.perf_counter()
        ds = build_datasets(spec or world, registry, tok, out, tasks=names, max_per_task=max_per_task, seed=seed,
                            progress=progress, force=force, data_root=data_root, num_proc=num_proc,
                            chunk_rows=chunk_rows)
    except InputError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2)
    seconds = time.perf_counter() - t0
    cfg = json.loads((out / CONFIG_FILE).read_text())
    for name, d in ds.items():
        sizes = ", ".join(f"{k} {len(v)}" for k, v in d.items())
        notes = {k: v for k, v in cfg.get("stats", {}).get(name, {}).items() if isinstance(v, int)}
        console.print(f"{name}: {sizes}" + (f"  [dim]{notes}[/]" if notes else ""))
    for key, value in cfg.get("inputs", {}).items():
        console.print(f"[yellow]inputs:[/] {key}: {value}")
    console.print(f"{len(ds)} tasks → {out} in {seconds:.1f} s (config hash {cfg['hash'][:12]})")
