"""Records → prompt/answer pieces, and strict answer parsing under a declared grammar.

A *record* is one example's structured data (a dict: ``chrom, start, end, strand, anchor, tissue, dna`` and the
family's fields ``label | value | values | spans | var_pos, ref, alt``); ``render`` fills the template's
placeholders. *Pieces* are grammar tokens (``<…>``) or DNA runs; ``" ".join(pieces)`` is the text a tokenizer
decodes back to. Span boundaries snap to the nearest ``off_resolution`` grid point (ties to even), so with window
lengths that are multiples of 2 × resolution, rendering a reverse-complemented record equals flipping the tokens.
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError
from seq2gen.tasks import spans as span_corruption

#: a label / choice item meaning *the prompt's own tissue token*: tf_binding answers ``<tissue:liver>`` ("bound in
#: liver"), not ``<yes>``, so the answer names what it asserts, in the token its companion tf_tissues also writes
PROMPT_TISSUE = "{tissue}"


def snap(x: int, resolution: int) -> int:
    """Nearest multiple index of ``x / resolution``, ties to even (RC-equivariant on even grids)."""
    q, rem = divmod(int(x), resolution)
    if 2 * rem > resolution or (2 * rem == resolution and q % 2):
        q += 1
    return q


def span_tokens(spans, resolution: int, max_spans: int | None = None) -> list[str]:
    """``[(label, a, b)]`` in bp → ``[label, <off:a'>, <off:b'>, …]``; spans that snap to nothing are dropped."""
    out: list[str] = []
    n = 0
    for lab, a, b in spans:
        ta, tb = snap(a, resolution), snap(b, resolution)
        if tb > ta:
            if max_spans is not None and n >= max_spans:
                raise InputError(f"{len(spans)} spans exceed the grammar's max_spans {max_spans}",
                                 hint="raise answer_grammar.max_spans or shorten the window")
            out += [lab, f"<off:{ta:04d}>", f"<off:{tb:04d}>"]
            n += 1
    return out


class Renderer:
    """``Renderer(task, vocab, quantizer=None, seed=0)``; ``renderer(record) → (prompt pieces, answer pieces)``."""

    def __init__(self, task, vocab, quantizer=None, seed: int = 0):
        self.task, self.vocab, self.q = task, vocab, quantizer
        self.res = vocab.off_resolution
        self._chr: dict[str, str] = {}
        self._tissue: dict[str, str] = {}
        self.seed = seed
        c = task.corruption
        self.density, self.mean_span = float(c.get("noise_density", 0.15)), float(c.get("mean_span", 3.0))

    def _chr_token(self, chrom: str) -> str:
        if chrom not in self._chr:
            self._chr[chrom] = self.vocab.chr_token(chrom)
        return self._chr[chrom]

    def _tissue_token(self, t: str) -> str:
        if t not in self._tissue:
            self._tissue[t] = self.vocab.tissue_token(t)
        return self._tissue[t]

    def corruption(self, rec: dict) -> tuple[list[str], list[str], list]:
        rng = np.random.default_rng([self.seed, int(rec.get("row", 0)), 0xC0])
        mask = span_corruption.noise_mask(len(rec["dna"]), self.density, self.mean_span, rng)
        return span_corruption.corrupt(rec["dna"], mask)

    def __call__(self, rec: dict) -> tuple[list[str], list[str], object]:
        """``(prompt pieces, answer pieces, target)``; target is the truth stored with the row."""
        corrupted = self.corruption(rec) if self.task.family == "pretrain" else None
        answer, target = self._answer(rec, corrupted)
        return self.prompt(rec, corrupted), answer, target

    def prompt(self, rec: dict, corrupted=None) -> list[str]:
        """Prompt pieces only — what inference needs. ``rec`` holds ``dna`` and the fields the prompt names
        (``tissue``, ``species``, ``chrom``, ``anchor`` for ``{bin}``, ``var_pos``/``ref``/``alt``)."""
        if corrupted is None and self.task.family == "pretrain":
            corrupted = self.corruption(rec)
        prompt: list[str] = []
        for item in self.task.prompt:
            if not item.startswith("{"):
                prompt.append(item)
            elif item == "{dna}":
                prompt += corrupted[0] if corrupted else ([rec["dna"]] if rec["dna"] else [])
            elif item == "{tissue}":
                prompt.append(self._tissue_token(rec["tissue"]))
            elif item == "{species}":
                prompt.append(self.vocab.species_token(rec["species"]))
            elif item == "{chr}":
                prompt.append(self._chr_token(rec["chrom"]))
            elif item == "{bin}":
                prompt.append(self.vocab.bin_token_for(max(int(rec["anchor"]), 0)))
            elif item == "{offset}":
                prompt.append(self.vocab.offset_token_for(int(rec["var_pos"])))
            elif item == "{ref}":
                prompt.append(f"<ref:{rec['ref']}>")
            elif item == "{alt}":
                prompt.append(f"<alt:{rec['alt']}>")
        return prompt

    def _answer(self, rec: dict, corrupted) -> tuple[list[str], object]:
        placeholder, g = self.task.answer[0], self.task.answer_grammar
        if placeholder == "{label}":
            label = self._tissue_token(rec["tissue"]) if rec["label"] == PROMPT_TISSUE else rec["label"]
            answer, target = [label], label
        elif placeholder == "{value}":
            answer, target = self.q.tokens([rec["value"]]), float(rec["value"])
        elif placeholder == "{values}":
            answer, target = self.q.tokens(rec["values"]), [float(v) for v in rec["values"]]
        elif placeholder == "{spans}":
            answer = span_tokens(rec["spans"], self.res, g.get("max_spans"))
            target = [[lab, int(a), int(b)] for lab, a, b in rec["spans"]]
        else:
            answer, target = corrupted[1], [[a, b] for a, b in corrupted[2]]
        return answer, target


def parse_answer(grammar: dict, tokens: list[str] | str, resolution: int = 1):
    """Strict parse of an answer under its grammar (InputError when it does not conform).

    choice → the token; values → list of bin indices; spans → ``[(label, start_bp, end_bp)]`` (start < end,
    non-decreasing starts); sentinel_spans → ``{sentinel: dna}``.
    """
    toks = tokens.split() if isinstance(tokens, str) else list(tokens)
    toks = [t for t in toks if t != "</s>"]
    kind = grammar["type"]

    def bad(msg):
        raise InputError(f"answer {' '.join(toks)[:80]!r} does not match grammar {kind}: {msg}")

    if kind == "choice":       # an unresolved {tissue} choice (no prompt at hand) accepts any tissue token
        named = PROMPT_TISSUE in grammar["tokens"] and len(toks) == 1 and toks[0].startswith("<tissue:")
        if not named and (len(toks) != 1 or toks[0] not in grammar["tokens"]):
            bad(f"expected one of {grammar['tokens']}")
        return toks[0]
    if kind == "values":
        n_bins = grammar.get("n_bins")
        if len(toks) != grammar.get("count", 1) or not all(t.startswith("<val:") for t in toks):
            bad(f"expected {grammar.get('count', 1)} value tokens")
        idx = [int(t[5:-1]) for t in toks]
        if n_bins is not None and max(idx) >= n_bins:
            bad(f"value index ≥ n_bins {n_bins}")
        return idx
    if kind == "spans":
        if len(toks) % 3 or len(toks) // 3 > grammar.get("max_spans", 1 << 30):
            bad("expected up to max_spans (label, <off:a>, <off:b>) triples")
        out, last = [], -1
        for i in range(0, len(toks), 3):
            lab, a, b = toks[i:i + 3]
            if lab not in grammar["labels"] or not (a.startswith("<off:") and b.startswith("<off:")):
                bad(f"triple {i // 3} is not (label, <off:…>, <off:…>)")
            a, b = int(a[5:-1]), int(b[5:-1])
            if not (last <= a < b):
                bad(f"span {i // 3} has start {a}, end {b} (need previous start ≤ start < end)")
            last = a
            out.append((lab, a * resolution, b * resolution))
        return out
    if kind == "sentinel_spans":
        if not toks or not toks[0].startswith("<extra_id_"):
            bad("must start with a sentinel")
        fill, cur, n = {}, None, 0
        for t in toks:
            if t.startswith("<extra_id_"):
                if t != f"<extra_id_{n}>":
                    bad(f"sentinels must count up from 0, got {t}")
                cur, n = t, n + 1
                fill[cur] = ""
            elif t.startswith("<"):
                bad(f"unexpected token {t}")
            else:
                fill[cur] += t
        return fill
    raise InputError(f"unknown grammar type {kind!r}")
