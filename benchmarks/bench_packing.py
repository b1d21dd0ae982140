"""Would seqio-style packing beat length-grouped micro-batches on the CPU? An upper bound (issue #16).

Packing puts several rows into one long row (segment ids + block-diagonal attention), so a step runs a few wide
matmuls with no padding instead of ``grouped``'s four 8-row micro-batches. This measures the *bound*: the step's 32
rows (the quickstart mixture with span corruption, the same draw for every arm) concatenated into P long rows with
**no** segment masks — the cheapest packed step could be (real packing adds the 4-D masks and per-segment decoder
starts on top). Forward + backward of ``mini_conv``, median over rounds, arms interleaved:

    python benchmarks/bench_packing.py --root runs/quickstart --rounds 10 --threads 2

If the bound is no faster than ``grouped``, packing is not worth building for the CPU path (docs: RESULTS.md).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def pack(rows: list[dict], n: int) -> list[dict]:
    """Greedy longest-first fill of ``n`` bins by prompt length (prompts and answers concatenated, no masks)."""
    bins = [{"input_ids": [], "labels": []} for _ in range(n)]
    for r in sorted(rows, key=lambda r: -len(r["input_ids"])):
        b = min(bins, key=lambda b: len(b["input_ids"]))
        b["input_ids"] += r["input_ids"]
        b["labels"] += r["labels"]
    return bins


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="a quickstart folder (tokenizer/, datasets/)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    from datasets import load_from_disk

    from seq2gen.data.collate import Seq2GenCollator
    from seq2gen.model import build_model
    from seq2gen.train.batches import cut_micro_batches
    from seq2gen.vocab import Seq2GenTokenizer
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok = Seq2GenTokenizer.from_pretrained(f"{args.root}/tokenizer")
    rates = {"promoter": 1, "tf_binding": 1, "chromatin": 1, "annotate": 1, "expression": 1, "variant_effect": 1,
             "span_corruption": 0.5}
    data = {t: load_from_disk(f"{args.root}/datasets/{t}")["train"] for t in rates}
    model = build_model("mini_conv", tokenizer=tok).train()
    collate = Seq2GenCollator(tok.pad_token_id)
    rng = np.random.default_rng(0)
    names = list(rates)
    p = np.array([rates[t] for t in names], dtype=float)
    times = {k: [] for k in ("mixed 32 x 1", "grouped 8 x 4", "packed bound 8 rows", "packed bound 4 rows")}
    for step in range(args.warmup + args.rounds):
        picks = [(names[t], int(rng.integers(len(data[names[t]])))) for t in rng.choice(len(names), 32, p=p / p.sum())]
        rows = {pk: {k: data[pk[0]][pk[1]][k] for k in ("input_ids", "labels")} for pk in picks}
        lengths = {}
        for (t, i), r in rows.items():
            lengths.setdefault(t, [{}, {}])
            lengths[t][0][i], lengths[t][1][i] = len(r["input_ids"]), len(r["labels"])
        listed = [rows[pk] for pk in picks]
        arms = {"mixed 32 x 1": [collate(listed)],
                "grouped 8 x 4": [collate([rows[pk] for pk in g]) for g in cut_micro_batches(picks, lengths, 1, 4, 0,
                                                                                            True)],
                "packed bound 8 rows": [collate(pack(listed, 8))], "packed bound 4 rows": [collate(pack(listed, 4))]}
        for name, batches in arms.items():
            t0 = time.perf_counter()
            for b in batches:
                model(**b).loss.backward()
            model.zero_grad()
            if step >= args.warmup:
                times[name].append(time.perf_counter() - t0)
    base = np.median(times["grouped 8 x 4"])
    for name, v in times.items():
        print(f"{name:22s} {np.median(v):.3f} s/step   {base / np.median(v):.2f}x grouped's speed")


if __name__ == "__main__":
    main()
