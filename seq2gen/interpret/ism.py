"""Batched saturation mutagenesis: every base of a prompt's DNA × its 3 alternative bases, scored in one batched
pass set (``score.score_rows``), plus the prompt plumbing the other explainers share.

A prompt is explained on its ids: the DNA run between ``<dna>`` and ``</dna>`` is found in the encoded prompt and a
mutant is the same ids with one base id swapped, so ISM works for any task's prompt (text-to-text), and the
mutants are exactly what ``Seq2Gen.predict`` would see for the mutated prompt strings (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer.objective import Objective, objective, score_rows

BASES = "ACGT"


@dataclass
class Prompt:
    """An encoded prompt and where its DNA sits: ``ids``, the task, ``dna_pos`` (index of each base in ``ids``)."""

    ids: np.ndarray
    task: str
    dna_pos: np.ndarray
    base_ids: np.ndarray         # ids of A C G T

    @property
    def codes(self) -> np.ndarray:
        """0..3 per DNA base (A C G T); 4 for N or any other base token."""
        lut = {int(b): i for i, b in enumerate(self.base_ids)}
        return np.array([lut.get(int(i), 4) for i in self.ids[self.dna_pos]], dtype=np.int64)

    @property
    def dna(self) -> str:
        return "".join("ACGTN"[c] for c in self.codes)

    def with_dna(self, dna: str) -> "Prompt":
        """The same prompt with another DNA of the same length (ids of the bases swapped in)."""
        if len(dna) != len(self.dna_pos):
            raise InputError(f"DNA of {len(dna)} bp for a prompt that holds {len(self.dna_pos)} bp")
        ids = self.ids.copy()
        codes = _codes(dna)
        if (codes > 3).any():
            raise InputError(f"DNA has a non-ACGT base at offset {int(np.argmax(codes > 3))}")
        ids[self.dna_pos] = self.base_ids[codes]
        return Prompt(ids, self.task, self.dna_pos, self.base_ids)


def _codes(dna: str) -> np.ndarray:
    lut = np.full(256, 4, dtype=np.int64)
    for i, b in enumerate(BASES):
        lut[ord(b)] = lut[ord(b.lower())] = i
    return lut[np.frombuffer(dna.encode("ascii"), dtype=np.uint8)]


def encode_prompt(m, prompt: str) -> Prompt:
    """Encode a prompt string and locate its single DNA run (char tokenizers: one id per base)."""
    rows, tasks = m.prepare([prompt])
    return locate(m, rows[0], tasks[0])


def locate(m, ids: np.ndarray, task: str) -> Prompt:
    if m.tokenizer.mode != "char":
        raise InputError(f"explanations mutate single bases; this model's tokenizer is in {m.tokenizer.mode!r} "
                         "mode", hint="use a model trained with a char tokenizer (e.g. the *_conv presets)")
    t2i = m.tokenizer.token_to_id
    base_ids = np.array([t2i[b] for b in BASES], dtype=np.int64)
    nuc = np.isin(ids, np.append(base_ids, t2i.get("N", -1)))
    opens, closes = np.flatnonzero(ids == t2i["<dna>"]), np.flatnonzero(ids == t2i["</dna>"])
    if len(opens) != 1 or len(closes) != 1 or closes[0] <= opens[0] + 1:
        raise InputError("an explained prompt needs exactly one non-empty <dna> … </dna> run")
    pos = np.arange(opens[0] + 1, closes[0])
    if not nuc[pos].all():
        bad = int(pos[~nuc[pos]][0] - opens[0] - 1)
        raise InputError(f"the DNA run holds a grammar token at base {bad} (sentinel prompts are not explained)")
    return Prompt(np.asarray(ids, dtype=np.int64), task, pos, base_ids)


def build_prompt(m, task: str, seq, tissue=None, chrom=None, pos=None, fit: str = "error") -> Prompt:
    """The task's prompt for a DNA string or region (its window rule, ``Renderer`` and ids, as training saw)."""
    from seq2gen.infer.regions import Region
    t = m.registry.get(task)
    dnas, regions = m.windows(task, [seq], fit)
    reg: Region | None = regions[0]
    if reg is not None:
        chrom = reg.chrom if chrom is None else chrom
        pos = reg.position(t.window.before) if pos is None else pos
    for key, v in (("{chr}", chrom), ("{bin}", pos)):
        if key in t.prompt and v is None:
            raise InputError(f"task {task}'s prompt carries {key}: pass chrom= and pos= (0-based anchor), or a region")
    rec = {"dna": dnas[0], "tissue": tissue, "chrom": chrom, "anchor": pos}
    return locate(m, m.render(task, [rec])[0], task)


@dataclass
class ISMResult:
    """``scores[i, b]``: the score with base ``i`` set to ``BASES[b]`` (the reference base's entry is the reference
    score); ``delta = scores - ref_score``."""

    dna: str
    ref_score: float
    scores: np.ndarray
    describe: str

    @property
    def delta(self) -> np.ndarray:
        return self.scores - self.ref_score

    def to_table(self):
        import pandas as pd
        rows = [(i, self.dna[i], BASES[b], float(self.delta[i, b])) for i in range(len(self.dna)) for b in range(4)
                if BASES[b] != self.dna[i]]
        return pd.DataFrame(rows, columns=["offset", "ref", "alt", "delta"])


def mutants(p: Prompt, positions=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Every single-base substitution of ``p`` at ``positions`` (default all): rows and ``(offset, base)`` pairs."""
    codes = p.codes
    positions = np.arange(len(codes)) if positions is None else np.asarray(positions, dtype=np.int64)
    rows, where = [], []
    for i in positions:
        for b in range(4):
            if b == codes[i]:
                continue
            r = p.ids.copy()
            r[p.dna_pos[i]] = p.base_ids[b]
            rows.append(r)
            where.append((i, b))
    return rows, np.asarray(where, dtype=np.int64).reshape(-1, 2)


def ism(m, p: Prompt, obj: Objective | None = None, positions=None, batch_size: int | None = None) -> ISMResult:
    """Saturation mutagenesis of a prompt: 3 × len(DNA) mutants + the reference in one batched pass set."""
    obj = obj or objective(m, p.task, p.ids)
    positions = np.arange(len(p.dna_pos)) if positions is None else np.asarray(positions, dtype=np.int64)
    rows, where = mutants(p, positions)
    scores = score_rows(m, obj, [p.ids] + rows, batch_size)
    out = np.full((len(p.dna_pos), 4), np.nan)
    out[positions, np.minimum(p.codes[positions], 3)] = scores[0]      # N: overwritten by its 4 substitutions
    out[where[:, 0], where[:, 1]] = scores[1:]
    return ISMResult(p.dna, float(scores[0]), out, obj.describe)
