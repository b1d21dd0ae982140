"""Variant (VCF) reading and writing for SNVs and short indels, with every rejected record located or counted.

Why strict: variant-effect tasks splice ALT into the reference, so a REF that disagrees with the FASTA, a multi-allelic
site or a symbolic allele would silently produce wrong sequences. Each record gets at most one rejection reason from
vectorised checks; ``on_error="raise"`` reports the earliest bad line, ``on_error="skip"`` drops bad records and
reports ``{reason: count}`` in ``df.attrs["skipped"]`` and a log warning — never a silent skip.
"""
from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.genome.io import atomic_write, data_lines, field_counts, first_bad, parse_table, read_text

log = logging.getLogger(__name__)

HEADER = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
MAX_ALLELE = 50
#: REF checks read the FASTA in blocks: one read spans nearby REFs (≤ REF_BLOCK bp, gaps ≤ REF_GAP bp between them)
REF_BLOCK, REF_GAP = 1_000_000, 10_000
CORE = ["chrom", "start", "end", "pos", "id", "ref", "alt", "qual", "filter"]


class _Triage:
    """Assigns each record its first failing check; remembers how to word the message for any row."""

    def __init__(self, n: int):
        self.reason = np.full(n, -1)
        self.checks: list[tuple[str, object, str | None]] = []

    @property
    def alive(self) -> np.ndarray:
        return self.reason < 0

    def flag(self, name: str, mask, message, hint: str | None = None) -> None:
        mask = np.asarray(mask, dtype=bool) & self.alive
        self.reason[mask] = len(self.checks)
        self.checks.append((name, message, hint))

    def counts(self) -> dict[str, int]:
        ids, n = np.unique(self.reason[self.reason >= 0], return_counts=True)
        return {self.checks[i][0]: int(c) for i, c in zip(ids, n)}

    def raise_first(self, path, lineno: np.ndarray) -> None:
        i = first_bad(~self.alive)
        if i is not None:
            name, message, hint = self.checks[self.reason[i]]
            raise InputError(message(i), path=path, line=int(lineno[i]), hint=hint)


def _find_header(text: str, path) -> tuple[int, list[str]]:
    """1-based line number of ``#CHROM`` and the sample names after ``FORMAT``; InputError if the line is missing,
    malformed or comes after records."""
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("##") or not line.strip():
            continue
        if line.startswith("#CHROM"):
            fields = line.rstrip("\r").split("\t")
            if fields[:8] != HEADER:
                raise InputError("malformed #CHROM header line", path=path, line=n,
                                 hint="expected tab-separated " + " ".join(HEADER))
            if len(fields) > 8 and (fields[8] != "FORMAT" or len(fields) == 9):
                raise InputError("after INFO a VCF header has FORMAT and then at least one sample column, got "
                                 f"{' '.join(fields[8:11])!r}", path=path, line=n)
            return n, fields[9:]
        break
    else:
        n = None
    raise InputError("missing #CHROM header line before the first record", path=path, line=n,
                     hint="a VCF needs a '#CHROM POS ID REF ALT QUAL FILTER INFO' line (tab-separated)")


def _parse_info(info: pd.Series) -> pd.DataFrame:
    """``key=value`` → column ``info_key`` (numeric when every value parses); flags → bool columns."""
    s = info.where(info != ".", "").str.split(";").explode()
    s = s[s.notna() & (s != "")]
    if s.empty:                       # every INFO is "." (or there are no records): no info_* columns
        return pd.DataFrame(index=info.index)
    kv = s.str.partition("=")
    out = {}
    for key in pd.unique(kv[0]):
        sel = kv[0] == key
        if not (kv[1][sel] == "=").any():
            out[f"info_{key}"] = pd.Series(False, index=info.index).mask(info.index.isin(s.index[sel]), True)
            continue
        vals = kv[2][sel & (kv[1] == "=")]
        vals = vals[~vals.index.duplicated()].reindex(info.index)
        num = pd.to_numeric(vals, errors="coerce")
        out[f"info_{key}"] = num if num.notna().sum() == vals.notna().sum() else vals
    return pd.DataFrame(out, index=info.index)


