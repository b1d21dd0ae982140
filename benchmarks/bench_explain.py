"""Batched saturation mutagenesis vs a naive per-variant loop: positions (× 3 ALTs) per second, same model, same
prompt, arms interleaved and medians taken (the machine is shared: the ratio is the figure that matters).

* batched — ``Seq2Gen.ism``: all 3·L mutants of a window as ids, ``batch_size`` per teacher-forced pass;
* naive — what one writes without it: for each (position, ALT) the mutated prompt string → ``Seq2Gen.predict``.

The two must agree (checked on the naive arm's positions). ::

    python benchmarks/bench_explain.py --model runs/quickstart/train/model [--positions 384 --naive-positions 24]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchutil as bu  # noqa: E402


def expression_prompt(dna: str, tissue: str) -> str:
    return f"<task:expression> <tissue:{tissue}> <chr:1> <bin:0000> <dna> {dna} </dna>"


def naive(m, dna: str, tissue: str, positions) -> np.ndarray:
    out = np.full((len(dna), 4), np.nan)
    for i in positions:
        for b, base in enumerate("ACGT"):
            if base != dna[i]:
                mutant = dna[:i] + base + dna[i + 1:]
                out[i, b] = m.predict(expression_prompt(mutant, tissue)).value.expected[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="runs/quickstart/train/model")
    ap.add_argument("--tissue", default="liver")
    ap.add_argument("--positions", type=int, default=384, help="positions of the batched arm (whole window)")
    ap.add_argument("--naive-positions", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=str(bu.RESULTS / "explain.json"))
    args = ap.parse_args()
    from seq2gen.infer import Seq2Gen
    m = Seq2Gen.from_pretrained(args.model, batch_size=args.batch_size)
    L = m.registry.get("expression").window.length
    dna = "".join(np.random.default_rng(0).choice(list("ACGT"), L))
    p = m.explained_prompt(expression_prompt(dna, args.tissue))
    pos_b = np.arange(min(args.positions, L))
    pos_n = np.linspace(0, L - 1, args.naive_positions).astype(int)
    arms = {"batched": lambda: m.ism(p, positions=pos_b).scores, "naive": lambda: naive(m, dna, args.tissue, pos_n)}
    times, results = {k: [] for k in arms}, {}
    for _, name in bu.rotations(list(arms), args.rounds):
        t0 = time.perf_counter()
        results[name] = arms[name]()
        times[name].append(time.perf_counter() - t0)
    agree = float(np.nanmax(np.abs(results["batched"][pos_n] - results["naive"][pos_n])))
    rate_b = [len(pos_b) / t for t in times["batched"]]
    rate_n = [len(pos_n) / t for t in times["naive"]]
    report = {"machine": bu.machine_info(), "model": str(args.model), "window": L, "batch_size": args.batch_size,
              "positions": {"batched": int(len(pos_b)), "naive": int(len(pos_n))},
              "seconds": times, "positions_per_s": {"batched": bu.median(rate_b), "naive": bu.median(rate_n)},
              "speedup": bu.median([b / n for b, n in zip(rate_b, rate_n)]), "max_abs_difference": agree}
    bu.write_json(args.out, report)
    print(json.dumps({k: report[k] for k in ("positions_per_s", "speedup", "max_abs_difference")}, indent=1))


if __name__ == "__main__":
    main()
