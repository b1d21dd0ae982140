"""Variant scoring by prediction difference (Enformer / AlphaGenome style): the ALT − REF change of another task's
prediction — expression, chromatin, TF binding — per tissue, for SNVs and indels alike.

* Windows: the task's own window. TSS-anchored tasks (expression) with gene annotation (``genes=``, a ``tss``
  table or a GTF path) are read at the TSS of the gene whose window holds the variant (nearest TSS if several,
  gene orientation), as the gene-level scorers of AlphaGenome do; without genes, or for other tasks, the window is
  centred on the variant (forward strand). A variant that no gene window holds gets delta 0 and gene ``.``: no
  modelled gene reads it (reported in the ``delta_gene`` column, never silent).
* ALT: the local haplotype with REF replaced by ALT; the anchor base (TSS or variant) keeps its window offset,
  so an indel shifts the bases on the far side of the variant and the window keeps its length.
* Score: one-token values → expected value (``log1p`` of it for log1p-quantile quantizers: a log fold change);
  tracks → the mean expected value over the bins; choice → ``log p(label)`` (first label, e.g. ``<yes>``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.infer.objective import natural_space

DELTA_TASKS = ("expression", "chromatin", "tf_binding")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def prediction_score(pred, log_space: bool) -> float:
    """The scalar of one prediction (see the module doc)."""
    if pred.value is not None:
        e = np.asarray(pred.value.expected, dtype=np.float64)
        return float(np.log1p(np.maximum(e, -1 + 1e-12)).mean() if log_space else e.mean())
    if pred.probs is not None:
        return float(np.log(max(next(iter(pred.probs.values())), 1e-30)))
    raise InputError(f"task {pred.task}: delta scoring needs value or choice answers")


def haplotype_window(fasta, chrom: str, vstart: int, ref: str, alt: str, anchor: int, before: int, length: int,
                     strand: str) -> str:
    """The ``length``-bp window (shown orientation ``strand``) with genomic base ``anchor`` at offset ``before``,
    read from the haplotype that carries ALT in place of REF at ``vstart`` (``alt == ref``: the reference)."""
    d = abs(len(ref) - len(alt)) + len(ref) + 1
    g0 = min(anchor, vstart) - length - d              # Fasta.fetch pads with N past the contig ends
    left = fasta.fetch(chrom, g0, vstart)
    right = fasta.fetch(chrom, vstart + len(ref), max(anchor, vstart + len(ref)) + length + d)
    hap = left + ("" if alt == "-" else alt) + right
    a = anchor - g0
    if anchor >= vstart + len(ref):
        a += len(hap) - len(left) - len(right) - len(ref)
    if strand == "+":
        return hap[a - before:a - before + length]
    win = hap[a + before - length + 1:a + before + 1]
    return win.translate(_COMPLEMENT)[::-1]


def gene_anchors(variants: pd.DataFrame, genes: pd.DataFrame, length: int, before: int):
    """Per variant the TSS (pos, strand, gene_id) whose gene-orientation window holds it, nearest first; ``None``
    where no window does."""
    out = []
    by_chrom = {c: g for c, g in genes.groupby("chrom", sort=False)}
    for c, s in zip(variants["chrom"], variants["start"].to_numpy(np.int64)):
        g = by_chrom.get(c)
        hit = None
        if g is not None:
            pos, st = g["pos"].to_numpy(np.int64), g["strand"].to_numpy()
            lo = np.where(st == "+", pos - before, pos + before - length + 1)
            inside = np.flatnonzero((s >= lo) & (s < lo + length))
            if inside.size:
                k = inside[np.argmin(np.abs(pos[inside] - s))]
                hit = (int(pos[k]), str(st[k]), str(g["gene_id"].iat[k]))
        out.append(hit)
    return out


def _tss_table(genes):
    if genes is None or isinstance(genes, pd.DataFrame):
        return genes
    from seq2gen.genome import read_gtf, tss
    return tss(read_gtf(genes))


def delta_scores(m, variants: pd.DataFrame, fasta, task: str, tissues: list[str], genes=None,
                 batch_size=None) -> pd.DataFrame:
    """``delta_{task}_{tissue}`` per tissue (+ ``delta_gene`` for TSS-anchored tasks) for a ``read_vcf`` frame."""
    t = m.registry.get(task)
    kind = t.answer_grammar["type"]
    if kind not in ("values", "choice"):
        raise InputError(f"task {task} ({kind} answers) has no scalar prediction to take a delta of",
                         hint=f"use one of {', '.join(x for x in DELTA_TASKS if x in m.registry)}")
    w = t.window
    genes = _tss_table(genes) if w.centre == "tss" else None
    anchors = gene_anchors(variants, genes, w.length, w.before) if genes is not None else [None] * len(variants)
    log_space = natural_space(m, task) == "log1p"
    tis_list = tissues if t.tissue_conditioned else [None]
    records, owner = [], []
    for i, (c, s, r, a) in enumerate(zip(variants["chrom"], variants["start"].to_numpy(np.int64),
                                         variants["ref"], variants["alt"])):
        if genes is not None and anchors[i] is None:
            continue
        pos, strand = (anchors[i][0], anchors[i][1]) if anchors[i] else (int(s), "+")
        for allele in (r, a):
            dna = haplotype_window(fasta, c, int(s), r, allele, pos, w.before, w.length, strand)
            records += [{"dna": dna, "tissue": tis, "chrom": c, "anchor": pos} for tis in tis_list]
        owner.append(i)
    out = pd.DataFrame(index=range(len(variants)))
    cols = [f"delta_{task}_{tis}" for tis in tissues] if t.tissue_conditioned else [f"delta_{task}"]
    vals = np.zeros((len(variants), len(cols)))
    if records:
        preds = m._run(task, records, batch_size=batch_size)
        sc = np.array([prediction_score(p, log_space) for p in preds]).reshape(len(owner), 2, len(cols))
        vals[owner] = sc[:, 1] - sc[:, 0]
    for k, col in enumerate(cols):
        out[col] = vals[:, k]
    if genes is not None:
        out["delta_gene"] = [h[2] if h else "." for h in anchors]
    return out
