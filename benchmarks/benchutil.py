"""Helpers shared by the benchmarks: machine facts, a small world + datasets, the matmul peak, JSON output.

The benchmarks run on shared machines, so every figure that matters is a ratio against a baseline measured in the
same process, with the arms interleaved (A B C, B C A, …) and medians taken over the repeats.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine_info() -> dict:
    """CPU model, cores, memory, library versions and the load average when the run started."""
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
                 .split()[1])
        mem_gib = round(kb / 2 ** 20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    info = {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(), "mem_gib": mem_gib,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    try:
        import transformers
        info["transformers"] = transformers.__version__
    except ImportError:
        pass
    return info


def median(xs) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def rotations(arms: list, rounds: int):
    """Yield (round, arm) so that every round runs each arm once, starting from a different arm each round."""
    for r in range(rounds):
        k = r % len(arms)
        for arm in arms[k:] + arms[:k]:
            yield r, arm


def matmul_gflops(n: int = 1024, repeat: int = 7) -> dict:
    """fp32 ``n×n @ n×n`` throughput with torch's current thread count: median and best GFLOP/s over ``repeat``."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        k = 0
        while True:
            a @ b
            k += 1
            dt = time.perf_counter() - t0
            if dt > 0.25:
                break
        rates.append(2 * n ** 3 * k / dt / 1e9)
    return {"n": n, "median_gflops": median(rates), "best_gflops": max(rates)}


def make_world_data(root: Path, size: int = 1_000_000, max_per_task: int = 256, mode: str = "char", seed: int = 0):
    """A synthetic world (genome.fa, variants.vcf, …) and its task datasets under ``root``; reused if present."""
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.vocab import build_tokenizer
    from seq2gen.world import generate_world
    root = Path(root)
    world = root / "world"
    if not (world / "world.json").is_file():
        generate_world(world, size=size, seed=seed)
    tok = build_tokenizer(mode=mode)
    reg = TaskRegistry.from_dir(vocab=tok.vocab)
    data = build_datasets(world, reg, tok, root / "data", max_per_task=max_per_task, progress=False)
    return world, root / "data", data, tok


def write_json(path, obj) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, default=float) + "\n")
    return path


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (what RESULTS.md shows)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
