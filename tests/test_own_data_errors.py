"""Bring-your-own-data conventions (issue #19, "nothing silent"): every case that used to give silently wrong rows
now raises a located InputError or is handled correctly — on generated files (a copy of the small world, or a few
lines written here). docs/conventions.md lists each convention and what seq2gen does with it.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError


def located(fn, file: str, line, *fragments) -> str:
    with pytest.raises(InputError) as ei:
        fn()
    msg = str(ei.value)
    assert ei.value.path is not None and Path(ei.value.path).name == file, msg
    assert ei.value.line == line, msg
    for f in fragments:
        assert f in msg, msg
    return msg


@pytest.fixture
def world(world_dir, tmp_path):
    """A private, editable copy of the session's small world."""
    dst = tmp_path / "w"
    shutil.copytree(world_dir, dst)
    return dst


def build(wdir, tokenizer, out, tasks, **kw):
    from seq2gen.data import build_datasets
    from seq2gen.tasks import TaskRegistry
    reg = TaskRegistry.from_dir(vocab=tokenizer.vocab).subset(tasks)
    return build_datasets(wdir, reg, tokenizer, out, progress=False, max_per_task=kw.pop("cap", 40), **kw)


def manifest(wdir, **change) -> dict:
    m = json.loads((wdir / "world.json").read_text())
    for k, v in change.items():
        m[k] = v
    (wdir / "world.json").write_text(json.dumps(m))
    return m


def fasta_records(path) -> dict[str, str]:
    from seq2gen.genome import Fasta
    fa = Fasta(path)
    return {c: fa.fetch(c, 0, n) for c, n in fa.contigs.items()}


# ------------------------------------------------------------------------------------------- data build: FASTA
def test_data_build_catches_a_stale_index(world, tokenizer, tmp_path):
    """Rewrapped FASTA, old .fai made newer: same lengths, other byte offsets → other DNA in every row before."""
    from seq2gen.genome import write_fasta
    fai = (world / "genome.fa.fai").read_text()
    write_fasta(world / "genome.fa", fasta_records(world / "genome.fa"), width=70)
    (world / "genome.fa.fai").write_text(fai)                     # now newer than the FASTA, and wrong
    located(lambda: build(world, tokenizer, tmp_path / "d", ["promoter"]), "genome.fa", None,
            "index genome.fa.fai disagrees", "60/61 per line", "70/71", "delete")


def test_data_build_catches_a_space_in_a_sequence_line(world, tokenizer, tmp_path):
    lines = (world / "genome.fa").read_text().splitlines(keepends=True)
    lines[5] = lines[5][:30] + " " + lines[5][31:]
    (world / "genome.fa").write_text("".join(lines))
    located(lambda: build(world, tokenizer, tmp_path / "d", ["promoter"]), "genome.fa", 6,
            "invalid character ' ' at column 31 in sequence 'chr1' (base 271 of it)")


def test_data_build_reads_a_bgzip_fasta_and_refuses_plain_gzip(world, tokenizer, tmp_path):
    from Bio import bgzf
    plain = build(world, tokenizer, tmp_path / "plain", ["promoter"])
    with bgzf.BgzfWriter(world / "genome.fa.gz", "wb") as w:
        w.write((world / "genome.fa").read_bytes())
    (world / "genome.fa").unlink()
    (world / "genome.fa.fai").unlink()
    m = json.loads((world / "world.json").read_text())
    manifest(world, files={**m["files"], "genome": "genome.fa.gz"})
    bg = build(world, tokenizer, tmp_path / "bgzf", ["promoter"])
    assert (world / "genome.fa.gz.gzi").is_file() and (world / "genome.fa.gz.fai").is_file()
    for split in ("train", "test"):
        assert bg["promoter"][split]["prompt"] == plain["promoter"][split]["prompt"]
    (world / "genome.fa.gz").write_bytes(gzip.compress(gzip.decompress((world / "genome.fa.gz").read_bytes())))
    located(lambda: build(world, tokenizer, tmp_path / "gz", ["promoter"]), "genome.fa.gz", None,
            "plain-gzip FASTA", "bgzip")


