"""Inference throughput: batched ``score_vcf`` vs a naive per-variant loop, batched vs one-at-a-time ``predict``.

Run:  python benchmarks/bench_infer.py [--quick] [--preset small] [--variants 64] [--prompts 64] [--rounds 3]

Set-up (speed does not depend on training): a synthetic 1 Mb world (genome.fa, variants.vcf), its datasets
(quantizers.json, tasks.json) and an untrained model of ``--preset`` saved in the training-export layout, loaded with
``Seq2Gen.from_pretrained``. The VCF is cut to its first ``--variants`` records; tissue ``liver``.

Arms, interleaved round by round (starting arm rotated), medians over rounds:

* ``score_vcf``  — ``Seq2Gen.score_vcf(vcf, fasta, "liver")``: both methods (``task``: one teacher-forced pass per
  variant in batches of ``--batch-size``; ``zero_shot``: one encoder pass per variant shared by the REF and ALT
  targets), VCF read and windows fetched inside.
* ``naive``      — what one writes without the library's batching, per variant: fetch the windows, render the
  ``variant_effect`` prompt, ``model.generate(max_new_tokens=2, output_scores=True)`` and decode the value as the
  expected bin centre under the softmax over value tokens of the first step; render the span-corruption prompt with
  the variant masked and run two full forward passes (REF target, ALT target) for ``log p(ALT) − log p(REF)``.
  The naive results are checked against score_vcf's (same numbers to 1e-4), so both arms do the same job.

``--methods task`` / ``zero_shot`` restrict both arms to one method.

``predict``: prompts from the datasets' test splits, in two sets — ``one_pass`` (promoter, tf_binding, expression,
variant_effect: one teacher-forced pass) and ``generated`` (chromatin, annotate, span_corruption: constrained
greedy generation) — ``predict(prompts)`` (batched, length-sorted) vs ``[predict(p) for p in prompts]``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchutil as bu  # noqa: E402

ONE_PASS = ("promoter", "tf_binding", "expression", "variant_effect")
GENERATED = ("chromatin", "annotate", "span_corruption")


def export_model(preset: str, tok, data_dir: Path, out: Path) -> Path:
    """An untrained model in the layout seq2gen.train exports (OUT/model/)."""
    from seq2gen.model import build_model
    model = build_model(preset, tokenizer=tok, seed=0)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    for f in ("quantizers.json", "tasks.json"):
        shutil.copy(data_dir / f, out / f)
    return out


def cut_vcf(src: Path, dst: Path, n: int) -> int:
    header, body = [], []
    for line in src.read_text().splitlines(keepends=True):
        (header if line.startswith("#") else body).append(line)
    dst.write_text("".join(header + body[:n]))
    return len(body[:n])


# ------------------------------------------------------------------------------------------------- naive arm
def naive_score(m, vcf: Path, fasta, tissue: str, methods) -> dict:
    """Per-variant loop: one generate() per variant for the task, two full passes per variant for zero-shot."""
    import torch

    from seq2gen.genome import read_vcf
    from seq2gen.infer.variants import _pretrain_task, zero_shot_inputs
    df = read_vcf(vcf, fasta)
    out = {"effect": [], "llr": []}
    q = m.quantizers["variant_effect"]
    val_ids = torch.as_tensor(m.tokenizer.ids_of(m.vocab.groups["values"][:q.n_bins]))
    wt = m.registry.get("variant_effect").window
    wz = m.registry.get(_pretrain_task(m)).window
    with torch.inference_mode():
        for chrom, start, ref, alt in zip(df["chrom"], df["start"], df["ref"], df["alt"]):
            if "task" in methods:
                dna = fasta.fetch(chrom, int(start) - wt.before, int(start) - wt.before + wt.length)
                ids = m.render("variant_effect", [{"dna": dna, "tissue": tissue, "var_pos": wt.before, "ref": ref,
                                                   "alt": alt}])[0]
                gen = m.model.generate(input_ids=torch.as_tensor(ids)[None], max_new_tokens=2, do_sample=False,
                                       num_beams=1, output_scores=True, return_dict_in_generate=True)
                p = torch.softmax(gen.scores[0][0, val_ids].double(), -1).numpy()
                out["effect"].append(float(p @ q.centres))
            if "zero_shot" in methods:
                dna = fasta.fetch(chrom, int(start) - wz.before, int(start) - wz.before + wz.length)
                rows, targets, _ = zero_shot_inputs(m, [dna], [wz.before], [ref], [alt])
                lp = []
                for t in targets:                       # REF, then ALT; each pass runs the encoder again
                    loss = m.model(input_ids=torch.as_tensor(rows[0])[None], labels=torch.as_tensor(t)[None]).loss
                    lp.append(-float(loss) * len(t))
                out["llr"].append(lp[1] - lp[0])
    return out


def batched_score(m, vcf: Path, fasta, tissue: str, methods, batch_size: int) -> dict:
    df = m.score_vcf(vcf, fasta, tissue, methods=methods, batch_size=batch_size)
    return {"effect": df[f"effect_{tissue}"].tolist() if "task" in methods else [],
            "llr": df["llr"].tolist() if "zero_shot" in methods else []}


def interleave(arms: dict, rounds: int) -> dict:
    """{name: fn} → {name: [seconds per round]}, plus each arm's last result."""
    times, results = {k: [] for k in arms}, {}
    for _, name in bu.rotations(list(arms), rounds):
        t0 = time.perf_counter()
        results[name] = arms[name]()
        times[name].append(time.perf_counter() - t0)
    return times, results


