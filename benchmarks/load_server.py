"""Server load test: `seq2gen serve` (uvicorn, 127.0.0.1, a free port) over an untrained tiny model, hit by N mixed
good/bad requests with C in flight at once.

    python benchmarks/load_server.py              # 1,000 requests, 32 concurrent → results/load_server.json
    python benchmarks/load_server.py --requests 200 --concurrency 8 --in-process

Checks (exit status 1 if any fails): the server never crashes (still answers /health afterwards, no connection
errors), every good request gets 200 and every bad one the 4xx it should (422 invalid input, 413 oversize).
Records requests/s and p50/p90/p99 latency overall, for good and bad requests and per request kind, and prints a
Markdown table. The model is untrained: the figures measure the HTTP + validation + batching path and a tiny T5's
forward passes, not a useful model's cost. Requests are served one model call at a time (the server's lock), so
latency under load is mostly queueing: p50 ≈ concurrency × mean service time.

``tests/test_serve.py`` runs a small version (100 requests, 8 concurrent, server in a thread) in the default suite.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


# --------------------------------------------------------------------------------------------- requests
@dataclass
class Req:
    """One request: ``kind`` names it in the report; ``expect`` is the status it must get."""

    kind: str
    method: str
    path: str
    expect: int
    kw: dict = field(default_factory=dict)     # httpx request keywords: json=, content=, headers=, files=, data=

    @property
    def good(self) -> bool:
        return self.expect == 200


def variant_windows(world: Path, n: int = 16, length: int = 256) -> list[dict]:
    """``/variant-effect`` items for the world's first ``n`` SNVs: REF at offset length // 2 of a reference window."""
    from seq2gen.genome import Fasta, read_vcf
    fa = Fasta(world / "genome.fa")
    vcf = read_vcf(world / "variants.vcf")
    vcf = vcf[(vcf["ref"].str.len() == 1) & (vcf["alt"].str.len() == 1)].head(n)
    half = length // 2
    return [{"sequence": fa.fetch(r.chrom, r.start - half, r.start + length - half), "offset": half,
             "ref": r.ref, "alt": r.alt} for r in vcf.itertuples()]


def small_vcf(world: Path, n: int = 5) -> str:
    """The world VCF's header and first ``n`` records (a valid upload)."""
    lines = (world / "variants.vcf").read_text().splitlines()
    head = [x for x in lines if x.startswith("#")]
    body = [x for x in lines if x and not x.startswith("#")][:n]
    return "\n".join(head + body) + "\n"


def request_mix(prompts: dict[str, list[str]], variants: list[dict], vcf_text: str, n: int, max_length: int,
                max_batch: int, seed: int = 0) -> list[Req]:
    """``n`` requests, about 2/3 good and 1/3 bad, shuffled. ``prompts``: task → prompt strings."""
    rng = random.Random(seed)
    quick = [p for t in ("promoter", "tf_binding", "expression", "variant_effect") for p in prompts.get(t, [])]
    slow = [p for t in ("chromatin", "annotate") for p in prompts.get(t, [])]
    tissue = "liver"
    head = vcf_text.split("#CHROM")[0] + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"

    def good() -> Req:
        r = rng.random()
        if r < 0.35:
            return Req("predict_1", "POST", "/predict", 200, {"json": {"prompts": [rng.choice(quick)]}})
        if r < 0.55:
            batch = rng.sample(quick, 3) + ([rng.choice(slow)] if slow else [])
            return Req("predict_batch4", "POST", "/predict", 200, {"json": {"prompts": batch}})
        if r < 0.75:
            vs = rng.sample(variants, min(2, len(variants)))
            methods = rng.choice([["task"], ["task", "zero_shot"]])
            return Req("variant_effect", "POST", "/variant-effect", 200,
                       {"json": {"variants": vs, "tissue": tissue, "methods": methods}})
        if r < 0.85:
            return Req("health", "GET", "/health", 200)
        if r < 0.95:
            return Req("tasks", "GET", "/tasks", 200)
        return Req("score_vcf", "POST", "/score-vcf", 200,
                   {"files": {"file": ("v.vcf", vcf_text.encode())}, "data": {"tissue": tissue}})

    v = variants[0]

    def bad() -> Req:
        p = rng.choice(quick)
        dna_at = p.index("<dna>") + 6
        options = [
            ("unknown_tissue", 422, "/predict", {"json": {"prompts": [
                "<task:tf_binding> <tissue:livr> " + p[p.index("<dna>"):]]}}),
            ("invalid_base", 422, "/predict", {"json": {"prompts": [p[:dna_at] + "X" + p[dna_at + 1:]]}}),
            ("unknown_token", 422, "/predict", {"json": {"prompts": [p.replace("<dna>", "<dna> <foo>", 1)]}}),
            ("oversize", 413, "/predict", {"json": {"prompts": ["<task:promoter> <dna> " + "A" * max_length +
                                                               " </dna>"]}}),
            ("too_many", 413, "/predict", {"json": {"prompts": [p] * (max_batch + 1)}}),
            ("empty_body", 422, "/predict", {"content": b"", "headers": {"content-type": "application/json"}}),
            ("malformed_json", 422, "/predict", {"content": b'{"prompts": [', "headers": {
                "content-type": "application/json"}}),
            ("ref_mismatch", 422, "/variant-effect", {"json": {"variants": [{**v, "ref": "ACGT".replace(
                v["ref"], "")[0]}], "tissue": tissue}}),
            ("bad_vcf", 422, "/score-vcf", {"files": {"file": ("bad.vcf", (head + "chr1\tx\t.\tA\tG\t.\t.\t.\n")
                                                                .encode())}, "data": {"tissue": tissue}}),
        ]
        kind, status, path, kw = rng.choice(options)
        return Req(kind, "POST", path, status, kw)

    return [good() if rng.random() < 2 / 3 else bad() for _ in range(n)]