def test_contigs_in_no_split_are_fine_and_split_names_are_checked(world, tokenizer, tmp_path):
    """chrM and an unplaced scaffold in the FASTA, in no split and in no bigWig: the chromatin build goes on."""
    from seq2gen.genome import write_fasta
    recs = fasta_records(world / "genome.fa")
    write_fasta(world / "genome.fa", {**recs, "chrM": "ACGT" * 4142, "chrUn_KI270302v1": "GATTACA" * 300})
    data = build(world, tokenizer, tmp_path / "d", ["chromatin"])
    assert len(data["chromatin"]["train"]) > 0
    assert set(data["chromatin"]["train"]["chrom"]) <= {"chr1", "chr2", "chr3", "chr4"}
    m = json.loads((world / "world.json").read_text())
    manifest(world, splits={**m["splits"], "test": ["6"]})
    located(lambda: build(world, tokenizer, tmp_path / "e", ["chromatin"]), "world.json", None,
            "splits name chromosome(s) 6 that the FASTA genome.fa does not have", "'6' is 'chr6'")


def test_crlf_fasta_reads_right_and_mixed_line_ends_are_located(tmp_path):
    from seq2gen.genome import Fasta
    (tmp_path / "w.fa").write_bytes(b">chr1\r\nACGTA\r\nCCGGT\r\nTT\r\n>chr2\r\nGGG\r\n")
    fa = Fasta(tmp_path / "w.fa")
    assert fa.contigs == {"chr1": 12, "chr2": 3} and fa.fetch("chr1", 3, 11) == "TACCGGTT"
    (tmp_path / "m.fa").write_bytes(b">chr1\r\nACGTA\nCCGGT\r\nTT\n")
    located(lambda: Fasta(tmp_path / "m.fa"), "m.fa", 3, "mixed line endings", "dos2unix")


def test_fasta_fetch_after_the_file_changed_names_contig_and_position(tmp_path):
    from seq2gen.genome import Fasta, write_fasta
    p = write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 100, "chr2": "GGCC" * 50})
    fa = Fasta(p)
    p.write_bytes(p.read_bytes()[:200])                          # cut after indexing
    located(lambda: fa.fetch("chr2", 10, 30), "g.fa", None, "chr2:11-30", "truncated after indexing")


# ------------------------------------------------------------------------------------------- peaks
def test_peak_tissue_not_in_the_manifest_is_located(world, tokenizer, tmp_path):
    lines = (world / "peaks.bed").read_text().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if line.rstrip().endswith("\tliver"))
    lines[k] = lines[k].replace("\tliver", "\tLiver")
    (world / "peaks.bed").write_text("".join(lines))
    located(lambda: build(world, tokenizer, tmp_path / "d", ["tf_binding"]), "peaks.bed", k + 1,
            "peak tissue 'Liver' is not a tissue of world.json", "1 row(s)", "did you mean 'liver'?")


# ------------------------------------------------------------------------------------------- bigWig
def _rewrite_bigwig(src: Path, dst: Path, rename=None, grow: dict | None = None, drop=()):
    from seq2gen.genome import BigWig, write_bigwig
    bw = BigWig(src)
    chroms = {(rename or {}).get(c, c): n + (grow or {}).get(c, 0) for c, n in bw.chroms.items() if c not in drop}
    data = {}
    for c, n in bw.chroms.items():
        if c in drop:
            continue
        v = bw.values(c, 0, n)
        data[(rename or {}).get(c, c)] = np.r_[v, np.zeros((grow or {}).get(c, 0), np.float32)]
    bw.close()
    write_bigwig(dst, chroms, data)


def test_bigwig_of_another_assembly_is_an_error(world, tokenizer, tmp_path):
    _rewrite_bigwig(world / "liver.bw", world / "liver.bw", grow={"chr2": 1000})
    located(lambda: build(world, tokenizer, tmp_path / "d", ["chromatin"]), "liver.bw", None,
            "chr2 is", "bp in this bigWig but", "bp in the FASTA: the track is from another assembly")


def test_bigwig_with_ensembl_names_is_mapped_and_reported(world, tokenizer, tmp_path, caplog):
    ref = build(world, tokenizer, tmp_path / "ref", ["chromatin"])
    for t in ("liver", "heart", "brain", "lung", "kidney"):
        _rewrite_bigwig(world / f"{t}.bw", world / f"{t}.bw", rename={f"chr{i}": str(i) for i in range(1, 7)})
    with caplog.at_level(logging.WARNING, logger="seq2gen.tasks.worlddata"):
        got = build(world, tokenizer, tmp_path / "ens", ["chromatin"])
    assert "chromosome names: 6 by add 'chr' (e.g. 1→chr1)" in caplog.text
    for split in ("train", "validation"):
        assert got["chromatin"][split]["target"] == ref["chromatin"][split]["target"]


