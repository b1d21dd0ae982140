"""Answer grammars as token-level state machines, so constrained decoding always yields a parseable answer.

A task's template declares its grammar (``answer_grammar`` in the task YAML, resolved in ``tasks.json``);
``seq2gen.tasks.parse_answer`` is the strict parser, and every answer this machine lets through parses under it:

* ``{type: choice, tokens: [<yes>, <no>]}`` — one of the tokens, then ``</s>``.
* ``{type: values, count: K, n_bins: B}`` — K tokens ``<val:000>``…``<val:B-1>``, then ``</s>``.
* ``{type: spans, labels: [...], max_spans: N}`` — up to N triples ``label <off:a> <off:b>`` with
  previous start ≤ a < b ≤ ``max_offset`` (the window length / ``off_resolution`` of *this* prompt), may be empty.
* ``{type: sentinel_spans}`` — ``<extra_id_0> DNA… <extra_id_1> DNA… … <extra_id_S>``: sentinels counting up from 0,
  each inner span non-empty, closed by sentinel S = the number of sentinels in the prompt (training's format).

Budget: ``allowed(state, remaining)`` knows how many tokens may still be emitted, so a span triple is only opened
when it can be closed (and ``</s>`` still fits), and a sentinel answer heads for its closing sentinel in time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from seq2gen.errors import InputError
from seq2gen.tasks.render import parse_answer

KINDS = ("choice", "values", "spans", "sentinel_spans")


@dataclass
class AnswerGrammar:
    """``AnswerGrammar.from_spec(spec, tokenizer, max_offset=None, n_sentinels=None)``.

    States are small tuples: ``start()``, ``advance(state, token_id)``, ``allowed(state, remaining) → ids``.
    """

    kind: str
    spec: dict
    eos: int
    choices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # id of <off:i> at index i
    free: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))      # nucleotide ids
    sentinels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # id of <extra_id_i> at index i
    count: int = 1
    max_spans: int = 0
    max_offset: int = 0
    n_sentinels: int = 0
    resolution: int = 1

    @classmethod
    def from_spec(cls, spec: dict, tokenizer, max_offset: int | None = None,
                  n_sentinels: int | None = None) -> "AnswerGrammar":
        """``max_offset``: largest ``<off:i>`` index a span may use (window length // off_resolution);
        ``n_sentinels``: sentinels in the prompt (the answer closes with ``<extra_id_{n}>``)."""
        kind = spec.get("type")
        if kind not in KINDS:
            raise InputError(f"unknown answer grammar type {kind!r}", hint=f"use one of {' | '.join(KINDS)}")
        ids, groups = tokenizer.token_to_id, tokenizer.vocab.groups
        arr = lambda toks: np.asarray([ids[t] for t in toks], dtype=np.int64)  # noqa: E731
        g = cls(kind, dict(spec), tokenizer.eos_id, resolution=tokenizer.vocab.off_resolution)
        if kind == "choice":
            g.choices = arr(spec["tokens"])
        elif kind == "values":
            n_bins = int(spec.get("n_bins", len(groups["values"])))
            if not 1 <= n_bins <= len(groups["values"]):
                raise InputError(f"values grammar: n_bins {n_bins} outside 1..{len(groups['values'])}")
            g.values, g.count = arr(groups["values"][:n_bins]), int(spec.get("count", 1))
            g.spec["n_bins"] = n_bins
        elif kind == "spans":
            g.labels, g.offsets = arr(spec["labels"]), arr(groups["offsets"])
            g.max_spans = int(spec.get("max_spans", 32))
            g.max_offset = len(g.offsets) - 1 if max_offset is None else int(max_offset)
            if not 1 <= g.max_offset < len(g.offsets):
                raise InputError(f"spans grammar: max_offset {g.max_offset} outside 1..{len(g.offsets) - 1}",
                                 hint="the window is longer than the vocabulary's offsets cover")
        else:
            grammar = tokenizer.grammar
            g.free = np.asarray(sorted(i for t, i in ids.items() if t not in grammar), dtype=np.int64)
            g.sentinels = arr(groups["sentinels"])
            g.n_sentinels = len(g.sentinels) - 1 if n_sentinels is None else int(n_sentinels)
            if not 0 <= g.n_sentinels < len(g.sentinels):
                raise InputError(f"{n_sentinels} sentinels in the prompt; the vocabulary has "
                                 f"{len(g.sentinels)} (the answer needs one more to close)")
        return g

    # ------------------------------------------------------------------ sizes
    def min_tokens(self) -> int:
        """Fewest tokens (without ``</s>``) of an answer the parser accepts: a sentinel answer cut short by the step
        budget still parses (reported as ``finished=False``); a value answer needs all its K values."""
        return {"choice": 1, "values": self.count, "spans": 0, "sentinel_spans": 1}[self.kind]

    def max_tokens(self) -> int | None:
        """Most tokens (with ``</s>``) of an answer; None where DNA spans are unbounded."""
        return {"choice": 2, "values": self.count + 1, "spans": 3 * self.max_spans + 1}.get(self.kind)

    # ------------------------------------------------------------------ state machine
    def start(self) -> tuple:
        # choice/values: (n,); spans: (n, last_start, cur_start); sentinels: (k emitted, bases in current span)
        return {"choice": (0,), "values": (0,), "spans": (0, 0, 0), "sentinel_spans": (0, 0)}[self.kind] + (False,)

    def advance(self, state: tuple, token: int) -> tuple:
        """State after ``token`` (which must have been allowed)."""
        if state[-1] or token == self.eos:
            return state[:-1] + (True,)
        if self.kind in ("choice", "values"):
            return (state[0] + 1, False)
        if self.kind == "spans":
            n, last, cur, _ = state
            phase = n % 3
            if phase == 1:
                return (n + 1, last, self._offset_index[token], False)
            if phase == 2:
                return (n + 1, cur, cur, False)      # the triple is closed: its start is the new lower bound
            return (n + 1, last, cur, False)
        k, bases, _ = state
        return (k + 1, 0, False) if token in self._sentinel_set else (k, bases + 1, False)

    def allowed(self, state: tuple, remaining: int) -> np.ndarray:
        """Ids that may follow ``state`` when ``remaining`` ≥ 1 tokens (this one included) may still be emitted."""
        eos = self._eos
        if state[-1]:
            return eos
        if self.kind == "choice":
            return self.choices if state[0] == 0 else eos
        if self.kind == "values":
            return self.values if state[0] < self.count else eos
        if self.kind == "spans":
            n, last, cur, _ = state
            phase = n % 3
            if phase == 0:
                can_open = n // 3 < self.max_spans and remaining >= 4 and last < self.max_offset
                return np.concatenate([self.labels, eos]) if can_open else eos
            if phase == 1:
                return self.offsets[last:self.max_offset]
            return self.offsets[cur + 1:self.max_offset + 1]
        k, bases, _ = state
        S = self.n_sentinels
        if k == 0:
            return self.sentinels[:1]
        if k > S:
            return eos
        # inside span k-1 (k ≤ S): the closing path needs S-k+1 sentinels, S-k bases, then </s>
        nxt = self.sentinels[k:k + 1]
        if bases == 0:                       # inner spans are never empty
            return self.free
        if remaining <= 2 * (S - k) + 2:
            return nxt
        return np.concatenate([self.free, nxt])

    # ------------------------------------------------------------------ convenience
    def allowed_after(self, prefix: list[int], remaining: int = 1 << 30) -> np.ndarray:
        state = self.start()
        for t in prefix:
            state = self.advance(state, int(t))
        return self.allowed(state, remaining)

    def parse(self, tokens: list[str]):
        """Strict parse with ``seq2gen.tasks.parse_answer`` (``</s>``/``<pad>`` dropped)."""
        return parse_answer(self.spec, [t for t in tokens if t not in ("</s>", "<pad>")], self.resolution)

    @property
    def _eos(self) -> np.ndarray:
        return np.asarray([self.eos], dtype=np.int64)

    @cached_property
    def _offset_index(self) -> dict[int, int]:
        return {int(t): i for i, t in enumerate(self.offsets)}

    @cached_property
    def _sentinel_set(self) -> frozenset:
        return frozenset(self.sentinels.tolist())


def allowed_mask(grammars: list[AnswerGrammar], prefixes, vocab_size: int, remaining: int = 1 << 30) -> np.ndarray:
    """(batch, vocab) boolean mask of allowed next tokens for each row's grammar and decoded prefix."""
    mask = np.zeros((len(grammars), vocab_size), dtype=bool)
    for row, (g, prefix) in enumerate(zip(grammars, prefixes)):
        mask[row, g.allowed_after([int(t) for t in prefix], remaining)] = True
    return mask


class GrammarLogitsProcessor:
    """A ``transformers`` logits processor: row ``i`` of the batch follows ``grammars[i]`` (mixed batches welcome).

    Tracks each row's state incrementally (one ``advance`` per generated token), masks disallowed ids with -inf and
    knows the step budget (``max_new_tokens``), so every row ends in an answer its grammar's parser accepts.
    Rows that have finished keep emitting ``</s>`` (generate pads them afterwards).
    """

    def __init__(self, grammars: list[AnswerGrammar], max_new_tokens: int, prompt_len: int = 1):
        self.grammars = grammars
        self.max_new = int(max_new_tokens)
        self.prompt_len = prompt_len       # decoder_start token(s) before the first generated one
        self.states = [g.start() for g in grammars]
        self.seen = prompt_len

    def __call__(self, input_ids, scores):
        import torch
        n = input_ids.shape[1]
        last = input_ids[:, self.seen:n].tolist() if n > self.seen else None
        if last:
            for i, toks in enumerate(last):
                for t in toks:
                    self.states[i] = self.grammars[i].advance(self.states[i], t)
        self.seen = n
        remaining = self.max_new - (n - self.prompt_len)
        mask = np.ones(tuple(scores.shape), dtype=bool)
        for i, (g, s) in enumerate(zip(self.grammars, self.states)):
            mask[i, g.allowed(s, remaining)] = False
        return scores.masked_fill(torch.from_numpy(mask).to(scores.device), float("-inf"))
