"""The declarative data spec: one YAML naming a user's genome files, checked key by key (docs/own-data.md).

``load_spec(path)`` → ``DataSpec`` (paths resolved against the spec's folder); unknown keys get "did you mean",
every error names the spec file and the key. ``read_sample_sheet`` reads the sample sheet TSV (assay, cell type,
file, optional target). ``seq2gen.data.specworld.SpecWorld`` turns a spec into the world object the task sources
read, so the task templates render unchanged.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seq2gen.errors import InputError

TOP_KEYS = ("name", "genome", "annotation", "samples", "expression", "variants", "splits", "aliases", "tissues",
            "chromosomes")
SUB_KEYS = {"genome": ("fasta",), "annotation": ("file", "gene_types"),
            "samples": ("sheet", "peaks", "signal", "consensus"), "expression": ("file", "format", "columns"),
            "variants": ("file", "effect"), "splits": ("train", "validation", "test")}
SELECT_KEYS = ("assay", "target")
EFFECT_KEYS = ("info", "table")
SHEET_COLUMNS = ("assay", "cell_type", "file", "target")
SHEET_ALIASES = {"tissue": "cell_type", "biosample": "cell_type", "biosample_term_name": "cell_type",
                 "path": "file", "experiment_target": "target"}
CONSENSUS = ("merge", "exact")
BIGWIG_MAGIC = (0x888FFC26).to_bytes(4, "little")


def _near(key: str, allowed) -> str:
    near = difflib.get_close_matches(str(key), list(allowed), n=1)
    return f"did you mean {near[0]!r}?" if near else f"allowed: {', '.join(allowed)}"


def _check_keys(d: dict, allowed, where, prefix: str) -> None:
    for k in d:
        if k not in allowed:
            raise InputError(f"{prefix}{k}: unknown key", path=where, hint=_near(k, allowed))


def _mapping(v, where, key: str, short: str) -> dict:
    """``key: path`` is shorthand for ``key: {short: path}``."""
    if isinstance(v, (str, os.PathLike)):
        return {short: v}
    if not isinstance(v, dict):
        raise InputError(f"{key}: must be a path or a mapping", path=where)
    _check_keys(v, SUB_KEYS[key], where, f"{key}.")
    return dict(v)


def _file(base: Path, v, where, key: str) -> Path:
    if not isinstance(v, (str, os.PathLike)) or not str(v):
        raise InputError(f"{key}: must be a file path, got {v!r}", path=where)
    p = Path(os.path.expanduser(str(v)))
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise InputError(f"{key}: no such file {str(p)!r}", path=where,
                         hint="relative paths start at the spec's folder")
    return p


def _names(v, where, key: str) -> list[str]:
    if not isinstance(v, list) or not v or not all(isinstance(x, (str, int)) for x in v):
        raise InputError(f"{key}: must be a non-empty list of names", path=where)
    return [str(x) for x in v]


@dataclass
class Select:
    """Which sample-sheet rows feed a source: all rows of the right file kind, optionally one assay / target."""
    assay: str | None = None
    target: str | None = None


@dataclass
class DataSpec:
    path: Path
    genome: Path
    annotation: Path
    splits: dict[str, list[str] | str]
    name: str = ""
    gene_types: list[str] | None = None
    sheet: Path | None = None
    peaks: Select = field(default_factory=Select)
    signal: Select = field(default_factory=Select)
    consensus: str = "merge"
    expression: Path | None = None
    expression_format: str = "auto"
    expression_columns: dict[str, str] = field(default_factory=dict)
    variants: Path | None = None
    effect_info: str = "EFFECT_{tissue}"
    effect_table: Path | None = None
    aliases: str | dict[str, str] = "auto"
    tissues: list[str] | None = None
    chromosomes: str | list[str] = "primary"

    @property
    def dir(self) -> Path:
        return self.path.parent

    def files(self) -> dict[str, Path]:
        """Every input file the spec names (the sample sheet's own files are added by ``SpecWorld``)."""
        named = {"genome": self.genome, "annotation": self.annotation, "samples": self.sheet,
                 "expression": self.expression, "variants": self.variants, "effects": self.effect_table}
        return {k: v for k, v in named.items() if v is not None}


def load_spec(path: str | os.PathLike) -> DataSpec:
    """Read and check a data spec YAML (see docs/own-data.md for every key)."""
    from seq2gen.genome.io import read_yaml_mapping
    where = Path(path)
    if not where.is_file():
        raise InputError("no such data spec file", path=where, hint="write one as shown in docs/own-data.md")
    raw = read_yaml_mapping(where, "a data spec (genome:, annotation:, samples:, …)")
    _check_keys(raw, TOP_KEYS, where, "")
    for key in ("genome", "annotation", "splits"):
        if key not in raw:
            raise InputError(f"{key}: required key is missing", path=where, hint="see docs/own-data.md")
    base = where.resolve().parent
    genome = _mapping(raw["genome"], where, "genome", "fasta")
    ann = _mapping(raw["annotation"], where, "annotation", "file")
    spec = DataSpec(path=where.resolve(), genome=_file(base, genome.get("fasta"), where, "genome.fasta"),
                    annotation=_file(base, ann.get("file"), where, "annotation.file"),
                    splits=_splits(raw["splits"], where), name=str(raw.get("name", "")))
    if "gene_types" in ann:
        spec.gene_types = _names(ann["gene_types"], where, "annotation.gene_types")
    if "samples" in raw:
        _samples(spec, _mapping(raw["samples"], where, "samples", "sheet"), base, where)
    if "expression" in raw:
        ex = _mapping(raw["expression"], where, "expression", "file")
        spec.expression = _file(base, ex.get("file"), where, "expression.file")
        spec.expression_format = str(ex.get("format", "auto"))
        if spec.expression_format not in ("auto", "tsv", "gct"):
            raise InputError(f"expression.format: {spec.expression_format!r} is not auto, tsv or gct", path=where)
        cols = ex.get("columns") or {}
        if not isinstance(cols, dict):
            raise InputError("expression.columns: must map a table column to a tissue name", path=where)
        spec.expression_columns = {str(k): str(v) for k, v in cols.items()}
    if "variants" in raw:
        _variants(spec, _mapping(raw["variants"], where, "variants", "file"), base, where)
    _options(spec, raw, where)
    return spec


def _splits(v, where) -> dict:
    if not isinstance(v, dict):
        raise InputError("splits: must map train/validation/test to chromosome lists", path=where)
    _check_keys(v, SUB_KEYS["splits"], where, "splits.")
    out = {}
    for k in ("validation", "test"):
        if k not in v:
            raise InputError(f"splits.{k}: required (a list of held-out chromosomes)", path=where)
        out[k] = _names(v[k], where, f"splits.{k}")
    train = v.get("train", "rest")
    out["train"] = "rest" if train == "rest" else _names(train, where, "splits.train")
    return out


def _samples(spec: DataSpec, s: dict, base: Path, where) -> None:
    spec.sheet = _file(base, s.get("sheet"), where, "samples.sheet")
    for key in ("peaks", "signal"):
        sel = s.get(key) or {}
        if not isinstance(sel, dict):
            raise InputError(f"samples.{key}: must be a mapping like {{assay: DNase-seq}}", path=where)
        _check_keys(sel, SELECT_KEYS, where, f"samples.{key}.")
        setattr(spec, key, Select(**{k: str(v) for k, v in sel.items()}))
    spec.consensus = str(s.get("consensus", "merge"))
    if spec.consensus not in CONSENSUS:
        raise InputError(f"samples.consensus: {spec.consensus!r} is not one of {list(CONSENSUS)}", path=where)


def _variants(spec: DataSpec, v: dict, base: Path, where) -> None:
    spec.variants = _file(base, v.get("file"), where, "variants.file")
    eff = v.get("effect", {"info": "EFFECT_{tissue}"})
    if not isinstance(eff, dict) or len(eff) != 1:
        raise InputError("variants.effect: give exactly one of {info: KEY_{tissue}} or {table: effects.tsv}",
                         path=where)
    _check_keys(eff, EFFECT_KEYS, where, "variants.effect.")
    if "info" in eff:
        spec.effect_info = str(eff["info"])
        if "{tissue}" not in spec.effect_info:
            raise InputError("variants.effect.info: the INFO key needs '{tissue}' (one key per tissue)", path=where,
                             hint="for one effect per variant and tissue in another layout, use effect: {table: …}")
    else:
        spec.effect_table = _file(base, eff["table"], where, "variants.effect.table")


def _options(spec: DataSpec, raw: dict, where) -> None:
    aliases = raw.get("aliases", "auto")
    if aliases in ("auto", "none"):
        spec.aliases = aliases
    elif isinstance(aliases, dict):
        spec.aliases = {str(k): str(v) for k, v in aliases.items()}
    else:
        raise InputError("aliases: 'auto', 'none' or a mapping {name in a file: name in the FASTA}", path=where)
    if "tissues" in raw:
        spec.tissues = _names(raw["tissues"], where, "tissues")
    ch = raw.get("chromosomes", "primary")
    spec.chromosomes = ch if ch in ("primary", "all") else _names(ch, where, "chromosomes")


# ---------------------------------------------------------------------------------------------- sample sheet
def file_kind(path: Path) -> str:
    """``bigwig`` (by magic number) or ``peaks`` (BED / narrowPeak text, plain or gzip)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head == BIGWIG_MAGIC:
        return "bigwig"
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".bed", ".narrowpeak", ".broadpeak", ".bed3", ".bed6")):
        return "peaks"
    raise InputError("sample file is neither a bigWig (by its magic number) nor a BED/narrowPeak (.bed, "
                     ".narrowPeak, optionally .gz)", path=path)


def read_sample_sheet(path: Path, where=None) -> pd.DataFrame:
    """Columns ``assay, cell_type, file, target, kind, line`` (``file`` resolved against the sheet's folder)."""
    from seq2gen.genome.io import data_lines, read_text
    lines, lineno = data_lines(read_text(path), skip_prefixes=("#",))
    if not lines:
        raise InputError("empty sample sheet", path=path, hint="header: assay<TAB>cell_type<TAB>file[<TAB>target]")
    header = [SHEET_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in lines[0].split("\t")]
    for h in header:
        if h not in SHEET_COLUMNS:
            raise InputError(f"unknown sample sheet column {h!r}", path=path, line=int(lineno[0]),
                             hint=_near(h, SHEET_COLUMNS))
    for need in ("assay", "cell_type", "file"):
        if need not in header:
            raise InputError(f"sample sheet has no {need!r} column", path=path, line=int(lineno[0]),
                             hint="header: assay<TAB>cell_type<TAB>file[<TAB>target]")
    rows = []
    for text, n in zip(lines[1:], lineno[1:]):
        cells = text.split("\t")
        if len(cells) != len(header):
            raise InputError(f"row has {len(cells)} tab-separated fields, the header has {len(header)}", path=path,
                             line=int(n))
        row = dict(zip(header, (c.strip() for c in cells)))
        for k in ("assay", "cell_type", "file"):
            if not row[k]:
                raise InputError(f"empty {k}", path=path, line=int(n))
        f = Path(row["file"])
        f = f if f.is_absolute() else path.parent / f
        if not f.is_file():
            raise InputError(f"no such file {str(f)!r}", path=path, line=int(n),
                             hint="relative paths start at the sample sheet's folder")
        rows.append({**row, "file": f, "target": row.get("target", ""), "kind": _kind_at(f, path, n),
                     "line": int(n)})
    if not rows:
        raise InputError("sample sheet has a header but no samples", path=path)
    return pd.DataFrame(rows)


def _kind_at(f: Path, sheet: Path, n) -> str:
    try:
        return file_kind(f)
    except InputError as exc:
        raise InputError(str(exc), path=sheet, line=int(n)) from None
