"""Reference FASTA access: a strict, located check of the file once, then fast windowed fetches via pyfaidx.

Why strict: pyfaidx happily indexes files with duplicate names, stray characters or garbage before the first header,
and reads through an index that no longer matches the file — the model then trains on silently wrong sequence. We
stream the file once when it is opened (``validate=True``; ~2.5 s per 100 Mb plain, ~6 s bgzip, docs/conventions.md),
name the file and line of the first problem, and compare every ``.fai`` row (length, offset, line widths) with what
the stream saw. Fetches use genome coordinates (0-based, half-open) and pad with ``N`` past contig ends, so a window
near a telomere keeps its length.

Compression: bgzip (BGZF, what ``samtools faidx`` indexes) is read in place with its ``.fai`` + ``.gzi`` (built
when missing; Biopython's ``Bio.bgzf`` underneath). A plain-gzip FASTA cannot be read at random and is an error
that says how to recompress it.
"""
from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path
from typing import NamedTuple

from seq2gen.errors import InputError
from seq2gen.genome.io import atomic_path, atomic_write
from seq2gen.vocab.dna import reverse_complement  # noqa: F401  (re-exported; the one complement table)

#: IUPAC nucleotide codes (plus U), either case — anything else in a sequence line is an error.
IUPAC = "ACGTUNRYSWKMBDHV"
_ALLOWED = (IUPAC + IUPAC.lower()).encode()
_REWRAP = "re-wrap the FASTA, e.g. `seqkit seq -w 60 in.fa > out.fa`"
#: the first 16 bytes of every BGZF block: gzip magic, deflate, FEXTRA, …, the "BC" subfield
_BGZF_HEAD = (b"\x1f\x8b\x08\x04", b"BC")
BGZF_SUFFIXES = (".gz", ".bgz")


class FaiRow(NamedTuple):
    """One ``.fai`` line: bases, offset of the first base (uncompressed bytes), bases and bytes per line."""
    length: int
    offset: int
    linebases: int
    linebytes: int


