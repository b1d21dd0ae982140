"""T5 span corruption on DNA (seeded), and its inverse.

Following T5's ``random_spans_noise_mask``: ``round(L × noise_density)`` noisy bases split into
``round(noisy / mean_span)`` spans; noisy and clean lengths are random compositions; the sequence starts clean.
Input: the clean runs with each noisy span replaced by ``<extra_id_i>``; target: ``<extra_id_i>`` + the noisy bases
of span i, for every span, closed by ``<extra_id_n>`` (as in the T5 paper's example).
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError


def _segment(n_items: int, n_segments: int, rng: np.random.Generator) -> np.ndarray:
    """Random composition of ``n_items`` into ``n_segments`` positive parts."""
    marks = np.zeros(n_items - 1, dtype=np.int64)
    marks[:n_segments - 1] = 1
    rng.shuffle(marks)
    seg = np.cumsum(np.r_[0, marks])
    return np.bincount(seg, minlength=n_segments)


def n_spans(length: int, noise_density: float = 0.15, mean_span: float = 3.0) -> int:
    noisy = min(max(int(round(length * noise_density)), 1), length - 1)
    return max(1, min(int(round(noisy / mean_span)), noisy, length - noisy))


def noise_mask(length: int, noise_density: float, mean_span: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask (True = corrupted) of ``length`` bases."""
    if length < 2:
        raise InputError(f"span corruption needs at least 2 bases, got {length}")
    noisy = min(max(int(round(length * noise_density)), 1), length - 1)
    k = n_spans(length, noise_density, mean_span)
    noise_len, clean_len = _segment(noisy, k, rng), _segment(length - noisy, k, rng)
    lengths = np.stack([clean_len, noise_len], axis=1).reshape(-1)
    is_noise = np.tile([False, True], k)
    return np.repeat(is_noise, lengths)


def corrupt(dna: str, mask: np.ndarray) -> tuple[list[str], list[str], list[tuple[int, int]]]:
    """``(input pieces, target pieces, noisy spans [(a, b)])``; pieces are DNA runs or sentinel tokens."""
    m = np.r_[False, np.asarray(mask, dtype=bool), False].view(np.int8)
    edges = np.flatnonzero(np.diff(m))
    spans = list(zip(edges[::2].tolist(), edges[1::2].tolist()))
    inp: list[str] = []
    tgt: list[str] = []
    pos = 0
    for i, (a, b) in enumerate(spans):
        if a > pos:
            inp.append(dna[pos:a])
        sentinel = f"<extra_id_{i}>"
        inp.append(sentinel)
        tgt += [sentinel, dna[a:b]]
        pos = b
    if pos < len(dna):
        inp.append(dna[pos:])
    tgt.append(f"<extra_id_{len(spans)}>")
    return inp, tgt, spans


def reconstruct(inputs: list[str], targets: list[str]) -> str:
    """Original DNA from input and target pieces (whitespace-separated strings are accepted too)."""
    if isinstance(inputs, str):
        inputs = inputs.split()
    if isinstance(targets, str):
        targets = targets.split()
    fill: dict[str, str] = {}
    current = None
    for piece in targets:
        if piece.startswith("<extra_id_"):
            current = piece
            fill.setdefault(piece, "")
        elif current is None:
            raise InputError("span-corruption target must start with a sentinel")
        else:
            fill[current] += piece
    out = []
    for piece in inputs:
        if piece.startswith("<extra_id_"):
            if piece not in fill:
                raise InputError(f"sentinel {piece} of the input is missing from the target")
            out.append(fill[piece])
        elif not piece.startswith("<"):
            out.append(piece)
    return "".join(out)
