"""Table tasks (``sequence_table`` source): reading CSV / TSV.gz / FASTA + labels with clear errors, splits and dedup,
datasets without a world, the GUE templates on the shared real data, and ``evaluate_table`` on an untrained model."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from seq2gen.errors import InputError

L = 24
GUE_DIR = Path(__file__).resolve().parents[1] / "task_templates" / "gue"


# ---------------------------------------------------------------------------------------------- helpers
def _seqs(n: int, seed: int, length: int = L) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]


def write_tables(d: Path) -> dict:
    """train.csv (60 rows), dev.tsv.gz (30 rows, 4 of them copies of train rows), reads.fa + labels.tsv (12)."""
    d.mkdir(parents=True, exist_ok=True)
    tr = _seqs(60, 1)
    dev = _seqs(26, 2) + [tr[0].lower(), tr[5], tr[10], tr[20]]          # case-insensitive duplicates count
    (d / "train.csv").write_text("sequence,label,cell\n" + "".join(
        f"{s},{i % 2},{'K562' if i % 3 else 'HepG2'}\n" for i, s in enumerate(tr)))
    with gzip.open(d / "dev.tsv.gz", "wt") as f:
        f.write("sequence\tlabel\tcell\n" + "".join(f"{s}\t{i % 2}\tK562\n" for i, s in enumerate(dev)))
    fa = _seqs(12, 3)
    (d / "reads.fa").write_text("".join(f">r{i} some text\n{s[:10]}\n{s[10:]}\n" for i, s in enumerate(fa)))
    (d / "labels.tsv").write_text("name\tlabel\n" + "".join(f"r{i}\t{i % 3}\n" for i in range(12)))
    return {"train": tr, "dev": dev, "fasta": fa}


def template(name="classify", **source) -> dict:
    src = {"type": "sequence_table", "labels": {0: "<no>", 1: "<yes>"}, **source}
    return {"name": name, "family": "classification", "source": src, "window": {"length": L, "centre": "sequence"},
            "prompt": [f"<task:{name}>", "<species:human>", "<dna>", "{dna}", "</dna>"], "answer": ["{label}"],
            "answer_grammar": {"type": "choice", "tokens": ["<yes>", "<no>"]}, "metrics": ["auroc", "mcc"]}


def registry(tmp: Path, *templates, vocab):
    from seq2gen.tasks import TaskRegistry
    tdir = tmp / "templates"
    tdir.mkdir(exist_ok=True)
    for t in templates:
        (tdir / f"{t['name']}.yaml").write_text(yaml.safe_dump(t, sort_keys=False))
    return TaskRegistry.from_dir(tdir, vocab=vocab)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    return d, write_tables(d)


def splice_template(d: Path) -> dict:
    t = template("splice", files={"all": {"path": str(d / "reads.fa"), "labels": str(d / "labels.tsv")}},
                 labels={0: "<label:acceptor>", 1: "<label:donor>", 2: "<label:none>"},
                 fractions=[0.5, 0.25, 0.25])
    t["answer_grammar"]["tokens"] = ["<label:acceptor>", "<label:donor>", "<label:none>"]
    return t


# ---------------------------------------------------------------------------------------------- reading + splits
def test_table_source_reads_csv_tsv_gz_fasta_and_splits(tables, tokenizer, tmp_path):
    from seq2gen.tasks.seqtable import table_candidates, table_splits
    d, raw = tables
    reg = registry(tmp_path, template(files={"train": str(d / "train.csv"), "test": str(d / "dev.tsv.gz")},
                                      val_fraction=0.2), splice_template(d), vocab=tokenizer.vocab)
    stats = {}
    sp = table_splits(reg.get("classify"), stats=stats)
    assert [len(sp[k]) for k in ("train", "validation", "test")] == [48, 12, 30 - 4]
    assert stats == {"test rows also in train/validation dropped": 4}
    assert set(sp["train"]["sequence"]) | set(sp["validation"]["sequence"]) == set(raw["train"])
    assert sp["train"]["label"].value_counts().to_dict() == {0: 24, 1: 24}            # stratified
    again = table_splits(reg.get("classify"))
    assert all(again[k].equals(sp[k]) for k in sp)                                     # seeded
    rows = table_candidates(reg.get("classify"), vocab=tokenizer.vocab)
    assert set(rows["label"]) == {"<yes>", "<no>"} and (rows["chrom"] == "").all() and (rows["end"] == L).all()
    assert rows["name"].str.fullmatch(r"(train\.csv|dev\.tsv\.gz):\d+").all()
    assert rows["dna"].str.fullmatch("[ACGT]+").all()
    fa = table_splits(reg.get("splice"))
    assert sum(map(len, fa.values())) == 12 and set(fa["train"]["name"]) <= {f"r{i}" for i in range(12)}
    assert set(table_candidates(reg.get("splice"))["label"]) == {"<label:acceptor>", "<label:donor>",
                                                                 "<label:none>"}


def test_centre_crop_shows_the_centre_and_dedups_on_it(tables, tokenizer, tmp_path):
    """A fixed-position signal (GUE splice): the model sees the central bases, and a test row whose centre a train
    row shares is a duplicate even when their flanks differ."""
    from seq2gen.tasks.seqtable import table_candidates, table_splits
    d, raw = tables
    tr = raw["train"]
    flank = _seqs(3, 9)
    test = [f"{flank[0][:8]}{tr[i][8:16]}{flank[1][:8]}" for i in (3, 7)] + _seqs(10, 11)
    (tmp_path / "t.csv").write_text("sequence,label\n" + "".join(f"{x},{i % 2}\n" for i, x in enumerate(test)))
    t = template(files={"train": str(d / "train.csv"), "test": str(tmp_path / "t.csv")}, val_fraction=0.2,
                 centre_crop=8)
    t["window"]["length"] = 8
    reg = registry(tmp_path, t, vocab=tokenizer.vocab)
    stats = {}
    sp = table_splits(reg.get("classify"), stats=stats)
    assert stats == {"test rows also in train/validation dropped": 2}          # full rows: no duplicates at all
    assert set(sp["train"]["sequence"]) | set(sp["validation"]["sequence"]) == {x[8:16] for x in tr}
    rows = table_candidates(reg.get("classify"), vocab=tokenizer.vocab)
    assert (rows["dna"].str.len() == 8).all() and (rows["end"] == 8).all()
    assert set(rows.loc[rows["split"] == "test", "dna"]) == {x[8:16] for x in test[2:]}
    (tmp_path / "s.csv").write_text("sequence,label\n" + "".join(f"{x},0\n" for x in tr[:4]) + "ACGTAC,1\n")
    t["source"]["files"] = {"all": str(tmp_path / "s.csv")}
    reg = registry(tmp_path, t, vocab=tokenizer.vocab)
    with pytest.raises(InputError, match=r"s\.csv:6: sequence of 6 bp is shorter than source\.centre_crop \(8\)"):
        table_splits(reg.get("classify"))


def test_bad_inputs_name_file_and_line(tables, tokenizer, tmp_path):
    from seq2gen.tasks.seqtable import table_candidates
    d, raw = tables
    bad = tmp_path / "bad.csv"
    rows = [f"{s},{i % 2}" for i, s in enumerate(raw["train"][:8])]

    def edit(i, row):                                       # row i (0-based) replaced; it sits on line i + 2
        return ["sequence,label"] + rows[:i] + [row] + rows[i + 1:]

    seq = raw["train"]
    cases = {
        2: (edit(2, seq[2][:-1] + "X,1"), r"bad\.csv:4: invalid character 'X' at position 24"),
        4: (edit(4, seq[4] + ",7"), r"bad\.csv:6: label '7' has no answer token in task classify"),
        5: (edit(5, seq[5] + "A,1"), r"bad\.csv:7: sequence of 25 bp; task classify expects 24 bp"),
        1: (edit(1, ",1"), r"bad\.csv:3: empty sequence"),
    }
    for case, (text, msg) in cases.items():
        bad.write_text("\n".join(text) + "\n")
        reg = registry(tmp_path, template(files={"all": str(bad)}, fractions=[0.5, 0.25, 0.25]),
                       vocab=tokenizer.vocab)
        with pytest.raises(InputError, match=msg):
            table_candidates(reg.get("classify"), vocab=tokenizer.vocab)
    reg = registry(tmp_path, template(files={"all": "nowhere/x.csv"}), vocab=tokenizer.vocab)
    with pytest.raises(InputError, match="table file not found.*data root"):
        table_candidates(reg.get("classify"))
    # tissue column: an undeclared cell type is named with its file and line
    bad.write_text("sequence,label,cell\n" + "".join(f"{s},{i % 2},{'k562' if i != 5 else 'liverr'}\n"
                                                     for i, s in enumerate(raw["train"][:12])))
    t = template(files={"all": str(bad)}, tissue_col="cell", fractions=[0.5, 0.25, 0.25])
    t["prompt"].insert(1, "{tissue}")
    reg = registry(tmp_path, t, vocab=tokenizer.vocab)
    with pytest.raises(InputError, match=r"bad\.csv:7: cell: unknown tissue 'liverr'.*did you mean liver"):
        table_candidates(reg.get("classify"), vocab=tokenizer.vocab)


def test_overlap_containment_matches_brute_force():
    import pandas as pd

    from seq2gen.tasks.overlap import contained, dedup
    rng = np.random.default_rng(5)
    long = _seqs(60, 11, 300)
    refs = [s[:150] for s in long[:20]] + [s[50:120] for s in long[20:40]] + ["ACGTNACGT" * 10, "ACG"]
    qs = ([s[20:90] for s in long[:15]] + long[25:35] + _seqs(10, 12, 200) + ["TT" + "ACGTNACGT" * 10,
          "ACGTAACGT" * 10, "TTACGTT"] + [s[int(rng.integers(0, 100)):][:70] for s in long[40:45]])
    brute = np.array([any(q in r or r in q for r in refs) for q in qs])
    assert (contained(qs, refs) == brute).all() and 20 < brute.sum() < len(qs)
    df = pd.DataFrame({"sequence": [q.lower() for q in qs]})
    rest, n = dedup(df, [pd.DataFrame({"sequence": refs})])
    assert n == brute.sum() and len(rest) == len(qs) - n


@pytest.mark.parametrize("change,msg", [
    (lambda t: t["prompt"].insert(1, "{chr}"), r"prompt\[1\]: \{chr\} has no meaning for a sequence table"),
    (lambda t: t["prompt"].insert(1, "{tissue}"), r"source\.tissue_col: \{tissue\} in the prompt and tissue_col"),
    (lambda t: t["source"].update(files={"train": "a.csv"}), r"source\.files: roles \['train'\]"),
    (lambda t: t["source"].update(files={"trian": "a.csv"}), r"source\.files\.trian: unknown split role"),
    (lambda t: t["source"].update(kind="value"), r"source\.kind: kind 'value' feeds regression tasks"),
    (lambda t: t["source"].update(labels={0: "<no>", 1: "<maybe>"}), r"source\[0\]: label <maybe> is not one of"),
    (lambda t: t["source"].update(labels={0: "<no>", 1: "<label:donorr>"}), r"label <label:donorr> is not one of"),
    (lambda t: t["source"].update(fractions=[0.5, 0.5]), r"source\.fractions: train/validation/test"),
    (lambda t: t["window"].update(centre="tss"), r"window\.centre: source sequence_table places windows by sequence"),
    (lambda t: t["source"].update(centre_crop=8), r"source\.centre_crop: the model sees the cropped rows: set "
     r"window\.length to 8"),
    (lambda t: t["source"].update(centre_crop=True), r"source\.centre_crop: must be a positive number"),
    (lambda t: t.update(split={"train": ["1"], "validation": ["2"], "test": ["3"]}), r"split: table tasks are split"),
    (lambda t: t.update(source=[t["source"], {"type": "background", "label": "<no>"}]), r"source: every source of a "
     "table task is a sequence_table"),
])
def test_template_errors(change, msg):
    from seq2gen.tasks import Task
    t = template(files={"all": "x.csv"})
    change(t)
    with pytest.raises(InputError, match=msg):
        Task.from_dict(t, where="t.yaml")


# ---------------------------------------------------------------------------------------------- datasets
def test_build_datasets_without_world(tables, tokenizer, tmp_path, world_dir):
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    d, _ = tables
    t = template(files={"train": str(d / "train.csv"), "test": str(d / "dev.tsv.gz")}, tissue_col="cell")
    t["prompt"].insert(1, "{tissue}")
    t["augment"] = {"reverse_complement": 0.5}
    reg = registry(tmp_path, t, splice_template(d), vocab=tokenizer.vocab)
    data = build_datasets(None, reg, tokenizer, tmp_path / "data", progress=False)
    cfg = json.loads((tmp_path / "data" / "data_config.json").read_text())
    assert cfg["world"] is None and set(cfg["tables"]["files"]) == {"classify", "splice"}
    assert cfg["stats"]["classify"]["test rows also in train/validation dropped"] == 4
    tr = data["classify"]["train"]
    world_cols = ["task", "prompt", "answer", "input_ids", "labels", "chrom", "start", "end", "strand", "tissue",
                  "target", "name", "rc"]
    assert tr.column_names == world_cols and len(data["classify"]["test"]) == 26
    assert set(tr["tissue"]) == {"k562", "hepg2"} and 0 < sum(tr["rc"]) < len(tr)
    for row in tr.select(range(6)):
        assert tokenizer.decode(row["input_ids"]) == row["prompt"] and tokenizer.decode(row["labels"]) == row["answer"]
        assert row["prompt"].startswith(f"<task:classify> <tissue:{row['tissue']}> <species:human> <dna> ")
        assert row["answer"] == row["target"] and row["strand"] == ("-" if row["rc"] else "+")
    assert build_datasets(None, reg, tokenizer, tmp_path / "data", progress=False)   # cache hit
    both = TaskRegistry.from_dir([tmp_path / "templates", GUE_DIR.parent], vocab=tokenizer.vocab)
    with pytest.raises(InputError, match=r"tasks \['promoter'\] render windows of a world"):
        build_datasets(None, both, tokenizer, tmp_path / "d2", tasks=["classify", "promoter"], progress=False)
    mixed = build_datasets(world_dir, both, tokenizer, tmp_path / "d3", tasks=["splice", "promoter"],
                           max_per_task=10, progress=False)
    assert mixed["promoter"]["train"].column_names == mixed["splice"]["train"].column_names


def test_value_table_builds_a_regression_task(tables, tokenizer, tmp_path):
    from seq2gen.data import build_datasets
    d, raw = tables
    vals = tmp_path / "expr.tsv"
    vals.write_text("seq\tlog_tpm\n" + "".join(f"{s}\t{i / 7:.3f}\n" for i, s in enumerate(raw["train"])))
    t = template("histone", files={"all": str(vals)}, seq_col="seq", label_col="log_tpm", kind="value",
                 labels=None)
    t.update(family="regression", answer=["{value}"], answer_grammar={"type": "values", "count": 1},
             quantizer={"method": "uniform", "n_bins": 16}, metrics=["spearman"])
    data = build_datasets(None, registry(tmp_path, t, vocab=tokenizer.vocab), tokenizer, tmp_path / "v",
                          progress=False)["histone"]
    assert [len(data[k]) for k in ("train", "validation", "test")] == [40, 10, 10]   # 10 quantile strata
    row = data["test"][0]
    assert isinstance(row["target"], float) and row["answer"].startswith("<val:0")


# ---------------------------------------------------------------------------------------------- real GUE data
@pytest.fixture(scope="module")
def real_root():
    from seq2gen.tasks.seqtable import data_root
    root = data_root()
    if not (root / "gue").is_dir():
        pytest.skip(f"shared real data not found at {root} (set SEQ2GEN_REAL_DATA)")
    return root


def test_gue_templates_load_with_species_tokens(tokenizer):
    from seq2gen.baselines.gue import GUE_TASKS
    from seq2gen.tasks import TaskRegistry
    reg = TaskRegistry.from_dir(GUE_DIR, vocab=tokenizer.vocab)
    folders = {next(iter(t.sources[0].params["files"].values())).split("/")[1]: t for t in reg
               if t.family == "classification"}
    assert set(folders) == set(GUE_TASKS) and len(reg) == 16
    for folder, t in folders.items():
        g = GUE_TASKS[folder]
        shown = t.sources[0].params.get("centre_crop") or g.length            # splice: the central 60 bp
        assert t.window.length == shown <= g.length and len(t.answer_grammar["tokens"]) == g.n_classes
        assert t.prompt[1] == f"<species:{g.species}>"
    assert set(reg.mixture("all").tasks) == set(reg.names) - {"gue_span_corruption"}
    pre = reg.get("gue_span_corruption")                  # the train splits of every task, one source per file
    assert sorted(s.params["files"]["test" if "test" in s.params["files"] else "all"].split("/")[1]
                  for s in pre.sources) == sorted(GUE_TASKS)
    assert all(s.params["species"] == GUE_TASKS[s.params["files"].get("test", s.params["files"].get("all"))
                                                .split("/")[1]].species for s in pre.sources)
    assert len(TaskRegistry.from_dir(vocab=tokenizer.vocab)) == 8                      # world registry unchanged


@pytest.mark.real_data
def test_gue_templates_build_on_real_data(real_root, tokenizer, tmp_path):
    from seq2gen.baselines.gue import load_gue
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    from seq2gen.tasks.overlap import seen_mask
    from seq2gen.tasks.seqtable import table_splits
    reg = TaskRegistry.from_dir(GUE_DIR, vocab=tokenizer.vocab)
    data = build_datasets(None, reg, tokenizer, tmp_path / "gue", max_per_task=50, progress=False)
    stats = json.loads((tmp_path / "gue" / "data_config.json").read_text())["stats"]
    for name, dd in data.items():
        t = reg.get(name)
        assert all(0 < len(dd[s]) <= 50 for s in ("train", "validation", "test")), name
        row = dd["test"][0]
        assert tokenizer.decode(row["input_ids"]) == row["prompt"]
        if t.family == "classification":
            assert row["target"] in t.answer_grammar["tokens"] and len(row["input_ids"]) == t.window.length + 5
    pre = data["gue_span_corruption"]["train"]                # real DNA, species-conditioned, train splits only
    assert {p.split()[1] for p in pre["prompt"]} >= {"<species:human>", "<species:mouse>"}
    assert all(a.startswith("<extra_id_0>") for a in pre["answer"])
    assert stats["gue_tf_4"]["test rows also in train/validation dropped"] == 358
    assert stats["gue_prom_core_tata"]["train rows overlapping exclude_from_train dropped"] > 1000
    for name, folder, same in (("gue_mouse_3", "mouse_3", ("train", "validation", "test")),
                               ("gue_prom_core_tata", "prom_prom_core_tata", ("test",))):
        ours, theirs = table_splits(reg.get(name), real_root), load_gue(folder, root=real_root / "gue", seed=0)
        for k in same:                                       # the CNN baseline scores exactly these test rows
            assert ours[k]["sequence"].tolist() == theirs[k]["sequence"].tolist()
    # GUE's human sets share sequences (core promoters inside 300 bp windows, …): no task trains on another's test
    tata, core_all = table_splits(reg.get("gue_prom_core_tata"), real_root), table_splits(reg.get(
        "gue_prom_core_all"), real_root)
    p300 = table_splits(reg.get("gue_prom_300_tata"), real_root)
    assert not seen_mask(tata["test"], [core_all["train"], core_all["validation"], p300["train"]]).any()
    before = load_gue("prom_prom_core_all", root=real_root / "gue", seed=0)["train"]
    assert seen_mask(tata["test"], [before]).sum() > 400                  # what the exclusion removed


# ---------------------------------------------------------------------------------------------- evaluate_table
@pytest.fixture(scope="module")
def model_dir(tables, tokenizer, tmp_path_factory):
    """An untrained tiny model exported like tests/test_infer.py's build_fixture, knowing classify + splice."""
    from seq2gen.data import build_datasets
    from seq2gen.model import build_model
    d, _ = tables
    root = tmp_path_factory.mktemp("gue_model")
    t = template(files={"train": str(d / "train.csv"), "test": str(d / "dev.tsv.gz")})
    reg = registry(root, t, splice_template(d), vocab=tokenizer.vocab)
    build_datasets(None, reg, tokenizer, root / "data", progress=False)
    export = root / "export"
    build_model("tiny", len(tokenizer), tokenizer.pad_id, tokenizer.eos_id).save_pretrained(export)
    tokenizer.save_pretrained(export)
    for f in ("quantizers.json", "tasks.json"):
        shutil.copy(root / "data" / f, export / f)
    return export


