"""Motif families of the synthetic world: generated PWMs, log-odds scoring, affinity and sampling.

Sequences are ``uint8`` code arrays: ``A=0, C=1, G=2, T=3, N=4`` (lowercase is a separate mask, never a code).
A PWM is an ``(L, 4)`` array of probabilities; its log-odds score of a window ``x`` is
``s(x) = sum_j log(pwm[j, x_j] / bg[x_j])`` (natural log; any ``N`` scores ``N_SCORE``). The affinity of a window
is ``a = sigmoid(s - threshold)`` with ``threshold = max_score - delta``, set to 0 where it falls below
``min_affinity`` so that windows far from the motif contribute exactly nothing. Occupancy in tissue ``t`` is
``a * level[t]``. No JASPAR matrices ship with the installed packages, so PWMs are generated from the seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BASES = "ACGT"
N_CODE = 4
N_SCORE = -20.0  # log-odds of any N in a window: such windows never bind
# ASCII -> code (A/C/G/T either case; anything else N) and code -> uppercase/lowercase ASCII.
_ENCODE = np.full(256, N_CODE, dtype=np.uint8)
for _i, _b in enumerate(BASES):
    _ENCODE[ord(_b)] = _ENCODE[ord(_b.lower())] = _i
UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
LOWER = np.frombuffer(b"acgtn", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, 4], dtype=np.uint8)

ROLES = ("activator", "repressor", "core", "splice_donor", "splice_acceptor")
TF_ROLES = ("activator", "repressor")  # families reported as peaks / chromatin


def encode(seq: str) -> np.ndarray:
    """DNA string -> uint8 codes (non-ACGT -> N)."""
    return _ENCODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]


def decode(codes: np.ndarray) -> str:
    """uint8 codes -> uppercase DNA string."""
    return UPPER[codes].tobytes().decode("ascii")


def revcomp(codes: np.ndarray) -> np.ndarray:
    """Reverse complement along the last axis."""
    return _COMPLEMENT[codes][..., ::-1]


@dataclass
class Motif:
    """One motif family. ``levels`` (tissue -> factor level) is None for splice motifs."""

    name: str
    role: str
    pwm: np.ndarray
    levels: dict | None = None
    delta: float = 3.0
    min_affinity: float = 0.01
    background: tuple = (0.29, 0.21, 0.21, 0.29)
    _tables: tuple = field(default=None, init=False, repr=False, compare=False)

    @property
    def length(self) -> int:
        return int(self.pwm.shape[0])

    @property
    def consensus(self) -> str:
        return "".join(BASES[i] for i in self.pwm.argmax(1))

    @property
    def log_odds(self) -> np.ndarray:
        """(L, 5) log-odds table; column 4 (N) is ``N_SCORE``."""
        with np.errstate(divide="ignore"):
            lo = np.log(self.pwm / np.asarray(self.background)[None, :])
        lo = np.maximum(lo, N_SCORE)  # zero-probability letters (splice GT/AG) score like N
        return np.concatenate([lo, np.full((self.length, 1), N_SCORE)], axis=1)

    @property
    def max_score(self) -> float:
        return float(self.log_odds[:, :4].max(1).sum())

    @property
    def threshold(self) -> float:
        return self.max_score - self.delta

    def level_vector(self, tissues) -> np.ndarray:
        if self.levels is None:
            return np.zeros(len(tissues))
        return np.array([self.levels[t] for t in tissues], dtype=np.float64)

    def to_json(self) -> dict:
        return {"name": self.name, "role": self.role, "length": self.length, "consensus": self.consensus,
                "pwm": [[float(v) for v in row] for row in self.pwm], "levels": self.levels,
                "max_score": round(self.max_score, 6), "threshold": round(self.threshold, 6),
                "delta": self.delta, "min_affinity": self.min_affinity}

    @classmethod
    def from_json(cls, d: dict, background=(0.29, 0.21, 0.21, 0.29)) -> "Motif":
        return cls(d["name"], d["role"], np.asarray(d["pwm"], dtype=np.float64), d["levels"], d["delta"],
                   d["min_affinity"], tuple(background))

    # -- scoring -----------------------------------------------------------------------------------------------
    def scores(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds of every window along the last axis: ``(forward, reverse)``, each ``(..., n - L + 1)``.

        ``reverse[i]`` scores the motif on the minus strand over the same bases ``[i, i + L)``.
        """
        k = _K
        n = codes.shape[-1]
        nwin = n - self.length + 1
        if nwin <= 0:
            shape = codes.shape[:-1] + (0,)
            return np.zeros(shape), np.zeros(shape)
        fwd_t, rev_t = self._chunk_tables()
        n_chunks = len(fwd_t)
        pad = n_chunks * k - self.length
        if pad:
            padw = [(0, 0)] * (codes.ndim - 1) + [(0, pad)]
            codes = np.pad(codes, padw, constant_values=N_CODE)
        kc = kmer_codes(codes, k)
        fwd = np.zeros(codes.shape[:-1] + (nwin,))
        rev = np.zeros_like(fwd)
        for c in range(n_chunks):
            sub = kc[..., c * k: c * k + nwin]
            fwd += fwd_t[c][sub]
            rev += rev_t[c][sub]
        return fwd, rev

    def affinity(self, scores: np.ndarray) -> np.ndarray:
        """sigmoid(score - threshold), zeroed below ``min_affinity``."""
        a = 1.0 / (1.0 + np.exp(-(scores - self.threshold)))
        a[a < self.min_affinity] = 0.0
        return a

    def _chunk_tables(self):
        if self._tables is None:
            lo = self.log_odds
            rc = lo[::-1][:, [3, 2, 1, 0, 4]]
            self._tables = (_tables_for(lo), _tables_for(rc))
        return self._tables