def test_bigwig_missing_a_chromosome_shows_its_names(world, tokenizer, tmp_path):
    _rewrite_bigwig(world / "heart.bw", world / "heart.bw", drop=("chr3",))
    located(lambda: build(world, tokenizer, tmp_path / "d", ["chromatin"]), "heart.bw", None,
            "chromosome(s) chr3 of the FASTA are not in this bigWig; it has: chr1, chr2, chr4, chr5, chr6")


# ------------------------------------------------------------------------------------------- expression
def _expression_ids(wdir, fn):
    df = pd.read_csv(wdir / "expression.tsv", sep="\t", dtype={"gene_id": str})
    df["gene_id"] = [fn(i, g) for i, g in enumerate(df["gene_id"])]
    df.to_csv(wdir / "expression.tsv", sep="\t", index=False, float_format="%.4f")


def test_expression_versions_are_reconciled_with_counts(world, tokenizer, tmp_path):
    ref = build(world, tokenizer, tmp_path / "ref", ["expression"], cap=None)
    _expression_ids(world, lambda i, g: f"{g}.{i % 7 + 1}")              # table versioned, GTF not
    got = build(world, tokenizer, tmp_path / "v", ["expression"], cap=None)
    for split in ("train", "validation", "test"):
        assert got["expression"][split]["target"] == ref["expression"][split]["target"]
        assert got["expression"][split]["name"] == ref["expression"][split]["name"]
    stats = json.loads((tmp_path / "v" / "data_config.json").read_text())["stats"]["expression"]
    n = len(pd.read_csv(world / "expression.tsv", sep="\t"))
    assert stats["expression rows matched after reconciling ID versions"] == n


def test_expression_ids_that_mostly_miss_the_gtf_are_an_error(world, tokenizer, tmp_path):
    _expression_ids(world, lambda i, g: g if i % 2 else f"ENSG{i:011d}")
    msg = located(lambda: build(world, tokenizer, tmp_path / "d", ["expression"]), "expression.tsv", None,
                  "rows of the expression table", "name a gene of the annotation", "unmatched e.g. ENSG00000000000",
                  "min_matched")
    assert "(50 %)" in msg or "(51 %)" in msg or "(49 %)" in msg


def test_expression_tissue_column_case_is_an_error(world, tokenizer, tmp_path):
    text = (world / "expression.tsv").read_text()
    (world / "expression.tsv").write_text(text.replace("\tliver\t", "\tLiver\t", 1))
    located(lambda: build(world, tokenizer, tmp_path / "d", ["expression"]), "expression.tsv", None,
            "no column for tissues ['liver']; it has: Liver, heart", "did you mean 'Liver'?")


def test_match_gene_ids_rules():
    from seq2gen.genome import match_gene_ids, strip_version
    assert strip_version(["ENSG00000223972.5", "ENSG00000182378.14_PAR_Y", "TP53"]).tolist() == [
        "ENSG00000223972", "ENSG00000182378_PAR_Y", "TP53"]
    gtf = ["ENSG1.3", "ENSG2.1", "ENSG3", "ENSG9.2_PAR_Y", "RP11-34P13.3", "RP11-34P13.7"]
    table = ["ENSG1", "ENSG2.4", "ENSG3", "ENSG9_PAR_Y", "RP11-34P13", "ENSG7"]
    m = match_gene_ids(table, gtf)
    assert m.mapping == {"ENSG3": "ENSG3", "ENSG1": "ENSG1.3", "ENSG2.4": "ENSG2.1", "ENSG9_PAR_Y": "ENSG9.2_PAR_Y"}
    assert m.counts == {"exact": 1, "version reconciled": 3, "ambiguous": 1, "unmatched": 1}
    assert "ENSG7" in m.unmatched and "version reconciled 3" in m.report()


