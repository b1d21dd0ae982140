"""Template schema: the allowed keys and values of a task YAML, parsed and checked with file + key in every error.

``parse_fields`` turns a template mapping into ``Task`` keyword arguments; ``check_structure`` checks the family ↔
answer placeholder ↔ grammar ↔ quantizer ↔ source agreements. Vocabulary checks live in ``Task.validate``.
"""
from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field

from seq2gen.errors import InputError

FAMILIES = ("classification", "regression", "track", "annotation", "variant", "pretrain")
CENTRES = ("tss", "interval_centre", "variant", "tiled", "sequence")   # sequence: a table row's whole sequence
PROMPT_PLACEHOLDERS = ("{tissue}", "{chr}", "{bin}", "{offset}", "{ref}", "{alt}", "{dna}", "{species}")
ANSWER_PLACEHOLDERS = ("{label}", "{value}", "{values}", "{spans}", "{targets}")
GRAMMARS = ("choice", "values", "spans", "sentinel_spans")
METRICS = ("accuracy", "mcc", "auroc", "auprc", "f1", "pearson", "spearman", "mse", "pearson_bins",
           "spearman_bins", "pearson_per_region", "per_base_f1", "boundary_rate", "variant_spearman",
           "sign_accuracy", "loss", "token_accuracy", "exact_match")
#: family → (answer placeholder, grammar type, needs a quantizer)
FAMILY_RULES = {
    "classification": ("{label}", "choice", False),
    "regression": ("{value}", "values", True),
    "variant": ("{value}", "values", True),
    "track": ("{values}", "values", True),
    "annotation": ("{spans}", "spans", False),
    "pretrain": ("{targets}", "sentinel_spans", False),
}
QUANTIZER_METHODS = ("uniform", "quantile", "log1p-quantile")
TOKEN = re.compile(r"<[^<>\s]+>")
_TOP_KEYS = ("name", "family", "description", "source", "window", "prompt", "answer", "answer_grammar", "quantizer",
             "metrics", "split", "augment", "tissues", "exclude_tissues", "holdout_tissues", "limits", "corruption")


def _fail(where, key: str, msg: str, hint: str | None = None):
    raise InputError(f"{key}: {msg}", path=where, hint=hint)


def _check_keys(d: dict, allowed, where, key: str) -> None:
    for k in d:
        if k not in allowed:
            near = difflib.get_close_matches(str(k), list(allowed), n=1)
            _fail(where, f"{key}.{k}" if key else str(k), "unknown key",
                  f"did you mean {near[0]}?" if near else f"allowed: {', '.join(allowed)}")


def _int(v, where, key, lo=None) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        _fail(where, key, f"must be an integer, got {v!r}")
    if lo is not None and v < lo:
        _fail(where, key, f"must be >= {lo}, got {v}")
    return v


def _tokens(v, where, key) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(t, str) and t.strip() for t in v):
        _fail(where, key, "must be a list of tokens, e.g. ['<task:promoter>', '<dna>', '{dna}', '</dna>']")
    return [t.strip() for t in v]


@dataclass(frozen=True)
class SourceSpec:
    """One example source: ``type`` (a function in ``sources.py``) and its parameters."""
    type: str
    params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"type": self.type, **self.params}


@dataclass(frozen=True)
class Window:
    """Window of DNA shown to the model. ``upstream``: bases before the anchor (gene orientation for ``tss``)."""
    length: int
    centre: str
    upstream: int | None = None
    stride: int | None = None
    jitter: int = 0

    @property
    def before(self) -> int:
        """Bases before the anchor position (the anchor sits at this offset of the window)."""
        return self.length // 2 if self.upstream is None else self.upstream


@dataclass(frozen=True)
class QuantizerSpec:
    method: str
    n_bins: int


