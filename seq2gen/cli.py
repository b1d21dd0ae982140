"""``seq2gen`` command line (typer). Each command is a thin shell over a library function."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from seq2gen.data.cli import data_app
from seq2gen.errors import InputError

app = typer.Typer(help="seq2gen: genomics as text-to-text.", no_args_is_help=True, pretty_exceptions_enable=False)
vocab_app = typer.Typer(help="Build and inspect the extended vocabulary.", no_args_is_help=True)
app.add_typer(vocab_app, name="vocab")
app.add_typer(data_app, name="data")
console = Console()

DEFAULT_TOKENIZER = Path("runs/vocab")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


@vocab_app.command("build")
def vocab_build(
    config: Path = typer.Option(Path("vocab"), help="Folder of vocabulary YAML files."),
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
        tok = build_tokenizer(Vocabulary.from_dir(config), mode=mode, k=k, fasta=fasta, seed=seed, **extra)
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


@app.command()
def world(
    out: Path = typer.Option(Path("runs/world"), help="Output folder for the synthetic genome world."),
    size: str = typer.Option("500kb", help="Genome size, e.g. 500kb, 2Mb, 50Mb."),
    seed: int = typer.Option(0, help="Same seed → byte-identical files."),
) -> None:
    """Write the embedded synthetic genome world (FASTA, GTF, BED, bigWig, expression TSV, VCF, world.json)."""
    from seq2gen.world import generate_world
    try:
        manifest = generate_world(out, size=_parse_size(size), seed=seed, progress=True)
    except InputError as exc:
        _fail(exc)
    console.print(f"world: {manifest['size']:,} bp on {len(manifest['chromosomes'])} chromosomes, tissues "
                  f"{', '.join(manifest['tissues'])} → {out}")


def _parse_size(text: str) -> int:
    t = text.strip().lower().replace("_", "").replace(",", "")
    for suffix, mult in (("gb", 10**9), ("mb", 10**6), ("kb", 10**3), ("bp", 1), ("g", 10**9), ("m", 10**6),
                         ("k", 10**3)):
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * mult)
    try:
        return int(float(t))
    except ValueError:
        raise typer.BadParameter(f"cannot read size {text!r}; use e.g. 500kb, 2Mb, 50Mb") from None


EXAMPLE_PROMPTS = [
    "<task:expression> <tissue:liver> <chr:7> <bin:0027> <dna> ACGTTGCAAGGCTTAACGGATCAGT </dna>",
    "<task:promoter> <dna> tatataaAGGCGCGCCTTGACAGGN </dna>",
    "<task:variant_effect> <tissue:heart> <off:0012> <ref:A> <alt:G> <dna> TTGACAATTATAAAGGCA </dna>",
]


@app.command()
def quickstart(out: Path = typer.Option(Path("runs/quickstart"), help="Where every artefact is written.")) -> None:
    """The README's first command: vocabulary → (world → data → training → report → predictions as they land)."""
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    tok.save_pretrained(out / "tokenizer")
    console.print(f"[bold]vocabulary[/]: {len(tok)} tokens → {out / 'tokenizer'}")
    for prompt in EXAMPLE_PROMPTS:
        ids = tok.encode_prompt(prompt)
        console.print(f"\n[bold]{prompt}[/]\n  {len(ids)} ids: {ids}\n  tokens: {' '.join(tok.convert_ids_to_tokens(ids))}")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