def test_gtex_gct_expression(tmp_path):
    from seq2gen.genome import read_expression
    gct = ("#1.2\n2\t2\nName\tDescription\tLiver\tLung\n"
           "ENSG00000223972.5\tDDX11L1\t0.1\t2.5\nENSG00000227232.5\tWASH7P\t4\t5.25\n")
    (tmp_path / "e.gct").write_text(gct)
    df = read_expression(tmp_path / "e.gct")
    assert list(df.columns) == ["Liver", "Lung"] and df.index.tolist() == ["ENSG00000223972.5", "ENSG00000227232.5"]
    assert df.loc["ENSG00000227232.5", "Lung"] == 5.25
    (tmp_path / "g.gct.gz").write_bytes(gzip.compress(gct.replace("2\t2\n", "3\t2\n", 1).encode()))
    located(lambda: read_expression(tmp_path / "g.gct.gz"), "g.gct.gz", 2, "GCT declares 3 rows × 2 columns",
            "has 2 × 2")
    (tmp_path / "h.gct").write_text(gct.replace("Name\tDescription", "Name\tSymbol"))
    located(lambda: read_expression(tmp_path / "h.gct"), "h.gct", 3, "Name<TAB>Description")


# ------------------------------------------------------------------------------------------- readers
def test_chromosome_aliases_detected_and_reported():
    from seq2gen.genome import detect_aliases
    fasta = {"chr1": 10, "chr2": 10, "chrX": 10, "chrM": 5}
    m = detect_aliases(["1", "2", "X", "MT", "GL000220.1"], fasta)
    assert m.renamed == {"1": "chr1", "2": "chr2", "X": "chrX", "MT": "chrM"} and m.unmatched == ["GL000220.1"]
    assert m.counts == {"add 'chr'": 3, "mitochondrion": 1}
    assert m.report() == ("chromosome names: 3 by add 'chr' (e.g. 1→chr1), 1 by mitochondrion (e.g. MT→chrM); "
                          "1 unmatched (GL000220.1)")
    back = detect_aliases(["chr1", "chrM", "chrUn"], {"1": 1, "MT": 1})
    assert back.renamed == {"chr1": "1", "chrM": "MT"} and back.unmatched == ["chrUn"]
    assert detect_aliases(["chr1"], {"chr1": 1}).renamed == {}
    assert detect_aliases(["NC_000001.11"], {"chr1": 1}, extra={"NC_000001.11": "chr1"}).counts == {"table": 1}
    with pytest.raises(InputError, match="'1' and 'chr1' both map to 'chr1'"):
        detect_aliases(["1", "chr1"], {"chr1": 1}, path="x.bw")


def test_unknown_contig_hint_names_the_alias(tmp_path):
    from seq2gen.genome import read_bed
    (tmp_path / "p.bed").write_text("chr1\t0\t5\n1\t2\t8\n")
    located(lambda: read_bed(tmp_path / "p.bed", contigs={"chr1": 100}), "p.bed", 2, "unknown contig '1'",
            "'1' is 'chr1' in the FASTA")


def test_narrowpeak_reader(tmp_path):
    from seq2gen.genome import read_narrowpeak
    text = ("chr1\t100\t300\tpeak1\t1000\t.\t12.5\t-1\t3.1\t80\n"
            "chr1\t500\t600\tpeak2\t250\t.\t4.0\t7.2\t-1\t-1\n")
    (tmp_path / "a.narrowPeak").write_text(text)
    df = read_narrowpeak(tmp_path / "a.narrowPeak", contigs={"chr1": 1000})
    assert list(df.columns[:10]) == ["chrom", "start", "end", "name", "score", "strand", "signal", "p_value",
                                     "q_value", "peak"]
    assert df["summit"].tolist() == [180, 550] and df["p_value"].tolist() == [-1, 7.2]
    (tmp_path / "b.broadPeak").write_text("".join(line.rsplit("\t", 1)[0] + "\n" for line in text.splitlines()))
    located(lambda: read_narrowpeak(tmp_path / "b.broadPeak"), "b.broadPeak", 1, "looks like a broadPeak")
    (tmp_path / "c.narrowPeak").write_text(text.replace("\t80\n", "\t200\n"))
    located(lambda: read_narrowpeak(tmp_path / "c.narrowPeak"), "c.narrowPeak", 1,
            "summit offset (column 10) 200 is not -1 or within the peak (0..199)")
    (tmp_path / "e.narrowPeak").write_text("")
    assert len(read_narrowpeak(tmp_path / "e.narrowPeak")) == 0