def parse_fields(d: dict, where) -> dict:
    """Checked ``Task`` keyword arguments from a template mapping (structure only, no vocabulary)."""
    d = copy.deepcopy(d)
    _check_keys(d, _TOP_KEYS, where, "")
    for k in ("name", "family", "source", "window", "prompt", "answer", "answer_grammar"):
        if k not in d:
            _fail(where, k, "is required", "see docs/tasks.md for the template schema")
    name = d["name"]
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        _fail(where, "name", f"must be lower_snake_case, got {name!r}")
    family = d["family"]
    if family not in FAMILIES:
        near = difflib.get_close_matches(str(family), FAMILIES, n=1)
        _fail(where, "family", f"unknown family {family!r}",
              f"did you mean {near[0]}?" if near else f"one of {', '.join(FAMILIES)}")
    sources = _parse_sources(d["source"], where)
    window = _parse_window(d["window"], where)
    prompt, answer = _tokens(d["prompt"], where, "prompt"), _tokens(d["answer"], where, "answer")
    grammar = _parse_grammar(d["answer_grammar"], where)
    q = d.get("quantizer")
    quantizer = None
    if q is not None:
        if not isinstance(q, dict):
            _fail(where, "quantizer", "must be a mapping {method: …, n_bins: …}")
        _check_keys(q, ("method", "n_bins"), where, "quantizer")
        if q.get("method") not in QUANTIZER_METHODS:
            _fail(where, "quantizer.method", f"unknown method {q.get('method')!r}",
                  f"one of {', '.join(QUANTIZER_METHODS)}")
        quantizer = QuantizerSpec(q["method"], _int(q.get("n_bins"), where, "quantizer.n_bins", lo=2))
    metrics = d.get("metrics") or []
    for i, m in enumerate(metrics if isinstance(metrics, list) else [metrics]):
        if m not in METRICS:
            near = difflib.get_close_matches(str(m), METRICS, n=1)
            _fail(where, f"metrics[{i}]", f"unknown metric {m!r}", f"did you mean {near[0]}?" if near else
                  f"one of {', '.join(METRICS)}")
    split = d.get("split", "world")
    if split != "world":
        if not isinstance(split, dict) or set(split) != {"train", "validation", "test"}:
            _fail(where, "split", "must be 'world' or a mapping {train: [chr…], validation: [...], test: [...]}")
        seen: dict[str, str] = {}
        for s, chroms in split.items():
            for c in chroms:
                if c in seen:
                    _fail(where, f"split.{s}", f"chromosome {c} is also in split {seen[c]}")
                seen[c] = s
    aug = d.get("augment") or {}
    if not isinstance(aug, dict):
        _fail(where, "augment", "must be a mapping {reverse_complement: FRACTION, mode: replace|append}")
    _check_keys(aug, ("reverse_complement", "mode"), where, "augment")
    rc = aug.get("reverse_complement", 0.0)
    if isinstance(rc, bool) or not isinstance(rc, (int, float)) or not 0 <= rc <= 1:
        _fail(where, "augment.reverse_complement", f"must be a fraction in [0, 1], got {rc!r}")
    mode = aug.get("mode", "replace")
    if mode not in ("replace", "append"):
        _fail(where, "augment.mode", f"must be 'replace' or 'append', got {mode!r}")
    tissues = d.get("tissues", "all")
    if tissues != "all" and not (isinstance(tissues, list) and all(isinstance(t, str) for t in tissues)):
        _fail(where, "tissues", "must be 'all' or a list of tissue names")
    lists = {}
    for k in ("exclude_tissues", "holdout_tissues"):
        v = d.get(k) or []
        if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
            _fail(where, k, "must be a list of tissue names")
        lists[k] = v
    limits = d.get("limits") or {}
    _check_keys(limits, ("max_examples", "max_eval_examples"), where, "limits")
    lim = {k: None if limits.get(k) is None else _int(limits[k], where, f"limits.{k}", lo=1)
           for k in ("max_examples", "max_eval_examples")}
    corruption = d.get("corruption") or {}
    _check_keys(corruption, ("noise_density", "mean_span"), where, "corruption")
    return dict(name=name, family=family, sources=sources, window=window, prompt=prompt, answer=answer,
                answer_grammar=grammar, quantizer=quantizer, metrics=list(metrics), split=split,
                rc_fraction=float(rc), rc_mode=mode, tissues=tissues, corruption=corruption,
                description=str(d.get("description", "")).strip(), path=where, **lists, **lim)


