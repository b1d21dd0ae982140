"""Gene annotation: GTF/GFF3 attribute parsing and the tables derived from it (genes, exons, introns, TSS, …).

Why one module: GTF (``gene_id "X";``) and GFF3 (``ID=…;Parent=…``) describe the same gene → transcript → exon tree
in two syntaxes. Both become the same columns here — ``gene_id, transcript_id, gene_name, gene_type`` (GFF3's
hierarchy resolved through ``Parent``; ``gene_biotype``/``biotype`` folded into ``gene_type``) — so the derived
helpers never care which format a user supplied. All helpers take the frame ``read_gtf`` returns.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.genome.io import extract, first_bad

ATTRIBUTE_COLUMNS = ["gene_id", "transcript_id", "gene_name", "gene_type"]
TRANSCRIPT_FEATURES = {"transcript", "mRNA", "ncRNA", "lnc_RNA", "lncRNA", "miRNA", "snRNA", "snoRNA", "rRNA",
                       "tRNA", "primary_transcript", "pseudogenic_transcript", "unconfirmed_transcript"}


def detect_format(path: Path, text: str, lines: list[str]) -> str:
    """``"gff3"`` or ``"gtf"``: the ``##gff-version 3`` directive, then the file name, then the attribute syntax."""
    if text.lstrip().startswith("##gff-version 3"):
        return "gff3"
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".gff3"):
        return "gff3"
    if name.endswith(".gtf") or len(lines) == 0:
        return "gtf"
    attrs = lines[0].split("\t")[-1].strip()
    return "gtf" if re.match(r'[\w.-]+\s+"', attrs) or "=" not in attrs else "gff3"


def _gtf_attr(col: pd.Series, key: str) -> pd.Series:
    """Value of ``key "value";`` (quotes optional, as some GTFs write numbers bare)."""
    return extract(col, rf'(?:^|;)\s*{key}\s+"?([^";]*)')


def _gff3_attr(col: pd.Series, key: str) -> pd.Series:
    """Value of ``key=value`` with GFF3 percent-escapes (``%3B`` …) decoded."""
    v = extract(col, rf"(?:^|;)\s*{key}=([^;]*)")
    has_pct = v.str.contains("%", regex=False).fillna(False)
    if has_pct.any():
        v = v.where(~has_pct, v[has_pct].map(unquote))
    return v


def parse_attributes(col: pd.Series, feature: pd.Series, fmt: str, path, lineno: np.ndarray) -> pd.DataFrame:
    """``gene_id, transcript_id, gene_name, gene_type, attributes`` for each row (raw text kept in ``attributes``)."""
    col = col.reset_index(drop=True)
    if fmt == "gtf":
        out = pd.DataFrame({k: _gtf_attr(col, k) for k in ("gene_id", "transcript_id", "gene_name")})
        out["gene_type"] = _gtf_attr(col, "gene_type").fillna(_gtf_attr(col, "gene_biotype"))
        i = first_bad(out["gene_id"].isna())
        if i is not None:
            looks_gff3 = "=" in col.iat[i] and '"' not in col.iat[i]
            raise InputError("GTF record has no gene_id attribute", path=path, line=int(lineno[i]),
                             hint="this looks like GFF3: name the file .gff3" if looks_gff3
                             else 'every GTF line needs gene_id "…";')
        for k in ("gene_name", "gene_type"):  # gene-level attributes often sit only on the gene line
            if out[k].isna().any() and out[k].notna().any():
                out[k] = out[k].fillna(out.groupby("gene_id")[k].transform("first"))
    else:
        out = _resolve_gff3(col, feature.reset_index(drop=True), path, lineno)
    out["attributes"] = col
    return out


