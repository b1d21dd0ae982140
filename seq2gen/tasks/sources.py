"""Source types: the small set of functions that turn world files into candidate examples (one row per window and
tissue). A template names them (``source: {type: peaks, …}`` or a list, the later ones usually ``background``).

Candidates are cheap rows — ``chrom, start, end, strand, anchor, tissue, name`` plus the fields a family needs
(``label``, ``value``, ``spans``, ``var_pos/ref/alt``) — so a build can split and subsample *before* fetching DNA or
bigWig values. Windows are 0-based half-open genome intervals; ``strand`` is the orientation the DNA is shown in
(``-`` = reverse complement), and spans / ``var_pos`` are offsets in that shown orientation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.tasks import seqtable
from seq2gen.tasks.render import PROMPT_TISSUE
from seq2gen.tasks.rows import candidate_frame as _frame
from seq2gen.tasks.worlddata import WorldData, merge_intervals, overlaps
from seq2gen.vocab.grammar import condition_key


#: a choice grammar item that the data build replaces by the world's tissue tokens (``Task.resolve_choices``)
TISSUES_CHOICE = "{tissues}"


@dataclass(frozen=True)
class SourceType:
    fn: Callable
    params: dict
    provides: frozenset = frozenset()
    centres: tuple = ()
    families: tuple = ()
    needs_tissue: bool = False
    secondary: bool = False          # background: placed relative to the primary sources' rows
    label_params: tuple = ()
    enums: dict = field(default_factory=dict)
    check: Callable | None = None    # extra structure check ``check(task, params, where, key)`` (table sources)

    def with_defaults(self, given: dict, where, key) -> dict:
        out = {**self.params, **given}
        for k, allowed in self.enums.items():
            vals = out[k] if isinstance(out[k], list) else [out[k]]
            bad = [v for v in vals if v not in allowed]
            if bad:
                raise InputError(f"{key}.{k}: {bad[0]!r} is not one of {allowed}", path=where)
        return out

    def labels(self, params: dict) -> list[str]:
        out = []
        for k in self.label_params:
            v = params.get(k)
            out += list(v.values()) if isinstance(v, dict) else ([v] if v else [])
        return out

    def check_tokens(self, params, vocab, known, where, key) -> None:
        for t in self.labels(params):
            if t == PROMPT_TISSUE:
                continue
            try:
                vocab.check_token(t, known)
            except InputError as exc:
                raise InputError(f"{key}: {exc}", path=where) from None


def place(anchor: np.ndarray, strand: np.ndarray, window, rng: np.random.Generator):
    """Window starts/ends with the anchor at offset ``window.before`` of the *shown* orientation (± jitter)."""
    anchor = np.asarray(anchor, dtype=np.int64)
    if window.jitter:
        anchor = anchor + rng.integers(-window.jitter, window.jitter + 1, size=anchor.size)
    L, before = window.length, window.before
    start = np.where(np.asarray(strand) == "-", anchor - (L - before) + 1, anchor - before)
    return start, start + L, anchor


def _tissue_expand(df: pd.DataFrame, tissues: list[str]) -> pd.DataFrame:
    if not tissues:
        return df
    out = df.loc[df.index.repeat(len(tissues))].reset_index(drop=True)
    out["tissue"] = np.tile(np.asarray(tissues, dtype=object), len(df))
    return out


# ---------------------------------------------------------------------------------------------- primary sources
def tss_windows(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    g = world.genes
    s, e, a = place(g["tss"].to_numpy(), g["strand"].to_numpy(), task.window, rng)
    df = _frame(len(g), chrom=g["chrom"].to_numpy(object), start=s, end=e, strand=g["strand"].to_numpy(object),
                anchor=a, name=g["gene_id"].to_numpy(object), label=params["label"])
    return _tissue_expand(df, tissues)


def expression(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """Gene × tissue rows. Table IDs are matched to the GTF's exactly, then with version suffixes reconciled
    (``ENSG…`` vs ``ENSG….17``); fewer than ``min_matched`` of the table's rows matched is an error, and every
    count (reconciled, unmatched, genes without a row) goes into the build's stats."""
    from seq2gen.genome.geneids import match_gene_ids, require_match
    g = world.genes
    table = world.expression
    missing = [t for t in tissues if t not in table.columns]
    if missing:
        near = [c for c in table.columns if c.lower() == missing[0].lower()]
        raise InputError(f"expression table has no column for tissues {missing}; it has: "
                         f"{', '.join(map(str, table.columns[:12]))}", path=world.file("expression"),
                         hint=f"did you mean {near[0]!r}? column names are case-sensitive" if near
                         else "name the columns after the manifest's tissues")
    m = match_gene_ids(table.index, g["gene_id"])
    require_match(m, float(params["min_matched"]), world.file("expression"), g["gene_id"])
    table = table.loc[list(m.mapping)].set_axis(list(m.mapping.values()))
    has = g["gene_id"].isin(table.index).to_numpy()
    if stats is not None:
        for k, label in (("version reconciled", "expression rows matched after reconciling ID versions"),
                         ("ambiguous", "expression rows with an ambiguous unversioned ID dropped"),
                         ("unmatched", "expression rows naming no gene of the GTF dropped")):
            if m.counts[k]:
                stats[label] = m.counts[k]
        if (~has).sum():
            stats["genes without expression"] = int((~has).sum())
    g = g[has].reset_index(drop=True)
    s, e, a = place(g["tss"].to_numpy(), g["strand"].to_numpy(), task.window, rng)
    df = _frame(len(g), chrom=g["chrom"].to_numpy(object), start=s, end=e, strand=g["strand"].to_numpy(object),
                anchor=a, name=g["gene_id"].to_numpy(object))
    df = _tissue_expand(df, tissues)
    vals = table.loc[g["gene_id"], tissues].to_numpy(np.float64)           # (genes, tissues)
    df["value"] = vals.reshape(-1)
    return df