def compression(path: str | os.PathLike) -> str:
    """``"bgzf"``, ``"gzip"`` or ``"none"``, told by the file's first bytes (not its name)."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:2] != b"\x1f\x8b":
        return "none"
    return "bgzf" if head[:4] == _BGZF_HEAD[0] and head[12:14] == _BGZF_HEAD[1] else "gzip"


def _gzip_hint(path: Path) -> str:
    name = path.name
    base = name[:-3] if name.endswith(".gz") else name
    return (f"recompress it with bgzip: `gunzip -c {name} | bgzip > {base}.bgz` (seq2gen then indexes it, or run "
            f"`samtools faidx {base}.bgz`), or decompress it: `gunzip -k {name}`")


def _open_stream(path: Path):
    kind = compression(path)
    if kind == "gzip":
        raise InputError("plain-gzip FASTA cannot be read at random positions", path=path, hint=_gzip_hint(path))
    return gzip.open(path, "rb") if kind == "bgzf" else open(path, "rb")


def _record_name(header: bytes, path: Path, lineno: int) -> str:
    try:
        text = header[1:].decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("header is not UTF-8 text", path=path, line=lineno) from None
    parts = text.split()
    if not parts:
        raise InputError("empty sequence name after '>'", path=path, line=lineno)
    return parts[0]


class _Record:
    """Running state of one record while streaming: where it starts, its line geometry, its last line."""

    __slots__ = ("name", "line", "offset", "length", "width", "width_bytes", "width_line", "short_line", "last")

    def __init__(self, name: str, line: int, offset: int):
        self.name, self.line, self.offset = name, line, offset
        self.length = self.width = self.width_bytes = self.width_line = self.short_line = 0
        self.last = b""


def _check_line(rec: _Record, raw: bytes, seq: bytes, lineno: int, path: Path) -> None:
    """One sequence line: IUPAC letters only, and the equal-width rule a ``.fai`` index needs."""
    bad = seq.translate(None, _ALLOWED)
    if bad:
        col = next(i for i, b in enumerate(seq) if b not in _ALLOWED)
        ch = repr(chr(seq[col])) if seq[col] < 128 else f"(byte 0x{seq[col]:02x}, not ASCII)"
        raise InputError(f"invalid character {ch} at column {col + 1} in sequence {rec.name!r} (base "
                         f"{rec.length + col + 1} of it)", path=path, line=lineno,
                         hint=f"allowed: IUPAC nucleotide codes {IUPAC}")
    if not seq:
        rec.short_line = rec.short_line or lineno
        return
    if rec.short_line:
        raise InputError(f"line length differs from the rest of sequence {rec.name!r}: a short or blank line "
                         f"(line {rec.short_line}) is only allowed as the record's last line", path=path,
                         line=lineno, hint=_REWRAP)
    rec.length += len(seq)
    rec.last = seq
    if not rec.width:
        rec.width, rec.width_bytes, rec.width_line = len(seq), len(raw), lineno
    elif len(seq) > rec.width:
        raise InputError(f"line of {len(seq)} bases is longer than line {rec.width_line} ({rec.width} bases) of "
                         f"sequence {rec.name!r}; all lines of a record but the last must have the same length",
                         path=path, line=lineno, hint=_REWRAP)
    elif len(seq) < rec.width:
        rec.short_line = lineno
    elif raw.endswith(b"\n") and len(raw) != rec.width_bytes:
        raise InputError(f"mixed line endings (\\n vs \\r\\n) in sequence {rec.name!r}", path=path,
                         line=lineno, hint="normalise line endings, e.g. `dos2unix`")


def _close(rec: _Record | None, rows: dict, tails: dict, path: Path, last: bool = False) -> None:
    """A header with no sequence after it is usually a truncated file (or a cut-off download)."""
    if rec is None:
        return
    if rec.length == 0:
        raise InputError(f"sequence {rec.name!r} is empty (no bases after its header)", path=path, line=rec.line,
                         hint="the file looks truncated; re-download or regenerate it" if last
                         else "remove the empty record")
    rows[rec.name] = FaiRow(rec.length, rec.offset, rec.width, rec.width_bytes)
    tails[rec.name] = rec.last.decode("ascii").upper()


def _scan(path: Path) -> tuple[dict[str, FaiRow], dict[str, str]]:
    rows: dict[str, FaiRow] = {}
    tails: dict[str, str] = {}
    header_at: dict[str, int] = {}
    rec, offset, lineno = None, 0, 0
    try:
        with _open_stream(path) as f:
            for lineno, raw in enumerate(f, start=1):
                offset += len(raw)
                if raw.startswith(b">"):
                    _close(rec, rows, tails, path)
                    name = _record_name(raw, path, lineno)
                    if name in header_at:
                        raise InputError(f"duplicate sequence name {name!r} (first defined at line "
                                         f"{header_at[name]})", path=path, line=lineno,
                                         hint="sequence names must be unique")
                    header_at[name] = lineno
                    rec = _Record(name, lineno, offset)
                    continue
                seq = raw.rstrip(b"\r\n")
                if rec is None:
                    if not seq.strip() or seq.startswith(b";"):
                        continue
                    raise InputError("sequence line before the first '>' header", path=path, line=lineno,
                                     hint="every sequence needs a '>name' line above it")
                _check_line(rec, raw, seq, lineno, path)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"cannot read the FASTA after line {lineno} ({e})", path=path,
                         hint="the file is truncated or corrupt: check it with `bgzip -t` / re-download it") from None
    if not header_at:
        raise InputError("empty FASTA: no '>' sequence header found" if lineno else "empty file", path=path,
                         line=lineno or None)
    _close(rec, rows, tails, path, last=True)
    return rows, tails


def scan_fasta(path: str | os.PathLike) -> dict[str, FaiRow]:
    """Stream ``path`` (plain or bgzip) once; raise ``InputError`` (file:line) for the first structural problem.

    Returns name → ``FaiRow``: exactly the ``.fai`` row the file needs, which ``Fasta`` compares with the index.
    Checks: not empty; no text before the first header (``;`` comments and blank lines excepted); unique names;
    only IUPAC letters in sequence lines; every line of a record but the last has the same length (what a
    ``.fai`` index needs); blank lines only at the end of a record.
    """
    return _scan(Path(path))[0]


def validate_fasta(path: str | os.PathLike) -> dict[str, int]:
    """``scan_fasta`` reduced to name → length."""
    return {k: r.length for k, r in scan_fasta(path).items()}


def _wrap_pyfaidx_error(e: Exception, path: Path) -> InputError:
    """Turn pyfaidx's exceptions into a located InputError (its messages carry the line where it has one)."""
    m = re.search(r"line (\d+)", str(e))
    return InputError(f"cannot index FASTA: {e}", path=path, line=int(m.group(1)) if m else None,
                      hint="check the file with `samtools faidx`")


def _index_disagrees(row: FaiRow, idx) -> bool:
    """Whether a ``.fai`` entry would read other bytes than the file holds (line widths matter only when the
    record has more than one line)."""
    if (idx.rlen, idx.offset) != (row.length, row.offset):
        return True
    if row.length > row.linebases:
        return (idx.lenc, idx.lenb) != (row.linebases, row.linebytes)
    return idx.lenc < row.length


