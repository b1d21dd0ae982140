"""Quantizers: round trip within the bin width, calibration of the expected value, JSON persistence."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seq2gen.errors import InputError
from seq2gen.vocab import Quantizer, load_quantizers, save_quantizers

finite = st.floats(min_value=0, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, st.integers(2, 300), elements=finite),
       method=st.sampled_from(["uniform", "quantile", "log1p-quantile"]), n_bins=st.integers(2, 128))
def test_round_trip_error_bounded_by_bin_width(values, method, n_bins):
    q = Quantizer.fit(values, method=method, n_bins=n_bins)
    bins = q.encode(values)
    assert bins.min() >= 0 and bins.max() < n_bins
    back = q.centres[bins]
    assert np.all(np.abs(back - values) <= q.bin_width(values) * (1 + 1e-9) + 1e-9)


@settings(max_examples=30, deadline=None)
@given(values=arrays(np.float64, st.integers(2, 200), elements=finite))
def test_encode_is_monotone(values):
    q = Quantizer.fit(values, "quantile", 16)
    order = np.argsort(values, kind="stable")
    assert np.all(np.diff(q.encode(values[order])) >= 0)


def test_quantile_bins_are_balanced():
    x = np.random.default_rng(0).lognormal(size=20_000)
    q = Quantizer.fit(x, "quantile", 20)
    counts = np.bincount(q.encode(x), minlength=20)
    assert counts.min() > 0.9 * len(x) / 20 and counts.max() < 1.1 * len(x) / 20
    ql = Quantizer.fit(x, "log1p-quantile", 20)
    assert np.bincount(ql.encode(x), minlength=20).min() > 0.9 * len(x) / 20


def test_decode_expected_value_matches_manual_computation():
    q = Quantizer.fit(np.linspace(0, 10, 101), "uniform", 10)
    probs = np.zeros((2, 10))
    probs[0, 3] = 1.0
    probs[1, [2, 7]] = [0.25, 0.75]
    expected, argmax, lo, hi = q.decode(probs)
    assert expected[0] == pytest.approx(3.5) and argmax[0] == pytest.approx(3.5)
    assert expected[1] == pytest.approx(0.25 * 2.5 + 0.75 * 7.5) and argmax[1] == pytest.approx(7.5)
    assert lo[0] == pytest.approx(3.0) and hi[0] == pytest.approx(4.0)
    assert lo[1] == pytest.approx(2.0) and hi[1] == pytest.approx(8.0)


def test_decode_is_calibrated_on_one_hot_truth():
    """Decoding the one-hot distribution of each value's own bin gives back the value within its bin width."""
    x = np.random.default_rng(1).gamma(2.0, 3.0, size=5000)
    q = Quantizer.fit(x, "log1p-quantile", 64)
    expected, _, lo, hi = q.decode(np.eye(64)[q.encode(x)])
    assert np.all((x >= lo - 1e-9) & (x <= hi + 1e-9))
    assert np.corrcoef(expected, x)[0, 1] > 0.98  # the widest (tail) bins cost the most


def test_tokens_and_persistence(tmp_path):
    q = Quantizer.fit([0.0, 1.0, 2.0, 3.0], "uniform", 128)
    assert q.tokens([0.0, 3.0]) == ["<val:000>", "<val:127>"]
    q.save(tmp_path / "q.json")
    assert np.array_equal(Quantizer.load(tmp_path / "q.json").edges, q.edges)
    save_quantizers({"expression": q}, tmp_path / "all.json")
    assert np.array_equal(load_quantizers(tmp_path / "all.json")["expression"].edges, q.edges)


def test_bad_inputs():
    with pytest.raises(InputError, match="finite"):
        Quantizer.fit([1.0, np.nan])
    with pytest.raises(InputError, match="unknown quantizer method"):
        Quantizer.fit([1.0], "kmeans")
    with pytest.raises(InputError, match="values > -1"):
        Quantizer.fit([-2.0, 1.0], "log1p-quantile")
    with pytest.raises(InputError, match="NaN"):
        Quantizer.fit([1.0, 2.0]).encode([np.nan])
