"""Ground-truth functions of the world: site scan, promoter activity f, expression, chromatin signal, peaks.

All of them read the same motif affinities (``Motif.scores`` -> ``Motif.affinity``) and the same tissue levels,
so promoter, TF-binding, chromatin, expression and variant tasks share one motif -> tissue logic.
"""
from __future__ import annotations

import numpy as np

from .genes import CORE_WINDOW, PROMOTER, Layout, to_genome
from .motifs import N_CODE, TF_ROLES, Motif, revcomp

EXPRESSION = {"b0": -0.5, "weights": {"activator": 2.0, "repressor": -2.0, "core": 1.0}, "noise_sd": 0.3,
              "promoter": list(PROMOTER), "core_window": list(CORE_WINDOW)}
CHROMATIN = {"bin": 10, "amplitude": 4.0, "bump_sd": 60.0, "bump_halfwidth_bins": 18, "block": 200,
             "background_base": 0.05, "background_mean": 0.05, "decimals": 2}
PEAKS = {"bound_occupancy": 0.5, "half_width": 100}


def promoter_activity(prom: np.ndarray, motifs: list[Motif], tissues, params: dict = EXPRESSION) -> np.ndarray:
    """The deterministic part of log expression, ``(n, n_tissues)``, for promoters ``prom`` ``(n, 350)`` given in
    gene orientation (index 0 = TSS - 300)::

        f[g, t] = b0 + sum_{TF motif m} w_role(m) * level[t, m] * sum_{windows i, both strands} a_m(prom_g, i)
                     + w_core * level[t, core] * sum_{forward windows starting in core_window} a_core(prom_g, i)
    """
    prom = np.atleast_2d(prom)
    out = np.full((prom.shape[0], len(tissues)), float(params["b0"]))
    c0 = params["core_window"][0] - params["promoter"][0]
    c1 = params["core_window"][1] - params["promoter"][0]
    for m in motifs:
        if m.role not in params["weights"]:
            continue
        fwd, rev = m.scores(prom)
        if m.role == "core":
            total = m.affinity(fwd[:, c0:c1]).sum(1)
        else:
            total = m.affinity(fwd).sum(1) + m.affinity(rev).sum(1)
        out += params["weights"][m.role] * total[:, None] * m.level_vector(tissues)[None, :]
    return out


def promoter_codes(codes: np.ndarray, genes: list[dict], params: dict = EXPRESSION) -> np.ndarray:
    """``(n_genes, 350)`` promoter sequences in gene orientation."""
    lo, hi = params["promoter"]
    out = np.empty((len(genes), hi - lo), dtype=np.uint8)
    for i, g in enumerate(genes):
        s = to_genome(g["tss"], g["strand"], lo, hi - lo)
        seg = codes[s:s + hi - lo]
        out[i] = seg if g["strand"] == "+" else revcomp(seg)
    return out


def scan_sites(codes: np.ndarray, lay: Layout, motifs: list[Motif], chunk: int = 1 << 21) -> dict:
    """Every window of every TF motif (both strands, whole genome) with nonzero affinity.

    Returns column arrays ``chrom`` (index), ``start`` (global), ``motif`` (index into ``motifs``), ``minus``
    (bool), ``score``, ``affinity``, sorted by start.
    """
    cols = {k: [] for k in ("chrom", "start", "motif", "minus", "score", "affinity")}
    for mi, m in enumerate(motifs):
        if m.role not in TF_ROLES:
            continue
        cut = m.threshold + np.log(m.min_affinity / (1 - m.min_affinity)) - 1e-9
        for ci, (off, L) in enumerate(zip(lay.offsets, lay.lengths)):
            for s in range(0, L, chunk):
                sub = codes[off + s: off + min(L, s + chunk + m.length - 1)]
                for minus, sc in enumerate(m.scores(sub)):
                    idx = np.flatnonzero(sc >= cut)
                    a = m.affinity(sc[idx])
                    keep = a > 0
                    n = int(keep.sum())
                    cols["chrom"].append(np.full(n, ci))
                    cols["start"].append(off + s + idx[keep])
                    cols["motif"].append(np.full(n, mi))
                    cols["minus"].append(np.full(n, bool(minus)))
                    cols["score"].append(sc[idx][keep])
                    cols["affinity"].append(a[keep])
    out = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    order = np.lexsort((out["minus"], out["motif"], out["start"]))
    return {k: v[order] for k, v in out.items()}