#: how many contigs (largest first) a bgzip FASTA's ``.gzi`` is probed on after opening
GZI_PROBES = 1000


class Fasta:
    """A reference genome. ``Fasta(path).fetch("chr1", 100, 200, strand="-")`` → 100 uppercase bases.

    Plain or bgzip (``.gz``/``.bgz``, with ``.fai`` + ``.gzi``). Picklable (reopens on unpickle without
    revalidating), so it can cross into DataLoader / datasets workers.
    """

    def __init__(self, path: str | os.PathLike, validate: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such FASTA file", path=self.path)
        scanned = _scan(self.path) if validate else None
        self._open()
        if scanned is not None:
            self._check_index(*scanned)

    def _check_index(self, rows: dict[str, FaiRow], tails: dict[str, str]) -> None:
        """The index must describe this file: same records, and every row pointing at the bytes the scan saw."""
        index = self._fa.faidx.index
        fai = f"{self.path.name}.fai"
        hint = f"delete {self.path}.fai" + (" and .gzi" if self.bgzf else "") + " so it is rebuilt"
        for name in {**rows, **index}:
            if name not in index or name not in rows:
                where = "the FASTA but not the index" if name in rows else "the index but not the FASTA"
                raise InputError(f"the index {fai} disagrees with the FASTA: sequence {name!r} is in {where}",
                                 path=self.path, hint=hint)
            if _index_disagrees(rows[name], index[name]):
                r, i = rows[name], index[name]
                raise InputError(f"the index {fai} disagrees with the FASTA (sequence {name!r}: index says "
                                 f"{i.rlen} bases at byte {i.offset}, {i.lenc}/{i.lenb} per line; the file has "
                                 f"{r.length} at byte {r.offset}, {r.linebases}/{r.linebytes})", path=self.path,
                                 hint=hint)
        if self.bgzf:          # the .gzi maps those offsets into compressed blocks: read back each contig's end
            for name in sorted(rows, key=lambda n: -rows[n].length)[:GZI_PROBES]:
                n, tail = rows[name].length, tails[name]
                try:
                    got = self.fetch(name, n - len(tail), n)
                except InputError as e:
                    got = f"<{e}>"
                if got != tail:
                    raise InputError(f"the index {self.path.name}.gzi reads other bytes than the file at the end of "
                                     f"{name!r} ({name}:{n - len(tail) + 1}-{n}: {got[:60]!r}, the file has "
                                     f"{tail[:20]!r})", path=self.path, hint=hint)

    def _open(self) -> None:
        import pyfaidx

        kind = compression(self.path)
        self.bgzf = kind == "bgzf"
        if self.bgzf and not self.path.name.lower().endswith(BGZF_SUFFIXES):
            raise InputError("bgzip-compressed FASTA whose name does not end in .gz or .bgz", path=self.path,
                             hint=f"rename it to {self.path.name}.gz (the index reader goes by the name)")
        if kind == "gzip":
            raise InputError("plain-gzip FASTA cannot be read at random positions", path=self.path,
                             hint=_gzip_hint(self.path))
        indexes = [Path(str(self.path) + ".fai")] + ([Path(str(self.path) + ".gzi")] if self.bgzf else [])
        mtime = self.path.stat().st_mtime
        fresh = all(p.exists() and p.stat().st_mtime >= mtime for p in indexes)
        if not fresh and not os.access(self.path.parent, os.W_OK):
            raise self._unwritable(indexes[0])
        try:
            self._fa = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=True,
                                     duplicate_action="stop")
        except ImportError as e:       # bgzip needs Bio.bgzf (biopython, a seq2gen dependency)
            raise InputError(f"cannot read a bgzip FASTA: {e}", path=self.path,
                             hint="install biopython (`pip install biopython`) or decompress the FASTA") from None
        except pyfaidx.UnsupportedCompressionFormat as e:
            raise InputError(f"unsupported compression: {e}", path=self.path, hint=_gzip_hint(self.path)) from None
        except (pyfaidx.FastaIndexingError, ValueError) as e:
            if fresh:                    # pyfaidx read the existing index rather than building one
                raise InputError(f"cannot read the FASTA index {indexes[0].name} ({e})", path=indexes[0],
                                 hint=f"delete {indexes[0]} so it is rebuilt") from None
            raise _wrap_pyfaidx_error(e, self.path) from None
        except OSError:
            if not fresh:
                raise self._unwritable(indexes[0]) from None
            raise
        self.contigs: dict[str, int] = {k: len(v) for k, v in self._fa.records.items()}

    def _unwritable(self, fai: Path) -> InputError:
        return InputError(f"the FASTA index {fai.name} is missing or stale and cannot be written here "
                          "(read-only directory)", path=self.path,
                          hint=f"index it as a user who can write there: `samtools faidx {self.path}` (or "
                               f"`pyfaidx {self.path}`), or copy the FASTA to a writable directory")

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]
        self._open()

    def __repr__(self) -> str:
        return f"Fasta({str(self.path)!r}, {len(self.contigs)} contigs)"

    def __contains__(self, chrom: str) -> bool:
        return chrom in self.contigs

    def close(self) -> None:
        self._fa.close()

    def __enter__(self) -> "Fasta":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_contig(self, chrom: str) -> int:
        """Length of ``chrom``; unknown name → InputError listing the first known contigs."""
        try:
            return self.contigs[chrom]
        except KeyError:
            known = list(self.contigs)
            shown = ", ".join(known[:8]) + (f", … ({len(known)} in all)" if len(known) > 8 else "")
            raise InputError(f"unknown contig {chrom!r}; the FASTA has: {shown}", path=self.path,
                             hint="check the chromosome naming (e.g. 'chr1' vs '1')") from None

    def _read(self, chrom: str, lo: int, hi: int) -> str:
        """pyfaidx read of an in-bounds slice; any failure (a file changed or cut since indexing) is located."""
        import pyfaidx
        try:
            core = self._fa[chrom][lo:hi]
        except (pyfaidx.FetchError, ValueError, OSError, EOFError, zlib.error) as e:
            raise InputError(f"cannot read {chrom}:{lo + 1}-{hi} ({type(e).__name__}: {e})", path=self.path,
                             hint="the FASTA changed or was truncated after indexing: delete its .fai/.gzi "
                                  "and reopen it") from None
        if len(core) != hi - lo:
            raise InputError(f"read {len(core)} bases for {chrom}:{lo + 1}-{hi} ({hi - lo} expected)",
                             path=self.path, hint="the FASTA changed or was truncated after indexing: delete its "
                                                  ".fai/.gzi and reopen it")
        return core

    def fetch(self, chrom: str, start: int, end: int, strand: str = "+") -> str:
        """Bases of ``chrom:[start, end)`` (0-based, half-open), uppercase, ``N`` where the window leaves the contig.

        ``strand="-"`` returns the reverse complement (IUPAC-aware), i.e. the sequence read 5'→3' on the minus strand.
        """
        length = self.check_contig(chrom)
        start, end = int(start), int(end)
        if end < start:
            raise InputError(f"fetch {chrom}:{start}-{end}: end < start", path=self.path)
        if strand not in ("+", "-"):
            raise InputError(f"strand must be '+' or '-', got {strand!r}", path=self.path)
        lo, hi = max(start, 0), min(end, length)
        core = self._read(chrom, lo, hi) if hi > lo else ""
        seq = "N" * (min(lo, end) - start) + core + "N" * (end - max(hi, start))
        return reverse_complement(seq) if strand == "-" else seq

    def sequences(self):
        """Each contig's whole sequence, in file order (e.g. to learn sentencepiece pieces from)."""
        return (self.fetch(name, 0, length) for name, length in self.contigs.items())


