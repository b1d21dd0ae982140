#!/usr/bin/env python
"""The numbers and pictures of docs/explain.md, on the quickstart model and its world (each stage skipped when its
JSON exists; ``--stages`` picks some):

    python scripts/explain_study.py --run runs/quickstart --out docs/results/explain

* explain — ``seq2gen explain`` reports of a test-chromosome promoter (expression) and a chromatin window;
* variants — Spearman with the world's true effects of every scoring method on the test chromosome's VCF;
* motifs — attribution AUROC at the bases of motif sites that enter the true function, and TF-MoDISco patterns
  matched to the world's motifs;
* design — 20 liver-high / heart-low designs, judged by the world's true function against its real promoters.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing


def _test_tss(run: Path, n: int, seed: int = 0):
    from seq2gen.genome import read_gtf, tss
    world = json.loads((run / "world" / "world.json").read_text())
    t = tss(read_gtf(run / "world" / "genes.gtf"))
    t = t[t["chrom"].isin(world["splits"]["test"])]
    return t.sample(n=min(n, len(t)), random_state=seed) if n else t


def stage_explain(m, run: Path, out: Path) -> dict:
    from seq2gen.interpret.report import explain
    from seq2gen.infer.regions import Region
    t = _test_tss(run, 1, seed=3).iloc[0]
    tss_base = Region(t["chrom"], int(t["pos"]), int(t["pos"]) + 1, t["strand"])   # explain puts the window on it
    a = explain(m, out / "promoter", seq=tss_base, task="expression", tissue="liver", gtf=run / "world" / "genes.gtf")
    peaks = [x.split("\t") for x in (run / "world" / "peaks.bed").read_text().splitlines()]
    pk = next(p for p in peaks if p[0] == t["chrom"] and p[6] == "liver" and int(p[4]) > 800)
    c = (int(pk[1]) + int(pk[2])) // 2
    b = explain(m, out / "chromatin", seq=f"{pk[0]}:{c - 199}-{c + 200}", task="chromatin", tissue="liver",
                bigwig=run / "world" / "liver.bw", gtf=run / "world" / "genes.gtf")
    return {"promoter": a, "chromatin": b}


def stage_variants(m, run: Path, out: Path) -> dict:
    from scipy.stats import spearmanr

    from seq2gen.genome import Fasta, read_vcf, write_vcf
    from seq2gen.infer.variants import score_vcf, trained_pretrain
    w = run / "world"
    world = json.loads((w / "world.json").read_text())
    fasta = Fasta(w / "genome.fa")
    vcf = read_vcf(w / "variants.vcf", fasta)
    test = vcf[vcf["chrom"].isin(world["splits"]["test"])].reset_index(drop=True)
    import tempfile
    path = write_vcf(Path(tempfile.mkdtemp()) / "variants_test.vcf", test)
    res = {"tissue": "liver", "n": int(len(test)), "spearman": {}, "seconds": {}}
    truth = test["info_EFFECT_liver"].to_numpy(float)
    runs = {"task": dict(methods=("task",)), "delta_expression": dict(methods=("delta",), genes=w / "genes.gtf"),
            "delta_expression_no_genes": dict(methods=("delta",)),
            "delta_chromatin": dict(methods=("delta",), delta_task="chromatin"),
            "delta_tf_binding": dict(methods=("delta",), delta_task="tf_binding")}
    if trained_pretrain(m):                          # span corruption trained: the zero-shot LLR too
        runs["zero_shot"] = dict(methods=("zero_shot",))
    for name, kw in runs.items():
        t0 = time.perf_counter()
        df = score_vcf(m, path, fasta, "liver", batch_size=128, **kw)
        res["seconds"][name] = round(time.perf_counter() - t0, 1)
        col = {"task": "effect_liver", "zero_shot": "llr"}.get(name) or next(
            c for c in df.columns if c.startswith("delta_") and c.endswith("liver"))
        res["spearman"][name] = float(spearmanr(truth, df[col]).statistic)
        motif = (test["info_CLASS"] == "motif").to_numpy() & (np.abs(truth) > 0.05)
        res.setdefault("sign_accuracy_motif", {})[name] = float((np.sign(df[col][motif]) == np.sign(truth[motif]))
                                                                .mean())
    if "zero_shot" not in runs:
        res["zero_shot"] = "n/a: this model trained no span-corruption task"
    return res


def stage_motifs(m, run: Path, out: Path, n_windows: int = 400, n_ism: int = 10) -> dict:
    from seq2gen.genome import Fasta
    from seq2gen.infer.objective import objective
    from seq2gen.interpret import plots
    from seq2gen.interpret.attribute import hypothetical
    from seq2gen.interpret.ism import ism
    from seq2gen.interpret.motifs import attribution_arrays, discover, match, patterns_json, recovery_auroc
    from seq2gen.interpret.world_truth import WorldTruth
    truth = WorldTruth(run / "world")
    fasta = Fasta(run / "world" / "genome.fa")
    from seq2gen.interpret.cli import tss_windows
    test = set(json.loads((run / "world" / "world.json").read_text())["splits"]["test"])
    regions, off_contig = tss_windows(m, "expression", run / "world" / "genes.gtf", fasta.contigs)
    seqs = [fasta.fetch(r.chrom, r.start, r.end, r.strand) for r in regions if r.chrom in test]
    wins = [x for x in seqs if "N" not in x]
    n_with_n, wins = len(seqs) - len(wins), wins[:n_windows]
    prompts, oh, grad = attribution_arrays(m, "expression", wins, "liver", "chr6", 0, batch_size=64)
    hyp = hypothetical(grad)
    obj = objective(m, "expression", prompts[0].ids, space="log1p")
    func = truth.functional_bases(wins, 320)
    res = {"n_windows": len(wins), "windows_with_n_dropped": n_with_n, "genes_off_contig": off_contig,
           "functional_fraction": float(func.mean()),
           "auroc_input_x_gradient": recovery_auroc(hyp * oh, func),
           "auroc_saliency": recovery_auroc(np.abs(grad) * oh, func)}
    ism_imp = [np.nanmean(np.abs(ism(m, q, obj).delta), axis=1) for q in prompts[:n_ism]]
    res["auroc_ism"] = recovery_auroc(np.stack(ism_imp), func[:n_ism])
    res["auroc_input_x_gradient_same_windows_as_ism"] = recovery_auroc((hyp * oh)[:n_ism], func[:n_ism])
    pats = discover(oh, hyp)
    res["patterns"] = patterns_json(pats)
    tf = [mo for mo in truth.motifs if mo.role in ("activator", "repressor", "core")]
    res["matches"] = match(pats, tf)
    import matplotlib.pyplot as plt
    rows = [r for r in res["matches"] if r["best_pattern"] >= 0]
    if rows:
        fig, axes = plt.subplots(len(rows), 2, figsize=(11, 1.5 * len(rows)), squeeze=False)
        for (a0, a1), r in zip(axes, rows):
            mo = next(x for x in tf if x.name == r["motif"])
            plots.plot_logo(plots.information(mo.pwm), ax=a0, title=f"world {mo.name} ({mo.role})")
            p = pats[r["best_pattern"]]
            plots.plot_logo(p["cwm"], ax=a1, title=f"discovered pattern {r['best_pattern']} "
                            f"({p['n_seqlets']} seqlets), r = {r['similarity']:.2f} ({r['strand']})")
        plots.save(fig, out / "motifs.png")
    fig, axes = plt.subplots(3, 1, figsize=(12, 5.4))
    for ax, i in zip(axes, range(3)):
        plots.plot_logo((hyp * oh)[i], ax=ax, title=f"input × gradient, test-chromosome promoter {i} (expression, "
                        "liver); shaded: bases of motif sites in the world's true function")
        for j in np.flatnonzero(func[i]):
            ax.axvspan(j - 0.5, j + 0.5, color="gold", alpha=0.25, lw=0)
    plots.save(fig, out / "attribution_vs_truth.png")
    return res


def stage_design(m, run: Path, out: Path, n: int = 20) -> dict:
    """Single-base search (15 rounds × 8) and insertion of the motifs stage's own patterns (40 rounds × 16: every
    pattern passing the screen, or only the top-screened one), each for liver-high and liver-vs-heart, edit budget
    40; plus the oracle (the world's true f as the objective) with the same patterns, which bounds what the search
    can reach with them."""
    from seq2gen.interpret.cli import write_design
    from seq2gen.interpret.design import design
    from seq2gen.interpret.motifs import load_patterns
    from seq2gen.interpret.world_truth import WorldTruth
    truth = WorldTruth(run / "world")
    pats = load_patterns(out / "motifs.json")
    li = truth.tissues.index("liver")

    def oracle(codes):
        return truth.activity(["".join("ACGT"[c] for c in row) for row in codes], 320)[:, li]
    res = {"patterns": pats}
    arms = {"liver_high": (None, {}), "liver_vs_heart": ("heart", {}),
            "liver_high_motifs": (None, {"patterns": pats, "rounds": 40, "k": 16}),
            "liver_vs_heart_motifs": ("heart", {"patterns": pats, "rounds": 40, "k": 16}),
            "liver_high_top_motif": (None, {"patterns": pats, "rounds": 40, "k": 16, "max_patterns": 1}),
            "liver_vs_heart_top_motif": ("heart", {"patterns": pats, "rounds": 40, "k": 16, "max_patterns": 1}),
            "liver_high_motifs_oracle": (None, {"patterns": pats, "rounds": 40, "k": 16, "score_fn": oracle})}
    for name, (against, kw) in arms.items():
        t0 = time.perf_counter()
        kw = {"rounds": 15, "k": 8, **kw}
        d = design(m, "expression", "liver", against, "high", n=n, edit_budget=40, world=truth, batch_size=128,
                   progress=True, **kw)
        s = write_design(out / name, d, m, "expression", "liver", against, truth)
        s["seconds"] = round(time.perf_counter() - t0, 1)
        j = s["truth"]
        s["fraction_top5"] = float(np.mean(np.array(j["design_true"]) >= j["real_top5_threshold"]))
        if against:
            s["fraction_specific_top5"] = float(np.mean(np.array(j["specificity_percentile"]) >= 95))
        res[name] = s
    return res


def main(argv=None) -> int:
    from seq2gen.utils.cli import run_command
    return run_command(study, argv, prog="python scripts/explain_study.py", help=__doc__.splitlines()[0])


def study(run: str = typer.Option("runs/quickstart", "--run", help="A quickstart output folder."),
          out: str = typer.Option("docs/results/explain", "--out"),
          stages: str = typer.Option("explain,variants,motifs,design", "--stages", help="Comma-separated.")) -> None:
    from seq2gen.infer import Seq2Gen
    run, out = Path(run), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = run / "train" / "model" if (run / "train" / "model").is_dir() else run / "model"
    m = Seq2Gen.from_pretrained(model, fasta=run / "world" / "genome.fa", batch_size=128)
    for name in stages.split(","):
        path = out / f"{name}.json"
        if path.exists():
            continue
        t0 = time.perf_counter()
        res = globals()[f"stage_{name}"](m, run, out)
        res = {"seconds_total": round(time.perf_counter() - t0, 1), **res}
        path.write_text(json.dumps(res, indent=1, default=float) + "\n")
        print(name, json.dumps(res, default=float)[:1500], flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