def test_evaluate_table_writes_reports_and_dedups(model_dir, tables, tmp_path):
    from seq2gen.evaluate.table import evaluate_table
    from seq2gen.infer import Seq2Gen
    d, raw = tables
    m = Seq2Gen.from_pretrained(model_dir, batch_size=32)
    new = tmp_path / "new.csv"                     # 10 unseen rows + 3 seen in training (train split or validation)
    seqs = _seqs(10, 7) + raw["train"][:3]
    new.write_text("sequence,label\n" + "".join(f"{s},{i % 2}\n" for i, s in enumerate(seqs)))
    res = evaluate_table(m, "classify", new, out=tmp_path / "ev")
    assert res["n_rows"] == 13 and res["dedup"]["n_dropped"] == 3 and res["n_evaluated"] == 10
    assert "train + validation" in res["dedup"]["against"]
    assert set(res["metrics"]) >= {"auroc", "auprc", "mcc", "accuracy"} and set(res["per_class"]) == {"<yes>", "<no>"}
    saved = json.loads((tmp_path / "ev" / "classify.json").read_text())
    assert saved["n_evaluated"] == 10 and 0 <= saved["metrics"]["auroc"] <= 1
    md = (tmp_path / "ev" / "classify.md").read_text()
    assert "| auroc |" in md and "dropped as also in" in md and "`<yes>`" in md
    pred = (tmp_path / "ev" / "classify.predictions.tsv").read_text().splitlines()
    assert pred[0] == "name\tline\tlabel\tp_<yes>" and len(pred) == 11
    other = evaluate_table(m, "classify", new, train_table=d / "train.csv", max_examples=5, dedup=True)
    assert other["dedup"]["n_dropped"] == 3 and other["n_evaluated"] == 5 and other["sampled"]
    assert evaluate_table(m, "classify", new, dedup=False)["n_evaluated"] == 13
    own = evaluate_table(m, "classify", "test")
    assert own["n_evaluated"] == 26 and own["dedup"]["n_dropped"] == 4
    three = evaluate_table(m, "splice", d / "reads.fa", fasta_labels=d / "labels.tsv", dedup=False)
    assert set(three["per_class"]) == {"<label:acceptor>", "<label:donor>", "<label:none>"}
    assert "auprc" in three["metrics"] and three["label_counts"] == {"<label:acceptor>": 4, "<label:donor>": 4,
                                                                      "<label:none>": 4}
    with pytest.raises(InputError, match="no rows left to score"):
        evaluate_table(m, "classify", d / "train.csv")