_K = 5  # window chunk for table lookups: 5 letters (ACGTN) ** 5 = 3125 entries


def kmer_codes(codes: np.ndarray, k: int = _K) -> np.ndarray:
    """Base-5 code of every k-mer along the last axis (length n - k + 1)."""
    n = codes.shape[-1] - k + 1
    out = np.zeros(codes.shape[:-1] + (n,), dtype=np.int16)
    for j in range(k):
        out *= 5
        out += codes[..., j:j + n]
    return out


def _tables_for(lo: np.ndarray) -> list[np.ndarray]:
    """Per 5-column chunk of a (L, 5) log-odds table: score of each of the 5**5 k-mers (pad columns score 0)."""
    L = lo.shape[0]
    n_chunks = -(-L // _K)
    padded = np.zeros((n_chunks * _K, 5))
    padded[:L] = lo
    digits = (np.arange(5 ** _K)[:, None] // (5 ** np.arange(_K - 1, -1, -1))[None, :]) % 5
    return [padded[c * _K + np.arange(_K)[None, :], digits].sum(1) for c in range(n_chunks)]


# -- generation --------------------------------------------------------------------------------------------------
def _random_pwm(rng: np.random.Generator, length: int, lo: float = 0.8, hi: float = 0.97) -> np.ndarray:
    """High-information PWM: a random consensus with probability U(lo, hi), rest split by a Dirichlet.

    Entries are multiples of 1e-4 (so the manifest reproduces them exactly) and at least 0.005.
    """
    cons = rng.integers(0, 4, size=length)
    p = rng.uniform(lo, hi, size=length)
    rest = rng.dirichlet(np.ones(3), size=length) * (1 - p)[:, None]
    pwm = np.zeros((length, 4))
    for j in range(length):
        others = [b for b in range(4) if b != cons[j]]
        pwm[j, others] = np.maximum(np.round(rest[j], 4), 0.005)
        pwm[j, cons[j]] = round(1.0 - pwm[j, others].sum(), 4)
    return pwm


def _fixed_pwm(rows: list[dict]) -> np.ndarray:
    pwm = np.zeros((len(rows), 4))
    for j, row in enumerate(rows):
        for b, v in row.items():
            pwm[j, BASES.index(b)] = v
    return pwm


_DONOR = [  # exon -3..-1 | intron +1..+6 : MAG|GTRAGT
    {"A": .35, "C": .35, "G": .18, "T": .12}, {"A": .6, "C": .13, "G": .13, "T": .14},
    {"A": .1, "C": .05, "G": .78, "T": .07}, {"G": 1.0}, {"T": 1.0},
    {"A": .6, "C": .03, "G": .34, "T": .03}, {"A": .7, "C": .08, "G": .12, "T": .1},
    {"A": .08, "C": .06, "G": .78, "T": .08}, {"A": .17, "C": .15, "G": .19, "T": .49}]
_ACCEPTOR = ([{"A": .1, "C": .4, "G": .1, "T": .4}] * 11  # polypyrimidine tract, then NCAG|G
             + [{"A": .05, "C": .7, "G": .05, "T": .2}, {"A": 1.0}, {"G": 1.0},
                {"A": .25, "C": .14, "G": .5, "T": .11}])
_TATA = [{"A": .04, "C": .08, "G": .04, "T": .84}, {"A": .9, "C": .02, "G": .02, "T": .06},
         {"A": .04, "C": .02, "G": .02, "T": .92}, {"A": .88, "C": .02, "G": .02, "T": .08},
         {"A": .6, "C": .02, "G": .03, "T": .35}, {"A": .86, "C": .02, "G": .04, "T": .08},
         {"A": .55, "C": .02, "G": .03, "T": .4}, {"A": .4, "C": .05, "G": .45, "T": .1}]
DONOR_EXON_BASES = 3     # donor PWM columns inside the exon
ACCEPTOR_EXON_BASES = 1  # acceptor PWM columns inside the exon


def make_motifs(rng: np.random.Generator, tissues, n_activators: int | None = None, n_repressors: int = 2,
                background=(0.29, 0.21, 0.21, 0.29)) -> list[Motif]:
    """The world's motif families: activators ``TF_ACT<i>`` (each with a home tissue, level 1.0 there and
    U(0.05, 0.3) elsewhere), repressors ``TF_REP<i>`` (levels U(0.3, 1.0)), the TATA-like core element ``CORE_TATA``
    (level 1.0 everywhere) and the ``SPLICE_DONOR`` / ``SPLICE_ACCEPTOR`` matrices (fixed GT / AG, no levels)."""
    tissues = list(tissues)
    n_act = n_activators if n_activators is not None else max(2, min(len(tissues), 6))
    bg = tuple(background)
    motifs = []
    for i in range(n_act):
        home = tissues[i % len(tissues)]
        levels = {t: 1.0 if t == home else round(float(rng.uniform(0.05, 0.3)), 3) for t in tissues}
        motifs.append(Motif(f"TF_ACT{i + 1}", "activator", _random_pwm(rng, int(rng.integers(10, 13))), levels,
                            background=bg))
    for i in range(n_repressors):
        levels = {t: round(float(rng.uniform(0.3, 1.0)), 3) for t in tissues}
        motifs.append(Motif(f"TF_REP{i + 1}", "repressor", _random_pwm(rng, int(rng.integers(10, 13))), levels,
                            background=bg))
    motifs.append(Motif("CORE_TATA", "core", _fixed_pwm(_TATA), {t: 1.0 for t in tissues}, delta=2.0,
                        background=bg))
    motifs.append(Motif("SPLICE_DONOR", "splice_donor", _fixed_pwm(_DONOR), None, background=bg))
    motifs.append(Motif("SPLICE_ACCEPTOR", "splice_acceptor", _fixed_pwm(_ACCEPTOR), None, background=bg))
    return motifs


def sample_sites(rng: np.random.Generator, pwm: np.ndarray, n: int) -> np.ndarray:
    """``n`` sequences drawn column-wise from a PWM: ``(n, L)`` uint8 codes."""
    cum = np.cumsum(pwm, axis=1)[:, :3]
    u = rng.random((n, pwm.shape[0]))
    return (u[:, :, None] >= cum[None, :, :]).sum(-1).astype(np.uint8)
