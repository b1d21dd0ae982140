"""``seq2gen`` command line (typer). Each command is a thin shell over a library function."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from seq2gen.data.cli import data_app
from seq2gen.errors import InputError
from seq2gen.infer.cli import DEVICE_OPTION, DTYPE_OPTION
from seq2gen.resources import study_presets

app = typer.Typer(help="seq2gen: genomics as text-to-text.", no_args_is_help=True, pretty_exceptions_enable=False)
vocab_app = typer.Typer(help="Build and inspect the extended vocabulary.", no_args_is_help=True)
app.add_typer(vocab_app, name="vocab")
app.add_typer(data_app, name="data")
evaluate_app = typer.Typer(help="Evaluate models: on a labelled table, by the transfer protocol, in the GUE study.",
                           no_args_is_help=True)
app.add_typer(evaluate_app, name="evaluate")
console = Console()

DEFAULT_TOKENIZER = Path("runs/vocab")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


@vocab_app.command("build")
def vocab_build(
    config: Optional[Path] = typer.Option(None, help="Folder of vocabulary YAML files (default: the shipped vocab/)."),
    out: Path = typer.Option(DEFAULT_TOKENIZER, help="Output folder (HF tokenizer + seq2gen_vocab.json)."),
    mode: str = typer.Option("char", help="Nucleotide mode: char | kmer | sentencepiece."),
    k: Optional[int] = typer.Option(None, help="k for kmer mode (default from vocab/nucleotides.yaml)."),
    fasta: Optional[Path] = typer.Option(None, help="FASTA to learn sentencepiece pieces from."),
    vocab_size: Optional[int] = typer.Option(None, help="Number of sentencepiece pieces."),
    seed: int = typer.Option(0),
) -> None:
    """Build the tokenizer from the YAML grammar and save it with save_pretrained."""
    from seq2gen.vocab import Vocabulary, build_tokenizer
    try:
        extra = {} if vocab_size is None else {"vocab_size": vocab_size}
        vocab = Vocabulary.from_dir(config) if config is not None else Vocabulary.from_dir()
        if fasta is not None:
            from seq2gen.genome import Fasta
            fasta = Fasta(fasta).sequences()
        tok = build_tokenizer(vocab, mode=mode, k=k, fasta=fasta, seed=seed, **extra)
    except InputError as exc:
        _fail(exc)
    tok.save_pretrained(out)
    groups = tok.vocab.groups
    console.print(f"built {mode} tokenizer: {len(tok)} tokens "
                  f"({', '.join(f'{g} {len(v)}' for g, v in groups.items())}, nucleotides "
                  f"{len(tok) - sum(map(len, groups.values()))}) → {out}")


@vocab_app.command("show")
def vocab_show(
    prompt: str = typer.Argument(..., help='A prompt, e.g. "<task:promoter> <dna> ACGT </dna>".'),
    tokenizer: Path = typer.Option(DEFAULT_TOKENIZER, help="Tokenizer folder from `seq2gen vocab build`."),
    mode: str = typer.Option("char", help="Used only when --tokenizer does not exist: build one on the fly."),
) -> None:
    """Print the tokens and ids of a prompt (validated: unknown tokens and bad bases are errors)."""
    from seq2gen.vocab import Seq2GenTokenizer, build_tokenizer
    try:
        tok = Seq2GenTokenizer.from_pretrained(tokenizer) if tokenizer.exists() else build_tokenizer(mode=mode)
        ids = tok.encode_prompt(prompt)
    except InputError as exc:
        _fail(exc)
    table = Table("#", "token", "id")
    for i, (t, j) in enumerate(zip(tok.convert_ids_to_tokens(ids), ids)):
        table.add_row(str(i), t, str(j))
    console.print(table)
    console.print(f"{len(ids)} tokens; decoded: {tok.decode(ids)}")


@vocab_app.command("add")
def vocab_add(
    tissue: Optional[list[str]] = typer.Option(None, "--tissue", help="New tissue / cell type name (repeatable)."),
    task: Optional[list[str]] = typer.Option(None, "--task", help="New task name (repeatable)."),
    species: Optional[list[str]] = typer.Option(None, "--species", help="New species name (repeatable)."),
    spec: Optional[Path] = typer.Option(None, help="Add every tissue of this data spec's sample sheet."),
    tokenizer: Optional[Path] = typer.Option(None, help="Saved tokenizer to extend (e.g. a model's export)."),
    out: Optional[Path] = typer.Option(None, help="Where the extended tokenizer goes (with --tokenizer)."),
    config: Optional[Path] = typer.Option(None, help="Or: a vocabulary folder whose added.yaml gets the names."),
) -> None:
    """Add tissue/task/species tokens after every existing id, so a trained model keeps its ids and only grows its
    embedding when fine-tuned with `init_from` (docs/own-data.md)."""
    from seq2gen.vocab.extend import add_to_vocab_dir, extend_tokenizer
    names = {"tissue": list(tissue or []), "task": list(task or []), "species": list(species or [])}
    try:
        if spec is not None:
            from seq2gen.data.specworld import SpecWorld
            names["tissue"] += SpecWorld(spec).tissues
        if (tokenizer is None) == (config is None):
            raise InputError("give --tokenizer DIR --out NEW_DIR, or --config VOCAB_DIR")
        if tokenizer is not None:
            from seq2gen.vocab import Seq2GenTokenizer
            if out is None:
                raise InputError("--tokenizer needs --out (the extended copy is written there)")
            tok, added, known = extend_tokenizer(Seq2GenTokenizer.from_pretrained(tokenizer), names)
            tok.save_pretrained(out)
        else:
            added, known = add_to_vocab_dir(config, names), []
    except InputError as exc:
        _fail(exc)
    console.print(f"added {len(added)} token(s): {' '.join(added) or '-'}"
                  + (f"; already known: {' '.join(known)}" if known else "") + f" → {out or config}")


@app.command()
def world(
    out: Path = typer.Option(Path("runs/world"), help="Output folder for the synthetic genome world."),
    size: str = typer.Option("500kb", help="Genome size, e.g. 500kb, 2Mb, 50Mb."),
    seed: int = typer.Option(0, help="Same seed → byte-identical files."),
    style: str = typer.Option("default", help="default | encode: real-world conventions (bgzip FASTA/VCF, "
                              "GENCODE GTF, narrowPeak per cell type, GCT, Ensembl names; docs/own-data.md)."),
) -> None:
    """Write the embedded synthetic genome world (FASTA, GTF, BED, bigWig, expression TSV, VCF, world.json, and
    data_spec.yaml for `seq2gen data build --spec`)."""
    from seq2gen.utils.units import parse_size
    from seq2gen.world import generate_world
    try:
        manifest = generate_world(out, size=parse_size(size), seed=seed, progress=True, style=style)
    except InputError as exc:
        _fail(exc)
    console.print(f"world: {manifest['size']:,} bp on {len(manifest['chromosomes'])} chromosomes, tissues "
                  f"{', '.join(manifest['tissues'])} → {out}")


@app.command()
def quickstart(
    out: Path = typer.Option(Path("runs/quickstart"), help="Where every artefact is written."),
    config: Optional[Path] = typer.Option(None, help="Quickstart YAML (default configs/quickstart.yaml)."),
    steps: Optional[int] = typer.Option(None, help="Override the number of training steps."),
    size: Optional[str] = typer.Option(None, help="Override the world size, e.g. 2Mb."),
) -> None:
    """The README's first command: world → vocabulary → datasets → joint training → evaluation → predictions."""
    from seq2gen.quickstart import run_quickstart
    overrides = {}
    if steps is not None:
        overrides["train_overrides.max_steps"] = steps
    if size is not None:
        overrides["world.size"] = size
    try:
        run_quickstart(out, config, overrides, console)
    except InputError as exc:
        _fail(exc)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(ctx: typer.Context,
          config: Path = typer.Option(..., help="Train YAML (configs/train/*.yaml)."),
          resume: bool = typer.Option(False, help="Continue from the latest complete checkpoint."),
          set_: Optional[list[str]] = typer.Option(None, "--set", help="Override a key, e.g. --set max_steps=100.")
          ) -> None:
    """Train on a mixture with DeepSpeed (same as `python -m seq2gen.train`; multi-process via `deepspeed -m`)."""
    from seq2gen.train.__main__ import main as train_main
    argv = ["--config", str(config)] + [a for s in (set_ or []) for a in ("--set", s)] + (["--resume"] if resume
                                                                                           else [])
    raise typer.Exit(train_main(argv + list(ctx.args)))


