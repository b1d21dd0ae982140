"""Motif discovery from attributions across many windows (TF-MoDISco, via modisco-lite), and — on the synthetic
world, where the motifs are known — how well attributions recover them.

Why modisco-lite: it is the field's reference for turning per-base attributions into motifs (seqlets → affinity
clustering → contribution-weighted motifs), takes exactly the (one-hot, hypothetical contribution) arrays the
attribution step gives, and has no torch of its own. tangermeme would re-run the model through its own wrappers
(our prompts are text-to-text, not a tensor model), and its seqlet + TOMTOM path finds known motifs rather than
discovering them.

Checks that no peer can run (``recovery``): per-base AUROC of |attribution| at bases of motif windows that enter
the world's true function (``WorldTruth.functional_bases``) vs all other bases, and for each world motif the best
similarity of a discovered pattern (Pearson correlation of centred PPM columns, best offset and strand).
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError


def discover(one_hot: np.ndarray, hyp: np.ndarray, **kw) -> list[dict]:
    """TF-MoDISco patterns of (n, L, 4) one-hot / hypothetical-contribution arrays: per pattern its ``ppm``
    (L', 4), ``cwm`` (contribution-weighted matrix), ``n_seqlets`` and ``sign`` (+1 raises the score)."""
    from modiscolite.tfmodisco import TFMoDISco
    opts = dict(sliding_window_size=15, flank_size=5, min_metacluster_size=50, target_seqlet_fdr=0.2,
                max_seqlets_per_metacluster=5000, n_leiden_runs=8, final_min_cluster_size=20, verbose=False)
    opts.update(kw)
    pos, neg = TFMoDISco(one_hot.astype(np.float32), hyp.astype(np.float32), **opts)
    out = []
    for sign, pats in ((1, pos or []), (-1, neg or [])):
        for p in pats:
            out.append({"ppm": np.asarray(p.sequence, dtype=np.float64),
                        "cwm": np.asarray(p.contrib_scores, dtype=np.float64),
                        "n_seqlets": int(len(p.seqlets)), "sign": sign})
    return out


def similarity(a: np.ndarray, b: np.ndarray, min_overlap: int = 6) -> tuple[float, int, str]:
    """Best Pearson correlation of centred columns of PPMs ``a`` (La, 4) and ``b`` (Lb, 4) over offsets of ≥
    ``min_overlap`` columns and both strands of ``b``: ``(r, offset of b in a, strand)``."""
    best = (-1.0, 0, "+")
    for strand, bb in (("+", b), ("-", b[::-1, ::-1])):
        for off in range(-(len(bb) - min_overlap), len(a) - min_overlap + 1):
            i0, i1 = max(0, off), min(len(a), off + len(bb))
            if i1 - i0 < min_overlap:
                continue
            x = a[i0:i1] - 0.25
            y = bb[i0 - off:i1 - off] - 0.25
            den = np.sqrt((x * x).sum() * (y * y).sum())
            r = float((x * y).sum() / den) if den > 0 else 0.0
            if r > best[0]:
                best = (r, off, strand)
    return best


def match(patterns: list[dict], motifs) -> list[dict]:
    """For each known motif (``Motif`` objects) the most similar discovered pattern."""
    rows = []
    for mo in motifs:
        sims = [similarity(p["ppm"], mo.pwm) for p in patterns]
        k = int(np.argmax([s[0] for s in sims])) if sims else -1
        rows.append({"motif": mo.name, "role": mo.role, "consensus": mo.consensus,
                     "best_pattern": k, "similarity": float(sims[k][0]) if sims else float("nan"),
                     "strand": sims[k][2] if sims else "", "n_seqlets": patterns[k]["n_seqlets"] if sims else 0})
    return rows


def recovery_auroc(contrib: np.ndarray, functional: np.ndarray) -> float:
    """AUROC of per-base |attribution| (n, L) — or (n, L, 4), summed over letters — at functional bases vs the
    rest (0.5: no better than chance)."""
    from sklearn.metrics import roc_auc_score
    score = np.abs(contrib.sum(-1) if contrib.ndim == 3 else contrib).ravel()
    y = functional.ravel()
    if y.all() or not y.any():
        raise InputError("recovery AUROC needs both functional and other bases")
    return float(roc_auc_score(y, score))


def consensus(ppm: np.ndarray) -> str:
    return "".join("ACGT"[i] for i in ppm.argmax(1))
