"""The token grammar, read from ``vocab/*.yaml``: which tokens exist and in which order (ids derive from it).

Nothing here is hard-coded: adding a tissue or a task is a YAML edit. Token spellings:
``<task:NAME>``, ``<tissue:NAME>``, ``<species:NAME>``, ``<chr:7>``, ``<bin:0027>``, ``<off:0012>``, ``<val:087>``,
``<label:NAME>``, ``<exon>``…, ``<ref:A>``/``<alt:G>``, T5 sentinels ``<extra_id_N>``.
"""
from __future__ import annotations

import difflib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seq2gen.errors import InputError
from seq2gen.resources import data_dir

DEFAULT_VOCAB_DIR = data_dir("vocab")
TOKEN_RE = re.compile(r"<[^<>\s]+>")
_CONDITION_KINDS = ("task", "tissue", "species")


def condition_key(name) -> str:
    """The token form of a task/tissue/species name: ``Brain - Cortex`` → ``brain___cortex``."""
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _load_yaml(path: Path) -> dict:
    if not path.exists():
        raise InputError("vocabulary file is missing", path=path, hint="see vocab/ in the seq2gen repository")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"invalid YAML: {exc}", path=path, line=None if line is None else line + 1) from exc
    if not isinstance(data, dict):
        raise InputError("expected a mapping at the top level", path=path)
    return data


def _names(values, path: Path, key: str) -> list[str]:
    names = [str(v) for v in values]
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_.+\-]+", n)]
    if bad:
        raise InputError(f"{key}: invalid token name(s) {bad} (use letters, digits, _ . + -)", path=path)
    return names


def _added_tokens(path: Path, seen: dict[str, str]) -> list[str]:
    """``added.yaml`` (optional): ``{tissues: [...], tasks: [...], species: [...]}`` → tokens in file order.

    They take ids after every other token (nucleotides included), so a model trained before they were added keeps
    every id's meaning and only grows its embedding (``seq2gen vocab add``, docs/own-data.md)."""
    if not path.exists():
        return []
    data = _load_yaml(path)
    out = []
    for key, values in data.items():
        kind = {"tissues": "tissue", "tasks": "task", "species": "species"}.get(key)
        if kind is None:
            raise InputError(f"{key}: unknown key", path=path, hint="allowed: tissues, tasks, species")
        for n in _names(values or [], path, key):
            tok = f"<{kind}:{n}>"
            if tok in seen or tok in out:
                raise InputError(f"{key}: {tok} is already declared{' in ' + seen[tok] if tok in seen else ''}",
                                 path=path)
            out.append(tok)
    return out


