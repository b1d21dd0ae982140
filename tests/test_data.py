"""Dataset build on the small world: schema, round trips, grammar, splits, quantizers, cache, augmentation."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from seq2gen.data import augment
from seq2gen.data.build import CONFIG_FILE, build_datasets, fit_quantizer, load_datasets, sample_records
from seq2gen.errors import InputError
from seq2gen.tasks import Renderer, TaskRegistry, parse_answer
from seq2gen.tasks import spans as sc
from seq2gen.tasks.worlddata import WorldData
from seq2gen.vocab import build_tokenizer, load_quantizers
from seq2gen.vocab.dna import reverse_complement

COLUMNS = ["task", "prompt", "answer", "input_ids", "labels", "chrom", "start", "end", "strand", "tissue", "target",
           "name", "rc"]


@pytest.fixture(scope="module")
def registry(tokenizer):
    return TaskRegistry.from_dir(vocab=tokenizer.vocab)


@pytest.fixture(scope="module")
def built(world_dir, registry, tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "ds"
    return out, build_datasets(world_dir, registry, tokenizer, out, progress=False)


@pytest.fixture(scope="module")
def world(world_dir):
    return WorldData(world_dir)


def rows(ds):
    return [(split, r) for split, d in ds.items() for r in d]


def test_every_task_builds_with_schema(built, registry):
    out, data = built
    assert sorted(data) == sorted(registry.names)
    for name, dd in data.items():
        assert sorted(dd) == ["test", "train", "validation"], name
        assert all(len(dd[s]) > 0 for s in dd), name
        assert dd["train"].column_names == COLUMNS
        r = dd["train"][0]
        assert r["task"] == name and r["labels"][-1] == 1 and r["input_ids"][-1] == 1
        fam = registry[name].family
        kind = float if fam in ("regression", "variant") else str
        assert isinstance(r["target"], kind), name
    for f in ("quantizers.json", "tasks.json", CONFIG_FILE):
        assert (out / f).is_file()
    assert set(load_quantizers(out / "quantizers.json")) == {"chromatin", "expression", "variant_effect"}
    snap = TaskRegistry.from_json(out / "tasks.json")
    assert snap["annotate"].to_dict() == registry["annotate"].to_dict()


def test_rows_decode_to_prompt_and_answer_and_parse(built, tokenizer):
    res = tokenizer.vocab.off_resolution
    out, data = built
    snapshot = TaskRegistry.from_json(out / "tasks.json", tokenizer.vocab)    # choices resolved for this world
    for name, dd in data.items():
        task = snapshot[name]
        for split, r in rows(dd):
            assert tokenizer.decode(r["input_ids"]) == r["prompt"], (name, split)
            assert tokenizer.decode(r["labels"]) == r["answer"], (name, split)
            parsed = parse_answer(task.answer_grammar, r["answer"], res)
            L = r["end"] - r["start"]
            assert r["prompt"].startswith(f"<task:{name}> ")
            if task.family == "annotation":
                assert all(0 <= a < b <= L for _, a, b in parsed)
            if task.family == "pretrain":
                assert len(parsed) >= 2
        sample = dd["validation"][0]
        assert tokenizer.encode_prompt(sample["prompt"]) == sample["input_ids"]


def test_split_by_chromosome_without_leakage(built, world):
    _, data = built
    for name, dd in data.items():
        seen = {}
        for split, d in dd.items():
            chroms = set(d["chrom"])
            assert chroms <= set(world.splits[split]), (name, split, chroms)
            for c in chroms:
                assert seen.setdefault(c, split) == split
        frames = [d.select_columns(["chrom", "start", "end"]).to_pandas().assign(split=s) for s, d in dd.items()]
        df = pd.concat(frames)
        for c, g in df.groupby("chrom"):
            assert g["split"].nunique() == 1, (name, c)


def test_quantizer_fit_on_train_only(built, registry):
    out, data = built
    saved = load_quantizers(out / "quantizers.json")
    for name in ("expression", "variant_effect"):
        train = np.asarray(data[name]["train"]["target"])
        full = np.concatenate([train] + [np.asarray(data[name][s]["target"]) for s in ("validation", "test")])
        task = registry[name]
        from seq2gen.vocab import Quantizer
        assert np.allclose(saved[name].edges, Quantizer.fit(train, task.quantizer.method,
                                                             task.quantizer.n_bins).edges)
        assert not np.allclose(saved[name].edges, Quantizer.fit(full, task.quantizer.method,
                                                                 task.quantizer.n_bins).edges)
    # the answer token is the train-fitted quantizer's bin of the target (every split)
    q = saved["expression"]
    d = data["expression"]["test"]
    assert d["answer"] == q.tokens(np.asarray(d["target"]))


def test_cache_hit_and_invalidation(built, world_dir, registry, tokenizer, monkeypatch):
    out, _ = built
    stamp = (out / CONFIG_FILE).stat().st_mtime_ns
    import seq2gen.data.build as b

    def boom(*a, **k):
        raise AssertionError("rebuilt although the config hash matches")
    monkeypatch.setattr(b, "build_task", boom)
    again = build_datasets(world_dir, registry, tokenizer, out, progress=False)
    assert (out / CONFIG_FILE).stat().st_mtime_ns == stamp and sorted(again) == sorted(registry.names)
    with pytest.raises(AssertionError, match="rebuilt"):
        build_datasets(world_dir, registry, tokenizer, out, progress=False, seed=1)
    assert (out / CONFIG_FILE).stat().st_mtime_ns == stamp          # a failed build leaves the old one intact
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_subset_caps_holdout_and_seed(world_dir, registry, tokenizer, tmp_path):
    reg = registry.subset(["chromatin", "span_corruption"])
    reg.override("chromatin", holdout_tissues=["brain"])
    data = build_datasets(world_dir, reg, tokenizer, tmp_path / "a", max_per_task=40, progress=False, seed=3)
    assert sorted(data) == ["chromatin", "span_corruption"]
    ch = data["chromatin"]
    assert len(ch["train"]) == 40 and len(ch["test"]) <= 40
    assert "brain" not in set(ch["train"]["tissue"]) and "brain" in set(ch["validation"]["tissue"])
    stats = json.loads((tmp_path / "a" / CONFIG_FILE).read_text())["stats"]["chromatin"]
    assert stats["train rows of held-out tissues dropped"] > 0
    same = build_datasets(world_dir, reg, tokenizer, tmp_path / "b", max_per_task=40, progress=False, seed=3)
    assert same["chromatin"]["train"]["input_ids"] == ch["train"]["input_ids"]
    assert load_datasets(tmp_path / "a", tasks=["chromatin"])["chromatin"]["train"]["prompt"] == \
        ch["train"]["prompt"]
    with pytest.raises(InputError, match="were not built here"):
        load_datasets(tmp_path / "a", tasks=["promoter"])


def test_outputs_refuse_foreign_folder(world_dir, registry, tokenizer, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a seq2gen data folder"):
        build_datasets(world_dir, registry.subset(["promoter"]), tokenizer, tmp_path / "mine", progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(InputError, match="no data_config.json"):
        load_datasets(tmp_path / "mine")


# ---------------------------------------------------------------------------------------------- ground truth
def test_labels_agree_with_world_files(built, world):
    _, data = built
    ann = data["annotate"]["train"].to_pandas()
    genes = world.genes.set_index("gene_id")
    for _, r in ann[ann["rc"] == False].head(40).iterrows():  # noqa: E712
        g = genes.loc[r["name"]]
        assert r["strand"] == g["strand"]
        for lab, a, b in json.loads(r["target"]):
            gs, ge = (r["start"] + a, r["start"] + b) if r["strand"] == "+" else (r["end"] - b, r["end"] - a)
            ex = world.transcript_exons[r["name"]]
            inside = ((ex[:, 0] <= gs) & (ge <= ex[:, 1])).any()
            assert inside == (lab == "<exon>")
    tf = data["tf_binding"]["validation"].to_pandas()
    bound = set(zip(world.peaks["chrom"], (world.peaks["start"] + world.peaks["end"]) // 2, world.peaks["tissue"]))
    assert set(tf["target"]) == {"<no>"} | {f"<tissue:{t}>" for t in tf["tissue"]}   # the answer names the tissue
    for _, r in tf.iterrows():
        hits = [(r["chrom"], c, r["tissue"]) in bound for c in range(r["start"], r["end"])]
        own = f"<tissue:{r['tissue']}>"
        assert r["target"] in ("<no>", own) and r["prompt"].split()[1] == own
        if r["target"] != "<no>":
            assert any(hits)
    expr = data["expression"]["train"].to_pandas()
    table = world.expression
    assert np.allclose(expr["target"], [table.loc[n, t] for n, t in zip(expr["name"], expr["tissue"])])


def test_tf_tissues_rows_are_each_sites_bound_tissues(built, world):
    """tf_tissues: one row per (site, bound tissue) labelled <tissue:t>, every bound tissue present; <no> rows
    (background) hold no peak centre."""
    _, data = built
    p = world.peaks.assign(centre=(world.peaks["start"] + world.peaks["end"]) // 2)
    for split in ("validation", "test"):
        df = data["tf_tissues"][split].to_pandas()
        assert (df["tissue"] == "").all() and not df["prompt"].str.contains("<tissue:").any()
        for (chrom, start, end), g in df.groupby(["chrom", "start", "end"]):
            inside = p[(p["chrom"] == chrom) & (p["centre"] >= start) & (p["centre"] < end)]
            labels = set(g["target"])
            if labels == {"<no>"}:
                assert inside.empty
                continue
            site = inside[inside["name"] == g["name"].iloc[0]]
            assert labels == {f"<tissue:{t}>" for t in site["tissue"]} and len(g) == len(labels)


def test_tf_tissues_choices_are_the_builds_tissues(built, world, registry, tokenizer):
    """``{tissues}`` in the template's choices → the world's tissue tokens in tasks.json (the registry passed in
    keeps its template); a tissue the vocabulary lacks is an error naming the template and the key."""
    out, _ = built
    snap = json.loads((out / "tasks.json").read_text())["tasks"]["tf_tissues"]["answer_grammar"]["tokens"]
    assert snap == [f"<tissue:{t}>" for t in world.tissues] + ["<no>"]
    assert registry.get("tf_tissues").answer_grammar["tokens"] == ["{tissues}", "<no>"]
    cells = registry.get("tf_tissues").resolve_choices(["K562", "HepG2"], tokenizer.vocab)      # a spec's cell types
    assert cells.answer_grammar["tokens"] == ["<tissue:k562>", "<tissue:hepg2>", "<no>"]
    with pytest.raises(InputError, match=r"tf_tissues.yaml: answer_grammar.tokens: \{tissues\}: unknown tissue"):
        registry.get("tf_tissues").resolve_choices(["liver", "no_such_organ"], tokenizer.vocab)


def test_tf_tissues_refuses_a_tissue_its_grammar_lacks(world, registry):
    import dataclasses

    from seq2gen.tasks.sources import peak_tissues
    task = dataclasses.replace(registry.get("tf_tissues"),
                               answer_grammar={"type": "choice", "tokens": ["<tissue:liver>", "<no>"]})
    with pytest.raises(InputError, match="answer_grammar.tokens does not offer") as e:
        peak_tissues(world, task, {}, [], np.random.default_rng(0))
    assert "tf_tissues.yaml" in str(e.value) and "<tissue:brain>" in str(e.value)


def test_span_corruption_rows_reconstruct_genome(built, world):
    _, data = built
    for r in data["span_corruption"]["validation"].select(range(20)):
        inner = r["prompt"].split(" <dna> ", 1)[1].rsplit(" </dna>", 1)[0]
        assert sc.reconstruct(inner, r["answer"]) == world.fetch(r["chrom"], r["start"], r["end"], r["strand"])


def test_kmer_tokenizer_build(world_dir, registry, tmp_path):
    tok = build_tokenizer(mode="kmer")
    data = build_datasets(world_dir, registry.subset(["span_corruption", "variant_effect"]), tok, tmp_path / "k",
                          max_per_task=10, progress=False)
    for dd in data.values():
        for _, r in rows(dd):
            assert tok.decode(r["input_ids"]) == r["prompt"] and tok.decode(r["labels"]) == r["answer"]


# ---------------------------------------------------------------------------------------------- augmentation
def test_rc_record_label_handling():
    rec = {"chrom": "chr1", "start": 100, "end": 148, "strand": "+", "dna": "ACGTTTGCA" + "A" * 39,
           "spans": [("<exon>", 0, 10), ("<intron>", 10, 30)], "values": [1.0, 2.0, 3.0],
           "var_pos": 5, "ref": "T", "alt": "G"}
    rc = augment.reverse_complement_record(rec)
    L = 48
    assert rc["spans"] == [("<intron>", L - 30, L - 10), ("<exon>", L - 10, L - 0)]
    assert rc["values"] == [3.0, 2.0, 1.0] and rc["strand"] == "-" and rc["rc"]
    assert (rc["var_pos"], rc["ref"], rc["alt"]) == (L - 5 - 1, "A", "C")
    assert rc["dna"][rc["var_pos"]] == rc["ref"] and rec["dna"][5] == rec["ref"]
    back = augment.reverse_complement_record(rc)
    assert {k: v for k, v in back.items() if k != "rc"} == {k: v for k, v in rec.items()} and not back["rc"]
    assert augment.augment_records([rec] * 10, 0.0) == [rec] * 10
    mixed = augment.augment_records([rec] * 200, 0.5, seed=1)
    assert 70 < sum(r.get("rc", False) for r in mixed) < 130
    assert len(augment.augment_records([rec] * 10, 1.0, mode="append")) == 20


@pytest.mark.parametrize("name", ["annotate", "chromatin", "variant_effect", "tf_binding", "expression"])
def test_rendered_rc_equals_token_flip(world, registry, tokenizer, name):
    task = registry[name]
    recs = sample_records(world, task, seed=0, max_per_task=30)["train"]
    q = fit_quantizer(task, recs)
    render = Renderer(task, tokenizer.vocab, q)
    res = tokenizer.vocab.off_resolution
    for rec in recs:
        rc = augment.reverse_complement_record(rec)
        (p, a, t), (prc, arc, trc) = render(rec), render(rc)
        L = rec["end"] - rec["start"]
        assert prc[prc.index("<dna>") + 1] == reverse_complement(p[p.index("<dna>") + 1])
        if task.answer_grammar["type"] != "sentinel_spans":
            assert arc == augment.rc_answer_tokens(a, task.answer_grammar, L, res)
            assert augment.rc_answer_tokens(arc, task.answer_grammar, L, res) == a
        if task.family == "variant":
            assert rc["dna"][rc["var_pos"]] == rc["ref"] == reverse_complement(rec["ref"])
            assert rec["dna"][rec["var_pos"]] == rec["ref"]
            assert prc[prc.index(f"<ref:{rc['ref']}>") - 1] == f"<off:{rc['var_pos'] // res:04d}>"
            assert trc == t
        if task.family in ("classification", "regression"):
            assert arc == a and trc == t
    assert render(augment.reverse_complement_record(augment.reverse_complement_record(recs[0])))[:2] == \
        render(recs[0])[:2]


def test_train_split_is_augmented(built):
    _, data = built
    tf = data["tf_binding"]
    assert 0.3 < np.mean(tf["train"]["rc"]) < 0.7 and not any(tf["validation"]["rc"])
    for r in tf["train"].select(range(10)):
        assert r["strand"] == ("-" if r["rc"] else "+")
    assert not any(data["promoter"]["train"]["rc"])


def test_cli_data_build(world_dir, tmp_path):
    from typer.testing import CliRunner

    from seq2gen.data.cli import data_app
    res = CliRunner().invoke(data_app, ["build", "--world", str(world_dir), "--out", str(tmp_path / "c"), "--only",
                                        "promoter", "--only", "expression", "--max-per-task", "12",
                                        "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "promoter: train 12" in res.output
    assert sorted(load_datasets(tmp_path / "c")) == ["expression", "promoter"]
    bad = CliRunner().invoke(data_app, ["build", "--world", str(tmp_path), "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2 and "world.json is missing" in bad.output


def test_tss_sits_at_the_declared_offset(world, registry):
    task = registry["expression"]
    recs = sample_records(world, task, max_per_task=50)["train"]
    comp = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
    genes = world.genes.set_index("gene_id")
    for r in recs:
        g = genes.loc[r["name"]]
        base = world.fetch(g["chrom"], g["tss"], g["tss"] + 1)
        shown = r["dna"][task.window.before]
        assert shown == (base if g["strand"] == "+" else comp[base])
        assert len(r["dna"]) == task.window.length == r["end"] - r["start"]
    p = Renderer(task, registry.vocab).prompt({**recs[0], "dna": "ACGT"})     # inference: prompt only
    r = recs[0]
    assert p == ["<task:expression>", f"<tissue:{r['tissue']}>", f"<chr:{r['chrom'][3:]}>",
                 f"<bin:{r['anchor'] // registry.vocab.bin_size:04d}>", "<dna>", "ACGT", "</dna>"]


def test_track_values_match_bigwig_binned_mean(world, registry):
    from seq2gen.tasks.sources import fetch_values
    task = registry["chromatin"]
    df = pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chr6"], "start": [-100, 5000, 700, 37_700],
                       "end": [300, 5400, 1100, 38_100], "strand": ["+", "-", "+", "+"],
                       "tissue": ["liver", "liver", "brain", "heart"]})
    many = pd.concat([df] * 400, ignore_index=True)          # enough rows per chromosome for the whole-chrom path
    for frame in (df, many):
        got = np.asarray(fetch_values(world, task, frame))[:4]
        for row, r in zip(got, df.itertuples()):
            want = world.bigwig(r.tissue).binned_mean(r.chrom, r.start, r.end, 8).astype(np.float64)
            assert np.allclose(row, want[::-1] if r.strand == "-" else want, atol=1e-6)


def test_background_windows_are_spread_and_clear(world, registry):
    from seq2gen.data.build import candidates
    task = registry["promoter"]
    df = candidates(world, task)
    bg = df[df["source"] == "background"]
    pos = df[df["source"] == "tss_windows"]
    assert len(bg) == len(pos)                                   # ratio 1.0, per chromosome
    from seq2gen.tasks.worlddata import merge_intervals, overlaps
    for chrom, g in bg.groupby("chrom"):
        n = world.contigs[chrom]
        assert g["start"].max() > 0.5 * n and g["start"].min() < 0.5 * n, chrom
        genes = world.genes[world.genes["chrom"] == chrom]
        ms, me = merge_intervals(genes["start"] - 400, genes["end"] + 400)
        assert not overlaps(g["start"], g["end"], ms, me).any()
        assert not overlaps(g["start"], g["end"], *world.n_runs(chrom)).any()
    assert set(bg["strand"]) == {"+", "-"} and set(bg["label"]) == {"<no>"}
