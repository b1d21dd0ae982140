"""Why small T5s stayed at chance on motif tasks: the learning rate collapses the encoder path (docs/training.md).

Trains one model on one task (plain AdamW loop, batch 32, linear warm-up, grad clip 1.0) and prints, every 50 steps,
the training loss, the test AUROC of P(<yes>) − P(<no>) at the first answer position, and at steps 5 / 50 / 150 the
gradient norm reaching the stem, encoder, decoder and shared embedding.

    python benchmarks/probe_lr.py --root runs/quickstart --task promoter --preset mini_conv --lr 2e-3
    python benchmarks/probe_lr.py --root runs/quickstart --task promoter --preset mini_conv --lr 1e-4

Tissue-conditioned tasks (docs/training.md, "Follow-up probes"): ``--tissue liver`` keeps one tissue's rows
(train and test); ``--first-tissue liver --first-steps 400`` trains on that tissue's rows only for the first steps
(a curriculum), then on every row:

    python benchmarks/probe_lr.py --root runs/quickstart --task tf_binding --lr 3e-4 --beta2 0.95 --threads 2 \
        --test-rows 400 --steps 900 --first-tissue liver --first-steps 400

Answers that name the tissue (docs/training.md, "Answers that name the tissue"): ``--answer-format yes | tissue``
trains and scores either tf_binding format from either build; ``--aux-profile 0.5 --holdout-tissue brain`` adds the
companion and scores the held-out tissue zero-shot against the seen tissues' average.

``--root`` is a folder with ``tokenizer/`` and ``datasets/<task>/`` (what `seq2gen quickstart` leaves); the task
must have a ``<yes>``/``<no>`` answer (or tf_binding's ``<tissue:…>``/``<no>``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--task", default="promoter")
    ap.add_argument("--preset", default="mini_conv")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--beta2", type=float, default=0.999, help="Adam second-moment decay")
    ap.add_argument("--tissue", default=None, help="keep only this tissue's rows (train and test)")
    ap.add_argument("--first-tissue", default=None, help="curriculum: this tissue's rows only for --first-steps")
    ap.add_argument("--first-steps", type=int, default=0)
    ap.add_argument("--test-rows", type=int, default=0, help="score the first N test rows (0: all)")
    ap.add_argument("--stem-lr-mult", type=float, default=1.0, help="the stem's learning rate / --lr")
    ap.add_argument("--every", type=int, default=50, help="evaluate every N steps")
    ap.add_argument("--condition", default=None, help="stem_condition of the conv stem: none | add | gate")
    ap.add_argument("--gate-scale", type=float, default=None, help="init scale of the gate projection (fan-in units)")
    ap.add_argument("--aux-profile", type=float, default=0.0,
                    help="tf_binding: this fraction of each batch are binding-profile rows (the same windows without "
                         "the tissue token → the tissues that bind the site, or <no>; from world/peaks.bed)")
    ap.add_argument("--profile-format", default="set", choices=["set", "single"],
                    help="set: the sorted tissue tokens in one answer; single: one bound tissue drawn per row")
    ap.add_argument("--holdout-tissue", default=None,
                    help="drop this tissue's rows from training (not the profile rows); also score its test rows "
                         "(zero-shot) against the average of the seen tissues' prompts on the same DNA")
    ap.add_argument("--answer-format", default=None, choices=["yes", "tissue"],
                    help="tissue (the shipped tf_binding): a bound row answers its prompt's tissue token, scored as "
                         "P(<tissue:t>) − P(<no>) with t the row's tissue; yes: <yes> (tf_binding before 2026-12-07); "
                         "default: the datasets' own")
    args = ap.parse_args(argv)
    from datasets import load_from_disk
    from sklearn.metrics import roc_auc_score

    from seq2gen.data.collate import Seq2GenCollator
    from seq2gen.model import build_model
    from seq2gen.train.sampler import curriculum_rows
    from seq2gen.vocab import Seq2GenTokenizer
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tok = Seq2GenTokenizer.from_pretrained(f"{args.root}/tokenizer")
    ds = load_from_disk(f"{args.root}/datasets/{args.task}")
    train, test = ds["train"], ds["test"]
    if args.tissue:          # the trainer's own row selection (curriculum_rows), here for the whole run
        train, test = (d.select(curriculum_rows({"t": d}, [args.tissue])["t"]) for d in (train, test))
    held = None
    if args.holdout_tissue:
        train = train.filter(lambda t: t != args.holdout_tissue, input_columns="tissue")
        held = test.filter(lambda t: t == args.holdout_tissue, input_columns="tissue")
        test = test.filter(lambda t: t != args.holdout_tissue, input_columns="tissue")
    if args.test_rows:
        test, held = (d.select(range(min(args.test_rows, len(d)))) if d is not None else None for d in (test, held))
    first = curriculum_rows({"t": train}, [args.first_tissue])["t"] if args.first_tissue else None
    if args.gate_scale is not None:
        import seq2gen.model.stem as stem_mod
        stem_mod.COND_GATE_SCALE = args.gate_scale
    model = build_model(args.preset, tokenizer=tok,
                        overrides={"stem_condition": args.condition} if args.condition else None)
    collate = Seq2GenCollator(tok.pad_token_id)
    stem = [p for n, p in model.named_parameters() if n.startswith("stem")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("stem")]
    opt = torch.optim.AdamW([{"params": rest, "mult": 1.0}, {"params": stem, "mult": args.stem_lr_mult}],
                            lr=args.lr, weight_decay=0.01, betas=(0.9, args.beta2))
    yes, no = tok.token_ids(["<yes>", "<no>"])
    built = "tissue" if any(a.startswith("<tissue:") for a in test["answer"]) else "yes"
    fmt = args.answer_format or built
    if fmt != built:                 # either format from either build: a bound row's first label becomes <yes> or
        train = train.map(lambda r: {"labels": [(yes if fmt == "yes" else r["input_ids"][1]) if i == 0 and t != no
                                                else t for i, t in enumerate(r["labels"])]})   # its prompt's tissue
    truth = [a != "<no>" for a in test["answer"]]
    rng = np.random.default_rng(0)

    def batch(rows):
        return collate([{"input_ids": a, "labels": b} for a, b in zip(rows["input_ids"], rows["labels"])])

    profile = binding_profiles(args.root, train, tok, args.profile_format) if args.aux_profile else None
    n_aux = int(round(args.batch_size * args.aux_profile))

    def first_logits(ids: list[list[int]]) -> torch.Tensor:
        out = []
        with torch.no_grad():
            for i in range(0, len(ids), 64):
                b = collate([{"input_ids": r, "labels": [0]} for r in ids[i:i + 64]])
                start = torch.zeros(len(b["input_ids"]), 1, dtype=torch.long)
                out.append(model(input_ids=b["input_ids"], attention_mask=b["attention_mask"],
                                 decoder_input_ids=start).logits[:, 0])
        return torch.cat(out)

    def score(ids: list[list[int]]) -> np.ndarray:
        """P(positive) − P(<no>) at the first answer position; positive = <yes> or the row's tissue token."""
        lg = first_logits(ids)
        pos = torch.tensor([r[1] for r in ids]) if fmt == "tissue" else torch.full((len(ids),), yes)
        return (lg[torch.arange(len(ids)), pos] - lg[:, no]).numpy()

    seen_tissues = sorted(set(test["tissue"]))

    def auroc() -> float:
        model.eval()
        ids = [list(r) for r in test["input_ids"]]
        if profile is not None:     # the profile answer's first token: P(<tissue:t>) − P(<no>)
            lg = first_logits([r[:1] + r[2:] for r in ids])
            derived = (lg[torch.arange(len(ids)), torch.tensor([r[1] for r in ids])] - lg[:, no]).numpy()
            print(f"  profile-derived AUROC {roc_auc_score(truth, derived):.3f}", flush=True)
        if held is not None:        # zero-shot: the held-out tissue's prompts vs the seen tissues' average
            hids = [list(r) for r in held["input_ids"]]
            htruth = [a != "<no>" for a in held["answer"]]
            avg = np.mean([score([r[:1] + tok.token_ids([f"<tissue:{t}>"]) + r[2:] for r in hids])
                           for t in seen_tissues], axis=0)
            print(f"  held-out {args.holdout_tissue}: AUROC {roc_auc_score(htruth, score(hids)):.3f}, "
                  f"seen-tissue average {roc_auc_score(htruth, avg):.3f}", flush=True)
        out = roc_auc_score(truth, score(ids))
        model.train()
        return out

    t0 = time.time()
    for step in range(1, args.steps + 1):
        pool = first if first is not None and step <= args.first_steps else None
        idx = rng.choice(pool, args.batch_size) if pool is not None else rng.integers(0, len(train), args.batch_size)
        rows = train[idx[:args.batch_size - n_aux]] if n_aux else train[idx]
        if n_aux:
            pick = rng.integers(0, len(profile), n_aux)
            rows = {k: rows[k] + [profile[i][k] for i in pick] for k in ("input_ids", "labels")}
        b = batch(rows)
        for g in opt.param_groups:
            g["lr"] = args.lr * g["mult"] * min(1.0, step / args.warmup)
        loss = model(**b).loss
        opt.zero_grad()
        loss.backward()
        if step in (5, 50, 150):
            norms = {part: float(sum(p.grad.norm() ** 2 for n, p in model.named_parameters()
                                     if n.startswith(part) and p.grad is not None) ** 0.5)
                     for part in ("stem", "encoder", "decoder", "shared")}
            print(f"step {step} grad norms " + " ".join(f"{k} {v:.4f}" for k, v in norms.items()), flush=True)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.every == 0:
            print(f"step {step} loss {loss.item():.3f} test AUROC {auroc():.3f} ({time.time() - t0:.0f} s)", flush=True)


