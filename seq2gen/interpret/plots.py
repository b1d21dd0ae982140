"""Pictures of what a model reads: sequence logos (logomaker), ISM maps, predicted vs observed tracks, predicted
exon/intron spans over the gene model, design score over rounds. Each ``plot_*`` draws on a matplotlib axis
(made if not given) and returns it; ``save`` writes a PNG through a temp file."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

BASES = "ACGT"


def _ax(ax, size=(12, 2.2)):
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def save(fig_or_ax, path) -> Path:
    import matplotlib.pyplot as plt
    fig = fig_or_ax.figure if hasattr(fig_or_ax, "figure") and not hasattr(fig_or_ax, "savefig") else fig_or_ax
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.tight_layout()
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def plot_logo(matrix: np.ndarray, ax=None, title: str = "", start: int = 0):
    """Letters scaled by ``matrix`` (L, 4) (attributions, a CWM, or an information-content PPM)."""
    import logomaker
    import pandas as pd
    ax = _ax(ax)
    df = pd.DataFrame(np.asarray(matrix, dtype=float), columns=list(BASES),
                      index=np.arange(start, start + len(matrix)))
    logomaker.Logo(df, ax=ax, color_scheme="classic", flip_below=False)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_title(title, fontsize=9, loc="left")
    return ax


def information(ppm: np.ndarray) -> np.ndarray:
    """PPM → letter heights in bits (information content × probability)."""
    p = np.clip(np.asarray(ppm, dtype=float), 1e-6, 1)
    p = p / p.sum(1, keepdims=True)
    ic = 2 + (p * np.log2(p)).sum(1, keepdims=True)
    return p * ic


def plot_ism(delta: np.ndarray, dna: str, ax=None, title: str = "", start: int = 0):
    """Heat map of ISM deltas (4, L): rows A C G T, blue lowers the score, red raises it; the reference base is
    the empty (white) cell of each column."""
    ax = _ax(ax, (12, 1.8))
    d = np.nan_to_num(np.asarray(delta, dtype=float).T)
    lim = float(np.abs(d).max()) or 1.0
    im = ax.imshow(d, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest",
                   extent=(start - 0.5, start + len(dna) - 0.5, 3.5, -0.5))
    ax.set_yticks(range(4), list(BASES))
    ax.figure.colorbar(im, ax=ax, fraction=0.02, pad=0.01, label="Δ score")
    ax.set_title(title, fontsize=9, loc="left")
    return ax


def plot_track(predicted, observed=None, ax=None, title: str = "", lo=None, hi=None, bin_size: int | None = None):
    """Predicted bins (with their 80 % interval when given) vs the observed bigWig means."""
    ax = _ax(ax, (8, 2.5))
    x = np.arange(len(predicted) + 1) * (bin_size or 1)             # bin edges: the last bin drawn to its end

    def edge(v):
        v = np.asarray(v, dtype=float)
        return np.append(v, v[-1])
    ax.step(x, edge(predicted), where="post", color="C0", label="predicted")
    if lo is not None and hi is not None:
        ax.fill_between(x, edge(lo), edge(hi), step="post", color="C0", alpha=0.2, label="80 % interval")
    if observed is not None:
        ax.step(x, edge(observed), where="post", color="k", lw=1.2, label="observed")
    ax.set_xlabel("offset (bp)" if bin_size else "bin")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9, loc="left")
    return ax


def plot_annotation(predicted: list[dict], gene_exons=None, ax=None, title: str = "", span=None):
    """Predicted exon/intron spans (top row) over the gene model's exons (bottom row: thick = exon, line =
    gene body). ``span``: (start, end) of the shown window, in the spans' coordinates."""
    ax = _ax(ax, (12, 1.6))
    colors = {"exon": "C3", "intron": "C7"}
    for s in predicted:
        h = 0.35 if s["label"] == "exon" else 0.12
        ax.add_patch(_rect(s["start"], 1 - h / 2, s["end"] - s["start"], h, colors.get(s["label"], "C1")))
    if gene_exons is not None and len(gene_exons):
        ex = np.asarray(gene_exons, dtype=float)
        ax.plot([ex[:, 0].min(), ex[:, 1].max()], [0, 0], color="k", lw=1)
        for a, b in ex:
            ax.add_patch(_rect(a, -0.2, b - a, 0.4, "k"))
    lo, hi = span if span else (min([s["start"] for s in predicted] or [0]), max([s["end"] for s in predicted] or [1]))
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.6, 1.6)
    ax.set_yticks([0, 1], ["gene model", "predicted"])
    ax.set_title(title, fontsize=9, loc="left")
    return ax


def _rect(x, y, w, h, color):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, color=color, lw=0)


def plot_rounds(history: np.ndarray, ax=None, title: str = "", true_history=None, ylabel="model score"):
    """Design objective per round: every lineage (thin), the best (thick); optional true score (right axis)."""
    ax = _ax(ax, (7, 3.2))
    h = np.asarray(history, dtype=float)
    ax.plot(h, color="C0", alpha=0.25, lw=0.8)
    ax.plot(h.max(1), color="C0", lw=2, label="best (model)")
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    if true_history is not None:
        ax2 = ax.twinx()
        t = np.asarray(true_history, dtype=float)
        ax2.plot(t.mean(1), color="C3", lw=2, label="mean true f (world)")
        ax2.set_ylabel("true f (world)", color="C3")
        ax2.legend(loc="lower right", fontsize=7, frameon=False)
    ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_title(title, fontsize=9, loc="left")
    return ax
