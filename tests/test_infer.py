"""Inference API: grammars vs the strict parser, constrained decoding on an untrained model, value decoding, prompts
identical to the data pipeline's, regions, VCF scoring with resume, the CLI commands."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError
from seq2gen.infer import AnswerGrammar, Region, parse_region
from seq2gen.tasks import parse_answer

from builders import TASKS, build_fixture


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fx(world_dir, tokenizer, tmp_path_factory):
    return build_fixture(world_dir, tokenizer, tmp_path_factory.mktemp("infer"))


@pytest.fixture(scope="module")
def m(fx):
    from seq2gen.infer import Seq2Gen
    model = Seq2Gen.from_pretrained(fx["export"], fasta=fx["world"] / "genome.fa", batch_size=16)
    model.tissues = json.loads((fx["world"] / "world.json").read_text())["tissues"]
    return model


def region_of(row) -> str:
    return f"{row['chrom']}:{row['start'] + 1}-{row['end']}:{row['strand']}"


def conforms(spec: dict, answer: str, prompt: str = "") -> bool:
    """An oracle independent of ``parse_answer`` (the parser under test): does ``answer`` have the grammar's shape?
    Regular expressions over the token string, plus the numeric limits a regex cannot state; a ``{tissue}`` choice
    is the prompt's own tissue token."""
    import re
    toks = [t for t in answer.split() if t != "</s>"]
    kind = spec["type"]
    if kind == "choice":
        tissue = re.search(r"<tissue:[^>]+>", prompt)
        return len(toks) == 1 and toks[0] in [tissue.group(0) if t == "{tissue}" and tissue else t
                                              for t in spec["tokens"]]
    if kind == "values":
        return (len(toks) == spec.get("count", 1) and all(re.fullmatch(r"<val:\d{3}>", t) for t in toks)
                and all(int(t[5:8]) < spec.get("n_bins", 1000) for t in toks))
    if kind == "spans":
        labels = "|".join(map(re.escape, spec["labels"]))
        if not re.fullmatch(rf"((?:{labels}) <off:\d+> <off:\d+> ?)*", " ".join(toks) + " " * bool(toks)):
            return False
        starts = [int(toks[i + 1][5:-1]) for i in range(0, len(toks), 3)]
        ends = [int(toks[i + 2][5:-1]) for i in range(0, len(toks), 3)]
        return (len(starts) <= spec.get("max_spans", 1 << 30) and all(a < b for a, b in zip(starts, ends))
                and starts == sorted(starts))
    assert kind == "sentinel_spans", kind
    sentinels = [int(s) for s in re.findall(r"<extra_id_(\d+)>", answer)]
    rest = re.sub(r"<extra_id_\d+>", " ", answer).replace("</s>", " ")
    return bool(sentinels) and answer.split()[0] == "<extra_id_0>" and sentinels == list(range(len(sentinels))) \
        and set(rest) <= set("ACGTN ")


def test_oracle_rejects_what_the_grammars_forbid():
    """The oracle can fail: one wrong answer per grammar type."""
    assert conforms({"type": "choice", "tokens": ["<yes>", "<no>"]}, "<no>")
    assert not conforms({"type": "choice", "tokens": ["<yes>", "<no>"]}, "<yes> <no>")
    named = {"type": "choice", "tokens": ["{tissue}", "<no>"]}
    prompt = "<task:tf_binding> <tissue:liver> <dna> A </dna>"
    assert conforms(named, "<tissue:liver>", prompt) and not conforms(named, "<tissue:heart>", prompt)
    assert not conforms({"type": "values", "count": 1, "n_bins": 128}, "<val:128>")
    assert not conforms({"type": "values", "count": 2, "n_bins": 128}, "<val:001>")
    spans = {"type": "spans", "labels": ["<exon>", "<intron>"], "max_spans": 2}
    assert conforms(spans, "<exon> <off:0001> <off:0004> <intron> <off:0004> <off:0009>") and conforms(spans, "")
    assert not conforms(spans, "<exon> <off:0004> <off:0004>")
    assert not conforms(spans, "<exon> <off:0005> <off:0009> <intron> <off:0001> <off:0004>")
    assert not conforms({"type": "sentinel_spans"}, "<extra_id_1> AC")
    assert conforms({"type": "sentinel_spans"}, "<extra_id_0> AC <extra_id_1> G <extra_id_2>")


