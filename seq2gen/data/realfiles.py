"""The few real-world conventions a data spec needs that the ``seq2gen.genome`` readers do not cover (yet):
compressed FASTA, chromosome aliases, GTEx GCT expression tables and versioned/unversioned Ensembl IDs.

RECONCILE: the "dataerr" work adds reader-level support for these to ``seq2gen.genome`` (gzip/bgzip ``Fasta``,
``genome/aliases.py``, a GCT reader, ID reconciliation). Every function here is small and called from one place in
``seq2gen.data.spec`` so that, once those land, each can be replaced by the genome reader (same return shapes).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.vocab.extend import token_name as tissue_key  # noqa: F401  (GTEx/ENCODE spelling → token name)

GZIP_MAGIC = b"\x1f\x8b"


# ------------------------------------------------------------------------------------------------ compression
def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def plain_fasta(path: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """``path`` itself when it is plain text; for gzip or bgzip, a decompressed copy in ``cache_dir`` (streamed in
    1 MiB blocks, so memory stays flat; reused while the source's size and mtime are unchanged).

    Why a copy: random access needs either plain text + ``.fai`` or BGZF + ``.gzi`` through Biopython, which
    seq2gen does not depend on; a one-off decompression costs ~10 s per Gb and keeps one code path for fetches.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such FASTA file", path=path)
    if not is_gzip(path):
        return path
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    out = Path(cache_dir) / f"{path.name.removesuffix('.gz').removesuffix('.bgz')}.{key}.fa"
    if out.is_file():
        return out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the cache folder for the decompressed FASTA ({exc.strerror})",
                         path=out.parent, hint="set cache_dir: in the spec to a writable folder") from None
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    try:
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"corrupt or truncated gzip data ({exc})", path=path,
                         hint="check it with `gzip -t` (or re-download it)") from None
    os.replace(tmp, out)
    return out


# ------------------------------------------------------------------------------------------------ aliases
def canonical_chrom(name: str) -> str:
    """``1``/``chr1`` → ``1``; ``MT``/``chrM``/``M`` → ``M``: the key two spellings of one chromosome share."""
    n = str(name)
    n = n[3:] if n.lower().startswith("chr") else n
    return "M" if n.upper() in ("M", "MT") else n


def detect_aliases(reference: list[str], names: list[str], explicit: dict[str, str] | None = None,
                   auto: bool = True) -> dict[str, str]:
    """Map a file's chromosome names onto the FASTA's (``{file name: FASTA name}``, only names that differ).

    Explicit aliases win; otherwise a name absent from the FASTA is matched by ``canonical_chrom`` (chr1↔1,
    chrM↔MT). Names that match nothing are left for the caller's contig check to report.
    """
    ref = set(reference)
    by_key: dict[str, str] = {}
    for r in reference:
        by_key.setdefault(canonical_chrom(r), r)
    out = {}
    for n in names:
        if explicit and n in explicit:
            out[n] = explicit[n]
        elif auto and n not in ref and canonical_chrom(n) in by_key:
            out[n] = by_key[canonical_chrom(n)]
    return out


class AliasedBigWig:
    """A ``seq2gen.genome.BigWig`` seen through the FASTA's chromosome names (the file may say ``1`` for ``chr1``)."""

    def __init__(self, bw, to_file: dict[str, str]):
        self.bw, self.path, self._to_file = bw, bw.path, to_file
        back = {v: k for k, v in to_file.items()}
        self.chroms = {back.get(c, c): n for c, n in bw.chroms.items()}

    def values(self, chrom: str, start: int, end: int) -> np.ndarray:
        return self.bw.values(self._to_file.get(chrom, chrom), start, end)

    def binned_mean(self, chrom: str, start: int, end: int, n_bins: int, **kw) -> np.ndarray:
        return self.bw.binned_mean(self._to_file.get(chrom, chrom), start, end, n_bins, **kw)


