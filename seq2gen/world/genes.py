"""Layout and sequence of the synthetic genome: chromosomes, genes (exons, splice sites, promoters), enhancers,
repeats and N runs, all in *global* 0-based coordinates over the concatenated chromosomes.

Coordinates relative to a TSS are in gene orientation: ``rel = -300`` is 300 bp upstream whatever the strand.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .motifs import (ACCEPTOR_EXON_BASES, DONOR_EXON_BASES, LOWER, N_CODE, UPPER, Motif, revcomp,
                     sample_sites)

PROMOTER = (-300, 50)      # promoter window relative to the TSS, gene orientation, half-open
TF_SLOTS = (-300, -40, 13)  # TF sites go in 13-bp slots from -300 to -40 (one site per slot, jittered)
CORE_REL = -30             # TATA-like element start (gene orientation)
CORE_WINDOW = (-40, -20)   # the core element counts only for forward windows starting in this range
GAP_CLEAR = 400            # nothing but background within this distance of a gene end (promoters live there)


@dataclass
class Layout:
    """Everything placed in the genome. Intervals are global 0-based half-open."""

    chroms: list[str]
    lengths: list[int]
    offsets: np.ndarray                      # global start of each chromosome
    genes: list[dict] = field(default_factory=list)
    planted: dict = field(default_factory=dict)   # motif name -> list of (global start, strand, kind, gene index)
    repeats: list[tuple] = field(default_factory=list)  # (start, end, family, strand)
    n_runs: list[tuple] = field(default_factory=list)   # (start, end)

    def chrom_of(self, pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.offsets, pos, side="right") - 1

    def plant(self, motif: str, start: int, strand: str, kind: str, gene: int = -1) -> None:
        self.planted.setdefault(motif, []).append((start, strand, kind, gene))


def chrom_lengths(size: int, n_chrom: int) -> list[int]:
    """Human-like decreasing sizes (weight 1 / (1 + 0.15 i)); the rounding remainder goes to chr1."""
    w = 1.0 / (1.0 + 0.15 * np.arange(n_chrom))
    lengths = np.floor(size * w / w.sum()).astype(np.int64)
    lengths[0] += size - lengths.sum()
    return [int(x) for x in lengths]


def _gene_structure(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exon and intron lengths (gene orientation): 2-8 exons of 60-600 bp (first >= 80), introns 80-3000 bp."""
    n_ex = int(rng.integers(2, 9))
    exons = np.clip(np.round(rng.lognormal(np.log(150), 0.5, n_ex)), 60, 600).astype(np.int64)
    exons[0] = max(exons[0], 80)
    introns = np.clip(np.round(rng.lognormal(np.log(400), 0.8, n_ex - 1)), 80, 3000).astype(np.int64)
    return exons, introns


def to_genome(tss: int, strand: str, rel: int, length: int) -> int:
    """Global start of a ``length``-bp segment at gene-orientation offset ``rel`` from a TSS."""
    return tss + rel if strand == "+" else tss - rel - length + 1


def layout_genome(rng: np.random.Generator, chroms: list[str], lengths: list[int], motifs: dict[str, Motif],
                  gap_min: int = 1500, gap_mean: int = 3500, enhancer_spacing: int = 2500) -> Layout:
    """Place genes, promoter grammar, splice sites, enhancers, repeats and N runs along every chromosome."""
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    lay = Layout(chroms, lengths, offsets)
    activators = [m.name for m in motifs.values() if m.role == "activator"]
    repressors = [m.name for m in motifs.values() if m.role == "repressor"]
    mlen = {k: m.length for k, m in motifs.items()}
    for ci, (chrom, L) in enumerate(zip(chroms, lengths)):
        off = int(offsets[ci])
        tel = max(100, int(0.002 * L))
        lay.n_runs += [(off, off + tel), (off + L - tel, off + L)]
        cursor, gene_spans = tel, []
        while True:
            gap = gap_min + int(rng.exponential(gap_mean))
            exons, introns = _gene_structure(rng)
            span = int(exons.sum() + introns.sum())
            if cursor + gap + span + gap_min > L - tel:
                break
            g0 = cursor + gap
            gene_spans.append((g0, g0 + span))
            _add_gene(rng, lay, chrom, off + g0, span, exons, introns, activators, repressors, mlen)
            cursor = g0 + span
        bounds = [tel] + [x for s in gene_spans for x in s] + [L - tel]
        for a, b in zip(bounds[0::2], bounds[1::2]):
            _fill_gap(rng, lay, off + a + GAP_CLEAR, off + b - GAP_CLEAR, activators, repressors,
                      enhancer_spacing, mlen)
    return lay


