"""Transfer protocol: verdict statistics on synthetic numbers, the report from synthetic results, config checks, and
the whole protocol end to end at `tiny` size with resume (seq2gen.evaluate.transfer / report)."""
from __future__ import annotations

import json

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
        curve = {"task": "b", "steps": steps, "scores": [{"spearman": b - 0.1}, {"spearman": b}]}
        cell("single:a", s, {"a": a})
        cell("single:b", s, {"b": b}, curve=curve, zero_shot=zs,
             calibration={"b": {"pred": [0, 1, 2], "true": [0.1, 1.2, 1.9], "n": [5, 5, 5]}})
        cell("joint", s, {"a": a + 0.1, "b": b + rng.normal(scale=0.05)}, zero_shot=zs,
             calibration={"b": {"pred": [0, 1, 2], "true": [0.0, 1.0, 2.2], "n": [5, 5, 5]}})
        cell("joint+pretrain", s, {"a": a + 0.1, "b": b})
        cell("loto:b", s, {"a": a + 0.05})
        cell("finetune:b", s, {"b": b + 0.05},
             curve={"task": "b", "steps": steps, "scores": [{"spearman": b}, {"spearman": b + 0.05}]})
    cfg = {"tasks": tasks, "seeds": list(seeds), "steps_per_task": 2, "finetune_steps": steps,
           "zero_shot": {"b": ["brain"]}, "pretrain": {"task": "span_corruption", "steps": 1}, "train": {}}
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
    assert s["pretrain"][0]["verdict"] == "unclear"          # identical numbers: no difference
    mx = s["matrix"]
    assert mx["rows"] == ["only a", "only b", "all but b", "all (joint)", "all + pretrain"]
    assert mx["value"][0][1] is None and mx["delta"][2][0] == pytest.approx(0.05)
    text = R.headline(res)
    assert "a " in text and "positive transfer" in text and "no clear transfer" in text
    R.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    for section in SECTIONS:
        assert section in md
    for png in R.FIGURES.values():
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    again = json.loads((tmp_path / "results.json").read_text())
    R.write_report(again, tmp_path / "again")              # a report rebuilds from results.json alone
    assert R.summarize(again)["joint_vs_single"][0]["verdict"] == "positive"


# ---------------------------------------------------------------------------------------------- config
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
                    "finetune:expression"]
    cells = {c.arm: c for c in T.plan(cfg)}
    assert cells["joint"].steps == 2 * cells["single:promoter"].steps          # the same examples per task
    assert cells["loto:expression"].tasks == ("promoter",) and cells["single:expression"].curve == (1, 2)


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
