"""Long inputs: peak memory and time of one training step (forward + backward, batch 1) vs input length: T5 (full
attention), T5 with a chunked encoder, LongT5, LongT5 + conv stem.

Run:  python benchmarks/bench_context.py [--quick] [--presets small,small_chunked,long] [--lengths 1024,...,32768]

Each (preset, length) runs in a fresh child process (``--child``), so its peak resident memory is its own:
``ru_maxrss`` from ``os.wait4`` on that child. The child builds the preset (char-mode vocabulary, preset dropout,
train mode), warms up on a 256-token input, then times one forward + backward on ``<dna> N random bases </dna>``
(length = encoder tokens) with an 8-token answer; it also reports its resident memory before the timed step, so
``peak − before`` is what the step itself needed (activations, attention matrices, gradients). Time is reported as
wall seconds and as the step's CPU seconds per torch thread; on a shared machine the latter is the stable figure
(wall time grows with whatever else runs), and the caps and the plot use it.

Caps: before a run the parent projects its memory and time from the two previous lengths of the same preset
(growth exponent measured between them, at least 1); lengths whose projection exceeds ``--max-gib`` (all presets)
or ``--max-seconds`` (presets with full attention, i.e. ``arch: t5``) are recorded as ``skipped (projected …)``
and so are all longer ones. A child that runs past ``--child-timeout`` is killed and recorded as such.

Output: JSON (``--out``) and a plot of memory and time vs length (``--plot``, matplotlib Agg; measured points filled,
projections of skipped lengths hollow on dashed lines).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchutil as bu  # noqa: E402

GIB = 2 ** 30


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child(preset: str, length: int, answer: int, seed: int) -> dict:
    """One measurement; runs in its own process."""
    import torch

    from seq2gen.model.build import build_model, load_preset
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    model = build_model(preset, tokenizer=tok, seed=seed)
    model.train()
    g = torch.Generator().manual_seed(seed)
    bases = torch.tensor([tok.token_to_id[b] for b in "ACGT"])

    def batch(n):
        ids = torch.cat([torch.tensor([tok.token_to_id["<dna>"]]), bases[torch.randint(0, 4, (n - 2,), generator=g)],
                         torch.tensor([tok.token_to_id["</dna>"]])])[None]
        labels = bases[torch.randint(0, 4, (1, answer), generator=g)]
        return ids, labels

    def step(ids, labels):
        c0, t0 = time.process_time(), time.perf_counter()
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
        t1 = time.perf_counter()
        loss.backward()
        c2, t2 = time.process_time(), time.perf_counter()
        model.zero_grad(set_to_none=True)
        return t1 - t0, t2 - t1, c2 - c0

    step(*batch(256))
    ids, labels = batch(length)
    before = _rss_bytes()
    fwd, bwd, cpu = step(ids, labels)
    return {"preset": preset, "arch": load_preset(preset)["arch"], "length": length, "forward_s": fwd,
            "backward_s": bwd, "step_s": fwd + bwd, "step_cpu_s": cpu,
            "step_cpu_per_thread_s": cpu / torch.get_num_threads(), "rss_before_gib": before / GIB,
            "params": sum(p.numel() for p in model.parameters()), "threads": torch.get_num_threads()}


def run_child(preset: str, length: int, args) -> dict:
    cmd = [sys.executable, __file__, "--child", "--presets", preset, "--lengths", str(length),
           "--answer", str(args.answer)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = False
    deadline = t0 + args.child_timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            killed = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.2)
    out, err = proc.stdout.read(), proc.stderr.read()
    peak = usage.ru_maxrss * 1024 / GIB                   # Linux: KiB
    row = {"preset": preset, "length": length, "peak_rss_gib": peak, "wall_s": time.perf_counter() - t0}
    if killed:
        return {**row, "status": f"killed after {args.child_timeout} s"}
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (err or "").strip().splitlines()[-3:]
        return {**row, "status": "failed: " + " | ".join(tail)}
    res = json.loads(out.strip().splitlines()[-1])
    return {**row, **res, "status": "ok", "step_peak_gib": peak - res["rss_before_gib"]}


def project(done: list[dict], length: int) -> tuple[float, float]:
    """Memory (GiB) and step CPU time per thread (s) at ``length`` from the last two measured lengths (power law,
    exponent ≥ 1)."""
    a, b = done[-2], done[-1]
    r = length / b["length"]
    out = []
    for key in ("peak_rss_gib", "step_cpu_per_thread_s"):
        e = max(1.0, _log(b[key] / a[key]) / _log(b["length"] / a["length"])) if a[key] > 0 else 2.0
        out.append(b[key] * r ** e)
    return out[0], out[1]


# ------------------------------------------------------------------------------------------------- estimates
def estimate(cfg: dict, arch: str, L: int, T: int = 8, act: int = 4, stem: dict | None = None,
             params: int | None = None, optimizer: bool = False) -> dict:
    """Analytic memory (GiB) of one training step, batch 1: what autograd keeps + one layer's transient scores.

    Per encoder layer it keeps ``L·(6d + 4hk + 5d_ff)`` activations of ``act`` bytes (norms, Q K V O, gated FFN)
    and, per attention element (``heads · L · K``, K = L for T5, ``3·(r+1) + L/g`` for LongT5 transient-global),
    the softmax output and dropout output (``act`` bytes each) plus the dropout mask (1 byte), and once the fp32
    position bias; the layer being computed (forward or backward) also holds ~3 fp32 score-sized tensors. Decoder: cross-attention K, V of the encoder
    states per layer. Gradients: 4 B/parameter (+ 12 B Adam state and master copy with ``optimizer``; mixed bf16
    keeps the same 16 B/param total). ``stem``: ``{pool, channels, blocks}`` — the encoder reads ``L / pool``
    positions and the stem keeps ~4 tensors of ``channels`` per base at full resolution (first block) and at the
    first pooled resolution.
    """
    d, H, dk = cfg.get("d_model", 512), cfg.get("num_heads", 8), cfg.get("d_kv", 64)
    dff, Le = cfg.get("d_ff", 2048), cfg.get("num_layers", 6)
    Ld = cfg.get("num_decoder_layers") or Le
    hk = H * dk
    stem_b = 0.0
    n = L
    if stem:
        from math import ceil
        n = ceil(L / stem["pool"])
        first = 2 ** ((stem["pool"].bit_length() - 1) // stem.get("blocks", 2) +
                      ((stem["pool"].bit_length() - 1) % stem.get("blocks", 2) > 0))
        stem_b = 4 * stem["channels"] * act * (L + L / first) + 5 * 4 * L
    if arch == "longt5":
        K = 3 * (cfg.get("local_radius", 127) + 1) + -(-n // cfg.get("global_block_size", 16))
    else:
        K = min(n, cfg.get("encoder_chunk") or n)           # chunked encoder: keys within the chunk
    lin = Le * n * (6 * d + 4 * hk + 5 * dff) * act
    attn = Le * H * n * K * (2 * act + 1) + H * n * K * 4     # + the position bias (shared by the layers)
    transient = H * n * K * 12                               # scores, biased scores / their gradients
    dec = Ld * n * 2 * hk * act
    per_param = 16 if optimizer else 4
    grads = (params or 0) * per_param
    total = lin + attn + transient + dec + stem_b + grads
    g = 2 ** 30
    return {"encoder_positions": n, "keys_per_query": K, "linear_gib": lin / g, "attention_gib": attn / g,
            "transient_gib": transient / g, "decoder_gib": dec / g, "stem_gib": stem_b / g,
            "params_state_gib": grads / g, "total_gib": total / g}


def n_params(cfg: dict, vocab: int = 1700) -> int:
    """Parameters of a (gated-FFN) T5 config: attention + FFN per layer, cross-attention, shared embedding."""
    d, hk, dff = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"]
    Le = cfg["num_layers"]
    Ld = cfg.get("num_decoder_layers") or Le
    return (Le + Ld) * (4 * d * hk + 3 * d * dff) + Ld * 4 * d * hk + vocab * d


def gpu_estimates(L: int) -> list[dict]:
    """Training memory at ``L`` bases, batch 1, bf16 activations, fp32 Adam (16 B/param), several set-ups."""
    from seq2gen.model.build import load_preset
    small, long_, base = (load_preset(p)["config"] for p in ("small", "long", "base"))
    p_small, p_base = n_params(small), n_params(base)
    setups = [
        ("long preset, char tokens (LongT5 TG, g=16)", long_, "longt5", L, None, p_small),
        ("long preset, 6-mer tokens", long_, "longt5", -(-L // 6), None, p_small),
        ("long preset, global_block_size=1024, char", {**long_, "global_block_size": 1024}, "longt5", L, None,
         p_small),
        ("small (T5) + conv stem pool 128", small, "t5", L, {"pool": 128, "channels": 128, "blocks": 2}, p_small),
        ("long + conv stem pool 128", long_, "longt5", L, {"pool": 128, "channels": 128, "blocks": 2}, p_small),
        ("long + conv stem pool 16", long_, "longt5", L, {"pool": 16, "channels": 128, "blocks": 2}, p_small),
        ("base (T5) + conv stem pool 128", base, "t5", L, {"pool": 128, "channels": 128, "blocks": 2}, p_base),
        ("base as LongT5 TG + conv stem pool 128", {**base, "local_radius": 127, "global_block_size": 16}, "longt5",
         L, {"pool": 128, "channels": 128, "blocks": 2}, p_base),
    ]
    out = []
    for name, cfg, arch, n, stem, params in setups:
        e = estimate(cfg, arch, n, act=2, stem=stem, params=params, optimizer=True)
        out.append({"setup": name, "bases": L, **e})
    return out


def _log(x):
    import math
    return math.log(max(x, 1e-12))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (key, label), ax in zip((("peak_rss_gib", "peak RSS (GiB)"),
                                 ("step_cpu_per_thread_s", "fwd+bwd step: CPU s / thread")), axes):
        for k, preset in enumerate(dict.fromkeys(r["preset"] for r in rows)):
            mine = [r for r in rows if r["preset"] == preset]
            ok = [r for r in mine if r["status"] == "ok"]
            proj = [r for r in mine if r["status"].startswith("skipped")]
            color = f"C{k}"
            name = f"{preset} ({ok[0]['arch'] if ok else '?'})"
            ax.plot([r["length"] for r in ok], [r[key] for r in ok], "o-", color=color, label=name)
            if ok and proj:
                pk = "projected_gib" if key == "peak_rss_gib" else "projected_s"
                xs = [ok[-1]["length"]] + [r["length"] for r in proj]
                ys = [ok[-1][key]] + [r[pk] for r in proj]
                ax.plot(xs, ys, "o--", color=color, mfc="none", label=f"{preset}: projected (skipped)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1024:g}k"))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("input tokens (batch 1)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("One training step vs input length (CPU, fp32)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="small,small_chunked,long,long_conv", help="model presets (names or YAML paths); "
                    "long_conv = LongT5 behind the conv nucleotide stem (seq2gen.model.stem), skipped if absent")
    ap.add_argument("--lengths", default="1024,2048,4096,8192,16384,32768")
    ap.add_argument("--answer", type=int, default=8, help="answer tokens (decoder length)")
    ap.add_argument("--max-gib", type=float, default=16.0, help="skip lengths projected above this peak RSS")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="skip full-attention lengths projected "
                    "above this step time (CPU seconds per thread: robust to other jobs on the machine)")
    ap.add_argument("--child-timeout", type=float, default=900.0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="lengths 512,1024,2048")
    ap.add_argument("--estimate-bases", type=int, default=1_000_000, help="input size of the GPU estimate table")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(bu.RESULTS / "context.json"))
    ap.add_argument("--plot", default=str(bu.RESULTS / "context.png"))
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(child(args.presets, int(args.lengths), args.answer, seed=0)))
        return
    if args.quick:
        args.lengths = "512,1024,2048"
    from seq2gen.model.build import load_preset
    lengths = sorted(int(x) for x in args.lengths.split(","))
    rows = []
    presets = []
    for preset in args.presets.split(","):
        try:
            load_preset(preset)
            presets.append(preset)
        except Exception as exc:                    # e.g. long_conv before seq2gen.model.stem exists
            print(f"# preset {preset} skipped: {exc}")
    for preset in presets:
        p = load_preset(preset)
        capped_time = p["arch"] == "t5" and not p["config"].get("encoder_chunk")     # full attention only
        done, stop = [], None
        for L in lengths:
            if stop is None and len(done) >= 2:
                gib, sec = project(done, L)
                if gib > args.max_gib or (capped_time and sec > args.max_seconds):
                    stop = "memory" if gib > args.max_gib else "time"
            if stop is not None:
                gib, sec = project(done, L) if len(done) >= 2 else (float("nan"), float("nan"))
                row = {"preset": preset, "length": L, "projected_gib": gib, "projected_s": sec,
                       "status": f"skipped (projected {gib:.1f} GiB, {sec:.0f} s; cap: {stop})"}
            else:
                row = run_child(preset, L, args)
                if row["status"] == "ok":
                    p = load_preset(preset)
                    c = p["config"]
                    stem = ({"pool": c.get("stem_pool", 16), "channels": c.get("stem_channels", 128),
                             "blocks": c.get("stem_blocks", 2)} if p.get("stem") == "conv" else None)
                    row["estimate_step_gib"] = estimate(c, p["arch"], L, args.answer, stem=stem,
                                                        params=row["params"])["total_gib"]
                    done.append(row)
                else:
                    stop = row["status"]
            rows.append(row)
            print(f"{preset:>8} {L:>6}: " + (f"{row['peak_rss_gib']:.2f} GiB peak, {row['step_s']:.1f} s wall, "
                                              f"{row['step_cpu_s']:.1f} s CPU"
                                              if row["status"] == "ok" else row["status"]), flush=True)
    gpu = gpu_estimates(args.estimate_bases)
    report = {"benchmark": "context", "machine": bu.machine_info(), "args": vars(args), "rows": rows,
              "gpu_estimates": gpu}
    bu.write_json(args.out, report)
    plot(rows, Path(args.plot))
    table = []
    for r in rows:
        if r["status"] == "ok":
            table.append([r["preset"], r["arch"], r["length"], f"{r['peak_rss_gib']:.2f}", f"{r['step_peak_gib']:.2f}",
                          f"{r['estimate_step_gib']:.2f}",
                          f"{r['forward_s']:.2f} + {r['backward_s']:.2f} = {r['step_s']:.2f}",
                          f"{r['step_cpu_per_thread_s']:.2f}", "ok"])
        else:
            table.append([r["preset"], "", r["length"], "", "", "", "", "", r["status"]])
    print(bu.table(["preset", "arch", "tokens", "peak RSS GiB", "step GiB (peak − before)", "estimate GiB",
                    "fwd + bwd wall s", "CPU s / thread", "status"], table))
    print(f"# GPU training estimate, {args.estimate_bases:,} bases, batch 1, bf16 activations, Adam 16 B/param")
    print(bu.table(["set-up", "encoder positions", "keys/query", "attention GiB", "other activations GiB",
                    "params+grads+Adam GiB", "total GiB"],
                   [[e["setup"], f"{e['encoder_positions']:,}", f"{e['keys_per_query']:,}",
                     f"{e['attention_gib'] + e['transient_gib']:,.1f}",
                     f"{e['linear_gib'] + e['decoder_gib'] + e['stem_gib']:,.1f}", f"{e['params_state_gib']:.2f}",
                     f"{e['total_gib']:,.1f}"] for e in gpu]))
    print(f"# wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