def binding_profiles(root, train, tok, fmt: str = "set") -> list[dict]:
    """One profile row per TF-binding train row: its window without the tissue token → the tissue tokens of every
    peaks.bed row of that site (same TF, centre within the 32-bp jitter; tissues sorted), or ``<no>``.
    ``fmt="single"``: one of those tissues, drawn per row (the first answer token then learns P(tissue | site))."""
    from seq2gen.tasks.worlddata import WorldData
    rng = np.random.default_rng(0)
    peaks = WorldData(f"{root}/world").peaks.copy()          # the build's reader: checked columns and tissue names
    peaks["centre"] = (peaks["start"] + peaks["end"]) // 2
    sites = {k: g for k, g in peaks.groupby(["chrom", "name"])}
    eos = tok.eos_token_id
    out, n_bound = [], 0
    for ids, chrom, start, end, name in zip(train["input_ids"], train["chrom"], train["start"], train["end"],
                                            train["name"]):
        g = sites.get((chrom, name))
        tissues = []
        if g is not None:
            near = g[(g["centre"] - (start + end) // 2).abs() <= 32]
            tissues = sorted(set(near["tissue"]))
        n_bound += bool(tissues)
        answer = [f"<tissue:{t}>" for t in tissues] or ["<no>"]
        if fmt == "single":
            answer = [answer[rng.integers(len(answer))]]
        out.append({"input_ids": ids[:1] + ids[2:], "labels": tok.token_ids(answer) + [eos]})
    print(f"profile rows: {len(out)}, {n_bound} with a bound tissue", flush=True)
    return out


if __name__ == "__main__":
    main()
