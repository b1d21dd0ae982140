"""World + dataset build time at genome scale (target: a 50 Mb world with every task builds in under ~5 min on 2
cores). An absolute figure, not a ratio: run it on an otherwise idle machine (the load at start is recorded).

Run:  python benchmarks/bench_build.py [--size 50000000] [--mode char]   → benchmarks/results/build.json
      python benchmarks/bench_build.py --source files --size 500000000  → benchmarks/results/build_files_500Mb.json

``--source world`` times ``generate_world`` (FASTA, GTF, BED, bigWigs, expression TSV, VCF) and ``build_datasets``
for every world task (the templates' caps: ≤ 20,000 train rows each) into a temporary folder, and reports rows per
task. ``--source files`` writes genome-sized real-format files instead (``synth_files.py``: GRCh38 chromosome
lengths scaled to ``--size``, human gene / peak / variant densities) and times ``build_datasets`` from their data
spec in a child process, so its peak RSS is the build's alone (wall time, peak RSS, rows/s).
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
    ap.add_argument("--source", choices=["world", "files"], default="world")
    ap.add_argument("--num-proc", type=int, default=1, help="build workers (--source files)")
    ap.add_argument("--workdir", default=None, help="where --source files writes (default: a temp folder)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.source == "files":
        return bench_files(args)
    args.out = args.out or str(bu.RESULTS / "build.json")
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


def _build_child(spec: str, out: str, mode: str, num_proc: int, queue) -> None:
    import resource
    from seq2gen.data.build import build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode=mode, k=3 if mode == "kmer" else None)
    t = time.perf_counter()
    ds = build_datasets(spec, TaskRegistry.from_dir(vocab=tok.vocab), tok, out, progress=False, force=True,
                        num_proc=num_proc)
    import json
    stats = json.loads((Path(out) / "data_config.json").read_text())["stats"]
    queue.put({"datasets_s": round(time.perf_counter() - t, 1),
               "task_s": {task: st["seconds"] for task, st in stats.items()},
               "rows": {task: {split: len(d[split]) for split in d} for task, d in ds.items()},
               "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2),
               "peak_rss_worker_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20, 2)})


def bench_files(args) -> None:
    import multiprocessing as mp
    import shutil

    from synth_files import write_files
    label = f"{args.size / 1e9:.1f}Gb" if args.size >= 1e9 else f"{args.size / 1e6:.0f}Mb"
    out = args.out or str(bu.RESULTS / f"build_files_{label}{f'_np{args.num_proc}' if args.num_proc > 1 else ''}"
                                      ".json")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_build_"))
    info = {"benchmark": "build_files", "machine": bu.machine_info(), "size_bp": args.size, "mode": args.mode,
            "num_proc": args.num_proc}
    try:
        t = time.perf_counter()
        spec = write_files(work / "files", args.size)
        info["write_files_s"] = round(time.perf_counter() - t, 1)
        info["files_gib"] = round(sum(p.stat().st_size for p in (work / "files").iterdir()) / 2 ** 30, 2)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_build_child, args=(str(spec), str(work / "data"), args.mode, args.num_proc,
                                                       queue))
        child.start()
        while True:                      # a child that dies without a result must not leave us waiting
            try:
                info.update(queue.get(timeout=10))
                break
            except Exception:            # queue.Empty
                if not child.is_alive():
                    raise RuntimeError(f"the build process died (exit code {child.exitcode})") from None
        child.join()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = sum(sum(r.values()) for r in info["rows"].values())
    info["rows_total"], info["rows_per_s"] = n, round(n / max(info["datasets_s"], 1e-9), 1)
    bu.write_json(out, info)
    print(f"| {label} | files {info['write_files_s']} s ({info['files_gib']} GiB) | build {info['datasets_s']} s | "
          f"peak RSS {info['peak_rss_gib']} GiB (largest worker {info['peak_rss_worker_gib']} GiB) | {n:,} rows | "
          f"{info['rows_per_s']:,} rows/s |")


if __name__ == "__main__":
    main()
