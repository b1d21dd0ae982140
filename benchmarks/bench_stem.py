"""Does the convolutional nucleotide stem pay? (docs/model.md)

* default — a GUE task (``--task``; default core promoters ``prom_prom_core_all``, 70 bp; ``EMP_H3`` is 500 bp):
  train on train, score on the held-out test (GUE's dev split, or part of it where only dev is shipped). The
  ``--body`` T5 (``small``; ``mini`` = the quickstart's) with stem none (one token per base), kmer (6-mer tokens)
  and conv (the stem of the body's own ``*_conv`` preset), plus the plain CNN baseline (seq2gen.baselines.cnn),
  each trained for the same wall-clock budget, one after the other, in one process. Test AUROC / MCC, training
  examples/s per arm, and the conv − CNN AUROC gap with a paired bootstrap interval.
* ``--speed`` — examples/s of stem none vs conv at 70 / 300 / 500 / 1,000 nt (where the encoder-length saving grows).
* ``--offsets`` — synthetic probe: can a pooled encoder still name 8-bp ``<off:…>`` offsets? (``--ablate-offsets``
  zeroes the stem's offset sinusoids.)
* ``--long`` — ``long_conv`` forward on 1,000,000 nt and one training step on 200,000 nt, each in a fresh child
  process (peak RSS = that measurement alone).

Run:  python benchmarks/bench_stem.py [--budget 300] [--body mini] [--task EMP_H3] [--out results/X.json]
                                                                      → benchmarks/results/stem_gue.{json,md}
      python benchmarks/bench_stem.py --speed | --offsets | --long    → benchmarks/results/stem_<mode>.json

The seq2gen arms use a plain torch loop (AdamW, warm-up then linear decay over the elapsed budget, like the CNN's
schedule): this measures the architecture, not DeepSpeed. Budgets count everything inside an arm (tokenising, model
build, training, validation); test scoring is outside. Every arm, the CNN included, validates on the same
``--n-val`` rows about 12 times inside its budget and keeps its best-validation-AUROC weights (small tasks such as
EMP_H3 are over-fitted within 5 minutes); examples/s counts training time only. 1 torch thread by default. On a
shared machine the arms see different load: compare with care, say so.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"


def conv_stem(body: str) -> dict:
    """The conv arm's stem parameters: those of the body's own conv preset (``mini`` → ``mini_conv``, the
    quickstart's model), else small_conv's."""
    from seq2gen.model import list_presets, load_preset
    preset = f"{body}_conv" if f"{body}_conv" in list_presets() else "small_conv"
    return {k: v for k, v in load_preset(preset)["config"].items() if k.startswith("stem_")}


def arm_preset(arm: str, body: str) -> dict:
    """The body preset with the arm's stem (body ``small``: = small / small_kmer / small_conv)."""
    from seq2gen.model import load_preset
    p = load_preset(body)
    return {**p, "stem": arm, "config": {**p["config"], **(conv_stem(body) if arm == "conv" else {})}}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else "?"
    return {"date": datetime.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(), "loadavg_at_start": os.getloadavg()}


# ----------------------------------------------------------------------------------------------- seq2gen arms
def encode(tok, df):
    rows = [tok.encode_parts(["<task:promoter>", "<dna>"], s, ["</dna>"]) for s in df["sequence"]]
    yes, no = tok.token_ids(["<yes>", "<no>"])
    labels = np.stack([np.where(df["label"].to_numpy() == 1, yes, no), np.full(len(df), tok.eos_id)], axis=1)
    return rows, labels


def fit(model, tok, rows, labels, budget: float, t0: float, batch_size: int, lr: float, seed: int, log,
        name: str, val=None) -> dict:
    """Plain torch loop until ``budget`` seconds after ``t0``: AdamW, 50-step warm-up, linear decay to 10 % over
    the elapsed budget, clipping at 1. With ``val = (rows, labels 0/1)`` it validates like the CNN baseline (about 12
    times over the budget and at the end, inside the budget) and returns the best-AUROC weights."""
    from sklearn.metrics import roc_auc_score

    from seq2gen.infer.engine import pad_batch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    order, pos, step, seen, losses = rng.permutation(len(rows)), 0, 0, 0, []
    best = {"auroc": -1.0, "step": 0, "state": None}
    eval_s, last_eval = 0.0, time.perf_counter()

    def validate():
        nonlocal eval_s, last_eval
        te = time.perf_counter()
        model.eval()
        yes = first_token_probs(model, tok, val[0], tok.token_ids(["<yes>", "<no>"]))[:, 0]
        auroc = float(roc_auc_score(val[1], yes))
        model.train()
        if auroc > best["auroc"]:
            best.update(auroc=auroc, step=step, state=copy.deepcopy(model.state_dict()))
        log(f"{name}: step {step} val AUROC {auroc:.3f}")
        last_eval = time.perf_counter()
        eval_s += last_eval - te

    model.train()
    t_loop = time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < budget:
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(rows)), 0
        idx = order[pos:pos + batch_size]
        pos += batch_size
        ids, mask = pad_batch([rows[i] for i in idx], tok.pad_id, "cpu")
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, (step + 1) / 50) * (1 - 0.9 * elapsed / budget)
        loss = model(input_ids=ids, attention_mask=mask, labels=torch.from_numpy(labels[idx])).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step, seen = step + 1, seen + len(idx)
        if step % 50 == 0:
            log(f"{name}: step {step} loss {np.mean(losses[-50:]):.3f} {time.perf_counter() - t0:.0f}s")
        if val is not None and time.perf_counter() - last_eval >= budget / 12:
            validate()
    if val is not None:
        validate()
        model.load_state_dict(best["state"])
    model.eval()
    return {"steps": step, "examples_seen": seen, "train_loop_s": time.perf_counter() - t_loop - eval_s,
            "eval_s": eval_s, "arm_wall_s": time.perf_counter() - t0,
            "final_train_loss": float(np.mean(losses[-50:])) if losses else None,
            **({"best_step": best["step"], "best_val_auroc": best["auroc"]} if val is not None else {})}


