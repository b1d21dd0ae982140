"""HTTP server (seq2gen.serve) with FastAPI's TestClient on an untrained tiny model export: every endpoint answers,
answers parse and equal the Python API's, and every class of bad request is a 4xx whose detail says what and where.
A small load test (100 requests, 8 concurrent, real uvicorn) closes the file; benchmarks/load_server.py is the full one.
"""
from __future__ import annotations

import copy
import gzip
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2gen.tasks import parse_answer

from builders import TASKS, build_fixture

MAX_LENGTH, MAX_BATCH, MAX_VCF = 2000, 8, 40


@pytest.fixture(scope="module")
def fx(world_dir, tokenizer, tmp_path_factory):
    return build_fixture(world_dir, tokenizer, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def model(fx):
    from seq2gen.infer import Seq2Gen
    m = Seq2Gen.from_pretrained(fx["export"], batch_size=16)
    m.tissues = json.loads((fx["world"] / "world.json").read_text())["tissues"]
    return m


@pytest.fixture(scope="module")
def app(model, fx):
    from seq2gen.serve import create_app
    return create_app(model, max_length=MAX_LENGTH, max_batch=MAX_BATCH, fasta=fx["world"] / "genome.fa",
                      max_vcf_records=MAX_VCF)


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient
    return TestClient(app, raise_server_exceptions=False)     # a bug shows as the 500 a user would get


@pytest.fixture(scope="module")
def vcf(fx):
    """(header lines, record lines) of the world's VCF."""
    lines = (fx["world"] / "variants.vcf").read_text().splitlines()
    return [x for x in lines if x.startswith("#")], [x for x in lines if x and not x.startswith("#")]


@pytest.fixture(scope="module")
def variant(model, fx):
    """A /variant-effect item for the world's first SNV: its 256-bp reference window, REF at offset 128."""
    from seq2gen.genome import read_vcf
    v = read_vcf(fx["world"] / "variants.vcf").iloc[0]
    return {"sequence": model.fasta.fetch(v["chrom"], v["start"] - 128, v["start"] + 128), "offset": 128,
            "ref": v["ref"], "alt": v["alt"]}


def upload(text: str | bytes, name: str = "v.vcf") -> dict:
    return {"file": (name, text.encode() if isinstance(text, str) else text)}


# ---------------------------------------------------------------------------------------------- good requests
def test_health_tasks_and_openapi(client, model):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["dtype"] == "float32" and h["device"] == "cpu"
    assert sorted(h["tasks"]) == sorted(TASKS)
    t = client.get("/tasks").json()
    by_name = {x["name"]: x for x in t["tasks"]}
    assert sorted(by_name) == sorted(TASKS)
    assert "liver" in t["tissues"] and t["limits"] == {"max_length": MAX_LENGTH, "max_batch": MAX_BATCH,
                                                         "max_vcf_records": MAX_VCF}
    kinds = {n: x["answer_grammar"]["type"] for n, x in by_name.items()}
    assert kinds["promoter"] == "choice" and kinds["chromatin"] == "values" and kinds["annotate"] == "spans"
    assert kinds["span_corruption"] == "sentinel_spans"
    assert by_name["variant_effect"]["window"]["length"] == 256 and "liver" in by_name["variant_effect"]["tissues"]
    assert by_name["promoter"]["tissues"] == [] and by_name["expression"]["prompt"][0] == "<task:expression>"
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) == {"/health", "/tasks", "/predict", "/variant-effect", "/score-vcf", "/explain"}
    assert {"PredictRequest", "VariantRequest", "Variant"} <= set(spec["components"]["schemas"])
    assert client.get("/docs").status_code == 200