def _parse_sources(v, where) -> list[SourceSpec]:
    from seq2gen.tasks.sources import SOURCES
    items = v if isinstance(v, list) else [v]
    out = []
    for i, s in enumerate(items):
        key = f"source[{i}]" if isinstance(v, list) else "source"
        if not isinstance(s, dict) or "type" not in s:
            _fail(where, key, "must be a mapping with a 'type'", f"types: {', '.join(SOURCES)}")
        s = dict(s)
        typ = s.pop("type")
        if typ not in SOURCES:
            near = difflib.get_close_matches(str(typ), list(SOURCES), n=1)
            _fail(where, f"{key}.type", f"unknown source type {typ!r}",
                  f"did you mean {near[0]}?" if near else f"one of {', '.join(SOURCES)}")
        _check_keys(s, SOURCES[typ].params, where, key)
        out.append(SourceSpec(typ, SOURCES[typ].with_defaults(s, where, key)))
    if not out:
        _fail(where, "source", "needs at least one source")
    if not any(not SOURCES[s.type].secondary for s in out):
        _fail(where, "source", "needs a primary source (background windows are placed relative to one)",
              f"primary types: {', '.join(k for k, v in SOURCES.items() if not v.secondary)}")
    return out


def _parse_window(w, where) -> Window:
    if not isinstance(w, dict):
        _fail(where, "window", "must be a mapping {length: …, centre: …}")
    _check_keys(w, ("length", "centre", "upstream", "stride", "jitter"), where, "window")
    length = _int(w.get("length"), where, "window.length", lo=8)
    centre = w.get("centre")
    if centre not in CENTRES:
        _fail(where, "window.centre", f"unknown centring {centre!r}", f"one of {', '.join(CENTRES)}")
    up = w.get("upstream")
    if up is not None and not 0 <= _int(up, where, "window.upstream") < length:
        _fail(where, "window.upstream", f"must be in [0, length), got {up}")
    stride = None if w.get("stride") is None else _int(w["stride"], where, "window.stride", lo=1)
    return Window(length, centre, up, stride, _int(w.get("jitter", 0), where, "window.jitter", lo=0))


def _parse_grammar(g, where) -> dict:
    if not isinstance(g, dict) or g.get("type") not in GRAMMARS:
        _fail(where, "answer_grammar", f"must be a mapping with type one of {', '.join(GRAMMARS)}")
    allowed = {"choice": ("type", "tokens"), "values": ("type", "count", "n_bins"),
               "spans": ("type", "labels", "max_spans"), "sentinel_spans": ("type",)}[g["type"]]
    _check_keys(g, allowed, where, "answer_grammar")
    if g["type"] == "choice":
        _tokens(g.get("tokens"), where, "answer_grammar.tokens")
    if g["type"] == "values":
        _int(g.setdefault("count", 1), where, "answer_grammar.count", lo=1)
    if g["type"] == "spans":
        _tokens(g.get("labels"), where, "answer_grammar.labels")
        _int(g.setdefault("max_spans", 32), where, "answer_grammar.max_spans", lo=1)
    return g


