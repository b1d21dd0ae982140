"""Training step: seq2gen's DeepSpeed engine vs a plain torch loop, same model/batches/optimizer/clip, one run.

Run:  python benchmarks/bench_train.py [--quick] [--presets tiny,small] [--micro 16] [--rounds 12]
      python benchmarks/bench_train.py --batching [--presets mini_conv] [--group-micro 8] [--rounds 40]

``--batching`` compares the step loader's batching instead (both arms are ``seq2gen.train.loop.train_step`` on
``cpu_zero0``, global batch 32 of the quickstart mixture *with* span corruption, the same picks every step):
``mixed`` — one micro-batch of 32 in draw order (the trainer before length grouping); ``grouped`` — the same 32
rows sorted by (answer, prompt) length and cut into micro-batches of ``--group-micro`` (one arm per value, e.g.
``8,16``) with gradient accumulation
(exact token mean over the step, so both arms take the same optimizer steps up to float rounding); ``--nospan`` adds
the quickstart as it was (no span corruption, mixed 32 × 1: other rows, so its speed only). Reported:
answer tokens/s (label tokens of the step / step time), the paired speed ratio grouped/mixed, MFU useful / padded,
and the two loss curves (the same examples in the same steps; ``max |Δloss|``).

Arms (each built from the same seeded initial weights, stepped on the same batches, interleaved round by round with
the starting arm rotated; dropout masks are identical because the torch RNG is re-seeded before every arm's step):

* ``plain``  — ``torch.optim.AdamW`` over ``seq2gen.train.loop.param_groups`` + ``LambdaLR(lr_lambda)``,
  ``loss.backward()``, ``torch.nn.utils.clip_grad_norm_``, ``opt.step()``, ``sched.step()``, ``zero_grad``.
* ``zero0`` / ``zero1`` — what ``seq2gen.train`` runs: ``deepspeed.initialize`` with the resolved
  ``configs/deepspeed/cpu_zero{0,1}.json`` (DS_ACCELERATOR=cpu, gloo, 1 process), ``engine.backward``,
  ``engine.step`` (clipping inside DeepSpeed).

The forward pass is ``seq2gen.train.steps.token_losses`` for every arm. Batches are drawn from the real task mixture
(proportional rates) of a synthetic 1 Mb world in char mode (inputs 260–484 tokens, answers 2–98 tokens), collated
exactly as the training loop does (padding to the longest row of the micro-batch).

Reported per preset and arm: median seconds per step (and forward / backward / optimizer parts), tokens/s (non-pad
input + label tokens, like metrics.jsonl), the paired speed ratio plain/arm (median over rounds; ≥ 1 means the arm is
at least as fast as the plain loop; also from process CPU time, which other jobs on a shared machine disturb
less than wall time), and MFU: model FLOPs per step / (step time × measured fp32 matmul peak).

Model FLOPs per step: ``seq2gen.model.flops.train_flops`` (forward matmul FLOPs counted per layer from the
config, × 3 for forward + backward, conv stem included; the formula is in that module's docstring and
tests/test_flops.py checks it against torch's FLOP counter). ``mfu_useful`` counts each row's real lengths (work
that would remain with no padding); ``mfu_padded`` counts the padded batch shape (work the CPU actually did). The
usual ``6·N·positions`` estimate (N = non-embedding parameters, positions = encoder positions + answer tokens) is
reported too for comparison; it ignores attention scores, the LM head and that the decoder's cross-attention K/V
run over the encoder positions.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchutil as bu  # noqa: E402

from seq2gen.model.flops import train_flops  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TRAIN_KEYS = dict(lr=1e-3, weight_decay=0.01, warmup_steps=200, schedule="cosine", min_lr_ratio=0.05, grad_clip=1.0,
                  max_steps=3000)     # configs/train/quickstart.yaml


def non_embedding_params(model) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if "shared" not in n and "embed_tokens" not in n)


# ------------------------------------------------------------------------------------------------- arms
class _Shim:
    """What ``token_losses`` needs of an engine: ``module`` and ``__call__``."""

    def __init__(self, model):
        self.module = model

    def __call__(self, **kw):
        return self.module(**kw)


class PlainArm:
    def __init__(self, model, cfg):
        import torch

        from seq2gen.train.loop import lr_lambda, param_groups
        self.name, self.model, self.clip = "plain", model, cfg.grad_clip
        self.opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=tuple(cfg.betas),
                                     eps=cfg.eps)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(cfg))
        self.shim = _Shim(model)
        model.train()

    def step(self, batch):
        import torch

        from seq2gen.train.steps import token_losses
        t0 = time.perf_counter()
        loss, _, _ = token_losses(self.shim, batch)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        if self.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        value = loss.item()
        t3 = time.perf_counter()
        return value, (t1 - t0, t2 - t1, t3 - t2)


class DeepSpeedArm:
    def __init__(self, model, cfg, name):
        import deepspeed
        import torch

        from seq2gen.train.config import resolve_deepspeed_config
        from seq2gen.train.loop import lr_lambda, param_groups
        self.name = name
        ds_config = resolve_deepspeed_config(cfg, 1, True)
        self.engine, *_ = deepspeed.initialize(
            model=model, model_parameters=param_groups(model, cfg.weight_decay), config=ds_config,
            lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg)))
        if self.engine.zero_optimization_stage() == 0:      # as seq2gen.train.loop does for one process
            self.engine.enable_backward_allreduce = False
        self.engine.train()

    def step(self, batch):
        from seq2gen.train.steps import token_losses
        t0 = time.perf_counter()
        loss, _, _ = token_losses(self.engine, batch)
        t1 = time.perf_counter()
        self.engine.backward(loss)
        t2 = time.perf_counter()
        self.engine.step()
        value = loss.item()
        t3 = time.perf_counter()
        return value, (t1 - t0, t2 - t1, t3 - t2)


def make_arm(name, preset, tok, cfg_base, micro):
    from seq2gen.model.build import build_model
    from seq2gen.train.config import load_train_config
    model = build_model(preset, tokenizer=tok, seed=0)
    if name == "plain":
        cfg = load_train_config({**TRAIN_KEYS, "micro_batch_size": micro})
        return PlainArm(model, cfg)
    ds = {"zero0": "cpu_zero0", "zero1": "cpu_zero1"}.get(name, name)
    cfg = load_train_config({**TRAIN_KEYS, "micro_batch_size": micro, "deepspeed": ds})
    return DeepSpeedArm(model, cfg, name)


# ------------------------------------------------------------------------------------------------- main
def batches_for(data, tok, micro: int, n: int, seed: int = 0):
    from seq2gen.data.collate import Seq2GenCollator
    from seq2gen.train.sampler import MixtureSampler, mixture_rates
    from seq2gen.train.steps import columns, fetch_rows
    tasks = sorted(data)
    views = {t: columns(d["train"]) for t, d in data.items()}
    sizes = {t: len(v) for t, v in views.items()}
    sampler = MixtureSampler(sizes, mixture_rates("proportional", sizes), seed)
    collate = Seq2GenCollator(tok.pad_token_id)
    index = {t: i for i, t in enumerate(tasks)}
    return [collate(fetch_rows(views, sampler.draw(micro), index)) for _ in range(n)]


def run_preset(preset, arms, data, tok, args, peak):
    import torch
    built = [make_arm(a, preset, tok, TRAIN_KEYS, args.micro) for a in arms]
    cfg = built[0].model.config if hasattr(built[0], "model") else built[0].engine.module.config
    n_params = sum(p.numel() for p in (built[0].model if hasattr(built[0], "model") else
                                      built[0].engine.module).parameters())
    n_nonemb = non_embedding_params(built[0].model if hasattr(built[0], "model") else built[0].engine.module)
    batches = batches_for(data, tok, args.micro, args.warmup + args.rounds, seed=1)
    times = {a.name: [] for a in built}
    parts = {a.name: [] for a in built}
    losses = {a.name: [] for a in built}
    for w in range(args.warmup):                         # JIT/allocator warm-up, same batches for every arm
        for a in built:
            torch.manual_seed(1000 + w)
            a.step(batches[w])
    cpu = {a.name: [] for a in built}
    for r, a in bu.rotations(built, args.rounds):
        torch.manual_seed(1000 + args.warmup + r)
        c0, t0 = time.process_time(), time.perf_counter()
        loss, ph = a.step(batches[args.warmup + r])
        times[a.name].append(time.perf_counter() - t0)
        cpu[a.name].append(time.process_time() - c0)
        parts[a.name].append(ph)
        losses[a.name].append(loss)
    print(f"# {preset}: done", flush=True)
    fl = [train_flops(cfg, b, built[0].model if hasattr(built[0], "model") else built[0].engine.module)
          for b in batches[args.warmup:]]
    tokens = bu.median([f["tokens"] for f in fl])
    out = []
    for a in built:
        t = times[a.name]
        paired = [tp / ta for tp, ta in zip(times["plain"], t)] if "plain" in times else []
        paired_cpu = [tp / ta for tp, ta in zip(cpu["plain"], cpu[a.name])] if "plain" in cpu else []
        med = bu.median(t)
        # per-round MFU (each round has its own batch shape), then the median
        mfu_u = bu.median([f["useful"] / s / (peak * 1e9) for f, s in zip(fl, t)])
        mfu_p = bu.median([f["padded"] / s / (peak * 1e9) for f, s in zip(fl, t)])
        six_n = bu.median([6 * n_nonemb * f["positions"] / s / (peak * 1e9) for f, s in zip(fl, t)])
        row = {"preset": preset, "arm": a.name, "params": n_params, "params_non_embedding": n_nonemb,
               "micro_batch": args.micro, "rounds": args.rounds,
               "s_per_step": med, "s_per_step_all": t,
               "forward_s": bu.median([p[0] for p in parts[a.name]]),
               "backward_s": bu.median([p[1] for p in parts[a.name]]),
               "optimizer_s": bu.median([p[2] for p in parts[a.name]]),
               "tokens_per_step_median": tokens,
               "tokens_per_s": bu.median([f["tokens"] / s for f, s in zip(fl, t)]),
               "speed_vs_plain": bu.median(paired) if paired else None,
               "cpu_s_per_step": bu.median(cpu[a.name]),
               "speed_vs_plain_cpu": bu.median(paired_cpu) if paired_cpu else None,
               "mfu_useful": mfu_u, "mfu_padded": mfu_p, "mfu_6N": six_n,
               "gflop_per_step_useful": bu.median([f["useful"] for f in fl]) / 1e9,
               "gflop_per_step_padded": bu.median([f["padded"] for f in fl]) / 1e9,
               "pad_fraction": 1 - bu.median([f["tokens"] / f["padded_tokens"] for f in fl]),
               "max_abs_loss_diff_vs_plain": (max(abs(x - y) for x, y in zip(losses[a.name], losses["plain"]))
                                              if "plain" in losses else None),
               "losses": losses[a.name]}
        out.append(row)
    return out


def quickstart_rates(span_rate: float = 0.5) -> dict:
    """configs/train/quickstart.yaml's rates, with span corruption at ``span_rate`` (0.5 unless the file sets it)."""
    import yaml
    rates = dict(yaml.safe_load((REPO / "configs" / "train" / "quickstart.yaml").read_text())["rates"])
    rates.setdefault("span_corruption", span_rate)
    return rates