def site_occupancy(sites: dict, motifs: list[Motif], tissues) -> np.ndarray:
    """``(n_sites, n_tissues)`` occupancy = affinity * level[tissue, motif]."""
    levels = np.stack([m.level_vector(tissues) for m in motifs])
    return sites["affinity"][:, None] * levels[sites["motif"]]


def chromatin_tracks(rng: np.random.Generator, codes: np.ndarray, lay: Layout, sites: dict, occ: np.ndarray,
                     motifs: list[Motif], tissues, p: dict = CHROMATIN):
    """Yield ``(chrom, tissue, values)`` with one float32 value per ``p['bin']``-bp bin::

        signal[t, bin] = background[t, block(bin)] + amplitude * sum_sites occ[site, t] * exp(-(x_bin - c_site)^2
                         / (2 bump_sd^2))      (|bin offset| <= bump_halfwidth_bins; 0 where the bin starts on N)

    with ``x_bin`` the bin centre, ``c_site`` the site centre and background ``base + Exp(mean)`` per block.
    """
    b, hw = p["bin"], p["bump_halfwidth_bins"]
    lengths = np.array([m.length for m in motifs])
    centre = sites["start"] + lengths[sites["motif"]] / 2.0
    k = np.arange(-hw, hw + 1)
    per_block = p["block"] // b
    for ci, (chrom, off, L) in enumerate(zip(lay.chroms, lay.offsets, lay.lengths)):
        n_bins = -(-L // b)
        sel = sites["chrom"] == ci
        c = centre[sel] - off
        bins = np.floor(c / b).astype(np.int64)[:, None] + k[None, :]
        w = np.exp(-((bins * b + b / 2.0) - c[:, None]) ** 2 / (2 * p["bump_sd"] ** 2))
        ok = (bins >= 0) & (bins < n_bins)
        is_n = codes[off:off + L:b] == N_CODE
        for ti, tissue in enumerate(tissues):
            n_blocks = -(-n_bins // per_block)
            bg = np.round(p["background_base"] + rng.exponential(p["background_mean"], n_blocks), 2)
            sig = np.repeat(bg, per_block)[:n_bins]
            wt = (w * (p["amplitude"] * occ[sel, ti])[:, None])[ok]
            sig = sig + np.bincount(bins[ok], weights=wt, minlength=n_bins)
            sig[is_n] = 0.0
            yield chrom, tissue, np.round(sig, p["decimals"]).astype(np.float32)


def peak_table(sites: dict, occ: np.ndarray, lay: Layout, motifs: list[Motif], tissues, p: dict = PEAKS):
    """Rows ``(chrom, start, end, name, score, strand, tissue)`` (chromosome coordinates, 0-based) for every
    (site, tissue) with occupancy >= bound_occupancy; peak = site centre +- half_width, score = round(1000 occ)."""
    lengths = np.array([m.length for m in motifs])
    si, ti = np.nonzero(occ >= p["bound_occupancy"])
    rows = []
    for s, t in zip(si, ti):
        ci = int(sites["chrom"][s])
        off, L = int(lay.offsets[ci]), lay.lengths[ci]
        c = int(sites["start"][s]) - off + int(lengths[sites["motif"][s]]) // 2
        rows.append((ci, max(0, c - p["half_width"]), min(L, c + p["half_width"]), motifs[sites["motif"][s]].name,
                     int(round(1000 * occ[s, t])), "-" if sites["minus"][s] else "+", tissues[t]))
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[5], tissues.index(r[6])))
    return [(lay.chroms[r[0]],) + r[1:] for r in rows]
