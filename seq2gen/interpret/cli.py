"""``seq2gen explain``, ``seq2gen motifs`` and ``seq2gen design`` (registered by ``seq2gen/cli.py``)::

    seq2gen explain MODEL --prompt "<task:promoter> <dna> … </dna>" --out DIR
    seq2gen explain MODEL --region chr5:1,001-1,384:+ --task expression --tissue liver --fasta genome.fa --out DIR
    seq2gen motifs MODEL --task expression --tissue liver --regions tss.bed --fasta genome.fa --out MOTIFS
    seq2gen design MODEL --task expression --tissue liver --target high [--against heart] --n 20 \\
        [--patterns MOTIFS/motifs.json] --out DIR
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from seq2gen.errors import InputError
from seq2gen.infer.cli import DEVICE_OPTION, DTYPE_OPTION, _fail, _load, console


def explain_cmd(
    model: Path = typer.Argument(..., help="Model directory."),
    out: Path = typer.Option(..., "--out", help="Output folder (index.html, PNGs, explain.json, TSVs)."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="A raw prompt with one <dna> … </dna> run."),
    region: Optional[str] = typer.Option(None, "--region", help="chrom:start-end[:strand] (1-based), with --task."),
    seq: Optional[str] = typer.Option(None, "--seq", help="A DNA string, with --task."),
    task: Optional[str] = typer.Option(None, "--task", help="Task for --region/--seq."),
    tissue: Optional[str] = typer.Option(None, "--tissue"),
    fasta: Optional[Path] = typer.Option(None, "--fasta", help="Reference for --region."),
    bigwig: Optional[Path] = typer.Option(None, "--bigwig", help="Observed track for track tasks (--region)."),
    gtf: Optional[Path] = typer.Option(None, "--gtf", help="Gene model drawn under predicted spans (--region)."),
    attribution: str = typer.Option("integrated_gradients", help="saliency | input_x_gradient | "
                                    "integrated_gradients | none"),
    label: Optional[str] = typer.Option(None, help="Choice tasks: the label whose log-probability is explained."),
    n_steps: int = typer.Option(32, help="Integrated-gradients steps."),
    batch_size: int = typer.Option(128, help="Mutants per forward pass."),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """In-silico mutagenesis + attributions (+ track / annotation plots for regions) → an HTML report."""
    from seq2gen.interpret.report import explain
    given = [x is not None for x in (prompt, region, seq)]
    if sum(given) != 1:
        _fail(InputError("give exactly one of --prompt, --region, --seq"))
    try:
        m = _load(model, device, dtype, batch_size, fasta)
        summary = explain(m, out, prompt=prompt, seq=region or seq, task=task, tissue=tissue, bigwig=bigwig,
                          gtf=gtf, attribution=attribution, label=label, n_steps=n_steps)
    except InputError as exc:
        _fail(exc)
    console.print(f"{summary['score']} = {summary['ref_score']:.4g}; report → {out / 'index.html'}")


def design_cmd(
    model: Path = typer.Argument(..., help="Model directory."),
    out: Path = typer.Option(..., "--out", help="Output folder (designs.tsv, rounds.png, design.json)."),
    task: str = typer.Option("expression", help="Task whose prediction is optimised."),
    tissue: str = typer.Option(..., "--tissue"),
    target: str = typer.Option("high", help="high | low"),
    against: Optional[str] = typer.Option(None, "--against", help="Stay low in this tissue (tissue-specific)."),
    n: int = typer.Option(20, "--n", help="Number of designs (independent lineages)."),
    rounds: int = typer.Option(40, help="Rounds of (1 + k) evolution."),
    k: int = typer.Option(16, help="Proposals per lineage per round."),
    edit_budget: int = typer.Option(40, help="Most bases a design may differ from its start."),
    world: Optional[Path] = typer.Option(None, "--world", help="World folder: motif-free starts and the true "
                                         "generative function's score of every design."),
    patterns: Optional[Path] = typer.Option(None, "--patterns", help="Motifs proposals may insert whole: "
                                            "motifs.json of scripts/explain_study.py (TF-MoDISco patterns of the "
                                            "model's attributions) or one ACGT string per line."),
    insert_fraction: float = typer.Option(1.0, help="Share of proposals that insert a pattern (with --patterns; "
                                          "the rest are single-base edits)."),
    screen: float = typer.Option(3.0, help="Insert only patterns whose gain beats their shuffles' by this many "
                                 "standard deviations (a global importance analysis; docs/explain.md)."),
    max_patterns: Optional[int] = typer.Option(None, "--max-patterns", help="Insert at most this many screened "
                                               "patterns, highest z first."),
    chrom: str = typer.Option("chr1", help="Position tokens of prompts that carry them."),
    pos: int = typer.Option(0),
    seed: int = typer.Option(0),
    batch_size: int = typer.Option(128),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """Model-guided design of sequences with a high (or low, or tissue-specific) predicted score."""
    from seq2gen.interpret.design import design
    from seq2gen.interpret.motifs import load_patterns
    from seq2gen.interpret.world_truth import WorldTruth
    try:
        pats = load_patterns(patterns) if patterns is not None else None
        m = _load(model, device, dtype, batch_size)
        truth = WorldTruth(world) if world is not None else None
        res = design(m, task, tissue, against, target, n, rounds, k, edit_budget, seed=seed, chrom=chrom, pos=pos,
                     world=truth, batch_size=batch_size, progress=True, patterns=pats,
                     insert_fraction=insert_fraction, screen=screen, max_patterns=max_patterns)
        summary = write_design(out, res, m, task, tissue, against, truth)
    except InputError as exc:
        _fail(exc)
    msg = f"{n} designs ({res.describe}) → {out / 'designs.tsv'}"
    if "design_percentile" in summary.get("truth", {}):
        msg += f"; true-score percentile among real promoters: median {summary['truth']['median_percentile']:.1f}"
    console.print(msg)


def motifs_cmd(
    model: Path = typer.Argument(..., help="Model directory."),
    out: Path = typer.Option(..., "--out", help="Output folder (motifs.json, motifs.png)."),
    task: str = typer.Option(..., "--task", help="Task whose score is attributed (e.g. expression)."),
    tissue: Optional[str] = typer.Option(None, "--tissue"),
    regions: Optional[Path] = typer.Option(None, "--regions", help="BED of windows (strand from column 6), with "
                                           "--fasta; each is centred on the task's window length."),
    fasta: Optional[Path] = typer.Option(None, "--fasta", help="Reference for --regions."),
    sequences: Optional[Path] = typer.Option(None, "--sequences", help="FASTA of windows instead of --regions."),
    genes: Optional[Path] = typer.Option(None, "--genes", help="GTF/GFF instead of --regions: the task's window at "
                                         "every gene's TSS (gene orientation), with --fasta."),
    max_windows: int = typer.Option(400, help="Attribute at most this many windows (the first ones)."),
    width: int = typer.Option(16, help="Length of each pattern's insertable core (for seq2gen design)."),
    chrom: str = typer.Option("chr1", help="Position tokens of every window's prompt (tasks that carry them): the "
                              "fixed context seq2gen design scores in, not each region's own."),
    pos: int = typer.Option(0),
    batch_size: int = typer.Option(64),
    device: str = DEVICE_OPTION,
    dtype: str = DTYPE_OPTION,
) -> None:
    """TF-MoDISco motifs of the model's attributions over many windows → motifs.json (+ logos); its patterns feed
    ``seq2gen design --patterns``."""
    import pandas as pd

    from seq2gen.genome import Fasta, read_bed
    from seq2gen.infer.regions import Region
    from seq2gen.interpret import plots
    from seq2gen.interpret.motifs import find_motifs, patterns_json
    try:
        if sum(x is not None for x in (regions, sequences, genes)) != 1:
            raise InputError("give one of --regions or --genes (with --fasta), or --sequences")
        if (regions is not None or genes is not None) and fasta is None:
            raise InputError("--regions and --genes need --fasta")
        m = _load(model, device, dtype, batch_size, fasta)
        if regions is not None:
            bed = read_bed(regions, Fasta(fasta).contigs).head(max_windows)
            strands = bed["strand"].astype(str) if "strand" in bed else pd.Series(["."] * len(bed))
            seqs = [Region(c, int(a), int(b), s if s in ("+", "-") else "+")
                    for c, a, b, s in zip(bed["chrom"], bed["start"], bed["end"], strands)]
            if (~strands.isin(["+", "-"])).any():
                console.print(f"{int((~strands.isin(['+', '-'])).sum())} of {len(bed)} regions have no strand "
                              f"(column 6 missing or '.'): read on the + strand")
        elif genes is not None:
            seqs, skipped = tss_windows(m, task, genes, Fasta(fasta).contigs)
            if skipped:
                console.print(f"{skipped} gene(s) skipped: their {task} window at the TSS would leave the contig")
            seqs = seqs[:max_windows]
        else:
            seqs = list(Fasta(sequences).sequences())[:max_windows]
        pats = find_motifs(m, task, seqs, tissue, chrom, pos, batch_size)
        out.mkdir(parents=True, exist_ok=True)
        rows = patterns_json(pats, width)
        (out / "motifs.json").write_text(json.dumps({"task": task, "tissue": tissue, "n_windows": len(seqs),
                                                     "patterns": rows}, indent=1) + "\n")
        if pats:
            import matplotlib.pyplot as plt
            fig, axes = plt.subplots(len(pats), 1, figsize=(11, 1.5 * len(pats)), squeeze=False)
            for i, (ax, p, r) in enumerate(zip(axes[:, 0], pats, rows)):
                plots.plot_logo(p["cwm"], ax=ax, title=f"pattern {i} "
                                f"({'+' if p['sign'] > 0 else '−'}, {p['n_seqlets']} seqlets), core {r['core']}")
            plots.save(fig, out / "motifs.png")
    except InputError as exc:
        _fail(exc)
    console.print(f"{len(pats)} patterns from {len(seqs)} windows → {out / 'motifs.json'}")


def tss_windows(m, task: str, gtf: Path, contigs: dict) -> tuple[list, int]:
    """``(regions, skipped)``: the task's window at every gene's TSS of ``gtf`` (gene orientation, ``before``
    bases upstream; ``Region.resized`` of the TSS base), in file order, and how many genes were skipped because
    their window would leave the contig. A gene on a contig the FASTA lacks is a located error (``read_gtf``'s
    contig check, with a chr1-vs-1 hint), not a skip."""
    from seq2gen.genome import read_gtf, tss
    from seq2gen.infer.regions import Region
    w = m.registry.get(task).window
    out, skipped = [], 0
    t = tss(read_gtf(gtf, contigs))
    for c, p, s in zip(t["chrom"], t["pos"].to_numpy(int), t["strand"]):
        try:
            r = Region(c, int(p), int(p) + 1, s).resized(w.length, w.before, 0)
        except InputError:                      # the window would start before the contig
            r = None
        if r is None or r.end > contigs[c]:
            skipped += 1
        else:
            out.append(r)
    return out, skipped


def write_design(out: Path, res, m, task: str, tissue: str, against, truth) -> dict:
    """designs.tsv, rounds.png and design.json (with the world's true scores when ``truth`` is given)."""
    import numpy as np
    import pandas as pd

    from seq2gen.interpret import plots
    from seq2gen.interpret.design import judge
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame({"design": range(len(res.designs)), "sequence": res.designs, "start": res.starts,
                          "model_score": res.scores, "edits": res.edits})
    summary = {"objective": res.describe, "rounds": len(res.history) - 1, "model_score_start": res.history[0].tolist(),
               "model_score_final": res.scores.tolist(), "patterns": res.patterns, "screen": res.screen}
    true_hist = None
    if truth is not None:
        w = m.registry.get(task).window
        j = judge(truth, res, tissue, against, w.before)
        j["median_percentile"] = float(np.median(j["design_percentile"]))
        summary["truth"] = j
        table["true_f"] = j["design_true"]
        table["true_percentile"] = j["design_percentile"]
        if against:
            table["true_specificity_percentile"] = j["specificity_percentile"]
        ti = truth.tissues.index(tissue)
        true_hist = np.stack([truth.activity(d, w.before)[:, ti] for d in res.designs_by_round])
    table.to_csv(out / "designs.tsv", sep="\t", index=False, float_format="%.6g")
    plots.save(plots.plot_rounds(res.history, title=res.describe, true_history=true_hist), out / "rounds.png")
    (out / "design.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