def test_predict_batched_answers_parse_and_match_the_api(client, model, fx):
    prompts = [fx["data"][t]["test"]["prompt"][0] for t in TASKS]          # 8 tasks, one request (≤ max_batch)
    # max_new_tokens caps the untrained model's span-corruption answer (its default budget is ~100 tokens)
    r = client.post("/predict", json={"prompts": prompts, "with_probs": True, "max_new_tokens": 16})
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    grammars = {x["name"]: x["answer_grammar"] for x in client.get("/tasks").json()["tasks"]}
    direct = model.predict(prompts, max_new_tokens=16)
    assert [p["task"] for p in got] == list(TASKS)
    for p, d in zip(got, direct):
        parsed = parse_answer(grammars[p["task"]], [t for t in p["answer"].split() if t != "</s>"],
                              model.vocab.off_resolution)
        assert json.loads(json.dumps(parsed, default=list)) == json.loads(json.dumps(p["parsed"], default=list))
        assert p["answer"] == d.answer and p["finished"] == d.finished
        if p["task"] in ("promoter", "tf_binding"):       # tf_binding's positive names the prompt's tissue
            pos = "<yes>" if p["task"] == "promoter" else prompts[TASKS.index("tf_binding")].split()[1]
            assert set(p["probs"]) == {pos, "<no>"} and sum(p["probs"].values()) == pytest.approx(1)
        if p["value"] is not None:
            g = grammars[p["task"]]
            k = g.get("count", 1)
            assert len(p["value"]["expected"]) == k and np.array(p["value"]["probs"]).shape == (k, g["n_bins"])
            np.testing.assert_allclose(p["value"]["expected"], d.value.expected, rtol=1e-5)
    no_probs = client.post("/predict", json={"prompts": prompts[4:5]}).json()["predictions"][0]
    assert no_probs["task"] == "expression" and "probs" not in no_probs["value"]


