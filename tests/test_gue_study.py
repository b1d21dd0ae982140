"""GUE real-data study (seq2gen.evaluate.gue_study / gue_report): config checks, and the tiny preset end to end on
the shared GUE files — every arm, the tokenization sub-table, the report, resume and per-cell recomputation."""
from __future__ import annotations

import json

import pytest

from seq2gen.errors import InputError
from seq2gen.evaluate import gue_report as GR
from seq2gen.evaluate import gue_study as G
from seq2gen.tasks.seqtable import data_root

HAVE_REAL = (data_root() / "gue").is_dir()


def test_config_checks_and_plan(monkeypatch):
    for preset in ("gue_tiny", "gue_cpu", "gue_gpu"):
        cfg = G.load_config(preset)
        cells = G.plan(cfg)
        assert len({c.name for c in cells}) == len(cells)
        assert {c.arm for c in cells} >= {"joint"} | {f"single:{t}" for t in cfg.tasks}
    cfg = G.load_config("gue_tiny", {"tokenization": {"variants": {"kmer": {"tokenizer": "kmer"}}, "arms": ["joint"]}})
    arms = [c.arm for c in G.plan(cfg) if c.seed == 0]
    assert arms.index("world") < arms.index("joint+world") and "joint@kmer" in arms
    assert arms.index("single:gue_splice") < arms.index("cnn:gue_splice")
    assert G.parse_arm("single:gue_tf_0@kmer") == ("single", "gue_tf_0", "kmer")
    with pytest.raises(InputError, match="did you mean 'seeds'"):
        G.load_config("gue_tiny", {"sedes": [0]})
    with pytest.raises(InputError, match="model.preset"):
        G.load_config("gue_tiny", {"train": {"model": "mini"}})
    with pytest.raises(InputError, match="unknown arms"):
        G.load_config("gue_tiny", {"arms": ["loto"]})
    # a single-task cell does not depend on the other tasks; a CNN cell not on the T5's learning rate
    a = G.load_config("gue_tiny")
    b = G.load_config("gue_tiny", {"tasks": ["gue_mouse_3"], "train": {"lr": 1e-2}})
    cell = G.Cell("single:gue_mouse_3", 0, ("gue_mouse_3",), 2)
    cnn = G.Cell("cnn:gue_mouse_3", 0, ("gue_mouse_3",), 2)
    assert G.cell_key(a, cnn) == G.cell_key(b, cnn) and G.cell_key(a, cell) != G.cell_key(b, cell)
    assert G.cell_key(a, cell) == G.cell_key(G.load_config("gue_tiny", {"tasks": ["gue_mouse_3"]}), cell)
    # the key follows the preset's content, not only its name: an edited preset does not reuse stale cells
    before, preset = G.cell_key(a, cell), G.resolved_preset(a.spec()["preset"])
    monkeypatch.setattr(G, "resolved_preset", lambda p: {**preset, "config": {**preset["config"], "dropout_rate": 0.5}})
    assert G.cell_key(a, cell) != before
    assert GR.reference("gue_prom_core_all")["DNABERT-2"] == 0.831 and GR.reference("gue_splice") == {}
    assert GR.reference("gue_tf_4") == {"DNABERT-2": 0.920} and GR.reference("gue_emp_h3")["NT-v2"] == 0.895


