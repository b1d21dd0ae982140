"""Task templates, registry, mixtures, rendering helpers and span corruption (no world needed)."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2gen.errors import InputError
from seq2gen.tasks import DEFAULT_TEMPLATES_DIR, Mixture, Task, TaskRegistry, parse_answer, snap, span_tokens
from seq2gen.tasks import spans as sc
from seq2gen.vocab import Vocabulary

SHIPPED = ["annotate", "chromatin", "expression", "promoter", "span_corruption", "tf_binding", "tf_tissues",
           "variant_effect"]


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.from_dir()


@pytest.fixture(scope="module")
def registry(vocab):
    return TaskRegistry.from_dir(vocab=vocab)


def template(name="promoter") -> dict:
    return yaml.safe_load((DEFAULT_TEMPLATES_DIR / f"{name}.yaml").read_text())


def write(tmp_path, d, name="t.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(d))
    return p


# ---------------------------------------------------------------------------------------------- registry
def test_shipped_templates_load_and_round_trip(registry, vocab):
    assert sorted(registry.names) == SHIPPED
    for task in registry:
        again = Task.from_dict(task.to_dict(), where="roundtrip")
        assert again.to_dict() == task.to_dict()
        again.validate(vocab)
    fam = {t.name: t.family for t in registry}
    assert fam == {"annotate": "annotation", "chromatin": "track", "expression": "regression",
                   "promoter": "classification", "span_corruption": "pretrain", "tf_binding": "classification",
                   "tf_tissues": "classification", "variant_effect": "variant"}
    assert registry["chromatin"].answer_grammar == {"type": "values", "count": 8, "n_bins": 64}
    assert registry["tf_binding"].tissue_conditioned and not registry["promoter"].tissue_conditioned
    assert not registry["tf_tissues"].tissue_conditioned
    assert TaskRegistry.from_json({"tasks": {t.name: t.to_dict() for t in registry}}, vocab).names == registry.names


def test_duplicate_names_rejected_unless_overwrite(tmp_path, vocab):
    for n in ("a.yaml", "b.yaml"):
        write(tmp_path, template(), n)
    with pytest.raises(InputError, match="duplicate task name 'promoter'") as e:
        TaskRegistry.from_dir(tmp_path, vocab=vocab)
    assert "b.yaml" in str(e.value) and "a.yaml" in str(e.value)
    assert TaskRegistry.from_dir(tmp_path, vocab=vocab, overwrite=True).names == ["promoter"]


def test_unknown_task_did_you_mean(registry):
    with pytest.raises(InputError, match="did you mean promoter"):
        registry.get("promotor")
    with pytest.raises(InputError, match="did you mean variant_effect"):
        registry["variant_efect"]


@pytest.mark.parametrize("edit, key, message", [
    (lambda d: d["prompt"].insert(1, "<tissue:livr>"), "prompt[1]", "did you mean liver"),
    (lambda d: d["prompt"].insert(1, "{tisue}"), "prompt[1]", "did you mean {tissue}"),
    (lambda d: d.update(name="enhancer"), "name", "not declared in vocab/tasks.yaml"),
    (lambda d: d.update(family="classifcation"), "family", "did you mean classification"),
    (lambda d: d["source"][0].update(type="tss_window"), "source[0].type", "did you mean tss_windows"),
    (lambda d: d["window"].update(centre="variant"), "window.centre", "places windows by tss"),
    (lambda d: d.update(windw=d["window"]), "windw", "did you mean window"),
    (lambda d: d["answer_grammar"].update(tokens=["<yes>", "<no>", "<maybe>"]), "answer_grammar.tokens[2]",
     "unknown token"),
    (lambda d: d["source"][1].update(label="<nope>"), "source[1]", "not one of answer_grammar.tokens"),
    (lambda d: d["answer_grammar"].update(tokens=["{tissue}", "<no>"]), "answer_grammar.tokens",
     "add {tissue} to the prompt"),                    # the prompt's tissue as an answer needs one in the prompt
    (lambda d: d.update(metrics=["mcc", "aucroc"]), "metrics[1]", "did you mean auroc"),
    (lambda d: d.update(quantizer={"method": "quantile", "n_bins": 8}), "quantizer", "no values to quantize"),
    (lambda d: d.update(prompt=["<dna>", "{dna}", "</dna>"]), "prompt[0]", "must start with the task token"),
])
def test_template_errors_name_file_and_key(tmp_path, vocab, edit, key, message):
    d = template()
    edit(d)
    path = write(tmp_path, d, "bad.yaml")
    with pytest.raises(InputError) as e:
        TaskRegistry(vocab).add(Task.from_yaml(path))
    assert str(path) in str(e.value) and f"{key}:" in str(e.value) and message in str(e.value)


def test_quantizer_bins_checked_against_vocabulary(tmp_path, vocab):
    d = template("expression")
    d["quantizer"]["n_bins"] = vocab.n_values + 1
    with pytest.raises(InputError, match=r"quantizer.n_bins: 129 > the vocabulary's n_values \(128\)"):
        TaskRegistry(vocab).add(Task.from_yaml(write(tmp_path, d)))
    d = template("annotate")
    d["window"]["length"] = 488   # not a multiple of 2 × 8
    with pytest.raises(InputError, match="window.length: 488 must be a multiple of 2 × off_resolution"):
        TaskRegistry(vocab).add(Task.from_yaml(write(tmp_path, d)))


def test_override_tissues(registry):
    t = registry["chromatin"].override(holdout_tissues=["brain"], exclude_tissues=["lung"])
    assert t.holdout_tissues == ["brain"] and t.resolve_tissues(["liver", "lung", "brain"]) == ["liver", "brain"]
    assert registry["chromatin"].holdout_tissues == []
    with pytest.raises(InputError, match="not tissue-conditioned"):
        registry["promoter"].override(holdout_tissues=["brain"])
    with pytest.raises(InputError, match=r"holdout_tissues: \['brian'\] not in the world's tissues"):
        registry["chromatin"].override(holdout_tissues=["brian"]).resolve_tissues(["liver", "brain"])
    with pytest.raises(InputError, match="cannot be overridden"):
        registry["promoter"].override(prompt=[])


# ---------------------------------------------------------------------------------------------- mixtures
def test_temperature_rates_exact():
    sizes = {"a": 100, "b": 400, "c": 10_000}
    m = Mixture("m", ["a", "b", "c"], rate_type="temperature", temperature=2.0, cap=1000)
    raw = {k: math.sqrt(min(v, 1000) / 1500) for k, v in sizes.items()}
    want = {k: v / sum(raw.values()) for k, v in raw.items()}
    assert m.rates(sizes) == pytest.approx(want, rel=1e-12)
    assert sum(m.rates(sizes).values()) == pytest.approx(1.0)
    prop = Mixture("p", ["a", "b", "c"]).rates(sizes)
    assert prop == pytest.approx({"a": 100 / 10_500, "b": 400 / 10_500, "c": 10_000 / 10_500})
    assert Mixture("u", ["a", "b"], rate_type="uniform").rates(sizes) == {"a": 0.5, "b": 0.5}
    fixed = Mixture.from_dict({"tasks": {"a": {"rate": 3}, "b": {"rate": 1}}})
    assert fixed.rate_type == "fixed" and fixed.rates(sizes) == {"a": 0.75, "b": 0.25}
    hot = Mixture("h", ["a", "c"], rate_type="temperature", temperature=1e9).rates(sizes)
    assert hot["a"] == pytest.approx(0.5, abs=1e-6)


def test_mixture_yaml_overrides_and_errors(registry):
    m = registry.mixture("holdout_brain_chromatin")
    reg = m.apply(registry)
    assert reg["chromatin"].holdout_tissues == ["brain"] and registry["chromatin"].holdout_tissues == []
    assert set(reg.names) == set(m.tasks)
    with pytest.raises(InputError, match="did you mean all"):
        registry.mixture("alll")
    with pytest.raises(InputError, match="tasks.promotor.*did you mean promoter"):
        Mixture.from_dict({"tasks": ["promotor"]}, registry=registry)
    with pytest.raises(InputError, match="did you mean temperature"):
        Mixture.from_dict({"tasks": ["promoter"], "rates": "temprature"})
    with pytest.raises(InputError, match="fixed rates need a rate"):
        Mixture.from_dict({"tasks": {"a": {"rate": 1}, "b": {}}, "rates": "fixed"})
    with pytest.raises(InputError, match="no size for tasks"):
        Mixture("m", ["a"]).rates({})


# ---------------------------------------------------------------------------------------------- rendering helpers
@given(st.integers(1, 64), st.integers(0, 10_000), st.sampled_from([1, 2, 4, 8, 16]))
def test_snap_is_rc_equivariant(half, x, r):
    L = 2 * r * half
    x = x % (L + 1)
    assert snap(L - x, r) == L // r - snap(x, r)
    assert abs(snap(x, r) * r - x) <= r / 2


def test_span_tokens_and_parse():
    toks = span_tokens([("<exon>", 0, 83), ("<intron>", 83, 300), ("<exon>", 300, 302)], 8)
    assert toks == ["<exon>", "<off:0000>", "<off:0010>", "<intron>", "<off:0010>", "<off:0038>"]
    g = {"type": "spans", "labels": ["<exon>", "<intron>"], "max_spans": 2}
    assert parse_answer(g, toks, 8) == [("<exon>", 0, 80), ("<intron>", 80, 304)]
    assert parse_answer(g, "") == []
    for bad in ("<exon> <off:0003> <off:0003>", "<cds> <off:0000> <off:0001>", "<exon> <off:0001>",
                "<exon> <off:0005> <off:0006> <exon> <off:0001> <off:0002>"):
        with pytest.raises(InputError):
            parse_answer(g, bad)
    with pytest.raises(InputError, match="max_spans"):
        span_tokens([("<exon>", 0, 8)] * 3, 8, max_spans=2)
    assert parse_answer({"type": "choice", "tokens": ["<yes>", "<no>"]}, "<no> </s>") == "<no>"
    assert parse_answer({"type": "values", "count": 2, "n_bins": 8}, "<val:001> <val:007>") == [1, 7]
    with pytest.raises(InputError):
        parse_answer({"type": "values", "count": 1, "n_bins": 8}, "<val:008>")
    assert parse_answer({"type": "sentinel_spans"}, "<extra_id_0> AC <extra_id_1>") == \
        {"<extra_id_0>": "AC", "<extra_id_1>": ""}
    with pytest.raises(InputError, match="count up"):
        parse_answer({"type": "sentinel_spans"}, "<extra_id_1> AC")


# ---------------------------------------------------------------------------------------------- span corruption
@settings(max_examples=60, deadline=None)
@given(st.integers(2, 600), st.integers(0, 2**32 - 1))
def test_span_corruption_reconstructs(length, seed):
    rng = np.random.default_rng(seed)
    dna = "".join(rng.choice(list("ACGTN"), length))
    mask = sc.noise_mask(length, 0.15, 3.0, np.random.default_rng(seed))
    assert mask.size == length and not mask[0]
    assert mask.sum() == min(max(round(length * 0.15), 1), length - 1)
    inp, tgt, spans = sc.corrupt(dna, mask)
    assert len(spans) == sc.n_spans(length)
    assert sc.reconstruct(inp, tgt) == dna
    assert sc.reconstruct(" ".join(inp), " ".join(tgt)) == dna
    assert tgt[-1] == f"<extra_id_{len(spans)}>"
    assert [p for p in inp if p.startswith("<")] == [f"<extra_id_{i}>" for i in range(len(spans))]


def test_span_corruption_statistics():
    rng = np.random.default_rng(0)
    masks = [sc.noise_mask(480, 0.15, 3.0, rng) for _ in range(200)]
    assert np.mean([m.mean() for m in masks]) == pytest.approx(0.15, abs=0.002)
    lengths = [b - a for m in masks for a, b in sc.corrupt("A" * 480, m)[2]]
    assert np.mean(lengths) == pytest.approx(3.0, rel=0.05)
    a = sc.noise_mask(480, 0.15, 3.0, np.random.default_rng(7))
    assert (a == sc.noise_mask(480, 0.15, 3.0, np.random.default_rng(7))).all()


def test_templates_folder_copy_is_self_contained(tmp_path, vocab):
    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path / "tt")
    reg = TaskRegistry.from_dir(tmp_path / "tt", vocab=vocab)
    assert sorted(reg.names) == SHIPPED and reg.mixture("all").tasks[0] == "promoter"
