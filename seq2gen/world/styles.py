"""How the world's files are laid out: every world gets a data spec (``data_spec.yaml`` + ``samples.tsv``), so it
enters ``seq2gen data build --spec`` like a user's genome; ``style="encode"`` rewrites the files in the
conventions of real downloads so the real-data path runs end to end on small data (docs/own-data.md):

- ``genome.fa.gz``: BGZF-compressed FASTA (what ``bgzip`` writes);
- ``gencode.gtf``: GENCODE-like attributes (``gene_type``, versioned ``ENSG…``/``ENST…`` ids, ``level``);
- ``peaks/<tissue>.narrowPeak``: one 10-column narrowPeak per cell type, Ensembl names (``1``) in every other one;
- ``expression.gct``: GTEx GCT v1.2, unversioned Ensembl ids, GTEx-style column names (``Liver``);
- ``variants.vcf.gz``: BGZF VCF with ``##INFO`` headers, Ensembl chromosome names and two genotype columns;
- ``<tissue>.bigWig`` (chr names), ``truth.json`` (the world manifest, for ground truth; no ``world.json``).
"""
from __future__ import annotations

import json
import os
import re
import struct
import zlib
from pathlib import Path

from ..genome.io import atomic_write

STYLES = ("default", "encode")
SPEC = "data_spec.yaml"
SHEET = "samples.tsv"


def write_bgzf(path: str | os.PathLike, data: bytes, block: int = 0xFF00) -> Path:
    """Write ``data`` as BGZF (what ``bgzip`` writes: gzip members of ≤ 64 KiB with a ``BC`` extra field, then the
    empty EOF block), readable by ``gzip``, ``tabix`` and ``samtools``. Used by the ``--style encode`` world."""
    with atomic_write(path, "wb") as f:
        for i in range(0, len(data), block):
            f.write(_bgzf_block(data[i:i + block]))
        f.write(_bgzf_block(b""))
    return Path(path)


def _bgzf_block(chunk: bytes) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = comp.compress(chunk) + comp.flush()
    header = struct.pack("<4BI2BH2BHH", 31, 139, 8, 4, 0, 0, 255, 6, 66, 67, 2, len(body) + 25)
    return header + body + struct.pack("<II", zlib.crc32(chunk) & 0xFFFFFFFF, len(chunk))


def _yaml(path: Path, spec: dict, comment: str) -> None:
    import yaml
    with atomic_write(path) as f:
        f.write(comment)
        yaml.safe_dump(spec, f, sort_keys=False, default_flow_style=None)


def _sheet(path: Path, rows: list[tuple]) -> None:
    with atomic_write(path) as f:
        f.write("assay\tcell_type\tfile\ttarget\n")
        f.writelines("\t".join(r) + "\n" for r in rows)


def write_default_spec(out: Path, manifest: dict) -> dict:
    """Per-tissue peak BEDs, ``samples.tsv`` and ``data_spec.yaml`` over the default world's own files; returns the
    file names to add to the manifest. Same rows as ``--world`` (``consensus: exact``: the world's peaks are site
    calls that share coordinates across tissues)."""
    tissues, files = manifest["tissues"], manifest["files"]
    by_tissue: dict[str, list[str]] = {t: [] for t in tissues}
    for line in (out / files["peaks"]).read_text().splitlines():
        cells = line.split("\t")
        by_tissue[cells[6]].append("\t".join(cells[:6]) + "\n")
    peak_files = {t: f"peaks.{t}.bed" for t in tissues}
    for t, lines in by_tissue.items():
        with atomic_write(out / peak_files[t]) as f:
            f.writelines(lines)
    rows = [("TF_ChIP-seq", t, peak_files[t], "TF") for t in tissues]
    rows += [("signal", t, files["bigwig"][t], "") for t in tissues]
    _sheet(out / SHEET, rows)
    s = manifest["splits"]
    spec = {"name": f"seq2gen world (seed {manifest['seed']})", "genome": files["genome"],
            "annotation": files["genes"], "samples": {"sheet": SHEET, "consensus": "exact"},
            "expression": files["expression"], "variants": {"file": files["variants"],
                                                            "effect": {"info": "EFFECT_{tissue}"}},
            "splits": {"train": s["train"], "validation": s["validation"], "test": s["test"]},
            "tissues": list(tissues)}
    _yaml(out / SPEC, spec, "# Written by seq2gen.world: the world as a data spec (docs/own-data.md).\n")
    return {"spec": SPEC, "samples": SHEET, "peaks_by_tissue": peak_files}


def ensembl(chrom: str) -> str:
    return chrom[3:] if chrom.startswith("chr") else chrom


def ensg(gid: str, kind: str = "G", version: bool = True) -> str:
    """World id ``G000042`` → ``ENSG00000000042.3`` (version 1 + index mod 3, so versions differ)."""
    n = int(gid[1:])
    return f"ENS{kind}{n:011d}" + (f".{1 + n % 3}" if version else "")


