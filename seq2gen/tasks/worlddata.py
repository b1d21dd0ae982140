"""Lazy, cached access to one world directory (or any directory laid out like one) for the task sources.

Files are named by ``world.json`` (``files``, ``splits``, ``tissues``); each table is read once with the strict
``seq2gen.genome`` readers. Also interval helpers (merge, vectorised overlap test) used to place background windows.
"""
from __future__ import annotations

import difflib
import json
import logging
import os
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError

log = logging.getLogger(__name__)
MANIFEST = "world.json"


class WorldData:
    """``WorldData(dir)``: ``.manifest``, ``.splits`` (split → chromosomes), ``.tissues``, ``.contigs``, ``.genes``,
    ``.transcript_exons``, ``.peaks``, ``.expression``, ``.variants``, ``.fetch(chrom, start, end, strand)``,
    ``.bigwig(tissue)``, ``.n_runs(chrom)``."""

    def __init__(self, path: str | os.PathLike):
        self.dir = Path(path)
        mpath = self.dir / MANIFEST
        if not mpath.is_file():
            spec = self.dir / "data_spec.yaml"      # e.g. a `seq2gen world --style encode` folder
            raise InputError("not a world directory: world.json is missing", path=self.dir,
                             hint=f"it has a data spec: use --spec {spec}" if spec.is_file() else
                             "generate one with `seq2gen world --out DIR` (seq2gen.world.generate_world)")
        try:
            self.manifest = json.loads(mpath.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc}", path=mpath, line=exc.lineno) from None
        for key in ("files", "tissues"):
            if key not in self.manifest:
                raise InputError(f"manifest has no {key!r} key", path=mpath)
        splits = self.manifest.get("splits", self.manifest.get("split"))
        if not isinstance(splits, dict) or not {"train", "validation", "test"} <= set(splits):
            raise InputError("manifest needs 'splits': {train: [...], validation: [...], test: [...]}", path=mpath)
        self.splits: dict[str, list[str]] = {k: list(splits[k]) for k in ("train", "validation", "test")}
        self.tissues: list[str] = list(self.manifest["tissues"])
        self._bw: dict[str, object] = {}
        self._nruns: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def file(self, key: str) -> Path:
        name = self.manifest["files"].get(key)
        if name is None:
            raise InputError(f"world.json names no {key!r} file", path=self.dir / MANIFEST,
                             hint=f"files: {', '.join(self.manifest['files'])}")
        return self.dir / name

    # ------------------------------------------------------------------ tables
    @cached_property
    def fasta(self):
        """Validated on open (one streaming pass, ~2.5 s per 100 Mb, docs/conventions.md): a stale ``.fai`` or a
        garbled line would otherwise put other DNA into rows."""
        from seq2gen.genome import Fasta
        return Fasta(self.file("genome"))

    @cached_property
    def contigs(self) -> dict[str, int]:
        contigs = dict(self.fasta.contigs)
        self._check_splits(contigs)
        return contigs

    def _check_splits(self, contigs: dict[str, int]) -> None:
        """Every split chromosome must be a FASTA contig (else its split is silently empty); contigs in no split
        (chrM, unplaced scaffolds) are fine — their rows are dropped and counted by the data build."""
        from seq2gen.genome.aliases import naming_hint, shown
        named = [c for cs in self.splits.values() for c in cs]
        missing = [c for c in named if c not in contigs]
        if missing:
            raise InputError(f"splits name chromosome(s) {shown(missing)} that the FASTA "
                             f"{self.file('genome').name} does not have; it has: {shown(contigs)}",
                             path=self.dir / MANIFEST, hint=naming_hint(missing, contigs))
        twice = [c for c in dict.fromkeys(named) if named.count(c) > 1]
        if twice:
            raise InputError(f"chromosome(s) {shown(twice)} are in more than one split", path=self.dir / MANIFEST,
                             hint="a chromosome belongs to exactly one of train / validation / test")

    @property
    def split_contigs(self) -> list[str]:
        """FASTA contigs that some split uses (what a task reads rows, DNA and signal from)."""
        used = {c for cs in self.splits.values() for c in cs}
        return [c for c in self.contigs if c in used]

    @cached_property
    def gtf(self) -> pd.DataFrame:
        from seq2gen.genome import read_gtf
        return read_gtf(self.file("genes"), contigs=self.contigs)

    @cached_property
    def genes(self) -> pd.DataFrame:
        """``chrom, start, end, strand, gene_id, tss`` (stranded genes only)."""
        from seq2gen.genome import genes
        g = genes(self.gtf)
        g = g[g["strand"].isin(["+", "-"])].reset_index(drop=True)
        g["tss"] = np.where(g["strand"] == "-", g["end"] - 1, g["start"]).astype(np.int64)
        return g

    @cached_property
    def transcript_exons(self) -> dict[str, np.ndarray]:
        """gene_id → (n, 2) exon starts/ends of its longest transcript (most exonic bases), sorted by start."""
        from seq2gen.genome import exons
        ex = exons(self.gtf)
        ex = ex.assign(width=ex["end"] - ex["start"])
        best = ex.groupby(["gene_id", "transcript_id"], sort=False)["width"].sum().reset_index()
        best = best.sort_values("width", ascending=False, kind="stable").drop_duplicates("gene_id")
        ex = ex[ex["transcript_id"].isin(best["transcript_id"])].sort_values(["gene_id", "start"], kind="stable")
        return {g: d[["start", "end"]].to_numpy(np.int64) for g, d in ex.groupby("gene_id", sort=False)}

    @cached_property
    def peaks(self) -> pd.DataFrame:
        from seq2gen.genome import read_bed
        df = read_bed(self.file("peaks"), contigs=self.contigs)
        names = self.manifest.get("columns", {}).get("peaks")
        if names and len(names) == df.shape[1]:
            df.columns = names
        if "tissue" not in df.columns:
            raise InputError("peaks need a 'tissue' column (7th BED column)", path=self.file("peaks"))
        self._check_peak_tissues(df)
        return df

    def _check_peak_tissues(self, df: pd.DataFrame) -> None:
        """A peak of a tissue the manifest does not declare (``Liver`` vs ``liver``) would be dropped, turning
        its site into a negative: name the first such row and the closest declared tissue instead."""
        from seq2gen.genome.intervals import bed_row_lines
        from seq2gen.genome.io import first_bad
        tissue = df["tissue"].astype(str)
        i = first_bad(~tissue.isin(self.tissues))
        if i is None:
            return
        name = tissue.iat[i]
        close = [t for t in self.tissues if t.lower() == name.lower()] or difflib.get_close_matches(
            name, self.tissues, n=1)
        n_bad = int((~tissue.isin(self.tissues)).sum())
        raise InputError(f"peak tissue {name!r} is not a tissue of {MANIFEST} ({', '.join(self.tissues)}); "
                         f"{n_bad} row(s) name undeclared tissues", path=self.file("peaks"),
                         line=int(bed_row_lines(self.file("peaks"))[i]),
                         hint=(f"did you mean {close[0]!r}? " if close else "")
                         + "tissue names are case-sensitive: rename them, or declare the tissue in world.json")

    @cached_property
    def expression(self) -> pd.DataFrame:
        from seq2gen.genome import read_expression
        return read_expression(self.file("expression"))

    @cached_property
    def variants(self) -> pd.DataFrame:
        from seq2gen.genome import read_vcf
        return read_vcf(self.file("variants"), fasta=self.fasta)

    def bigwig(self, tissue: str):
        if tissue not in self._bw:
            files = self.manifest["files"].get("bigwig", {})
            if tissue not in files:
                raise InputError(f"world.json names no bigWig for tissue {tissue!r}", path=self.dir / MANIFEST,
                                 hint=f"has: {', '.join(files)}")
            self._bw[tissue] = self._open_bigwig(self.dir / files[tissue])
        return self._bw[tissue]

    def _open_bigwig(self, path: Path):
        """Open a track in the FASTA's chromosome names (Ensembl ``1``/``MT`` auto-mapped and logged) and check it
        is of the same assembly: every split chromosome present, shared chromosomes of equal length."""
        from seq2gen.genome import BigWig
        from seq2gen.genome.aliases import detect_aliases
        from seq2gen.genome.bigwig import check_bigwig_contigs
        bw = BigWig(path)
        amap = detect_aliases(bw.file_chroms, self.contigs, path=path)
        if amap.renamed:
            log.warning("%s: %s", path, amap.report())
            bw = BigWig(path, aliases=amap.renamed)
        check_bigwig_contigs(bw, self.contigs, self.split_contigs)
        return bw

    # ------------------------------------------------------------------ sequence
    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        return self.fasta.fetch(chrom, int(start), int(end), strand)

    def n_runs(self, chrom: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted disjoint ``(starts, ends)`` of the N runs of ``chrom`` (read once)."""
        if chrom not in self._nruns:
            seq = np.frombuffer(self.fetch(chrom, 0, self.contigs[chrom]).encode("ascii"), dtype=np.uint8)
            is_n = np.r_[0, (seq == ord("N")).view(np.int8), 0]
            edges = np.flatnonzero(np.diff(is_n))
            self._nruns[chrom] = (edges[::2].astype(np.int64), edges[1::2].astype(np.int64))
        return self._nruns[chrom]

    def split_of(self, chroms: pd.Series, rule: str | dict = "world") -> pd.Series:
        """Split name per row ("" for chromosomes in no split)."""
        splits = self.splits if rule == "world" else rule
        lookup = {c: s for s, cs in splits.items() for c in cs}
        return chroms.map(lookup).fillna("")


def merge_intervals(starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals as sorted disjoint ``(starts, ends)``."""
    s, e = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if s.size == 0:
        return s, e
    order = np.argsort(s, kind="stable")
    s, e = s[order], np.maximum.accumulate(e[order])
    new = np.r_[True, s[1:] > e[:-1]]
    group = np.cumsum(new) - 1
    return s[new], np.maximum.reduceat(e, np.flatnonzero(new)) if group.size else e


def overlaps(qs, qe, ms: np.ndarray, me: np.ndarray) -> np.ndarray:
    """For queries ``[qs, qe)``, whether each overlaps any merged interval ``[ms, me)`` (sorted, disjoint)."""
    qs, qe = np.asarray(qs, dtype=np.int64), np.asarray(qe, dtype=np.int64)
    if ms.size == 0:
        return np.zeros(qs.shape, dtype=bool)
    i = np.searchsorted(ms, qe, side="left") - 1
    return (i >= 0) & (me[np.maximum(i, 0)] > qs)
