"""World + dataset build time at genome scale (target: a 50 Mb world with every task builds in under ~5 min on 2
cores). An absolute figure, not a ratio: run it on an otherwise idle machine (the load at start is recorded).

Run:  python benchmarks/bench_build.py [--size 50000000] [--mode char]   → benchmarks/results/build.json
      python benchmarks/bench_build.py --source files --size 500000000  → benchmarks/results/build_files_500Mb.json

``--source world`` times ``generate_world`` (FASTA, GTF, BED, bigWigs, expression TSV, VCF) and ``build_datasets``
for every world task (the templates' caps: ≤ 20,000 train rows each) into a temporary folder, and reports rows per
task. ``--source files`` writes genome-sized real-format files instead (``synth_files.py``: GRCh38 chromosome
lengths scaled to ``--size``, human gene / peak / variant densities) and times ``build_datasets`` from their data
spec in a child process, so its peak RSS is the build's alone (wall time, peak RSS, rows/s).

``--uncapped`` (with ``--source files``) removes every cap (the templates' ``max_examples`` / ``max_eval_examples``
and ``max_per_task``), so the rows grow with the genome: the memory check of the streaming build. Besides the
peak RSS (``ru_maxrss``, which also counts the pages of the memory-mapped Arrow files the build reads back when it
saves them) it samples the child's anonymous memory (``RssAnon``, every 0.2 s: the rows held in Python / Arrow
buffers). ``--chunk-rows 1000000000`` holds a whole split per chunk, as the build before streaming did;
``--only TASK`` (repeatable) builds some tasks only.

      python benchmarks/bench_build.py --source files --size 500000000 --uncapped
      python benchmarks/bench_build.py --source files --size 500000000 --uncapped --chunk-rows 1000000000
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
    ap.add_argument("--uncapped", action="store_true", help="no row caps at all (--source files)")
    ap.add_argument("--chunk-rows", type=int, default=None, help="rows built at a time (default: the build's)")
    ap.add_argument("--only", action="append", default=None, help="build only this task (repeatable)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.source == "world" and (args.uncapped or args.chunk_rows or args.only):
        ap.error("--uncapped, --chunk-rows and --only go with --source files")
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


def _anon_peak(stop, peak: list) -> None:
    """Largest ``RssAnon`` of this process (KiB), sampled every 0.2 s until ``stop`` is set (Linux)."""
    while not stop.wait(0.2):
        try:
            with open("/proc/self/status") as f:
                kib = next(int(x.split()[1]) for x in f if x.startswith("RssAnon:"))
        except (OSError, StopIteration):
            return
        peak[0] = max(peak[0], kib)


def _build_child(spec: str, out: str, args: dict, queue) -> None:
    import resource
    import threading

    from seq2gen.data.build import CHUNK_ROWS, build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode=args["mode"], k=3 if args["mode"] == "kmer" else None)
    reg = TaskRegistry.from_dir(vocab=tok.vocab)
    if args["only"]:
        reg = reg.subset(args["only"])
    for name in reg.names if args["uncapped"] else []:
        reg.override(name, max_examples=None, max_eval_examples=None)
    stop, peak = threading.Event(), [0]
    threading.Thread(target=_anon_peak, args=(stop, peak), daemon=True).start()
    t = time.perf_counter()
    ds = build_datasets(spec, reg, tok, out, progress=False, force=True, num_proc=args["num_proc"],
                        chunk_rows=args["chunk_rows"] or CHUNK_ROWS)
    stop.set()
    import json
    stats = json.loads((Path(out) / "data_config.json").read_text())["stats"]
    queue.put({"datasets_s": round(time.perf_counter() - t, 1),
               "task_s": {task: st["seconds"] for task, st in stats.items()},
               "rows": {task: {split: len(d[split]) for split in d} for task, d in ds.items()},
               "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2),
               "peak_rss_anon_gib": round(peak[0] / 2 ** 20, 2),
               "peak_rss_worker_gib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20, 2)})


def bench_files(args) -> None:
    import multiprocessing as mp
    import shutil

    from synth_files import write_files
    label = f"{args.size / 1e9:.1f}Gb" if args.size >= 1e9 else f"{args.size / 1e6:.0f}Mb"
    tags = (f"_np{args.num_proc}" if args.num_proc > 1 else "") + ("_uncapped" if args.uncapped else "") + \
        (f"_chunk{args.chunk_rows}" if args.chunk_rows else "")
    out = args.out or str(bu.RESULTS / f"build_files_{label}{tags}.json")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_build_"))
    info = {"benchmark": "build_files", "machine": bu.machine_info(), "size_bp": args.size, "mode": args.mode,
            "num_proc": args.num_proc, "uncapped": args.uncapped, "chunk_rows": args.chunk_rows, "only": args.only}
    try:
        t = time.perf_counter()
        spec = write_files(work / "files", args.size)
        info["write_files_s"] = round(time.perf_counter() - t, 1)
        info["files_gib"] = round(sum(p.stat().st_size for p in (work / "files").iterdir()) / 2 ** 30, 2)
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        job = {k: getattr(args, k) for k in ("mode", "num_proc", "uncapped", "chunk_rows", "only")}
        child = ctx.Process(target=_build_child, args=(str(spec), str(work / "data"), job, queue))
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
          f"peak RSS {info['peak_rss_gib']} GiB (anon {info['peak_rss_anon_gib']} GiB; largest worker "
          f"{info['peak_rss_worker_gib']} GiB) | {n:,} rows | "
          f"{info['rows_per_s']:,} rows/s |")


if __name__ == "__main__":
    main()
