"""``Task``: one declared task, read from a YAML template (``task_templates/NAME.yaml``); no code per task.

A template names its family, its example source(s) (a small set of source *types*, see ``sources.py``), the window,
the prompt and answer templates (token lists with ``{placeholders}``), the machine-readable answer grammar, the
quantizer, metrics, split rule, augmentation, tissues and limits. ``Task.from_dict`` checks the structure (unknown
keys, types, family ↔ grammar ↔ placeholders); ``Task.validate(vocab)`` checks tokens against the vocabulary.
Every error names the file and the key (``task_templates/x.yaml: window.length: …``). Schema: docs/tasks.md.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

from seq2gen.errors import InputError
from seq2gen.tasks.schema import (FAMILIES, QuantizerSpec, SourceSpec, Window, _fail, check_structure,  # noqa: F401
                                  parse_fields)
from seq2gen.tasks.render import PROMPT_TISSUE
from seq2gen.tasks.sources import TISSUES_CHOICE
from seq2gen.utils.io import read_yaml_mapping


@dataclass
class Task:
    name: str
    family: str
    sources: list[SourceSpec]
    window: Window
    prompt: list[str]
    answer: list[str]
    answer_grammar: dict
    quantizer: QuantizerSpec | None = None
    metrics: list[str] = field(default_factory=list)
    split: str | dict = "world"
    rc_fraction: float = 0.0
    rc_mode: str = "replace"
    tissues: str | list[str] = "all"
    exclude_tissues: list[str] = field(default_factory=list)
    holdout_tissues: list[str] = field(default_factory=list)
    max_examples: int | None = None
    max_eval_examples: int | None = None
    corruption: dict = field(default_factory=dict)
    description: str = ""
    path: str | None = None

    # ------------------------------------------------------------------ derived
    @property
    def task_token(self) -> str:
        return f"<task:{self.name}>"

    @property
    def tissue_conditioned(self) -> bool:
        return "{tissue}" in self.prompt

    @property
    def prefix(self) -> list[str]:
        """Prompt items before ``{dna}`` (the whole prompt when there is no DNA)."""
        return self.prompt[:self.prompt.index("{dna}")] if "{dna}" in self.prompt else list(self.prompt)

    @property
    def suffix(self) -> list[str]:
        return self.prompt[self.prompt.index("{dna}") + 1:] if "{dna}" in self.prompt else []

    def resolve_tissues(self, available: list[str]) -> list[str]:
        """Tissues this task renders (``tissues`` minus ``exclude_tissues``), in ``available`` order."""
        if not self.tissue_conditioned:
            return []
        want = available if self.tissues == "all" else list(self.tissues)
        for key, names in (("tissues", want), ("exclude_tissues", self.exclude_tissues),
                           ("holdout_tissues", self.holdout_tissues)):
            missing = [t for t in names if t not in available]
            if missing:
                _fail(self.path, key, f"{missing} not in the world's tissues {available}")
        return [t for t in want if t not in self.exclude_tissues]

    def override(self, **changes) -> "Task":
        """A copy with some fields changed (mixtures use it for tissue include/exclude/holdout and limits)."""
        allowed = {"tissues", "exclude_tissues", "holdout_tissues", "max_examples", "max_eval_examples",
                   "rc_fraction", "rc_mode", "split"}
        bad = set(changes) - allowed
        if bad:
            _fail(self.path, sorted(bad)[0], "cannot be overridden", f"overridable: {', '.join(sorted(allowed))}")
        d = self.to_dict()
        for k, v in changes.items():
            if k in ("rc_fraction", "rc_mode"):
                d.setdefault("augment", {})["reverse_complement" if k == "rc_fraction" else "mode"] = v
            elif k in ("max_examples", "max_eval_examples"):
                d.setdefault("limits", {})[k] = v
            else:
                d[k] = v
        return Task.from_dict(d, where=self.path)

    def resolve_choices(self, tissues: list[str], vocab) -> "Task":
        """The task with a ``{tissues}`` item of a choice grammar replaced by the tissue tokens of ``tissues`` (the
        world's, in its order), so a template such as ``tf_tissues`` answers in whatever tissues a build has;
        ``tasks.json`` stores the resolved list. Tasks without the item are returned as they are."""
        toks = self.answer_grammar.get("tokens") or []
        if TISSUES_CHOICE not in toks:
            return self
        try:
            names = [vocab.tissue_token(t) for t in tissues]
        except InputError as exc:
            _fail(self.path, "answer_grammar.tokens", f"{{tissues}}: {exc}", exc.hint)
        resolved = [x for t in toks for x in (names if t == TISSUES_CHOICE else [t])]
        d = self.to_dict()
        d["answer_grammar"] = {**self.answer_grammar, "tokens": list(dict.fromkeys(resolved))}
        return Task.from_dict(d, where=self.path)

    # ------------------------------------------------------------------ (de)serialisation
    @classmethod
    def from_yaml(cls, path: str | Path) -> "Task":
        path = Path(path)
        d = read_yaml_mapping(path, "a task template (name: …, family: …)")
        return cls.from_dict(d, where=str(path))

    @classmethod
    def from_dict(cls, d: dict, where: str | None = None) -> "Task":
        task = cls(**parse_fields(copy.deepcopy(d), where))
        check_structure(task, where)
        return task

    def to_dict(self) -> dict:
        """The template as plain data (what ``tasks.json`` stores); ``Task.from_dict(t.to_dict())`` == ``t``."""
        d = {"name": self.name, "family": self.family, "description": self.description,
             "source": [s.to_dict() for s in self.sources],
             "window": {k: v for k, v in dataclasses.asdict(self.window).items() if v is not None},
             "prompt": list(self.prompt), "answer": list(self.answer),
             "answer_grammar": copy.deepcopy(self.answer_grammar), "metrics": list(self.metrics),
             "split": copy.deepcopy(self.split),
             "augment": {"reverse_complement": self.rc_fraction, "mode": self.rc_mode},
             "tissues": copy.deepcopy(self.tissues), "exclude_tissues": list(self.exclude_tissues),
             "holdout_tissues": list(self.holdout_tissues),
             "limits": {"max_examples": self.max_examples, "max_eval_examples": self.max_eval_examples}}
        if self.quantizer is not None:
            d["quantizer"] = dataclasses.asdict(self.quantizer)
        if self.corruption:
            d["corruption"] = dict(self.corruption)
        return d

    # ------------------------------------------------------------------ vocabulary checks
    def validate(self, vocab) -> None:
        """Tokens exist, the task token is declared, n_bins ≤ n_values, offsets fit the window (file + key)."""
        from seq2gen.tasks.sources import SOURCES
        where = self.path
        if self.name not in vocab.tasks:
            near = difflib.get_close_matches(self.name, vocab.tasks, n=1)
            _fail(where, "name", f"task token <task:{self.name}> is not declared in vocab/tasks.yaml",
                  f"did you mean {near[0]}?" if near else "append the task name to vocab/tasks.yaml")
        known = set(vocab.grammar_tokens)
        for key, items in (("prompt", self.prompt), ("answer", self.answer)):
            for i, t in enumerate(items):
                if t.startswith("{"):
                    continue
                try:
                    vocab.check_token(t, known)
                except InputError as exc:
                    _fail(where, f"{key}[{i}]", str(exc))
        if self.prompt[0] != self.task_token:
            _fail(where, "prompt[0]", f"the prompt must start with the task token {self.task_token}")
        g = self.answer_grammar
        for key in ("tokens", "labels"):
            for i, t in enumerate(g.get(key, [])):
                if key == "tokens" and t in (TISSUES_CHOICE, PROMPT_TISSUE):
                    continue
                try:
                    vocab.check_token(t, known)
                except InputError as exc:
                    _fail(where, f"answer_grammar.{key}[{i}]", str(exc))
        if self.quantizer is not None and self.quantizer.n_bins > vocab.n_values:
            _fail(where, "quantizer.n_bins", f"{self.quantizer.n_bins} > the vocabulary's n_values "
                  f"({vocab.n_values})", "lower n_bins or raise n_values in vocab/values.yaml")
        res = vocab.off_resolution
        if self.family in ("annotation", "variant") and self.window.length % (2 * res):
            _fail(where, "window.length", f"{self.window.length} must be a multiple of 2 × off_resolution "
                  f"({2 * res}) so that offsets flip exactly under reverse complement")
        if "{offset}" in self.prompt or self.family == "annotation":
            n_off = len(vocab.groups["offsets"])
            if self.window.length // res > n_off - 1:
                _fail(where, "window.length", f"{self.window.length} bp needs offsets up to "
                      f"{self.window.length // res}, the vocabulary has {n_off}")
        for i, s in enumerate(self.sources):
            SOURCES[s.type].check_tokens(s.params, vocab, known, where, f"source[{i}]")

