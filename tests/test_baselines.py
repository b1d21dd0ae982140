"""Tests for seq2gen.baselines: one-hot encoding, scoring, the GUE registry/loader (on the shared real data, skipped
when absent), the CNN baseline (planted-motif toy task; a few steps on a real GUE task) and the k-mer logistic
regression."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from seq2gen.baselines.cnn import encode_codes, one_hot, predict_cnn, train_cnn  # noqa: E402
from seq2gen.baselines.kmer import train_kmer_lr  # noqa: E402
from seq2gen.baselines.gue import (GUE_TASKS, get_task, gue_root, load_gue,  # noqa: E402
                                   main)
from seq2gen.errors import InputError  # noqa: E402
from seq2gen.evaluate.metrics import classification  # noqa: E402

REAL = gue_root()


@pytest.fixture(scope="module")
def real_root():
    if not (REAL / "prom_prom_core_all" / "dev.csv.gz").is_file():
        pytest.skip(f"real GUE data not found at {REAL} (set SEQ2GEN_REAL_DATA)")
    return REAL


@pytest.fixture(autouse=True, scope="module")
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # the box is shared: 2 OpenMP threads on 2 busy cores run ~20x slower than 1
    yield
    torch.set_num_threads(old)


def test_one_hot_lut():
    x = one_hot(["ACGTN", "acgu", "R"])
    assert x.shape == (3, 5, 4) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :4], np.eye(4))
    np.testing.assert_array_equal(x[0, 4], [0.25] * 4)
    np.testing.assert_array_equal(x[1, :4], np.eye(4))  # lower case; U as T
    np.testing.assert_array_equal(x[1, 4], 0)            # padding
    np.testing.assert_array_equal(x[2, 0], [0.5, 0, 0.5, 0])  # R = A/G
    z = one_hot(["NR"], n_value=0)
    assert not z.any()
    assert encode_codes(["ACGT", "AC"], length=3).tolist() == [[1, 2, 3], [1, 2, 0]]
    with pytest.raises(ValueError, match=r"sequence 1: invalid character 'X' at position 3"):
        encode_codes(["ACGT", "ACXT"])


def test_metrics_match_evaluate_and_handle_three_classes():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p1 = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    ours = classification(y, np.stack([1 - p1, p1], axis=1))
    ref = classification(y, p1)
    for k in ("auroc", "auprc", "mcc", "accuracy"):
        assert ours[k] == pytest.approx(ref[k])
    y3 = rng.integers(0, 3, 300)
    p3 = rng.random((300, 3)) + np.eye(3)[y3]
    m = classification(y3, p3 / p3.sum(1, keepdims=True))
    assert set(m) >= {"auroc", "auprc", "mcc", "accuracy", "f1_macro"} and m["auroc"] > 0.8


def test_registry():
    assert len(GUE_TASKS) == 15 and get_task("splice_reconstructed").n_classes == 3
    assert {t.species for t in GUE_TASKS.values()} == {"human", "mouse", "yeast"}
    assert get_task("prom_prom_core_all").reference_auroc["Caduceus-Ph"] == 0.875
    with pytest.raises(InputError, match="did you mean prom_prom_core_all"):
        get_task("prom_core_all")


def test_cli_lists_tasks_and_asks_for_a_task(capsys):
    """No data needed: --list prints every task as a JSON line; no --task is a usage error (status 2)."""
    assert main(["--list"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["name"] for r in rows] == list(GUE_TASKS)
    assert main(["--max-steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "--task is required (or --list)" in err and "Usage: python -m seq2gen.baselines.gue" in err


def _toy(n: int, seed: int, motif: str = "TGACTCA", length: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    seqs = rng.choice(list("ACGT"), size=(n, length))
    y = (rng.random(n) < 0.5).astype(int)
    for i in np.flatnonzero(y):
        j = rng.integers(0, length - len(motif))
        seqs[i, j:j + len(motif)] = list(motif)
    return pd.DataFrame({"sequence": ["".join(s) for s in seqs], "label": y})


def test_cnn_learns_planted_motif_and_is_seeded():
    train, val, test = _toy(2000, 1), _toy(300, 2), _toy(500, 3)
    kw = dict(max_steps=80, batch_size=64, seed=0, lr=5e-3, warmup_steps=10,
              model_kwargs=dict(channels=(32, 32), kernels=(9, 5), pools=(2, 1)))
    model, hist = train_cnn(train, val, 2, **kw)
    p = predict_cnn(model, test["sequence"])
    assert p.shape == (500, 2) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert classification(test["label"], p)["auroc"] > 0.9
    assert hist["steps"] == 80 and hist["examples_seen"] == 80 * 64 and hist["stop_reason"] == "max_steps"
    assert hist["wall_s"] > 0 and hist["best_val"]["auroc"] > 0.9 and len(hist["curve"]) >= 10
    model2, _ = train_cnn(train, val, 2, **{**kw, "max_steps": 20})
    model3, _ = train_cnn(train, val, 2, **{**kw, "max_steps": 20})
    np.testing.assert_array_equal(predict_cnn(model2, test["sequence"][:50]), predict_cnn(model3, test["sequence"][:50]))


def test_cnn_select_last_keeps_the_final_weights():
    """The GUE study's fair rule: ``select="last"`` ignores validation (same weights as a run without it)."""
    train, val, test = _toy(600, 5), _toy(200, 6), _toy(100, 7)
    kw = dict(max_steps=24, batch_size=32, seed=0, lr=5e-3, warmup_steps=2,
              model_kwargs=dict(channels=(16, 16), kernels=(9, 5), pools=(2, 1)))
    last, hist = train_cnn(train, val, 2, select="last", eval_every=2, **kw)
    blind, _ = train_cnn(train, None, 2, **kw)
    best, hist_best = train_cnn(train, val, 2, eval_every=2, **kw)
    x = test["sequence"].tolist()
    np.testing.assert_array_equal(predict_cnn(last, x), predict_cnn(blind, x))
    assert hist["select"] == "last" and hist_best["select"] == "best"
    if hist_best["best_step"] != 24:             # the best validation step was an earlier one: other weights
        assert not np.array_equal(predict_cnn(best, x), predict_cnn(last, x))
    with pytest.raises(ValueError, match="select"):
        train_cnn(train, val, 2, select="median", **kw)


