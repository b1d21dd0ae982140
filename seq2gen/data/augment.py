"""Reverse-complement augmentation with label handling.

On records (before rendering): the DNA is reverse-complemented and the strand flipped, and the labels follow —
annotation spans ``[a, b) → [L−b, L−a)`` (order reversed), a variant at offset ``p`` (REF of length ``n``) moves to
``L−p−n`` with REF/ALT complemented, track bins are reversed; classification/regression/pretrain targets are
unchanged. RC∘RC is the identity. ``rc_answer_tokens`` flips an *answer* the same way at the token level (for test-time
RC averaging at inference): ``<off:k> → <off:L/r − k>`` for span boundaries, values reversed.

``augment_records`` applies it to a seeded fraction of the train split (``replace``) or appends RC copies
(``append``). The fraction is drawn for the whole split at once (``rc_picks``), so a build that renders the split in
chunks (``seq2gen.data.build``) flips the same rows.
"""
from __future__ import annotations

import numpy as np

from seq2gen.vocab.dna import reverse_complement

_COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", "-": "-"}


def complement_allele(a: str) -> str:
    return reverse_complement(a) if len(a) > 1 else _COMP.get(a, a)


def reverse_complement_record(rec: dict) -> dict:
    """The same example seen on the other strand (a new dict; ``rec`` is not modified)."""
    L = int(rec["end"]) - int(rec["start"])
    out = dict(rec)
    out["dna"] = reverse_complement(rec["dna"])
    out["strand"] = "-" if rec.get("strand", "+") == "+" else "+"
    out["rc"] = not rec.get("rc", False)
    if rec.get("spans") is not None:
        out["spans"] = sorted(((lab, L - b, L - a) for lab, a, b in rec["spans"]), key=lambda s: (s[1], s[2], s[0]))
    if rec.get("values") is not None:
        out["values"] = list(rec["values"])[::-1]
    if int(rec.get("var_pos", -1)) >= 0:
        out["var_pos"] = L - int(rec["var_pos"]) - max(len(rec["ref"]), 1)
        out["ref"], out["alt"] = complement_allele(rec["ref"]), complement_allele(rec["alt"])
    return out


def rc_picks(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    """Which of ``n`` rows to reverse-complement (bool, seeded; all False when ``fraction <= 0``)."""
    if fraction <= 0 or n == 0:
        return np.zeros(n, dtype=bool)
    return np.random.default_rng([seed, 0xA5]).random(n) < fraction


def augment_records(records: list[dict], fraction: float, mode: str = "replace", seed: int = 0) -> list[dict]:
    """RC a seeded ``fraction`` of ``records``: in place of the originals (``replace``) or added after (``append``)."""
    if fraction <= 0 or not records:
        return records
    pick = rc_picks(len(records), fraction, seed)
    if mode == "replace":
        return [reverse_complement_record(r) if p else r for r, p in zip(records, pick)]
    return records + [reverse_complement_record(r) for r, p in zip(records, pick) if p]


def rc_answer_tokens(tokens: list[str], grammar: dict, window_length: int, off_resolution: int) -> list[str]:
    """The answer of the reverse-complemented window, from the answer tokens (inverse of itself)."""
    kind = grammar["type"]
    if kind == "values":
        return list(tokens)[::-1]
    if kind == "spans":
        n = window_length // off_resolution
        triples = [tokens[i:i + 3] for i in range(0, len(tokens), 3)]
        flipped = [(lab, n - int(b[5:-1]), n - int(a[5:-1])) for lab, a, b in triples]
        flipped.sort(key=lambda s: (s[1], s[2], s[0]))
        return [t for lab, a, b in flipped for t in (lab, f"<off:{a:04d}>", f"<off:{b:04d}>")]
    if kind == "choice":
        return list(tokens)
    raise ValueError(f"answers of grammar {kind!r} cannot be flipped token-wise (re-render the record)")
