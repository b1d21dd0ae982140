"""Explanations and design: batched ISM = one-at-a-time predictions, attributions (shapes, finite, IG completeness)
on the conv stem and on embeddings, the delta variant method against the world's true effects (through an oracle
that predicts with the true function), indels in score-vcf, design search, motif similarity, CLI and /explain."""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")
RNG = np.random.default_rng(7)
DNA = "".join(RNG.choice(list("ACGT"), 384))


@pytest.fixture(scope="module")
def models(world_dir, tokenizer, tmp_path_factory):
    """Untrained tiny models with and without the conv stem, in the training-export layout."""
    from test_infer import build_fixture

    from seq2gen.infer import Seq2Gen
    from seq2gen.model import build_model
    fx = build_fixture(world_dir, tokenizer, tmp_path_factory.mktemp("interpret"))
    tissues = json.loads((world_dir / "world.json").read_text())["tissues"]
    out = {}
    for preset in ("tiny", "tiny_conv"):
        d = fx["export"].parent / f"export_{preset}"
        if not d.exists():
            build_model(preset, len(tokenizer), tokenizer.pad_id, tokenizer.eos_id, tokenizer=tokenizer).save_pretrained(d)
            tokenizer.save_pretrained(d)
            for f in ("quantizers.json", "tasks.json"):
                shutil.copy(fx["data_dir"] / f, d / f)
        m = Seq2Gen.from_pretrained(d, fasta=world_dir / "genome.fa", batch_size=64)
        m.tissues = tissues
        out[preset] = m
    out["dir"] = fx["export"].parent
    return out


def _mutate(dna: str, i: int, b: str) -> str:
    return dna[:i] + b + dna[i + 1:]


@pytest.mark.parametrize("preset", ["tiny_conv", "tiny"])
def test_ism_equals_one_at_a_time_predictions(models, preset):
    m = models[preset]
    r = m.ism(DNA, task="expression", tissue="liver", chrom="chr1", pos=5000, positions=[0, 7, 200, 383])
    assert r.scores.shape == (384, 4) and np.isnan(r.scores[1]).all()        # only the asked positions
    for i in (0, 7, 200, 383):
        for b in "ACGT":
            prompt = (f"<task:expression> <tissue:liver> <chr:1> <bin:0000> <dna> {_mutate(DNA, i, b)} </dna>")
            expected = m.predict(prompt).value.expected[0]
            assert r.scores[i, "ACGT".index(b)] == pytest.approx(expected, abs=1e-5)
    # choice task: log p(<tissue:heart>) ("bound in heart") from the restricted softmax, as predict reports it
    dna = DNA[:256]
    r = m.ism(f"<task:tf_binding> <tissue:heart> <dna> {dna} </dna>", positions=[100])
    for b in "ACGT":
        p = m.predict(f"<task:tf_binding> <tissue:heart> <dna> {_mutate(dna, 100, b)} </dna>").probs["<tissue:heart>"]
        assert r.scores[100, "ACGT".index(b)] == pytest.approx(np.log(p), abs=1e-5)


def test_ism_other_grammars_and_errors(models):
    m = models["tiny_conv"]
    r = m.ism(DNA + DNA[:16], task="chromatin", tissue="liver", positions=range(5))
    assert np.isfinite(r.delta[:5]).all() and "chromatin" in r.describe
    r = m.ism(DNA[:480] + DNA[:96], task="annotate", positions=[3])
    assert np.isfinite(r.scores[3]).all() and r.ref_score < 0                  # log p(reference answer)
    with pytest.raises(InputError, match="exactly one"):
        m.ism("<task:promoter> <dna> </dna>")
    with pytest.raises(InputError, match="bins"):
        m.ism(DNA + DNA[:16], task="chromatin", tissue="liver", bins=[9])


