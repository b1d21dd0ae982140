"""``sequence_table`` source: labelled sequences read from files (CSV/TSV, ``.gz`` fine, or FASTA + labels) instead of
a world — the GUE benchmark subsets (``task_templates/gue/``) and any user table.

A template names the files by split role and how to split what is missing::

    source:
      type: sequence_table
      files: {train: gue/tf_0/train.csv.gz, test: gue/tf_0/dev.csv.gz}   # or {all: FILE}, or train+validation+test
      labels: {0: "<no>", 1: "<yes>"}        # class label (as written in the file) → answer token
    window: {length: 101, centre: sequence}   # length = every sequence's length (fixed_length: false → at most)

Split rule (the rows of ``seq2gen.baselines.gue.load_gue``, so the T5 and the CNN baseline score the same test rows):
``train`` + ``test`` files → ``val_fraction`` of ``val_from`` (``train``, default, or ``test``) becomes validation;
only ``all`` → ``fractions`` (70/10/20); all three → as given. Splits are stratified by label and seeded by the
source's own ``seed`` (default 0, independent of the build seed: model seeds never move rows between splits). Then
(``dedup: true``) test rows whose sequence (case-insensitive) also occurs in train or validation are dropped, and
validation rows also in train; counts go to the build stats.

Paths are relative to the data root: ``data_root=`` argument (``seq2gen data build --data-root``), else
``$SEQ2GEN_REAL_DATA`` (the ``real`` folder; its ``gue`` subfolder is accepted too), else
``<repo>/../shared/data/real``. Files are read in place, never copied. Rows carry ``chrom=""``, ``start=0``,
``end=len(sequence)``, ``strand="+"`` and ``name`` = the FASTA record / ``name_col`` / ``FILE:LINE``.

``exclude_from_train: [PATH, …]``: train and validation rows whose sequence equals, lies inside or contains a
sequence of these tables are dropped (test rows are never touched). The human GUE templates list the other human
tasks' ``dev.csv.gz`` files: GUE's human sets share sequences (70 bp core promoters lie inside 300 bp promoter
windows, TF sites and splice windows overlap promoters), so without it a joint model would train on other tasks'
test sequences (docs/gue.md has the counts).

``centre_crop: N``: the model sees only the central N bases of every row (``window.length: N`` too). For tables
whose signal sits at a fixed position — GUE's splice sites are at base 200 of 400 — translation-invariant models
(a CNN with global pooling, a T5 whose attention knows only relative positions) cannot tell the central AG/GT from
the dozens of others in the window; cropping is applied before splitting and dedup (docs/gue.md, "Splice").

Several ``sequence_table`` sources in one task are each read and split by their own rule, then concatenated — e.g.
``gue_span_corruption``: T5 span corruption on the union of every GUE task's *train* split (labels are read only
so that each file splits exactly as its classification task does; validation/test DNA is never pre-trained on).
Prompt conditions: ``{tissue}`` ← ``tissue_col``; ``{species}`` ← ``species_col`` or a constant ``species``.
"""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.resources import real_data_default
from seq2gen.tasks.overlap import dedup, seen_mask

ENV = "SEQ2GEN_REAL_DATA"
DEFAULT_ROOT = real_data_default()
ROLES = ("train", "validation", "test", "all")
PARAMS = {"files": None, "seq_col": "sequence", "label_col": "label", "kind": "class", "labels": None, "sep": None,
          "tissue_col": None, "species_col": None, "species": None, "name_col": None, "rename": {},
          "fixed_length": True,
          "val_from": "train", "val_fraction": 0.1, "fractions": [0.7, 0.1, 0.2], "seed": 0, "stratify": True,
          "dedup": True, "exclude_from_train": [], "centre_crop": None}
_ALLOWED_PLACEHOLDERS = ("{tissue}", "{species}", "{dna}")
_TO_N = str.maketrans({c: "N" for c in "RYSWKMBDHV"} | {"U": "T"})


def _fail(where, key: str, msg: str, hint: str | None = None):
    raise InputError(f"{key}: {msg}", path=where, hint=hint)