def fasta_bases(fasta, chrom: np.ndarray, start: np.ndarray, end: np.ndarray, mask: np.ndarray) -> list[str]:
    """``fasta.fetch(chrom[i], start[i], end[i])`` where ``mask`` ("" elsewhere), read in sorted blocks per contig
    (``REF_BLOCK``, ``REF_GAP``): a dense VCF costs about one pass over the genome, not one read per record."""
    out = [""] * len(chrom)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return out
    codes, _ = pd.factorize(chrom[idx])
    idx = idx[np.lexsort((start[idx], codes))]
    c, s, e = chrom[idx], start[idx].astype(np.int64), end[idx].astype(np.int64)
    new = np.r_[True, (c[1:] != c[:-1]) | (s[1:] - e[:-1] > REF_GAP) | (s[1:] // REF_BLOCK != s[:-1] // REF_BLOCK)]
    heads = np.flatnonzero(new)
    his = np.maximum.reduceat(e, heads)
    for a, b, hi in zip(heads, np.r_[heads[1:], idx.size], his):
        lo = int(s[a])
        seq = fasta.fetch(c[a], lo, int(hi))
        for k in range(a, b):
            out[idx[k]] = seq[s[k] - lo:e[k] - lo]
    return out


def read_vcf(path: str | os.PathLike, fasta=None, on_error: str = "raise",
             aliases: dict[str, str] | None = None) -> pd.DataFrame:
    """VCF (plain or gzip) → ``chrom, start, end, pos, id, ref, alt, qual, filter, info_*``.

    ``start/end`` are 0-based half-open over REF; ``pos`` is the file's 1-based POS. Only biallelic SNVs and indels
    of ≤ 50 bp over A/C/G/T/N are accepted. With ``fasta`` (a ``Fasta``), contigs and REF are checked against it.
    ``aliases`` (file name → FASTA name, e.g. ``detect_aliases(...).renamed``): records come back, and are checked,
    under the FASTA's names (a VCF saying ``1`` against a FASTA saying ``chr1``).
    Genotype columns (FORMAT + samples) are not read; their names are in ``df.attrs["samples"]``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    text = read_text(path)
    header_line, samples = _find_header(text, path)
    lines, lineno = data_lines(text, skip_prefixes=("#",))
    if len(lines) == 0:
        dtypes = {"start": np.int64, "end": np.int64, "pos": np.int64, "qual": float}
        empty = pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, object)) for c in CORE})
        empty.attrs["skipped"] = {}
        empty.attrs["samples"] = samples
        return empty
    if lineno[0] < header_line:
        raise InputError("record before the #CHROM header line", path=path, line=int(lineno[0]))
    ncol = field_counts(lines)
    if ncol.max() > 8:  # drop FORMAT and sample columns before parsing: only the site is needed
        lines = ["\t".join(line.split("\t", 8)[:8]) for line in lines]
    raw = parse_table(lines, 8, str_cols=tuple(range(8)))
    t = _Triage(len(raw))
    t.flag("too few columns", ncol < 8, lambda i: f"expected at least 8 tab-separated columns, found {ncol[i]}",
           "VCF columns are separated by tabs")
    pos_ok = raw[1].str.fullmatch(r"\d{1,12}").fillna(False).to_numpy(bool)
    t.flag("bad POS", ~pos_ok, lambda i: f"POS must be a positive integer, got {raw[1].iat[i]!r}")
    pos = np.where(pos_ok & t.alive, pd.to_numeric(raw[1].where(pos_ok, "0")), 0).astype(np.int64)
    t.flag("bad POS", pos < 1, lambda i: f"POS must be >= 1, got {raw[1].iat[i]!r}")
    ref, alt = raw[3].fillna("").str.upper(), raw[4].fillna("").str.upper()
    t.flag("symbolic allele", alt.str.contains(r"[<>\[\]*]"),
           lambda i: f"symbolic/breakend ALT {raw[4].iat[i]!r} is not supported",
           "only sequence alleles (SNVs, short indels) are supported; drop structural variants")
    t.flag("multi-allelic", alt.str.contains(",", regex=False),
           lambda i: f"multi-allelic ALT {raw[4].iat[i]!r}", "split it first: `bcftools norm -m - in.vcf`")
    t.flag("bad allele", ~ref.str.fullmatch(r"[ACGTN]+") | ~alt.str.fullmatch(r"[ACGTN]+"),
           lambda i: f"REF/ALT must be A/C/G/T/N letters, got REF={raw[3].iat[i]!r} ALT={raw[4].iat[i]!r}")
    t.flag("ALT equals REF", ref == alt, lambda i: f"ALT equals REF ({ref.iat[i]!r}): not a variant")
    long = np.maximum(ref.str.len(), alt.str.len()) > MAX_ALLELE
    t.flag("allele too long", long, lambda i: f"allele longer than {MAX_ALLELE} bp (REF {len(ref.iat[i])} bp, "
           f"ALT {len(alt.iat[i])} bp)", "only SNVs and short indels are supported")
    qual = pd.to_numeric(raw[5].where(raw[5] != "."), errors="coerce")
    t.flag("bad QUAL", qual.isna() & (raw[5] != "."), lambda i: f"QUAL must be a number or '.', got {raw[5].iat[i]!r}")
    chrom = raw[0].map(aliases).fillna(raw[0]) if aliases else raw[0]
    start = pos - 1
    end = start + ref.str.len().to_numpy()
    if fasta is not None:
        length = chrom.map(fasta.contigs)
        unknown = length.isna()
        hint = None
        if unknown.any():
            from seq2gen.genome.aliases import naming_hint
            hint = naming_hint(pd.unique(chrom[unknown])[:50], fasta.contigs)
        t.flag("unknown contig", unknown, lambda i: f"contig {chrom.iat[i]!r} is not in {fasta.path.name} "
               f"(has {', '.join(list(fasta.contigs)[:8])})", hint)
        t.flag("beyond contig end", end > length.fillna(0).to_numpy(),
               lambda i: f"REF {chrom.iat[i]}:{pos[i]} extends past the contig end ({int(length.iat[i])})")
        found = pd.Series(fasta_bases(fasta, chrom.to_numpy(), start, end, t.alive), index=raw.index)
        t.flag("REF mismatch", t.alive & (found != ref).to_numpy(),
               lambda i: f"REF does not match {fasta.path.name} at {chrom.iat[i]}:{pos[i]}: VCF has "
                         f"{ref.iat[i]!r}, FASTA has {found.iat[i]!r}", "is the VCF from another genome build?")
    if on_error == "raise":
        t.raise_first(path, lineno)
    keep = t.alive
    df = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "pos": pos, "id": raw[2], "ref": ref,
                       "alt": alt, "qual": qual, "filter": raw[6]})[keep]
    df = pd.concat([df, _parse_info(raw[7][keep])], axis=1).reset_index(drop=True)
    df.attrs["skipped"] = t.counts()
    df.attrs["samples"] = samples
    if df.attrs["skipped"]:
        log.warning("%s: skipped %d of %d records: %s", path, int((~keep).sum()), len(keep),
                    ", ".join(f"{k}={v}" for k, v in df.attrs["skipped"].items()))
    return df


def _info_type(col: pd.Series) -> tuple[str, str]:
    if pd.api.types.is_bool_dtype(col):
        return "0", "Flag"
    if pd.api.types.is_integer_dtype(col):
        return "1", "Integer"
    if pd.api.types.is_float_dtype(col):
        return "1", "Float"
    return "1", "String"


def write_vcf(path: str | os.PathLike, df: pd.DataFrame, contigs: dict[str, int] | None = None) -> Path:
    """Write ``df`` (columns as ``read_vcf`` returns; ``pos`` or ``start`` required) atomically; ``.gz`` → gzip.

    ``info_*`` columns become INFO fields with ``##INFO`` definitions typed from their dtype (bool → Flag).
    """
    path = Path(path)
    missing = {"chrom", "ref", "alt"} - set(df.columns)
    if missing or not {"pos", "start"} & set(df.columns):
        raise InputError(f"write_vcf needs columns chrom, pos (or start), ref, alt; missing {sorted(missing)}",
                         path=path)
    head = ["##fileformat=VCFv4.2", "##source=seq2gen"]
    head += [f"##contig=<ID={c},length={n}>" for c, n in (contigs or {}).items()]
    info_cols = [c for c in df.columns if c.startswith("info_")]
    parts = []
    for c in info_cols:
        key, (number, typ) = c[len("info_"):], _info_type(df[c])
        head.append(f'##INFO=<ID={key},Number={number},Type={typ},Description="{key}">')
        col = df[c]
        if typ == "Flag":
            parts.append(pd.Series(np.where(col, key, ""), index=df.index))
            continue
        text = col.map(lambda v: repr(float(v)) if typ == "Float" else str(v), na_action="ignore")
        if text.dropna().str.contains(r"[;=\s]").any():
            raise InputError(f"INFO values of {c} contain ';', '=' or whitespace", path=path)
        parts.append((key + "=" + text).fillna(""))
    info = pd.Series("", index=df.index)
    for p in parts:
        info = info + ";" + p
    info = info.str.replace(r";{2,}", ";", regex=True).str.strip(";").replace("", ".")
    pos = df["pos"] if "pos" in df else df["start"] + 1
    cols = {"CHROM": df["chrom"], "POS": pos.astype(np.int64).astype(str), "ID": df.get("id", "."),
            "REF": df["ref"], "ALT": df["alt"],
            "QUAL": df["qual"].map(lambda q: "." if pd.isna(q) else f"{q:.10g}") if "qual" in df else ".",
            "FILTER": df.get("filter", "."), "INFO": info}
    body = pd.DataFrame(cols, index=df.index).astype(str).agg("\t".join, axis=1)
    text = "\n".join(head + ["\t".join(HEADER)] + body.tolist()) + "\n"
    with atomic_write(path, "wb") as f:
        if path.name.endswith(".gz"):
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
                gz.write(text.encode())
        else:
            f.write(text.encode())
    return path