def _sites(world: WorldData) -> tuple[pd.DataFrame, pd.Series]:
    p = world.peaks
    key = p.groupby(["chrom", "start", "end"], sort=False).ngroup()
    sites = p.assign(site=key).drop_duplicates("site").sort_values("site").reset_index(drop=True)
    return sites, key


def _site_windows(world: WorldData, task, rng) -> tuple[pd.DataFrame, pd.Series]:
    """One window per distinct TF site (``+`` strand, on the peak centre ± the template's jitter) and, per
    peaks.bed row, the index of its site."""
    sites, key = _sites(world)
    centre = ((sites["start"] + sites["end"]) // 2).to_numpy()
    strand = np.full(len(sites), "+", dtype=object)
    s, e, a = place(centre, strand, task.window, rng)
    return _frame(len(sites), chrom=sites["chrom"].to_numpy(object), start=s, end=e, strand=strand, anchor=a,
                  name=sites["name"].astype(str).to_numpy(object)), key


def peaks(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    df, key = _site_windows(world, task, rng)
    p = world.peaks
    bound = np.zeros((len(df), len(tissues)), dtype=bool)
    col = {t: i for i, t in enumerate(tissues)}
    ti = p["tissue"].map(col)
    ok = ti.notna().to_numpy()
    bound[key.to_numpy()[ok], ti.to_numpy()[ok].astype(np.int64)] = True
    df = _tissue_expand(df, tissues)
    df["label"] = np.where(bound.reshape(-1), params["bound"], params["unbound"]).astype(object)
    return df


def peak_tissues(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """The tissue-agnostic view of ``peaks`` (DeepSEA-style "where is this site bound"): one row per (site, bound
    tissue) with that tissue's token as the label and no tissue in the prompt, so the first answer position learns
    P(tissue | site) from the DNA alone. The tissues are the world's; a tissue token missing from the grammar's
    choices (``{tissues}`` offers them all) is an error (a row the decoder could never answer)."""
    df, key = _site_windows(world, task, rng)
    p = world.peaks
    pairs = pd.DataFrame({"site": key.to_numpy(), "tissue": p["tissue"].astype(str).to_numpy()}).drop_duplicates()
    token = {t: f"<tissue:{condition_key(t)}>" for t in world.tissues}
    offered = set(task.answer_grammar["tokens"])
    if TISSUES_CHOICE in offered:
        offered |= set(token.values())
    missing = sorted({token.get(t, t) for t in pairs["tissue"]} - offered)
    if missing:
        raise InputError(f"source peak_tissues: peaks.bed has sites bound in {', '.join(missing)}, which "
                         "answer_grammar.tokens does not offer", path=task.path,
                         hint="list one <tissue:…> token per tissue of the world (and <no>) in answer_grammar.tokens")
    pairs = pairs.sort_values(["site", "tissue"], kind="stable")
    out = df.iloc[pairs["site"].to_numpy()].reset_index(drop=True)
    out["label"] = pairs["tissue"].map(token).to_numpy(object)
    return out


def bigwig_track(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """Windows centred on TF sites (unique peaks); values are read later (``fetch_values``) per tissue."""
    return _tissue_expand(_site_windows(world, task, rng)[0], tissues)


def gene_bodies(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """Windows tiled along each gene (± flank) in gene orientation; spans = its exons/introns clipped, in bp."""
    g = world.genes
    exons = world.transcript_exons
    L = task.window.length
    stride = task.window.stride or L
    flank = int(params["flank"])
    feats = params["features"]
    rows = {k: [] for k in ("chrom", "start", "end", "strand", "anchor", "name", "spans")}
    for chrom, gs, ge, strand, gid in zip(g["chrom"], g["start"], g["end"], g["strand"], g["gene_id"]):
        ex = exons.get(gid)
        if ex is None:
            continue
        lo, hi = gs - flank, ge + flank
        n = max(1, -(-(hi - lo - L) // stride) + 1)
        offs = np.arange(n, dtype=np.int64) * stride
        starts = lo + offs if strand == "+" else hi - offs - L
        parts = [(feats["exon"], ex)] if "exon" in feats else []
        if "intron" in feats and len(ex) > 1:
            parts.append((feats["intron"], np.stack([ex[:-1, 1], ex[1:, 0]], axis=1)))
        for ws in starts.tolist():
            we = ws + L
            spans = []
            for lab, iv in parts:
                a, b = np.maximum(iv[:, 0], ws), np.minimum(iv[:, 1], we)
                for x, y in zip(a[a < b].tolist(), b[a < b].tolist()):
                    spans.append((lab, x - ws, y - ws) if strand == "+" else (lab, we - y, we - x))
            spans.sort(key=lambda sp: (sp[1], sp[2], sp[0]))
            for k, v in (("chrom", chrom), ("start", ws), ("end", we), ("strand", strand),
                         ("anchor", ws + L // 2), ("name", gid), ("spans", spans)):
                rows[k].append(v)
    n = len(rows["chrom"])
    df = _frame(n, **{k: np.asarray(v, dtype=object if k in ("chrom", "strand", "name") else np.int64)
                      for k, v in rows.items() if k != "spans"})
    df["spans"] = pd.Series(rows["spans"], dtype=object)
    return _tissue_expand(df, tissues)


def vcf(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    v = world.variants
    for k, allowed in (params.get("filter") or {}).items():
        col = f"info_{k}"
        if col not in v.columns:
            raise InputError(f"source.filter: the VCF has no INFO key {k!r}", path=world.file("variants"))
        v = v[v[col].astype(str).isin([str(a) for a in (allowed if isinstance(allowed, list) else [allowed])])]
    tokens = set(params["alleles"])
    ok = (v["ref"].isin(tokens) & v["alt"].isin(tokens)).to_numpy()
    if stats is not None and (~ok).sum():
        stats["variants with alleles that have no token"] = int((~ok).sum())
    v = v[ok].reset_index(drop=True)
    strand = np.full(len(v), "+", dtype=object)
    s, e, _ = place(v["start"].to_numpy(), strand, task.window, rng)
    df = _frame(len(v), chrom=v["chrom"].to_numpy(object), start=s, end=e, strand=strand,
                anchor=v["start"].to_numpy(np.int64), name=v["id"].astype(str).to_numpy(object),
                var_pos=(v["start"].to_numpy(np.int64) - s), ref=v["ref"].to_numpy(object),
                alt=v["alt"].to_numpy(object))
    column = params["value_column"]
    if "{tissue}" in column:
        df = _tissue_expand(df, tissues)
        cols = [f"info_{column.format(tissue=t)}" for t in tissues]
    else:
        cols = [f"info_{column}"]
    absent = [c[5:] for c in cols if c not in v.columns]
    if absent:
        raise InputError(f"source.value_column: the VCF has no INFO key(s) {absent}", path=world.file("variants"))
    df["value"] = v[cols].to_numpy(np.float64).reshape(-1)
    return df


def genome_chunks(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    L = task.window.length
    stride = task.window.stride or L
    frames = []
    for chrom, n in world.contigs.items():
        s = np.arange(0, max(n - L, 0) + 1, stride, dtype=np.int64)
        keep = ~overlaps(s, s + L, *world.n_runs(chrom))
        s = s[keep]
        frames.append(_frame(len(s), chrom=np.full(len(s), chrom, dtype=object), start=s, end=s + L,
                             strand=np.full(len(s), "+", dtype=object), anchor=s + L // 2))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------- background
def background(world: WorldData, task, params, tissues, rng, primary=None, stats=None) -> pd.DataFrame:
    """Random windows (no N, away from ``exclude`` features by ``flank`` bp): ``ratio`` × the primary sources'
    distinct windows on each chromosome, or ``count`` spread over chromosomes by length."""
    L, flank = task.window.length, int(params["flank"])
    contigs = world.contigs
    if params.get("count"):
        lengths = np.array([max(n - L, 0) for n in contigs.values()], dtype=np.float64)
        want = dict(zip(contigs, rng.multinomial(int(params["count"]), lengths / lengths.sum())))
    else:
        per = primary.drop_duplicates(["chrom", "start", "end"])["chrom"].value_counts()
        want = {c: int(round(per.get(c, 0) * float(params["ratio"]))) for c in contigs}
    ex = {"tss": lambda: (world.genes["chrom"], world.genes["tss"], world.genes["tss"] + 1),
          "genes": lambda: (world.genes["chrom"], world.genes["start"], world.genes["end"]),
          "peaks": lambda: (world.peaks["chrom"], world.peaks["start"], world.peaks["end"]),
          "variants": lambda: (world.variants["chrom"], world.variants["start"], world.variants["end"])}
    blocks = [ex[k]() for k in params["exclude"]]
    frames, short = [], 0
    for chrom, n in want.items():
        if n <= 0:
            continue
        ms, me = [world.n_runs(chrom)[0]], [world.n_runs(chrom)[1]]
        for c, s, e in blocks:
            sel = (c == chrom).to_numpy()
            ms.append(s.to_numpy()[sel] - flank)
            me.append(e.to_numpy()[sel] + flank)
        ms, me = merge_intervals(np.concatenate(ms), np.concatenate(me))
        got = np.zeros(0, dtype=np.int64)
        for _ in range(8):
            cand = rng.integers(0, max(contigs[chrom] - L, 0) + 1, size=4 * n + 16)
            cand = cand[~overlaps(cand, cand + L, ms, me)]
            both = np.r_[got, cand]
            got = both[np.sort(np.unique(both, return_index=True)[1])][:n]   # distinct, in draw order (no bias)
            if got.size >= n:
                break
        short += n - got.size
        got = rng.permutation(got)
        strand = (rng.choice(np.array(["+", "-"], dtype=object), size=got.size) if params["strand"] == "random"
                  else np.full(got.size, "+", dtype=object))
        frames.append(_frame(got.size, chrom=np.full(got.size, chrom, dtype=object), start=got, end=got + L,
                             strand=strand, anchor=got + L // 2, label=params.get("label")))
    if short and stats is not None:
        stats["background windows not placed (genome too crowded)"] = int(short)
    df = pd.concat(frames, ignore_index=True) if frames else _frame(0, chrom=[], start=[], end=[], strand=[],
                                                                   anchor=[])
    return _tissue_expand(df, tissues)


ALLELES = ["A", "C", "G", "T"]
SOURCES: dict[str, SourceType] = {
    "tss_windows": SourceType(tss_windows, {"label": "<yes>"}, frozenset({"{label}"}), ("tss",),
                              ("classification",), label_params=("label",)),
    "expression": SourceType(expression, {"min_matched": 0.9}, frozenset({"{value}"}), ("tss",), ("regression",),
                             needs_tissue=True),
    "peaks": SourceType(peaks, {"bound": "<yes>", "unbound": "<no>"}, frozenset({"{label}"}), ("interval_centre",),
                        ("classification",), needs_tissue=True, label_params=("bound", "unbound")),
    "peak_tissues": SourceType(peak_tissues, {}, frozenset({"{label}"}), ("interval_centre",), ("classification",)),
    "bigwig_track": SourceType(bigwig_track, {"n_bins": 8, "nan": "zero"}, frozenset({"{values}"}),
                               ("interval_centre",), ("track",), needs_tissue=True,
                               enums={"nan": ["zero", "nan"]}),
    "gene_bodies": SourceType(gene_bodies, {"flank": 0, "features": {"exon": "<exon>", "intron": "<intron>"}},
                              frozenset({"{spans}"}), ("tiled",), ("annotation",), label_params=("features",)),
    "vcf": SourceType(vcf, {"value_column": "EFFECT_{tissue}", "filter": {}, "alleles": ALLELES},
                      frozenset({"{value}", "{offset}", "{ref}", "{alt}"}), ("variant",), ("variant",)),
    "genome_chunks": SourceType(genome_chunks, {}, frozenset({"{targets}"}), ("tiled",), ("pretrain",)),
    "background": SourceType(background, {"ratio": 1.0, "count": None, "label": None, "strand": "random",
                                          "exclude": ["genes"], "flank": 400}, frozenset(), (), (),
                             secondary=True, label_params=("label",),
                             enums={"strand": ["random", "+"], "exclude": ["tss", "genes", "peaks", "variants"]}),
    # labelled sequences read from files, not from a world (seq2gen/tasks/seqtable.py, docs/gue.md)
    "sequence_table": SourceType(seqtable.sequence_table, seqtable.PARAMS,
                                 frozenset({"{label}", "{value}", "{tissue}", "{species}"}), ("sequence",),
                                 ("classification", "regression", "pretrain"), label_params=("labels",),
                                 enums={"kind": ["class", "value"], "val_from": ["train", "test"]},
                                 check=seqtable.check_task),
}


WHOLE_CHROM_MAX = 64_000_000     # read a bigWig chromosome at once (≤ 256 MB float32) when it beats per-window reads


def fetch_values(world: WorldData, task, df: pd.DataFrame) -> list[list[float]]:
    """``track_matrix`` as lists (one per row)."""
    return track_matrix(world, task, df).tolist()


def track_matrix(world: WorldData, task, df: pd.DataFrame) -> np.ndarray:
    """Binned bigWig means per row (its tissue's track), in the shown orientation (reversed for ``-``): a
    ``(rows, n_bins)`` float64 array of float32-rounded values.

    Same numbers as ``BigWig.binned_mean``; rows are grouped by (tissue, chromosome) and, where many windows share
    a chromosome, the chromosome is read once (pyBigWig's per-call cost is ~250 µs, a whole 10 Mb read ~70 ms).
    """
    spec = next(s for s in task.sources if s.type == "bigwig_track").params
    n_bins, policy = int(spec["n_bins"]), spec["nan"]
    L = task.window.length
    out = np.zeros((len(df), n_bins), dtype=np.float64)
    keys = df["tissue"].astype(str) + "\t" + df["chrom"].astype(str)
    for key, idx in pd.Series(np.arange(len(df))).groupby(keys.to_numpy()).groups.items():
        tissue, chrom = key.split("\t")
        bw = world.bigwig(tissue)
        rows = df.iloc[np.asarray(idx)]
        if chrom not in bw.chroms:       # WorldData.bigwig checked the world's splits; a template's own may differ
            raise InputError(f"{chrom} (in a split of task {task.name}) is not in this bigWig", path=bw.path,
                             hint="write every chromosome the task's splits use into each track")
        clen = bw.chroms[chrom]
        if clen and clen <= WHOLE_CHROM_MAX and len(rows) * 250e-6 > clen * 7e-9:
            track = bw.values(chrom, 0, clen)
            pos = rows["start"].to_numpy(np.int64)[:, None] + np.arange(L)[None, :]
            inside = (pos >= 0) & (pos < clen)
            win = np.where(inside, track[np.clip(pos, 0, clen - 1)], np.nan).reshape(len(rows), n_bins, -1)
            has = ~np.isnan(win)
            sums = np.where(has, win, 0.0).astype(np.float64).sum(axis=2)
            if policy == "zero":
                vals = sums / win.shape[2]
            else:
                cnt = has.sum(axis=2)
                vals = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)
        else:
            vals = np.stack([bw.binned_mean(chrom, int(s), int(e), n_bins, nan=policy, missing_chrom="zero")
                             for s, e in zip(rows["start"], rows["end"])]).astype(np.float64)
        out[np.asarray(idx)] = np.nan_to_num(vals.astype(np.float32).astype(np.float64))
    minus = (df["strand"] == "-").to_numpy()
    out[minus] = out[minus, ::-1]
    return out