def paired(times: dict, fast: str, slow: str) -> float:
    return bu.median([s / f for s, f in zip(times[slow], times[fast])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--variants", type=int, default=64, help="VCF records scored per round")
    ap.add_argument("--prompts", type=int, default=64, help="prompts per predict set")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--methods", default="task,zero_shot")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--quick", action="store_true", help="tiny model, 16 variants, 16 prompts, 2 rounds")
    ap.add_argument("--out", default=str(bu.RESULTS / "infer.json"))
    args = ap.parse_args()
    if args.quick:
        args.preset, args.variants, args.prompts, args.rounds = "tiny", 16, 16, 2
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    from seq2gen.infer import Seq2Gen
    methods = tuple(args.methods.split(","))
    report = {"benchmark": "infer", "machine": bu.machine_info(), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        world, data_dir, data, tok = bu.make_world_data(tmp, size=1_000_000, max_per_task=max(args.prompts, 16))
        export = export_model(args.preset, tok, data_dir, tmp / "export")
        m = Seq2Gen.from_pretrained(export, fasta=world / "genome.fa", batch_size=args.batch_size)
        m.tissues = json.loads((world / "world.json").read_text())["tissues"]
        vcf = tmp / "bench.vcf"
        n_var = cut_vcf(world / "variants.vcf", vcf, args.variants)
        n_params = sum(p.numel() for p in m.model.parameters())
        # warm-up (allocator, first-call costs) on a few variants, both arms
        few = tmp / "few.vcf"
        cut_vcf(world / "variants.vcf", few, 4)
        batched_score(m, few, m.fasta, "liver", methods, args.batch_size)
        naive_score(m, few, m.fasta, "liver", methods)
        times, res = interleave({
            "score_vcf": lambda: batched_score(m, vcf, m.fasta, "liver", methods, args.batch_size),
            "naive": lambda: naive_score(m, vcf, m.fasta, "liver", methods)}, args.rounds)
        diffs = {k: float(np.max(np.abs(np.subtract(res["score_vcf"][k], res["naive"][k]))))
                 for k in ("effect", "llr") if res["naive"][k]}
        vcf_rows = [{"arm": a, "variants": n_var, "s_per_round": bu.median(t), "s_all": t,
                     "variants_per_s": n_var / bu.median(t)} for a, t in times.items()]
        vcf_speedup = paired(times, "score_vcf", "naive")
        report["score_vcf"] = {"preset": args.preset, "params": n_params, "methods": list(methods),
                               "rows": vcf_rows, "speedup_vs_naive": vcf_speedup, "max_abs_diff": diffs}

        # predict: batched vs one at a time
        pred_rows = []
        for name, tasks in (("one_pass", ONE_PASS), ("generated", GENERATED)):
            per = -(-args.prompts // len(tasks))
            prompts = [p for t in tasks for p in data[t]["test"]["prompt"][:per]][:args.prompts]
            m.predict(prompts[:4])
            [m.predict(p) for p in prompts[:2]]
            t_pred, r_pred = interleave({"batched": lambda: m.predict(prompts, batch_size=args.batch_size),
                                         "one_at_a_time": lambda: [m.predict(p) for p in prompts]}, args.rounds)
            same = all(a.answer == b.answer for a, b in zip(r_pred["batched"], r_pred["one_at_a_time"]))
            pred_rows.append({"set": name, "tasks": list(tasks), "prompts": len(prompts),
                              "mean_prompt_tokens": float(np.mean([len(x) for x in m.encode(prompts)])),
                              "batched_prompts_per_s": len(prompts) / bu.median(t_pred["batched"]),
                              "single_prompts_per_s": len(prompts) / bu.median(t_pred["one_at_a_time"]),
                              "speedup": paired(t_pred, "batched", "one_at_a_time"), "same_answers": same,
                              "s_all": t_pred})
        report["predict"] = pred_rows
    bu.write_json(args.out, report)

    print(f"# {args.preset} model ({n_params / 1e6:.2f} M parameters), {n_var} variants, tissue liver, "
          f"methods {'+'.join(methods)}, batch {args.batch_size}, {args.rounds} rounds, {torch.get_num_threads()} "
          "threads")
    print(bu.table(["arm", "s / round", "variants/s", "speed-up"],
                   [[r["arm"], f"{r['s_per_round']:.2f}", f"{r['variants_per_s']:.1f}",
                     f"{vcf_speedup:.1f}×" if r["arm"] == "score_vcf" else "1×"] for r in vcf_rows]))
    print(f"# max |score_vcf − naive|: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))
    print(bu.table(["prompt set", "prompts", "mean tokens", "batched prompts/s", "one-at-a-time prompts/s",
                    "speed-up", "same answers"],
                   [[r["set"], r["prompts"], f"{r['mean_prompt_tokens']:.0f}", f"{r['batched_prompts_per_s']:.1f}",
                     f"{r['single_prompts_per_s']:.1f}", f"{r['speedup']:.1f}×", r["same_answers"]]
                    for r in pred_rows]))
    print(f"# wrote {args.out}")


if __name__ == "__main__":
    main()