def check_structure(t, where) -> None:
    """Family ↔ answer placeholder ↔ grammar ↔ quantizer ↔ source fields, before any vocabulary is involved."""
    from seq2gen.tasks.sources import SOURCES
    placeholder, gtype, needs_q = FAMILY_RULES[t.family]
    for key, items, known in (("prompt", t.prompt, PROMPT_PLACEHOLDERS), ("answer", t.answer, ANSWER_PLACEHOLDERS)):
        for i, item in enumerate(items):
            if item.startswith("{") and item not in known:
                near = difflib.get_close_matches(item, known, n=1)
                _fail(where, f"{key}[{i}]", f"unknown placeholder {item}",
                      f"did you mean {near[0]}?" if near else f"known: {' '.join(known)}")
            if not item.startswith("{") and not TOKEN.fullmatch(item):
                _fail(where, f"{key}[{i}]", f"{item!r} is neither a <token> nor a {{placeholder}}")
    if t.answer.count(placeholder) != 1 or any(a in t.answer for a in ANSWER_PLACEHOLDERS if a != placeholder):
        _fail(where, "answer", f"a {t.family} task's answer holds {placeholder} exactly once (and no other "
              "answer placeholder)")
    if t.answer_grammar["type"] != gtype:
        _fail(where, "answer_grammar.type", f"a {t.family} task answers with grammar {gtype!r}")
    if len(t.answer) != 1:
        _fail(where, "answer", "extra literal answer tokens are not supported by the answer grammars",
              f"use [{placeholder}]")
    if needs_q and t.quantizer is None:
        _fail(where, "quantizer", f"a {t.family} task needs a quantizer {{method: …, n_bins: …}}")
    if not needs_q and t.quantizer is not None:
        _fail(where, "quantizer", f"a {t.family} task has no values to quantize")
    if t.quantizer is not None:
        t.answer_grammar["n_bins"] = t.quantizer.n_bins
    if "{dna}" in t.prompt:
        i = t.prompt.index("{dna}")
        if t.prompt.count("{dna}") != 1 or t.prompt[i - 1:i + 2] != ["<dna>", "{dna}", "</dna>"]:
            _fail(where, "prompt", "write the sequence as '<dna>', '{dna}', '</dna>' (once)")
    else:
        _fail(where, "prompt", "needs '<dna>', '{dna}', '</dna>'")
    if t.family == "pretrain":
        c = t.corruption
        if not 0 < float(c.get("noise_density", 0.15)) < 1 or float(c.get("mean_span", 3.0)) < 1:
            _fail(where, "corruption", "noise_density in (0, 1) and mean_span >= 1")
    elif t.corruption:
        _fail(where, "corruption", "only pretrain tasks corrupt their input")
    provides: set[str] = set(PROMPT_PLACEHOLDERS[:3]) | {"{dna}"}
    primary = [s for s in t.sources if not SOURCES[s.type].secondary]
    for s in t.sources:
        provides |= SOURCES[s.type].provides
    for key, items in (("prompt", t.prompt), ("answer", t.answer)):
        for i, item in enumerate(items):
            if item.startswith("{") and item not in provides and item != "{targets}":
                _fail(where, f"{key}[{i}]", f"{item} is not provided by source type(s) "
                      f"{', '.join(s.type for s in t.sources)}")
    for i, s in enumerate(t.sources):
        spec = SOURCES[s.type]
        if spec.secondary:
            if t.family not in ("classification", "track"):
                _fail(where, f"source[{i}]", f"background windows have no target for a {t.family} task")
            if (t.family == "classification") != bool(s.params.get("label")):
                _fail(where, f"source[{i}].label", "background windows of a classification task need a label "
                      "(and only those)")
            continue
        if t.window.centre not in spec.centres:
            _fail(where, "window.centre", f"source {s.type} places windows by {' or '.join(spec.centres)}, "
                  f"not {t.window.centre}")
        if spec.needs_tissue and not t.tissue_conditioned:
            _fail(where, "prompt", f"source {s.type} gives one target per tissue: add {{tissue}} to the prompt")
        if t.family not in spec.families:
            _fail(where, "family", f"source {s.type} feeds {' / '.join(spec.families)} tasks, not {t.family}")
        if spec.check is not None:
            spec.check(t, s.params, where, f"source[{i}]" if len(t.sources) > 1 else "source")
    if t.family == "track":
        n = next((s.params.get("n_bins") for s in primary if "n_bins" in s.params), None)
        if n != t.answer_grammar["count"]:
            _fail(where, "answer_grammar.count", f"must equal the source's n_bins ({n})")
        if t.window.length % n:
            _fail(where, "window.length", f"must be a multiple of the track's n_bins ({n})")
    if t.family == "classification":
        if "{tissue}" in t.answer_grammar["tokens"] and not t.tissue_conditioned:    # render.PROMPT_TISSUE
            _fail(where, "answer_grammar.tokens", "{tissue} answers the prompt's tissue token: add {tissue} to the "
                  "prompt")
        for i, s in enumerate(t.sources):
            for lab in SOURCES[s.type].labels(s.params):
                if lab not in t.answer_grammar["tokens"]:
                    _fail(where, f"source[{i}]", f"label {lab} is not one of answer_grammar.tokens")
    for k in ("exclude_tissues", "holdout_tissues"):
        if getattr(t, k) and not t.tissue_conditioned:
            _fail(where, k, "the task is not tissue-conditioned (no {tissue} in the prompt)")