def test_multisample_vcf_with_indels(tmp_path):
    from seq2gen.genome import Fasta, read_vcf, write_fasta
    fa = Fasta(write_fasta(tmp_path / "r.fa", {"chr1": "ACGTACGTTTGCA" * 8}))
    head = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n"
    body = ("chr1\t2\tdel\tCGT\tC\t50\tPASS\tAF=0.1\tGT\t0/1\t1/1\n"
            "chr1\t9\tins\tT\tTTGA\t.\tPASS\tAF=0.2\tGT:DP\t0/0:3\t0/1:9\n"
            "chr1\t11\tsnv\tG\tA\t.\t.\t.\tGT\t./.\t0|1\n")
    (tmp_path / "m.vcf").write_text(head + body)
    df = read_vcf(tmp_path / "m.vcf", fasta=fa)
    assert df.attrs["samples"] == ["S1", "S2"]
    assert df[["start", "end", "ref", "alt"]].values.tolist() == [[1, 4, "CGT", "C"], [8, 9, "T", "TTGA"],
                                                                   [10, 11, "G", "A"]]
    (tmp_path / "b.vcf").write_text(head + body.replace("\tCGT\tC\t", "\tCGA\tC\t"))
    located(lambda: read_vcf(tmp_path / "b.vcf", fasta=fa), "b.vcf", 3, "REF does not match r.fa at chr1:2")
    (tmp_path / "e.vcf").write_text(head + body.replace("chr1\t", "1\t"))          # Ensembl names, FASTA's chr1
    located(lambda: read_vcf(tmp_path / "e.vcf", fasta=fa), "e.vcf", 3, "contig '1' is not in r.fa")
    ens = read_vcf(tmp_path / "e.vcf", fasta=fa, aliases={"1": "chr1"})            # REF checked on chr1
    assert ens["chrom"].tolist() == ["chr1"] * 3 and ens["ref"].tolist() == df["ref"].tolist()
    (tmp_path / "f.vcf").write_text(head.replace("FORMAT\t", "") + body)
    located(lambda: read_vcf(tmp_path / "f.vcf"), "f.vcf", 2, "FORMAT and then at least one sample column")


def test_bgzip_fasta_reader(tmp_path):
    from Bio import bgzf

    from seq2gen.genome import Fasta, write_fasta
    rng = np.random.default_rng(0)
    recs = {f"chr{i}": "".join(rng.choice(list("ACGT"), 70_000 + 13 * i)) for i in (1, 2)}
    raw = write_fasta(tmp_path / "g.fa", recs).read_bytes()
    with bgzf.BgzfWriter(tmp_path / "g.fa.gz", "wb") as w:
        w.write(raw)
    fa = Fasta(tmp_path / "g.fa.gz")
    assert fa.bgzf and fa.contigs == {"chr1": 70_013, "chr2": 70_026}
    assert fa.fetch("chr2", 69_990, 70_030) == recs["chr2"][69_990:] + "N" * 4
    assert fa.fetch("chr1", 65_530, 65_560) == recs["chr1"][65_530:65_560]        # across a BGZF block boundary
    gzi = (tmp_path / "g.fa.gz.gzi").read_bytes()
    recs2 = {"chr1": recs["chr1"][::-1], "chr2": recs["chr2"]}               # same geometry, other blocks' contents
    with bgzf.BgzfWriter(tmp_path / "g.fa.gz", "wb") as w:
        w.write(write_fasta(tmp_path / "h.fa", recs2).read_bytes())
    (tmp_path / "g.fa.gz.gzi").write_bytes(gzi[:8] + bytes(len(gzi) - 8))    # a .gzi that points nowhere useful
    os.utime(tmp_path / "g.fa.gz.fai")
    located(lambda: Fasta(tmp_path / "g.fa.gz"), "g.fa.gz", None, ".gzi reads other bytes")
    shutil.copy(tmp_path / "g.fa.gz", tmp_path / "named.fa")
    located(lambda: Fasta(tmp_path / "named.fa"), "named.fa", None, "does not end in .gz or .bgz")


# ------------------------------------------------------------------------------------------- prompts
@pytest.fixture(scope="module")
def registry(tokenizer):
    from seq2gen.tasks import TaskRegistry
    return TaskRegistry.from_dir(vocab=tokenizer.vocab)