def _run_study(study, run, load, report, config: Path, out: Optional[Path], *, no_resume: bool, report_only: bool,
               quiet: bool, seeds: Optional[str], merge: Optional[list[Path]]) -> None:
    """Both studies' command: run (resumable; ``seeds``: a part of it), gather ``--seeds`` parts (``merge``) or
    rebuild the report from results.json; print the headline. ``study``: the study's module (``plan``,
    ``cell_key``); ``run``/``load``: its run and config functions; ``report``: its report module."""
    import json
    import logging

    from seq2gen.evaluate.study import merge_runs, seed_subset, seeds_folder
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(name)s: %(message)s")
    try:
        if sum(map(bool, (report_only, seeds, merge))) > 1:
            raise InputError("--seeds, --merge and --report-only are separate steps; give one of them")
        if report_only:
            where = Path(out or load(config).out_dir)
            results = json.loads((where / "results.json").read_text())
            report.write_report(results, where)
        elif merge:
            cfg = load(config)
            where = Path(out or cfg.out_dir)
            results = merge_runs(cfg, study.plan(cfg), lambda c: study.cell_key(cfg, c), merge, where)
            report.write_report(results, where)
        else:
            cfg = load(config)
            if seeds:
                try:
                    chosen = [int(x) for x in seeds.split(",") if x.strip()]
                except ValueError:
                    raise InputError(f"--seeds wants comma-separated integers, got {seeds!r}") from None
                cfg = seed_subset(cfg, chosen, where=config)
                out = out or seeds_folder(cfg.out_dir, cfg.seeds)
            results = run(cfg, out_dir=out, resume=not no_resume, progress=not quiet)
    except InputError as exc:
        _fail(exc)
    print(report.headline(results))


