"""The data spec (seq2gen.data.spec / specworld): a user's files → the same task rows, every convention handled or a
located error; vocabulary tokens added without moving ids; embeddings grown on init_from (docs/own-data.md)."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from seq2gen.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SIZE = 200_000
FEW = ["expression", "tf_binding", "chromatin", "variant_effect"]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    from seq2gen.world import generate_world
    root = tmp_path_factory.mktemp("spec")
    generate_world(root / "default", size=SIZE, seed=0)
    generate_world(root / "encode", size=SIZE, seed=0, style="encode")
    return root


@pytest.fixture(scope="module")
def registry(tokenizer):
    from seq2gen.tasks import TaskRegistry
    return TaskRegistry.from_dir(vocab=tokenizer.vocab)


def _copy(worlds, tmp_path, which="encode") -> Path:
    d = tmp_path / which
    shutil.copytree(worlds / which, d)
    return d


def _edit(spec: Path, **changes) -> Path:
    data = yaml.safe_load(spec.read_text())
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def _build(spec, registry, tokenizer, out, tasks=FEW, cap=60):
    from seq2gen.data.build import build_datasets
    return build_datasets(spec, registry, tokenizer, out, tasks=tasks, max_per_task=cap, progress=False)


# ---------------------------------------------------------------------------------------------- same rows
def test_the_worlds_own_spec_renders_the_same_rows_as_world_dir(worlds, registry, tokenizer, tmp_path):
    a = _build(worlds / "default", registry, tokenizer, tmp_path / "w")
    b = _build(worlds / "default" / "data_spec.yaml", registry, tokenizer, tmp_path / "s")
    for name in FEW:
        for split in ("train", "validation", "test"):
            assert len(a[name][split]) > 0, (name, split)
            for col in ("prompt", "answer", "chrom", "start", "tissue"):
                assert a[name][split][col] == b[name][split][col], (name, split, col)
    cfg = json.loads((tmp_path / "s" / "data_config.json").read_text())
    assert cfg["world"]["spec"].endswith("data_spec.yaml") and len(cfg["world"]["files"]) >= 10


def test_encode_style_files_follow_real_conventions(worlds):
    d = worlds / "encode"
    assert not (d / "world.json").exists() and (d / "truth.json").is_file()
    raw = (d / "genome.fa.gz").read_bytes()
    assert raw[:4] == b"\x1f\x8b\x08\x04" and raw[12:14] == b"BC"          # BGZF: gzip + BC extra field
    assert raw[-28:] == bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")  # EOF block
    assert gzip.decompress(raw).startswith(b">chr1\n")
    gtf = (d / "gencode.gtf").read_text()
    assert 'gene_type "protein_coding"' in gtf and 'gene_id "ENSG00000000001.2"' in gtf
    peak = (d / "peaks" / "heart.narrowPeak").read_text().splitlines()[0].split("\t")
    assert len(peak) == 10 and peak[0] == "1" and int(peak[9]) == (int(peak[2]) - int(peak[1])) // 2
    gct = (d / "expression.gct").read_text().splitlines()
    assert gct[0] == "#1.2" and gct[2].startswith("Name\tDescription\tLiver") and gct[3].startswith("ENSG0")
    vcf = gzip.decompress((d / "variants.vcf.gz").read_bytes()).decode().splitlines()
    assert any(x.startswith("##INFO=<ID=EFFECT_liver") for x in vcf) and "##contig=<ID=1," in vcf[3]
    rec = next(x for x in vcf if not x.startswith("#")).split("\t")
    assert rec[0] in {"1", "2"} and rec[8:] == ["GT", "0|1", "1|1"]


def test_encode_world_builds_with_every_convention_reported(worlds, registry, tokenizer, tmp_path):
    d = _copy(worlds, tmp_path)
    ds = _build(d / "data_spec.yaml", registry, tokenizer, tmp_path / "out")
    for name in FEW:
        assert all(len(ds[name][s]) > 0 for s in ("train", "validation", "test")), name
    assert set(ds["tf_binding"]["train"]["tissue"]) == {"liver", "heart", "brain", "lung", "kidney"}
    assert set(ds["expression"]["validation"]["chrom"]) == {"chr5"}        # splits.validation: ['5']
    inputs = json.loads((tmp_path / "out" / "data_config.json").read_text())["inputs"]
    aliases = inputs["chromosome aliases"]
    assert aliases["variants.vcf.gz"]["1"] == "chr1" and set(aliases) == {"heart.narrowPeak", "lung.narrowPeak",
                                                                          "variants.vcf.gz"}
    ex = inputs["expression"]
    assert ex["genes matched exactly"] == 0 and ex["genes matched ignoring the Ensembl version"] > 20
    assert ex["table rows with no annotated gene"] == 0
    assert inputs["peaks"]["sites after merging overlaps"] < inputs["peaks"]["peaks read"]
    assert (d / "genome.fa.gz.gzi").is_file() and not (d / ".seq2gen_cache").exists()   # bgzip read in place
    from seq2gen.data.specworld import SpecWorld
    (d / "genome.fa.gz").write_bytes(gzip.compress(gzip.decompress((d / "genome.fa.gz").read_bytes())))
    with pytest.raises(InputError, match=r"genome.fa.gz: plain-gzip FASTA .*bgzip"):   # one behaviour: refused
        SpecWorld(d / "data_spec.yaml").fasta


# ---------------------------------------------------------------------------------------------- spec errors
@pytest.mark.parametrize("change, match", [
    ({"genom": "x.fa"}, r"genom: unknown key \(did you mean 'genome'\?\)"),
    ({"genome": None}, "genome: required key is missing"),
    ({"genome": "missing.fa"}, "genome.fasta: no such file"),
    ({"annotation": {"file": "gencode.gtf", "gene_type": ["x"]}}, "did you mean 'gene_types'"),
    ({"splits": {"validation": ["5"]}}, "splits.test: required"),
    ({"splits": {"validation": ["5"], "test": ["chr5"]}}, r"splits.test: 'chr5' is also in splits.validation"),
    ({"splits": {"validation": ["chr55"], "test": ["6"]}}, r"'chr55' is not a contig .*did you mean"),
    ({"variants": {"file": "variants.vcf.gz", "effect": {"info": "EFFECT"}}}, r"needs '\{tissue\}'"),
    ({"samples": {"sheet": "samples.tsv", "consensus": "union"}}, "samples.consensus"),
])
def test_spec_errors_name_the_file_and_key(worlds, tmp_path, change, match):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    spec = _edit(d / "data_spec.yaml", **change)
    with pytest.raises(InputError, match=match) as exc:
        SpecWorld(spec)
    assert str(spec) in str(exc.value)


def _sheet_rows(d: Path) -> list[str]:
    return (d / "samples.tsv").read_text().splitlines()


def test_sample_sheet_errors_are_located(worlds, tmp_path):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    rows = _sheet_rows(d)
    cases = [
        ([rows[0].replace("cell_type", "celltype")] + rows[1:], 1, r"unknown sample sheet column 'celltype'"),
        (rows[:3] + [rows[3].replace("brain.narrowPeak", "nope.narrowPeak")] + rows[4:], 4, "no such file"),
        (rows[:2] + [rows[2].replace("\tTF", "")] + rows[3:], 3, "2 tab-separated fields|3 tab-separated fields"),
    ]
    for lines, line, match in cases:
        (d / "samples.tsv").write_text("\n".join(lines) + "\n")
        with pytest.raises(InputError, match=match) as exc:
            SpecWorld(d / "data_spec.yaml").peaks
        assert f"samples.tsv:{line}:" in str(exc.value)
    # two signal files for one cell type, and a cell type with none
    (d / "samples.tsv").write_text("\n".join(rows + ["DNase-seq\tliver\tbrain.bigWig\t"]) + "\n")
    with pytest.raises(InputError, match=r"two bigwig files for cell type 'liver' \(lines 7 and 12\)"):
        SpecWorld(d / "data_spec.yaml").bigwig("liver")
    (d / "samples.tsv").write_text("\n".join(r for r in rows if not r.startswith("DNase-seq\tKidney")) + "\n")
    with pytest.raises(InputError, match=r"no bigwig file for tissue\(s\) \['kidney'\]"):
        SpecWorld(d / "data_spec.yaml").bigwig("liver")


def test_unknown_cell_type_is_an_error_until_added(worlds, registry, tokenizer, tmp_path):
    from seq2gen.data.specworld import SpecWorld
    from seq2gen.vocab.extend import extend_tokenizer
    d = _copy(worlds, tmp_path)
    rows = _sheet_rows(d)
    (d / "samples.tsv").write_text("\n".join(r.replace("Kidney", "Kidny_organoid").replace("KIDNEY", "Kidny_organoid")
                                             for r in rows) + "\n")
    gct = (d / "expression.gct").read_text().replace("\tKidney", "\tKidny_organoid")
    (d / "expression.gct").write_text(gct)
    with pytest.raises(InputError, match=r"tissue 'kidny_organoid'.*unknown tissue.*seq2gen vocab add") as exc:
        _build(d / "data_spec.yaml", registry, tokenizer, tmp_path / "out", tasks=["expression"])
    assert "data_spec.yaml" in str(exc.value)
    tok, added, _ = extend_tokenizer(tokenizer, {"tissue": SpecWorld(d / "data_spec.yaml").tissues})
    assert added == ["<tissue:kidny_organoid>"]
    ds = _build(d / "data_spec.yaml", registry, tok, tmp_path / "out", tasks=["expression"])
    rows = ds["expression"]["train"]
    row = next(i for i, t in enumerate(rows["tissue"]) if t == "kidny_organoid")
    assert rows["input_ids"][row][1] == len(tokenizer)          # the new token's id follows every old id


def test_aliases_none_gives_a_located_contig_error(worlds, tmp_path):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    _edit(d / "data_spec.yaml", aliases="none", splits={"validation": ["chr5"], "test": ["chr6"]})
    with pytest.raises(InputError, match=r"heart.narrowPeak:1: unknown contig '1'"):
        SpecWorld(d / "data_spec.yaml").peaks
    _edit(d / "data_spec.yaml", aliases={str(i): f"chr{i}" for i in range(1, 7)})
    w = SpecWorld(d / "data_spec.yaml")
    assert set(w.peaks["chrom"]) <= set(w.contigs) and w.report["chromosome aliases"]["heart.narrowPeak"]["3"] == "chr3"


def test_expression_columns_and_ids(worlds, tmp_path):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    lines = (d / "expression.gct").read_text().splitlines()
    (d / "expression.gct").write_text("\n".join(lines[:-1]) + "\n")              # one gene row lost
    n = len(lines) - 3                                                              # genes declared on line 2
    cut = rf"expression.gct:2: GCT declares {n} rows × 5 columns, the table has {n - 1} × 5"
    with pytest.raises(InputError, match=cut):
        SpecWorld(d / "data_spec.yaml").expression
    bad = lines[:4] + [lines[4].rsplit("\t", 1)[0] + "\tn/a"] + lines[5:]
    (d / "expression.gct").write_text("\n".join(bad) + "\n")
    with pytest.raises(InputError, match=r"expression.gct:5: column 'Kidney': value is missing \('n/a'\)"):
        SpecWorld(d / "data_spec.yaml").expression
    dup = lines[:3] + [lines[3].replace("\t", ".7\t", 1)] + lines[3:]               # two versions of one gene
    dup[1] = f"{len(dup) - 3}\t5"
    (d / "expression.gct").write_text("\n".join(dup) + "\n")
    with pytest.raises(InputError, match=r"both map to annotated gene"):
        SpecWorld(d / "data_spec.yaml").expression
    (d / "expression.gct").write_text("\n".join([lines[0], lines[1], lines[2].replace("Lung", "Lung - Left")]
                                                + lines[3:]) + "\n")
    with pytest.raises(InputError, match=r"no expression column for tissue\(s\) \['lung'\].*lung_left"):
        SpecWorld(d / "data_spec.yaml").expression
    _edit(d / "data_spec.yaml", expression={"file": "expression.gct", "columns": {"Lung - Left": "lung"}})
    assert list(SpecWorld(d / "data_spec.yaml").expression.columns) == ["liver", "heart", "brain", "lung", "kidney"]
    _edit(d / "data_spec.yaml", expression={"file": "expression.gct", "format": "tsv"})
    with pytest.raises(InputError, match=r"expression.gct:1: expression.format is tsv, but the file is a GCT"):
        SpecWorld(d / "data_spec.yaml").expression


def test_variant_effects_from_a_side_table(worlds, tmp_path):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    v = SpecWorld(d / "data_spec.yaml").variants
    rows = ["variant_id\ttissue\teffect"]
    for r in v.head(10).itertuples():
        rows.append(f"{r.chrom[3:]}_{r.pos}_{r.ref}_{r.alt}_b38\tLiver\t{r.info_EFFECT_liver * 2}")
    rows.append("7_100_A_C_b38\tLiver\t1.0")                                    # not in the VCF: counted
    (d / "eqtl.tsv").write_text("\n".join(rows) + "\n")
    _edit(d / "data_spec.yaml", tissues=["liver"],
          variants={"file": "variants.vcf.gz", "effect": {"table": "eqtl.tsv"}})
    w = SpecWorld(d / "data_spec.yaml")
    got = w.variants["info_EFFECT_liver"].to_numpy()
    np.testing.assert_allclose(got[:10], v["info_EFFECT_liver"].to_numpy()[:10] * 2)
    assert np.isnan(got[10:]).all()                     # no effect → dropped later, with its count in the stats
    assert w.report["variant effects"] == {"table variants matched to the VCF": 10,
                                           "table variants not in the VCF": 1}
    (d / "eqtl.tsv").write_text("\n".join(rows + [rows[1].replace("Liver", "Heart")]) + "\n")
    w = SpecWorld(d / "data_spec.yaml")                 # a tissue outside the spec: dropped, counted, not silent
    np.testing.assert_allclose(w.variants["info_EFFECT_liver"].to_numpy()[:10], got[:10])
    assert w.report["variant effects"]["table rows of tissues outside the spec dropped"] == {"heart": 1}
    (d / "eqtl.tsv").write_text("\n".join([rows[0]] + [r.replace("Liver", "Livr") for r in rows[1:]]) + "\n")
    with pytest.raises(InputError, match=r"eqtl.tsv: no row of the effect table names a tissue of the spec "
                                         r"\(liver\); the table has livr"):
        SpecWorld(d / "data_spec.yaml").variants
    (d / "eqtl.tsv").write_text("\n".join(rows[:3] + [rows[2]]) + "\n")
    with pytest.raises(InputError, match=r"eqtl.tsv:4: variant .* has a second effect in tissue 'liver'"):
        SpecWorld(d / "data_spec.yaml").variants


def test_overlapping_peaks_of_two_cell_types_are_one_site(tmp_path, worlds):
    from seq2gen.data.specworld import SpecWorld
    d = _copy(worlds, tmp_path)
    (d / "peaks" / "liver.narrowPeak").write_text("chr1\t1000\t1200\tp1\t500\t.\t5\t-1\t-1\t100\n")
    (d / "peaks" / "heart.narrowPeak").write_text("1\t1050\t1260\tp2\t400\t.\t4\t-1\t-1\t100\n"
                                                  "1\t5000\t5200\tp3\t400\t.\t4\t-1\t-1\t100\n")
    for t in ("brain", "lung", "kidney"):
        (d / "peaks" / f"{t}.narrowPeak").write_text("")
    p = SpecWorld(d / "data_spec.yaml").peaks
    site = p[p["start"] == 1000]
    assert list(site["end"]) == [1260, 1260] and set(site["tissue"]) == {"liver", "heart"}
    _edit(d / "data_spec.yaml", samples={"sheet": "samples.tsv", "consensus": "exact",
                                         "peaks": {"assay": "TF_ChIP-seq"}, "signal": {"assay": "DNase-seq"}})
    assert sorted(SpecWorld(d / "data_spec.yaml").peaks["start"]) == [1000, 1050, 5000]


# ---------------------------------------------------------------------------------------------- vocabulary
def test_added_tokens_keep_every_old_id(tokenizer, tmp_path):
    from seq2gen.vocab import Vocabulary, build_tokenizer
    from seq2gen.vocab.extend import add_to_vocab_dir, extend_tokenizer
    new, added, known = extend_tokenizer(tokenizer, {"tissue": ["HepG2", "My-Organoid"], "task": ["mpra"]})
    assert added == ["<tissue:my_organoid>", "<task:mpra>"] and known == ["<tissue:hepg2>"]
    assert all(new.token_to_id[t] == i for t, i in tokenizer.token_to_id.items())
    assert [new.token_to_id[t] for t in added] == [len(tokenizer), len(tokenizer) + 1]
    assert len(tokenizer) == len(new) - 2                                     # the input is left unchanged
    assert new.vocab.tissue_token("my organoid") == "<tissue:my_organoid>"
    new.save_pretrained(tmp_path / "tok")
    prompt = "<task:mpra> <tissue:my_organoid> <dna> ACGTN </dna>"
    from seq2gen.vocab import Seq2GenTokenizer
    again = Seq2GenTokenizer.from_pretrained(tmp_path / "tok")
    assert again.encode_prompt(prompt) == new.encode_prompt(prompt) == new.hf(prompt)["input_ids"]
    vdir = tmp_path / "vocab"
    shutil.copytree(REPO / "vocab", vdir)
    assert add_to_vocab_dir(vdir, {"tissue": ["My-Organoid"], "task": ["mpra"]}) == added
    fresh = build_tokenizer(Vocabulary.from_dir(vdir))                        # same ids as extending
    assert fresh.token_to_id == new.token_to_id
    with pytest.raises(InputError, match=r"unknown tissue 'livr' \(did you mean liver.*seq2gen vocab add"):
        tokenizer.vocab.tissue_token("livr")


def test_vocab_add_cli(tokenizer, tmp_path, worlds):
    from typer.testing import CliRunner

    from seq2gen.cli import app
    tokenizer.save_pretrained(tmp_path / "tok")
    r = CliRunner().invoke(app, ["vocab", "add", "--tokenizer", str(tmp_path / "tok"), "--out", str(tmp_path / "n"),
                                 "--tissue", "ipsc_neuron", "--spec", str(worlds / "encode" / "data_spec.yaml")])
    assert r.exit_code == 0, r.output
    assert "added 1 token(s): <tissue:ipsc_neuron>" in r.output and "already known: <tissue:liver>" in r.output
    r = CliRunner().invoke(app, ["vocab", "add", "--tissue", "x"])
    assert r.exit_code == 2 and "--tokenizer DIR --out NEW_DIR, or --config VOCAB_DIR" in r.output


def test_init_from_grows_the_embedding_and_keeps_old_rows(tokenizer, tmp_path):
    import torch

    from seq2gen.model import build_model
    from seq2gen.model.build import load_weights_resized
    from seq2gen.train.loop import init_weights_from
    from seq2gen.vocab.extend import extend_tokenizer
    src = build_model("tiny", tokenizer=tokenizer, seed=1)
    src.save_pretrained(tmp_path / "export")
    tokenizer.hf.save_pretrained(tmp_path / "export")
    new, added, _ = extend_tokenizer(tokenizer, {"tissue": ["organoid_a", "organoid_b"]})
    dst = build_model("tiny", tokenizer=new, seed=2)
    fresh = {k: v.clone() for k, v in dst.state_dict().items()}
    init_weights_from(dst, tmp_path / "export", new)
    n = len(tokenizer)
    for name, w in dst.state_dict().items():
        old = src.state_dict()[name]
        if w.shape != old.shape:                                            # embedding / lm_head: grown
            assert w.shape[0] == n + 2 and torch.equal(w[:n], old) and torch.equal(w[n:], fresh[name][n:]), name
        else:
            assert torch.equal(w, old), name
    with pytest.raises(InputError, match="larger vocabulary"):
        new_export = tmp_path / "big"
        dst.save_pretrained(new_export)
        load_weights_resized(build_model("tiny", tokenizer=tokenizer), new_export)
    from seq2gen.vocab import Vocabulary, build_tokenizer
    vdir = tmp_path / "vocab"                            # the trap: a tissue inserted into tissues.yaml moves ids
    shutil.copytree(REPO / "vocab", vdir)
    (vdir / "tissues.yaml").write_text((vdir / "tissues.yaml").read_text().replace("  - k562\n",
                                                                                   "  - k562\n  - organoid_a\n"))
    other = build_tokenizer(Vocabulary.from_dir(vdir))
    with pytest.raises(InputError, match="have another id"):
        load_weights_resized(build_model("tiny", tokenizer=other), tmp_path / "export", other)


# ---------------------------------------------------------------------------------------------- end to end
def test_encode_world_spec_to_training_to_evaluation(worlds, registry, tokenizer, tmp_path, one_torch_thread):
    """``--style encode`` world → spec → datasets → 50 steps of tiny-model training → evaluate (the CLI path)."""
    from typer.testing import CliRunner

    from seq2gen.cli import app
    from seq2gen.evaluate.run import evaluate_model
    from seq2gen.infer import Seq2Gen
    from seq2gen.train import train
    d = _copy(worlds, tmp_path)
    tokenizer.save_pretrained(tmp_path / "tok")
    tasks = ["expression", "tf_binding"]
    r = CliRunner().invoke(app, ["data", "build", "--spec", str(d / "data_spec.yaml"), "--tokenizer",
                                 str(tmp_path / "tok"), "--out", str(tmp_path / "data"), "--max-per-task", "64",
                                 "--no-progress"] + [a for t in tasks for a in ("--only", t)])
    assert r.exit_code == 0, r.output
    assert "inputs: chromosome aliases" in r.output and "expression: train 64" in r.output
    from seq2gen.data import load_datasets
    ds = load_datasets(tmp_path / "data")
    cfg = yaml.safe_load((REPO / "configs" / "train" / "tiny_test.yaml").read_text())
    cfg.update(out_dir=str(tmp_path / "run"), max_steps=50, eval_every=0, save_every=0, progress=False,
               micro_batch_size=4,
               export_files=[str(tmp_path / "data" / f) for f in ("quantizers.json", "tasks.json")])
    result = train(cfg, datasets=ds, tokenizer=tokenizer)
    assert result["step"] == 50
    scores = evaluate_model(Seq2Gen.from_pretrained(result["export_dir"]), ds, split="test", max_examples=32)
    assert set(scores) == set(tasks)
    assert np.isfinite(scores["tf_binding"]["auroc"]) and np.isfinite(scores["expression"]["spearman"])


def test_world_dir_on_an_encode_folder_points_to_its_spec(worlds):
    from seq2gen.tasks.worlddata import WorldData
    with pytest.raises(InputError, match=r"world.json is missing \(it has a data spec: use --spec .*data_spec.yaml"):
        WorldData(worlds / "encode")


def test_n_runs_read_in_pieces_equal_the_whole_chromosome_read(worlds, monkeypatch):
    import seq2gen.data.specworld as sw
    from seq2gen.tasks.worlddata import WorldData
    whole = WorldData(worlds / "default")
    monkeypatch.setattr(sw, "N_CHUNK", 997)                  # many seams, some inside N runs
    pieces = sw.SpecWorld(worlds / "default" / "data_spec.yaml")
    for c in whole.contigs:
        for a, b in zip(whole.n_runs(c), pieces.n_runs(c)):
            np.testing.assert_array_equal(a, b)


def test_bench_synth_files_are_valid_real_format_files(tmp_path):
    """The genome-scale benchmark's writer (benchmarks/synth_files.py): its hand-computed .fai must agree with
    the FASTA byte for byte, and its spec must load."""
    import sys
    sys.path.insert(0, str(REPO / "benchmarks"))
    from synth_files import write_files

    from seq2gen.data.specworld import SpecWorld
    spec = write_files(tmp_path / "f", 3_000_000, seed=1)
    text = (tmp_path / "f" / "genome.fa").read_text()
    records = {r.split("\n", 1)[0]: r.split("\n", 1)[1].replace("\n", "") for r in text[1:].split("\n>")}
    w = SpecWorld(spec)                                           # validates the FASTA against its .fai
    for chrom in ("chr1", "chr21", "chrY"):
        n = len(records[chrom])
        assert w.fasta.fetch(chrom, n - 10_100, n - 9_900) == records[chrom][n - 10_100:n - 9_900]
    assert len(w.genes) > 10 and set(w.expression.columns) == {"liver", "heart", "brain", "lung", "kidney"}
    assert w.report["expression"]["table rows with no annotated gene"] == 0 and len(w.variants) > 100
    assert w.splits["validation"] == ["chr8"] and len(w.splits["train"]) == 22


def test_parallel_workers_build_the_same_rows(worlds, registry, tokenizer, tmp_path):
    from seq2gen.data.build import build_datasets
    d = _copy(worlds, tmp_path)
    one = build_datasets(d / "data_spec.yaml", registry, tokenizer, tmp_path / "one", tasks=FEW, max_per_task=40,
                         progress=False)
    two = build_datasets(d / "data_spec.yaml", registry, tokenizer, tmp_path / "two", tasks=FEW, max_per_task=40,
                         progress=False, num_proc=2, force=True)
    for name in FEW:
        for split in ("train", "validation", "test"):
            assert one[name][split]["input_ids"] == two[name][split]["input_ids"], (name, split)
    cfg = [json.loads((tmp_path / k / "data_config.json").read_text()) for k in ("one", "two")]
    assert cfg[0]["hash"] == cfg[1]["hash"] and cfg[0]["inputs"] == cfg[1]["inputs"]
    assert list(cfg[1]["stats"]) == FEW and all(cfg[0]["stats"][t]["train"] == cfg[1]["stats"][t]["train"]
                                                for t in FEW)
    assert (tmp_path / "one" / "quantizers.json").read_text() == (tmp_path / "two" / "quantizers.json").read_text()