@pytest.mark.parametrize("task, prompt, fragment", [
    ("expression", "<task:expression> <dna> {384} </dna>", "part 2: expected a tissue token <tissue:…>, got <dna>"),
    ("expression", "<task:expression> <tissue:liver> <chr:5> <dna> {384} </dna>",
     "part 4: expected a position bin token <bin:NNNN>, got <dna>"),
    ("tf_binding", "<task:tf_binding> <tissue:liver> <dna> {256} </dna> <tissue:heart>",
     "part 6: stray token after the template: <tissue:heart>"),
    ("promoter", "<task:promoter> <dna> {384}", "part 4: expected </dna>, got the end of the prompt"),
    ("promoter", "<task:promoter> {384} </dna>", "part 2: expected <dna>, got 384 bases of DNA"),
    ("chromatin", "<task:chromatin> <tissue:liver> <dna> {399} </dna>",
     "the DNA has 399 bp; task chromatin reads 400-bp windows (anchor at offset 200)"),
    ("annotate", "<task:annotate> <dna> {384}{384} </dna>", "the DNA has 768 bp; task annotate reads at most "
     "480-bp windows"),
    ("variant_effect", "<task:variant_effect> <tissue:liver> <off:0040> <ref:A> <alt:G> <dna> {256} </dna>",
     "<off:0040> is 320 bp into a 256-bp window"),
    ("variant_effect", "<task:variant_effect> <tissue:liver> <off:0016> <alt:G> <ref:A> <dna> {256} </dna>",
     "part 4: expected a REF allele token <ref:…>, got <alt:G>"),
])
def test_prompt_structure_is_checked(registry, tokenizer, task, prompt, fragment):
    from seq2gen.tasks.promptcheck import check_prompt
    text = prompt.replace("{384}", "A" * 384).replace("{256}", "C" * 256).replace("{399}", "G" * 399)
    tokens = tokenizer.convert_ids_to_tokens(tokenizer.encode_prompt(text))
    with pytest.raises(InputError, match="prompt does not follow the template") as ei:
        check_prompt(registry.get(task), tokens, tokenizer.vocab.off_resolution)
    assert fragment in str(ei.value), str(ei.value)


def test_rendered_prompts_pass_the_check(world_dir, registry, tokenizer):
    """Every prompt the data pipeline renders fits its own template (span corruption's sentinels included)."""
    from seq2gen.data.build import sample_records
    from seq2gen.tasks import Renderer
    from seq2gen.tasks.promptcheck import check_prompt
    from seq2gen.tasks.worlddata import WorldData
    world = WorldData(world_dir)
    for name in registry.names:
        task = registry.get(name)
        recs = sample_records(world, task, max_per_task=3)["train"]
        r = Renderer(task, tokenizer.vocab)
        for rec in recs:
            pieces = r.prompt(rec)
            check_prompt(task, tokenizer.convert_ids_to_tokens(tokenizer.encode_prompt(" ".join(pieces))),
                         tokenizer.vocab.off_resolution)


# ------------------------------------------------------------------------------------------- train → evaluate
def test_train_on_a_data_folder_exports_what_evaluate_needs(world_dir, tokenizer, tmp_path, caplog):
    """`seq2gen train` with `data: DIR` (no export_files) → a model folder that Seq2Gen.from_pretrained loads."""
    import yaml

    from seq2gen.infer import Seq2Gen
    from seq2gen.train.__main__ import main
    build(world_dir, tokenizer, tmp_path / "data", ["promoter"], cap=16)
    tokenizer.save_pretrained(tmp_path / "tok")
    cfg = {"out_dir": str(tmp_path / "run"), "model": "tiny", "tokenizer": str(tmp_path / "tok"),
           "data": str(tmp_path / "data"), "max_steps": 2, "micro_batch_size": 4, "eval_every": 0,
           "save_every": 0, "eval_examples": 0, "progress": False, "deepspeed": "cpu_zero0"}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(cfg))
    with caplog.at_level(logging.INFO, logger="seq2gen.train"):
        assert main(["--config", str(tmp_path / "t.yaml")]) == 0
    assert "quantizers.json" in caplog.text and "tasks.json" in caplog.text and "from the data folder" in caplog.text
    m = Seq2Gen.from_pretrained(tmp_path / "run" / "model")
    assert m.registry.names == ["promoter"]
    assert (tmp_path / "run" / "model" / "tasks.json").read_text() == (tmp_path / "data" / "tasks.json").read_text()