def to_encode_style(out: Path, manifest: dict) -> dict:
    """Rewrite a freshly generated default world in ``out`` into the encode-style files; returns the new
    manifest (also written as ``truth.json``). The default-style files are removed."""
    files, tissues = manifest["files"], manifest["tissues"]
    write_bgzf(out / "genome.fa.gz", (out / files["genome"]).read_bytes())
    _gencode_gtf(out / files["genes"], out / "gencode.gtf")
    peak_files = _narrowpeaks(out, out / files["peaks"], tissues)
    _gct(out / files["expression"], out / "expression.gct")
    _vcf(out / files["variants"], out / "variants.vcf.gz")
    bigwigs = {}
    for t in tissues:
        bigwigs[t] = f"{t}.bigWig"
        (out / files["bigwig"][t]).replace(out / bigwigs[t])
    for key in ("genome", "fai", "genes", "peaks", "expression", "variants", "manifest"):
        (out / files[key]).unlink(missing_ok=True)
    for key in ("spec", "samples"):
        (out / files[key]).unlink(missing_ok=True)
    for f in files.get("peaks_by_tissue", {}).values():
        (out / f).unlink(missing_ok=True)
    rows = [("TF_ChIP-seq", t.upper() if i % 2 else t.capitalize(), peak_files[t], "TF")
            for i, t in enumerate(tissues)]
    rows += [("DNase-seq", t.capitalize(), bigwigs[t], "") for t in tissues]
    _sheet(out / SHEET, rows)
    s = manifest["splits"]
    spec = {"name": f"seq2gen world, encode style (seed {manifest['seed']})", "genome": "genome.fa.gz",
            "annotation": {"file": "gencode.gtf", "gene_types": ["protein_coding"]},
            "samples": {"sheet": SHEET, "peaks": {"assay": "TF_ChIP-seq"}, "signal": {"assay": "DNase-seq"}},
            "expression": {"file": "expression.gct"},
            "variants": {"file": "variants.vcf.gz", "effect": {"info": "EFFECT_{tissue}"}},
            "splits": {"train": "rest", "validation": [ensembl(c) for c in s["validation"]], "test": s["test"]},
            "aliases": "auto"}
    _yaml(out / SPEC, spec, "# Written by seq2gen.world --style encode (docs/own-data.md).\n")
    new = dict(manifest, style="encode", files={"genome": "genome.fa.gz", "genes": "gencode.gtf",
                                                "peaks_by_tissue": peak_files, "expression": "expression.gct",
                                                "variants": "variants.vcf.gz", "bigwig": bigwigs, "spec": SPEC,
                                                "samples": SHEET, "manifest": "truth.json"})
    with atomic_write(out / "truth.json") as f:
        json.dump(new, f, indent=1)
        f.write("\n")
    return new


def _gencode_gtf(src: Path, dst: Path) -> None:
    def attrs(m: re.Match) -> str:
        g = m.group(1)
        return (f'gene_id "{ensg("G" + g)}"; transcript_id "{ensg("G" + g, "T")}"; gene_type "protein_coding"; '
                f'gene_name "SG{g}"; transcript_type "protein_coding"; level 2;')
    pat = re.compile(r'gene_id "G(\d+)"; transcript_id "T\d+"; gene_name "SG\d+"; gene_biotype "protein_coding";')
    lines = ["##description: seq2gen world, GENCODE-style attributes\n", "##provider: seq2gen\n"]
    for line in src.read_text().splitlines(keepends=True):
        if not line.startswith("#"):
            line = pat.sub(attrs, line).replace("\tseq2gen\t", "\tHAVANA\t")
            lines.append(line)
    with atomic_write(dst) as f:
        f.writelines(lines)


def _narrowpeaks(out: Path, src: Path, tissues: list[str]) -> dict[str, str]:
    (out / "peaks").mkdir(exist_ok=True)
    rows: dict[str, list[str]] = {t: [] for t in tissues}
    for i, line in enumerate(src.read_text().splitlines()):
        c = line.split("\t")
        chrom = ensembl(c[0]) if tissues.index(c[6]) % 2 else c[0]
        s, e, score = int(c[1]), int(c[2]), int(c[4])
        rows[c[6]].append(f"{chrom}\t{s}\t{e}\tpeak{i + 1}\t{score}\t.\t{score / 100:.2f}\t-1\t-1\t{(e - s) // 2}\n")
    names = {}
    for t in tissues:
        names[t] = f"peaks/{t}.narrowPeak"
        with atomic_write(out / names[t]) as f:
            f.writelines(rows[t])
    return names


def _gct(src: Path, dst: Path) -> None:
    lines = src.read_text().splitlines()
    head = lines[0].split("\t")
    body = [ln.split("\t", 1) for ln in lines[1:] if ln]
    with atomic_write(dst) as f:
        f.write(f"#1.2\n{len(body)}\t{len(head) - 1}\n")
        f.write("Name\tDescription\t" + "\t".join(t.capitalize() for t in head[1:]) + "\n")
        f.writelines(f"{ensg(g, version=False)}\tSG{g[1:]}\t{rest}\n" for g, rest in body)


def _vcf(src: Path, dst: Path) -> None:
    out = []
    for line in src.read_text().splitlines():
        if line.startswith("##contig=<ID=chr"):
            line = line.replace("ID=chr", "ID=", 1)
        elif line.startswith("##INFO=<ID=MOTIF"):
            out.append(line)
            line = '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">'
        elif line.startswith("#CHROM"):
            line += "\tFORMAT\tS1\tS2"
        elif not line.startswith("#"):
            c = line.split("\t")
            c[0] = ensembl(c[0])
            c[7] = re.sub(r"GENE=G(\d+)", lambda m: f"GENE={ensg('G' + m.group(1))}", c[7])
            line = "\t".join(c + ["GT", "0|1", "1|1"])
        out.append(line)
    write_bgzf(dst, ("\n".join(out) + "\n").encode())
