"""Nucleotides/s of each tokenizer mode vs a pure-Python baseline, in the same run.

Run: .venv/bin/python benchmarks/bench_tokenizer.py [--mb 4]
Baseline: a dict lookup per character (what a naive tokenizer does). Reports fast path, HF (Rust) path and baseline.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from seq2gen.vocab import build_tokenizer


def _rate(fn, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=4.0, help="megabases of DNA per measurement")
    args = ap.parse_args()
    n = int(args.mb * 1e6)
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGTacgt"), n, p=[0.15, 0.1, 0.1, 0.15, 0.15, 0.1, 0.1, 0.15]))
    seq = seq[: n // 2] + "N" * 100 + seq[n // 2 + 100:]
    small = seq[: min(n, 500_000)]
    print(f"# machine: {platform.processor() or platform.machine()}, torch threads irrelevant (pure CPU, 1 thread)")
    print("| mode | fast path M nt/s | HF tokenizer M nt/s | pure-Python M nt/s | fast / Python |")
    print("|---|---|---|---|---|")
    seqs = ["".join(rng.choice(list("ACGT"), 300)) for _ in range(2000)]
    for mode in ["char", "kmer", "sentencepiece"]:
        tok = build_tokenizer(mode=mode, fasta=seqs, vocab_size=512) if mode == "sentencepiece" else \
            build_tokenizer(mode=mode)
        ids = tok.token_to_id
        if mode == "kmer":
            k = tok.meta["options"]["k"]
            up = small.upper()
            py = lambda: [ids[up[i:i + k]] if i + k <= len(up) and "N" not in up[i:i + k] else ids[up[i]]
                          for i in range(0, len(up), k)]
        else:
            py = lambda: [ids[c] for c in small.upper()]
        fast = _rate(lambda: tok.dna_ids(seq), n)
        hf = _rate(lambda: tok.hf(small, add_special_tokens=False), len(small), repeat=1)
        base = _rate(py, len(small), repeat=1)
        print(f"| {mode} | {fast:.1f} | {hf:.2f} | {base:.2f} | {fast / base:.0f}× |")


if __name__ == "__main__":
    main()
