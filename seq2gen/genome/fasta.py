"""Reference FASTA access: a strict, located check of the file once, then fast windowed fetches via pyfaidx.

Why strict: pyfaidx happily indexes files with duplicate names, stray characters or garbage before the first header,
and the model then trains on silently wrong sequence. We stream the file once when it is opened (``validate=True``,
about 1 s per 50 Mb) and name the file and line of the first problem. Fetches use genome coordinates (0-based,
half-open) and pad with ``N`` past contig ends, so a window near a telomere keeps its length.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from seq2gen.errors import InputError
from seq2gen.genome.io import atomic_path, atomic_write
from seq2gen.vocab.dna import reverse_complement  # noqa: F401  (re-exported; the one complement table)

#: IUPAC nucleotide codes (plus U), either case — anything else in a sequence line is an error.
IUPAC = "ACGTUNRYSWKMBDHV"
_ALLOWED = (IUPAC + IUPAC.lower()).encode()


def _record_name(header: bytes, path: Path, lineno: int) -> str:
    try:
        text = header[1:].decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("header is not UTF-8 text", path=path, line=lineno) from None
    parts = text.split()
    if not parts:
        raise InputError("empty sequence name after '>'", path=path, line=lineno)
    return parts[0]


def validate_fasta(path: str | os.PathLike) -> dict[str, int]:
    """Stream ``path`` once and raise ``InputError`` (file:line) for the first structural problem.

    Returns name → length, which ``Fasta`` compares with the ``.fai`` to catch a stale index.

    Checks: not empty; no text before the first header (``;`` comments and blank lines excepted); unique names;
    only IUPAC letters in sequence lines; every line of a record but the last has the same length (what a
    ``.fai`` index needs); blank lines only at the end of a record.
    """
    path = Path(path)
    names: dict[str, int] = {}
    lengths: dict[str, int] = {}
    width = width_bytes = width_line = 0   # bases / bytes / line number of the record's first sequence line
    short_line = 0      # line number of a short/blank line; only allowed as the record's last sequence line
    name = None
    with open(path, "rb") as f:
        head = f.read(2)
        if head == b"\x1f\x8b":
            raise InputError("gzip-compressed FASTA is not supported", path=path,
                             hint="decompress it with `gunzip -k` (or bgzip it and index with `samtools faidx`)")
        f.seek(0)
        lineno = 0
        for lineno, raw in enumerate(f, start=1):
            if raw.startswith(b">"):
                _check_not_empty(name, lengths, names, path)
                name = _record_name(raw, path, lineno)
                if name in names:
                    raise InputError(f"duplicate sequence name {name!r} (first defined at line {names[name]})",
                                     path=path, line=lineno, hint="sequence names must be unique")
                names[name] = lineno
                lengths[name] = 0
                width = width_line = short_line = 0
                continue
            seq = raw.rstrip(b"\r\n")
            if name is None:
                if not seq.strip() or seq.startswith(b";"):
                    continue
                raise InputError("sequence line before the first '>' header", path=path, line=lineno,
                                 hint="every sequence needs a '>name' line above it")
            bad = seq.translate(None, _ALLOWED)
            if bad:
                col = next(i for i, b in enumerate(seq) if b not in _ALLOWED)
                ch = repr(chr(seq[col])) if seq[col] < 128 else f"(byte 0x{seq[col]:02x}, not ASCII)"
                raise InputError(f"invalid character {ch} at column {col + 1} in sequence {name!r}",
                                 path=path, line=lineno, hint=f"allowed: IUPAC nucleotide codes {IUPAC}")
            if not seq:
                short_line = short_line or lineno
                continue
            if short_line:
                raise InputError(f"line length differs from the rest of sequence {name!r}: a short or blank line "
                                 f"(line {short_line}) is only allowed as the record's last line", path=path,
                                 line=lineno, hint="re-wrap the FASTA, e.g. `seqkit seq -w 60 in.fa > out.fa`")
            lengths[name] += len(seq)
            if not width:
                width, width_bytes, width_line = len(seq), len(raw), lineno
            elif len(seq) > width:
                raise InputError(f"line of {len(seq)} bases is longer than line {width_line} ({width} bases) of "
                                 f"sequence {name!r}; all lines of a record but the last must have the same length",
                                 path=path, line=lineno,
                                 hint="re-wrap the FASTA, e.g. `seqkit seq -w 60 in.fa > out.fa`")
            elif len(seq) < width:
                short_line = lineno
            elif raw.endswith(b"\n") and len(raw) != width_bytes:
                raise InputError(f"mixed line endings (\\n vs \\r\\n) in sequence {name!r}", path=path,
                                 line=lineno, hint="normalise line endings, e.g. `dos2unix`")
    if not names:
        raise InputError("empty FASTA: no '>' sequence header found" if lineno else "empty file", path=path,
                         line=lineno or None)
    _check_not_empty(name, lengths, names, path, last=True)
    return lengths


def _check_not_empty(name: str | None, lengths: dict, names: dict, path: Path, last: bool = False) -> None:
    """A header with no sequence after it: usually a truncated file (or a cut-off download)."""
    if name is not None and lengths[name] == 0:
        raise InputError(f"sequence {name!r} is empty (no bases after its header)", path=path, line=names[name],
                         hint="the file looks truncated; re-download or regenerate it" if last
                         else "remove the empty record")


def _wrap_pyfaidx_error(e: Exception, path: Path) -> InputError:
    """Turn pyfaidx's exceptions into a located InputError (its messages carry the line where it has one)."""
    m = re.search(r"line (\d+)", str(e))
    return InputError(f"cannot index FASTA: {e}", path=path, line=int(m.group(1)) if m else None,
                      hint="check the file with `samtools faidx`")