# --------------------------------------------------------------------------------------------- client
async def _fire(url: str, reqs: list[Req], concurrency: int, timeout: float) -> list[dict]:
    import httpx
    queue: asyncio.Queue = asyncio.Queue()
    for i, r in enumerate(reqs):
        queue.put_nowait((i, r))
    out: list[dict | None] = [None] * len(reqs)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        async def worker():
            while not queue.empty():
                i, r = queue.get_nowait()
                t0 = time.perf_counter()
                try:
                    resp = await client.request(r.method, r.path, **r.kw)
                    status, detail = resp.status_code, resp.text[:300]
                except Exception as exc:        # a dropped connection counts as a crash
                    status, detail = None, f"{type(exc).__name__}: {exc}"
                out[i] = {"kind": r.kind, "expect": r.expect, "status": status, "detail": detail,
                          "seconds": time.perf_counter() - t0}
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def fire(url: str, reqs: list[Req], concurrency: int, timeout: float = 300.0) -> tuple[list[dict], float]:
    """Send ``reqs`` with ``concurrency`` in flight; returns per-request results and the wall time."""
    t0 = time.perf_counter()
    res = asyncio.run(_fire(url, reqs, concurrency, timeout))
    return res, time.perf_counter() - t0


def _pcts(xs) -> dict:
    xs = np.asarray(xs, dtype=float) * 1000
    if not xs.size:
        return {"n": 0}
    return {"n": int(xs.size), "p50_ms": round(float(np.percentile(xs, 50)), 1),
            "p90_ms": round(float(np.percentile(xs, 90)), 1), "p99_ms": round(float(np.percentile(xs, 99)), 1),
            "max_ms": round(float(xs.max()), 1)}


def summarise(results: list[dict], wall: float) -> dict:
    """Throughput, latency percentiles (all / good / bad / per kind) and every failed expectation."""
    good = [r for r in results if r["expect"] == 200]
    bad = [r for r in results if r["expect"] != 200]
    failures = [r for r in results if r["status"] != r["expect"]]
    kinds = {}
    for k in sorted({r["kind"] for r in results}):
        rs = [r for r in results if r["kind"] == k]
        kinds[k] = {**_pcts([r["seconds"] for r in rs]), "expect": rs[0]["expect"],
                    "statuses": {str(s): sum(r["status"] == s for r in rs) for s in sorted(
                        {r["status"] for r in rs}, key=str)}}
    return {"requests": len(results), "wall_s": round(wall, 2), "requests_per_s": round(len(results) / wall, 1),
            "latency": {"all": _pcts([r["seconds"] for r in results]), "good": _pcts([r["seconds"] for r in good]),
                        "bad": _pcts([r["seconds"] for r in bad])},
            "good": {"n": len(good), "ok_200": sum(r["status"] == 200 for r in good)},
            "bad": {"n": len(bad), "expected_4xx": sum(r["status"] == r["expect"] for r in bad),
                    "any_4xx": sum(r["status"] is not None and 400 <= r["status"] < 500 for r in bad)},
            "connection_errors": sum(r["status"] is None for r in results),
            "by_kind": kinds, "failures": failures[:20], "n_failures": len(failures)}


