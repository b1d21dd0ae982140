"""Metrics against scikit-learn / scipy on known inputs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from seq2gen.evaluate import metrics as M


def test_binary_classification_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    out = M.classification(y, s)
    assert out["auroc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert out["auprc"] == pytest.approx(skm.average_precision_score(y, s))
    assert out["mcc"] == pytest.approx(skm.matthews_corrcoef(y, s >= 0.5))
    perfect = M.classification([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect["auroc"] == 1.0 and perfect["mcc"] == 1.0 and perfect["accuracy"] == 1.0


def test_classification_by_hand():
    """Values worked out on paper, not by the library the metric wraps."""
    # scores 0.1 0.5 | 0.35 0.8 for labels 0 0 | 1 1: 3 of 4 (pos, neg) pairs ordered → AUROC 0.75;
    # ranked 0.8+ 0.5- 0.35+ 0.1-: AP = ½·1 + ½·⅔; called at ≥ 0.5: TP 1 TN 1 FP 1 FN 1 → MCC 0, accuracy ½
    out = M.classification([0, 0, 1, 1], [0.1, 0.5, 0.35, 0.8])
    assert out["auroc"] == pytest.approx(0.75) and out["auprc"] == pytest.approx(5 / 6)
    assert out["mcc"] == pytest.approx(0.0) and out["accuracy"] == pytest.approx(0.5)
    # at threshold 0.6: TP 1 TN 2 FP 0 FN 1 → MCC 2/√12
    assert M.classification([0, 0, 1, 1], [0.1, 0.5, 0.35, 0.8], threshold=0.6)["mcc"] == pytest.approx(2 / 12 ** .5)
    # class probabilities (n, 2) read as the positive column: the same numbers
    two = M.classification([0, 0, 1, 1], np.array([[0.9, 0.1], [0.5, 0.5], [0.65, 0.35], [0.2, 0.8]]))
    assert {k: two[k] for k in out} == pytest.approx(out)
    # three classes, predicted 0 1 2 1 1 0 for 0 1 2 2 1 0: per-class F1 1, 4/5, 2/3
    multi = M.classification([0, 1, 2, 2, 1, 0], np.eye(3)[[0, 1, 2, 1, 1, 0]] + 0.1)
    assert multi["f1_macro"] == pytest.approx((1 + 4 / 5 + 2 / 3) / 3) and multi["accuracy"] == pytest.approx(5 / 6)
    # a class absent from the targets: no AUROC/AUPRC rather than a number over fewer classes
    absent = M.classification([0, 1, 1, 0], np.eye(3)[[0, 1, 1, 0]] + 0.1)
    assert np.isnan(absent["auroc"]) and np.isnan(absent["auprc"]) and absent["accuracy"] == 1.0


def test_regression_and_track_by_hand():
    # t 1 2 3 4, p 1 3 2 4: deviations ±1.5/±0.5, Σ products 4, Σ squares 5 → r 0.8 (ranks equal values); MSE 2/4
    out = M.regression([1, 2, 3, 4], [1, 3, 2, 4])
    assert out["pearson"] == pytest.approx(0.8) and out["spearman"] == pytest.approx(0.8)
    assert out["mse"] == pytest.approx(0.5)
    # pooled bins of [0 1 2 3 | 3 2 1 0] vs [0 1 2 3 | 0 1 2 3]: the products cancel → r 0
    tr = M.track(np.array([[0, 1, 2, 3], [3, 2, 1, 0.0]]), np.array([[0, 1, 2, 3], [0, 1, 2, 3.0]]))
    assert tr["pearson_bins"] == pytest.approx(0.0, abs=1e-12)


def test_multiclass_classification():
    y = np.array([0, 1, 2, 2, 1, 0])
    s = np.eye(3)[[0, 1, 2, 1, 1, 0]] + 0.1
    out = M.classification(y, s)
    assert out["accuracy"] == pytest.approx(5 / 6)
    assert out["mcc"] == pytest.approx(skm.matthews_corrcoef(y, s.argmax(1)))
    assert 0.5 < out["auroc"] <= 1.0


def test_regression_and_variant_match_scipy():
    rng = np.random.default_rng(1)
    t = rng.normal(size=300)
    p = t + rng.normal(scale=0.5, size=300)
    out = M.regression(t, p)
    assert out["pearson"] == pytest.approx(stats.pearsonr(t, p)[0])
    assert out["spearman"] == pytest.approx(stats.spearmanr(t, p)[0])
    v = M.variant(t, p, min_abs=0.5)
    big = np.abs(t) > 0.5
    assert v["sign_accuracy"] == pytest.approx(np.mean(np.sign(t[big]) == np.sign(p[big])))
    assert np.isnan(M.regression([1, 1, 1], [1, 2, 3])["pearson"])


def test_track_pooled_and_per_region():
    t = np.array([[0, 1, 2, 3], [3, 2, 1, 0.0]])
    p = np.array([[0, 1, 2, 3], [0, 1, 2, 3.0]])
    out = M.track(t, p)
    assert out["pearson_per_region"] == pytest.approx(0.0)  # +1 and −1
    assert out["pearson_bins"] == pytest.approx(stats.pearsonr(t.ravel(), p.ravel())[0])


def test_annotation_f1_and_boundaries():
    labels = ["<exon>", "<intron>"]
    truth = [[("<exon>", 0, 10), ("<intron>", 10, 30), ("<exon>", 30, 40)]]
    same = M.annotation(truth, truth, [40], labels)
    assert same["per_base_f1"] == 1.0 and same["boundary_rate"] == 1.0
    shifted = [[("<exon>", 0, 12), ("<intron>", 12, 30), ("<exon>", 30, 40)]]
    out = M.annotation(truth, shifted, [40], labels)
    # exon: tp 20, fp 2, fn 0 → F1 40/42; intron: tp 18, fp 0, fn 2 → 36/38
    assert out["f1_exon"] == pytest.approx(40 / 42) and out["f1_intron"] == pytest.approx(36 / 38)
    assert out["boundary_rate"] == pytest.approx(4 / 6)  # 10 missed twice (exon end, intron start)
    assert M.annotation(truth, shifted, [40], labels, tolerance=2)["boundary_rate"] == 1.0
    assert M.annotation(truth, [[]], [40], labels)["per_base_f1"] == 0.0
    # the best constant answer: intron everywhere → intron F1 2·20/(20+40), exon F1 0 → mean 1/3; the same value
    # the metric gives that answer itself
    assert same["per_base_f1_constant"] == pytest.approx(1 / 3)
    all_intron = M.annotation(truth, [[("<intron>", 0, 40)]], [40], labels)
    assert all_intron["per_base_f1"] == pytest.approx(same["per_base_f1_constant"])