@pytest.mark.real_data
@pytest.mark.skipif(not HAVE_REAL, reason=f"shared real data not found at {data_root()} (set SEQ2GEN_REAL_DATA)")
def test_tiny_study_end_to_end_and_resume(world_dir, tmp_path, monkeypatch):
    over = {"world_pretrain": {"world": {"dir": str(world_dir)}},
            "tokenization": {"variants": {"kmer": {"tokenizer": "kmer", "k": 3}}, "arms": ["joint"]}}
    cfg = G.load_config("gue_tiny", over)
    out = tmp_path / "study"
    res = G.run_gue_study(cfg, out_dir=out, progress=False)
    cells = G.plan(cfg)
    assert res["computed_cells"] == len(cells) == 2 * (2 + 2 + 2 + 1 + 1 + 2 + 1)
    by = {(c["arm"], c["seed"]): c for c in res["cells"]}
    for t in cfg.tasks:
        for arm in (f"single:{t}", f"cnn:{t}", f"kmer_lr:{t}", "joint", "joint+pretrain", "joint+world",
                    "joint@kmer"):
            s = by[arm, 0]["scores"][t]
            assert 0 <= s["auroc"] <= 1 and -1 <= s["mcc"] <= 1, arm
    # the CNN trained on the T5's rows with the same number of examples, scored the same test rows
    cnn = by["cnn:gue_emp_h3", 0]
    assert cnn["cnn"]["examples_seen"] == cfg.steps_per_task * cfg.global_batch
    assert cnn["scores"]["gue_emp_h3"]["n"] == by["single:gue_emp_h3", 0]["scores"]["gue_emp_h3"]["n"] == 40
    assert cnn["cnn"]["select"] == "last"                      # the T5 arms' rule: final weights, no selection
    lr = by["kmer_lr:gue_splice", 0]                          # every train row of its task, the same test rows
    assert lr["kmer_lr"]["n_train"] == len(G.Env(cfg, out, False).gue().datasets["gue_splice"]["train"])
    assert lr["scores"]["gue_splice"]["n"] == 40
    assert by["world", 0]["trained_on"] == ["promoter"] and "auroc" in by["world", 0]["scores"]["promoter"]
    assert not list(out.glob("runs/*/model")), "keep_models: false leaves no model folders"

    md = (out / "report.md").read_text()
    for heading in ("## Per task", "### gue_emp_h3", "### gue_splice", "## Transfer deltas",
                    "## Published reference figures (theirs)", "## Synthetic-world pre-training model", "## Figure"):
        assert heading in md, heading
    for comparison in ("joint − single", "+span pre-training − joint", "+world pre-training − joint",
                       "joint − CNN", "joint − k-mer LR", "joint @kmer − joint"):
        assert f"| {comparison} |" in md, comparison
    assert (out / GR.FIGURE).read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "results.json").read_text())
    assert len(saved["summary"]["comparisons"]) == 2 * 6
    GR.write_report(saved, tmp_path / "again")                 # the report rebuilds from results.json alone
    assert (tmp_path / "again" / "report.md").read_text().split("## Per task")[1] == md.split("## Per task")[1]

    # resume: nothing is recomputed, nothing trains
    import seq2gen.train
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    monkeypatch.setattr(seq2gen.train, "train", lambda *a, **k: pytest.fail("a finished cell was retrained"))
    again = G.run_gue_study(cfg, out_dir=out, progress=False)
    assert again["computed_cells"] == 0
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    # a CNN setting changes only the CNN cells' keys
    third = G.run_gue_study(G.load_config(cfg, {"cnn": {"lr": 1e-3}}), out_dir=out, progress=False)
    assert third["computed_cells"] == 2 * len(cfg.tasks)


def test_committed_report_rebuilds():
    """docs/results/gue/report.md is what its results.json says (a hand edit, or a results.json from another run,
    would show here), and it ran every cell of the gue_cpu preset as configs/transfer/ has it now."""
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "docs" / "results" / "gue"
    results = json.loads((folder / "results.json").read_text())
    assert GR.markdown(results) == (folder / "report.md").read_text()
    cfg = G.load_config(results["config"])
    assert {c["arm"] for c in results["cells"]} == {c.arm for c in G.plan(cfg)}
    assert sorted({c["seed"] for c in results["cells"]}) == cfg.seeds
    preset = G.load_config("gue_cpu").to_dict()            # the committed run is the preset as it stands
    assert {k: v for k, v in cfg.to_dict().items() if k != "out_dir"} == {k: v for k, v in preset.items()
                                                                          if k != "out_dir"}
