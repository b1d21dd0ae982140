"""World + dataset build time at genome scale (target: a 50 Mb world with every task builds in under ~5 min on 2
cores). An absolute figure, not a ratio: run it on an otherwise idle machine (the load at start is recorded).

Run:  python benchmarks/bench_build.py [--size 50000000] [--mode char]   → benchmarks/results/build.json

Times ``generate_world`` (FASTA, GTF, BED, bigWigs, expression TSV, VCF) and ``build_datasets`` for every world task
(uncapped: every row the templates render) into a temporary folder, and reports rows per task.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchutil as bu  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=50_000_000, help="world size in bp")
    ap.add_argument("--mode", default="char", help="tokenizer mode (char | kmer)")
    ap.add_argument("--out", default=str(bu.RESULTS / "build.json"))
    args = ap.parse_args(argv)
    from seq2gen.data.build import build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.vocab import build_tokenizer
    from seq2gen.world import generate_world
    info = {"benchmark": "build", "machine": bu.machine_info(), "size_bp": args.size, "mode": args.mode}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        generate_world(tmp / "world", size=args.size, seed=0)
        info["world_s"] = round(time.perf_counter() - t, 1)
        tok = build_tokenizer(mode=args.mode, k=3 if args.mode == "kmer" else None)
        t = time.perf_counter()
        ds = build_datasets(tmp / "world", TaskRegistry.from_dir(vocab=tok.vocab), tok, tmp / "data", progress=True)
        info["datasets_s"] = round(time.perf_counter() - t, 1)
        info["rows"] = {task: {split: len(d[split]) for split in d} for task, d in ds.items()}
    info["total_s"] = round(info["world_s"] + info["datasets_s"], 1)
    bu.write_json(args.out, info)
    print(f"| world {args.size / 1e6:.0f} Mb | {info['world_s']} s | datasets ({args.mode}) | {info['datasets_s']} s | "
          f"total | {info['total_s']} s | train rows | {sum(r['train'] for r in info['rows'].values()):,} |")


if __name__ == "__main__":
    main()