@dataclass
class Vocabulary:
    """The grammar: ordered token groups plus the numeric parameters tokens encode (resolutions, counts)."""

    groups: dict[str, list[str]]
    special: dict[str, str]
    bases: list[str]
    iupac_to_n: list[str]
    rna: dict[str, str]
    modes: dict[str, dict]
    bin_size: int
    off_resolution: int
    n_values: int
    source: dict = field(default_factory=dict)
    added: list[str] = field(default_factory=list)   # tokens appended after the nucleotides (``added.yaml``)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dir(cls, path: str | Path = DEFAULT_VOCAB_DIR) -> "Vocabulary":
        d = Path(path)
        special = _load_yaml(d / "special.yaml")
        nuc = _load_yaml(d / "nucleotides.yaml")
        tasks = _load_yaml(d / "tasks.yaml")
        tissues = _load_yaml(d / "tissues.yaml")
        species = _load_yaml(d / "species.yaml")
        pos = _load_yaml(d / "positions.yaml")
        values = _load_yaml(d / "values.yaml")
        ann = _load_yaml(d / "annotations.yaml")
        order = _load_yaml(d / "grammar.yaml").get("order")

        tissue_names = list(itertools.chain.from_iterable(
            _names(v, d / "tissues.yaml", k) for k, v in tissues.items()))
        n_bins, n_off, n_val = int(pos["n_bins"]), int(pos["n_offsets"]), int(values["n_values"])
        groups = {
            "special": [special["pad"], special["eos"], special["unk"], *special.get("structure", [])],
            "sentinels": [f"<extra_id_{i}>" for i in range(int(special.get("sentinels", 100)))],
            "tasks": [f"<task:{n}>" for n in _names(tasks["tasks"], d / "tasks.yaml", "tasks")],
            "tissues": [f"<tissue:{n}>" for n in tissue_names],
            "species": [f"<species:{n}>" for n in _names(species["species"], d / "species.yaml", "species")],
            "chromosomes": [f"<chr:{c}>" for c in _names(pos["chromosomes"], d / "positions.yaml", "chromosomes")],
            "bins": [f"<bin:{i:04d}>" for i in range(n_bins)],
            "offsets": [f"<off:{i:04d}>" for i in range(n_off)],
            "values": [f"<val:{i:03d}>" for i in range(n_val)],
            "answers": list(ann.get("answers", [])),
            "labels": [f"<label:{n}>" for n in _names(ann.get("labels", []), d / "annotations.yaml", "labels")],
            "annotation": [f"<{n}>" for n in _names(ann.get("annotation", []), d / "annotations.yaml", "annotation")],
            "variant": [f"<{kind}:{a}>" for kind in ("ref", "alt") for a in ann.get("variant_alleles", [])],
        }
        if n_val > 1000 or n_off > 10000 or n_bins > 10000:
            raise InputError("n_values ≤ 1000, n_offsets ≤ 10000 and n_bins ≤ 10000 (token widths are fixed)",
                             path=d / "positions.yaml")
        if order is None or sorted(order) != sorted([*groups, "nucleotides"]):
            raise InputError(f"grammar.yaml 'order' must list exactly {sorted([*groups, 'nucleotides'])}",
                             path=d / "grammar.yaml")
        groups = {k: groups[k] for k in order if k != "nucleotides"}
        seen: dict[str, str] = {}
        for g, toks in groups.items():
            for t in toks:
                if t in seen:
                    raise InputError(f"token {t} declared twice (groups {seen[t]} and {g})", path=d)
                seen[t] = g
        added = _added_tokens(d / "added.yaml", seen)
        return cls(groups=groups, special={k: special[k] for k in ("pad", "eos", "unk")}, added=added,
                   bases=[str(b) for b in nuc["bases"]], iupac_to_n=[str(c) for c in nuc.get("iupac_to_n", [])],
                   rna={str(k): str(v) for k, v in (nuc.get("rna") or {}).items()}, modes=nuc.get("modes", {}),
                   bin_size=int(pos["bin_size"]), off_resolution=int(pos["off_resolution"]), n_values=n_val,
                   source={"dir": str(d)})

    # ---------------------------------------------------------------- serialisation (travels with tokenizers)
    def to_dict(self) -> dict:
        return {"groups": self.groups, "special": self.special, "bases": self.bases, "iupac_to_n": self.iupac_to_n,
                "rna": self.rna, "modes": self.modes, "bin_size": self.bin_size,
                "off_resolution": self.off_resolution, "n_values": self.n_values, "added": self.added}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls(**d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    # ---------------------------------------------------------------- queries
    @property
    def core_tokens(self) -> list[str]:
        """The grouped tokens, which take the ids before the nucleotides."""
        return list(itertools.chain.from_iterable(self.groups.values()))

    @property
    def grammar_tokens(self) -> list[str]:
        """All non-nucleotide tokens: the grouped ones, then the added ones (whose ids follow the nucleotides)."""
        return self.core_tokens + list(self.added)

    def names(self, kind: str) -> list[str]:
        """Names declared for a conditioning kind: ``names("tissue") → ["adipose_subcutaneous", …]`` (added ones
        last)."""
        group = {"task": "tasks", "tissue": "tissues", "species": "species"}[kind]
        prefix = f"<{kind}:"
        return [t[len(prefix):-1] for t in [*self.groups[group], *self.added] if t.startswith(prefix)]

    @property
    def tasks(self) -> list[str]:
        return self.names("task")

    @property
    def tissues(self) -> list[str]:
        return self.names("tissue")

    def condition_token(self, kind: str, name: str) -> str:
        """``<kind:name>`` after checking the name exists; unknown → error with the nearest names."""
        if kind not in _CONDITION_KINDS:
            raise ValueError(f"kind must be one of {_CONDITION_KINDS}")
        key = condition_key(name)
        known = self.names(kind)
        if key not in known and str(name) in known:
            key = str(name)
        if key not in known:
            near = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
            guess = f" (did you mean {', '.join(near)}?)" if near else ""
            raise InputError(f"unknown {kind} '{name}'{guess}",
                             hint=f"a new name: `seq2gen vocab add --{kind} {key}`, docs/own-data.md")
        return f"<{kind}:{key}>"

    def task_token(self, name: str) -> str:
        return self.condition_token("task", name)

    def tissue_token(self, name: str) -> str:
        return self.condition_token("tissue", name)

    def species_token(self, name: str) -> str:
        return self.condition_token("species", name)

    def chr_token(self, chrom: str) -> str:
        """``chr7`` / ``7`` → ``<chr:7>``; unknown chromosomes (scaffolds) → error."""
        name = str(chrom)
        name = name[3:] if name.lower().startswith("chr") else name
        name = {"MT": "M", "x": "X", "y": "Y", "m": "M"}.get(name, name)
        tok = f"<chr:{name}>"
        if tok not in self.groups["chromosomes"]:
            raise InputError(f"chromosome '{chrom}' has no position token",
                             hint="declare it in vocab/positions.yaml or leave position tokens out of the prompt")
        return tok

    def _indexed(self, group: str, prefix: str, width: int, i: int, what: str) -> str:
        n = len(self.groups[group])
        if not 0 <= int(i) < n:
            raise InputError(f"{what} index {i} outside 0..{n - 1}", hint=f"raise its count in vocab/")
        return f"<{prefix}:{int(i):0{width}d}>"

    def val_token(self, i: int) -> str:
        return self._indexed("values", "val", 3, i, "value")

    def off_token(self, i: int) -> str:
        return self._indexed("offsets", "off", 4, i, "offset")

    def bin_token(self, i: int) -> str:
        return self._indexed("bins", "bin", 4, i, "position bin")

    def offset_token_for(self, offset_bp: int) -> str:
        """In-window offset in bases → ``<off:NNNN>`` at the vocabulary's resolution."""
        return self.off_token(int(offset_bp) // self.off_resolution)

    def bin_token_for(self, position: int) -> str:
        return self.bin_token(int(position) // self.bin_size)

    def check_token(self, token: str, known: set[str]) -> None:
        """Raise a helpful error for a ``<…>`` token that is not in the vocabulary."""
        if token in known:
            return
        m = re.fullmatch(r"<(task|tissue|species):(.+)>", token)
        if m:
            self.condition_token(m.group(1), m.group(2))  # raises with "did you mean"
        near = difflib.get_close_matches(token, sorted(known), n=3, cutoff=0.6)
        raise InputError(f"unknown token {token}", hint=f"did you mean {', '.join(near)}?" if near else
                         "declare it in vocab/*.yaml")
