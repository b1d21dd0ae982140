"""Bad inputs, one test per class, each ending in an ``InputError`` that names the file and the line/record — and
no half-written output left where a complete one belongs.

Already covered where the reader is tested (not repeated here): tests/test_genome.py — FASTA duplicate names, text
before the first header, invalid characters, ragged/blank lines, gzip, missing index (built) / read-only directory
/ stale index; BED/GTF wrong column counts, non-integer coordinates, end < start, unknown contigs, past contig
ends; bigWig missing chromosome, corrupt/truncated files; VCF REF mismatch, multi-allelic, symbolic, bad POS/QUAL;
expression non-numeric/missing/duplicate cells, requested tissues absent; a non-UTF-8 BED. tests/test_tables.py —
empty sequences in tables. tests/test_vocab.py, tests/test_infer.py, tests/test_serve.py — unknown tokens in prompts.

Here: the classes those files miss (truncated/garbled FASTA, corrupt index, bigWig NaN, VCF errors through the
chunked scorer, non-UTF-8 files of every kind, empty/over-long sequences, unknown tokens in a TSV of prompts), the
same faults entering through the whole data pipeline (a corrupted world → ``build_datasets``), and atomic outputs.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError
from seq2gen.genome import BigWig, Fasta

REPO = Path(__file__).resolve().parents[1]


def put(d: Path, name: str, data: str | bytes) -> Path:
    p = d / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def located(fn, name: str, line: int | None, *fragments: str) -> str:
    """``fn()`` raises an InputError whose message starts at ``name:line:`` and contains every fragment."""
    with pytest.raises(InputError) as e:
        fn()
    msg = str(e.value)
    where = f"{name}:{line}:" if line is not None else f"{name}:"
    assert where in msg, msg
    if line is not None:
        assert e.value.line == line, (e.value.line, msg)
    for f in fragments:
        assert f in msg, msg
    return msg


# ---------------------------------------------------------------------------------------------- FASTA
@pytest.mark.parametrize("data, line, fragment", [
    (b">chr1\nACGT\n>chr2\n", 3, "sequence 'chr2' is empty (no bases after its header) (the file looks truncated"),
    (b">chr1\nACGT\n>chr2", 3, "sequence 'chr2' is empty"),                          # cut inside the header line
    (b">chr1\n>chr2\nACGT\n", 1, "sequence 'chr1' is empty"),
    (bytes(range(256)), 1, "sequence line before the first '>' header"),             # binary garbage
    (b"BAM\x01" + bytes(40), 1, "sequence line before the first '>' header"),         # another format
    (b">chr1\nAC\x00T\n", 2, "invalid character '\\x00' at column 3"),
    (b">chr1\nACGT\nAC\xe9T\n", 3, "invalid character (byte 0xe9, not ASCII) at column 3"),
    (b">chr1 caf\xe9\nACGT\n", 1, "header is not UTF-8"),
])
def test_truncated_or_garbled_fasta(tmp_path, data, line, fragment):
    p = put(tmp_path, "bad.fa", data)
    located(lambda: Fasta(p), "bad.fa", line, fragment)
    assert not (tmp_path / "bad.fa.fai").exists()          # no index is written for a file that failed


def test_fasta_cut_mid_line_is_still_valid(tmp_path):
    """A file cut inside a sequence line cannot be told from a short last line, which FASTA allows."""
    fa = Fasta(put(tmp_path, "cut.fa", b">chr1\nACGTACGT\nACG"))
    assert fa.contigs == {"chr1": 11} and fa.fetch("chr1", 8, 11) == "ACG"


def test_fasta_index_corrupt_or_missing(tmp_path):
    p = put(tmp_path, "g.fa", ">chr1\nACGT\n")
    assert Fasta(p).contigs == {"chr1": 4} and (tmp_path / "g.fa.fai").is_file()   # missing → built
    (tmp_path / "g.fa.fai").write_text("chr1\tfour\n")                                # garbage, newer than the FASTA
    msg = located(lambda: Fasta(p), "g.fa.fai", None, "cannot read the FASTA index g.fa.fai", "delete")
    assert str(tmp_path / "g.fa.fai") in msg
    (tmp_path / "g.fa.fai").unlink()
    assert Fasta(p).fetch("chr1", 0, 4) == "ACGT"                                     # … and deleting fixes it


# ---------------------------------------------------------------------------------------------- bigWig
def test_bigwig_nan_values_follow_the_missing_data_policy(tmp_path):
    """NaN stored in a bigWig (pyBigWig writes it) reads as "no data": 0 by default, NaN with nan='nan', and a
    located error with nan='error' — never a NaN leaking into a default mean."""
    import pyBigWig
    path = tmp_path / "nan.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 100), ("chr2", 50)])
    bw.addEntries(["chr1", "chr1", "chr1"], [0, 10, 20], ends=[10, 20, 40], values=[1.0, float("nan"), 3.0])
    bw.close()
    t = BigWig(path)
    assert t.binned_mean("chr1", 0, 40, 4).tolist() == [1, 0, 3, 3]
    np.testing.assert_array_equal(t.binned_mean("chr1", 0, 40, 4, nan="nan"), [1, np.nan, 3, 3])
    located(lambda: t.binned_mean("chr1", 0, 40, 4, nan="error"), "nan.bw", None, "chr1:10", "no data")
    located(lambda: t.binned_mean("chrX", 0, 40, 4), "nan.bw", None, "'chrX' is not in the bigWig")


# ---------------------------------------------------------------------------------------------- VCF through the scorer
VCF_HEAD = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def ref_fa(tmp_path_factory):
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 400))
    d = tmp_path_factory.mktemp("ref")
    (d / "r.fa").write_text(">chr1\n" + "\n".join(seq[i:i + 60] for i in range(0, 400, 60)) + "\n")
    return Fasta(d / "r.fa"), seq


def vcf_records(seq: str, n: int) -> list[str]:
    return [f"chr1\t{p + 1}\tv{p}\t{seq[p]}\t{'A' if seq[p] != 'A' else 'C'}\t.\tPASS\t." for p in
            range(10, 10 + 7 * n, 7)]


def _other(f):
    return next(b for b in "ACGT" if b not in (f[3], f[4]))


@pytest.mark.parametrize("k, edit, fragment", [
    (10, lambda f: f[:3] + [_other(f)] + f[4:], "REF does not match r.fa at chr1:"),
    (6, lambda f: f[:4] + ["C,T"] + f[5:], "multi-allelic ALT 'C,T'"),
    (1, lambda f: f[:4] + ["<DUP>"] + f[5:], "symbolic/breakend ALT '<DUP>'"),
    (13, lambda f: f[:5], "expected at least 8 tab-separated columns, found 5"),
])
def test_vcf_errors_name_the_original_line_across_chunks(tmp_path, ref_fa, k, edit, fragment):
    """The chunked VCF scorer (chunks of 4 records) reports the line of the original file — blank lines counted,
    plain, gzip or CRLF — not the line of its internal chunk."""
    from seq2gen.infer.variants import iter_vcf_chunks
    fa, seq = ref_fa
    recs = vcf_records(seq, 14)
    recs[k] = "\t".join(edit(recs[k].split("\t")))
    text = VCF_HEAD + "\n".join(recs[:3]) + "\n\n" + "\n".join(recs[3:]) + "\n"    # a blank line after record 3
    line = 2 + k + 1 + (k >= 3)
    for name, data in (("v.vcf", text.encode()), ("v.vcf.gz", gzip.compress(text.encode())),
                       ("crlf.vcf", text.replace("\n", "\r\n").encode())):
        p = put(tmp_path, name, data)
        located(lambda: [df for _, df in iter_vcf_chunks(p, fa, chunk_size=4)], name, line, fragment)


def test_vcf_without_info_values_reads(tmp_path, ref_fa):
    """Every INFO '.' (sites-only VCFs often look like this) used to crash the INFO parser with a KeyError."""
    from seq2gen.genome import read_vcf
    fa, seq = ref_fa
    df = read_vcf(put(tmp_path, "dots.vcf", VCF_HEAD + "\n".join(vcf_records(seq, 3)) + "\n"), fasta=fa)
    assert len(df) == 3 and not [c for c in df.columns if c.startswith("info_")]


def test_vcf_text_faults_are_located(tmp_path, ref_fa):
    from seq2gen.infer.variants import count_records, iter_vcf_chunks
    fa, seq = ref_fa
    good = VCF_HEAD + "\n".join(vcf_records(seq, 5)) + "\n"
    assert count_records(put(tmp_path, "g.vcf", gzip.compress(good.encode()))) == 5   # gzip told by magic bytes
    p = put(tmp_path, "latin.vcf", good.encode() + b"chr1\t3\tcaf\xe9\tA\tG\t.\t.\t.\n")
    located(lambda: count_records(p), "latin.vcf", 8, "not UTF-8 text: byte 0xe9 at column 11", "iconv")
    located(lambda: list(iter_vcf_chunks(p, fa, 2)), "latin.vcf", 8, "not UTF-8")
    p = put(tmp_path, "cut.vcf.gz", gzip.compress((good * 20).encode())[:-30])
    located(lambda: count_records(p), "cut.vcf.gz", None, "corrupt or truncated gzip data")
    p = put(tmp_path, "late.vcf", good + "##late=1\n")
    located(lambda: list(iter_vcf_chunks(p, fa, 2)), "late.vcf", 8, "header line after the first record")


# ---------------------------------------------------------------------------------------------- non-UTF-8, everywhere
BAD = b"caf\xe9"


@pytest.mark.parametrize("name, data, line, read", [
    ("a.gtf", b'chr1\ts\texon\t1\t10\t.\t+\t.\tgene_id "G";\nchr1\ts\texon\t1\t10\t.\t+\t.\tgene_id "' + BAD + b'";\n',
     2, "read_gtf"),
    ("e.tsv", b"gene_id\tliver\nG1\t1\n" + BAD + b"\t2\n", 3, "read_expression"),
    ("v.vcf", VCF_HEAD.encode() + b"chr1\t1\t" + BAD + b"\tA\tG\t.\t.\t.\n", 3, "read_vcf"),
    ("s.csv", b"sequence,label\nACGT,1\nACGT," + BAD + b"\n", 3, "read_sequence_table"),
    ("p.bed.gz", gzip.compress(b"chr1\t0\t10\n" + BAD + b"\t0\t5\n"), 2, "read_bed"),        # through gzip too
    ("t.yaml", b"model: tiny\nmax_steps: 3\n# " + BAD + b"\n", 3, "load_train_config"),
])
def test_non_utf8_files_are_located(tmp_path, name, data, line, read):
    import seq2gen.genome as g
    from seq2gen.train import load_train_config
    fn = load_train_config if read == "load_train_config" else getattr(g, read)
    p = put(tmp_path, name, data)
    located(lambda: fn(p), name, line, "not UTF-8 text: byte 0xe9", "iconv")


def test_train_config_yaml_syntax_is_located(tmp_path):
    from seq2gen.train import load_train_config
    p = put(tmp_path, "t.yaml", "model: tiny\nrates: {a: 1, b: [2\nmax_steps: 3\n")
    located(lambda: load_train_config(p), "t.yaml", None, "invalid YAML")
    p = put(tmp_path, "l.yaml", "- model\n- tiny\n")
    located(lambda: load_train_config(p), "l.yaml", None, "must be a YAML mapping")


def test_non_utf8_task_template_is_located(tmp_path, tokenizer):
    from seq2gen.tasks import TaskRegistry
    src = (REPO / "task_templates" / "promoter.yaml").read_bytes()
    put(tmp_path, "promoter.yaml", src.replace(b"description:", b"description: " + BAD, 1))
    located(lambda: TaskRegistry.from_dir(tmp_path, vocab=tokenizer.vocab), "promoter.yaml", None, "not UTF-8")


# ---------------------------------------------------------------------------------------------- a corrupted world
def _edit_lines(path: Path, fn) -> int:
    """Apply ``fn(lines) -> (lines, 1-based line number of the fault)`` to a text file; returns the line."""
    lines = path.read_text().splitlines()
    lines, line = fn(lines)
    path.write_text("\n".join(lines) + "\n")
    return line


def _data_line(lines, k=5):
    idx = [i for i, x in enumerate(lines) if x and not x.startswith("#")][k]
    return idx


def _peak_unknown_contig(lines):
    i = _data_line(lines)
    lines[i] = "chrZ" + lines[i][lines[i].index("\t"):]
    return lines, i + 1


def _gtf_end_before_start(lines):
    i = _data_line(lines)
    f = lines[i].split("\t")
    f[3], f[4] = f[4], f[3]
    lines[i] = "\t".join(f)
    return lines, i + 1


def _vcf_ref_mismatch(lines):
    i = _data_line(lines, 7)
    f = lines[i].split("\t")
    f[3] = next(b for b in "ACGT" if b not in (f[3], f[4]))
    lines[i] = "\t".join(f)
    return lines, i + 1


def _expr_drop_tissue(lines):
    return [x.rsplit("\t", 1)[0] for x in lines], None             # the last tissue column (kidney) is gone


def _expr_text_cell(lines):
    f = lines[4].split("\t")
    f[2] = "n/a?"
    lines[4] = "\t".join(f)
    return lines, 5


WORLD_FAULTS = {
    "peaks.bed unknown contig": ("tf_binding", "peaks.bed", _peak_unknown_contig, "unknown contig 'chrZ'"),
    "genes.gtf end < start": ("promoter", "genes.gtf", _gtf_end_before_start, "end < start"),
    "variants.vcf REF mismatch": ("variant_effect", "variants.vcf", _vcf_ref_mismatch, "REF does not match"),
    "expression.tsv missing tissue": ("expression", "expression.tsv", _expr_drop_tissue,
                                      "expression table has no column for tissues ['kidney']"),
    "expression.tsv text cell": ("expression", "expression.tsv", _expr_text_cell, "value is not a number: 'n/a?'"),
}


@pytest.fixture
def world_copy(world_dir, tmp_path):
    dst = tmp_path / "world"
    shutil.copytree(world_dir, dst)
    return dst


@pytest.mark.parametrize("fault", list(WORLD_FAULTS))
def test_corrupted_world_fails_located_and_leaves_no_dataset(world_copy, tokenizer, tmp_path, fault):
    """The fault surfaces through ``build_datasets`` with its file and line; the dataset folder is not created even
    though an earlier task (span_corruption) was already rendered, and no temp folder is left behind."""
    from seq2gen.data import build_datasets
    task, name, edit, fragment = WORLD_FAULTS[fault]
    line = _edit_lines(world_copy / name, edit)
    out = tmp_path / "data"
    located(lambda: build_datasets(world_copy, REPO / "task_templates", tokenizer, out,
                                   tasks=["span_corruption", task], max_per_task=4, progress=False),
            name, line, fragment)
    assert sorted(os.listdir(tmp_path)) == ["world"]


def test_world_bigwig_missing_a_chromosome_is_an_error(world_copy, tokenizer, tmp_path):
    import pyBigWig
    from seq2gen.data import build_datasets
    src = pyBigWig.open(str(world_copy / "liver.bw"))
    chroms = {c: n for c, n in src.chroms().items() if c != "chr2"}
    runs = {c: src.intervals(c) or () for c in chroms}
    src.close()
    dst = pyBigWig.open(str(world_copy / "liver.bw"), "w")
    dst.addHeader(list(chroms.items()))
    for c, iv in runs.items():
        if iv:
            dst.addEntries([c] * len(iv), [s for s, _, _ in iv], ends=[e for _, e, _ in iv],
                           values=[float(v) for _, _, v in iv])
    dst.close()
    located(lambda: build_datasets(world_copy, REPO / "task_templates", tokenizer, tmp_path / "data",
                                   tasks=["chromatin"], max_per_task=4, progress=False), "liver.bw", None, "chr2")


# ---------------------------------------------------------------------------------------------- atomic outputs
def test_failed_rebuild_keeps_the_previous_dataset(world_copy, tokenizer, tmp_path):
    from seq2gen.data import build_datasets
    out = tmp_path / "data"
    build_datasets(world_copy, REPO / "task_templates", tokenizer, out, tasks=["expression"], max_per_task=4,
                   progress=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    _edit_lines(world_copy / "expression.tsv", _expr_text_cell)
    with pytest.raises(InputError, match="expression.tsv:5:"):
        build_datasets(world_copy, REPO / "task_templates", tokenizer, out, tasks=["expression"], max_per_task=4,
                       progress=False, force=True)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(os.listdir(tmp_path)) == ["data", "world"]


def test_failed_hf_export_keeps_the_previous_one(tmp_path):
    """export_hf writes a temp folder then renames it; a failure midway leaves the old export and no temp folder."""
    from seq2gen.train.checkpoint import export_hf

    class Module:
        def state_dict(self):
            return {}

        def save_pretrained(self, path, state_dict=None):
            Path(path).mkdir(parents=True)
            (Path(path) / "config.json").write_text("{}")

    engine = SimpleNamespace(module=Module(), zero_optimization_stage=lambda: 0,      # an fp32 ZeRO-0 run
                             bfloat16_enabled=lambda: False, fp16_enabled=lambda: False)
    old = tmp_path / "model"
    old.mkdir()
    (old / "config.json").write_text('{"old": 1}')
    with pytest.raises(FileNotFoundError, match="export_files"):
        export_hf(engine, None, tmp_path, {"a": 1}, export_files=[tmp_path / "missing.json"])
    assert os.listdir(tmp_path) == ["model"] and (old / "config.json").read_text() == '{"old": 1}'
    export_hf(engine, None, tmp_path, {"a": 1})
    assert sorted(os.listdir(old)) == ["config.json", "train_config.yaml"] and os.listdir(tmp_path) == ["model"]


# ---------------------------------------------------------------------------------------------- model inputs
@pytest.fixture(scope="module")
def fx(world_dir, tokenizer, tmp_path_factory):
    from builders import build_fixture
    return build_fixture(world_dir, tokenizer, tmp_path_factory.mktemp("bad_infer"))


@pytest.fixture(scope="module")
def m(fx):
    from seq2gen.infer import Seq2Gen
    return Seq2Gen.from_pretrained(fx["export"], fasta=fx["world"] / "genome.fa", batch_size=16)


def test_empty_and_overlong_sequences(m):
    """Typed helpers refuse a sequence that is not the task's window (naming its index, its length and the window)
    and an empty one; raw prompts are the caller's business (the server caps them with max_length)."""
    for seq, n in (("", 0), ("A" * 5000, 5000)):
        with pytest.raises(InputError, match=rf"sequence 1 has {n} bp; task promoter reads 384-bp windows"):
            m.classify(["A" * 384, seq])
        with pytest.raises(InputError, match=rf"sequence 0 has {n} bp; task variant_effect reads 256-bp"):
            m.variant_effect(seq, 0, "A", "G", "liver")
    with pytest.raises(InputError, match="sequence 1 is empty"):
        m.annotate(["ACGT" * 10, "  "])
    with pytest.raises(InputError, match="offset 0 is outside the 0-bp window"):
        m.variant_llr("", 0, "A", "G")
    with pytest.raises(InputError, match="sequence 0: expected a DNA string or a region, got NoneType"):
        m.classify([None])


