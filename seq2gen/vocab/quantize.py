"""Value quantizers: real numbers ↔ ``<val:NNN>`` tokens.

Each task owns one, fit on its train split and saved with the model (JSON). Decoding takes the model's probabilities
over the K value tokens and returns the expected value (bin centres weighted by probability), the argmax bin's
centre and a central interval — one teacher-forced forward pass, no sampling.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError

METHODS = ("uniform", "quantile", "log1p-quantile")


@dataclass
class Quantizer:
    """Bin edges in the (possibly log1p-transformed) value space; ``len(edges) == n_bins + 1``."""

    method: str
    edges: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1

    @classmethod
    def fit(cls, values, method: str = "quantile", n_bins: int = 128) -> "Quantizer":
        if method not in METHODS:
            raise InputError(f"unknown quantizer method {method!r}", hint=f"choose one of {', '.join(METHODS)}")
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size == 0 or not np.isfinite(x).all():
            raise InputError("quantizer needs a non-empty array of finite values "
                             f"({x.size} values, {int((~np.isfinite(x)).sum())} not finite)")
        if method == "log1p-quantile":
            if (x <= -1).any():
                raise InputError("log1p-quantile needs values > -1 (e.g. counts, TPM)")
            x = np.log1p(x)
        lo, hi = float(x.min()), float(x.max())
        if hi == lo:
            hi = lo + 1.0
        if method == "uniform":
            edges = np.linspace(lo, hi, n_bins + 1)
        else:
            edges = np.quantile(x, np.linspace(0.0, 1.0, n_bins + 1))
            edges = _strictly_increasing(edges, lo, hi)
        return cls(method, edges)

    # ---------------------------------------------------------------- transforms
    def _fwd(self, x: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(x, -1 + 1e-12)) if self.method == "log1p-quantile" else x

    def _inv(self, z: np.ndarray) -> np.ndarray:
        return np.expm1(z) if self.method == "log1p-quantile" else z

    @property
    def centres(self) -> np.ndarray:
        """Bin centres in value space (midpoints in the transformed space)."""
        return self._inv((self.edges[:-1] + self.edges[1:]) / 2)

    def encode(self, values) -> np.ndarray:
        """Bin index per value; values outside the fitted range clip to the end bins."""
        z = self._fwd(np.asarray(values, dtype=np.float64))
        if not np.isfinite(z).all():
            raise InputError("cannot quantize NaN or infinite values")
        return np.clip(np.searchsorted(self.edges, z, side="right") - 1, 0, self.n_bins - 1)

    def tokens(self, values) -> list[str]:
        return [f"<val:{int(i):03d}>" for i in np.atleast_1d(self.encode(values))]

    def bin_width(self, values) -> np.ndarray:
        """Width (in value space) of the bin each value falls in: the round-trip error bound."""
        i = self.encode(values)
        return self._inv(self.edges[i + 1]) - self._inv(self.edges[i])

    def decode(self, probs, coverage: float = 0.8):
        """Expected value, argmax-bin centre and central ``coverage`` interval from probabilities over bins.

        ``probs``: (..., n_bins), need not be normalised. Returns four arrays of shape ``probs.shape[:-1]``.
        """
        p = np.asarray(probs, dtype=np.float64)
        if p.shape[-1] != self.n_bins:
            raise ValueError(f"expected {self.n_bins} probabilities per row, got {p.shape[-1]}")
        p = p / p.sum(axis=-1, keepdims=True)
        centres = self.centres
        expected = p @ centres
        argmax = centres[p.argmax(axis=-1)]
        cdf = np.cumsum(p, axis=-1)
        a = (1 - coverage) / 2
        lo_i = np.clip((cdf < a).sum(axis=-1), 0, self.n_bins - 1)
        hi_i = np.clip((cdf < 1 - a).sum(axis=-1), 0, self.n_bins - 1)
        lo = self._inv(self.edges[lo_i])
        hi = self._inv(self.edges[hi_i + 1])
        return expected, argmax, lo, hi

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        return {"method": self.method, "edges": self.edges.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Quantizer":
        return cls(d["method"], np.asarray(d["edges"], dtype=np.float64))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> "Quantizer":
        return cls.from_dict(json.loads(Path(path).read_text()))


def save_quantizers(quantizers: dict[str, Quantizer], path: str | Path) -> None:
    """All tasks' quantizers in one ``quantizers.json`` (name → quantizer)."""
    Path(path).write_text(json.dumps({k: q.to_dict() for k, q in quantizers.items()}, indent=1))


def load_quantizers(path: str | Path) -> dict[str, Quantizer]:
    return {k: Quantizer.from_dict(v) for k, v in json.loads(Path(path).read_text()).items()}


def _strictly_increasing(edges: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Quantile edges repeat on tied data; spread repeats so every bin has positive width."""
    edges = edges.copy()
    eps = max(abs(hi - lo), 1.0) * 1e-9
    for i in range(1, len(edges)):
        if edges[i] <= edges[i - 1]:
            edges[i] = edges[i - 1] + eps
    return edges