class Fasta:
    """A reference genome. ``Fasta(path).fetch("chr1", 100, 200, strand="-")`` → 100 uppercase bases.

    Picklable (reopens on unpickle without revalidating), so it can cross into DataLoader / datasets workers.
    """

    def __init__(self, path: str | os.PathLike, validate: bool = True):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("no such FASTA file", path=self.path)
        lengths = validate_fasta(self.path) if validate else None
        self._open()
        if lengths is not None and lengths != self.contigs:
            bad = next(k for k in {**lengths, **self.contigs} if self.contigs.get(k) != lengths.get(k))
            raise InputError(f"the index {self.path.name}.fai disagrees with the FASTA (sequence {bad!r}: "
                             f"{self.contigs.get(bad)} in the index, {lengths.get(bad)} in the file)",
                             path=self.path, hint=f"delete {self.path}.fai so it is rebuilt")

    def _open(self) -> None:
        import pyfaidx

        fai = Path(str(self.path) + ".fai")
        fresh = fai.exists() and fai.stat().st_mtime >= self.path.stat().st_mtime
        if not fresh and not os.access(self.path.parent, os.W_OK):
            raise self._unwritable(fai)
        try:
            self._fa = pyfaidx.Fasta(str(self.path), as_raw=True, sequence_always_upper=True,
                                     duplicate_action="stop")
        except pyfaidx.UnsupportedCompressionFormat as e:
            raise InputError(f"unsupported compression: {e}", path=self.path,
                             hint="decompress with `gunzip -k`") from None
        except (pyfaidx.FastaIndexingError, ValueError) as e:
            if fresh:                    # pyfaidx read the existing index rather than building one
                raise InputError(f"cannot read the FASTA index {fai.name} ({e})", path=fai,
                                 hint=f"delete {fai} so it is rebuilt") from None
            raise _wrap_pyfaidx_error(e, self.path) from None
        except OSError:
            if not fresh:
                raise self._unwritable(fai) from None
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
        core = self._fa[chrom][lo:hi] if hi > lo else ""
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
