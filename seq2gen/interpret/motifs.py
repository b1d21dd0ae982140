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


def attribution_arrays(m, task: str, seqs, tissue: str | None = None, chrom: str | None = None,
                       pos: int | None = None, batch_size: int | None = None):
    """``(prompts, one-hot (n, L, 4), gradient (n, L, 4))`` of the task's score (its natural space: log expression
    for expression) over DNA strings or regions, fitted to the task's window (centred)."""
    from seq2gen.infer.objective import natural_space, objective
    from seq2gen.interpret.attribute import gradients, one_hot
    from seq2gen.interpret.ism import build_prompt
    prompts = [build_prompt(m, task, s, tissue, chrom, pos, fit="centre") for s in seqs]
    if not prompts:
        raise InputError("motif discovery needs at least one sequence")
    obj = objective(m, task, prompts[0].ids, space=natural_space(m, task))
    _, grad = gradients(m, obj, prompts, batch_size=batch_size)
    return prompts, one_hot(np.stack([q.codes for q in prompts])), grad


def find_motifs(m, task: str, seqs, tissue: str | None = None, chrom: str | None = None, pos: int | None = None,
                batch_size: int | None = None, **kw) -> list[dict]:
    """TF-MoDISco patterns of the model's input × gradient attributions of ``task`` over ``seqs``
    (``attribution_arrays`` then ``discover``; ``kw`` go to TF-MoDISco)."""
    from seq2gen.interpret.attribute import hypothetical
    _, oh, grad = attribution_arrays(m, task, seqs, tissue, chrom, pos, batch_size)
    return discover(oh, hypothetical(grad), **kw)


def patterns_json(patterns: list[dict], width: int = 16) -> list[dict]:
    """JSON rows of ``discover`` patterns: sign, seqlets, consensus, insertable ``core`` (``cores``), PPM, CWM —
    what ``seq2gen design --patterns`` reads back."""
    return [{"sign": p["sign"], "n_seqlets": p["n_seqlets"], "consensus": consensus(p["ppm"]),
             "core": cores([p], width)[0], "ppm": np.round(p["ppm"], 4).tolist(),
             "cwm": np.round(p["cwm"], 6).tolist()} for p in patterns]


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


def cores(patterns: list[dict], width: int = 16, sign: int | None = None) -> list[str]:
    """Insertable motif cores of ``discover`` patterns (or their JSON: ``ppm``/``cwm`` lists), of one ``sign`` or
    (None) all: the ``width``-bp window of each pattern's CWM with the most total |contribution|, read as its PPM's
    consensus. Why trim: a TF-MoDISco pattern spans its seqlets' flanks (~50 bp) while the bound site is ~10 bp;
    writing the flanks too would spend a design's edit budget on bases the model does not read. Duplicates are
    dropped. Design takes both signs by default: the search's own model scores decide which insertion helps (on the
    6,000-step model the pattern matching the liver activator came out in the negative metacluster)."""
    out = []
    for p in patterns:
        if (sign is not None and p.get("sign", 1) != sign) or "cwm" not in p:
            continue
        cwm, ppm = np.abs(np.asarray(p["cwm"], dtype=np.float64)).sum(1), np.asarray(p["ppm"], dtype=np.float64)
        w = min(width, len(cwm))
        mass = np.convolve(cwm, np.ones(w), mode="valid")
        i = int(np.argmax(mass))
        c = consensus(ppm[i:i + w])
        if c not in out:
            out.append(c)
    return out


def load_patterns(path, width: int = 16) -> list[str]:
    """Design patterns from a file: the explain study's ``motifs.json`` (its TF-MoDISco patterns → ``cores``)
    or text with one ACGT string per line (``#`` comments)."""
    import json
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise InputError("patterns file not found", path=path)
    text = path.read_text()
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
        pats = data.get("patterns", data) if isinstance(data, dict) else data
        if not isinstance(pats, list) or not all(isinstance(p, dict) and "cwm" in p for p in pats):
            raise InputError("expected a 'patterns' list with 'ppm' and 'cwm' per pattern (scripts/explain_study.py "
                             "writes one in motifs.json)", path=path)
        out = cores(pats, width)
    else:
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip().upper()
            if line and set(line) - set("ACGT"):
                raise InputError(f"not an ACGT pattern: {line[:30]!r}", path=path, line=n)
            if line:
                out.append(line)
    if not out:
        raise InputError("no patterns to insert", path=path)
    return out
