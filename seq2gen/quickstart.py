"""The README's first command, as a library function: the whole pipeline on the embedded synthetic world.

world → vocabulary → datasets → joint DeepSpeed training → evaluation (trained vs an untrained twin of the same
architecture, the empirical chance level) → VCF scoring of the held-out chromosome → example predictions.
Steps read ``configs/quickstart.yaml``; each one writes under ``out`` and is skipped when its output is complete,
so a killed quickstart picks up where it stopped (training resumes from its last checkpoint).
"""
from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path

import numpy as np
import yaml
from rich.console import Console
from rich.table import Table

from seq2gen.errors import InputError
from seq2gen.resources import checkout_root, config_dir, data_root

DEFAULT_CONFIG = config_dir("quickstart.yaml")


def load_config(path=None, overrides: dict | None = None) -> dict:
    path = Path(path or DEFAULT_CONFIG)
    if not path.is_file():
        raise InputError("quickstart config not found", path=path)
    cfg = yaml.safe_load(path.read_text()) or {}
    from seq2gen.utils.overrides import parse_overrides, set_dotted
    for key, value in parse_overrides(overrides):       # "train_overrides.max_steps": 10 style keys
        set_dotted(cfg, key, value)
    train = Path(cfg["train"])
    cfg["train_path"] = str(train if train.is_absolute() else data_root() / train)
    return cfg


def _world(out: Path, cfg: dict, console) -> Path:
    from seq2gen.utils.units import parse_size
    from seq2gen.world import generate_world
    wdir, w = out / "world", cfg["world"]
    size = parse_size(w["size"])
    manifest = wdir / "world.json"
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old.get("size") == size and old.get("seed") == cfg["seed"]:
            console.print(f"[bold]1 world[/]: reusing {wdir}")
            return wdir
    generate_world(wdir, size=size, seed=cfg["seed"], n_chrom=int(w.get("n_chrom", 6)), progress=True)
    console.print(f"[bold]1 world[/]: {size:,} bp → {wdir}")
    return wdir


def _tokenizer(out: Path, cfg: dict, console):
    from seq2gen.vocab import build_tokenizer
    tok = build_tokenizer(mode=cfg["vocab"]["mode"], k=cfg["vocab"].get("k"), seed=cfg["seed"])
    tok.save_pretrained(out / "tokenizer")
    console.print(f"[bold]2 vocabulary[/]: {len(tok)} tokens ({tok.mode}) → {out / 'tokenizer'}")
    return tok


def _datasets(out: Path, wdir: Path, tok, cfg: dict, console) -> dict:
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    reg = TaskRegistry.from_dir(vocab=tok.vocab)
    rates = _train_config(cfg).get("rates")
    tasks = sorted(rates) if isinstance(rates, dict) else None      # build (and evaluate) what is trained
    ds = build_datasets(wdir, reg, tok, out / "datasets", tasks=tasks, max_per_task=cfg["data"].get("max_per_task"),
                        seed=cfg["seed"])
    sizes = ", ".join(f"{t} {len(d['train']):,}" for t, d in ds.items())
    console.print(f"[bold]3 datasets[/]: train rows per task: {sizes}")
    return ds


def _train_config(cfg: dict) -> dict:
    """The trainer's YAML with the quickstart's ``train_overrides`` applied."""
    tcfg = yaml.safe_load(Path(cfg["train_path"]).read_text())
    tcfg.update(copy.deepcopy(cfg.get("train_overrides") or {}))
    return tcfg