def markdown(summary: dict) -> str:
    from benchutil import table
    rows = []
    for name, lat in summary["latency"].items():
        rows.append([name, lat["n"], lat.get("p50_ms"), lat.get("p90_ms"), lat.get("p99_ms"), lat.get("max_ms"), ""])
    for k, v in summary["by_kind"].items():
        rows.append([f"`{k}`", v["n"], v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"],
                     ", ".join(f"{s}×{c}" for s, c in v["statuses"].items())])
    head = (f"{summary['requests']} requests, {summary.get('concurrency', '?')} concurrent: "
            f"**{summary['requests_per_s']} req/s**, wall {summary['wall_s']} s; good → 200: "
            f"{summary['good']['ok_200']}/{summary['good']['n']}, bad → expected 4xx: "
            f"{summary['bad']['expected_4xx']}/{summary['bad']['n']}, connection errors: "
            f"{summary['connection_errors']}\n\n")
    return head + table(["requests", "n", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses"], rows)


# --------------------------------------------------------------------------------------------- servers
def free_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, timeout: float, proc=None) -> None:
    import httpx
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer /health within {timeout} s")


@contextlib.contextmanager
def serve_in_thread(app, port: int | None = None):
    """uvicorn serving ``app`` on 127.0.0.1 in a daemon thread of this process; yields ``(url, alive)``."""
    import uvicorn
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, 60)
        yield url, thread.is_alive
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def serve_in_process(model_dir, fasta, max_length: int, max_batch: int, port: int | None = None,
                     log=None):
    """``seq2gen serve MODEL`` as a child process (what a user runs); yields ``(url, alive)``."""
    port = port or free_port()
    cmd = [sys.executable, "-c", "from seq2gen.cli import app; app()", "serve", str(model_dir), "--port", str(port),
           "--fasta", str(fasta), "--max-length", str(max_length), "--max-batch", str(max_batch)]
    proc = subprocess.Popen(cmd, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, 300, proc)
        yield url, lambda: proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def export_tiny(tok, data_dir: Path, out: Path) -> Path:
    """An untrained tiny model in the training-export layout (what `seq2gen serve` loads)."""
    from seq2gen.model import build_model
    model = build_model("tiny", len(tok), tok.pad_id, tok.eos_id)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    for f in ("quantizers.json", "tasks.json"):
        shutil.copy(data_dir / f, out / f)
    return out


def prompts_of(data: dict, k: int = 8) -> dict[str, list[str]]:
    return {t: list(dd["test"]["prompt"][:k]) for t, dd in data.items() if t != "span_corruption"}


def run(url: str, alive, prompts, variants, vcf_text, n: int, concurrency: int, max_length: int,
        max_batch: int, seed: int = 0) -> dict:
    """Fire the mix at a running server and summarise; ``summary["ok"]`` is the verdict."""
    import httpx
    reqs = request_mix(prompts, variants, vcf_text, n, max_length, max_batch, seed)
    results, wall = fire(url, reqs, concurrency)
    summary = summarise(results, wall)
    summary["concurrency"] = concurrency
    try:
        summary["alive_after"] = alive() and httpx.get(url + "/health", timeout=30).status_code == 200
    except httpx.HTTPError:
        summary["alive_after"] = False
    summary["ok"] = bool(summary["alive_after"] and summary["n_failures"] == 0 and not summary["connection_errors"])
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=4096, help="server max_length (characters)")
    ap.add_argument("--max-batch", type=int, default=16, help="server max_batch")
    ap.add_argument("--in-process", action="store_true", help="uvicorn in a thread of this process instead of a "
                    "`seq2gen serve` child process")
    ap.add_argument("--workdir", default=None, help="keep the world/data/model here (default: a temp dir)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(HERE / "results" / "load_server.json"))
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from benchutil import machine_info, make_world_data, write_json
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="load_server_")
    root = Path(args.workdir or tmp.name)
    try:
        t0 = time.perf_counter()
        world, data_dir, data, tok = make_world_data(root, size=300_000, max_per_task=40)
        model_dir = root / "model"
        if not (model_dir / "config.json").is_file():
            export_tiny(tok, data_dir, model_dir)
        prompts, variants, vcf_text = prompts_of(data), variant_windows(world), small_vcf(world)
        setup_s = time.perf_counter() - t0
        if args.in_process:
            from seq2gen.serve import create_app
            ctx = serve_in_thread(create_app(model_dir, max_length=args.max_length, max_batch=args.max_batch,
                                             fasta=world / "genome.fa"))
        else:
            log = open(root / "server.log", "w")
            ctx = serve_in_process(model_dir, world / "genome.fa", args.max_length, args.max_batch, log=log)
        with ctx as (url, alive):
            run(url, alive, prompts, variants, vcf_text, 20, 4, args.max_length, args.max_batch, args.seed + 1)
            summary = run(url, alive, prompts, variants, vcf_text, args.requests, args.concurrency,
                          args.max_length, args.max_batch, args.seed)
        summary.update(setup_s=round(setup_s, 1), server="thread" if args.in_process else "subprocess",
                       model="tiny (untrained)", max_length=args.max_length, max_batch=args.max_batch,
                       command="python benchmarks/load_server.py " + " ".join(argv if argv is not None
                                                                            else sys.argv[1:]),
                       machine=machine_info())
        write_json(args.out, summary)
        print(markdown(summary))
        print(f"\n→ {args.out}")
        if not summary["ok"]:
            print("FAILED:", json.dumps(summary["failures"][:5], indent=1), file=sys.stderr)
            return 1
        return 0
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
