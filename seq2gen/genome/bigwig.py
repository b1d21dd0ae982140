"""bigWig signal tracks: binned means over a window, with an explicit policy for bases that have no data.

Why a policy: a bigWig gap usually means "no reads" (zero), but past a chromosome end, or in a track that only covers
some regions, treating missing as zero silently biases targets. ``nan="zero"`` (default) follows the usual
convention (like ``bigWigAverageOverBed``'s *mean0*), ``nan="nan"`` averages only covered bases (*mean*; NaN for a bin
with none), ``nan="error"`` refuses any missing base. ``pyBigWig`` is imported lazily (heavy C extension).
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.genome.io import atomic_path

BIGWIG_MAGIC = 0x888FFC26
BIGBED_MAGIC = 0x8789F2EB
NAN_POLICIES = ("zero", "nan", "error")


def _check_magic(path: Path) -> None:
    if not path.is_file():
        raise InputError("no such bigWig file", path=path)
    with open(path, "rb") as f:
        head = f.read(4)
    magic = struct.unpack("<I", head)[0] if len(head) == 4 else None
    if magic == BIGBED_MAGIC:
        raise InputError("this is a bigBed file, not a bigWig", path=path,
                         hint="convert intervals to a signal with `bedtools genomecov -bg` + `bedGraphToBigWig`")
    if magic != BIGWIG_MAGIC:
        raise InputError("not a bigWig file (bad magic number)", path=path,
                         hint="bedGraph/wig text must be converted with `bedGraphToBigWig` / `wigToBigWig`")


class BigWig:
    """A signal track. ``BigWig(path).binned_mean("chr1", 0, 1000, n_bins=10)`` → float32 array of 10 means.

    ``aliases`` (file name → name to use, e.g. ``detect_aliases(...).renamed``) lets an Ensembl-named track
    (``1``, ``MT``) answer to the FASTA's names (``chr1``, ``chrM``); ``.chroms`` is keyed by the names to use.
    The handle opens lazily and is dropped on pickling, so instances can be sent to DataLoader workers.
    """

    def __init__(self, path: str | os.PathLike, aliases: dict[str, str] | None = None):
        self.path = Path(path)
        _check_magic(self.path)
        self._bw = None
        self.file_chroms: dict[str, int] = dict(self._handle().chroms())
        self.aliases = {k: v for k, v in (aliases or {}).items() if k != v}
        unknown = [k for k in self.aliases if k not in self.file_chroms]
        if unknown:
            raise InputError(f"aliases name chromosomes the bigWig does not have: {', '.join(unknown[:8])}",
                             path=self.path)
        self.chroms: dict[str, int] = {self.aliases.get(k, k): n for k, n in self.file_chroms.items()}
        self._in_file = {v: k for k, v in self.aliases.items()}

    def _handle(self):
        if self._bw is None:
            import pyBigWig

            try:
                bw = pyBigWig.open(str(self.path))
            except RuntimeError as e:
                raise InputError(f"cannot open bigWig ({e})", path=self.path,
                                 hint="the file may be truncated or corrupt; regenerate it") from None
            if bw is None or not bw.isBigWig():
                raise InputError("not a readable bigWig file", path=self.path)
            self._bw = bw
        return self._bw

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("path", "chroms", "file_chroms", "aliases", "_in_file")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bw = None

    def __repr__(self) -> str:
        return f"BigWig({str(self.path)!r}, {len(self.chroms)} chroms)"

    def close(self) -> None:
        if self._bw is not None:
            self._bw.close()
            self._bw = None

    def __enter__(self) -> "BigWig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def values(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Per-base float32 values of ``[start, end)``; NaN where there is no data or the window leaves the chrom."""
        if chrom not in self.chroms:
            raise InputError(f"chromosome {chrom!r} is not in the bigWig", path=self.path)
        length = self.chroms[chrom]
        out = np.full(end - start, np.nan, dtype=np.float32)
        lo, hi = max(start, 0), min(end, length)
        if hi > lo:
            try:
                out[lo - start:hi - start] = self._handle().values(self._in_file.get(chrom, chrom), lo, hi,
                                                                   numpy=True)
            except RuntimeError as e:
                raise InputError(f"cannot read {chrom}:{lo}-{hi} ({e})", path=self.path,
                                 hint="the file may be truncated or corrupt") from None
        return out

    def binned_mean(self, chrom: str, start: int, end: int, n_bins: int, nan: str = "zero",
                    missing_chrom: str = "error") -> np.ndarray:
        """Mean signal in ``n_bins`` equal bins of ``[start, end)`` (0-based half-open) → float32 ``(n_bins,)``.

        Bin ``i`` covers ``[start + i*L//n_bins, start + (i+1)*L//n_bins)`` with ``L = end - start``. Missing bases
        (gaps, or past the chromosome end) follow ``nan`` (see the module docstring). ``missing_chrom="zero"`` /
        ``"nan"`` fill the whole window for a chromosome the track lacks instead of raising.
        """
        if nan not in NAN_POLICIES:
            raise ValueError(f"nan must be one of {NAN_POLICIES}, got {nan!r}")
        start, end, n_bins = int(start), int(end), int(n_bins)
        if not 1 <= n_bins <= end - start:
            raise InputError(f"need 1 <= n_bins <= end - start, got n_bins={n_bins} for {chrom}:{start}-{end}",
                             path=self.path)
        if chrom not in self.chroms:
            if missing_chrom in ("zero", "nan"):
                return np.full(n_bins, 0.0 if missing_chrom == "zero" else np.nan, dtype=np.float32)
            known = list(self.chroms)
            shown = ", ".join(known[:8]) + (f", … ({len(known)} in all)" if len(known) > 8 else "")
            raise InputError(f"chromosome {chrom!r} is not in the bigWig; it has: {shown}", path=self.path,
                             hint="pass missing_chrom='zero' to treat absent chromosomes as no signal")
        v = self.values(chrom, start, end)
        has = ~np.isnan(v)
        if nan == "error" and not has.all():
            first = start + int(np.flatnonzero(~has)[0])
            where = "outside the chromosome" if first >= self.chroms[chrom] or first < 0 else "a base with no data"
            raise InputError(f"{chrom}:{first} in window {chrom}:{start}-{end} is {where}", path=self.path,
                             hint="use nan='zero' or nan='nan' (in Python, or a bigwig_track source's nan: key) "
                             "to allow missing data")
        edges = (np.arange(n_bins, dtype=np.int64) * (end - start)) // n_bins
        sums = np.add.reduceat(np.where(has, v, 0.0).astype(np.float64), edges)
        if nan == "nan":
            counts = np.add.reduceat(has.astype(np.int64), edges)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(counts > 0, sums / counts, np.nan).astype(np.float32)
        widths = np.diff(np.append(edges, end - start))
        return (sums / widths).astype(np.float32)


