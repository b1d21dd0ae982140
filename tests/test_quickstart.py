"""End-to-end smoke test of the README's first command at a tiny size: every stage runs, writes what it promises,
and a second run reuses the finished stages instead of recomputing them."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

TINY = {
    "seed": 0,
    "world": {"size": "300kb", "n_chrom": 6},
    "vocab": {"mode": "kmer", "k": 3},
    "data": {"max_per_task": 120},
    "train": "configs/train/quickstart.yaml",
    "train_overrides": {"model": "tiny", "max_steps": 4, "micro_batch_size": 8, "global_batch_size": 8,
                        "warmup_steps": 1, "save_every": 2, "eval_every": 2, "log_every": 2, "eval_examples": 8,
                        "progress": False},
    "eval": {"split": "test", "max_examples": 16},
    "variants": {"tissue": "liver"},
    "predict": {"n": 1},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from seq2gen.quickstart import run_quickstart
    root = tmp_path_factory.mktemp("quickstart")
    cfg = root / "quickstart.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    return root, cfg, run_quickstart(root / "out", cfg)


def test_every_stage_writes_its_outputs(run):
    root, _, result = run
    out = root / "out"
    for path in ("world/genome.fa", "tokenizer/seq2gen_vocab.json", "datasets/data_config.json",
                 "train/metrics.jsonl", "train/model/config.json", "eval.json", "variant_scores.tsv",
                 "quickstart_config.yaml"):
        assert (out / path).exists(), path
    families = {r["family"] for r in result["eval"]}
    assert families == {"classification", "regression", "track", "annotation", "variant"}
    ev = json.loads((out / "eval.json").read_text())
    assert set(ev["trained"]) == set(ev["untrained"]) == {r["task"] for r in result["eval"]}
    used = yaml.safe_load((out / "quickstart_config.yaml").read_text())     # built, trained, evaluated: the rates'
    rates = yaml.safe_load(open(used["train_path"]))["rates"]
    built = json.loads((out / "datasets" / "tasks.json").read_text())["tasks"]
    assert set(built) == set(rates) and set(ev["trained"]) == set(rates) - {"span_corruption"}
    # the shipped TF-pair curriculum (1,500 steps) and its lr hold shrink to half of this 4-step run
    train_rows = [json.loads(line) for line in (out / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in train_rows if r["type"] == "train"] == ["curriculum", "mixture"]
    assert {k for r in train_rows[:1] for k in r if k.startswith("loss/")} <= {"loss/tf_binding", "loss/tf_tissues"}
    scores = pd.read_csv(out / "variant_scores.tsv", sep="\t")
    test_vcf = [line for line in (out / "variants_test.vcf").read_text().splitlines() if not line.startswith("#")]
    assert len(scores) == len(test_vcf) == result["variants"]["n"] > 0
    from seq2gen.infer import Seq2Gen
    from seq2gen.infer.variants import trained_pretrain
    zero_shot = trained_pretrain(Seq2Gen.from_pretrained(result["export"]))
    assert "effect_liver" in scores.columns and ("llr" in scores.columns) == zero_shot
    # step 8: the committed transfer reports' headlines (joint vs single per task), or None without them
    from seq2gen.quickstart import DEFAULT_CONFIG
    committed = DEFAULT_CONFIG.parents[1] / "docs/results/transfer_cpu/results.json"
    assert (result["transfer"] or "").startswith("joint vs single") == committed.is_file()
    companion = DEFAULT_CONFIG.parents[1] / "docs/results/transfer_companion/results.json"
    assert ("tf_tissues" in (result["transfer"] or "")) == companion.is_file()


def test_model_loads_for_inference(run):
    from seq2gen.infer import Seq2Gen
    root, _, result = run
    m = Seq2Gen.from_pretrained(result["export"])
    pred = m.predict("<task:promoter> <dna> " + "ACGT" * 96 + " </dna>")
    assert pred.parsed in ("<yes>", "<no>") and abs(sum(pred.probs.values()) - 1) < 1e-5


def test_rerun_reuses_finished_stages(run, capsys):
    from rich.console import Console

    from seq2gen.quickstart import run_quickstart
    root, cfg, result = run
    weights = result["export"] / "model.safetensors"
    before = weights.stat().st_mtime_ns
    console = Console(record=True, width=200)
    run_quickstart(root / "out", cfg, console=console)
    text = console.export_text()
    assert "1 world: reusing" in text and "4 training: reusing" in text
    assert weights.stat().st_mtime_ns == before


def test_zero_shot_only_after_span_corruption(tmp_path):
    """Variant scoring adds the zero-shot LLR by default only when the model trained a pre-training task (mixture
    rate > 0 or a pre-training stage): an untrained span-corruption head would return noise as a score. Without a
    train_config.yaml (unknown history) a model with the task gets it."""
    from types import SimpleNamespace

    from seq2gen.infer.variants import _methods, trained_pretrain
    from seq2gen.tasks import TaskRegistry
    reg = TaskRegistry.from_dir()
    m = SimpleNamespace(registry=reg, source=str(tmp_path))
    assert trained_pretrain(m) and _methods(m, None, "variant_effect") == ("task", "zero_shot")
    cases = [({"rates": {"promoter": 1.0, "span_corruption": 0.5}}, True),
             ({"rates": {"promoter": 1.0, "span_corruption": 0.0}}, False),
             ({"rates": {"promoter": 1.0}, "pretrain_task": "span_corruption", "pretrain_steps": 10}, True),
             ({"rates": {"promoter": 1.0}, "pretrain_task": "span_corruption", "pretrain_steps": 0}, False),
             ({"rates": "proportional", "pretrain_task": None}, True),           # every task, span corruption too
             ({"rates": "uniform", "pretrain_task": "span_corruption", "pretrain_steps": 0}, False),
             ({"rates": "proportional", "mixture": "all"}, False)]               # all.yaml: supervised tasks only
    for cfg, expected in cases:
        (tmp_path / "train_config.yaml").write_text(yaml.safe_dump(cfg))
        assert trained_pretrain(m) is expected, cfg
        assert _methods(m, None, "variant_effect") == (("task", "zero_shot") if expected else ("task",))
        assert _methods(m, ("zero_shot",), "variant_effect") == ("zero_shot",)      # asked for explicitly: allowed


def test_evaluation_table_needs_chance_and_twin_beaten():
    """An annotation model answering the majority label everywhere is not above chance, however low the untrained
    twin scored; a classifier must beat both AUROC 0.5 and its twin."""
    from seq2gen.quickstart import evaluation_table
    trained = {"annotate": {"family": "annotation", "per_base_f1": 0.40, "per_base_f1_constant": 0.40, "n": 9},
               "promoter": {"family": "classification", "auroc": 0.66, "n": 9},
               "tf_binding": {"family": "classification", "auroc": 0.56, "n": 9}}
    untrained = {"annotate": {"family": "annotation", "per_base_f1": 0.10, "per_base_f1_constant": 0.40},
                 "promoter": {"family": "classification", "auroc": 0.59},
                 "tf_binding": {"family": "classification", "auroc": 0.58}}
    rows = {r["task"]: r for r in evaluation_table(trained, untrained)}
    assert rows["annotate"]["chance"] == 0.40 and not rows["annotate"]["better"]
    assert rows["promoter"]["chance"] == 0.5 and rows["promoter"]["better"]
    assert not rows["tf_binding"]["better"]          # above 0.5 but below its twin


def test_shipped_preset_builds_and_takes_a_step():
    """The README's configuration itself (configs/quickstart.yaml → configs/train/quickstart.yaml: ``mini_conv`` with
    the char tokenizer), not the tiny k-mer stand-in above: the shipped files load and validate, the model gets its
    convolutional stem, and one backward pass on a real-length prompt reaches the stem's weights."""
    import torch

    from seq2gen.model import build_model
    from seq2gen.quickstart import load_config
    from seq2gen.train import load_train_config
    from seq2gen.vocab import build_tokenizer
    cfg = load_config()
    assert cfg["vocab"]["mode"] == "char"
    tcfg = load_train_config(cfg["train_path"])
    assert tcfg.model == "mini_conv"
    tok = build_tokenizer(mode=cfg["vocab"]["mode"], k=cfg["vocab"].get("k"), seed=cfg["seed"])
    model = build_model(tcfg.model, tokenizer=tok, seed=cfg["seed"])
    assert model.config.stem_pool == 8 and hasattr(model, "stem")
    enc = tok("<task:promoter> <dna> " + "ACGTTGCA" * 50 + " </dna>", return_tensors="pt")
    labels = torch.tensor([tok.encode_prompt("<yes>")])
    loss = model(**enc, labels=labels).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.stem.parameters())