# ---------------------------------------------------------------------------------------------------- paths
def data_root(root: str | os.PathLike | None = None) -> Path:
    """Folder that relative table paths start from (see the module docstring for the lookup order)."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV)
    if env:
        p = Path(env)
        return p.parent if p.name == "gue" and not (p / "gue").is_dir() else p
    return DEFAULT_ROOT


def resolve(path: str | os.PathLike, root: str | os.PathLike | None = None, where=None) -> Path:
    p = Path(path)
    if not p.is_absolute():
        p = data_root(root) / p
    if not p.is_file():
        raise InputError("table file not found", path=p, hint=f"relative paths start at the data root "
                         f"({data_root(root)}): set ${ENV} or pass data_root= / --data-root"
                         + (f" (named in {where})" if where else ""))
    return p


def _entry(e) -> tuple[str, str | None]:
    """A ``files`` entry: ``PATH`` or ``{path: PATH, labels: LABELS_TABLE}`` (FASTA with a separate label table)."""
    return (e, None) if isinstance(e, str) else (e["path"], e.get("labels"))


def table_files(task, root=None) -> list[Path]:
    """Every file a table task reads (for the data build's config hash)."""
    return [f for p in all_params(task) for f in _source_files(task, p, root)]


# ---------------------------------------------------------------------------------------------------- structure
def is_table_task(task) -> bool:
    return any(s.type == "sequence_table" for s in task.sources)


def params_of(task) -> dict:
    """The (first) ``sequence_table`` source's parameters."""
    return next(s.params for s in task.sources if s.type == "sequence_table")


def all_params(task) -> list[dict]:
    return [s.params for s in task.sources if s.type == "sequence_table"]


def check_task(task, params: dict, where, key: str) -> None:
    """Template checks beyond the generic ones (called by ``schema.check_structure``)."""
    if any(s.type != "sequence_table" for s in task.sources):
        _fail(where, "source", "every source of a table task is a sequence_table (negatives are rows of a table)")
    files = params["files"]
    if isinstance(files, str):
        files = params["files"] = {"all": files}
    if not isinstance(files, dict) or not files:
        _fail(where, f"{key}.files", "must be a path or a mapping {train: PATH, test: PATH} (roles: "
              f"{', '.join(ROLES)})")
    bad = [r for r in files if r not in ROLES]
    if bad:
        _fail(where, f"{key}.files.{bad[0]}", "unknown split role", f"roles: {', '.join(ROLES)}")
    if set(files) not in ({"all"}, {"train", "test"}, {"train", "validation", "test"}):
        _fail(where, f"{key}.files", f"roles {sorted(files)}: give all, train + test, or train + validation + test")
    for r, e in files.items():
        ok = isinstance(e, str) or (isinstance(e, dict) and isinstance(e.get("path"), str)
                                    and set(e) <= {"path", "labels"})
        if not ok:
            _fail(where, f"{key}.files.{r}", "must be a path or {path: PATH, labels: LABELS_TABLE}")
    want = {"class": "classification", "value": "regression"}[params["kind"]]
    if task.family != want and task.family != "pretrain":
        _fail(where, f"{key}.kind", f"kind {params['kind']!r} feeds {want} tasks, not {task.family}")
    labels = params["labels"]
    if task.family == "pretrain":        # labels are read (splits stratify on them) but never shown
        pass
    elif params["kind"] == "class":
        if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) for v in labels.values()):
            _fail(where, f"{key}.labels", "a class table maps each label to an answer token, e.g. "
                  "{0: '<no>', 1: '<yes>'}")
        keys = [str(k) for k in labels]
        if len(set(keys)) != len(keys):
            _fail(where, f"{key}.labels", "two keys read the same as text")
    elif labels is not None:
        _fail(where, f"{key}.labels", "a value table has numeric targets; remove the label mapping")
    for i, item in enumerate(task.prompt):
        if item.startswith("{") and item not in _ALLOWED_PLACEHOLDERS:
            _fail(where, f"prompt[{i}]", f"{item} has no meaning for a sequence table",
                  f"table prompts may use {' '.join(_ALLOWED_PLACEHOLDERS)}")
    if params["species_col"] and params["species"]:
        _fail(where, f"{key}.species", "give species (one for every row) or species_col (per row), not both")
    for ph, col in (("{tissue}", "tissue_col"), ("{species}", "species_col")):
        given = bool(params[col]) or (col == "species_col" and bool(params["species"]))
        if (ph in task.prompt) != given:
            _fail(where, f"{key}.{col}", f"{ph} in the prompt and {col} go together (the column names each row's "
                  f"{ph[1:-1]}); for one fixed {ph[1:-1]} write its token, e.g. <species:human>, in the prompt"
                  + (" or set source.species" if ph == "{species}" else ""))
    if task.window.jitter or task.window.upstream is not None or task.window.stride is not None:
        _fail(where, "window", "a table window is {length: L, centre: sequence} (no jitter/upstream/stride)")
    if task.split != "world":
        _fail(where, "split", "table tasks are split by their source (files, val_from, val_fraction, fractions)")
    f = params["val_fraction"]
    if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
        _fail(where, f"{key}.val_fraction", f"must be in (0, 1), got {f!r}")
    fr = params["fractions"]
    if (not isinstance(fr, list) or len(fr) != 3 or any(isinstance(x, bool) or not isinstance(x, (int, float))
                                                        or x <= 0 for x in fr) or abs(sum(fr) - 1) > 1e-6):
        _fail(where, f"{key}.fractions", f"train/validation/test fractions > 0 summing to 1, got {fr!r}")
    if isinstance(params["seed"], bool) or not isinstance(params["seed"], int):
        _fail(where, f"{key}.seed", f"must be an integer, got {params['seed']!r}")
    ex = params["exclude_from_train"]
    if not isinstance(ex, list) or not all(isinstance(x, str) for x in ex):
        _fail(where, f"{key}.exclude_from_train", "must be a list of table paths (train and validation rows that "
              "equal, lie inside or contain one of their sequences are dropped)")
    if not isinstance(params["rename"], dict):
        _fail(where, f"{key}.rename", "must be a mapping {name in the file: vocabulary name}")
    crop = params["centre_crop"]
    if crop is not None and (isinstance(crop, bool) or not isinstance(crop, int) or crop < 1):
        _fail(where, f"{key}.centre_crop", f"must be a positive number of bases, got {crop!r}")
    if crop is not None and crop != task.window.length:
        _fail(where, f"{key}.centre_crop", f"the model sees the cropped rows: set window.length to {crop} too "
              f"(it is {task.window.length})")