# ------------------------------------------------------------------------------------------------ expression
def read_gct(path: str | os.PathLike) -> pd.DataFrame:
    """GTEx GCT (``#1.2``; ``rows cols``; ``Name Description sample…``) → float DataFrame indexed by gene id.

    The declared dimensions are checked against the table (a truncated download is an error, not fewer genes).
    """
    from seq2gen.genome.io import read_text
    path = Path(path)
    lines = read_text(path).splitlines()
    if len(lines) < 3 or not lines[0].startswith("#1."):
        raise InputError("not a GCT file: line 1 must be '#1.2' (or '#1.3')", path=path, line=1,
                         hint="use format: tsv for a plain gene × tissue table")
    dims = lines[1].split("\t")
    if len(dims) < 2 or not all(d.strip().isdigit() for d in dims[:2]):
        raise InputError(f"GCT line 2 must give '<rows><TAB><columns>', got {lines[1][:40]!r}", path=path, line=2)
    n_rows, n_cols = int(dims[0]), int(dims[1])
    header = lines[2].split("\t")
    if header[:2] != ["Name", "Description"]:
        raise InputError(f"GCT header must start with Name<TAB>Description, got {header[:2]}", path=path, line=3)
    if len(header) - 2 != n_cols:
        raise InputError(f"GCT line 2 declares {n_cols} sample columns, the header has {len(header) - 2}",
                         path=path, line=3)
    body = lines[3:]
    while body and not body[-1].strip():
        body.pop()
    if len(body) != n_rows:
        raise InputError(f"GCT line 2 declares {n_rows} genes, the file has {len(body)} (truncated?)", path=path,
                         line=2, hint="re-download the file")
    from seq2gen.genome.io import field_counts, first_bad, parse_table
    n = field_counts(body)
    i = first_bad(n != len(header))
    if i is not None:
        raise InputError(f"row has {n[i]} tab-separated fields, the header has {len(header)}", path=path, line=i + 4)
    cells = parse_table(body, len(header), str_cols=(0, 1))
    ids = cells[0].astype(str)
    i = first_bad(ids.duplicated().to_numpy())
    if i is not None:
        raise InputError(f"duplicate gene id {ids.iat[i]!r}", path=path, line=i + 4)
    values = {}
    for j, name in enumerate(header[2:], start=2):
        num = pd.to_numeric(cells[j], errors="coerce").to_numpy(np.float64)
        i = first_bad(~np.isfinite(num))
        if i is not None:
            raise InputError(f"column {name!r}: value {cells[j].iat[i]!r} is not a finite number", path=path,
                             line=i + 4)
        values[name] = num
    return pd.DataFrame(values, index=pd.Index(ids.to_numpy(object), name="gene_id"))


def unversioned(gene_id: str) -> str:
    """``ENSG00000141510.17`` → ``ENSG00000141510`` (GENCODE versions; ``_PAR_Y`` suffixes are kept)."""
    return re.sub(r"^(ENS[A-Z]*G\d+)\.\d+", r"\1", str(gene_id))


def reconcile_gene_ids(table: pd.DataFrame, gene_ids: pd.Series, path, report: dict) -> pd.DataFrame:
    """Re-index an expression table by the annotation's gene ids, matching on unversioned Ensembl ids when the
    versions differ (or one side has none). Counts go to ``report``: matched exactly, matched without version,
    table rows with no annotated gene, and annotated genes with no row. Two table rows onto one gene is an error."""
    annot = pd.Index(gene_ids.astype(str).unique())
    exact = table.index.isin(annot)
    key_of = pd.Series(annot, index=[unversioned(g) for g in annot])
    if key_of.index.duplicated().any():
        dup = key_of.index[key_of.index.duplicated()][0]
        raise InputError(f"the annotation has two versions of gene {dup}: {list(key_of[dup])}", path=path,
                         hint="keep one annotation release")
    target = np.where(exact, table.index, pd.Series([unversioned(g) for g in table.index]).map(key_of).to_numpy())
    target = pd.Series(target, index=table.index)
    ok = target.notna()
    clash = target[ok].duplicated(keep=False)
    if clash.any():
        rows = target[ok][clash]
        raise InputError(f"expression rows {list(rows.index[:2])} both map to annotated gene {rows.iat[0]!r}",
                         path=path, hint="the table holds two versions of one gene; keep one")
    report.update({"genes matched exactly": int(exact.sum()),
                   "genes matched ignoring the Ensembl version": int(ok.sum() - exact.sum()),
                   "table rows with no annotated gene": int((~ok).sum()),
                   "annotated genes with no table row": int(len(annot) - ok.sum())})
    if not ok.any():
        raise InputError(f"no gene id of the expression table is in the annotation (table: {table.index[0]!r}…, "
                         f"annotation: {annot[0]!r}…)", path=path, hint="are both from the same species/release?")
    out = table[ok.to_numpy()].copy()
    out.index = pd.Index(target[ok].to_numpy(object), name="gene_id")
    return out


class AliasedFasta:
    """A ``seq2gen.genome.Fasta`` that also answers to a file's spellings of its contigs (for ``read_vcf``'s REF
    check on a VCF that says ``1`` where the FASTA says ``chr1``)."""

    def __init__(self, fasta, to_fasta: dict[str, str]):
        self.fasta, self.path, self._map = fasta, fasta.path, to_fasta
        self.contigs = {**fasta.contigs, **{k: fasta.contigs[v] for k, v in to_fasta.items()}}

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        return self.fasta.fetch(self._map.get(chrom, chrom), start, end, strand)
