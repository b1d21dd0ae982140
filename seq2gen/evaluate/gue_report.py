"""The GUE study report: cells → per-task tables, paired deltas with verdicts, published figures, one bar plot.

Everything is computed from the cell results ``seq2gen.evaluate.gue_study`` writes, so ``results.json`` alone
rebuilds the report. Statistics are those of the synthetic-world transfer report (``seq2gen.evaluate.report``):
mean ± sd over seeds, deltas paired by seed, a verdict only when the 95 % t-interval of the paired delta excludes 0.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seq2gen.evaluate import report as R
from seq2gen.evaluate.run import CHANCE, HEADLINE
from seq2gen.evaluate.study import run_time

METRICS = ("auroc", "mcc", "auprc", "accuracy")
FIGURE = "gue_auroc_mcc.png"
LABELS = {"single": "single-task T5", "joint": "joint T5", "joint+pretrain": "joint + span-corruption pre-training",
          "joint+world": "joint + synthetic-world pre-training", "cnn": "CNN baseline",
          "kmer_lr": "k-mer logistic regression"}
BASELINES = ("cnn", "kmer_lr")                 # per-task arms that are not a T5
PER_TASK = ("single", *BASELINES)               # arm kinds with one cell per task (``kind:task``)
#: (comparison, base arm, other arm, words for positive / negative / unclear)
COMPARISONS = (
    ("joint − single", "single", "joint", ("positive transfer", "negative transfer", "no clear transfer")),
    ("+span pre-training − joint", "joint", "joint+pretrain",
     ("span-corruption pre-training helps", "span-corruption pre-training hurts", "no clear effect")),
    ("+world pre-training − joint", "joint", "joint+world",
     ("synthetic-world pre-training helps", "synthetic-world pre-training hurts", "no clear effect")),
    ("joint − CNN", "cnn", "joint", ("joint T5 beats the CNN", "the CNN beats the joint T5", "no clear difference")),
    ("joint − k-mer LR", "kmer_lr", "joint", ("joint T5 beats the k-mer LR", "the k-mer LR beats the joint T5",
                                             "no clear difference")),
)


def arm_id(kind: str, task: str, variant: str = "") -> str:
    """The cell arm that scores ``task`` for an arm kind: ``single:T``, ``cnn:T``, ``joint`` … (+ ``@variant``)."""
    base = f"{kind}:{task}" if kind in PER_TASK else kind
    return f"{base}@{variant}" if variant else base


def reference(task: str) -> dict:
    """Published AUROCs of a GUE task (``seq2gen.baselines.gue.GUE_TASKS``), theirs: ``{model: auroc}``."""
    from seq2gen.baselines.gue import GUE_TASKS
    folder = {f"gue_{k.lower().replace('prom_prom_', 'prom_')}": k for k in GUE_TASKS}
    folder["gue_splice"] = "splice_reconstructed"
    g = GUE_TASKS.get(folder.get(task, ""))
    return dict(g.reference_auroc) if g else {}


def _arms(results: dict) -> list[tuple[str, str]]:
    """``(kind, variant)`` of every per-task arm that ran, in report order."""
    seen = set()
    for c in results["cells"]:
        base, _, variant = c["arm"].partition("@")
        seen.add((base.partition(":")[0], variant))
    order = [(k, "") for k in LABELS] + sorted((k, v) for k, v in seen if v)
    return [a for a in order if a in seen]


def _name(kind: str, variant: str) -> str:
    return LABELS.get(kind, kind) + (f" @{variant}" if variant else "")


def summarize(results: dict) -> dict:
    """Every table of the report as data (stored in results.json under ``summary``)."""
    arms = _arms(results)
    ran = {c["arm"] for c in results["cells"]}
    pairs = list(COMPARISONS) + [(f"{k} @{v} − {k}", k, f"{k}@{v}", (f"{v} better", f"{v} worse",
                                                                     "no clear difference")) for k, v in arms if v]
    out = {"tasks": [], "comparisons": [], "world": {}}
    for t in results["config"]["tasks"]:
        rows = []
        for kind, v in arms:
            a = arm_id(kind, t, v)
            rows.append({"arm": a, "kind": kind, "variant": v,
                         "seconds": R.mean_sd(R.values(results, a, lambda c: c["seconds"]["train"]).values()),
                         **{m: R.mean_sd(R.values(results, a, R.score(t, m)).values()) for m in METRICS}})
        out["tasks"].append({"task": t, "rows": rows, "reference": reference(t)})
        for name, base, other, words in pairs:
            ids = [arm_id(x.partition("@")[0], t, x.partition("@")[2]) for x in (base, other)]
            if not set(ids) <= ran:
                continue
            cmp = {m: R.compare(*(R.values(results, i, R.score(t, m)) for i in ids), chance=CHANCE.get(m, 0.0))
                   for m in ("auroc", "mcc")}
            out["comparisons"].append({"task": t, "comparison": name, **cmp,
                                       "words": dict(zip(("positive", "negative", "unclear"), words))})
    for c in results["cells"]:
        for t, r in c["scores"].items() if c["arm"] == "world" else ():
            m = HEADLINE[r["family"]]
            out["world"].setdefault(t, {"metric": m, "values": []})["values"].append(r.get(m))
    return out


def _seconds(x) -> str:
    return f"{x:.0f}" if x is not None and np.isfinite(x) else "–"


def say(row: dict) -> str:
    a = row["auroc"]
    return row["words"][a["verdict"]] + (" (both near chance)" if a["near_chance"] else "")


def markdown(results: dict) -> str:
    cfg, s = results["config"], results["summary"]
    S, model = cfg["steps_per_task"], cfg["model"]
    B = next((c["examples_per_step"] for c in results["cells"]
              if c["arm"].partition(":")[0] not in BASELINES), "?")
    n = len(cfg["tasks"])
    arms = {c["arm"].partition(":")[0].partition("@")[0] for c in results["cells"]}
    extra = [f"{cfg['pretrain']['steps']} span-corruption steps (joint+pretrain)" if "joint+pretrain" in arms
             else "", f"{cfg['world_pretrain']['steps']} synthetic-world steps (joint+world)" if "world" in arms
             else ("a given world model (joint+world)" if "joint+world" in arms else "")]
    extra = ", ".join(e for e in extra if e)
    variants = (cfg.get("tokenization") or {}).get("variants") or {}
    out = ["# GUE real-data study: single vs joint vs pre-trained T5, a CNN and a k-mer logistic regression", "",
           f"Tasks: {', '.join(cfg['tasks'])}. Seeds: {cfg['seeds']}. Model: `{model['preset']}` with "
           f"`{model['tokenizer']}` tokens" + "".join(f"; variant @{k}: `{v.get('preset', model['preset'])}` with "
                                                     f"`{v.get('tokenizer', model['tokenizer'])}` tokens"
                                                     for k, v in variants.items())
           + f". Budget: **{S} steps × {B} examples of each task** for every arm (single-task: {S} steps; joint: "
           f"{S * n} steps of a uniform mixture"
           + (f"; first, as extra compute: {extra}" if extra else "")
           + (f"; CNN: {'the same examples' if cfg['cnn']['budget'] == 'examples' else 'the single-task wall time'}"
              f" of its task, batch {cfg['cnn']['batch_size']}, "
              + ("its best validation AUROC kept" if cfg["cnn"].get("select", "best") == "best"
                 else "its last weights kept, like every T5 arm") if "cnn" in arms else "")
           + ("; k-mer logistic regression: every train row of its task, "
              f"{(cfg.get('kmer_lr') or {}).get('k', 6)}-mers" if "kmer_lr" in arms else "")
           + f"). Study: {len(results['cells'])} cells; {run_time(results)}.", "",
           "Test rows: GUE's dev split, deduplicated against train/validation (GUE's own test split is withheld)"
           + (f", a seeded sample of {cfg['eval']['max_examples']} per task" if cfg["eval"].get("max_examples")
              else ", all of them") + "; every arm, the CNN included, scores the same rows. Human tasks' train and "
           "validation rows exclude every sequence overlapping another human task's test file (docs/gue.md). "
           "mean ± sd over seeds; Δ paired by seed; verdicts only when the 95 % t-interval of Δ excludes 0.", ""]
    out += ["## Per task", ""]
    for tk in s["tasks"]:
        out += [f"### {tk['task']}", ""]
        out += R._table(["arm", "AUROC", "MCC", "AUPRC", "accuracy", "train s", "seeds"],
                        [[_name(r["kind"], r["variant"]), *(R.fmt(r[m]) for m in METRICS),
                          _seconds(r["seconds"]["mean"]), str(r["auroc"]["n"])]
                         for r in tk["rows"]])
        if tk["reference"]:
            out += ["", "Published (theirs, not comparable: GUE's withheld test split, frozen embeddings + mean "
                    "pooling, full training data): " + ", ".join(f"{k} {v:.3f}" for k, v in tk["reference"].items())
                    + " AUROC."]
        out.append("")
    out += ["## Transfer deltas (paired by seed)", ""]
    out += R._table(["task", "comparison", "Δ AUROC", "95 % CI", "verdict (AUROC)", "Δ MCC"],
                    [[r["task"], r["comparison"], R.fmt(r["auroc"]["delta"], True), R._ci(r["auroc"]["ci"]), say(r),
                      R.fmt(r["mcc"]["delta"], True)] for r in s["comparisons"]])
    refs = [(tk["task"], tk["reference"]) for tk in s["tasks"] if tk["reference"]]
    if refs:
        out += ["", "## Published reference figures (theirs)", "",
                "AUROC on GUE's *test* split with frozen embeddings + mean-token pooling, trained on the full GUE "
                "training data — \"Benchmarking DNA foundation models for genomic and genetic tasks\", Nature "
                "Communications 2025, Tables 1–2, as quoted in shared/data/real/README.md. Different split, budget "
                "and model sizes: context only, not a like-for-like comparison.", ""]
        out += R._table(["task", "published AUROC"], [[t, ", ".join(f"{k} {v:.3f}" for k, v in r.items())]
                                                      for t, r in refs])
    if s["world"]:
        out += ["", "## Synthetic-world pre-training model (on world test rows)", ""]
        out += R._table(["world task", "metric", "mean over seeds"],
                        [[t, w["metric"], R.fmt(R.mean_sd(w["values"]))] for t, w in s["world"].items()])
    out += ["", "## Figure", "", f"![AUROC and MCC per task and arm]({FIGURE})", "",
            "AUROC (left) and MCC (right) per task and arm, mean ± sd over seeds; black markers: published AUROCs "
            "(theirs, GUE test split, other budgets).", "",
            "All numbers: `results.json` (config, every cell, this summary). Study design: docs/gue.md, \"Study\"."]
    return "\n".join(out) + "\n"


def plot(summary: dict, path: Path) -> None:
    plt = R._plt()
    tasks = summary["tasks"]
    arms = [(r["kind"], r["variant"]) for r in tasks[0]["rows"]] if tasks else []
    width = 0.8 / max(len(arms), 1)
    fig, axes = plt.subplots(1, 2, figsize=(3 + 1.6 * len(tasks) + 0.3 * len(arms), 4.8), squeeze=False)
    for ax, metric in zip(axes[0], ("auroc", "mcc")):
        for i, a in enumerate(arms):
            mean = [tk["rows"][i][metric]["mean"] for tk in tasks]
            sd = [np.nan_to_num(tk["rows"][i][metric]["sd"]) for tk in tasks]
            ax.bar(np.arange(len(tasks)) + (i - (len(arms) - 1) / 2) * width, mean, width, yerr=sd, capsize=2,
                   label=_name(*a))
        if metric == "auroc":
            marks = ("x", "+", "1", "*")
            names = sorted({k for tk in tasks for k in tk["reference"]})
            for name, mk in zip(names, marks * 4):
                xs = [j for j, tk in enumerate(tasks) if name in tk["reference"]]
                ax.scatter(xs, [tasks[j]["reference"][name] for j in xs], marker=mk, color="black", zorder=3,
                           label=f"{name} (published, theirs)")
            ax.axhline(0.5, ls=":", color="0.5")
            ax.set_ylim(0.4, 1.0)
        else:
            ax.axhline(0.0, ls=":", color="0.5")
        ax.set_xticks(range(len(tasks)), [tk["task"].removeprefix("gue_") for tk in tasks], fontsize=8,
                      rotation=20)
        ax.set_ylabel(metric.upper())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(len(labels), 4), frameon=False)
    fig.suptitle("GUE study: test split (GUE dev, deduplicated), mean ± sd over seeds; same examples per task",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) - 1) // 4), 1, 1))
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)


def headline(results: dict) -> str:
    """A few lines: per task, single / joint / CNN AUROC and the joint − single verdict."""
    s = results.get("summary") or summarize(results)
    lines = [f"GUE study (AUROC, mean ± sd over {len(results['config']['seeds'])} seeds):"]
    for tk in s["tasks"]:
        auc = {r["kind"] + (f"@{r['variant']}" if r["variant"] else ""): R.fmt(r["auroc"]) for r in tk["rows"]}
        d = next((r for r in s["comparisons"] if r["task"] == tk["task"] and r["comparison"] == "joint − single"),
                 None)
        lines.append(f"  {tk['task']:<18} " + "  ".join(f"{k} {v}" for k, v in auc.items())
                     + (f"  → {say(d)}" if d else ""))
    return "\n".join(lines)


def write_report(results: dict, out_dir) -> Path:
    """``report.md``, the PNG and ``results.json`` (with ``summary``) under ``out_dir``."""
    from seq2gen.utils.io import atomic_path, atomic_write
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results["summary"] = summarize(results)
    with atomic_path(out / FIGURE) as tmp:
        plot(results["summary"], tmp)
    with atomic_write(out / "results.json") as f:
        json.dump(R._jsonable(results), f, indent=1)
    with atomic_write(out / "report.md") as f:
        f.write(markdown(results))
    return out / "report.md"