def test_prompt_tsv_errors_name_the_line_and_leave_no_output(fx, tmp_path):
    import typer
    from typer.testing import CliRunner

    from seq2gen.infer.cli import predict_cmd
    app = typer.Typer()
    app.command("predict")(predict_cmd)
    app.command("noop")(lambda: None)
    good = fx["data"]["promoter"]["test"]["prompt"][0]
    prompts = [good, good, good.replace("<dna>", "<dna> <frobnicate>", 1), good]
    tsv = tmp_path / "in.tsv"
    pd.DataFrame({"id": list("abcd"), "prompt": prompts}).to_csv(tsv, sep="\t", index=False)
    out = tmp_path / "out.tsv"
    run = lambda *a: CliRunner().invoke(app, ["predict", str(fx["export"]), "--tsv", str(tsv), *a])  # noqa: E731
    res = run("--out", str(out), "--chunk-size", "2")       # the bad row is row 0 of the second chunk
    assert res.exit_code == 2 and "in.tsv:4: unknown token <frobnicate>" in " ".join(res.output.split()), res.output
    assert sorted(os.listdir(tmp_path)) == ["in.tsv"]        # no out.tsv, no temp file
    tsv.write_bytes(tsv.read_bytes().replace(b"\nc\t", b"\nc\xe9\t").replace(b"<frobnicate> ", b""))
    res = run("--out", str(out))
    assert res.exit_code == 2 and "in.tsv:4: not UTF-8 text" in " ".join(res.output.split()), res.output
    assert sorted(os.listdir(tmp_path)) == ["in.tsv"]


def test_failed_save_pretrained_keeps_the_previous_model(m, tmp_path, monkeypatch):
    target = m.save_pretrained(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(path, *a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(m.tokenizer, "save_pretrained", broken)
    with pytest.raises(OSError, match="disk full"):
        m.save_pretrained(tmp_path / "model")
    assert os.listdir(tmp_path) == ["model"]
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert json.loads((target / "seq2gen_infer.json").read_text())["format_version"] == 1