# ---------------------------------------------------------------------------------------------------- reading
#: parsed tables by (file identity, reading parameters): the GUE build reads each file for its classification task
#: and again for gue_span_corruption, and evaluate_table re-reads the training splits — parse once per process.
_READ_CACHE: OrderedDict = OrderedDict()
READ_CACHE_SIZE = 32


def _stamp(path) -> tuple:
    """File identity for the cache: path + content hash (mtimes can tie for quick rewrites; hashing the 7.5 MB of
    gzip'd GUE files takes ~25 ms, parsing them ~3 s)."""
    return str(Path(path).resolve()), hashlib.blake2b(Path(path).read_bytes(), digest_size=16).hexdigest()


def read_table(path, params: dict, labels=None) -> pd.DataFrame:
    """One file → ``sequence, label, [tissue_col, species_col, name_col], line, name?, file`` (strict reader)."""
    from seq2gen.genome.tables import read_sequence_table
    extra = list(dict.fromkeys(c for c in (params["tissue_col"], params["species_col"], params["name_col"]) if c))
    key = (_stamp(path), None if labels is None else _stamp(labels), params["seq_col"], params["label_col"],
           params["kind"], tuple(extra), params["sep"])
    df = _READ_CACHE.get(key)
    if df is None:
        df = read_sequence_table(path, seq_col=params["seq_col"], label_col=params["label_col"],
                                 kind=params["kind"], extra_cols=extra, sep=params["sep"], labels=labels)
        df["file"] = str(path)
        _READ_CACHE[key] = df
        while len(_READ_CACHE) > READ_CACHE_SIZE:
            _READ_CACHE.popitem(last=False)
    else:
        _READ_CACHE.move_to_end(key)
    return df.copy()


def table_splits(task, root=None, stats: dict | None = None) -> dict[str, pd.DataFrame]:
    """``{train, validation, test}`` → raw rows of a table task, by the split rule of the module docstring; a task
    with several sources splits each by its own rule and concatenates them (``source`` column = source index)."""
    parts = [_source_splits(task, p, root, stats) for p in all_params(task)]
    if len(parts) == 1:
        return parts[0]
    return {k: pd.concat([sp[k].assign(source=i) for i, sp in enumerate(parts)], ignore_index=True)
            for k in ("train", "validation", "test")}


_SPLIT_CACHE: OrderedDict = OrderedDict()
#: the parameters a source's splits depend on (not: labels mapping, species, lengths, rename)
_SPLIT_KEYS = ("files", "seq_col", "label_col", "kind", "sep", "tissue_col", "species_col", "name_col", "val_from",
               "val_fraction", "fractions", "seed", "stratify", "dedup", "exclude_from_train", "centre_crop")