def _resolve_gff3(col: pd.Series, feature: pd.Series, path, lineno: np.ndarray) -> pd.DataFrame:
    """Walk each row's ``Parent`` chain to its root (the gene) and the root's child (the transcript).

    A root counts as a gene if it has children or its type mentions "gene"; childless roots such as ``region`` or
    ``chromosome`` lines get no gene_id, so ``genes()`` does not list them.
    """
    a = {k: _gff3_attr(col, k) for k in ("ID", "Parent", "Name", "gene_id", "transcript_id", "gene_name",
                                         "gene_type", "gene_biotype", "biotype")}
    ids, parents = a["ID"], a["Parent"]
    first_parent = parents.str.split(",").str[0]
    known = ids.dropna()

    def by_id(values: pd.Series) -> pd.Series:
        """ID → value of the first row carrying that ID (discontinuous features such as CDS share one ID)."""
        s = pd.Series(values[known.index].to_numpy(), index=known.to_numpy())
        return s[~s.index.duplicated()]

    parent_of = by_id(first_parent)
    i = first_bad(first_parent.notna() & ~first_parent.isin(parent_of.index))
    if i is not None:
        raise InputError(f"Parent {first_parent.iat[i]!r} is not the ID of any feature", path=path,
                         line=int(lineno[i]), hint="GFF3 parents must be defined with ID=… in the same file")
    child, root = ids.where(first_parent.notna()), first_parent.fillna(ids)  # a root has no transcript
    for _ in range(32):
        up = root.map(parent_of)
        step = up.notna()
        if not step.any():
            break
        child, root = child.where(~step, root), root.where(~step, up)
    else:
        raise InputError("Parent chain is cyclic or deeper than 32 levels", path=path)
    gene_like = set(root[first_parent.notna()]) | set(ids[feature.str.contains("gene", case=False)].dropna())
    gene_id = root.map(by_id(a["gene_id"].fillna(ids))).where(root.isin(gene_like))
    gene_name = root.map(by_id(a["gene_name"].fillna(a["Name"])))
    gene_type = root.map(by_id(a["gene_type"].fillna(a["gene_biotype"]).fillna(a["biotype"])))
    tx_of = by_id(a["transcript_id"].fillna(ids))
    transcript_id = child.map(tx_of)
    # an exon listed under several transcripts (Parent=t1,t2): keep all, read_gtf explodes them into rows
    multi = parents.str.contains(",", regex=False).fillna(False) & (child != ids)
    if multi.any():
        transcript_id.loc[multi] = parents[multi].str.split(",").map(
            lambda ps: ",".join(tx_of.get(p, p) for p in ps))
    return pd.DataFrame({"gene_id": gene_id, "transcript_id": transcript_id, "gene_name": gene_name,
                         "gene_type": gene_type})


