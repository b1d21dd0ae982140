"""``generate_world``: build the seeded synthetic genome world and write it in real formats (see docs/world.md)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..utils.io import atomic_write
from .genes import CORE_REL, GAP_CLEAR, TF_SLOTS, build_sequence, chrom_lengths, layout_genome, to_ascii
from .motifs import make_motifs
from .signals import (CHROMATIN, EXPRESSION, PEAKS, chromatin_tracks, peak_table, promoter_activity,
                      promoter_codes, scan_sites, site_occupancy)
from .variants import VARIANTS, make_variants

TISSUES = ("liver", "heart", "brain", "lung", "kidney")
BACKGROUND = (0.29, 0.21, 0.21, 0.29)  # A, C, G, T: GC 0.42
EXON_BACKGROUND = (0.24, 0.26, 0.26, 0.24)  # exons GC 0.52 (human: ~0.5 vs ~0.4 in introns): what annotation can read
FILES = {"genome": "genome.fa", "fai": "genome.fa.fai", "genes": "genes.gtf", "peaks": "peaks.bed",
         "expression": "expression.tsv", "variants": "variants.vcf", "manifest": "world.json"}


def generate_world(out_dir: str | os.PathLike, size: int = 500_000, seed: int = 0, n_chrom: int = 6,
                   tissues=TISSUES, progress: bool = False, style: str = "default") -> dict:
    """Write the world into ``out_dir`` and return its manifest (also ``out_dir/world.json``).

    Same arguments -> byte-identical files. Chromosomes ``chr1..chr{n_chrom}``; the last one is the test split,
    the one before it validation, the rest train. Every world also gets ``data_spec.yaml`` (``seq2gen data build
    --spec``); ``style="encode"`` writes real-world conventions instead (``seq2gen.world.styles``; the manifest
    is then ``truth.json``).
    """
    from .styles import STYLES
    if style not in STYLES:
        raise InputError(f"unknown world style {style!r}", hint=f"choose one of {', '.join(STYLES)}")
    if isinstance(tissues, str):
        raise InputError(f"tissues must be a list of names, got the string {tissues!r}", hint=f"use ({tissues!r},)")
    tissues = [str(t) for t in tissues]
    if n_chrom < 3:
        raise InputError(f"n_chrom={n_chrom} is too small", hint="need >= 3 chromosomes for train/validation/test")
    if size < 30_000 * n_chrom:
        raise InputError(f"size={size} is too small for {n_chrom} chromosomes",
                         hint=f"use size >= {30_000 * n_chrom}")
    if not tissues or len(set(tissues)) != len(tissues) or not all(t and t.isidentifier() for t in tissues):
        raise InputError(f"tissues must be distinct identifier-like names, got {tissues}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stage = _Stages(progress, total=12)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]

    stage("layout")
    motifs = make_motifs(streams[0], tissues, background=BACKGROUND)
    by_name = {m.name: m for m in motifs}
    chroms = [f"chr{i + 1}" for i in range(n_chrom)]
    lengths = chrom_lengths(size, n_chrom)
    lay = layout_genome(streams[1], chroms, lengths, by_name)
    stage("sequence")
    codes, mask = build_sequence(streams[2], lay, by_name, background=BACKGROUND, exon_background=EXON_BACKGROUND)
    stage("scan")
    sites = scan_sites(codes, lay, motifs)
    occ = site_occupancy(sites, motifs, tissues)
    stage("expression")
    f_ref = promoter_activity(promoter_codes(codes, lay.genes), motifs, tissues)
    log_expr = f_ref + streams[3].normal(0.0, EXPRESSION["noise_sd"], size=f_ref.shape)
    stage("variants")
    variants = make_variants(streams[4], codes, lay, motifs, tissues, f_ref)

    from ..genome.bigwig import write_bigwig
    from ..genome.fasta import write_fasta

    stage(FILES["genome"])
    ascii_ = to_ascii(codes, mask)
    write_fasta(out / FILES["genome"], {c: ascii_[o:o + n].tobytes().decode("ascii")
                                        for c, o, n in zip(chroms, lay.offsets, lengths)})
    del ascii_
    stage(FILES["genes"])
    _write_gtf(out / FILES["genes"], lay)
    stage(FILES["peaks"])
    peaks = peak_table(sites, occ, lay, motifs, tissues)
    _write_text(out / FILES["peaks"], ("\t".join(map(str, r)) + "\n" for r in peaks))
    stage("bigwig")
    tracks: dict[str, dict] = {t: {} for t in tissues}
    for chrom, tissue, values in chromatin_tracks(streams[5], codes, lay, sites, occ, motifs, tissues):
        tracks[tissue][chrom] = _bins_to_runs(values, CHROMATIN["bin"], lengths[chroms.index(chrom)])
    for t in tissues:
        write_bigwig(out / f"{t}.bw", dict(zip(chroms, lengths)), tracks[t])
    del tracks
    stage(FILES["expression"])
    _write_text(out / FILES["expression"], _expression_lines(lay, tissues, np.exp(log_expr)))
    stage(FILES["variants"])
    _write_text(out / FILES["variants"], _vcf_lines(variants, chroms, lengths, tissues, seed))
    stage(FILES["manifest"])
    from .styles import to_encode_style, write_default_spec
    manifest = _manifest(seed, size, chroms, lengths, tissues, motifs, lay, sites, peaks, variants)
    manifest["files"].update(write_default_spec(out, manifest))
    with atomic_write(out / FILES["manifest"]) as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    if style == "encode":
        manifest = to_encode_style(out, manifest)
    stage.close()
    return manifest


class _Stages:
    """A tqdm bar over named stages (no-op when ``progress`` is off): each call finishes the previous stage."""

    def __init__(self, progress: bool, total: int):
        self.bar, self.started = None, False
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="world", unit="stage")

    def __call__(self, name: str) -> None:
        if self.bar is not None:
            if self.started:
                self.bar.update(1)
            self.started = True
            self.bar.set_postfix_str(name)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.close()


def _bins_to_runs(values: np.ndarray, b: int, length: int):
    """Fixed-width bin values -> bedGraph-like runs (equal neighbours merged), clipped to the chromosome."""
    change = np.flatnonzero(values[1:] != values[:-1]) + 1
    first = np.concatenate([[0], change])
    starts = first * b
    ends = np.append(first[1:] * b, length)
    return starts, ends, values[first].astype(np.float64)


def _write_text(path: Path, lines) -> None:
    with atomic_write(path) as f:
        f.writelines(lines)


def _write_gtf(path: Path, lay) -> None:
    def line(chrom, feature, s, e, strand, attrs):
        return f"{chrom}\tseq2gen\t{feature}\t{s + 1}\t{e}\t.\t{strand}\t.\t{attrs}\n"

    out = ["#!genome-build seq2gen-world\n", "#!coordinates 1-based closed (GTF2)\n"]
    for g in lay.genes:
        off = int(lay.offsets[lay.chroms.index(g["chrom"])])
        gid = g["gene_id"]
        base = (f'gene_id "{gid}"; transcript_id "T{gid[1:]}"; gene_name "SG{gid[1:]}"; '
                f'gene_biotype "protein_coding";')
        s, e = g["start"] - off, g["end"] - off
        out.append(line(g["chrom"], "gene", s, e, g["strand"], base))
        out.append(line(g["chrom"], "transcript", s, e, g["strand"], base))
        ex = g["exons"] if g["strand"] == "+" else g["exons"][::-1]
        for k, (xs, xe) in enumerate(ex):
            out.append(line(g["chrom"], "exon", xs - off, xe - off, g["strand"], base + f' exon_number "{k + 1}";'))
    _write_text(path, out)


def _expression_lines(lay, tissues, expr: np.ndarray):
    yield "gene_id\t" + "\t".join(tissues) + "\n"
    for g, row in zip(lay.genes, expr):
        yield g["gene_id"] + "\t" + "\t".join(f"{v:.4f}" for v in row) + "\n"


def _vcf_lines(variants, chroms, lengths, tissues, seed):
    yield "##fileformat=VCFv4.2\n"
    yield f"##source=seq2gen.world(seed={seed})\n"
    yield "##reference=genome.fa\n"
    for c, n in zip(chroms, lengths):
        yield f"##contig=<ID={c},length={n}>\n"
    yield '##INFO=<ID=GENE,Number=1,Type=String,Description="gene_id whose promoter holds the variant (. if none)">\n'
    yield '##INFO=<ID=REGION,Number=1,Type=String,Description="promoter or enhancer">\n'
    yield ('##INFO=<ID=CLASS,Number=1,Type=String,Description="motif: hits a planted element or changes a motif '
           'affinity; neutral: neither (all effects exactly 0)">\n')
    yield '##INFO=<ID=MOTIF,Number=1,Type=String,Description="planted motif family hit (. if none)">\n'
    for t in tissues:
        yield (f'##INFO=<ID=EFFECT_{t},Number=1,Type=Float,Description="true effect on log expression in {t}: '
               f'f(alt promoter) - f(ref promoter); 0 outside promoters">\n')
    yield "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    for i, v in enumerate(variants):
        eff = ";".join(f"EFFECT_{t}={_num(x)}" for t, x in zip(tissues, v["effects"]))
        info = f"GENE={v['gene']};REGION={v['region']};CLASS={v['class']};MOTIF={v['motif']};{eff}"
        yield f"{v['chrom']}\t{v['pos'] + 1}\tsv{i + 1:06d}\t{v['ref']}\t{v['alt']}\t.\tPASS\t{info}\n"


def _num(x: float) -> str:
    s = f"{x:.6f}"
    return "0" if float(s) == 0 else s


def _manifest(seed, size, chroms, lengths, tissues, motifs, lay, sites, peaks, variants) -> dict:
    n = len(chroms)
    return {
        "format_version": 1,
        "generator": "seq2gen.world",
        "seed": int(seed),
        "size": int(size),
        "chromosomes": dict(zip(chroms, lengths)),
        "tissues": list(tissues),
        "splits": {"train": chroms[:n - 2], "validation": [chroms[n - 2]], "test": [chroms[n - 1]]},
        "files": dict(FILES, bigwig={t: f"{t}.bw" for t in tissues}),
        "columns": {"peaks": ["chrom", "start", "end", "name", "score", "strand", "tissue"],
                    "expression": ["gene_id"] + list(tissues),
                    "variants_info": ["GENE", "REGION", "CLASS", "MOTIF"] + [f"EFFECT_{t}" for t in tissues]},
        "motifs": [m.to_json() for m in motifs],
        "model": {
            "background": list(BACKGROUND),
            "exon_background": list(EXON_BACKGROUND),
            "score": "s = sum_j ln(pwm[j, x_j] / background[x_j]); a window containing N scores <= -20",
            "affinity": "a = sigmoid(s - threshold), threshold = max_score - delta; a = 0 where a < min_affinity",
            "occupancy": "occ[t] = a * levels[t]",
            "expression": dict(EXPRESSION, formula=(
                "log expr[g,t] = f[g,t] + eps[g,t], eps ~ N(0, noise_sd); f = b0 + sum over TF windows (both "
                "strands) fully inside the promoter of weights[role] * levels[t] * a + weights['core'] * "
                "levels[t] * a(CORE_TATA) over forward windows starting in core_window (TSS-relative, gene "
                "orientation); expression.tsv = exp(log expr)")),
            "chromatin": dict(CHROMATIN, formula=(
                "signal[t, bin] = background + amplitude * sum_sites occ[site,t] * exp(-(bin_centre - site_centre)^2"
                " / (2 bump_sd^2)); background = round(background_base + Exp(background_mean), 2) per block; 0 on N")),
            "peaks": dict(PEAKS, formula="one row per (TF site, tissue) with occ >= bound_occupancy; "
                                         "[centre - half_width, centre + half_width); score = round(1000 occ)"),
            "variants": dict(VARIANTS, formula="EFFECT_t = f(alt promoter)[t] - f(ref promoter)[t]; 0 for enhancers"),
            "layout": {"tf_slots": list(TF_SLOTS), "core_rel": CORE_REL, "gap_clear": GAP_CLEAR},
        },
        "counts": {"genes": len(lay.genes), "exons": int(sum(len(g["exons"]) for g in lay.genes)),
                   "tf_sites": int(len(sites["start"])),
                   "planted": {k: len(v) for k, v in sorted(lay.planted.items())},
                   "peaks": len(peaks), "variants": len(variants)},
    }