def first_token_probs(model, tok, rows, allowed) -> np.ndarray:
    """(n, len(allowed)) probabilities of the first answer token over ``allowed`` ids (one teacher-forced pass)."""
    from seq2gen.infer.engine import first_step_logits, restricted_softmax
    return np.concatenate([restricted_softmax(first_step_logits(model, rows[a:a + 256], tok.pad_id, tok.pad_id),
                                              np.asarray(allowed)) for a in range(0, len(rows), 256)])


def encoder_positions(model, tok, row) -> int:
    from seq2gen.infer.engine import pad_batch
    if getattr(model, "stem", None) is None:
        return len(row)
    return int(model.stem.encoder_inputs(*pad_batch([row], tok.pad_id, "cpu"), model.shared)[1].sum())


def train_seq2gen(arm: str, body: str, splits, budget: float, batch_size: int, lr: float, seed: int, log) -> dict:
    from seq2gen.model import build_model, count_parameters
    from seq2gen.vocab import build_tokenizer
    t0 = time.perf_counter()
    tok = build_tokenizer(mode="kmer" if arm == "kmer" else "char")
    rows, labels = encode(tok, splits["train"])
    val = (encode(tok, splits["validation"])[0], splits["validation"]["label"].to_numpy())
    model = build_model(arm_preset(arm, body), tokenizer=tok, seed=seed)
    res = fit(model, tok, rows, labels, budget, t0, batch_size, lr, seed, log, arm, val=val)
    t1 = time.perf_counter()
    test_rows, _ = encode(tok, splits["test"])
    probs = first_token_probs(model, tok, test_rows, tok.token_ids(["<yes>", "<no>"]))[:, 0]
    return {**res, "probs": probs, "score_s": time.perf_counter() - t1, "n_params": count_parameters(model),
            "encoder_positions": encoder_positions(model, tok, test_rows[0]), "body": body,
            "batch_size": batch_size, "lr": lr}


def train_cnn_arm(splits, budget: float, seed: int, log) -> dict:
    from seq2gen.baselines.cnn import predict_cnn, train_cnn
    model, hist = train_cnn(splits["train"], splits["validation"], 2, budget_s=budget, batch_size=128, seed=seed,
                            log=lambda s: log(f"cnn: {s}"))
    t1 = time.perf_counter()
    probs = predict_cnn(model, splits["test"]["sequence"].tolist())[:, 1]
    return {"probs": probs, "steps": hist["steps"], "examples_seen": hist["examples_seen"],
            "train_loop_s": hist["train_s"], "arm_wall_s": hist["wall_s"], "score_s": time.perf_counter() - t1,
            "n_params": hist["n_params"], "batch_size": 128, "best_step": hist["best_step"]}