def _add_gene(rng, lay: Layout, chrom: str, g0: int, span: int, exons, introns, activators, repressors,
              mlen: dict) -> None:
    gi = len(lay.genes)
    strand = "+" if rng.random() < 0.5 else "-"
    tss = g0 if strand == "+" else g0 + span - 1
    rel_starts = np.concatenate([[0], np.cumsum(exons[:-1] + introns)])
    ex = sorted((to_genome(tss, strand, int(r), int(e)), to_genome(tss, strand, int(r), int(e)) + int(e))
                for r, e in zip(rel_starts, exons))
    lay.genes.append({"gene_index": gi, "gene_id": f"G{gi + 1:06d}", "chrom": chrom, "start": g0, "end": g0 + span,
                      "strand": strand, "tss": tss, "exons": ex})
    for k in range(len(exons) - 1):   # splice sites, gene orientation
        d_rel = int(rel_starts[k] + exons[k] - DONOR_EXON_BASES)
        lay.plant("SPLICE_DONOR", to_genome(tss, strand, d_rel, 9), strand, "splice", gi)
        a_rel = int(rel_starts[k + 1] + ACCEPTOR_EXON_BASES - 15)
        lay.plant("SPLICE_ACCEPTOR", to_genome(tss, strand, a_rel, 15), strand, "splice", gi)
    # promoter grammar: 0-8 activator sites, 0-2 repressor sites in distinct slots, TATA at -30 with p = 0.6
    n_slots = (TF_SLOTS[1] - TF_SLOTS[0]) // TF_SLOTS[2]
    n_act, n_rep = int(rng.integers(0, 9)), int(rng.binomial(2, 0.25))
    slots = rng.choice(n_slots, size=n_act + n_rep, replace=False)
    names = list(rng.choice(activators, size=n_act)) + list(rng.choice(repressors, size=n_rep))
    for slot, name in zip(slots, names):
        site_strand = "+" if rng.random() < 0.5 else "-"
        rel = TF_SLOTS[0] + int(slot) * TF_SLOTS[2] + int(rng.integers(0, 2))
        L = mlen[name]
        genome_strand = site_strand if strand == "+" else ("-" if site_strand == "+" else "+")
        lay.plant(str(name), to_genome(tss, strand, rel, L), genome_strand, "promoter", gi)
    if rng.random() < 0.6:
        lay.plant("CORE_TATA", to_genome(tss, strand, CORE_REL, mlen["CORE_TATA"]), strand, "promoter", gi)


def _fill_gap(rng, lay: Layout, a: int, b: int, activators, repressors, spacing: int, mlen: dict) -> None:
    """Intergenic space [a, b): maybe a repeat, rarely an N run, and enhancer clusters of 1-3 TF sites."""
    if b - a < 300:
        return
    busy = []
    if rng.random() < 0.35:
        rl = int(rng.integers(150, 1000))
        if b - a > rl + 200:
            s = int(rng.integers(a, b - rl))
            lay.repeats.append((s, s + rl, int(rng.integers(0, 3)), "+" if rng.random() < 0.5 else "-"))
            busy.append((s, s + rl))
    if rng.random() < 0.02:
        nl = int(rng.integers(100, 1000))
        if b - a > nl + 200:
            s = int(rng.integers(a, b - nl))
            if all(s >= e or s + nl <= q for q, e in busy):
                lay.n_runs.append((s, s + nl))
                busy.append((s, s + nl))
    n_enh = int(rng.poisson((b - a) / spacing))
    for pos in np.sort(rng.integers(a, max(a + 1, b - 120), size=n_enh)):
        pos = int(pos)
        if any(pos < e + 50 and pos + 120 > q - 50 for q, e in busy):
            continue
        busy.append((pos, pos + 120))
        cursor = pos
        for _ in range(int(rng.integers(1, 4))):
            name = str(rng.choice(activators)) if rng.random() < 0.8 else str(rng.choice(repressors))
            lay.plant(name, cursor, "+" if rng.random() < 0.5 else "-", "enhancer", -1)
            cursor += mlen[name] + int(rng.integers(8, 25))


def build_sequence(rng: np.random.Generator, lay: Layout, motifs: dict[str, Motif],
                   background=(0.29, 0.21, 0.21, 0.29), repeat_divergence: float = 0.1, exon_background=None):
    """Global sequence codes (uint8) and soft-mask (bool): iid background (``exon_background`` inside exons, as
    real exons are GC-richer than introns), repeats, N runs, planted motifs."""
    total = int(sum(lay.lengths))
    cum = np.cumsum(background)[:3]
    codes = np.empty(total, dtype=np.uint8)
    step = 1 << 22
    for s in range(0, total, step):   # chunked to keep the float buffer small
        u = rng.random(min(step, total - s))
        codes[s:s + len(u)] = np.searchsorted(cum, u, side="right")
    if exon_background is not None:
        cum_ex = np.cumsum(exon_background)[:3]
        for s, e in (x for g in lay.genes for x in g["exons"]):
            codes[s:e] = np.searchsorted(cum_ex, rng.random(e - s), side="right")
    mask = np.zeros(total, dtype=bool)
    fams = [np.searchsorted(cum, rng.random(1200), side="right").astype(np.uint8) for _ in range(3)]
    for s, e, fam, strand in lay.repeats:
        src = int(rng.integers(0, 1200 - (e - s) + 1))
        seg = fams[fam][src:src + e - s].copy()
        mut = rng.random(len(seg)) < repeat_divergence
        seg[mut] = (seg[mut] + rng.integers(1, 4, size=int(mut.sum()))) % 4
        codes[s:e] = revcomp(seg) if strand == "-" else seg
        mask[s:e] = True
    for s, e in lay.n_runs:
        codes[s:e] = N_CODE
    for name in sorted(lay.planted):
        rows = lay.planted[name]
        m = motifs[name]
        starts = np.array([r[0] for r in rows], dtype=np.int64)
        minus = np.array([r[1] == "-" for r in rows])
        site = sample_sites(rng, m.pwm, len(rows))
        site[minus] = revcomp(site[minus])
        codes[starts[:, None] + np.arange(m.length)[None, :]] = site
    return codes, mask


def to_ascii(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 ASCII bytes with soft-masked (lowercase) repeats."""
    out = UPPER[codes]
    out[mask] = LOWER[codes[mask]]
    return out