_STUDY_OPTIONS = dict(
    out=typer.Option(None, "--out", help="Output folder (default: the config's out_dir)."),
    no_resume=typer.Option(False, "--no-resume", help="Recompute cells that already have results."),
    report_only=typer.Option(False, "--report-only", help="Rebuild the report and plots from results.json."),
    quiet=typer.Option(False, "--quiet", help="No progress bars."),
    seeds=typer.Option(None, "--seeds", help="Run only these of the config's seeds (e.g. 0,1), into <out_dir>_s0-1 "
                       "unless --out: one process per core, gathered with --merge."),
    merge=typer.Option(None, "--merge", help="Compute nothing: gather every cell of the config from these finished "
                       "--seeds runs (repeat the option per folder) into --out and write the report."),
)


def transfer_cmd(
    config: Path = typer.Option(..., help="Transfer preset (configs/transfer/*.yaml) or its name: "
                                f"{', '.join(study_presets())}."),
    out: Optional[Path] = _STUDY_OPTIONS["out"], no_resume: bool = _STUDY_OPTIONS["no_resume"],
    report_only: bool = _STUDY_OPTIONS["report_only"], quiet: bool = _STUDY_OPTIONS["quiet"],
    seeds: Optional[str] = _STUDY_OPTIONS["seeds"], merge: Optional[list[Path]] = _STUDY_OPTIONS["merge"],
) -> None:
    """Run the transfer-evaluation protocol (resumable per cell) and write report.md + plots (docs/transfer.md)."""
    from seq2gen.evaluate import report, transfer
    _run_study(transfer, transfer.run_transfer, transfer.load_transfer_config, report, config, out,
               no_resume=no_resume, report_only=report_only, quiet=quiet, seeds=seeds, merge=merge)


