"""Genome-sized files in real formats for ``bench_build.py``, written chromosome by chromosome (flat memory):
random DNA (plain FASTA + .fai), a GENCODE-like GTF, one narrowPeak and one bigWig per cell type, a GTEx GCT, a
VCF with per-tissue effects, a sample sheet and a data spec. No biology: only the sizes and formats matter here.

Densities follow the human genome (GRCh38: ~20k protein-coding genes, ~10 peaks per Mb per cell type in a typical
TF ChIP-seq, ~1 variant per 10 kb in the test VCF); chromosome lengths are GRCh38's, scaled to ``size``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

GRCH38 = [248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973, 145138636, 138394717,
          133797422, 135086622, 133275309, 114364328, 107043718, 101991189, 90338345, 83257441, 80373285, 58617616,
          64444167, 46709983, 50818468, 156040895, 57227415]
NAMES = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]
TISSUES = ["liver", "heart", "brain", "lung", "kidney"]
GENES_PER_MB, PEAKS_PER_MB, VARIANTS_PER_MB, BLOCK = 6.5, 10.0, 100.0, 1000
LUT = np.frombuffer(b"ACGT", dtype=np.uint8)


def lengths(size: int) -> dict[str, int]:
    w = np.asarray(GRCH38, dtype=np.float64)
    n = np.floor(size * w / w.sum()).astype(np.int64)
    n[0] += size - n.sum()
    return dict(zip(NAMES, n.tolist()))


def _fasta(path: Path, chroms: dict[str, int], rng) -> None:
    width, fai, offset = 60, [], 0
    with open(path, "wb") as f:
        for name, n in chroms.items():
            head = f">{name}\n".encode()
            f.write(head)
            offset += len(head)
            fai.append(f"{name}\t{n}\t{offset}\t{width}\t{width + 1}\n")
            for s in range(0, n, 6_000_000):                   # 6 Mb at a time: 100 000 full lines
                m = min(6_000_000, n - s)
                seq = LUT[rng.integers(0, 4, size=m, dtype=np.uint8)]
                if s == 0:
                    seq[:10_000] = ord("N")                    # telomere-like N runs at both ends
                if s + m == n:
                    seq[-10_000:] = ord("N")
                full = m // width * width
                lines = np.full((full // width, width + 1), ord("\n"), dtype=np.uint8)
                lines[:, :width] = seq[:full].reshape(-1, width)
                f.write(lines.tobytes())
                if m > full:
                    f.write(seq[full:].tobytes() + b"\n")
                offset += full // width * (width + 1) + ((m - full + 1) if m > full else 0)
    Path(str(path) + ".fai").write_text("".join(fai))


def _genes(chroms: dict[str, int], rng) -> list[tuple]:
    out, k = [], 0
    for name, n in chroms.items():
        g = max(1, int(n / 1e6 * GENES_PER_MB))
        slots = np.arange(20_000, n - 40_000, 30_000)
        starts = np.sort(rng.choice(slots, size=min(g, slots.size), replace=False))
        for s in starts.tolist():
            k += 1
            out.append((name, s, k, "+" if rng.random() < 0.5 else "-"))
    return out


def _gtf(path: Path, genes: list[tuple]) -> None:
    with open(path, "w") as f:
        f.write("##description: synthetic, GENCODE-like\n")
        for chrom, s, k, strand in genes:
            gid, tid = f"ENSG{k:011d}.{1 + k % 4}", f"ENST{k:011d}.1"
            a = f'gene_id "{gid}"; transcript_id "{tid}"; gene_type "protein_coding"; gene_name "G{k}"; level 2;'
            ex = [(s, s + 300), (s + 2000, s + 2200), (s + 5000, s + 5600)]
            f.write(f"{chrom}\tHAVANA\tgene\t{s + 1}\t{s + 5600}\t.\t{strand}\t.\t{a}\n")
            f.write(f"{chrom}\tHAVANA\ttranscript\t{s + 1}\t{s + 5600}\t.\t{strand}\t.\t{a}\n")
            for i, (xs, xe) in enumerate(ex if strand == "+" else ex[::-1]):
                f.write(f"{chrom}\tHAVANA\texon\t{xs + 1}\t{xe}\t.\t{strand}\t.\t{a} exon_number {i + 1};\n")


def _peaks_and_tracks(out: Path, chroms: dict[str, int], rng) -> None:
    from seq2gen.genome import write_bigwig
    for t in TISSUES:
        tracks = {}
        with open(out / f"{t}.narrowPeak", "w") as f:
            for name, n in chroms.items():
                k = max(1, int(n / 1e6 * PEAKS_PER_MB))
                c = np.sort(rng.integers(20_000, n - 20_000, size=k))
                f.writelines(f"{name}\t{x - 150}\t{x + 150}\tpeak\t{500}\t.\t5.0\t-1\t-1\t150\n" for x in c.tolist())
                starts = np.arange(0, n, BLOCK, dtype=np.int64)
                vals = rng.exponential(0.2, size=starts.size).round(2)
                tracks[name] = (starts, np.minimum(starts + BLOCK, n), vals)
        write_bigwig(out / f"{t}.bw", chroms, tracks)
        del tracks


def _gct(path: Path, genes: list[tuple], rng) -> None:
    with open(path, "w") as f:
        f.write(f"#1.2\n{len(genes)}\t{len(TISSUES)}\nName\tDescription\t"
                + "\t".join(t.capitalize() for t in TISSUES) + "\n")
        vals = rng.lognormal(1.0, 1.5, size=(len(genes), len(TISSUES)))
        f.writelines(f"ENSG{k:011d}\tG{k}\t" + "\t".join(f"{v:.3f}" for v in row) + "\n"
                     for (_, _, k, _), row in zip(genes, vals))


def _vcf(path: Path, fasta: Path, chroms: dict[str, int], rng) -> None:
    import pyfaidx
    fa = pyfaidx.Fasta(str(fasta), as_raw=True)
    with open(path, "w") as f:
        f.write("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c},length={n}>\n" for c, n in chroms.items()))
        f.writelines(f'##INFO=<ID=EFFECT_{t},Number=1,Type=Float,Description="effect in {t}">\n' for t in TISSUES)
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for name, n in chroms.items():
            pos = np.unique(rng.integers(20_000, n - 20_000, size=max(1, int(n / 1e6 * VARIANTS_PER_MB))))
            seq = fa[name]
            eff = rng.normal(0, 0.3, size=(pos.size, len(TISSUES)))
            for p, e in zip(pos.tolist(), eff):
                ref = seq[p].upper()
                alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
                info = ";".join(f"EFFECT_{t}={x:.4f}" for t, x in zip(TISSUES, e))
                f.write(f"{name}\t{p + 1}\t.\t{ref}\t{alt}\t.\tPASS\t{info}\n")


def write_files(out: Path, size: int, seed: int = 0) -> Path:
    """Write every file and ``data_spec.yaml`` into ``out``; returns the spec's path."""
    import yaml
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chroms = lengths(size)
    _fasta(out / "genome.fa", chroms, rng)
    genes = _genes(chroms, rng)
    _gtf(out / "genes.gtf", genes)
    _peaks_and_tracks(out, chroms, rng)
    _gct(out / "expression.gct", genes, rng)
    _vcf(out / "variants.vcf", out / "genome.fa", chroms, rng)
    rows = [f"TF_ChIP-seq\t{t}\t{t}.narrowPeak\tCTCF" for t in TISSUES] + [f"DNase-seq\t{t}\t{t}.bw\t"
                                                                          for t in TISSUES]
    (out / "samples.tsv").write_text("assay\tcell_type\tfile\ttarget\n" + "\n".join(rows) + "\n")
    spec = {"genome": "genome.fa", "annotation": "genes.gtf", "samples": "samples.tsv",
            "expression": "expression.gct", "variants": "variants.vcf",
            "splits": {"train": "rest", "validation": ["chr8"], "test": ["chr9"]}}
    (out / "data_spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return out / "data_spec.yaml"