def check_bigwig_contigs(bw: BigWig, contigs: dict[str, int], required=None) -> None:
    """The track must describe the FASTA's assembly: every ``required`` chromosome (default: all of ``contigs``)
    present, and every chromosome the two share of the same length — a bigWig of another build (hg19 vs hg38)
    would otherwise give zero targets past its shorter ends, or signal at the wrong places."""
    from seq2gen.genome.aliases import naming_hint, shown
    required = list(contigs if required is None else required)
    missing = [c for c in required if c not in bw.chroms]
    if missing:     # reading them as zeros would silently bias every target there
        raise InputError(f"chromosome(s) {shown(missing)} of the FASTA are not in this bigWig; it has: "
                         f"{shown(bw.file_chroms)}", path=bw.path,
                         hint=naming_hint(bw.file_chroms, contigs) if not set(bw.chroms) & set(required)
                         else "write every chromosome the task uses into each track (or leave it out of the "
                              "splits)")
    for c, n in bw.chroms.items():
        if c in contigs and contigs[c] != n:
            raise InputError(f"{c} is {n:,} bp in this bigWig but {contigs[c]:,} bp in the FASTA: the track is "
                             "from another assembly", path=bw.path,
                             hint="use a bigWig made on the same genome build as the FASTA (or lift it over)")


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encode a per-base array into (starts, ends, values), dropping NaN runs (= no data)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return (np.empty(0, np.int64),) * 2 + (np.empty(0),)
    change = np.flatnonzero((v[1:] != v[:-1]) & ~(np.isnan(v[1:]) & np.isnan(v[:-1]))) + 1
    starts = np.concatenate([[0], change])
    ends = np.append(starts[1:], v.size)
    vals = v[starts]
    keep = ~np.isnan(vals)
    return starts[keep], ends[keep], vals[keep]


def write_bigwig(path: str | os.PathLike, chroms: dict[str, int], intervals: dict) -> Path:
    """Write a bigWig atomically. ``intervals[chrom]`` is ``(starts, ends, values)`` (0-based half-open, sorted,
    non-overlapping) or a per-base array of the chromosome's length (NaN = no data; equal neighbours are merged).
    """
    import pyBigWig

    path = Path(path)
    unknown = set(intervals) - set(chroms)
    if unknown:
        raise InputError(f"intervals given for chromosomes not in the header: {sorted(unknown)}", path=path)
    with atomic_path(path) as tmp:
        bw = pyBigWig.open(str(tmp), "w")
        try:
            bw.addHeader([(c, int(n)) for c, n in chroms.items()], maxZooms=10)
            for chrom in chroms:  # pyBigWig needs entries in header order
                if chrom not in intervals:
                    continue
                data = intervals[chrom]
                if isinstance(data, tuple) and len(data) == 3:
                    s, e, v = (np.asarray(x) for x in data)
                else:
                    if len(data) != chroms[chrom]:
                        raise InputError(f"per-base array for {chrom} has length {len(data)}, expected "
                                         f"{chroms[chrom]}", path=path)
                    s, e, v = _runs(data)
                s, e, v = s.astype(np.int64), e.astype(np.int64), v.astype(np.float64)
                if len(s) == 0:
                    continue
                if (e <= s).any() or (s[1:] < e[:-1]).any() or s[0] < 0 or e[-1] > chroms[chrom]:
                    raise InputError(f"intervals for {chrom} must be sorted, non-overlapping, non-empty and within "
                                     f"[0, {chroms[chrom]})", path=path)
                if not np.isfinite(v).all():
                    raise InputError(f"non-finite value in intervals for {chrom}", path=path)
                bw.addEntries([chrom] * len(s), s.tolist(), ends=e.tolist(), values=v.tolist())
        finally:
            bw.close()
    return path