# ---------------------------------------------------------------------------------------------- grammars
@pytest.mark.parametrize("spec,kw", [
    ({"type": "choice", "tokens": ["<yes>", "<no>"]}, {}),
    ({"type": "values", "count": 8, "n_bins": 64}, {}),
    ({"type": "spans", "labels": ["<exon>", "<intron>"], "max_spans": 6}, {"max_offset": 12}),
    ({"type": "sentinel_spans"}, {"n_sentinels": 5}),
    ({"type": "sentinel_spans"}, {"n_sentinels": 0}),
])
def test_grammar_random_walks_always_parse(tokenizer, spec, kw):
    """Any path the state machine allows, under any step budget, is accepted by the strict parser."""
    g = AnswerGrammar.from_spec(spec, tokenizer, **kw)
    rng = np.random.default_rng(0)
    for trial in range(300):
        budget = int(rng.integers(max(g.min_tokens(), 1), 40))
        state, ids = g.start(), []
        for step in range(budget):
            allowed = g.allowed(state, budget - step)
            assert allowed.size, "a grammar state with no way forward"
            t = int(rng.choice(allowed))
            state = g.advance(state, t)
            if t == g.eos:
                break
            ids.append(t)
        parsed = parse_answer(g.spec, tokenizer.convert_ids_to_tokens(ids), tokenizer.vocab.off_resolution)
        assert conforms(g.spec, " ".join(tokenizer.convert_ids_to_tokens(ids))), ids
        if spec["type"] == "spans":
            assert all(b <= kw["max_offset"] * tokenizer.vocab.off_resolution for _, _, b in parsed)
        if spec["type"] == "sentinel_spans" and state[-1]:        # finished: closed by <extra_id_S>
            assert list(parsed)[-1] == f"<extra_id_{kw['n_sentinels']}>"
    assert g.allowed_after([], 10).size


