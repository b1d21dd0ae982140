"""SNVs with exact per-tissue effects: effect[t] = f(alt promoter)[t] - f(ref promoter)[t] (log scale), where f is
``signals.promoter_activity``, the same function that drives expression.tsv."""
from __future__ import annotations

import numpy as np

from .genes import PROMOTER, Layout, to_genome
from .motifs import BASES, Motif
from .signals import promoter_activity, promoter_codes

VARIANTS = {"p_motif_per_gene": 0.8, "p_neutral_per_gene": 0.6, "p_per_enhancer_site": 0.1}


def make_variants(rng: np.random.Generator, codes: np.ndarray, lay: Layout, motifs: list[Motif], tissues,
                  f_ref: np.ndarray, p: dict = VARIANTS) -> list[dict]:
    """Promoter SNVs (hitting a planted element, or at a random non-planted promoter base) and enhancer SNVs
    (hitting a planted enhancer site; effect 0: enhancers do not enter f). Sorted by global position."""
    mlen = {m.name: m.length for m in motifs}
    lo, hi = PROMOTER
    by_gene: dict[int, list] = {}
    enhancer = []
    for name in sorted(lay.planted):
        for start, _strand, kind, gene in lay.planted[name]:
            if kind == "promoter":
                by_gene.setdefault(gene, []).append((name, start))
            elif kind == "enhancer":
                enhancer.append((name, start))
    taken: set[int] = set()
    cand = []  # (pos, gene index or -1, motif name or ".")
    for g in lay.genes:
        gi = g["gene_index"]
        elems = by_gene.get(gi, [])
        covered = {s + j for name, s in elems for j in range(mlen[name])}
        if elems and rng.random() < p["p_motif_per_gene"]:
            name, s = elems[int(rng.integers(0, len(elems)))]
            cand.append((s + int(rng.integers(0, mlen[name])), gi, name))
        if rng.random() < p["p_neutral_per_gene"]:
            p0 = to_genome(g["tss"], g["strand"], lo, hi - lo)
            pos = p0 + int(rng.integers(0, hi - lo))
            if pos not in covered:
                cand.append((pos, gi, "."))
    for name, s in enhancer:
        if rng.random() < p["p_per_enhancer_site"]:
            cand.append((s + int(rng.integers(0, mlen[name])), -1, name))
    cand.sort()
    rows = []
    for pos, gi, name in cand:
        if pos in taken:
            continue
        taken.add(pos)
        ref = int(codes[pos])
        alt = (ref + int(rng.integers(1, 4))) % 4
        rows.append({"pos": pos, "gene": gi, "motif": name, "ref": ref, "alt": alt})
    prom_genes = [r for r in rows if r["gene"] >= 0]
    effects = np.zeros((len(rows), len(tissues)))
    if prom_genes:
        genes = [lay.genes[r["gene"]] for r in prom_genes]
        ref_prom = promoter_codes(codes, genes)
        alt_prom = ref_prom.copy()
        for i, (r, g) in enumerate(zip(prom_genes, genes)):
            k = r["pos"] - to_genome(g["tss"], g["strand"], lo, hi - lo)
            if g["strand"] == "+":
                alt_prom[i, k] = r["alt"]
            else:
                alt_prom[i, hi - lo - 1 - k] = 3 - r["alt"]
        eff = promoter_activity(alt_prom, motifs, tissues) - f_ref[[r["gene"] for r in prom_genes]]
        j = 0
        for i, r in enumerate(rows):
            if r["gene"] >= 0:
                effects[i] = eff[j]
                j += 1
    out = []
    for r, e in zip(rows, effects):
        ci = int(lay.chrom_of(np.array([r["pos"]]))[0])
        promoter = r["gene"] >= 0
        hit = r["motif"] != "." or bool(np.any(e != 0))
        out.append({"chrom": lay.chroms[ci], "pos": r["pos"] - int(lay.offsets[ci]), "ref": BASES[r["ref"]],
                    "alt": BASES[r["alt"]], "gene": lay.genes[r["gene"]]["gene_id"] if promoter else ".",
                    "region": "promoter" if promoter else "enhancer", "class": "motif" if hit else "neutral",
                    "motif": r["motif"], "effects": e})
    return out