def test_evaluate_cmd(model_dir, tables, tmp_path):
    import typer
    from typer.testing import CliRunner

    from seq2gen.evaluate.table import evaluate_cmd
    d, _ = tables
    app = typer.Typer()
    app.command()(evaluate_cmd)
    r = CliRunner().invoke(app, [str(model_dir), "--task", "classify", "--table", str(d / "dev.tsv.gz"),
                                 "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "# classify on dev.tsv.gz" in r.stdout and (tmp_path / "o" / "classify.json").is_file()
    r = CliRunner().invoke(app, [str(model_dir), "--task", "clasify", "--table", str(d / "dev.tsv.gz")])
    assert r.exit_code == 2 and "did you mean classify" in r.output


def test_evaluate_cmd_reads_other_columns_with_param(model_dir, tmp_path):
    """``--param KEY=VALUE`` is the CLI spelling of ``params=`` (the hints name it): other column names and labels."""
    import typer
    from typer.testing import CliRunner

    from seq2gen.evaluate.table import evaluate_cmd
    app = typer.Typer()
    app.command()(evaluate_cmd)
    odd = tmp_path / "odd.tsv"
    odd.write_text("seq\ty\n" + "".join(f"{s}\t{'pos' if i % 2 else 'neg'}\n" for i, s in enumerate(_seqs(8, 11))))
    args = [str(model_dir), "--task", "classify", "--table", str(odd), "--out", str(tmp_path / "o"), "--no-dedup"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "sequence" in r.output                     # the default column is not there
    r = CliRunner().invoke(app, args + ["--param", "seq_col=seq", "--param", "label_col=y",
                                        "--param", "labels={neg: <no>, pos: <yes>}"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "o" / "classify.json").read_text())
    assert res["n_evaluated"] == 8 and res["label_counts"] == {"<no>": 4, "<yes>": 4}
    r = CliRunner().invoke(app, args + ["--param", "seq_col"])
    assert r.exit_code == 2 and "is not KEY=VALUE" in r.output