# ---------------------------------------------------------------------------------------------- decoding
def test_constrained_decoding_never_unparseable(fx, m, tokenizer):
    """Untrained model with noisy embeddings (diverse, arbitrary tokens): every answer parses, across all tasks,
    mixed in one batch, with generous and with tight step budgets."""
    import torch
    from seq2gen.infer import Seq2Gen
    noisy = Seq2Gen(m.model, m.tokenizer, m.quantizers, m.registry, batch_size=32)
    orig = m.model.shared.weight.detach().clone()
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    prompts = [p for t in TASKS for p in fx["data"][t]["test"]["prompt"][:6]]
    for t in ("annotate", "span_corruption"):          # odd lengths: offsets must stay inside the shorter window
        n = int(rng.integers(20, 300))
        dna = "".join(rng.choice(list("ACGT"), n))
        body = dna if t == "annotate" else dna[:n // 2] + " <extra_id_0> " + dna[n // 2:]
        prompts.append(f"<task:{t}> <dna> {body} </dna>")
    try:
        with torch.no_grad():
            m.model.shared.weight.add_(torch.randn(orig.shape, generator=gen) * 4.0)
        for budget in (None, 9):
            preds = noisy.predict(prompts, max_new_tokens=budget)
            for prompt, p in zip(prompts, preds):
                g = m.registry.get(p.task).answer_grammar
                parsed = parse_answer({**g, **({"n_bins": m.quantizers[p.task].n_bins} if p.task in m.quantizers
                                                else {})}, p.answer, tokenizer.vocab.off_resolution)
                assert parsed == p.parsed
                assert conforms({**g, **({"n_bins": m.quantizers[p.task].n_bins} if p.task in m.quantizers
                                         else {})}, p.answer, prompt), (p.task, p.answer)
                if p.task == "annotate":
                    n_bases = len(prompt.split("<dna>")[1].replace("</dna>", "").replace(" ", ""))
                    assert all(b <= n_bases + tokenizer.vocab.off_resolution for _, _, b in parsed)
            assert len({p.answer for p in preds if p.task == "span_corruption"}) > 1   # the noise made them vary
    finally:
        with torch.no_grad():
            m.model.shared.weight.copy_(orig)


def test_value_decode_matches_manual_softmax(fx, m):
    import torch
    row = fx["data"]["expression"]["test"][0]
    pred = m.predict(row["prompt"])
    q = m.quantizers["expression"]
    val_ids = m.tokenizer.ids_of(m.vocab.groups["values"][:q.n_bins])
    with torch.no_grad():
        logits = m.model(input_ids=torch.tensor([row["input_ids"]]),
                         decoder_input_ids=torch.tensor([[m.start_id]])).logits[0, 0]
    p = torch.softmax(logits[val_ids].double(), -1).numpy()
    expected = float((p * q.centres).sum())
    assert pred.value.expected[0] == pytest.approx(expected, rel=1e-5)
    assert pred.value.argmax[0] == pytest.approx(q.centres[p.argmax()])
    assert pred.parsed == [int(p.argmax())]
    # track: each answer token is the bin of that step's expected value (fed back to the next step), and the
    # per-step distributions equal a teacher-forced pass over the answer
    row = fx["data"]["chromatin"]["test"][0]
    pred = m.predict(row["prompt"])
    q = m.quantizers["chromatin"]
    val_ids = m.tokenizer.ids_of(m.vocab.groups["values"][:q.n_bins])
    dec = [m.start_id] + m.tokenizer.ids_of(pred.answer.split())[:-1]
    with torch.no_grad():
        logits = m.model(input_ids=torch.tensor([row["input_ids"]]), decoder_input_ids=torch.tensor([dec])).logits[0]
    p = torch.softmax(logits[:, val_ids].double(), -1).numpy()
    np.testing.assert_allclose(pred.value.probs, p, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(pred.value.expected, p @ q.centres, rtol=1e-4)
    assert pred.parsed == [int(b) for b in q.encode(p @ q.centres)] and pred.finished


def test_save_load_round_trip_identical(m, tmp_path, fx):
    from seq2gen.infer import Seq2Gen
    prompts = [fx["data"][t]["test"]["prompt"][0] for t in TASKS]
    before = m.predict(prompts)
    m.save_pretrained(tmp_path / "m")
    again = Seq2Gen.from_pretrained(tmp_path / "m")
    assert again.tissues == m.tissues
    after = again.predict(prompts)
    for a, b in zip(before, after):
        assert (a.answer, a.parsed, a.probs) == (b.answer, b.parsed, b.probs)
        if a.value is not None:
            np.testing.assert_array_equal(a.value.probs, b.value.probs)
    bf16 = Seq2Gen.from_pretrained(tmp_path / "m", dtype="bfloat16")      # dtype argument; CPU bf16 works
    assert str(bf16.model.dtype) == "torch.bfloat16" and bf16.predict(prompts[0]).parsed in ("<yes>", "<no>")


def test_predict_errors(m):
    with pytest.raises(InputError, match="did you mean liver"):
        m.predict("<task:tf_binding> <tissue:livr> <dna> ACGT </dna>")
    with pytest.raises(InputError, match="prompt 1: .*invalid character 'X' at position 24"):
        m.predict(["<task:promoter> <dna> ACGT </dna>", "<task:promoter> <dna> ACXGT </dna>"])
    with pytest.raises(InputError, match="must start with the token of a task"):
        m.predict("<dna> ACGT </dna>")
    with pytest.raises(InputError, match="too small for task chromatin"):
        m.predict(f"<task:chromatin> <tissue:liver> <dna> {'ACGT' * 100} </dna>", max_new_tokens=3)
    with pytest.raises(InputError, match="prompt 0: prompt does not follow the template of task chromatin .*"
                                         "the DNA has 4 bp; task chromatin reads 400-bp windows"):
        m.predict("<task:chromatin> <tissue:liver> <dna> ACGT </dna>")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_cuda_matches_cpu(fx, m):
    from seq2gen.infer import Seq2Gen
    prompts = [fx["data"][t]["test"]["prompt"][0] for t in TASKS]
    gpu = Seq2Gen.from_pretrained(fx["export"], device="cuda")
    cpu_preds, gpu_preds = m.predict(prompts), gpu.predict(prompts)
    assert len(cpu_preds) == len(gpu_preds) == len(prompts)
    for a, b in zip(cpu_preds, gpu_preds):
        assert a.task == b.task and (a.value is None or np.allclose(a.value.expected, b.value.expected, rtol=1e-3))
        assert (a.value is None) == (b.value is None) and (a.probs is None) == (b.probs is None)
        if a.probs is not None:        # choice answers: the same distribution, the same answer unless a near-tie
            assert a.probs.keys() == b.probs.keys()
            pa, pb = np.array([a.probs[k] for k in a.probs]), np.array([b.probs[k] for k in a.probs])
            assert np.allclose(pa, pb, atol=1e-3), (pa, pb)
            if np.ptp(pa) > 1e-2:
                assert a.answer == b.answer
        if a.value is not None:        # value answers: the whole distribution over bins, not just its mean
            assert np.allclose(a.value.probs, b.value.probs, atol=1e-4)
            assert np.allclose(a.value.lo, b.value.lo, atol=1e-2) and np.allclose(a.value.hi, b.value.hi, atol=1e-2)
        if a.probs is None and a.value is None:   # generated answers: greedy, so compare the first token
            assert a.answer.split()[:1] == b.answer.split()[:1], (a.answer, b.answer)


# ---------------------------------------------------------------------------------------------- typed helpers
def test_helpers_build_the_pipelines_prompts(fx, m, monkeypatch):
    """The ids each typed helper sends equal the dataset row's input_ids for the same record."""
    from seq2gen.genome import read_vcf
    sent = []
    real = m.predict_ids
    monkeypatch.setattr(m, "predict_ids", lambda rows, tasks, **kw: sent.extend(rows) or real(rows, tasks, **kw))
    data = fx["data"]
    vcf = read_vcf(fx["world"] / "variants.vcf").set_index("id")
    cases = []
    for task, call in [
        ("promoter", lambda r: m.classify(region_of(r), "promoter")),
        ("tf_binding", lambda r: m.classify(region_of(r), "tf_binding", tissue=r["tissue"])),
        ("expression", lambda r: m.expression(region_of(r), r["tissue"])),
        ("chromatin", lambda r: m.track(region_of(r), r["tissue"])),
        ("annotate", lambda r: m.annotate(region_of(r))),
        ("variant_effect", lambda r: m.variant_effect(
            m.fasta.fetch(r["chrom"], r["start"], r["end"]), int(vcf.loc[r["name"], "start"]) - r["start"],
            vcf.loc[r["name"], "ref"], vcf.loc[r["name"], "alt"], r["tissue"])),
    ]:
        test = [r for r in data[task]["test"] if not r["rc"]]
        rows = [r for r in test if r["strand"] == "+"][:2] + [r for r in test if r["strand"] == "-"][:2]
        strands = {r["strand"] for r in rows}
        for r in rows:
            sent.clear()
            call(r)
            assert sent and sent[0].tolist() == r["input_ids"], (task, r["prompt"][:80])
        cases.append((task, strands))
    assert any("-" in s for _, s in cases)           # minus-strand windows were among the compared rows


def test_a_choice_naming_the_prompt_tissue(fx, m):
    """tf_binding answers its prompt's tissue token or <no>: the decoder offers exactly those two per prompt, the
    probabilities are keyed by them, and evaluation scores P(own tissue) against targets naming the tissue."""
    from seq2gen.evaluate.run import evaluate_task
    rows = fx["data"]["tf_binding"]["validation"]
    rows = rows.select([i for i, t in enumerate(rows["target"]) if t != "<no>"][:4] + list(range(4)))
    preds = m.predict(rows["prompt"])
    for p, prompt in zip(preds, rows["prompt"]):
        own = prompt.split()[1]
        assert list(p.probs) == [own, "<no>"] and p.answer in (own, "<no>")
        assert sum(p.probs.values()) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InputError, match="expected a tissue token"):
        m.predict("<task:tf_binding> <dna> ACGT </dna>")
    with pytest.raises(InputError, match="prompt's tissue token"):
        m.grammar("tf_binding")
    _, arrays = evaluate_task(m, m.registry.get("tf_binding"), rows)
    assert arrays["target"].tolist() == [int(t != "<no>") for t in rows["target"]] and arrays["target"].sum() >= 4
    assert arrays["prediction"] == pytest.approx([p.probs[r.split()[1]] for p, r in zip(preds, rows["prompt"])],
                                                 abs=1e-5)


def test_expression_with_dna_and_positions(fx, m):
    row = fx["data"]["expression"]["test"][0]
    dna = m.fasta.fetch(row["chrom"], row["start"], row["end"], row["strand"])
    tss = row["start"] + 320 if row["strand"] == "+" else row["end"] - 321
    a = m.expression(dna, row["tissue"], chrom=row["chrom"], pos=tss)
    b = m.expression(region_of(row), row["tissue"])
    assert a == b and a["lo"] <= a["hi"]
    with pytest.raises(InputError, match="pass chrom= and pos="):
        m.expression(dna, row["tissue"])
    with pytest.raises(InputError, match=r"sequence 0 has 100 bp; task expression reads 384-bp windows with the "
                                         r"TSS \(gene orientation\) at offset 320"):
        m.expression(dna[:100], "liver", chrom="chr1", pos=5)
    many = m.expression([dna[:100], dna + "ACGT"], "liver", chrom="chr1", pos=5, fit="centre")
    assert len(many) == 2 and all(np.isfinite(x["expected"]) for x in many)
    with pytest.raises(InputError, match="not trained on tissue 'lung_upper_lobe'|unknown tissue"):
        m.expression(dna, "lung_upper_lobe", chrom="chr1", pos=5)


def test_annotate_tiles_and_maps_to_genome(fx, m):
    spans = m.annotate("chr1:10,001-11,000:-")          # 1000 bp → three 480-bp tiles in one call
    for s in spans:
        assert s["chrom"] == "chr1" and s["strand"] == "-" and 10_000 <= s["start"] < s["end"] <= 11_000
    dna = m.fasta.fetch("chr1", 10_000, 11_000, "-")
    shown = m.annotate(dna)
    assert [(s["end"], s["start"]) for s in spans] == [(11_000 - s["start"], 11_000 - s["end"]) for s in shown]


def test_fit_centre():
    from seq2gen.infer.helpers import fit_centre
    assert fit_centre("ACGTA", 9, 4) == "NNACGTANN"      # centre base G (index 2) lands at offset 4
    assert fit_centre("AACCGGTTAC", 4, 1) == "GGTT"
    assert len(fit_centre("A" * 1000, 384, 320)) == 384


def test_region_parsing():
    assert parse_region("chr7:1,000-3,000") == Region("chr7", 999, 3000, "+")
    assert parse_region("chr7:1000-3000:-") == Region("chr7", 999, 3000, "-")
    assert parse_region(" chrX:5-5(+) ") == Region("chrX", 4, 5, "+")
    r = parse_region("chr1:101-200:-")
    assert len(r) == 100 and r.to_genome(0, 10) == (190, 200) and r.position(0) == 199
    assert parse_region("chr1:101-200").to_genome(0, 10) == (100, 110)
    assert r.resized(10, 2, 50) == Region("chr1", 142, 152, "-")
    for bad in ("chr7", "chr7:0-10", "chr7:10-5", "chr7:1-10:*", "chr7:a-b"):
        with pytest.raises(InputError):
            parse_region(bad)


# ---------------------------------------------------------------------------------------------- variants
def test_zero_shot_llr_matches_two_full_passes(m):
    import torch
    from seq2gen.infer.variants import zero_shot_inputs
    rng = np.random.default_rng(1)
    dna = "".join(rng.choice(list("ACGT"), 200))
    alt = "A" if dna[100] != "A" else "C"
    llr = m.variant_llr(dna, 100, dna[100], alt)
    rows, targets, _ = zero_shot_inputs(m, [dna], [100], [dna[100]], [alt])
    lp = []
    for t in targets:                       # independent passes, each with its own encoder run
        with torch.no_grad():
            out = m.model(input_ids=torch.tensor([rows[0]]), labels=torch.tensor([t]))
        lp.append(-out.loss.item() * len(t))
    assert llr == pytest.approx(lp[1] - lp[0], abs=1e-4)
    assert m.tokenizer.decode(rows[0]).startswith("<task:span_corruption> <dna> " + dna[:100] + " <extra_id_0> ")
    with pytest.raises(InputError, match="does not match the window"):
        m.variant_llr(dna, 100, "N", alt)


def test_score_vcf_world(fx, m):
    from seq2gen.genome import read_vcf
    vcf = read_vcf(fx["world"] / "variants.vcf")
    df = m.score_vcf(fx["world"] / "variants.vcf", m.fasta, "liver", chunk_size=25)
    assert len(df) == len(vcf) and df["id"].tolist() == vcf["id"].tolist()
    cols = ["effect_liver", "effect_liver_lo", "effect_liver_hi", "llr"]
    assert np.isfinite(df[cols].to_numpy()).all()
    assert (df["effect_liver_lo"] <= df["effect_liver_hi"]).all()
    # the task column equals variant_effect on the same centred windows
    one = vcf.iloc[3]
    win = m.fasta.fetch(one["chrom"], one["start"] - 128, one["start"] + 128)
    eff = m.variant_effect(win, 128, one["ref"], one["alt"], "liver")
    assert df["effect_liver"].iloc[3] == pytest.approx(eff["expected"], rel=1e-5)
    with pytest.raises(InputError, match="did you mean liver"):
        m.score_vcf(fx["world"] / "variants.vcf", m.fasta, "livr")


def test_write_scores_resume_without_duplicates(fx, m, tmp_path, monkeypatch):
    from seq2gen.infer import variants
    vcf, out = fx["world"] / "variants.vcf", tmp_path / "scores.tsv"
    ref = variants.write_scores(m, vcf, m.fasta, tmp_path / "full.tsv", tissue="heart", chunk_size=16)
    real, calls = variants.score_chunk, []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt                       # interrupted during the third chunk
        return real(*a, **kw)
    monkeypatch.setattr(variants, "score_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        variants.write_scores(m, vcf, m.fasta, out, tissue="heart", chunk_size=16)
    monkeypatch.setattr(variants, "score_chunk", real)
    assert not out.exists() and (tmp_path / "scores.tsv.partial").exists()
    with open(tmp_path / "scores.tsv.partial", "ab") as f:   # a torn row after the last checkpoint
        f.write(b"chr1\t123\tsv_torn")
    with pytest.raises(InputError, match="--resume"):
        variants.write_scores(m, vcf, m.fasta, out, tissue="heart", chunk_size=16)
    with pytest.raises(InputError, match="different settings \\(tissues\\)"):
        variants.write_scores(m, vcf, m.fasta, out, tissue="brain", chunk_size=16, resume=True)
    res = variants.write_scores(m, vcf, m.fasta, out, tissue="heart", chunk_size=16, resume=True)
    assert res["rows"] == ref["rows"] and out.read_text() == (tmp_path / "full.tsv").read_text()
    assert not list(tmp_path.glob("*.partial*"))


def test_write_scores_failing_validation_leaves_no_partial(fx, m, tmp_path):
    """A run that fails before its first checkpoint (a REF mismatch in record 2) must not block the corrected
    rerun with "interrupted run … pass --resume"; an empty .partial left by an older version is cleared too."""
    from seq2gen.infer import variants
    lines = (fx["world"] / "variants.vcf").read_text().splitlines(keepends=True)
    first = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    cols = lines[first + 1].split("\t")
    cols[3] = {"A": "C", "C": "G", "G": "T", "T": "A"}[cols[3]]
    bad = tmp_path / "bad.vcf"
    bad.write_text("".join(lines[:first + 1] + ["\t".join(cols)] + lines[first + 2:]))
    out = tmp_path / "scores.tsv"
    with pytest.raises(InputError, match="REF does not match") as ei:
        variants.write_scores(m, bad, m.fasta, out, tissue="heart", chunk_size=16)
    assert ei.value.line == first + 2 and not list(tmp_path.glob("scores.tsv*"))
    (tmp_path / "scores.tsv.partial").write_bytes(b"")
    res = variants.write_scores(m, fx["world"] / "variants.vcf", m.fasta, out, tissue="heart", chunk_size=16)
    assert res["records"] == len(lines) - first and out.is_file() and not list(tmp_path.glob("*.partial*"))


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_commands(fx, m, tmp_path):
    import typer
    from typer.testing import CliRunner

    from seq2gen.cli import serve_cmd
    from seq2gen.infer.cli import predict_cmd, score_vcf_cmd
    app = typer.Typer()
    app.command("predict")(predict_cmd)
    app.command("score-vcf")(score_vcf_cmd)
    app.command("serve")(serve_cmd)
    runner = CliRunner()
    model = str(fx["export"])
    prompt = fx["data"]["expression"]["test"]["prompt"][0]
    res = runner.invoke(app, ["predict", model, prompt])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["task"] == "expression" and out["answer"].startswith("<val:") and "expected" in out
    tsv = tmp_path / "in.tsv"
    pd.DataFrame({"id": ["a", "b", "c"], "prompt": [fx["data"][t]["test"]["prompt"][0]
                                                    for t in ("promoter", "annotate", "chromatin")]}).to_csv(
        tsv, sep="\t", index=False)
    res = runner.invoke(app, ["predict", model, "--tsv", str(tsv), "--out", str(tmp_path / "out.tsv"),
                              "--chunk-size", "2"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "out.tsv", sep="\t")
    assert got["id"].tolist() == ["a", "b", "c"] and got["task"].tolist() == ["promoter", "annotate", "chromatin"]
    res = runner.invoke(app, ["predict", model, "<task:promoter> <dna> ACGZ </dna>"])
    assert res.exit_code == 2 and "invalid character 'Z'" in res.output
    res = runner.invoke(app, ["score-vcf", model, "--vcf", str(fx["world"] / "variants.vcf"), "--fasta",
                              str(fx["world"] / "genome.fa"), "--tissue", "liver", "--out",
                              str(tmp_path / "s.tsv"), "--no-progress", "--method", "task"])
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert list(scores.columns[-4:]) == ["effect_liver", "effect_liver_lo", "effect_liver_hi", "effect_liver_argmax"]
    res = runner.invoke(app, ["serve", "--help"])
    assert res.exit_code == 0 and "--port" in res.output


# ---------------------------------------------------------------------------------------------- trained model
@pytest.mark.slow
def test_trained_score_vcf_correlates_with_true_effects(request):
    """Out of the default suite: `pytest -m slow tests/test_infer.py` (trains briefly; see docs/inference.md)."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow: run with -m slow")
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_infer import train_and_correlate
    res = train_and_correlate(os.environ.get("SEQ2GEN_SLOW_DIR") or str(request.config.cache.mkdir("infer_slow")))
    assert res["spearman_task"] > 0.3