def _source_splits(task, p: dict, root, stats: dict | None) -> dict[str, pd.DataFrame]:
    """One source's splits, memoised on its parameters + file contents (gue_span_corruption re-splits every GUE
    task's files exactly as the classification tasks do; evaluate_table re-derives the training splits)."""
    import json
    rule = {k: p[k] for k in _SPLIT_KEYS}
    key = (json.dumps(rule, sort_keys=True, default=str), tuple(_stamp(f) for f in _source_files(task, p, root)))
    hit = _SPLIT_CACHE.get(key)
    if hit is None:
        st: dict = {}
        hit = _SPLIT_CACHE[key] = (_compute_splits(task, p, root, st), st)
        while len(_SPLIT_CACHE) > READ_CACHE_SIZE:
            _SPLIT_CACHE.popitem(last=False)
    _count(stats, *hit[1].items())
    return {k: v.copy() for k, v in hit[0].items()}


def _source_files(task, p: dict, root) -> list[Path]:
    out = []
    for e in p["files"].values():
        path, labels = _entry(e)
        out += [resolve(path, root, task.path)] + ([resolve(labels, root, task.path)] if labels else [])
    return out + [resolve(x, root, task.path) for x in p["exclude_from_train"]]


def _compute_splits(task, p: dict, root, stats: dict) -> dict[str, pd.DataFrame]:
    from seq2gen.genome.tables import split_table
    frames = {}
    for role, e in p["files"].items():
        path, labels = _entry(e)
        frames[role] = read_table(resolve(path, root, task.path), p,
                                  None if labels is None else resolve(labels, root, task.path))
        if p["centre_crop"]:
            frames[role] = _centre_crop(frames[role], int(p["centre_crop"]))
    seed, strat, f = int(p["seed"]), bool(p["stratify"]), float(p["val_fraction"])
    if "all" in frames:
        train, val, test = split_table(frames["all"], tuple(p["fractions"]), seed=seed, stratify=strat)
    elif "validation" in frames:
        train, val, test = frames["train"], frames["validation"], frames["test"]
    elif p["val_from"] == "train":
        train, val = split_table(frames["train"], (1 - f, f), seed=seed, stratify=strat)
        test = frames["test"]
    else:
        train = frames["train"]
        val, test = split_table(frames["test"], (f, 1 - f), seed=seed, stratify=strat)
    if p["dedup"]:
        test, n_test = dedup(test, [train, val])
        val, n_val = dedup(val, [train])
        _count(stats, ("test rows also in train/validation dropped", n_test),
               ("validation rows also in train dropped", n_val))
    if p["exclude_from_train"]:       # other tasks' test files: a joint model must not train on their sequences
        refs = [read_table(resolve(x, root, task.path), p) for x in p["exclude_from_train"]]
        hit = seen_mask(pd.concat([train, val], ignore_index=True), refs)      # one k-mer index for both
        h_train, h_val = hit[:len(train)], hit[len(train):]
        n_train, n_val = int(h_train.sum()), int(h_val.sum())
        train, val = train.loc[~h_train].reset_index(drop=True), val.loc[~h_val].reset_index(drop=True)
        _count(stats, ("train rows overlapping exclude_from_train dropped", n_train),
               ("validation rows overlapping exclude_from_train dropped", n_val))
    return {"train": train, "validation": val, "test": test}