def write_fasta(path: str | os.PathLike, records: dict[str, str], width: int = 60) -> Path:
    """Write ``records`` (name → sequence) wrapped at ``width`` plus a matching ``.fai``, both atomically.

    The index is computed here rather than by re-reading the file, and written after the FASTA so it is never
    older than it (pyfaidx would otherwise rebuild it).
    """
    path = Path(path)
    if width < 1:
        raise ValueError("width must be >= 1")
    if not records:
        raise InputError("no records to write", path=path)
    fai_rows = []
    offset = 0
    with atomic_write(path, "wb") as f:
        for name, seq in records.items():
            if not name or any(c.isspace() for c in name) or name.startswith(">"):
                raise InputError(f"invalid sequence name {name!r} (must be non-empty, no whitespace)", path=path)
            data = seq.encode("ascii", errors="replace")
            if data.translate(None, _ALLOWED):
                bad = next(c for c in seq if c.encode("ascii", errors="replace") not in _ALLOWED)
                raise InputError(f"sequence {name!r} contains non-IUPAC character {bad!r}", path=path)
            header = b">" + name.encode() + b"\n"
            offset += len(header)
            body = b"".join(data[i:i + width] + b"\n" for i in range(0, len(data), width))
            f.write(header + body)
            lenc = min(width, len(data))
            fai_rows.append(f"{name}\t{len(data)}\t{offset}\t{lenc}\t{lenc + 1 if lenc else 0}\n")
            offset += len(body)
    with atomic_path(str(path) + ".fai") as tmp:
        tmp.write_text("".join(fai_rows))
    return path