def explode_transcripts(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (feature, transcript) where a GFF3 feature had several parents (``transcript_id`` "t1,t2")."""
    multi = df["transcript_id"].str.contains(",", regex=False).fillna(False)
    if not multi.any():
        return df
    out = df.assign(transcript_id=df["transcript_id"].where(~multi, df["transcript_id"].str.split(",")))
    return out.explode("transcript_id", ignore_index=True)


def _path(gtf: pd.DataFrame):
    return gtf.attrs.get("path")


def _in_file_order(df: pd.DataFrame, gtf: pd.DataFrame) -> pd.DataFrame:
    """Sort by chromosome (in the order the annotation lists them) then start."""
    order = {c: i for i, c in enumerate(pd.unique(gtf["chrom"]))}
    key = df["chrom"].map(order)
    out = df.assign(_k=key).sort_values(["_k", "start", "end"], kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


def _span(rows: pd.DataFrame, by: str, gtf: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """One interval per ``by`` covering all its rows; a gene/transcript on two chromosomes or strands is an error."""
    extra = {k: (k, "first") for k in keep if k not in (by, "chrom", "start", "end", "strand")}
    out = rows.groupby(by, sort=False).agg(
        chrom=("chrom", "first"), start=("start", "min"), end=("end", "max"), strand=("strand", "first"), **extra,
        n_chrom=("chrom", "nunique"), n_strand=("strand", "nunique")).reset_index()
    bad = out[(out["n_chrom"] > 1) | (out["n_strand"] > 1)]
    if len(bad):
        raise InputError(f"{by} {bad[by].iat[0]!r} has features on several chromosomes or strands", path=_path(gtf))
    return out.drop(columns=["n_chrom", "n_strand"])


def genes(gtf: pd.DataFrame) -> pd.DataFrame:
    """One row per gene: its ``gene`` line, or (when the file has none for it) the span of its features."""
    cols = ["chrom", "start", "end", "strand", "gene_id", "gene_name", "gene_type"]
    has = gtf[gtf["gene_id"].notna()]
    explicit = has[has["feature"] == "gene"].drop_duplicates("gene_id")
    rest = has[~has["gene_id"].isin(explicit["gene_id"])]
    parts = [explicit[cols]] + ([_span(rest, "gene_id", gtf, cols)[cols]] if len(rest) else [])
    return _in_file_order(pd.concat(parts, ignore_index=True), gtf)


def transcripts(gtf: pd.DataFrame) -> pd.DataFrame:
    """One row per transcript: its transcript/mRNA line, or the span of its exons."""
    cols = ["chrom", "start", "end", "strand", "gene_id", "transcript_id", "gene_name", "gene_type"]
    has = gtf[gtf["transcript_id"].notna()]
    explicit = has[has["feature"].isin(TRANSCRIPT_FEATURES)].drop_duplicates("transcript_id")
    rest = has[~has["transcript_id"].isin(explicit["transcript_id"]) & (has["feature"] == "exon")]
    parts = [explicit[cols]] + ([_span(rest, "transcript_id", gtf, cols)[cols]] if len(rest) else [])
    return _in_file_order(pd.concat(parts, ignore_index=True), gtf)


def exons(gtf: pd.DataFrame) -> pd.DataFrame:
    """Exon rows (one per transcript they belong to), sorted by position."""
    cols = ["chrom", "start", "end", "strand", "gene_id", "transcript_id", "gene_name", "gene_type"]
    ex = gtf[(gtf["feature"] == "exon") & gtf["transcript_id"].notna()][cols]
    return _in_file_order(ex.drop_duplicates(["transcript_id", "start", "end"]), gtf)


def introns(gtf: pd.DataFrame) -> pd.DataFrame:
    """The gaps between consecutive exons of each transcript (touching exons leave no intron)."""
    ex = exons(gtf).sort_values(["transcript_id", "start"], kind="stable")
    prev_end = ex.groupby("transcript_id", sort=False)["end"].shift()
    overlap = ex[prev_end.notna() & (ex["start"] < prev_end)]
    if len(overlap):
        raise InputError(f"overlapping exons in transcript {overlap['transcript_id'].iat[0]!r} at "
                         f"{overlap['chrom'].iat[0]}:{overlap['start'].iat[0]}", path=_path(gtf))
    keep = prev_end.notna() & (ex["start"] > prev_end)
    out = ex[keep].assign(end=ex["start"][keep], start=prev_end[keep].astype(np.int64))
    return _in_file_order(out[ex.columns], gtf)


def tss(gtf: pd.DataFrame, by: str = "gene") -> pd.DataFrame:
    """Transcription start sites, ``chrom, pos, strand, gene_id[, transcript_id], gene_name`` (``pos`` 0-based).

    ``by="gene"`` uses each gene's 5' end, ``by="transcript"`` each transcript's. Unstranded ('.') → InputError,
    since a TSS has no meaning without a strand.
    """
    if by not in ("gene", "transcript"):
        raise ValueError(f"by must be 'gene' or 'transcript', got {by!r}")
    feats = genes(gtf) if by == "gene" else transcripts(gtf)
    bad = feats[~feats["strand"].isin(["+", "-"])]
    if len(bad):
        raise InputError(f"{by} {bad[by + '_id'].iat[0]!r} has no strand ({bad['strand'].iat[0]!r}); cannot place "
                         "its TSS", path=_path(gtf))
    pos = np.where(feats["strand"] == "-", feats["end"] - 1, feats["start"]).astype(np.int64)
    cols = ["chrom", "strand", "gene_id"] + (["transcript_id"] if by == "transcript" else []) + ["gene_name"]
    out = feats[cols].copy()
    out.insert(1, "pos", pos)
    return out