@pytest.mark.parametrize("preset", ["tiny_conv", "tiny"])
def test_attributions_shapes_finite_and_complete(models, preset):
    import torch

    from seq2gen.infer.objective import objective
    from seq2gen.interpret.attribute import SoftForward, one_hot
    m = models[preset]
    p = m.explained_prompt(DNA, task="expression", tissue="liver", chrom="chr1", pos=0)
    obs = one_hot(p.codes)
    for method in ("saliency", "input_x_gradient"):
        a = m.attribute(p, method=method)
        assert a.contrib.shape == a.hypothetical.shape == (384, 4)
        assert np.isfinite(a.contrib).all() and np.isfinite(a.hypothetical).all()
        assert (a.contrib[obs == 0] == 0).all() and np.abs(a.contrib).sum() > 0
        assert np.allclose(a.hypothetical.sum(1), 0, atol=1e-6)
    a = m.attribute(p, method="integrated_gradients", n_steps=48)
    f = SoftForward(m, objective(m, "expression", p.ids), p)
    ids = torch.as_tensor(p.ids)[None]
    with torch.no_grad():
        fx = f(torch.as_tensor(obs)[None], ids).item()
        fb = f(torch.full((1, 384, 4), 0.25), ids).item()
    assert fx == pytest.approx(a.score, abs=1e-5)                   # the soft path reproduces the model's score
    assert a.contrib.sum() == pytest.approx(fx - fb, abs=0.05 * abs(fx - fb) + 1e-4)     # completeness


def test_haplotype_window_snv_indels_and_strands():
    from seq2gen.infer.delta import haplotype_window

    class Fa:
        seq = "".join(np.random.default_rng(0).choice(list("ACGT"), 200))

        def fetch(self, c, a, b):                   # like Fasta.fetch: N past the contig ends
            return "N" * max(0, -a) + self.seq[max(a, 0):b] + "N" * max(0, b - max(a, len(self.seq)))
    fa, s = Fa(), Fa.seq
    rc = lambda x: x.translate(str.maketrans("ACGT", "TGCA"))[::-1]                      # noqa: E731
    assert haplotype_window(fa, "c", 50, s[50], s[50], 60, 10, 30, "+") == s[50:80]      # reference, anchor 60
    alt = "A" if s[55] != "A" else "C"
    assert haplotype_window(fa, "c", 55, s[55], alt, 60, 10, 30, "+") == s[50:55] + alt + s[56:80]
    # deletion upstream of the anchor: the anchor keeps its offset, the far side is filled from further out
    assert haplotype_window(fa, "c", 55, s[55:58], s[55], 60, 10, 30, "+") == s[48:56] + s[58:80]
    # insertion downstream of the anchor: the window is cut at its length
    assert haplotype_window(fa, "c", 65, s[65], s[65] + "GG", 60, 10, 30, "+") == s[50:66] + "GG" + s[66:78]
    # minus strand: base `anchor` at offset `before` of the reverse complement
    w = haplotype_window(fa, "c", 50, s[50], s[50], 100, 10, 30, "-")
    assert w == rc(s[81:111]) and w[10] == rc(s[100])
    assert haplotype_window(fa, "c", 3, s[3], s[3], 3, 10, 30, "+") == "N" * 7 + s[:23]        # contig start


class Oracle:
    """Predicts expression with the world's true function: delta must then equal the VCF's true effect."""

    def __init__(self, m, truth):
        self.registry, self.quantizers, self.truth = m.registry, m.quantizers, truth

    def _run(self, task, records, batch_size=None):
        from seq2gen.infer.model import Prediction, ValueEstimate
        f = self.truth.activity([r["dna"] for r in records], 320)
        out = []
        for row, r in zip(f, records):
            e = np.array([np.expm1(row[self.truth.tissues.index(r["tissue"])])])
            out.append(Prediction(task, "", None, value=ValueEstimate(e, e, e, e, np.ones((1, 1)))))
        return out


def test_delta_equals_true_effects_through_an_oracle(models, world_dir):
    from seq2gen.genome import Fasta, read_vcf
    from seq2gen.infer.delta import delta_scores
    from seq2gen.interpret.world_truth import WorldTruth
    fa = Fasta(world_dir / "genome.fa")
    v = read_vcf(world_dir / "variants.vcf", fa)
    d = delta_scores(Oracle(models["tiny"], WorldTruth(world_dir)), v, fa, "expression", ["liver", "heart"],
                     genes=world_dir / "genes.gtf")
    same = (d["delta_gene"] == v["info_GENE"]).to_numpy()
    assert same.mean() > 0.9                                   # the variant's own gene is the anchor
    for t in ("liver", "heart"):
        np.testing.assert_allclose(d[f"delta_expression_{t}"][same], v[f"info_EFFECT_{t}"][same], atol=1e-6)
    motif = same & (v["info_CLASS"] == "motif").to_numpy() & (np.abs(v["info_EFFECT_liver"]) > 0.05).to_numpy()
    assert motif.sum() >= 5 and (np.sign(d["delta_expression_liver"][motif]) ==
                                 np.sign(v["info_EFFECT_liver"][motif])).all()
    assert (d.loc[d["delta_gene"] == ".", "delta_expression_liver"] == 0).all()