def auroc_gap(y, a, b, n_boot: int = 2000, seed: int = 0) -> dict:
    """AUROC(a) − AUROC(b) on the same test rows with a paired bootstrap 95 % interval (rows resampled together)."""
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            gaps.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    lo, hi = np.percentile(gaps, [2.5, 97.5])
    return {"gap": round(float(roc_auc_score(y, a) - roc_auc_score(y, b)), 4),
            "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def run_gue(args) -> dict:
    from seq2gen.baselines.gue import load_gue
    from seq2gen.evaluate.metrics import classification
    splits = load_gue(args.task, seed=args.seed)
    for split, n in (("test", args.n_test), ("validation", args.n_val)):
        if n and n < len(splits[split]):
            splits[split] = splits[split].sample(n, random_state=args.seed)
    y = splits["test"]["label"].to_numpy()
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    info = {**machine(), "task": args.task, "budget_s": args.budget, "body": args.body,
            "conv_stem": conv_stem(args.body),
            "n_train": len(splits["train"]), "n_validation": len(splits["validation"]), "n_test": len(y),
            "split": f"{splits.info['rule']}; test deduplicated against train/validation", "arms": {}}
    probs = {}
    for arm in args.arms:
        log(f"--- {arm} (load {os.getloadavg()[0]:.1f})")
        torch.manual_seed(args.seed)
        res = (train_cnn_arm(splits, args.budget, args.seed, log) if arm == "cnn" else
               train_seq2gen(arm, args.body, splits, args.budget, args.batch_size, args.lr, args.seed, log))
        probs[arm] = res.pop("probs")
        m = classification(y, probs[arm])
        res.update({k: round(m[k], 4) for k in ("auroc", "auprc", "mcc", "accuracy")},
                   examples_per_s=round(res["examples_seen"] / res["train_loop_s"], 1))
        info["arms"][arm] = {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in res.items()}
        log(f"{arm}: {info['arms'][arm]}")
    base = info["arms"].get("none", {}).get("examples_per_s")
    for r in info["arms"].values():
        r["speed_vs_none"] = round(r["examples_per_s"] / base, 1) if base else None
    if "conv" in probs and "cnn" in probs:
        info["conv_minus_cnn_auroc"] = auroc_gap(y, probs["conv"], probs["cnn"], seed=args.seed)
    return info


def markdown(info: dict) -> str:
    lines = [f"GUE `{info['task']}`: train {info['n_train']:,} rows, validation {info.get('n_validation', '?'):,} "
             f"rows (best-AUROC weights kept), test {info['n_test']:,} rows ({info['split']}); "
             f"budget {info['budget_s']:.0f} s per arm, {info['threads']} torch thread(s), {info['cpu']} "
             f"({info['cores']} cores, shared; load {info['loadavg_at_start'][0]:.1f} at start), {info['date']}.", "",
             "| arm | model | encoder positions | params | steps (best) | examples seen | examples/s | × none | "
             "test AUROC | test MCC |", "|---|---|---|---|---|---|---|---|---|---|"]
    for arm, r in info["arms"].items():
        model = "Basset-style CNN" if arm == "cnn" else f"`{r['body']}` + stem {arm}"
        lines.append(f"| {arm} | {model} | {r.get('encoder_positions', '–')} | {r['n_params'] / 1e6:.2f} M | "
                     f"{r['steps']:,} ({r.get('best_step', '–')}) | {r['examples_seen']:,} | "
                     f"{r['examples_per_s']:,.0f} | {r['speed_vs_none'] or '–'} | "
                     f"{r['auroc']:.3f} | {r['mcc']:.3f} |")
    if "conv_minus_cnn_auroc" in info:
        g = info["conv_minus_cnn_auroc"]
        lines += ["", f"AUROC conv − CNN: {g['gap']:+.3f} (paired bootstrap 95 % interval "
                      f"[{g['ci95'][0]:+.3f}, {g['ci95'][1]:+.3f}], test rows resampled)."]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- speed vs length
def run_speed(args) -> dict:
    """Training examples/s of the body with stem none vs conv on random DNA of several lengths (batch 16, median of
    3 timed steps after one warm-up; arms interleaved per length)."""
    from seq2gen.infer.engine import pad_batch
    from seq2gen.model import build_model
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    rng = np.random.default_rng(args.seed)
    labels = torch.tensor([tok.token_ids(["<yes>"]) + [tok.eos_id]] * 16)
    models = {arm: build_model(arm_preset(arm, args.body), tokenizer=tok, seed=args.seed).train()
              for arm in ("none", "conv")}
    info = {**machine(), "body": args.body, "conv_stem": conv_stem(args.body), "batch_size": 16, "rows": []}
    for n in args.speed_lengths:
        rows = [tok.encode_parts(["<task:promoter>", "<dna>"], "".join(rng.choice(list("ACGT"), n)), ["</dna>"])
                for _ in range(16)]
        ids, mask = pad_batch(rows, tok.pad_id, "cpu")
        row = {"nt": n}
        for arm, model in models.items():
            opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
            times = []
            for _ in range(4):
                t = time.perf_counter()
                model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                times.append(time.perf_counter() - t)
            row[f"{arm}_examples_per_s"] = round(16 / float(np.median(times[1:])), 1)
            row[f"{arm}_encoder_positions"] = encoder_positions(model, tok, rows[0])
        row["conv_vs_none"] = round(row["conv_examples_per_s"] / row["none_examples_per_s"], 1)
        info["rows"].append(row)
        print(row, file=sys.stderr, flush=True)
    return info


# ----------------------------------------------------------------------------------------------- offsets probe
MOTIF = "GGGGGGGG"          # planted in G-free background: finding it is trivial, naming where it starts is not


def run_offsets(args) -> dict:
    """Can pooled DNA still name 8-bp offsets? ``GGGGGGGG`` is planted at a random start s in 128 bp of G-free DNA;
    the answer is s's annotation grid point ``<off:snap(s, 8)>`` (how span boundaries are rendered). Tiny body,
    same budget per arm; exact / ±1-bin accuracy on 1,000 fresh windows (chance ≈ 6 %)."""
    from seq2gen.model import build_model, count_parameters, load_preset
    from seq2gen.tasks import snap
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    res, L = tok.vocab.off_resolution, args.offset_length
    off_ids = np.asarray(tok.token_ids([tok.vocab.off_token(i) for i in range(L // res + 1)]))

    def windows(n, seed):
        rng = np.random.default_rng(seed)
        starts = rng.integers(0, L - len(MOTIF) + 1, n)
        dna = ["".join(rng.choice(list("ACT"), L)) for _ in range(n)]
        rows = [tok.encode_parts(["<task:annotate>", "<dna>"], d[:s] + MOTIF + d[s + len(MOTIF):], ["</dna>"])
                for d, s in zip(dna, starts)]
        return rows, np.array([snap(s, res) for s in starts])

    rows, bins = windows(20_000, args.seed)
    test_rows, test_bins = windows(1_000, args.seed + 1)
    labels = np.stack([off_ids[bins], np.full(len(bins), tok.eos_id)], axis=1)
    conv = load_preset("tiny_conv")
    arms = {f"conv P={p}" if p else "none": {**conv, "config": {**conv["config"], "stem_pool": p}} if p else
            load_preset("tiny") for p in args.offset_pools}
    info = {**machine(), "probe": " ".join(run_offsets.__doc__.split()), "budget_s": args.budget, "lr": args.lr,
            "offset_features": not args.ablate_offsets, "arms": {}}
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    for name, preset in arms.items():
        t0 = time.perf_counter()
        model = build_model(preset, tokenizer=tok, seed=args.seed)
        r = fit(model, tok, rows, labels, args.budget, t0, args.batch_size, args.lr, args.seed, log, name)
        err = np.abs(first_token_probs(model, tok, test_rows, off_ids).argmax(1) - test_bins)
        r.update(exact=float((err == 0).mean()), within_1_bin=float((err <= 1).mean()),
                 mean_abs_err_bp=float(err.mean() * res), n_params=count_parameters(model),
                 encoder_positions=encoder_positions(model, tok, test_rows[0]),
                 examples_per_s=r["examples_seen"] / r["train_loop_s"])
        info["arms"][name] = {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in r.items()}
        log(f"{name}: {info['arms'][name]}")
    return info


# ----------------------------------------------------------------------------------------------- long inputs
def long_child(what: str, n: int) -> dict:
    from seq2gen.model import build_model
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode="char")
    model = build_model("long_conv", tokenizer=tok, seed=0)
    dna = "".join(np.random.default_rng(0).choice(list("ACGT"), n))
    ids = torch.from_numpy(tok.encode_parts(["<task:promoter>", "<dna>"], dna, ["</dna>"]))[None]
    mask = torch.ones_like(ids)
    out = {"what": what, "nt": n, "preset": "long_conv", "stem_pool": model.config.stem_pool}
    t = time.perf_counter()
    if what == "forward":
        model.eval()
        with torch.inference_mode():
            emb, pmask = model.stem.encoder_inputs(ids, mask, model.shared)
            out["stem_only_s"] = round(time.perf_counter() - t, 1)
            logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.zeros(1, 1, dtype=torch.long))
        out.update(encoder_positions=int(pmask.sum()),          # full pass: stem + encoder + one decoder step
                   full_forward_s=round(time.perf_counter() - t - out["stem_only_s"], 1),
                   finite=bool(torch.isfinite(logits.logits).all()))
    else:
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        labels = torch.tensor([tok.token_ids(["<yes>"]) + [tok.eos_id]])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        out.update(step_s=round(time.perf_counter() - t, 1), loss=round(loss.item(), 3))
    out["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)
    return out


def run_long(args) -> dict:
    info = {**machine(), "runs": []}
    for what, n in (("forward", args.length), ("train_step", args.train_length)):
        cmd = [sys.executable, __file__, "--child", what, str(n), "--threads", str(args.threads)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        info["runs"].append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(info["runs"][-1], file=sys.stderr, flush=True)
    return info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=300.0, help="wall-clock seconds per arm")
    arms = ["none", "kmer", "conv", "cnn"]
    ap.add_argument("--arms", nargs="+", default=arms, choices=arms)
    ap.add_argument("--task", default="prom_prom_core_all")
    ap.add_argument("--body", default="small", help="T5 preset under the stems (small: small/small_kmer/small_conv)")
    ap.add_argument("--n-test", type=int, default=0, help="score a seeded sample of the test split (0: all)")
    ap.add_argument("--n-val", type=int, default=1000,
                    help="validation rows every arm checks ~12 times inside its budget (seeded sample; 0: all)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4, help="3e-4: at 1e-3+ small T5s can stall (docs/training.md)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: fair on a shared machine)")
    ap.add_argument("--long", action="store_true", help="long_conv: 1-Mb forward and 200-kb training step")
    ap.add_argument("--speed", action="store_true", help="examples/s of stem none vs conv at several DNA lengths")
    ap.add_argument("--speed-lengths", type=int, nargs="+", default=[70, 300, 500, 1000])
    ap.add_argument("--offsets", action="store_true", help="synthetic probe: naming 8-bp offsets through the stem")
    ap.add_argument("--offset-pools", type=int, nargs="+", default=[0, 8, 32], help="0: no stem (stem none)")
    ap.add_argument("--offset-length", type=int, default=128, help="probe window (bp)")
    ap.add_argument("--ablate-offsets", action="store_true", help="zero the stem's offset sinusoids (ablation)")
    ap.add_argument("--length", type=int, default=1_000_000)
    ap.add_argument("--train-length", type=int, default=200_000)
    ap.add_argument("--child", nargs=2, metavar=("WHAT", "NT"), help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/stem_gue.json / stem_long.json)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.ablate_offsets:
        from seq2gen.model.stem import OFFSET_FREQS, ConvStem
        ConvStem.offset_features = lambda self, n: self.offset_proj.weight.new_zeros(n, 2 * OFFSET_FREQS)
    if args.child:
        print(json.dumps(long_child(args.child[0], int(args.child[1]))))
        return
    mode = "long" if args.long else "offsets" if args.offsets else "speed" if args.speed else "gue"
    info = {"long": run_long, "offsets": run_offsets, "speed": run_speed, "gue": run_gue}[mode](args)
    out = Path(args.out or RESULTS / f"stem_{mode}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=1) + "\n")
    if mode == "gue":
        out.with_suffix(".md").write_text(markdown(info))
        print(markdown(info))
    else:
        print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
