"""Transfer protocol: verdict statistics on synthetic numbers, the report from synthetic results, config checks, and
the whole protocol end to end at `tiny` size with resume (seq2gen.evaluate.transfer / report)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from seq2gen.errors import InputError
from seq2gen.evaluate import report as R
from seq2gen.evaluate import transfer as T

SECTIONS = ("## Joint vs single-task", "## Leave-one-task-out + fine-tune vs from scratch",
            "## Zero-shot tissue × task", "## Span-corruption pre-training", "## Verdicts")


# ---------------------------------------------------------------------------------------------- verdicts
def test_verdict_from_the_seeds_interval():
    assert R.verdict([0.10, 0.11, 0.09]) == "positive"
    assert R.verdict([-0.10, -0.12, -0.09]) == "negative"
    assert R.verdict([0.10, -0.08, 0.05]) == "unclear"            # the interval straddles 0
    assert R.verdict([0.30]) == "unclear"                          # one seed: no spread, no verdict
    assert R.verdict([0.1, float("nan"), None]) == "unclear"       # one finite value left
    assert R.verdict([0.02, 0.5, 0.04]) == "unclear"               # positive mean, but too noisy for 3 seeds
    lo, hi = R.interval([1.0, 2.0, 3.0])
    assert lo == pytest.approx(2 - 4.302653 / np.sqrt(3), abs=1e-4) and hi == pytest.approx(2 + 4.302653 / np.sqrt(3),
                                                                                             abs=1e-4)


def test_compare_is_paired_by_seed():
    """Arms whose spreads overlap still differ clearly when every seed moves the same way (same init per seed)."""
    base = {0: 0.50, 1: 0.60, 2: 0.70}
    other = {0: 0.55, 1: 0.66, 2: 0.74}
    c = R.compare(base, other, chance=0.5)
    assert c["verdict"] == "positive"
    assert c["delta"]["mean"] == pytest.approx(0.05)
    assert c["base"]["sd"] > c["delta"]["mean"]
    assert not c["near_chance"]
    assert R.compare({0: 0.5, 1: 0.52}, {0: 0.51, 1: 0.49}, chance=0.5)["near_chance"]
    assert R.compare({0: 0.5, 5: 0.6}, {0: 0.6, 1: 0.7})["delta"]["n"] == 1   # only seed 0 pairs


def test_paired_bootstrap_over_test_rows():
    from seq2gen.evaluate.bootstrap import paired_bootstrap
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    base = [y + rng.normal(scale=2.0, size=300) for _ in range(3)]             # weak scores, AUROC ~0.64
    better = [y + rng.normal(scale=0.7, size=300) for _ in range(3)]           # strong, AUROC ~0.85
    up = paired_bootstrap(y, base, better, "classification", "auroc", n=300)
    assert up["ci"][0] > 0.1 and up["ci"][0] < up["delta"] < up["ci"][1] and up["n_rows"] == 300
    same = paired_bootstrap(y, base, base, "classification", "auroc", n=50)
    assert same["delta"] == 0 and same["ci"] == [0.0, 0.0]                   # paired: identical arms, no spread
    tiny = [b + rng.normal(scale=0.05, size=300) for b in base]                # a hair apart: the rows decide nothing
    lo, hi = paired_bootstrap(y, base, tiny, "classification", "auroc", n=300)["ci"]
    assert lo < 0 < hi
    v = rng.normal(size=200)                                                     # regression: Spearman
    r = paired_bootstrap(v, [v + rng.normal(size=200)], [v + rng.normal(scale=0.2, size=200)], "regression",
                         "spearman", n=200)
    assert r["ci"][0] > 0
    assert paired_bootstrap(y, base, better, "annotation", "per_base_f1") is None
    from scipy.stats import spearmanr                           # the lean metrics are the library's numbers
    from sklearn.metrics import roc_auc_score

    from seq2gen.evaluate.bootstrap import HEADLINE_FN
    tied = np.round(base[0])                                     # ties are averaged the same way
    assert HEADLINE_FN["classification", "auroc"](y, tied) == pytest.approx(roc_auc_score(y, tied), abs=1e-12)
    Y = np.arange(300) % 3
    P = rng.random((300, 3)) + 0.3 * np.eye(3)[Y]
    assert HEADLINE_FN["classification", "auroc"](Y, P) == pytest.approx(
        roc_auc_score(Y, P / P.sum(1, keepdims=True), multi_class="ovr"), abs=1e-12)
    w = np.round(v * 3)
    assert HEADLINE_FN["regression", "spearman"](v, w) == pytest.approx(spearmanr(v, w)[0], abs=1e-12)


def test_calibration_bins():
    rng = np.random.default_rng(0)
    p = rng.normal(size=1000)
    cal = T.calibration(p + rng.normal(scale=0.1, size=1000), p)
    assert len(cal["pred"]) == T.CALIBRATION_BINS and sum(cal["n"]) == 1000
    assert np.allclose(cal["pred"], cal["true"], atol=0.1) and np.all(np.diff(cal["pred"]) > 0)
    assert T.calibration([1.0, 2.0], [np.nan, np.nan]) == {"pred": [], "true": [], "n": []}


# ---------------------------------------------------------------------------------------------- report (synthetic)
def synthetic_results(seeds=(0, 1, 2)) -> dict:
    """Cells as run_transfer writes them: joint helps `a` (+0.1 each seed), leaves `b` unchanged (noise)."""
    rng = np.random.default_rng(1)
    tasks, steps = ["a", "b"], [1, 2]
    cells = []

    def cell(arm, seed, scores, **extra):
        cells.append({"arm": arm, "seed": seed, "examples_per_step": 8, "calibration": {}, "zero_shot": {},
                      "scores": {t: {"family": "classification" if t == "a" else "regression",
                                     ("auroc" if t == "a" else "spearman"): v} for t, v in scores.items()}, **extra})
    for s in seeds:
        a, b = 0.6 + 0.02 * s, 0.3 + 0.05 * s
        zs = {"b": {"brain": {"zero_shot": {"spearman": 0.2 + 0.01 * s}, "agnostic": {"spearman": 0.1 + 0.01 * s}}}}
        zs_single = {"b": {"brain": {"zero_shot": {"spearman": 0.15 + 0.01 * s},
                                     "agnostic": {"spearman": 0.1 + 0.01 * s}}}}
        curve = {"task": "b", "steps": steps, "scores": [{"spearman": b - 0.1}, {"spearman": b}]}
        cell("single:a", s, {"a": a})
        cell("single:b", s, {"b": b}, curve=curve, zero_shot=zs_single,
             calibration={"b": {"pred": [0, 1, 2], "true": [0.1, 1.2, 1.9], "n": [5, 5, 5]}})
        cell("joint", s, {"a": a + 0.1, "b": b + rng.normal(scale=0.05)}, zero_shot=zs,
             calibration={"b": {"pred": [0, 1, 2], "true": [0.0, 1.0, 2.2], "n": [5, 5, 5]}})
        cell("joint+pretrain", s, {"a": a + 0.1, "b": b})
        cell("loto:b", s, {"a": a + 0.05})
        cell("finetune:b", s, {"b": b + 0.05},
             curve={"task": "b", "steps": steps, "scores": [{"spearman": b}, {"spearman": b + 0.05}]})
        # scarcity of a at 10 %: joint better by 0.1 on every seed, on 400 test rows with per-row scores
        y = np.arange(400) % 2
        noise = np.random.default_rng(100 + s).normal(size=400)
        for arm, scale, v in (("single:a@0.1", 2.0, a - 0.2), ("joint:a@0.1", 0.8, a - 0.1),
                              ("seq:a@0.1", 2.0, a - 0.2), ("pair:a@0.1+b", 0.8, a - 0.12)):
            cell(arm, s, {"a": v}, train_rows=40, rows={"a": {"target": y.tolist(), "prediction": (
                y + scale * noise).tolist()}})
    cfg = {"tasks": tasks, "seeds": list(seeds), "steps_per_task": 2, "finetune_steps": steps,
           "zero_shot": {"b": ["brain"]}, "pretrain": {"task": "span_corruption", "steps": 1}, "train": {},
           "scarcity": {"tasks": ["a"], "fractions": [0.1]}, "bootstrap": {"n": 100, "seed": 0}}
    return {"config": cfg, "cells": cells, "computed_cells": len(cells), "seconds": 1.0}


def test_summary_verdicts_and_report_files(tmp_path):
    res = synthetic_results()
    s = R.summarize(res)
    by_task = {r["task"]: r for r in s["joint_vs_single"]}
    assert by_task["a"]["verdict"] == "positive" and by_task["a"]["delta"]["mean"] == pytest.approx(0.1)
    assert by_task["b"]["verdict"] == "unclear"
    ft = s["finetune"][0]
    assert ft["verdict"] == "positive" and ft["mean_gain"]["mean"] == pytest.approx(0.075)
    assert s["zero_shot"][0]["verdict"] == "positive" and s["zero_shot"][0]["delta"]["mean"] == pytest.approx(0.1)
    vs = s["zero_shot"][0]["vs_single"]                     # joint vs single-task, both prompted with brain
    assert vs["verdict"] == "positive" and vs["delta"]["mean"] == pytest.approx(0.05) and vs["rows"] is None
    assert s["pretrain"][0]["verdict"] == "unclear"          # identical numbers: no difference
    sc = {r["fraction"]: r for r in s["scarcity"]}
    assert sc[1.0]["single"]["mean"] == pytest.approx(0.62) and sc[0.1]["train_rows"] == 40
    j = sc[0.1]["joint_vs_single"]
    assert j["verdict_seeds"] == "positive" and j["rows"]["ci"][0] > 0 and j["verdict"] == "positive"
    q = sc[0.1]["seq_vs_single"]                   # identical predictions: the rows see no difference
    assert q["rows"]["ci"] == [0.0, 0.0] and q["verdict"] == "unclear"
    (pair,) = s["pairs"]["rows"]
    assert (pair["task"], pair["partner"], pair["verdict"]) == ("a", "b", "positive")
    assert pair["delta"]["mean"] == pytest.approx(0.08) and pair["expected_share"] is None
    mx = s["matrix"]
    assert mx["rows"] == ["only a", "only b", "all but b", "all (joint)", "all + pretrain"]
    assert mx["value"][0][1] is None and mx["delta"][2][0] == pytest.approx(0.05)
    text = R.headline(res)
    assert "a " in text and "positive transfer" in text and "no clear transfer" in text
    R.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    for section in SECTIONS:
        assert section in md
    assert "- **a + b** at 0.1 of a's rows" in md and "transfer in a + b; the matrix cannot be ranked" in md
    assert "- **b zero-shot in brain** (spearman)" in md and "vs the single-task model prompted the same way" in md
    assert "is below chance" not in md
    for c in res["cells"]:                                  # an anti-informative baseline gets its warning
        if c["arm"] == "joint":
            c["zero_shot"]["b"]["brain"]["agnostic"]["spearman"] = -0.3
    R.write_report(res, tmp_path / "below")
    assert "baseline of b × brain is below chance" in (tmp_path / "below" / "report.md").read_text()
    for png in R.FIGURES.values():
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    again = json.loads((tmp_path / "results.json").read_text())
    R.write_report(again, tmp_path / "again")              # a report rebuilds from results.json alone
    assert R.summarize(again)["joint_vs_single"][0]["verdict"] == "positive"


def test_pairs_against_the_control_pair(tmp_path, monkeypatch):
    """A partner sharing none of the target's factors is the control (the first such, by name): every other pair —
    a second share-0 partner too — is also compared with it (seed and row intervals), in the summary and the
    report; without such a partner nothing changes."""
    monkeypatch.setattr(R, "SHARED_FACTORS", {"a": {"x"}, "b": {"x"}, "c": {"y"}, "d": {"z"}})
    res = synthetic_results()
    y = np.arange(400) % 2
    for s in res["config"]["seeds"]:                 # the control pairs sit between single (2.0) and a + b (0.8)
        noise = np.random.default_rng(100 + s).normal(size=400)
        res["cells"] += [{"arm": f"pair:a@0.1+{p}", "seed": s, "examples_per_step": 8, "calibration": {},
                          "zero_shot": {}, "train_rows": 40,
                          "scores": {"a": {"family": "classification", "auroc": 0.4 + 0.02 * s}},
                          "rows": {"a": {"target": y.tolist(), "prediction": (y + 1.4 * noise).tolist()}}}
                         for p in "cd"]
    rows = {r["partner"]: r for r in R.summarize(res)["pairs"]["rows"]}
    assert rows["c"]["expected_share"] == 0 and "vs_control" not in rows["c"]
    assert rows["d"]["vs_control"]["partner"] == "c" and rows["d"]["vs_control"]["delta"]["mean"] == 0
    vc = rows["b"]["vs_control"]
    assert vc["partner"] == "c" and vc["delta"]["mean"] == pytest.approx(0.08)
    assert vc["rows"]["ci"][0] > 0 and vc["verdict"] == "positive"
    R.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Δ (pair − control pair) [seeds] [rows]" in md and "against the c control pair Δ +0.080" in md
    monkeypatch.setattr(R, "SHARED_FACTORS", {})
    res["summary"] = R.summarize(res)                # no partner without shared factors: no control column
    assert "control pair" not in R.markdown(res)


def test_compare_runs_matches_the_in_study_comparison(tmp_path):
    """An arm of one study against an arm of another (``seq2gen evaluate compare``) is the same paired comparison
    the report makes inside one study; studies scored on other rows are refused."""
    res = synthetic_results()
    s = R.summarize(res)
    (row,) = [r for r in s["scarcity"] if r["fraction"] == 0.1]
    a = {"config": res["config"], "cells": [c for c in res["cells"] if c["arm"] == "single:a@0.1"]}
    b = {"config": res["config"], "cells": [c for c in res["cells"] if c["arm"] == "joint:a@0.1"]}
    r = R.compare_runs(a, "single:a@0.1", b, "joint:a@0.1", "a")
    j = row["joint_vs_single"]
    assert r["delta"]["mean"] == pytest.approx(j["delta"]["mean"]) and r["ci"] == pytest.approx(j["ci"])
    assert r["rows"]["ci"] == pytest.approx(j["rows"]["ci"]) and r["verdict"] == j["verdict"] == "positive"
    with pytest.raises(InputError, match="no cell of arm 'joint'"):
        R.compare_runs(a, "single:a@0.1", b, "joint", "a")
    with pytest.raises(InputError, match="differ in `eval`"):
        R.compare_runs(a, "single:a@0.1", {**b, "config": {**b["config"], "eval": {"max_examples": 5}}},
                       "joint:a@0.1", "a")
    from typer.testing import CliRunner

    from seq2gen.cli import app
    for name, part in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(part))
    out = CliRunner().invoke(app, ["evaluate", "compare", str(tmp_path / "a"), "single:a@0.1", str(tmp_path / "b"),
                                   "joint:a@0.1", "--task", "a"])
    assert out.exit_code == 0 and f"Δ {R.fmt(j['delta'], True)}" in out.output and "→ positive" in out.output
    out = CliRunner().invoke(app, ["evaluate", "compare", str(tmp_path), "x", str(tmp_path / "b"), "y", "--task", "a"])
    assert out.exit_code == 2 and "no results.json here" in " ".join(out.output.split())   # rich wraps lines


def test_seed_parts_run_apart_and_merge(tmp_path, monkeypatch):
    """``--seeds`` runs part of a study into its own folder; ``--merge`` gathers the parts' cells (by key) into one
    report that equals the one-run report; a missing or differently configured cell is an error, not a smaller
    report."""
    import yaml
    from typer.testing import CliRunner

    from seq2gen.cli import app
    from seq2gen.evaluate.study import seed_subset
    cfg_file = tmp_path / "study.yaml"
    cfg_file.write_text(yaml.safe_dump({"tasks": ["promoter", "expression"], "seeds": [0, 1, 2],
                                        "steps_per_task": 20, "finetune_steps": [20], "loto_tasks": [],
                                        "pretrain": {"steps": 0}, "zero_shot": {},
                                        "out_dir": str(tmp_path / "study"), "bootstrap": {"n": 0}}))
    cfg = T.load_transfer_config(cfg_file)
    seen = {}
    monkeypatch.setattr(T, "run_transfer", lambda c, out_dir, **kw: seen.update(seeds=c.seeds, out=out_dir)
                        or {"config": c.to_dict(), "cells": []})
    monkeypatch.setattr(R, "headline", lambda results: "")
    run = CliRunner().invoke(app, ["evaluate", "transfer", "--config", str(cfg_file), "--seeds", "2,0"])
    assert run.exit_code == 0 and seen == {"seeds": [0, 2], "out": tmp_path / "study_s0-2"}   # never the parts' shared
    for bad, msg in ((["--seeds", "1,7"], "not among the config's seeds"), (["--seeds", "x"], "comma-separated"),
                     (["--seeds", "1", "--merge", str(tmp_path)], "separate steps")):
        out = CliRunner().invoke(app, ["evaluate", "transfer", "--config", str(cfg_file), *bad])
        assert out.exit_code == 2 and msg in " ".join(out.output.split()), out.output
    assert seed_subset(cfg, [1]).seeds == [1] and cfg.seeds == [0, 1, 2]
    cells, rng = [], np.random.default_rng(0)
    for c in T.plan(cfg):                                      # results as the cells would have stored them
        cells.append({"arm": c.arm, "seed": c.seed, "trained_on": list(c.tasks), "steps": c.steps,
                      "examples_per_step": 8, "calibration": {}, "zero_shot": {}, "key": T.cell_key(cfg, c),
                      "seconds": {"train": 60.0, "score": 6.0},
                      "scores": {"promoter": {"family": "classification", "auroc": 0.7 + rng.normal(scale=0.01)},
                                 "expression": {"family": "regression", "spearman": 0.3 + rng.normal(scale=0.01)}}})
    parts = {"p01": [0, 1], "p2": [2]}
    for name, seeds in parts.items():
        (tmp_path / name / "cells").mkdir(parents=True)
        mine = [x for x in cells if x["seed"] in seeds]
        for x in mine:
            (tmp_path / name / "cells" / f"{x['arm'].replace(':', '-')}__s{x['seed']}.json").write_text(json.dumps(x))
        (tmp_path / name / "results.json").write_text(json.dumps({"computed_cells": len(mine), "seconds": 600.0}))
    merge = ["evaluate", "transfer", "--config", str(cfg_file), "--out", str(tmp_path / "all")]
    out = CliRunner().invoke(app, merge + ["--merge", str(tmp_path / "p01")])
    assert out.exit_code == 2 and "3 of the config's 9 cells are in none of the merged runs" in " ".join(
        out.output.split()) and "single-promoter__s2" in out.output
    stale = tmp_path / "p2" / "cells" / "joint__s2.json"       # computed with another configuration
    stale.write_text(json.dumps({**cells[-1], "key": "0" * 16}))
    out = CliRunner().invoke(app, merge + ["--merge", str(tmp_path / "p01"), "--merge", str(tmp_path / "p2")])
    assert out.exit_code == 2 and "1 of the config's 9 cells are in none of the merged runs: joint__s2 (" in " ".join(
        out.output.split()) and "has another configuration's key" in " ".join(out.output.split())
    stale.write_text(json.dumps(cells[-1]))
    out = CliRunner().invoke(app, merge + ["--merge", str(tmp_path / "p01"), "--merge", str(tmp_path / "p2")])
    assert out.exit_code == 0, out.output
    doc = json.loads((tmp_path / "all" / "results.json").read_text())
    assert doc["cells"] == cells and (doc["computed_cells"], doc["seconds"]) == (9, 1200.0)
    assert sorted(p.name for p in (tmp_path / "all" / "cells").iterdir()) == sorted(
        f"{x['arm'].replace(':', '-')}__s{x['seed']}.json" for x in cells)
    text = (tmp_path / "all" / "report.md").read_text()
    assert "the 2 merged runs (p01, p2) computed 9 of them in 20.0 min of their wall times added" in text
    one = {**doc, "computed_cells": 9, "seconds": 1200.0}
    one.pop("merged_from")
    R.write_report(one, tmp_path / "one")                       # the same cells computed by one run
    assert (tmp_path / "one" / "report.md").read_text() == text.replace(
        "the 2 merged runs (p01, p2) computed 9 of them in 20.0 min of their wall times added",
        "this run computed 9 of them in 20.0 min")


COMMITTED = {   # folder under docs/results → the figures its report has data for
    "transfer_companion": {"scarcity", "matrix"},               # no fine-tune arms, no value-token task, no pairs
    "tf_pairs": {"pairs"},                                       # scarcity arms only: one fraction, no full-data arm
    "chromatin_pairs": {"pairs"},                               # the chromatin row, the same shape
    "chromatin_tf": set(),                                      # one scarce joint arm: a table, no figure
    "chromatin_control3": set(),                                # its control: two tasks without the TF pair
    "expression_tf": set(),                                     # expression's row, chromatin_tf's shape
    "expression_control3": set(),                               # its control, merged from two --seeds runs
    "companion_zeroshot": {"matrix"},                           # full arms only: no scarcity, curves or pairs
    "companion_zeroshot_chromatin": {"matrix", "calibration"},  # + chromatin: a value-token task
    "companion_zeroshot_named": {"matrix"},                     # companion_zeroshot after tf_binding named its tissue
    "transfer_cpu": {"matrix", "curves", "calibration", "scarcity", "pairs"},
}


@pytest.mark.parametrize("folder", sorted(COMMITTED))
def test_committed_reports_rebuild(folder, tmp_path):
    """docs/results/<folder>/ rebuilds from its results.json: report.md text-identical to the committed one (PNGs
    not compared), only the figures it has data for (a stale one from an earlier report is removed)."""
    from seq2gen.resources import checkout_root
    root = checkout_root()
    path = root / f"docs/results/{folder}/results.json" if root else None
    if path is None or not path.is_file():
        pytest.skip("the committed reports ship with the source checkout")
    results = json.loads(path.read_text())
    stale = sorted(set(R.FIGURES) - COMMITTED[folder])
    for name in stale:
        (tmp_path / R.FIGURES[name]).write_bytes(b"stale")       # an earlier report's figure in the same folder
    R.write_report(results, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report.md", "results.json"] +
                                                                [R.FIGURES[n] for n in COMMITTED[folder]])
    text = (tmp_path / "report.md").read_text()
    assert not any(R.FIGURES[n] in text for n in stale)
    assert text == (path.parent / "report.md").read_text()      # the committed report is what the code writes
    if folder == "transfer_companion":
        assert "leave-one-out:" not in text
        rows = {r["task"]: r for r in results["summary"]["joint_vs_single"]}
        assert rows["tf_binding"]["verdict"] == "positive" and rows["tf_binding"]["rows"]["ci"][0] > 0
    if folder == "companion_zeroshot":                           # brain held out of tf_binding only
        (z,) = results["summary"]["zero_shot"]
        assert (z["task"], z["tissue"], z["base"]["mean"] < 0.45) == ("tf_binding", "brain", True)
        assert z["vs_single"]["verdict"] == "negative" and "is below chance" in text
    if folder == "companion_zeroshot_named":                     # the answer names the tissue: zero-shot transfers
        (z,) = results["summary"]["zero_shot"]
        assert z["verdict"] == "positive" and z["ci"][0] > 0 and z["rows"]["ci"][0] > 0
        assert z["other"]["mean"] > 0.5 > z["base"]["mean"] and z["vs_single"]["verdict"] == "unclear"
    if folder == "companion_zeroshot_chromatin":                 # brain also in chromatin's prompts: still no zero-shot
        (z,) = results["summary"]["zero_shot"]
        assert z["verdict"] == z["vs_single"]["verdict"] == "unclear"
        rows = {r["task"]: r for r in results["summary"]["joint_vs_single"]}
        assert rows["chromatin"]["verdict"] == "positive" and rows["chromatin"]["rows"]["ci"][0] > 0.1
    if folder == "tf_pairs":
        assert "## Joint vs single-task" not in text and results["summary"]["joint_vs_single"] == []
        pairs = {r["partner"]: r for r in results["summary"]["pairs"]["rows"]}
        assert set(pairs) == {"tf_tissues", "chromatin", "expression", "promoter", "annotate"}
        assert pairs["tf_tissues"]["verdict"] == "positive"
        assert pairs["tf_tissues"]["vs_control"]["verdict"] == "positive"         # beyond the annotate control
        assert {pairs[p]["vs_control"]["verdict"] for p in ("chromatin", "expression", "promoter")} == {"unclear"}
    if folder == "chromatin_pairs":                              # no single partner moves chromatin at 10 %
        pairs = {r["partner"]: r for r in results["summary"]["pairs"]["rows"]}
        assert set(pairs) == {"tf_tissues", "tf_binding", "annotate"} and "vs_control" in pairs["tf_tissues"]
        assert {r["verdict"] for r in pairs.values()} == {"unclear"}
    if folder == "chromatin_tf":                                 # ... but the TF pair together does
        (sc,) = results["summary"]["scarcity"]
        assert sc["task"] == "chromatin" and sc["joint_vs_single"]["verdict"] == "positive"
        control = json.loads((path.parents[1] / "chromatin_control3/results.json").read_text())
        vs = R.compare_runs(control, "joint:chromatin@0.1", results, "joint:chromatin@0.1", "chromatin")
        assert vs["verdict"] == "positive" and vs["rows"]["ci"][0] > 0      # the TF pair, not two more tasks
    if folder == "expression_tf":                                # at 10 %, the TF pair lifts expression
        (sc,) = results["summary"]["scarcity"]
        assert sc["task"] == "expression" and sc["joint_vs_single"]["verdict"] == "positive"
        assert sc["joint_vs_single"]["rows"]["ci"][0] > 0
        control = json.loads((path.parents[1] / "expression_control3/results.json").read_text())
        vs = R.compare_runs(control, "joint:expression@0.1", results, "joint:expression@0.1", "expression")
        assert vs["verdict"] == "unclear" and vs["ci"][0] < 0 < vs["rows"]["ci"][0]   # rows only: not separated
    if folder == "expression_control3":                          # annotate + promoter also lift expression at 10 %
        (sc,) = results["summary"]["scarcity"]
        assert sc["joint_vs_single"]["verdict"] == "positive" and results["merged_from"] == ["ec3_01", "ec3_23"]


# ---------------------------------------------------------------------------------------------- config
def test_every_preset_loads():
    from seq2gen.resources import config_dir, study_presets
    names = study_presets()
    assert {"tiny", "cpu", "companion", "companion_zeroshot", "gpu"} <= set(names)
    assert not any(n.startswith("gue_") for n in names) and "gue_cpu" in study_presets(gue=True)
    assert set(names) | set(study_presets(gue=True)) == {p.stem for p in config_dir("transfer").glob("*.yaml")}
    for name in names:
        T.load_transfer_config(name)
    with pytest.raises(InputError, match=f"presets: {', '.join(names)}") as err:   # every file, sorted
        T.load_transfer_config("cpuu")
    assert "gue_" not in str(err.value)                          # the GUE presets are another command's
    with pytest.raises(InputError, match="global_batch_size=32 != micro_batch_size"):    # before any world is built
        T.load_transfer_config("companion", {"train": {"micro_batch_size": 8, "global_batch_size": 32}})


def test_a_cell_key_follows_its_tasks_templates(tmp_path):
    """Editing a task's template (tf_binding's answer format once changed) re-keys the cells that train on it, and
    only those: a cached cell must not stand for another template."""
    from seq2gen.tasks import DEFAULT_TEMPLATES_DIR
    folder = tmp_path / "templates"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, folder)
    cfg = T.load_transfer_config("tiny", {"templates": str(folder)})
    cells = {c.arm: c for c in T.plan(cfg) if c.seed == 0}
    before = {a: T.cell_key(cfg, c) for a, c in cells.items()}
    path = folder / "promoter.yaml"
    path.write_text(path.read_text().replace("ratio: 1.0", "ratio: 0.5"))
    after = {a: T.cell_key(cfg, c) for a, c in cells.items()}
    changed = {a for a in cells if before[a] != after[a]}
    assert changed == {a for a, c in cells.items() if "promoter" in c.tasks} and "single:expression" not in changed


def test_swapped_tissue_keeps_a_named_label():
    """The zero-shot baseline asks the same rows in the seen tissues: a target naming the held-out tissue
    (tf_binding's <tissue:brain>) must name the swapped-in one, or every row would read as unbound."""
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    ids = tok.ids_of(["<task:tf_binding>", "<tissue:brain>", "<dna>", "A", "</dna>"])
    out = T.swap_tissue({"input_ids": [ids, ids], "target": ["<tissue:brain>", "<no>"]}, tok, "brain", "liver")
    assert out["target"] == ["<tissue:liver>", "<no>"]
    assert tok.convert_ids_to_tokens(out["input_ids"][0].tolist())[1] == "<tissue:liver>"


def test_config_checks():
    cfg = T.load_transfer_config("tiny")
    assert cfg.loto == ["expression"] and cfg.pretrain_steps == 1
    with pytest.raises(InputError, match="did you mean 'seeds'"):
        T.load_transfer_config("tiny", {"seed": [0]})
    with pytest.raises(InputError, match="set by the protocol"):
        T.load_transfer_config("tiny", {"train": {"schedule": "cosine"}})
    with pytest.raises(InputError, match="finetune_steps"):
        T.load_transfer_config("tiny", {"finetune_steps": [1, 5]})
    with pytest.raises(InputError, match="unknown train config key"):
        T.load_transfer_config("tiny", {"train": {"lrr": 1.0}})
    arms = [c.arm for c in T.plan(cfg) if c.seed == 0]
    assert arms == ["single:promoter", "single:expression", "joint", "joint+pretrain", "loto:expression",
                    "finetune:expression", "single:expression@0.25", "joint:expression@0.25", "seq:expression@0.25",
                    "pair:expression@0.25+promoter"]
    assert T.parse_scarce("pair:expression@0.25+promoter") == ("pair", "expression", 0.25)
    assert T.parse_scarce("joint:expression@0.25") == ("joint", "expression", 0.25) and not T.parse_scarce("joint")
    with pytest.raises(InputError, match=r"add \['promoter'\] to loto_tasks"):
        T.load_transfer_config("tiny", {"scarcity": {"tasks": ["promoter"], "fractions": [0.1]}})
    with pytest.raises(InputError, match="fractions in"):
        T.load_transfer_config("tiny", {"scarcity": {"tasks": ["expression"], "fractions": [1.0]}})
    cells = {c.arm: c for c in T.plan(cfg)}
    assert cells["joint"].steps == 2 * cells["single:promoter"].steps          # the same examples per task
    assert cells["loto:expression"].tasks == ("promoter",) and cells["single:expression"].curve == (1, 2)
    assert cells["seq:expression@0.25"].init_arm == "loto:expression" and cells["joint:expression@0.25"].steps == 4
    assert cells["pair:expression@0.25+promoter"].tasks == ("expression", "promoter")
    pairs_only = T.load_transfer_config("tiny", {"full_arms": [], "loto_tasks": [], "zero_shot": {},
                                                 "pretrain": {"steps": 0},
                                                 "scarcity": {"tasks": ["expression"], "fractions": [0.25],
                                                              "arms": ["single", "pair"]}})
    assert [c.arm for c in T.plan(pairs_only) if c.seed == 0] == ["single:expression@0.25",
                                                                  "pair:expression@0.25+promoter"]
    with pytest.raises(InputError, match="loto_tasks .* need the full-data 'single' arm"):
        T.load_transfer_config("tiny", {"full_arms": ["joint"]})
    with pytest.raises(InputError, match="zero_shot and pretrain need the full-data 'joint' arm"):
        T.load_transfer_config("tiny", {"full_arms": ["single"]})
    with pytest.raises(InputError, match="full_arms must be among"):
        T.load_transfer_config("tiny", {"full_arms": ["seq"]})
    assert R.expected_share("expression", "chromatin") == pytest.approx(2 / 3)
    assert R.expected_share("promoter", "expression") == 1.0 and R.expected_share("annotate", "promoter") == 0.0


# ---------------------------------------------------------------------------------------------- end to end
def test_protocol_end_to_end_and_resume(world_dir, tmp_path):
    cfg = T.load_transfer_config("tiny", {"world": {"dir": str(world_dir)}})
    out = tmp_path / "transfer"
    res = T.run_transfer(cfg, out_dir=out, progress=False)
    n_cells = len(T.plan(cfg))
    assert res["computed_cells"] == n_cells == len(res["cells"])
    md = (out / "report.md").read_text()
    for section in SECTIONS:
        assert section in md
    for png in R.FIGURES.values():
        assert (out / png).stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    assert {c["arm"] for c in saved["cells"]} >= {"joint", "finetune:expression", "joint+pretrain"}
    ft = next(c for c in saved["cells"] if c["arm"] == "finetune:expression")
    assert ft["curve"]["steps"] == [1, 2] and "spearman" in ft["curve"]["scores"][0]
    joint = next(c for c in saved["cells"] if c["arm"] == "joint")
    assert set(joint["scores"]) == {"promoter", "expression"}
    assert "brain" in joint["zero_shot"]["expression"] and joint["calibration"]["expression"]["n"]
    assert not list(out.glob("runs/*/model"))                  # keep_models: false
    # scarcity: a quarter of expression's train rows, the same for every arm; test rows kept for the bootstrap
    n_train = len(T.prepare(cfg, out, progress=False).datasets["expression"]["train"])
    scarce = {c["arm"]: c for c in saved["cells"] if c["seed"] == 0 and "@" in c["arm"]}
    assert {c["train_rows"] for c in scarce.values()} == {round(0.25 * n_train)}
    assert set(scarce["joint:expression@0.25"]["scores"]) == {"expression"}      # scored on the target only
    rows = scarce["seq:expression@0.25"]["rows"]["expression"]
    assert rows["target"] == joint["rows"]["expression"]["target"] and len(rows["prediction"]) == len(rows["target"])
    assert "## Data scarcity" in md and "95 % CI (rows)" in md and "### Pairwise transfer at 0.25" in md
    zs = joint["zero_shot"]["expression"]["brain"]["rows"]          # zero-shot and agnostic on the same rows
    assert len(zs["target"]) == len(zs["zero_shot"]) == len(zs["agnostic"]) and zs["zero_shot"] != zs["agnostic"]
    assert R.summarize(saved)["zero_shot"][0]["rows"]["n_rows"] == len(zs["target"])
    assert set(scarce["pair:expression@0.25+promoter"]["scores"]) == {"expression"}
    assert "expression" in R.headline(saved)

    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    again = T.run_transfer(cfg, out_dir=out, progress=False)
    assert again["computed_cells"] == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == mtimes

    (out / "cells" / "finetune-expression__s1.json").unlink()   # its LOTO model is gone: retrained, then tuned
    third = T.run_transfer(cfg, out_dir=out, progress=False)
    assert third["computed_cells"] == 1
    assert json.loads((out / "cells" / "finetune-expression__s1.json").read_text())["curve"] == next(
        c for c in saved["cells"] if c["arm"] == "finetune:expression" and c["seed"] == 1)["curve"]


def test_scarcity_arms_only_and_cells_shared_across_task_lists(world_dir, tmp_path):
    """``full_arms: []`` runs only the scarcity arms and reports them (pairs figure, no empty joint-vs-single
    table or matrix); a cell's key and numbers do not depend on the config's other tasks, so a preset with a
    longer task list reuses another's cells (configs/transfer/tf_pairs.yaml reuses the companion's)."""
    over = {"world": {"dir": str(world_dir)}, "full_arms": [], "loto_tasks": [], "zero_shot": {},
            "pretrain": {"steps": 0}, "scarcity": {"tasks": ["expression"], "fractions": [0.25],
                                                   "arms": ["single", "pair"]}}
    small = T.load_transfer_config("tiny", over)
    big = T.load_transfer_config("tiny", {**over, "tasks": ["expression", "tf_binding", "promoter"]})
    res = T.run_transfer(small, out_dir=tmp_path / "small", progress=False)
    assert sorted(c["arm"] for c in res["cells"]) == ["pair:expression@0.25+promoter"] * 2 + \
        ["single:expression@0.25"] * 2
    out = tmp_path / "small"
    assert sorted(p.name for p in out.glob("*.png")) == [R.FIGURES["pairs"]]
    md = (out / "report.md").read_text()
    assert "## Joint vs single-task" not in md and "### Pairwise transfer at 0.25" in md and "pairs: 4 steps" in md
    assert "| expression | spearman | 1 " not in md                # no full-data row in the scarcity table
    assert R.headline(res).startswith("no full-data arms")

    (tmp_path / "big").mkdir()
    shutil.copytree(out / "cells", tmp_path / "big" / "cells")
    both = T.run_transfer(big, out_dir=tmp_path / "big", progress=False)
    assert both["computed_cells"] == 2                             # only pair:expression@0.25+tf_binding, 2 seeds
    again = T.run_transfer(big, out_dir=tmp_path / "fresh", progress=False)     # every cell computed here
    scores = lambda r: {(c["arm"], c["seed"]): c["scores"] for c in r["cells"]}  # noqa: E731
    assert scores(again) == scores(both)                           # the copied cells are what this config computes


def test_init_from_loads_an_exports_weights(tokenizer, tmp_path):
    """The fine-tune arm's `init_from` (seq2gen.train.loop.init_weights_from): weights copied, mismatches refused."""
    import torch

    from seq2gen.model import build_model
    from seq2gen.train.loop import init_weights_from
    src = build_model("tiny", tokenizer=tokenizer, seed=1)
    src.save_pretrained(tmp_path / "export")
    dst = build_model("tiny", tokenizer=tokenizer, seed=2)
    init_weights_from(dst, tmp_path / "export")
    for (name, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(InputError, match="do not fit"):
        init_weights_from(build_model("tiny", tokenizer=tokenizer, overrides={"d_model": 32}), tmp_path / "export")
    with pytest.raises(InputError, match="not a model export"):
        init_weights_from(dst, tmp_path)
