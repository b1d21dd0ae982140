"""The synthetic world's *true* generative function, read back from a world folder: what designs and attributions
are judged against (never the model).

``f[t]`` = the deterministic part of log expression in tissue ``t`` (``seq2gen.world.signals.promoter_activity``)
of a promoter in gene orientation, TSS −300 … +50. Expression-task windows hold it at ``[tss − 300, tss + 50)``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError


class WorldTruth:
    """Motifs, tissues and files of a world folder (``seq2gen world --out DIR``)."""

    def __init__(self, world_dir):
        from seq2gen.world.motifs import Motif
        self.dir = Path(world_dir)
        path = self.dir / "world.json"
        if not path.is_file():
            raise InputError("not a world folder (no world.json)", path=self.dir,
                             hint="pass the folder `seq2gen world --out DIR` wrote (quickstart: OUT/world)")
        self.manifest = json.loads(path.read_text())
        bg = tuple(self.manifest["model"]["background"])
        self.motifs = [Motif.from_json(d, bg) for d in self.manifest["motifs"]]
        self.tissues = list(self.manifest["tissues"])
        self.background = np.asarray(bg)
        from seq2gen.world.genes import PROMOTER
        self.promoter = PROMOTER

    def _promoters(self, windows, tss_offset: int) -> np.ndarray:
        from seq2gen.world.motifs import encode
        lo, hi = self.promoter
        a, b = tss_offset + lo, tss_offset + hi
        if a < 0 or any(len(w) < b for w in windows):
            raise InputError(f"windows must hold TSS{lo}…+{hi} around offset {tss_offset}")
        return np.stack([encode(w[a:b]) for w in windows])

    def activity(self, windows, tss_offset: int) -> np.ndarray:
        """True ``f`` (n, n_tissues) of windows (gene orientation) whose TSS sits at ``tss_offset``."""
        from seq2gen.world.signals import promoter_activity
        return promoter_activity(self._promoters(list(windows), tss_offset), self.motifs, self.tissues)

    def real_promoters(self, length: int = 384, before: int = 320, chroms=None) -> tuple[list[str], np.ndarray]:
        """Every gene's TSS window (gene orientation) and its true ``f`` — the reference distribution."""
        from seq2gen.genome import Fasta, read_gtf, tss
        fa = Fasta(self.dir / self.manifest["files"]["genome"])
        t = tss(read_gtf(self.dir / self.manifest["files"]["genes"]))
        if chroms is not None:
            t = t[t["chrom"].isin(list(chroms))]
        wins = []
        for c, p, s in zip(t["chrom"], t["pos"].to_numpy(np.int64), t["strand"]):
            start = p - before if s == "+" else p + before - length + 1
            wins.append(fa.fetch(c, int(start), int(start) + length, s))
        return wins, self.activity(wins, before)

    def functional_bases(self, windows, tss_offset: int, min_affinity: float = 0.5) -> np.ndarray:
        """(n, window length) bool: bases of motif windows that enter ``f`` with affinity ≥ ``min_affinity``
        (TF sites on both strands; the core element forward, starting in its core window) — the planted grammar
        plus any chance site strong enough to count, i.e. what attributions should find."""
        from seq2gen.world.signals import EXPRESSION
        prom = self._promoters(list(windows), tss_offset)
        out = np.zeros((prom.shape[0], len(windows[0])), dtype=bool)
        c0 = EXPRESSION["core_window"][0] - self.promoter[0]
        c1 = EXPRESSION["core_window"][1] - self.promoter[0]
        shift = tss_offset + self.promoter[0]
        for mo in self.motifs:
            if mo.role not in EXPRESSION["weights"]:
                continue
            fwd, rev = mo.scores(prom)
            hits = mo.affinity(fwd) >= min_affinity
            if mo.role == "core":
                keep = np.zeros_like(hits)
                keep[:, c0:c1] = hits[:, c0:c1]
                hits = keep
            else:
                hits |= mo.affinity(rev) >= min_affinity
            for g, i in zip(*np.nonzero(hits)):
                out[g, shift + i:shift + i + mo.length] = True
        return out

    def motif_free(self, rng: np.random.Generator, n: int, length: int, tss_offset: int,
                   max_tries: int = 1000) -> list[str]:
        """``n`` random windows (world background composition) with no motif window of nonzero affinity in the
        promoter (true ``f`` = b0 in every tissue): a start that owes nothing to planted grammar."""
        from seq2gen.world.signals import EXPRESSION
        out = []
        for _ in range(max_tries):
            codes = rng.choice(4, size=(n, length), p=self.background)
            wins = ["".join("ACGT"[c] for c in row) for row in codes]
            f = self.activity(wins, tss_offset)
            out += [w for w, row in zip(wins, f) if np.allclose(row, EXPRESSION["b0"])]
            if len(out) >= n:
                return out[:n]
        raise InputError(f"could not draw {n} motif-free windows in {max_tries} tries")
