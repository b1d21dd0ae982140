"""Vectorised DNA handling: normalisation (case, IUPAC, RNA), validation with positions, and byte→id lookups.

The HF tokenizer is the saved interface, but a per-character ``tokenizers`` model runs at ~1 M nt/s; a numpy lookup
table runs at tens of M nt/s. The data pipeline uses these paths; tests check they give identical ids.
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError

BASES = "ACGTN"
#: IUPAC complement, both cases (R↔Y, K↔M, B↔V, D↔H; S, W, N themselves; RNA U → A): the one table in seq2gen
_COMPLEMENT = str.maketrans("ACGTUNRYSWKMBDHVacgtunryswkmbdhv", "TGCAANYRSWMKVHDBtgcaanyrswmkvhdb")


def build_normaliser(bases: list[str], iupac_to_n: list[str], rna: dict[str, str]) -> np.ndarray:
    """256-entry table: byte → canonical base byte (upper case, IUPAC→N, U→T); 0 marks an invalid byte."""
    lut = np.zeros(256, dtype=np.uint8)
    for b in bases:
        lut[ord(b.upper())] = lut[ord(b.lower())] = ord(b.upper())
    for c in iupac_to_n:
        lut[ord(c.upper())] = lut[ord(c.lower())] = ord("N")
    for src, dst in rna.items():
        lut[ord(src.upper())] = lut[ord(src.lower())] = ord(dst.upper())
    return lut


def normalise(seq: str | bytes, lut: np.ndarray, *, where: str = "sequence", offset: int = 0) -> np.ndarray:
    """Canonical base bytes of ``seq``; any character outside the alphabet → error naming it and its position."""
    raw = seq.encode("utf-8", errors="surrogateescape") if isinstance(seq, str) else bytes(seq)
    arr = np.frombuffer(raw, dtype=np.uint8)
    out = lut[arr]
    bad = np.flatnonzero(out == 0)
    if bad.size:
        i = int(bad[0])
        ch = raw[i:i + 1].decode("utf-8", errors="replace") if raw[i] < 128 else f"byte 0x{raw[i]:02x}"
        raise InputError(f"invalid character {ch!r} at position {i + offset} of the {where} "
                         f"({bad.size} invalid in all)",
                         hint="DNA may contain ACGTN (any case), U (read as T) and IUPAC codes (read as N)")
    return out


def reverse_complement(seq: str) -> str:
    """Reverse complement, keeping case and mapping IUPAC codes to their complements."""
    return seq.translate(_COMPLEMENT)[::-1]


class DnaIds:
    """Fast ids for a normalised DNA run in ``char`` or ``kmer`` mode (same ids as the HF tokenizer)."""

    def __init__(self, base_ids: dict[str, int], mode: str = "char", k: int = 6, kmer_offset: int | None = None):
        self.mode, self.k = mode, k
        self.lut = np.full(256, -1, dtype=np.int64)
        for b, i in base_ids.items():
            self.lut[ord(b)] = i
        self.code = np.full(256, 4, dtype=np.uint8)  # A C G T → 0..3, N → 4
        for j, b in enumerate("ACGT"):
            self.code[ord(b)] = j
        self.kmer_offset = kmer_offset
        self._weights = 4 ** np.arange(k - 1, -1, -1, dtype=np.int64)
        if mode == "kmer" and kmer_offset is None:
            raise ValueError("kmer mode needs the id of the first k-mer (AAAAAA)")

    def __call__(self, canon: np.ndarray) -> np.ndarray:
        """Ids for one whitespace-free run of canonical base bytes."""
        if self.mode == "char":
            return self.lut[canon]
        return self._kmer_ids(canon)

    def _kmer_ids(self, canon: np.ndarray) -> np.ndarray:
        # Nucleotide Transformer rule: split at N; in each N-free run cut k-mers from the left and emit the leftover
        # tail (and every N) as single bases.
        codes = self.code[canon]
        is_n = codes == 4
        if not is_n.any():
            return self._kmer_run(codes, canon)
        edges = np.flatnonzero(np.diff(np.r_[1, is_n.view(np.int8), 1]))  # alternating N / non-N boundaries
        if edges.size > 2048:  # pathological N density: one vectorised pass beats a Python loop over runs
            return self._kmer_general(codes, canon, is_n)
        out, pos = [], 0
        for start, end in zip(edges[::2], edges[1::2]):  # non-N runs [start, end)
            out.append(self.lut[canon[pos:start]])  # the N block before this run
            out.append(self._kmer_run(codes[start:end], canon[start:end]))
            pos = end
        out.append(self.lut[canon[pos:]])
        return np.concatenate(out)

    def _kmer_run(self, codes: np.ndarray, canon: np.ndarray) -> np.ndarray:
        """One N-free run: k-mers from the left (reshape + dot), then the tail as single bases."""
        nk = codes.size // self.k
        kmers = self.kmer_offset + codes[: nk * self.k].reshape(nk, self.k).astype(np.int64) @ self._weights
        return np.concatenate([kmers, self.lut[canon[nk * self.k:]]])

    def _kmer_general(self, codes: np.ndarray, canon: np.ndarray, is_n: np.ndarray) -> np.ndarray:
        n, k = codes.size, self.k
        idx = np.arange(n)
        run_start = np.maximum.accumulate(np.where(is_n, idx, -1)) + 1  # first base after the last N
        run_end = np.minimum.accumulate(np.where(is_n, idx, n)[::-1])[::-1]  # first N at or after i
        rel = idx - run_start
        in_kmer = (~is_n) & (rel < (run_end - run_start) // k * k)
        starts = in_kmer & (rel % k == 0)
        keep = np.flatnonzero(starts | ~in_kmer)
        is_start = starts[keep]
        out = self.lut[canon[keep]]
        if n >= k:
            windows = np.lib.stride_tricks.sliding_window_view(codes, k)[keep[is_start]]
            out[is_start] = self.kmer_offset + windows.astype(np.int64) @ self._weights
        return out
