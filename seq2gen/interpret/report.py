"""``explain``: one prompt or region → a folder of numbers (JSON, TSV), pictures (PNG) and an HTML page that shows
them together: ISM map + logo, attribution logo, and for regions the predicted vs observed track (track tasks with a
bigWig) and the predicted exon/intron spans over the gene model (models with an annotation task, with a GTF)."""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer.objective import objective
from seq2gen.interpret import plots
from seq2gen.interpret.attribute import METHODS, attribute
from seq2gen.interpret.ism import build_prompt, encode_prompt, ism


def explain(m, out, prompt: str | None = None, seq=None, task: str | None = None, tissue=None, chrom=None, pos=None,
            attribution: str = "integrated_gradients", label=None, bins=None, bigwig=None, gtf=None,
            n_steps: int = 32, fit: str = "centre") -> dict:
    """Write ``out/``: ``explain.json``, ``ism.tsv``, ``attribution.tsv``, PNGs and ``index.html``; returns the
    JSON summary. Give either a raw ``prompt`` or ``seq`` (DNA or a region string) with ``task`` (+ ``tissue``)."""
    from seq2gen.infer.regions import Region, looks_like_region, parse_region
    if attribution not in METHODS + ("none",):
        raise InputError(f"unknown attribution {attribution!r}", hint=f"one of {', '.join(METHODS)}, none")
    if (prompt is None) == (seq is None):
        raise InputError("give either a prompt or a sequence/region (with its task)")
    region = None
    if prompt is not None:
        p = encode_prompt(m, prompt)
    else:
        if task is None:
            raise InputError("a sequence or region needs --task")
        if isinstance(seq, Region) or looks_like_region(seq):
            region = parse_region(seq)
            w = m.registry.get(task).window
            if len(region) != w.length:
                region = region.resized(w.length, w.before, len(region) // 2)
            seq = region
        p = build_prompt(m, task, seq, tissue, chrom, pos, fit)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    obj = objective(m, p.task, p.ids, label=label, bins=bins)
    res = ism(m, p, obj)
    res.to_table().to_csv(out / "ism.tsv", sep="\t", index=False, float_format="%.6g")
    summary = {"task": p.task, "prompt": m.tokenizer.decode(p.ids), "region": str(region) if region else None,
               "tissue": tissue, "score": obj.describe, "ref_score": res.ref_score, "dna_length": len(p.dna),
               "ism": {"max_increase": float(np.nanmax(res.delta)), "max_decrease": float(np.nanmin(res.delta)),
                       "most_important_offset": int(np.nanargmax(np.nanmean(np.abs(res.delta), 1)))},
               "answer": obj.extra.get("answer"), "files": {}}
    figs = {"ism": _ism_figure(res, p.task)}
    if attribution != "none":
        a = attribute(m, p, attribution, obj, n_steps=n_steps)
        a.to_table().to_csv(out / "attribution.tsv", sep="\t", index=False, float_format="%.6g")
        summary["attribution"] = {"method": attribution, "sum": float(a.contrib.sum()),
                                  "convergence_delta": a.convergence}
        ax = plots.plot_logo(a.contrib, title=f"{attribution.replace('_', ' ')} — {obj.describe}")
        figs["attribution"] = ax.figure
    if region is not None and bigwig is not None and obj.kind == "track":
        figs["track"] = _track_figure(m, p, region, bigwig, tissue)
    if region is not None and gtf is not None and "annotate" in m.registry:
        figs["annotation"] = _annotation_figure(m, region, gtf)
    for name, fig in figs.items():
        plots.save(fig, out / f"{name}.png")
        summary["files"][name] = f"{name}.png"
    (out / "explain.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_html(out / "index.html", summary)
    return summary


def _ism_figure(res, task: str):
    import matplotlib.pyplot as plt
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(12, 3.6), sharex=True)
    ref = np.array(["ACGT".find(b) for b in res.dna])
    importance = np.zeros((len(res.dna), 4))
    ok = ref >= 0
    importance[np.flatnonzero(ok), ref[ok]] = -np.nanmean(np.where(np.isnan(res.delta), np.nan, res.delta),
                                                            axis=1)[ok] * 4 / 3
    plots.plot_logo(importance, ax=a0, title=f"ISM importance of each base: −mean Δ of its 3 substitutions ({res.describe})")
    plots.plot_ism(res.delta, res.dna, ax=a1, title="ISM Δ score per substitution")
    return fig


def _track_figure(m, p, region, bigwig, tissue):
    from seq2gen.genome import BigWig
    pred = m.predict_ids([p.ids], [p.task])[0]
    v = pred.value
    obs = BigWig(bigwig).binned_mean(region.chrom, region.start, region.end, len(v.expected))
    if region.strand == "-":
        obs = obs[::-1]
    ax = plots.plot_track(v.expected, obs, lo=v.lo, hi=v.hi, bin_size=len(region) // len(v.expected),
                          title=f"{p.task} [{tissue}] {region}: predicted vs observed")
    return ax.figure


def _annotation_figure(m, region, gtf):
    from seq2gen.genome import exons, read_gtf
    spans = m.annotate(str(region))
    ex = exons(read_gtf(gtf))
    ex = ex[(ex["chrom"] == region.chrom) & (ex["end"] > region.start) & (ex["start"] < region.end)]
    ax = plots.plot_annotation(spans, ex[["start", "end"]].drop_duplicates().to_numpy(),
                               title=f"predicted exon/intron spans over the gene model, {region}",
                               span=(region.start, region.end))
    return ax.figure


def write_html(path: Path, summary: dict, title: str = "seq2gen explain") -> Path:
    """A self-contained page: the summary table and every picture (relative links)."""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if isinstance(v, dict) else str(v))}"
                   "</td></tr>" for k, v in summary.items() if k != "files")
    imgs = "".join(f'<h2>{html.escape(k)}</h2><img src="{html.escape(f)}" style="max-width:100%">'
                   for k, f in summary.get("files", {}).items())
    text = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
            "td{font-family:monospace;word-break:break-all}</style></head>"
            f"<body><h1>{html.escape(title)}</h1><table>{rows}</table>{imgs}</body></html>\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