def test_variant_effect_both_methods(client, model, variant):
    other = dict(variant, ref=variant["sequence"][100], offset=100,
                 alt="A" if variant["sequence"][100] != "A" else "C")
    r = client.post("/variant-effect", json={"variants": [variant, other], "tissue": "liver",
                                             "methods": ["task", "zero_shot"]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert len(res) == 2 and all(set(x) == {"expected", "argmax", "lo", "hi", "llr"} for x in res)
    assert all(x["lo"] <= x["hi"] for x in res)
    want = model.variant_effect(variant["sequence"], 128, variant["ref"], variant["alt"], "liver")
    assert res[0]["expected"] == pytest.approx(want["expected"], rel=1e-5)
    assert res[1]["llr"] == pytest.approx(model.variant_llr(other["sequence"], 100, other["ref"], other["alt"]),
                                          abs=1e-4)
    zs = client.post("/variant-effect", json={"variants": [variant], "methods": ["zero_shot"]}).json()["results"]
    assert set(zs[0]) == {"llr"}                                      # no tissue needed for the zero-shot score


def test_score_vcf_upload_returns_tsv(client, vcf, model):
    head, body = vcf
    text = "\n".join(head + body[:6]) + "\n"
    r = client.post("/score-vcf", files=upload(text), data={"tissue": "liver"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    df = pd.read_csv(io.StringIO(r.text), sep="\t")
    assert df["id"].tolist() == [x.split("\t")[2] for x in body[:6]]
    assert list(df.columns) == ["chrom", "pos", "id", "ref", "alt", "effect_liver", "effect_liver_lo",
                                "effect_liver_hi", "effect_liver_argmax", "llr"]
    assert np.isfinite(df.iloc[:, 5:].to_numpy()).all()
    # gzip (told by magic bytes, whatever the name), every trained tissue by default, one method
    r = client.post("/score-vcf", files=upload(gzip.compress(text.encode()), "calls.vcf"), data={"methods": "task"})
    assert r.status_code == 200, r.text
    df2 = pd.read_csv(io.StringIO(r.text), sep="\t")
    assert list(df2.columns[5::4]) == [f"effect_{t}" for t in model.tissues] and "llr" not in df2.columns
    np.testing.assert_allclose(df2["effect_liver"], df["effect_liver"], rtol=1e-5)   # 6 significant digits in the TSV


# ---------------------------------------------------------------------------------------------- bad requests
DNA = "ACGT" * 16


@pytest.mark.parametrize("path, body, status, fragment", [
    ("/predict", {"prompts": ["<task:tf_binding> <tissue:livr> <dna> ACGT </dna>"]}, 422,
     "prompt 0: unknown tissue 'livr' (did you mean liver?)"),
    ("/predict", {"prompts": ["<task:promoter> <dna> ACGT </dna>", "<task:promoter> <dna> ACXGT </dna>"]}, 422,
     "prompt 1: invalid character 'X' at position 24"),
    ("/predict", {"prompts": ["<task:promoter> <foo> <dna> ACGT </dna>"]}, 422, "prompt 0: unknown token <foo>"),
    ("/predict", {"prompts": ["<task:promoter> <dna> AC GT <dna </dna>"]}, 422, "malformed token near position"),
    ("/predict", {"prompts": ["<dna> ACGT </dna>"]}, 422, "prompt 0: a prompt must start with the token of a task"),
    ("/predict", {"prompts": ["<task:promoter> <dna> ACGT </dna>", "  "]}, 422, "prompt 1 is empty"),
    ("/predict", {"prompts": ["<task:promoter> <dna> " + "A" * MAX_LENGTH + " </dna>"]}, 413,
     f"prompt 0 has {MAX_LENGTH + 29} characters; this server accepts at most {MAX_LENGTH} (max_length)"),
    ("/predict", {"prompts": ["<task:promoter> <dna> ACGT </dna>"] * (MAX_BATCH + 1)}, 413,
     f"{MAX_BATCH + 1} prompts in one request; this server takes at most {MAX_BATCH} (max_batch)"),
    ("/predict", {"prompts": [f"<task:chromatin> <tissue:liver> <dna> {'ACGT' * 100} </dna>"], "max_new_tokens": 3},
     422, "max_new_tokens=3 is too small for task chromatin"),
    # prompts checked against their task's template (seq2gen.tasks.promptcheck)
    ("/predict", {"prompts": [f"<task:expression> <dna> {DNA * 6} </dna>"]}, 422,
     "prompt 0: prompt does not follow the template of task expression (<task:expression> {tissue} {chr} {bin} "
     "<dna> {dna} </dna>): part 2: expected a tissue token <tissue:…>, got <dna>"),
    ("/predict", {"prompts": [f"<task:expression> <tissue:liver> <dna> {DNA * 6} </dna>"]}, 422,
     "part 3: expected a chromosome token <chr:…>, got <dna>"),
    ("/predict", {"prompts": [f"<task:promoter> <dna> {DNA * 6} </dna> <yes>"]}, 422,
     "part 5: stray token after the template: <yes>"),
    ("/predict", {"prompts": [f"<task:promoter> <tissue:liver> <dna> {DNA * 6} </dna>"]}, 422,
     "part 2: expected <dna>, got <tissue:liver>"),
    ("/predict", {"prompts": [f"<task:promoter> <dna> {DNA * 6}"]}, 422,
     "part 4: expected </dna>, got the end of the prompt"),
    ("/predict", {"prompts": [f"<task:promoter> {DNA * 6} </dna>"]}, 422, "part 2: expected <dna>, got 384 bases"),
    ("/predict", {"prompts": [f"<task:promoter> <dna> {DNA * 5} </dna>"]}, 422,
     "the DNA has 320 bp; task promoter reads 384-bp windows (anchor at offset 320)"),
    ("/predict", {"prompts": ["<task:promoter> <dna> </dna>"]}, 422, "part 3: expected DNA, got </dna>"),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "A", "alt": "G"}],
                         "tissue": "livr"}, 422, "unknown tissue 'livr' (did you mean liver?)"),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "A", "alt": "G"}]}, 422,
     "task variant_effect is tissue-conditioned: pass tissue="),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "C", "alt": "G"}],
                         "tissue": "liver"}, 422, "variant 0: REF 'C' does not match the window at offset 128"),
    ("/variant-effect", {"variants": [{"sequence": "ACGTACGTAX" + DNA * 4, "offset": 1, "ref": "C", "alt": "G"}],
                         "tissue": "liver"}, 422, "invalid character 'X' at position 9 of the sequence of variant 0"),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 300, "ref": "A", "alt": "G"}],
                         "tissue": "liver"}, 422, "offset 300 is outside the 256-bp window"),
    ("/variant-effect", {"variants": [{"sequence": DNA, "offset": 0, "ref": "A", "alt": "G"}], "tissue": "liver"},
     422, "sequence 0 has 64 bp; task variant_effect reads 256-bp windows"),
    ("/variant-effect", {"variants": [{"sequence": "A" * (MAX_LENGTH + 1), "offset": 0, "ref": "A", "alt": "G"}],
                         "tissue": "liver"}, 413, "this server accepts at most 2000 (max_length)"),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "A", "alt": "G"}] * 9,
                         "tissue": "liver"}, 413, "9 variants in one request"),
    ("/variant-effect", {"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "A", "alt": "AT"}],
                         "tissue": "liver"}, 422, "allele 'AT' has no <alt:…> token"),
])
def test_bad_requests_are_located_4xx(client, path, body, status, fragment):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"], r.json()["detail"]