def _train(out: Path, tok, ds: dict, cfg: dict, console) -> Path:
    from seq2gen.train import train
    tcfg = _train_config(cfg)
    steps = int(tcfg["max_steps"])
    for key, fits in (("warmup_steps", max(1, steps // 10)), ("curriculum_steps", steps // 2),
                      ("hold_steps", steps // 2)):
        if int(tcfg.get(key) or 0) >= steps:            # a short run (--steps 20) keeps a decay and a mixture stage
            console.print(f"[bold]4 training[/]: {key} {tcfg[key]} → {fits} for a {steps}-step run")
            tcfg[key] = fits
    data = out / "datasets"
    tcfg.update(out_dir=str(out / "train"), tokenizer=str(out / "tokenizer"), data=str(data), seed=cfg["seed"],
                export_files=[str(data / "quantizers.json"), str(data / "tasks.json")])
    export = out / "train" / "model"
    if (export / "config.json").is_file() and (export / "train_config.yaml").is_file():
        done = yaml.safe_load((export / "train_config.yaml").read_text())
        if {k: done.get(k) for k in tcfg} == tcfg:
            console.print(f"[bold]4 training[/]: reusing {export}")
            return export
    t0 = time.time()
    result = train(tcfg, datasets=ds, tokenizer=tok)
    console.print(f"[bold]4 training[/]: {result['step']} steps of joint DeepSpeed training in "
                  f"{time.time() - t0:.0f} s → {result['export_dir']}")
    return Path(result["export_dir"])


def _untrained_twin(export: Path, out: Path) -> Path:
    """The same architecture and initialisation seed, never trained: its scores are the empirical chance level."""
    import shutil

    from transformers import AutoConfig, AutoModelForSeq2SeqLM
    twin = out / "untrained"
    if not (twin / "config.json").is_file():
        model = AutoModelForSeq2SeqLM.from_config(AutoConfig.from_pretrained(export))
        shutil.copytree(export, twin, dirs_exist_ok=True)
        model.save_pretrained(twin)
    return twin


def evaluation_table(trained: dict, untrained: dict) -> list[dict]:
    """One row per task: headline metric, the chance level (``chance_level``: 0.5 AUROC, 0 correlation, the best
    constant annotation), the untrained twin and the trained model, and whether training beat both."""
    from seq2gen.evaluate.run import chance_level, headline
    rows = []
    for task, res in trained.items():
        metric, value = headline(res)
        base = headline(untrained[task])[1] if task in untrained else float("nan")
        chance = chance_level(res)
        rows.append({"task": task, "family": res["family"], "metric": metric, "chance": chance, "untrained": base,
                     "trained": value, "n": int(res["n"]), "better": bool(value > max(base, chance))})
    return rows


def _evaluate(out: Path, export: Path, ds: dict, cfg: dict, console) -> list[dict]:
    from seq2gen.evaluate.run import evaluate_model
    from seq2gen.utils.io import atomic_write
    from seq2gen.infer import Seq2Gen
    e = cfg["eval"]
    kw = dict(split=e.get("split", "test"), max_examples=e.get("max_examples"), seed=cfg["seed"])
    trained = evaluate_model(Seq2Gen.from_pretrained(export), ds, **kw)
    untrained = evaluate_model(Seq2Gen.from_pretrained(_untrained_twin(export, out)), ds, **kw)
    rows = evaluation_table(trained, untrained)
    with atomic_write(out / "eval.json") as f:
        json.dump({"trained": trained, "untrained": untrained, "table": rows}, f, indent=1, default=float)
    table = Table("task", "family", "metric", "chance", "untrained", "trained", "n",
                  title=f"5 evaluation ({kw['split']} chromosome; green: above chance and the untrained twin)")
    for r in rows:
        colour = "green" if r["better"] else "red"
        table.add_row(r["task"], r["family"], r["metric"], f"{r['chance']:.3f}", f"{r['untrained']:.3f}",
                      f"[{colour}]{r['trained']:.3f}[/]", str(r["n"]))
    console.print(table)
    return rows


def _variants(out: Path, wdir: Path, export: Path, cfg: dict, console) -> dict:
    """Score the test chromosome's VCF records and correlate with the world's true effects (INFO EFFECT_<tissue>)."""
    from scipy.stats import spearmanr

    from seq2gen.genome import Fasta, read_vcf, write_vcf
    from seq2gen.infer import Seq2Gen
    from seq2gen.infer.variants import write_scores
    tissue = cfg["variants"]["tissue"]
    world = json.loads((wdir / "world.json").read_text())
    fasta = Fasta(wdir / "genome.fa")
    vcf = read_vcf(wdir / "variants.vcf", fasta)
    test = vcf[vcf["chrom"].isin(world["splits"]["test"])]
    test_vcf = write_vcf(out / "variants_test.vcf", test)
    m = Seq2Gen.from_pretrained(export, fasta=fasta)
    scores = out / "variant_scores.tsv"
    if scores.exists():
        scores.unlink()
    write_scores(m, test_vcf, fasta, scores, tissue=tissue, progress=True)   # LLR only if span corruption trained
    import pandas as pd
    df = pd.read_csv(scores, sep="\t")
    truth = test[f"info_EFFECT_{tissue}"].to_numpy(float)
    res = {"tissue": tissue, "n": int(len(df)),
           "spearman_task": float(spearmanr(truth, df[f"effect_{tissue}"]).statistic),
           "spearman_zero_shot": float(spearmanr(truth, df["llr"]).statistic) if "llr" in df else float("nan")}
    llr = (f"{res['spearman_zero_shot']:.3f} (zero-shot LLR)" if "llr" in df
           else "no zero-shot LLR (this run trained no span-corruption task)")
    console.print(f"[bold]6 variants[/]: {res['n']} test-chromosome SNVs in {tissue}: Spearman with the true effect "
                  f"{res['spearman_task']:.3f} (variant task), {llr} → {scores}")
    return res


def _predictions(export: Path, ds: dict, cfg: dict, console) -> None:
    from seq2gen.infer import Seq2Gen
    m = Seq2Gen.from_pretrained(export)
    n = int(cfg["predict"]["n"])
    console.print("[bold]7 predictions[/] (test chromosome; prompt → model | truth)")
    for task in sorted(ds):
        if m.registry.get(task).family == "pretrain":
            continue
        rows = ds[task]["test"].select(range(min(n, len(ds[task]["test"]))))
        for prompt, answer in zip(rows["prompt"], rows["answer"]):
            pred = m.predict(_shorten(prompt, keep=10**9))
            console.print(f"  {_shorten(prompt)}\n    → {pred.answer[:90]}  |  {answer[:90]}")


def _transfer_headline(cfg: dict, console) -> str | None:
    """The headlines of the committed transfer reports (joint vs single per task): a transfer run takes ~1 h of
    two cores, several times the quickstart, so the quickstart shows the measured answers and the commands that
    reproduce them rather than a protocol too small to mean anything. ``transfer.results``: one results.json
    (the ``cpu`` preset's) or a mapping preset name → results.json."""
    from seq2gen.evaluate.report import headline
    results = (cfg.get("transfer") or {}).get("results") or \
        yaml.safe_load(DEFAULT_CONFIG.read_text())["transfer"]["results"]     # a config without its own list
    if not isinstance(results, dict):
        results = {"cpu": results}
    texts = []
    for preset, path in results.items():
        path, rerun = Path(path), f"seq2gen evaluate transfer --config {preset}"
        if not path.is_absolute():
            if checkout_root() is None:            # docs/ ships with the source checkout, not with the wheel
                console.print(f"[bold]8 transfer[/]: the committed report ({path}) is in the source checkout; "
                              f"reproduce it: {rerun}")
                continue
            path = checkout_root() / path
        if not path.is_file():
            console.print(f"[bold]8 transfer[/]: no report at {path} ({rerun})")
            continue
        texts.append(headline(json.loads(path.read_text())))
        console.print(f"[bold]8 transfer[/] (committed report {path}; reproduce: {rerun})\n" + texts[-1])
    return "\n".join(texts) or None


def _shorten(prompt: str, keep: int = 24) -> str:
    """Elide the middle of the DNA so a prompt fits on one line (keep=huge: unchanged)."""
    head, sep, rest = prompt.partition("<dna> ")
    dna, sep2, tail = rest.partition(" </dna>")
    if not sep or len(dna) <= 2 * keep:
        return prompt
    return f"{head}<dna> {dna[:keep]}…{dna[-keep:]} </dna>{tail}"


def run_quickstart(out="runs/quickstart", config=None, overrides: dict | None = None, console=None) -> dict:
    """Run every step; returns ``{"eval": rows, "variants": {...}, "export": path, "transfer": headline text,
    "seconds": s}``."""
    console = console or Console()
    logging.getLogger("seq2gen.train").setLevel(logging.WARNING)
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(config, overrides)
    (out / "quickstart_config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    np.random.seed(cfg["seed"])
    wdir = _world(out, cfg, console)
    tok = _tokenizer(out, cfg, console)
    ds = _datasets(out, wdir, tok, cfg, console)
    export = _train(out, tok, ds, cfg, console)
    rows = _evaluate(out, export, ds, cfg, console)
    variants = _variants(out, wdir, export, cfg, console)
    _predictions(export, ds, cfg, console)
    transfer = _transfer_headline(cfg, console)
    seconds = time.time() - t0
    console.print(f"done in {seconds / 60:.1f} min; model: {export} (seq2gen.infer.Seq2Gen.from_pretrained)")
    return {"eval": rows, "variants": variants, "export": export, "transfer": transfer,
            "seconds": seconds}