def gue_cmd(
    config: Path = typer.Option(..., help="configs/transfer/gue_*.yaml or a preset name: "
                                f"{', '.join(study_presets(gue=True))}."),
    out: Optional[Path] = _STUDY_OPTIONS["out"], no_resume: bool = _STUDY_OPTIONS["no_resume"],
    report_only: bool = _STUDY_OPTIONS["report_only"], quiet: bool = _STUDY_OPTIONS["quiet"],
    seeds: Optional[str] = _STUDY_OPTIONS["seeds"], merge: Optional[list[Path]] = _STUDY_OPTIONS["merge"],
) -> None:
    """Run the GUE real-data transfer study (single vs joint vs pre-trained vs CNN; resumable) and write its report
    (docs/gue.md, "Study")."""
    from seq2gen.evaluate import gue_report, gue_study
    _run_study(gue_study, gue_study.run_gue_study, gue_study.load_config, gue_report, config, out,
               no_resume=no_resume, report_only=report_only, quiet=quiet, seeds=seeds, merge=merge)


def compare_cmd(
    base: Path = typer.Argument(..., help="The base study's folder (or its results.json)."),
    base_arm: str = typer.Argument(..., help="Its arm, e.g. joint:chromatin@0.1."),
    other: Path = typer.Argument(..., help="The other study's folder (or its results.json)."),
    other_arm: str = typer.Argument(..., help="Its arm."),
    task: str = typer.Option(..., help="The task both arms scored."),
) -> None:
    """Compare an arm of one transfer study with an arm of another on the same test rows (other − base, seeds
    paired, rows bootstrapped): a run against its control run when the two live in different presets."""
    import json

    from seq2gen.evaluate import report

    def load(p: Path) -> dict:
        p = p / "results.json" if p.is_dir() else p
        if not p.is_file():
            _fail(InputError("no results.json here", path=p, hint="run the study first"))
        return json.loads(p.read_text())
    try:
        r = report.compare_runs(load(base), base_arm, load(other), other_arm, task)
    except InputError as exc:
        _fail(exc)
    typer.echo(report.compare_line(r, base_arm, other_arm))


def serve_cmd(
    model: Path = typer.Argument(..., help="Model directory."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
    host: str = typer.Option("127.0.0.1", help="Interface to bind (0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8000),
    fasta: Optional[Path] = typer.Option(None, help="Reference FASTA for /score-vcf."),
    max_length: int = typer.Option(8192, help="Longest sequence/prompt accepted (characters)."),
    max_batch: int = typer.Option(64, help="Most prompts/variants per request."),
) -> None:
    """Serve the model over HTTP (FastAPI; OpenAPI docs at /docs); needs pip install "seq2gen[serve]"."""
    import uvicorn

    from seq2gen.serve import create_app
    try:
        app = create_app(model, max_length=max_length, max_batch=max_batch, fasta=fasta, device=device, dtype=dtype)
    except InputError as exc:
        _fail(exc)
    uvicorn.run(app, host=host, port=port, workers=1)


def _register_commands() -> None:
    from seq2gen.evaluate.table import evaluate_cmd
    from seq2gen.infer.cli import predict_cmd, score_vcf_cmd
    app.command("predict")(predict_cmd)
    app.command("score-vcf")(score_vcf_cmd)
    app.command("serve")(serve_cmd)
    from seq2gen.interpret.cli import design_cmd, explain_cmd, motifs_cmd
    app.command("explain")(explain_cmd)
    app.command("motifs")(motifs_cmd)
    app.command("design")(design_cmd)
    evaluate_app.command("table")(evaluate_cmd)
    evaluate_app.command("transfer")(transfer_cmd)
    evaluate_app.command("gue")(gue_cmd)
    evaluate_app.command("compare")(compare_cmd)
    app.command("transfer", hidden=True, help="Alias of `seq2gen evaluate transfer`.")(transfer_cmd)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console entry (``seq2gen``, ``python -m seq2gen``)."""
    app(argv, prog_name="seq2gen")


if __name__ == "__main__":  # pragma: no cover
    main()