@pytest.mark.parametrize("path, kw, loc, msg", [
    ("/predict", {}, ["body"], "Field required"),                                   # empty body
    ("/predict", {"content": b"", "headers": {"content-type": "application/json"}}, ["body"], "Field required"),
    ("/predict", {"content": b'{"prompts": [', "headers": {"content-type": "application/json"}}, ["body"],
     "JSON decode error"),
    ("/predict", {"json": {"prompts": []}}, ["body", "prompts"], "at least 1 item"),
    ("/predict", {"json": {"prompt": "<task:promoter> <dna> A </dna>"}}, ["body", "prompts"], "Field required"),
    ("/predict", {"json": {"prompts": ["x"], "max_new_tokens": 0}}, ["body", "max_new_tokens"], "greater than"),
    ("/variant-effect", {"json": {"variants": [{"sequence": DNA, "offset": 0, "ref": "A", "alt": "Z"}]}},
     ["body", "variants", 0, "alt"], "should match pattern"),
    ("/variant-effect", {"json": {"variants": [{"sequence": DNA, "offset": -1, "ref": "A", "alt": "G"}]}},
     ["body", "variants", 0, "offset"], "greater than or equal to 0"),
    ("/variant-effect", {"json": {"variants": [{"sequence": DNA, "offset": 0, "ref": "A", "alt": "G"}],
                                  "methods": ["magic"]}}, ["body", "methods", 0], "'task' or 'zero_shot'"),
])
def test_schema_errors_are_422_with_location(client, path, kw, loc, msg):
    r = client.post(path, **kw)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(e["loc"][:len(loc)] == loc and msg in e["msg"] for e in errors), errors


def vcf_cases(head: list[str], body: list[str]):
    n = len(head)
    text = lambda recs: "\n".join(head + recs) + "\n"  # noqa: E731
    chrom, pos = body[0].split("\t")[:2]
    mism = body[0].split("\t")
    mism[3] = next(b for b in "ACGT" if b not in (mism[3], mism[4]))      # a REF the genome does not have
    return [
        ("bad POS", upload(text(body[:2] + ["chr1\tabc\t.\tA\tG\t.\tPASS\t."])), 422,
         [f"v.vcf:{n + 3}: POS must be a positive integer, got 'abc'"]),
        ("REF mismatch", upload(text(body[:1] + ["\t".join(mism)])), 422,
         [f"v.vcf:{n + 2}: REF does not match genome.fa at {chrom}:{pos}"]),
        ("multi-allelic", upload(text(body[:3] + [f"{chrom}\t{pos}\t.\tA\tC,G\t.\tPASS\t."])), 422,
         [f"v.vcf:{n + 4}: multi-allelic ALT 'C,G'", "bcftools norm"]),
        ("symbolic", upload(text([f"{chrom}\t{pos}\t.\tA\t<DEL>\t.\tPASS\t."])), 422,
         [f"v.vcf:{n + 1}: symbolic/breakend ALT '<DEL>'"]),
        ("too few columns", upload(text([f"{chrom}\t{pos}\t.\tA\tG"])), 422,
         [f"v.vcf:{n + 1}: expected at least 8 tab-separated columns"]),
        ("not UTF-8", upload(text(body[:2]).encode() + b"chr1\t5\tcaf\xe9\tA\tG\t.\t.\t.\n"), 422,
         [f"v.vcf:{n + 3}: not UTF-8 text: byte 0xe9", "iconv"]),
        ("broken gzip", upload(gzip.compress(text(body[:30]).encode())[:-40], "v.vcf.gz"), 422,
         ["v.vcf.gz: corrupt or truncated gzip data"]),
        ("no header", upload("\n".join(body[:2]) + "\n"), 422, ["v.vcf: missing #CHROM header line"]),
        ("header after records", upload(text(body[:1] + ["#late header"])), 422,
         [f"v.vcf:{n + 2}: header line after the first record"]),
        ("empty file", upload(b""), 422, ["the uploaded VCF v.vcf is empty"]),
        ("odd file name", upload(text(body[:1] + ["chr1\tabc\t.\tA\tG\t.\tPASS\t."]), "../../etc/x y.vcf"), 422,
         [f"x_y.vcf:{n + 2}: POS must be"]),
        ("too many records", upload(text(body[:MAX_VCF + 1])), 413,
         [f"the VCF has {MAX_VCF + 1} records; this server scores at most {MAX_VCF}"]),
    ]