def test_score_vcf_indels_keep_snvs_scored(models, world_dir, tmp_path):
    from seq2gen.genome import Fasta
    m = models["tiny_conv"]
    fa = Fasta(world_dir / "genome.fa")
    lines = (world_dir / "variants.vcf").read_text().splitlines(True)
    head, recs = [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")][:5]
    f = recs[1].split("\t")
    f[3] = fa.fetch(f[0], int(f[1]) - 1, int(f[1]) + 2)              # a 2-bp deletion
    f[4] = f[3][0]
    recs[1] = "\t".join(f)
    vcf = tmp_path / "v.vcf"
    vcf.write_text("".join(head + recs))
    df = m.score_vcf(vcf, fa, "liver", methods=("task", "delta"), genes=world_dir / "genes.gtf")
    assert len(df) == 5 and np.isnan(df["effect_liver"][1]) and np.isfinite(df["effect_liver"].drop(1)).all()
    assert np.isfinite(df["delta_expression_liver"]).all()
    default = m.score_vcf(vcf, fa, "liver")                                            # today's default run
    assert list(np.isnan(default["effect_liver"])) == [False, True, False, False, False]
    out = tmp_path / "s.tsv"
    from seq2gen.infer.variants import write_scores
    write_scores(m, vcf, fa, out, "liver", methods=("delta",), delta_task="tf_binding")
    assert pd.read_csv(out, sep="\t")["delta_tf_binding_liver"].notna().all()


def test_design_search_improves_true_score_and_respects_budget(models, world_dir):
    from seq2gen.interpret.design import design, judge
    from seq2gen.interpret.world_truth import WorldTruth
    truth = WorldTruth(world_dir)
    li = truth.tissues.index("liver")

    def oracle(codes):
        return truth.activity(["".join("ACGT"[c] for c in row) for row in codes], 320)[:, li]
    res = design(models["tiny_conv"], "expression", "liver", n=4, rounds=25, k=24, edit_budget=30, world=truth,
                 score_fn=oracle, seed=1)
    start = truth.activity(res.starts, 320)[:, li]
    assert np.allclose(start, truth.manifest["model"]["expression"]["b0"])          # motif-free starts
    assert (res.edits <= 30).all() and (np.diff(res.history, axis=0) >= 0).all()
    j = judge(truth, res, "liver")
    assert np.mean(j["design_true"]) > start.mean() + 0.3
    # the model-guided search itself: monotone model objective, a tissue-specific objective, bounded edits
    res = design(models["tiny_conv"], "expression", "liver", against="heart", n=2, rounds=2, k=4, edit_budget=3)
    assert res.history.shape == (3, 2) and (np.diff(res.history, axis=0) >= 0).all() and (res.edits <= 3).all()
    with pytest.raises(InputError, match="differ"):
        design(models["tiny_conv"], "expression", "liver", against="liver")


def test_design_pattern_insertions_reach_sites_single_edits_cannot(models, world_dir, tmp_path):
    """Insertion proposals write a whole pattern (either strand) and never pass the edit budget; with the world's
    activator and core consensus as patterns the oracle search lifts true f far past single-base search at the same
    budget (a site's affinity is zero until most of its bases match)."""
    from seq2gen.interpret.design import _pattern_codes, _propose, design
    from seq2gen.interpret.world_truth import WorldTruth
    truth = WorldTruth(world_dir)
    li = truth.tissues.index("liver")

    def oracle(codes):
        return truth.activity(["".join("ACGT"[c] for c in row) for row in codes], 320)[:, li]
    pats = [mo.consensus for mo in truth.motifs if mo.role in ("activator", "core")]
    kw = dict(n=4, rounds=10, k=8, edit_budget=30, world=truth, score_fn=oracle, seed=2)
    plain = design(models["tiny_conv"], "expression", "liver", **kw)
    ins = design(models["tiny_conv"], "expression", "liver", patterns=pats, insert_fraction=1.0, screen=None, **kw)
    assert (ins.edits <= 30).all() and (np.diff(ins.history, axis=0) >= 0).all() and ins.patterns == pats
    # the screen (gain vs shuffles of the pattern) keeps the liver activator and drops what gains nothing here:
    # the core element counts only inside its window near the TSS, so at random offsets it gains 0
    screened = design(models["tiny_conv"], "expression", "liver", patterns=pats, **{**kw, "rounds": 1})
    z = {r["pattern"]: r["z"] for r in screened.screen}
    liver_act = next(mo.consensus for mo in truth.motifs if mo.role == "activator"
                     and mo.level_vector(truth.tissues)[li] == 1.0)
    core = next(mo.consensus for mo in truth.motifs if mo.role == "core")
    assert set(z) == set(pats) and z[liver_act] > 2 and liver_act in screened.patterns
    assert core not in screened.patterns
    top = design(models["tiny_conv"], "expression", "liver", patterns=pats, max_patterns=1, **{**kw, "rounds": 1})
    assert top.patterns == [max(top.screen, key=lambda r: r["z"])["pattern"]] == [liver_act]
    assert oracle(np.stack([[("ACGT".index(b)) for b in d] for d in ins.designs])).mean() > \
        oracle(np.stack([[("ACGT".index(b)) for b in d] for d in plain.designs])).mean() + 1.0
    # every insertion proposal differs from its lineage in one window that spells a pattern or its reverse complement
    rng = np.random.default_rng(0)
    cur = rng.integers(0, 4, size=(3, 60))
    codes = list(_pattern_codes("ACGTTA", 60))
    assert ["".join("ACGT"[c] for c in x) for x in codes] == ["ACGTTA", "TAACGT"]
    props = _propose(rng, cur, cur.copy(), 5, 30, codes, 1.0)
    for i in range(3):
        for p in props[i]:
            spelled = {"".join("ACGT"[c] for c in p[o:o + 6]) for o in range(55)}
            assert spelled & {"ACGTTA", "TAACGT"} and (p != cur[i]).sum() <= 6
    with pytest.raises(InputError, match="ACGT string"):
        _pattern_codes("ACGN", 60)
    with pytest.raises(InputError, match="insert_fraction"):
        design(models["tiny_conv"], "expression", "liver", patterns=pats, insert_fraction=2.0)


def test_motif_cores_and_pattern_files(tmp_path):
    """``cores`` keeps each pattern's highest-contribution window; ``load_patterns`` reads the study's JSON or text
    and names the line of a bad pattern."""
    import json

    from seq2gen.interpret.motifs import cores, load_patterns
    ppm = np.full((30, 4), 0.1)
    ppm[np.arange(30), np.arange(30) % 4] = 0.7                 # consensus ACGTACGT…
    cwm = np.zeros((30, 4))
    cwm[10:18, 0] = 1.0                                          # the contribution sits at 10 … 17
    pats = [{"sign": 1, "ppm": ppm.tolist(), "cwm": cwm.tolist()}, {"sign": -1, "ppm": ppm.tolist(),
                                                                     "cwm": (-cwm).tolist()}]
    assert cores(pats, width=8) == ["GTACGTAC"]                  # ppm[10:18]; the duplicate of the other sign dropped
    assert cores(pats, width=8, sign=-1) == ["GTACGTAC"] and cores(pats[:1], width=8, sign=-1) == []
    (tmp_path / "motifs.json").write_text(json.dumps({"patterns": pats}))
    assert load_patterns(tmp_path / "motifs.json", width=8) == ["GTACGTAC"]
    (tmp_path / "p.txt").write_text("# liver activators\nacgtac  # one\n\nTTGACA\n")
    assert load_patterns(tmp_path / "p.txt") == ["ACGTAC", "TTGACA"]
    (tmp_path / "bad.json").write_text('{"patterns": [\n  {"sign": 1,}\n]}')
    with pytest.raises(InputError, match="invalid JSON") as e:
        load_patterns(tmp_path / "bad.json")
    assert e.value.line == 2
    (tmp_path / "bad.txt").write_text("ACGT\nAC-GT\n")
    with pytest.raises(InputError, match="not an ACGT pattern") as e:
        load_patterns(tmp_path / "bad.txt")
    assert e.value.line == 2


def test_motif_similarity_and_recovery():
    from seq2gen.interpret.motifs import recovery_auroc, similarity
    pwm = np.random.default_rng(3).dirichlet(np.ones(4) * 0.3, size=10)
    padded = np.vstack([np.full((4, 4), 0.25), pwm[::-1, ::-1], np.full((3, 4), 0.25)])
    r, off, strand = similarity(padded, pwm)
    assert r == pytest.approx(1.0) and off == 4 and strand == "-"
    assert similarity(padded, np.random.default_rng(4).dirichlet(np.ones(4) * 0.3, size=10))[0] < 0.9
    func = np.zeros((20, 50), dtype=bool)
    func[:, 10:20] = True
    attr = np.random.default_rng(5).normal(0, 0.1, (20, 50)) + func
    assert recovery_auroc(attr, func) > 0.95
    assert 0.3 < recovery_auroc(np.random.default_rng(6).normal(size=(20, 50)), func) < 0.7


def test_cli_explain_and_design(models, world_dir, tmp_path):
    from typer.testing import CliRunner

    from seq2gen.cli import app
    d = models["dir"] / "export_tiny_conv"
    res = CliRunner().invoke(app, ["explain", str(d), "--region", "chr6:20,001-20,400", "--task", "chromatin",
                                   "--tissue", "liver", "--fasta", str(world_dir / "genome.fa"), "--bigwig",
                                   str(world_dir / "liver.bw"), "--gtf", str(world_dir / "genes.gtf"),
                                   "--attribution", "input_x_gradient", "--out", str(tmp_path / "ex")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "ex" / "explain.json").read_text())
    assert set(summary["files"]) == {"ism", "attribution", "track", "annotation"}
    assert all((tmp_path / "ex" / f).stat().st_size > 1000 for f in summary["files"].values())
    assert "ism.png" in (tmp_path / "ex" / "index.html").read_text()
    assert len(pd.read_csv(tmp_path / "ex" / "ism.tsv", sep="\t")) == 3 * 400
    res = CliRunner().invoke(app, ["design", str(d), "--tissue", "liver", "--against", "heart", "--n", "2",
                                   "--rounds", "2", "--k", "3", "--world", str(world_dir), "--out",
                                   str(tmp_path / "de")])
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "de" / "designs.tsv", sep="\t")
    assert len(t) == 2 and {"true_f", "true_percentile", "true_specificity_percentile"} <= set(t.columns)
    res = CliRunner().invoke(app, ["explain", str(d), "--seq", "ACGT", "--prompt", "x", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "exactly one" in res.output
    # motifs over many windows (TF-MoDISco) → motifs.json that design --patterns reads; text patterns too
    from seq2gen.genome import read_gtf, tss
    t = tss(read_gtf(world_dir / "genes.gtf")).head(60)
    starts = np.where(t["strand"] == "+", t["pos"] - 320, t["pos"] + 320 - 384 + 1)
    bed = tmp_path / "tss.bed"
    bed.write_text("".join(f"{c}\t{a}\t{a + 384}\tg\t0\t{s}\n" for c, a, s in zip(t["chrom"], starts, t["strand"])
                           if a >= 0))
    res = CliRunner().invoke(app, ["motifs", str(d), "--task", "expression", "--tissue", "liver", "--regions",
                                   str(bed), "--fasta", str(world_dir / "genome.fa"), "--out", str(tmp_path / "mo")])
    assert res.exit_code == 0, res.output
    mo = json.loads((tmp_path / "mo" / "motifs.json").read_text())
    assert mo["task"] == "expression" and mo["n_windows"] == bed.read_text().count("\n")
    assert all(len(p["core"]) == 16 and np.asarray(p["cwm"]).shape[1] == 4 for p in mo["patterns"])
    res = CliRunner().invoke(app, ["motifs", str(d), "--task", "expression", "--tissue", "heart", "--genes",
                                   str(world_dir / "genes.gtf"),
                                   "--fasta", str(world_dir / "genome.fa"), "--max-windows", "30", "--out",
                                   str(tmp_path / "mo3")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "mo3" / "motifs.json").read_text())["n_windows"] == 30
    # TSS windows: Region.resized of the TSS base; windows leaving their contig are counted, not silently lost
    from seq2gen.genome import Fasta
    from seq2gen.interpret.cli import tss_windows
    contigs = Fasta(world_dir / "genome.fa").contigs
    wins, skipped = tss_windows(models["tiny_conv"], "expression", world_dir / "genes.gtf", contigs)
    n_genes = len(tss(read_gtf(world_dir / "genes.gtf")))
    assert skipped == 0 and len(wins) == n_genes and all(len(r) == 384 for r in wins)
    assert all(r.position(320) == p for r, p in zip(wins, tss(read_gtf(world_dir / "genes.gtf"))["pos"]))
    c0, n0 = next(iter(contigs.items()))
    edge = tmp_path / "edge.gtf"                  # a + gene 30 bp from its contig's end: its window would leave it
    line = (f'{c0}\tt\tgene\t{n0 - 29}\t{n0}\t.\t+\t.\tgene_id "GX"; transcript_id "TX"; gene_name "X"; '
            'gene_biotype "protein_coding";\n')
    edge.write_text((world_dir / "genes.gtf").read_text() + line)
    wins2, skipped2 = tss_windows(models["tiny_conv"], "expression", edge, contigs)
    assert skipped2 == 1 and len(wins2) == n_genes
    other = tmp_path / "other.gtf"                # a gene on a contig the FASTA lacks: an error at its line
    other.write_text((world_dir / "genes.gtf").read_text() + line.replace(c0, c0.removeprefix("chr"), 1))
    with pytest.raises(InputError, match="unknown contig") as err:
        tss_windows(models["tiny_conv"], "expression", other, contigs)
    assert err.value.line == len(other.read_text().splitlines())
    res = CliRunner().invoke(app, ["motifs", str(d), "--task", "expression", "--out", str(tmp_path / "mo2")])
    assert res.exit_code == 2 and "--regions" in res.output
    (tmp_path / "pats.txt").write_text("TATAAAAG\nCGGTACTCCGGG\n")
    res = CliRunner().invoke(app, ["design", str(d), "--tissue", "liver", "--n", "2", "--rounds", "2", "--k", "3",
                                   "--patterns", str(tmp_path / "pats.txt"), "--world", str(world_dir), "--out",
                                   str(tmp_path / "dp")])
    assert res.exit_code == 0, res.output
    dj = json.loads((tmp_path / "dp" / "design.json").read_text())
    assert [r["pattern"] for r in dj["screen"]] == ["TATAAAAG", "CGGTACTCCGGG"]
    assert dj["patterns"] and set(dj["patterns"]) <= {"TATAAAAG", "CGGTACTCCGGG"}


def test_server_explain(models):
    from fastapi.testclient import TestClient

    from seq2gen.serve import create_app
    client = TestClient(create_app(models["tiny_conv"], max_length=1000))
    dna = DNA[:256]
    r = client.post("/explain", json={"sequence": dna, "task": "tf_binding", "tissue": "liver"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["ism_delta"]) == 256 and len(body["attribution"]["contrib"]) == 256
    assert all(row["ACGT".index(b)] == 0 for row, b in zip(body["ism_delta"], dna))     # REF: Δ = 0
    assert np.abs(np.array(body["ism_delta"])).sum() > 0
    assert client.post("/explain", json={"sequence": dna, "task": "tf_binding", "tissue": "liverr"}).status_code == 422
    assert client.post("/explain", json={"sequence": "A" * 2000, "task": "tf_binding"}).status_code == 413


def test_vcf_records_keep_their_file_lines(world_dir, tmp_path):
    """Errors found while scoring name the VCF's file and line, not 'variant N' of a chunk."""
    from types import SimpleNamespace

    from seq2gen.genome import Fasta
    from seq2gen.infer.variants import _check_tokens, _locator, iter_vcf_chunks
    fa = Fasta(world_dir / "genome.fa")
    text = (world_dir / "variants.vcf").read_text().splitlines(True)
    n_head = sum(x.startswith("#") for x in text)
    vcf = tmp_path / "v.vcf"
    vcf.write_text("".join(text[:n_head + 5]))
    chunks = [df for _, df in iter_vcf_chunks(vcf, fa, chunk_size=2)]
    assert [list(df["line"]) for df in chunks] == [[n_head + 1, n_head + 2], [n_head + 3, n_head + 4], [n_head + 5]]
    df = chunks[1]
    tok = SimpleNamespace(token_to_id={f"<{k}:{b}>": 0 for k in ("ref", "alt") for b in "ACGTN" if b != df["alt"].iat[1]})
    records = [{"ref": r, "alt": a} for r, a in zip(df["ref"], df["alt"])]
    with pytest.raises(InputError) as e:
        _check_tokens(SimpleNamespace(tokenizer=tok), records, _locator(df))
    first = int(df["line"][df["alt"] == df["alt"].iat[1]].iat[0])           # the first record with that ALT
    assert e.value.line == first and f"{vcf}:{first}:" in str(e.value) and not re.search(r"variant \d", str(e.value))