def _centre_crop(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """The central ``n`` bases of every row (``(len - n) // 2`` cut before): before splitting and dedup, so test
    rows whose *cropped* sequence a train row shares are dropped too. Rows shorter than ``n`` → located error."""
    lens = df["sequence"].str.len().to_numpy()
    short = lens < n
    if short.any():
        path, line = _first_bad_row(df, short)
        raise InputError(f"sequence of {int(lens[short][0])} bp is shorter than source.centre_crop ({n})",
                         path=path, line=line)
    lo = (lens - n) // 2
    df = df.copy()
    df["sequence"] = [x[a:a + n] for x, a in zip(df["sequence"].tolist(), lo.tolist())]
    return df


def _count(stats: dict | None, *items) -> None:
    if stats is not None:
        for k, n in items:
            if n:
                stats[k] = stats.get(k, 0) + n


def _first_bad_row(df: pd.DataFrame, mask) -> tuple[str, int]:
    i = int(np.flatnonzero(np.asarray(mask))[0])
    return df["file"].iloc[i], int(df["line"].iloc[i])


def _conditions(df: pd.DataFrame, col: str, kind: str, params: dict, vocab) -> np.ndarray:
    """Column values → vocabulary names (after ``rename``), each distinct value checked once (file:line on error)."""
    raw = df[col].astype(str).str.strip()
    raw = raw.map(lambda v: params["rename"].get(v, v))
    if vocab is None:
        return raw.to_numpy(object)
    canon = {}
    for v in raw.unique():
        try:
            canon[v] = vocab.condition_token(kind, v)[len(kind) + 2:-1]
        except InputError as exc:
            path, line = _first_bad_row(df, (raw == v).to_numpy())
            raise InputError(f"{col}: {exc}", path=path, line=line,
                             hint=f"map it to a declared {kind} with source.rename or declare it in vocab/") from None
    return raw.map(canon).to_numpy(object)


def to_rows(task, df: pd.DataFrame, vocab=None, params: dict | None = None) -> pd.DataFrame:
    """Raw table rows → candidate rows (``seq2gen.tasks.rows.COLUMNS`` + ``dna``, ``species``, ``line``,
    ``file``); checks lengths, maps labels to answer tokens and condition columns to vocabulary names.
    ``params``: the source parameters (default: the task's own ``sequence_table`` source)."""
    from seq2gen.tasks.rows import candidate_frame as _frame
    p = params_of(task) if params is None else {**PARAMS, **params}
    L = task.window.length
    n = len(df)
    lens = df["sequence"].str.len().to_numpy()
    bad = lens != L if p["fixed_length"] else lens > L
    if bad.any():
        path, line = _first_bad_row(df, bad)
        raise InputError(f"sequence of {int(lens[bad][0])} bp; task {task.name} expects "
                         f"{'' if p['fixed_length'] else 'at most '}{L} bp (window.length)", path=path, line=line,
                         hint="fix the row, or set window.length / source.fixed_length: false in the template")
    if "name" in df.columns and not p["name_col"]:
        names = df["name"].astype(str).to_numpy(object)
    elif p["name_col"]:
        names = df[p["name_col"]].astype(str).to_numpy(object)
    else:
        short = {f: Path(f).name for f in df["file"].unique()}
        names = (df["file"].map(short) + ":" + df["line"].astype(str)).to_numpy(object)
    dna = df["sequence"].to_numpy(object)
    odd = np.flatnonzero(df["sequence"].str.contains("[^ACGTN]", regex=True).to_numpy(bool))
    if odd.size:                       # lowercase / IUPAC / U: written as the tokenizer will read them
        dna = dna.copy()
        dna[odd] = [x.upper().translate(_TO_N) for x in dna[odd]]
    out = _frame(n, chrom=np.full(n, "", dtype=object), start=np.zeros(n, dtype=np.int64),
                 end=lens.astype(np.int64), strand=np.full(n, "+", dtype=object), anchor=lens.astype(np.int64) // 2,
                 name=names)
    if task.family == "pretrain":
        pass
    elif task.family == "classification":
        mapping = {str(k): v for k, v in (p["labels"] or {}).items()}
        raw = pd.Series(df["label"].astype(str).to_numpy(object))
        tokens = raw.map(mapping)
        unknown = tokens.isna().to_numpy()
        if unknown.any():
            path, line = _first_bad_row(df, unknown)
            raise InputError(f"label {raw[unknown].iloc[0]!r} has no answer token in task {task.name}", path=path,
                             line=line, hint=f"source.labels maps {sorted(mapping)}; add this label there")
        out["label"] = tokens.to_numpy(object)
    else:
        out["value"] = df["label"].to_numpy(np.float64)
    if p["tissue_col"]:
        out["tissue"] = _conditions(df, p["tissue_col"], "tissue", p, vocab)
    if p["species_col"]:
        out["species"] = _conditions(df, p["species_col"], "species", p, vocab)
    else:
        out["species"] = p["species"] or ""
        if p["species"] and vocab is not None:
            try:
                out["species"] = vocab.condition_token("species", p["species"])[9:-1]
            except InputError as exc:
                raise InputError(f"source.species: {exc}", path=task.path) from None
    out["dna"] = dna
    out["line"] = df["line"].to_numpy(np.int64)
    out["file"] = df["file"].to_numpy(object)
    out["source"] = "sequence_table"
    return out


def table_candidates(task, root=None, stats: dict | None = None, vocab=None) -> pd.DataFrame:
    """All rows of a table task with ``split`` and ``dna`` set (what ``seq2gen.data.build.candidates`` needs)."""
    parts = [to_rows(task, df, vocab, p).assign(split=name) for p in all_params(task)
             for name, df in _source_splits(task, p, root, stats).items()]
    df = pd.concat(parts, ignore_index=True)
    if task.tissue_conditioned:
        keep = task.resolve_tissues(sorted(df["tissue"].unique()))
        dropped = ~df["tissue"].isin(keep).to_numpy()
        if dropped.any() and stats is not None:
            stats["rows of excluded tissues dropped"] = int(dropped.sum())
        df = df[~dropped].reset_index(drop=True)
    return df


def sequence_table(world, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """``SOURCES`` entry; the data build calls ``table_candidates`` directly (tables need no world)."""
    return table_candidates(task, stats=stats).drop(columns=["split"])