@pytest.mark.parametrize("case", range(12))
def test_score_vcf_bad_uploads_name_the_line(client, vcf, case):
    name, files, status, fragments = vcf_cases(*vcf)[case]
    r = client.post("/score-vcf", files=files, data={"tissue": "liver"})
    assert r.status_code == status, (name, r.text)
    detail = r.json()["detail"]
    for f in fragments:
        assert f in detail, (name, detail)
    assert tempfile.gettempdir() not in detail and "/" not in detail.split(":")[0], detail   # no server paths


def test_score_vcf_bad_form_fields(client, vcf, model, fx):
    head, body = vcf
    files = upload("\n".join(head + body[:2]) + "\n")
    for data, fragment in [({"tissue": "livr"}, "unknown tissue 'livr' (did you mean liver?)"),
                           ({"tissue": "liver", "methods": "task,magic"}, "unknown scoring method(s) ['magic']")]:
        r = client.post("/score-vcf", files=files, data=data)
        assert r.status_code == 422 and fragment in r.json()["detail"], r.text
    r = client.post("/score-vcf", data={"tissue": "liver"})                  # no file part
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
    from fastapi.testclient import TestClient

    from seq2gen.serve import create_app
    bare = copy.copy(model)
    bare.fasta = None
    r = TestClient(create_app(bare)).post("/score-vcf", files=files)
    assert r.status_code == 409 and "--fasta" in r.json()["detail"]


def test_no_variant_task_is_a_clear_422(model):
    """A model without the variant task answers method 'task' with a 422 that points at 'zero_shot'."""
    from fastapi.testclient import TestClient

    from seq2gen.serve import create_app
    slim = copy.copy(model)
    slim.registry = model.registry.subset([n for n in model.registry.names if n != "variant_effect"])
    c = TestClient(create_app(slim), raise_server_exceptions=False)
    r = c.post("/variant-effect", json={"variants": [{"sequence": DNA * 4, "offset": 128, "ref": "A", "alt": "G"}],
                                        "tissue": "liver"})
    assert r.status_code == 422 and "no variant_effect task" in r.json()["detail"] and "zero_shot" in r.text


# ---------------------------------------------------------------------------------------------- load
def test_small_load_over_real_uvicorn(app, fx, vcf):
    """100 mixed requests, 8 in flight, against uvicorn on 127.0.0.1: no crash, good → 200, bad → their 4xx.
    A smoke test of the benchmark's own load generator (benchmarks/load_server.py) on this file's server, so the
    full benchmark and this test fire the same request mix."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import load_server
    head, body = vcf
    prompts = load_server.prompts_of(fx["data"])
    variants = load_server.variant_windows(fx["world"], n=8)
    with load_server.serve_in_thread(app) as (url, alive):
        s = load_server.run(url, alive, prompts, variants, "\n".join(head + body[:3]) + "\n", 100, 8, MAX_LENGTH,
                            MAX_BATCH, seed=3)
    assert s["ok"], (s["failures"][:3], s["connection_errors"], s["alive_after"])
    assert s["good"]["ok_200"] == s["good"]["n"] > 40 and s["bad"]["expected_4xx"] == s["bad"]["n"] > 15
    assert len(s["by_kind"]) >= 12 and s["requests_per_s"] > 0