def batching_arm(name, preset, tok, data, micro):
    """(engine, cfg, plans iterator, StepBatches) for one batching arm; same seeds → the same picks as the other."""
    from seq2gen.data.collate import Seq2GenCollator
    from seq2gen.train.batches import StepBatches, StepPlans, row_lengths
    from seq2gen.train.config import load_train_config, resolve_deepspeed_config
    from seq2gen.train.loop import build_engine, build_samplers, stage_of
    from seq2gen.train.steps import columns
    rates = quickstart_rates()
    if name == "nospan":               # the quickstart before grouping: no span corruption, mixed 32 × 1
        rates.pop("span_corruption")
    cfg = load_train_config({**TRAIN_KEYS, "model": preset, "micro_batch_size": micro, "grad_accum": None,
                             "global_batch_size": 32, "deepspeed": "cpu_zero0", "rates": rates,
                             "batching": "grouped" if name == "grouped" else "mixed",
                             "model_overrides": {"dropout_rate": 0.0}})    # no dropout: comparable loss curves
    engine, _ = build_engine(cfg, tok, resolve_deepspeed_config(cfg, 1, True))
    lengths = {t: row_lengths(d["train"]) for t, d in data.items()}
    plans = StepPlans(build_samplers(cfg, data), stage_of(cfg), lengths, (1, 0, 32 // micro, 32), cfg.batching,
                      "token", 0, cfg.total_steps)
    tasks = sorted(data)
    batches = StepBatches({t: columns(d["train"]) for t, d in data.items()}, {t: i for i, t in enumerate(tasks)},
                          Seq2GenCollator(tok.pad_token_id))
    engine.train()
    return engine, cfg, iter(plans), batches


def run_batching(preset, data, tok, args, peak):
    """Mixed vs grouped micro-batches, interleaved round by round (see the module doc)."""
    import torch

    from seq2gen.train.loop import train_step
    arms = {"mixed": batching_arm("mixed", preset, tok, data, 32)}
    for m in map(int, str(args.group_micro).split(",")):
        arms[f"grouped{m}"] = batching_arm("grouped", preset, tok, data, m)
    if args.nospan:
        arms["nospan"] = batching_arm("nospan", preset, tok, data, 32)
    n_tasks = len(data)
    rec = {a: {"s": [], "loss": [], "useful": [], "padded": [], "answer": [], "rows_padded_answer": []} for a in arms}
    for r, a in bu.rotations(list(arms), args.warmup + args.rounds):
        engine, cfg, plans, batches = arms[a]
        item = batches[next(plans)]
        stats = torch.zeros(2 * n_tasks + 2, dtype=torch.float64)
        torch.manual_seed(1000 + r)
        t0 = time.perf_counter()
        train_step(engine, item, cfg, stats, n_tasks)
        seconds = time.perf_counter() - t0
        if r < args.warmup:
            continue
        fl = [train_flops(engine.module.config, b, engine.module) for b in item["batches"]]
        rec[a]["s"].append(seconds)
        rec[a]["loss"].append(float(stats[-2]))
        rec[a]["useful"].append(sum(f["useful"] for f in fl))
        rec[a]["padded"].append(sum(f["padded"] for f in fl))
        rec[a]["answer"].append(sum(int((b["labels"] != -100).sum()) for b in item["batches"]))
        rec[a]["rows_padded_answer"].append(sum(b["labels"].numel() for b in item["batches"]))
    print(f"# {preset}: done", flush=True)
    out = []
    for a, m in rec.items():
        out.append({"preset": preset, "arm": a, "micro_batch": int(a[len("grouped"):]) if a.startswith("grouped") else 32,
                    "global_batch": 32, "rounds": args.rounds, "s_per_step": bu.median(m["s"]),
                    "answer_tokens_per_s": bu.median([n / s for n, s in zip(m["answer"], m["s"])]),
                    "speed_vs_mixed": bu.median([x / y for x, y in zip(rec["mixed"]["s"], m["s"])]),
                    "mfu_useful": bu.median([f / s / (peak * 1e9) for f, s in zip(m["useful"], m["s"])]),
                    "mfu_padded": bu.median([f / s / (peak * 1e9) for f, s in zip(m["padded"], m["s"])]),
                    "answer_pad_fraction": 1 - sum(m["answer"]) / sum(m["rows_padded_answer"]),
                    "max_abs_loss_diff_vs_mixed": (max(abs(x - y) for x, y in zip(m["loss"], rec["mixed"]["loss"]))
                                                   if a != "nospan" else float("nan")),
                    "mean_loss_last_10": sum(m["loss"][-10:]) / len(m["loss"][-10:]),
                    "losses": m["loss"], "s_per_step_all": m["s"]})
    return out


def print_batching(results) -> None:
    rows = [[r["preset"], r["arm"], f"32 = {r['micro_batch']} × {32 // r['micro_batch']}", f"{r['s_per_step']:.3f}",
             f"{r['answer_tokens_per_s']:,.0f}", f"{r['speed_vs_mixed']:.2f}×",
             f"{100 * r['mfu_useful']:.1f} % / {100 * r['mfu_padded']:.1f} %",
             f"{100 * r['answer_pad_fraction']:.0f} %", f"{r['mean_loss_last_10']:.4f}",
             f"{r['max_abs_loss_diff_vs_mixed']:.1e}"] for r in results]
    print(bu.table(["preset", "arm", "batch", "s/step", "answer tokens/s", "speed vs mixed", "MFU useful / padded",
                    "answer padding", "loss (last 10)", "max |Δloss|"], rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", default="tiny,small")
    ap.add_argument("--arms", default="plain,zero0,zero1", help="plain, zero0, zero1 or a configs/deepspeed name")
    ap.add_argument("--micro", type=int, default=16, help="micro-batch size (quickstart: 16)")
    ap.add_argument("--rounds", type=int, default=12, help="timed steps per arm")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--quick", action="store_true", help="tiny preset, 4 rounds")
    ap.add_argument("--batching", action="store_true", help="grouped vs mixed micro-batches (see the doc)")
    ap.add_argument("--nospan", action="store_true", help="--batching: add the old quickstart (no span corruption, "
                    "mixed 32 × 1; other picks, so speed only)")
    ap.add_argument("--group-micro", default="8", help="--batching: micro-batch(es) of the grouped arm(s), e.g. 8,16")
    ap.add_argument("--out", default=str(bu.RESULTS / "train.json"))
    args = ap.parse_args()
    if args.quick:
        args.presets, args.rounds, args.warmup = "tiny", 4, 1
    if args.batching and args.out == ap.get_default("out"):
        args.out = str(bu.RESULTS / "train_batching.json")

    from seq2gen.train import distributed as dist_utils
    dist_utils.init_distributed()                  # DS_ACCELERATOR=cpu, rank env, gloo group
    import torch
    for name in ("DeepSpeed", "deepspeed"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    arms = args.arms.split(",")
    if "plain" in arms:
        arms = ["plain"] + [a for a in arms if a != "plain"]
    with tempfile.TemporaryDirectory() as tmp:
        _, _, data, tok = bu.make_world_data(Path(tmp), size=1_000_000, max_per_task=256)
        peaks = [bu.matmul_gflops()]
        results = []
        for preset in args.presets.split(","):
            peak = bu.median([p["median_gflops"] for p in peaks])
            if args.batching:
                results += run_batching(preset, data, tok, args, peak)
            else:
                results += run_preset(preset, arms, data, tok, args, peak)
            peaks.append(bu.matmul_gflops())
            peak = bu.median([p["median_gflops"] for p in peaks])
            report = {"benchmark": "train", "machine": bu.machine_info(), "args": vars(args),
                      "train_keys": TRAIN_KEYS, "matmul_fp32": peaks, "peak_gflops": peak, "results": results}
            bu.write_json(args.out, report)          # after every preset: a partial run keeps what it measured
    runs = ", ".join(f"{p['median_gflops']:.0f}" for p in peaks)
    print(f"# fp32 matmul peak (1024², {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s (runs: {runs})")
    if args.batching:
        print_batching(results)
        print(f"# wrote {args.out}")
        return
    rows = [[r["preset"], r["arm"], f"{r['s_per_step']:.3f}", f"{r['forward_s']:.3f} / {r['backward_s']:.3f} / "
             f"{r['optimizer_s']:.3f}", f"{r['tokens_per_s']:,.0f}",
             "–" if r["arm"] == "plain" else f"{r['speed_vs_plain']:.2f}× / {r['speed_vs_plain_cpu']:.2f}×",
             f"{100 * r['mfu_useful']:.1f} % / {100 * r['mfu_padded']:.1f} %",
             "–" if r["arm"] == "plain" else f"{r['max_abs_loss_diff_vs_plain']:.1e}"] for r in results]
    print(bu.table(["preset", "arm", "s/step", "fwd / bwd / opt s", "tokens/s", "speed vs plain (wall / CPU)",
                    "MFU useful / padded", "max |Δloss|"], rows))
    print(f"# wrote {args.out}")


if __name__ == "__main__":
    main()