def test_kmer_lr_learns_a_motif_is_strand_symmetric_and_skips_n():
    train, test = _toy(1500, 8, length=80), _toy(400, 9, length=80)
    model, hist = train_kmer_lr(train, 2, k=6)
    p = model.predict_proba(test["sequence"].tolist())
    assert p.shape == (400, 2) and classification(test["label"], p)["auroc"] > 0.9
    assert hist["n_train"] == 1500 and hist["n_features"] == 4096
    rc = {"A": "T", "C": "G", "G": "C", "T": "A"}
    flipped = ["".join(rc[c] for c in reversed(x)) for x in test["sequence"]]
    sym, _ = train_kmer_lr(train, 2, k=6, rc_augment=True)
    np.testing.assert_allclose(sym.predict_proba(test["sequence"].tolist()), sym.predict_proba(flipped), atol=1e-9)
    assert not np.allclose(model.predict_proba(test["sequence"].tolist()), model.predict_proba(flipped))
    f = model.features(["NNNNACGTACGnnnn", "acgtacg"])      # k-mers with N do not count; lowercase reads as upper
    assert f[0].nnz == 2 and (f[0] != f[1]).nnz == 0
    with pytest.raises(ValueError, match=r"lack class\(es\) \[2\]"):
        train_kmer_lr(train, 3)


def test_cnn_wall_clock_budget_and_label_check():
    train = _toy(200, 4)
    _, hist = train_cnn(train, None, 2, budget_s=1.0, batch_size=32,
                        model_kwargs=dict(channels=(16,), kernels=(5,), pools=(1,)))
    assert hist["stop_reason"] == "budget_s" and hist["steps"] > 0 and hist["wall_s"] < 5
    with pytest.raises(ValueError, match="labels must be integers 0..1"):
        train_cnn(train.assign(label=train["label"] * 2), None, 2, max_steps=1)
    with pytest.raises(ValueError, match="budget_s"):
        train_cnn(train, None, 2)


@pytest.mark.real_data
@pytest.mark.parametrize("name", ["prom_prom_core_all", "EMP_H3", "splice_reconstructed"])
def test_load_gue_real(real_root, name):
    task = get_task(name)
    s = load_gue(name, root=real_root, seed=0)
    assert set(s) == {"train", "validation", "test"}
    for part in s.values():
        assert len(part) > 100 and (part["sequence"].str.len() == task.length).all()
        assert set(part["label"].unique()) == set(range(task.n_classes))
    up = {k: set(v["sequence"].str.upper()) for k, v in s.items()}
    assert not up["test"] & (up["train"] | up["validation"]) and not up["validation"] & up["train"]
    if task.has_train:
        assert (s["test"]["source"] == "dev").all() and (s["train"]["source"] == "train").all()
        assert len(s["validation"]) == pytest.approx(0.1 * (len(s["train"]) + len(s["validation"])), rel=0.05)
    else:
        total = sum(s.info["sizes"].values()) + s.info["n_dropped_test"] + s.info["n_dropped_validation"]
        assert len(s["test"]) == pytest.approx(0.2 * total, rel=0.05)
    again = load_gue(name, root=real_root, seed=0)
    assert again["test"].equals(s["test"]) and again["train"].equals(s["train"])
    if name == "prom_prom_core_all":
        assert s.info["n_dropped_test"] > 0  # GUE repeats some sequences across splits


@pytest.mark.real_data
def test_cli_cnn_few_steps_on_real_task(real_root, capsys):
    assert main(["--task", "prom_prom_core_tata", "--max-steps", "3", "--batch-size", "32", "--threads", "1",
                 "--root", str(real_root)]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["task"] == "prom_prom_core_tata" and res["steps"] == 3 and res["examples_seen"] == 96
    assert 0 <= res["auroc"] <= 1 and res["n_test"] > 500 and "GUE dev" in res["split"]
    assert main(["--task", "nope", "--max-steps", "1", "--root", str(real_root)]) == 2


@pytest.mark.real_data
def test_cnn_beats_chance_on_real_promoters(real_root, capsys):
    """A few seconds of training on real GUE core promoters (70 bp) already ranks the held-out dev rows well
    (the GUE study's CNN reaches 0.85 with 4,800 examples; docs/results/gue/)."""
    assert main(["--task", "prom_prom_core_all", "--max-steps", "60", "--batch-size", "64", "--threads", "1",
                 "--root", str(real_root)]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n_test"] > 1000 and res["auroc"] > 0.65, res
