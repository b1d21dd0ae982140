"""Which sequences of a table were already seen: exact duplicates, and containment across lengths.

``dedup(df, refs)`` / ``seen_mask(df, refs)``: rows whose sequence (case-insensitive) equals, lies inside or contains
a reference sequence — the one deduplication rule of seq2gen (table sources' splits in ``seqtable``, the GUE
loaders, ``seq2gen.evaluate.table``). One common length → a Python set (~30x faster than pandas' ``isin`` on Arrow
strings); mixed lengths (a 70 bp core promoter inside a 300 bp window) → ``contained``, a vectorised 2-bit k-mer
index.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _upper(df: pd.DataFrame) -> np.ndarray:
    return df["sequence"].astype(str).str.upper().to_numpy(object)


def dedup(df: pd.DataFrame, references: list[pd.DataFrame]) -> tuple[pd.DataFrame, int]:
    """Drop rows of ``df`` whose sequence (case-insensitive) equals, lies inside or contains a reference sequence →
    (rest, n_dropped). With one common length this is an exact match."""
    hit = seen_mask(df, references)
    return df.loc[~hit].reset_index(drop=True), int(hit.sum())


def seen_mask(df: pd.DataFrame, references: list[pd.DataFrame]) -> np.ndarray:
    """Per row of ``df``: does its sequence equal, lie inside or contain a reference sequence (case-insensitive)?
    One common length → a Python set (~30x faster than pandas' ``isin`` on Arrow strings); mixed lengths (a 70 bp
    core promoter inside a 300 bp window) → the k-mer index of ``contained``."""
    seqs = _upper(df)
    refs = np.concatenate([_upper(r) for r in references]) if references else np.zeros(0, dtype=object)
    if not len(seqs) or not len(refs):
        return np.zeros(len(seqs), dtype=bool)
    lens = {len(x) for x in seqs} | {len(x) for x in refs}
    if len(lens) == 1:
        ref = set(refs)
        return np.fromiter((x in ref for x in seqs), dtype=bool, count=len(seqs))
    return contained(seqs, refs)


_LUT = np.zeros(256, dtype=np.uint64)
for _i, _b in enumerate("ACGT"):
    _LUT[ord(_b)] = _i                                # anything else hashes as A; matches are verified exactly


def _kmer_codes(seqs: list[str], k: int, stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """2-bit codes (uint64, exact for k ≤ 32) of the k-mers of ``seqs`` — all of them, or those starting every
    ``stride`` bases plus the last — and the index of the sequence each came from."""
    codes, owners = [], []
    by_len: dict[int, list[int]] = {}
    for i, x in enumerate(seqs):
        by_len.setdefault(len(x), []).append(i)
    mask = np.uint64((1 << (2 * k)) - 1) if k < 32 else np.uint64(0xFFFFFFFFFFFFFFFF)
    for n, idx in by_len.items():
        if n < k:
            continue
        b = np.ascontiguousarray(_LUT[np.frombuffer("".join(seqs[i] for i in idx).encode("ascii", "replace"),
                                                    dtype=np.uint8).reshape(len(idx), n)].T)   # (position, seq)
        code = np.zeros(len(idx), dtype=np.uint64)
        two = np.uint64(2)
        for j in range(k - 1):
            code = (code << two) | b[j]
        keep = set(range(0, n - k + 1, stride)) | {n - k} if stride else None
        cols = []
        for pos in range(n - k + 1):
            code = ((code << two) | b[pos + k - 1]) & mask
            if keep is None or pos in keep:
                cols.append(code)
        codes.append(np.concatenate(cols))
        owners.append(np.tile(np.asarray(idx, dtype=np.int64), len(cols)))
    if not codes:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    return np.concatenate(codes), np.concatenate(owners)


def contained(seqs, refs, k: int = 32) -> np.ndarray:
    """``hit[i]``: ``seqs[i]`` equals, lies inside or contains some ``refs[j]`` (exact string test).

    Every reference k-mer starting each ``min query length − k + 1`` bases (and the last) is indexed, so a query
    inside a reference shares one of them and a reference inside a query shares its first; those candidates are
    then checked with ``in``. Vectorised 2-bit k-mer codes (k = 32 → one uint64): ~1 s for 50k × 20k sequences.
    Sequences shorter than k are compared directly."""
    seqs, refs = list(seqs), list(refs)
    hit = np.zeros(len(seqs), dtype=bool)
    long_q = [len(q) for q in seqs if len(q) >= k]
    if long_q and any(len(r) >= k for r in refs):
        r_codes, r_own = _kmer_codes(refs, k, stride=max(1, min(long_q) - k + 1))
        q_codes, q_own = _kmer_codes(seqs, k)
        order = np.argsort(r_codes, kind="stable")
        rc, ro = r_codes[order], r_own[order]
        qo = np.argsort(q_codes)                       # sorted needles: searchsorted runs ~10x faster
        qc, qw = q_codes[qo], q_own[qo]
        lo, hi = np.searchsorted(rc, qc, "left"), np.searchsorted(rc, qc, "right")
        shared = np.flatnonzero(hi > lo)
        pairs: dict[int, set[int]] = {}
        for i, a, b in zip(qw[shared].tolist(), lo[shared].tolist(), hi[shared].tolist()):
            pairs.setdefault(i, set()).update(ro[a:b].tolist())
        for i, js in pairs.items():
            q = seqs[i]
            hit[i] = any((q in refs[j]) if len(q) <= len(refs[j]) else (refs[j] in q) for j in js)
    short_refs = [r for r in refs if len(r) < k]
    for i, q in enumerate(seqs):
        if not hit[i] and (len(q) < k or short_refs):
            hit[i] = any((q in r) or (r in q) for r in (refs if len(q) < k else short_refs))
    return hit
