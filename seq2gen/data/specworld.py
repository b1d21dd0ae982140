"""``SpecWorld``: a data spec (``seq2gen.data.spec``) resolved into the world object the task sources read.

It has ``WorldData``'s interface (``genes``, ``transcript_exons``, ``peaks``, ``expression``, ``variants``,
``bigwig(tissue)``, ``fetch``, ``contigs``, ``splits``, ``tissues``), so every task template renders on a user's
files unchanged. Everything is read lazily, once, with the strict ``seq2gen.genome`` readers (a bgzip FASTA in
place, GTEx GCT, multi-sample VCF); chromosome names are brought to the FASTA's spelling (``genome.aliases``), and
every rename, gene-id reconciliation and exclusion is counted in ``.report`` (written to ``data_config.json`` as
``inputs``), never applied silently.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
import re
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.data.spec import DataSpec, Select, load_spec, read_sample_sheet
from seq2gen.errors import InputError
from seq2gen.tasks.worlddata import WorldData, merge_intervals
from seq2gen.vocab.extend import token_name as tissue_key   # GTEx/ENCODE spelling ("Brain - Cortex") → token name

log = logging.getLogger(__name__)
#: the primary assembly by name, in either naming style (chr1 / 1, chrM / MT)
PRIMARY = re.compile(r"(?:[Cc][Hh][Rr])?(\d+|X|Y|M|MT|W|Z)")
N_CHUNK = 8_000_000


class SpecWorld(WorldData):
    """``SpecWorld(spec)`` from a ``DataSpec`` or a spec YAML path."""

    def __init__(self, spec: DataSpec | str | os.PathLike, validate: bool = True):
        # not super().__init__: that reads world.json. ``validate=False``: the FASTA was checked by another
        # process already (build workers), skip the full pass.
        self.spec = spec if isinstance(spec, DataSpec) else load_spec(spec)
        self._validate = validate
        self.dir = self.spec.dir
        self.manifest = {"files": {k: str(v) for k, v in self.spec.files().items()}, "spec": str(self.spec.path)}
        self.report: dict = {}
        self._bw: dict[str, object] = {}
        self._nruns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.splits = self._resolve_splits()
        self.tissues = self._resolve_tissues()

    def _fail(self, key: str, msg: str, hint: str | None = None):
        raise InputError(f"{key}: {msg}", path=self.spec.path, hint=hint)

    def file(self, key: str) -> Path:
        files = self.spec.files()
        if key not in files:
            self._fail(key, "the spec names no such file", hint=f"files: {', '.join(files)}")
        return files[key]

    def fingerprint(self) -> dict:
        """What the data cache hash covers: the spec's text and the size/mtime of every file it reads."""
        paths = list(self.spec.files().values()) + (list(self.sheet["file"]) if self.spec.sheet else [])
        return {"spec": str(self.spec.path), "spec_sha256": hashlib.sha256(self.spec.path.read_bytes()).hexdigest(),
                "files": {str(p): [p.stat().st_size, p.stat().st_mtime_ns] for p in paths}}

    # ------------------------------------------------------------------ names
    @property
    def _explicit(self) -> dict[str, str]:
        return self.spec.aliases if isinstance(self.spec.aliases, dict) else {}

    def _rename(self, names, path=None) -> dict[str, str]:
        """File name → FASTA name for the names that differ (``aliases: none``: none). Names no rule maps are left
        for the caller's contig check to report; two names onto one FASTA name are an error naming ``path``."""
        if self.spec.aliases == "none":
            return {}
        from seq2gen.genome.aliases import detect_aliases
        return detect_aliases(list(names), self.fasta.contigs, extra=self._explicit, path=path).renamed

    def _aliases(self, names, what: str, path=None) -> dict[str, str]:
        mapping = self._rename(names, path)
        if mapping:
            self.report.setdefault("chromosome aliases", {})[what] = dict(sorted(mapping.items()))
        return mapping

    @cached_property
    def fasta(self):
        """Plain, or bgzip read in place (``.fai`` + ``.gzi`` built beside it); plain gzip is ``Fasta``'s located
        error with the ``bgzip`` command (docs/conventions.md)."""
        from seq2gen.genome import Fasta
        return Fasta(self.spec.genome, validate=self._validate)

    @cached_property
    def contigs(self) -> dict[str, int]:
        """The FASTA contigs the build uses (``chromosomes:``; default the primary assembly, by name)."""
        every = dict(self.fasta.contigs)
        want = self.spec.chromosomes
        if want == "all":
            keep = list(every)
        elif want == "primary":
            keep = [c for c in every if PRIMARY.fullmatch(c)]
        else:
            keep = self._to_fasta(want, "chromosomes")
        if not keep:
            self._fail("chromosomes", f"selects none of the FASTA's contigs ({', '.join(list(every)[:5])}, …)")
        if len(keep) < len(every):
            self.report["contigs not used (chromosomes:)"] = len(every) - len(keep)
        return {c: every[c] for c in keep}

    def _to_fasta(self, names: list[str], key: str) -> list[str]:
        mapping = self._rename(names, self.spec.path)
        out = []
        for n in names:
            c = mapping.get(n, n)
            if c not in self.fasta.contigs:
                near = difflib.get_close_matches(n, list(self.fasta.contigs), n=1)
                self._fail(key, f"{n!r} is not a contig of {self.spec.genome.name}",
                           hint=f"did you mean {near[0]!r}?" if near else None)
            out.append(c)
        return out

    def _resolve_splits(self) -> dict[str, list[str]]:
        s = self.spec.splits
        held = {k: self._to_fasta(s[k], f"splits.{k}") for k in ("validation", "test")}
        train = ([c for c in self.contigs if c not in held["validation"] + held["test"]] if s["train"] == "rest"
                 else self._to_fasta(s["train"], "splits.train"))
        out = {"train": train, **held}
        seen: dict[str, str] = {}
        for k, cs in out.items():
            for c in cs:
                if c not in self.contigs:
                    self._fail(f"splits.{k}", f"{c!r} is not among the chromosomes used (chromosomes: "
                                              f"{self.spec.chromosomes})")
                if c in seen:
                    self._fail(f"splits.{k}", f"{c!r} is also in splits.{seen[c]}", hint="splits must be disjoint")
                seen[c] = k
        if not train:
            self._fail("splits.train", "no chromosome left for training")
        return out

    def _resolve_tissues(self) -> list[str]:
        if self.spec.tissues is not None:
            names = [tissue_key(t) for t in self.spec.tissues]
        elif self.spec.sheet is not None:
            names = list(dict.fromkeys(self.sheet["tissue"]))
        elif self.spec.expression is not None:
            names = list(self.expression_raw.columns)
        else:
            names = []
        dup = [t for t in set(names) if names.count(t) > 1]
        if dup:
            self._fail("tissues", f"{dup} listed twice (names compare lower-case, punctuation as '_')")
        return names

    def check_vocab(self, vocab) -> None:
        """Every tissue must have a ``<tissue:…>`` token: an unknown one is an error naming the spec."""
        for t in self.tissues:
            try:
                vocab.tissue_token(t)
            except InputError as exc:
                raise InputError(f"tissue {t!r} (from the sample sheet / tissues:) has no token: {exc}",
                                 path=self.spec.path,
                                 hint=f"add it: `seq2gen vocab add --tokenizer TOK --spec {self.spec.path.name} "
                                      "--out NEW_TOK` (docs/own-data.md)") from None

    def n_runs(self, chrom: str) -> tuple[np.ndarray, np.ndarray]:
        """N runs of ``chrom`` read in 8 Mb pieces (``WorldData`` reads the whole chromosome: 1 GB+ transient on
        a 248 Mb human chr1)."""
        if chrom not in self._nruns:
            n, starts, ends = self.contigs[chrom], [], []
            for s in range(0, n, N_CHUNK):
                seq = np.frombuffer(self.fetch(chrom, s, min(s + N_CHUNK, n)).encode("ascii"), dtype=np.uint8)
                edges = np.flatnonzero(np.diff(np.r_[0, (seq == ord("N")).view(np.int8), 0])) + s
                starts.append(edges[::2])
                ends.append(edges[1::2])
            self._nruns[chrom] = merge_intervals(np.concatenate(starts), np.concatenate(ends))  # joins at seams
        return self._nruns[chrom]

    # ------------------------------------------------------------------ tables
    def _read_located(self, reader, path: Path, what: str) -> pd.DataFrame:
        """Read with aliases applied; any row on an unknown contig or past a contig end is re-read with the
        contig check on, so the error names the file line."""
        df = reader(path)
        if df.empty:
            return df
        mapping = self._aliases(pd.unique(df["chrom"]), what, path=path)
        every = self.fasta.contigs
        ext = {**every, **{k: every[v] for k, v in mapping.items()}}
        length = df["chrom"].map(ext)
        if length.isna().any() or (df["end"] > length).any():
            reader(path, contigs=ext)
            raise InputError(f"{what}: rows on unknown contigs or past a contig end", path=path)  # pragma: no cover
        if mapping:
            df = df.assign(chrom=df["chrom"].map(lambda c: mapping.get(c, c)))
        return self._on_used_contigs(df, path)

    def _on_used_contigs(self, df: pd.DataFrame, path: Path) -> pd.DataFrame:
        """Rows on the spec's contigs; the others (chrM, scaffolds left out by ``chromosomes:``) are dropped and
        counted per file in the ``inputs`` report."""
        keep = df["chrom"].isin(self.contigs).to_numpy()
        if not keep.all():
            self.report.setdefault("rows on contigs not used", {})[path.name] = int((~keep).sum())
            df = df[keep].reset_index(drop=True)
        return df

    @cached_property
    def gtf(self) -> pd.DataFrame:
        from seq2gen.genome import read_gtf
        df = self._read_located(read_gtf, self.spec.annotation, "annotation")
        if self.spec.gene_types is not None:
            keep = df["gene_type"].isin(self.spec.gene_types).to_numpy()
            if not keep.any():
                self._fail("annotation.gene_types", f"no gene has type {self.spec.gene_types}",
                           hint=f"types present: {sorted(df['gene_type'].dropna().unique())[:8]}")
            self.report["annotation rows of other gene types"] = int((~keep).sum())
            df = df[keep].reset_index(drop=True)
        return df

    @cached_property
    def sheet(self) -> pd.DataFrame:
        if self.spec.sheet is None:
            self._fail("samples", "the spec has no sample sheet", hint="add samples: samples.tsv")
        df = read_sample_sheet(self.spec.sheet)
        return df.assign(tissue=df["cell_type"].map(tissue_key))

    def _samples(self, kind: str, select: Select, key: str) -> dict[str, pd.Series]:
        """Sheet rows of one file kind (± assay/target filter) → tissue → row; two rows for a tissue is an error."""
        df = self.sheet[self.sheet["kind"] == kind]
        for col in ("assay", "target"):
            v = getattr(select, col)
            if v is not None:
                df = df[df[col] == v]
        out: dict[str, pd.Series] = {}
        for _, row in df.iterrows():
            if row["tissue"] in out:
                raise InputError(f"two {kind} files for cell type {row['cell_type']!r} (lines "
                                 f"{out[row['tissue']]['line']} and {row['line']})", path=self.spec.sheet,
                                 line=int(row["line"]), hint=f"choose one in the spec: samples.{key}: "
                                                             "{assay: …, target: …}")
            out[row["tissue"]] = row
        missing = [t for t in self.tissues if t not in out]
        if missing:
            raise InputError(f"no {kind} file for tissue(s) {missing} (samples.{key} selects assay={select.assay}, "
                             f"target={select.target})", path=self.spec.sheet,
                             hint="add rows to the sample sheet, or restrict `tissues:` in the spec")
        return out

    @cached_property
    def peaks(self) -> pd.DataFrame:
        from seq2gen.genome import read_bed
        order = {t: i for i, t in enumerate(self.tissues)}
        frames = []
        for t, row in self._samples("peaks", self.spec.peaks, "peaks").items():
            df = self._read_located(read_bed, row["file"], row["file"].name)
            name = df["name"].astype(str) if "name" in df else pd.Series(".", index=df.index)
            frames.append(pd.DataFrame({"chrom": df["chrom"], "start": df["start"], "end": df["end"], "name": name,
                                        "score": df.get("score", 0), "strand": df.get("strand", "."),
                                        "tissue": t, "target": row["target"]}))
        p = pd.concat(frames, ignore_index=True)
        rank = {c: i for i, c in enumerate(self.fasta.contigs)}
        p = p.assign(_c=p["chrom"].map(rank), _t=p["tissue"].map(order))
        p = p.sort_values(["_c", "start", "end", "name", "strand", "_t"], kind="stable").drop(columns=["_c", "_t"])
        p = p.reset_index(drop=True)
        return self._consensus(p) if self.spec.consensus == "merge" else p

    def _consensus(self, p: pd.DataFrame) -> pd.DataFrame:
        """Overlapping peaks of any cell type become one site (their union), bound in each cell type with a peak
        there — otherwise a peak shifted by a few bp in another cell type would read as "unbound" there."""
        out = []
        for _, d in p.groupby("chrom", sort=False):
            s, e = d["start"].to_numpy(np.int64), d["end"].to_numpy(np.int64)
            ms, me = merge_intervals(s, e)
            k = np.searchsorted(ms, s, side="right") - 1
            out.append(d.assign(start=ms[k], end=me[k]))
        merged = pd.concat(out, ignore_index=True)
        first = merged.groupby(["chrom", "start", "end"], sort=False)["name"].transform("first")
        self.report["peaks"] = {"peaks read": len(p), "sites after merging overlaps": int(
            merged.drop_duplicates(["chrom", "start", "end"]).shape[0])}
        return merged.assign(name=first)

    def bigwig(self, tissue: str):
        if tissue not in self._bw:
            from seq2gen.genome import BigWig
            row = self._samples("bigwig", self.spec.signal, "signal").get(tissue)
            if row is None:
                self._fail("tissues", f"{tissue!r} is not one of the spec's tissues {self.tissues}")
            from seq2gen.genome.bigwig import check_bigwig_contigs
            bw = BigWig(row["file"])
            mapping = self._aliases(list(bw.file_chroms), row["file"].name, path=bw.path)
            if mapping:
                bw.close()
                bw = BigWig(row["file"], aliases=mapping)
            check_bigwig_contigs(bw, self.contigs)   # a missing chromosome would read as zeros, another build shifted
            self._bw[tissue] = bw
        return self._bw[tissue]

    @cached_property
    def expression_raw(self) -> pd.DataFrame:
        """The table as read, columns renamed to tissue names (``expression.columns`` or normalised headers)."""
        path, fmt = self.spec.expression, self.spec.expression_format
        if path is None:
            self._fail("expression", "the spec names no expression table")
        from seq2gen.genome import read_expression
        if fmt != "auto":                    # read_expression tells a GCT by its first line; a stated format must agree
            from seq2gen.genome.io import read_bytes
            is_gct = read_bytes(path)[:3] == b"#1."
            if is_gct != (fmt == "gct"):
                raise InputError(f"expression.format is {fmt}, but the file {'is' if is_gct else 'is not'} a GCT "
                                 "(line 1 '#1.2')", path=path, line=1, hint="set expression.format: auto")
        table = read_expression(path)
        names = [self.spec.expression_columns.get(c, tissue_key(c)) for c in table.columns]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"columns {[c for c, n in zip(table.columns, names) if n in dup]} all read as tissue "
                             f"{dup[0]!r}", path=path, line=1, hint="name them apart in expression.columns")
        return table.set_axis(names, axis=1)

    @cached_property
    def expression(self) -> pd.DataFrame:
        table = self.expression_raw
        missing = [t for t in self.tissues if t not in table.columns]
        if missing:
            raise InputError(f"no expression column for tissue(s) {missing}; columns read as: "
                             f"{', '.join(table.columns[:10])}", path=self.spec.expression,
                             hint="map them with expression.columns in the spec, or restrict `tissues:`")
        return self._by_annotation_id(table[self.tissues])

    def _by_annotation_id(self, table: pd.DataFrame) -> pd.DataFrame:
        """Rows re-indexed by the annotation's gene ids (``genome.geneids`` rules: exact, else without the Ensembl
        version), the counts in ``.report``. Rows naming no annotated gene (e.g. other ``gene_types``) are dropped
        and counted; none matching, or two table rows onto one annotated gene, is an error."""
        from seq2gen.genome.geneids import match_gene_ids
        annot = pd.Series(self.genes["gene_id"].astype(str).unique())
        m = match_gene_ids(table.index, annot)
        if m.counts["ambiguous"]:
            self._ambiguous_ids(table.index[~table.index.isin(list(m.mapping))], annot)
        self.report["expression"] = {"genes matched exactly": m.counts["exact"],
                                     "genes matched ignoring the Ensembl version": m.counts["version reconciled"],
                                     "table rows with no annotated gene": m.counts["unmatched"],
                                     "annotated genes with no table row": len(annot) - len(m.mapping)}
        if not m.mapping:
            raise InputError(f"no gene id of the expression table is in the annotation (table: {table.index[0]!r}…, "
                             f"annotation: {annot.iat[0]!r}…)", path=self.spec.expression,
                             hint="are both from the same species and release? gene ids, not symbols?")
        return table.loc[list(m.mapping)].set_axis(pd.Index(list(m.mapping.values()), name="gene_id"))

    def _ambiguous_ids(self, left: pd.Index, annot: pd.Series) -> None:
        """Raise for the ids ``match_gene_ids`` called ambiguous: two table rows (two versions) onto one annotated
        gene, or an annotation holding two versions of a table row's gene."""
        from seq2gen.genome.geneids import strip_version
        base, annot_base = strip_version(left), strip_version(annot)
        clash = base[base.duplicated(keep=False) & base.isin(annot_base.to_numpy())]
        if len(clash):
            gene = annot[(annot_base == clash.iat[0]).to_numpy()].iat[0]
            raise InputError(f"expression rows {list(left[(base == clash.iat[0]).to_numpy()])[:2]} both map to "
                             f"annotated gene {gene!r}", path=self.spec.expression,
                             hint="the table holds two versions of one gene; keep one")
        dup = annot_base[annot_base.duplicated(keep=False) & annot_base.isin(base.to_numpy())]
        raise InputError(f"the annotation has two versions of gene {dup.iat[0]}: "
                         f"{list(annot[(annot_base == dup.iat[0]).to_numpy()])}", path=self.spec.annotation,
                         hint="keep one annotation release")

    @cached_property
    def variants(self) -> pd.DataFrame:
        from seq2gen.genome import read_vcf
        from seq2gen.genome.io import read_text
        path = self.spec.variants
        if path is None:
            self._fail("variants", "the spec names no VCF")
        names = {ln.split("\t", 1)[0] for ln in read_text(path).splitlines() if ln and not ln.startswith("#")}
        v = read_vcf(path, fasta=self.fasta, aliases=self._aliases(sorted(names), path.name, path=path))
        v = self._on_used_contigs(v, path)
        return self._effects_table(v) if self.spec.effect_table else self._effects_info(v)

    def _effects_info(self, v: pd.DataFrame) -> pd.DataFrame:
        """INFO ``KEY_{tissue}`` → the templates' ``EFFECT_{tissue}`` columns."""
        key = self.spec.effect_info
        cols = {f"info_{key.format(tissue=t)}": f"info_EFFECT_{t}" for t in self.tissues}
        absent = [c[5:] for c in cols if c not in v.columns]
        if absent:
            have = [c[5:] for c in v.columns if c.startswith("info_")]
            raise InputError(f"the VCF has no INFO key(s) {absent[:4]} (variants.effect.info: {key})",
                             path=self.spec.variants, hint=f"INFO keys present: {have[:8]}")
        return v.rename(columns=cols)

    def _effects_table(self, v: pd.DataFrame) -> pd.DataFrame:
        """eQTL/MPRA side table (``chrom pos ref alt tissue effect``) joined onto the VCF records."""
        from seq2gen.data.effects import read_effect_table
        eff = read_effect_table(self.spec.effect_table, self.tissues, self._aliases)
        key = v["chrom"] + ":" + v["pos"].astype(str) + ":" + v["ref"] + ":" + v["alt"]
        wide = eff.pivot(index="key", columns="tissue", values="effect")
        matched = wide.index.isin(key)
        self.report["variant effects"] = {"table variants matched to the VCF": int(matched.sum()),
                                          "table variants not in the VCF": int((~matched).sum())}
        other = eff.attrs.get("other_tissues", {})
        if other:       # not silent: counted in data_config.json "inputs" and logged
            self.report["variant effects"]["table rows of tissues outside the spec dropped"] = other
            log.warning("%s: %d effect row(s) of tissues outside the spec dropped: %s", self.spec.effect_table,
                        sum(other.values()), other)
        if not matched.any():
            raise InputError("no variant of the effect table is in the VCF (keys chrom:pos:ref:alt, e.g. "
                             f"{wide.index[0]} vs {key.iat[0] if len(key) else '-'})", path=self.spec.effect_table)
        for t in self.tissues:
            col = wide[t] if t in wide.columns else pd.Series(dtype=float)
            v[f"info_EFFECT_{t}"] = key.map(col).to_numpy(np.float64)
        return v


def open_world(path, vocab=None, validate: bool = True) -> WorldData:
    """A world for ``build_datasets``: a ``WorldData``/``SpecWorld`` as is, a spec YAML, or a world folder (its
    ``world.json``). With ``vocab``, a spec's tissues are checked against it up front."""
    if isinstance(path, WorldData):
        world = path
    elif Path(path).is_file() and Path(path).suffix in (".yaml", ".yml"):
        world = SpecWorld(path, validate=validate)
    else:
        world = WorldData(path)
    if vocab is not None and isinstance(world, SpecWorld):
        world.check_vocab(vocab)
    return world
