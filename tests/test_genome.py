"""Tests for seq2gen.genome: each reader on tiny real-format files written here, and each bad-input class.

Every error test asserts the message names the file and the line (``name:line:``), which is the module's contract.
"""
from __future__ import annotations

import gzip
import logging
import os
import pickle

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError
from seq2gen.genome import (BigWig, Fasta, atomic_write, exons, genes, introns, read_bed, read_expression, read_gtf,
                            read_text, read_vcf, reverse_complement, transcripts, tss, write_bigwig, write_fasta,
                            write_vcf)


def put(tmp_path, name: str, text: str | bytes):
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode() if isinstance(text, str) else text))
    elif isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def raises_at(fn, name: str, line: int | None, *fragments: str) -> str:
    """Call fn, expect InputError whose message names ``name:line`` and contains every fragment."""
    with pytest.raises(InputError) as e:
        fn()
    msg = str(e.value)
    where = f"{name}:{line}:" if line is not None else f"{name}:"
    assert where in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


# ---------------------------------------------------------------- FASTA

GOOD_FA = ">chr1 test sequence\nACGTACGTAC\nGGTTNNRYKM\nac\n>chr2\nacgtn\n"
#           chr1 = ACGTACGTAC GGTTNNRYKM AC (22 bp); chr2 = ACGTN


def test_fasta_fetch_pads_uppercases_and_builds_index(tmp_path):
    p = put(tmp_path, "g.fa", GOOD_FA)
    fa = Fasta(p)
    assert (tmp_path / "g.fa.fai").exists()
    assert fa.contigs == {"chr1": 22, "chr2": 5}
    assert fa.fetch("chr1", 0, 4) == "ACGT"
    assert fa.fetch("chr1", 8, 12) == "ACGG"            # across a line break
    assert fa.fetch("chr1", 18, 22) == "KMAC"           # lowercase → uppercase
    assert fa.fetch("chr2", -3, 2) == "NNNAC"           # left padding
    assert fa.fetch("chr2", 3, 8) == "TNNNN"            # right padding
    assert fa.fetch("chr2", -2, 7) == "NNACGTNNN"
    assert fa.fetch("chr2", 10, 12) == "NN" and fa.fetch("chr2", -4, -1) == "NNN"
    assert fa.fetch("chr1", 14, 22, strand="-") == "GTKMRYNN"  # IUPAC-aware reverse complement
    assert fa.fetch("chr2", 3, 7, strand="-") == "NNNA"
    assert reverse_complement("ACGTRYKMBVDHSWN") == "NWSDHBVKMRYACGT"
    assert pickle.loads(pickle.dumps(fa)).fetch("chr1", 0, 3) == "ACG"


def test_fasta_fetch_unknown_contig_lists_known(tmp_path):
    fa = Fasta(put(tmp_path, "g.fa", GOOD_FA))
    msg = raises_at(lambda: fa.fetch("chr9", 0, 5), "g.fa", None, "chr9", "chr1, chr2")
    assert "unknown contig" in msg


def test_write_fasta_index_matches_pyfaidx(tmp_path):
    p = write_fasta(tmp_path / "w.fa", {"a": "ACGT" * 10, "b": "GGC", "c": "T" * 7}, width=7)
    ours = (tmp_path / "w.fa.fai").read_text()
    os.remove(tmp_path / "w.fa.fai")
    fa = Fasta(p)
    assert (tmp_path / "w.fa.fai").read_text() == ours
    assert fa.fetch("a", 5, 12) == "CGTACGT" and fa.fetch("c", 0, 7) == "T" * 7
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.parametrize("text, line, fragment", [
    (">chr1\nACGT\n>chr2\nAC\n>chr1\nGG\n", 5, "duplicate sequence name 'chr1' (first defined at line 1)"),
    ("ACGT\n>chr1\nACGT\n", 1, "sequence line before the first '>' header"),
    (">chr1\nACGT\nACXT\n", 3, "invalid character 'X' at column 3"),
    (">chr1\nACGT\nAC-T\n", 3, "invalid character '-'"),
    (">chr1\nACGT\nAC\nACGT\n", 4, "line length differs"),
    (">chr1\nACGT\nACGTA\n", 3, "longer than line 2"),
    (">chr1\nACGT\n\nACGT\n", 4, "blank line (line 3)"),
    (">\nACGT\n", 1, "empty sequence name"),
])
def test_fasta_bad_input(tmp_path, text, line, fragment):
    p = put(tmp_path, "bad.fa", text)
    raises_at(lambda: Fasta(p), "bad.fa", line, fragment)


def test_fasta_empty_and_gzip(tmp_path):
    raises_at(lambda: Fasta(put(tmp_path, "empty.fa", "")), "empty.fa", None, "empty file")
    raises_at(lambda: Fasta(put(tmp_path, "blank.fa", "\n\n")), "blank.fa", 2, "no '>' sequence header")
    raises_at(lambda: Fasta(put(tmp_path, "z.fa.gz", GOOD_FA)), "z.fa.gz", None, "gunzip")


def test_fasta_pyfaidx_errors_are_wrapped_without_validation(tmp_path):
    p = put(tmp_path, "dup.fa", ">chr1\nACGT\n>chr1\nAC\n")
    raises_at(lambda: Fasta(p, validate=False), "dup.fa", None, "Duplicate key")
    p = put(tmp_path, "ragged.fa", ">chr1\nACGT\nAC\nACGT\nA\n")
    raises_at(lambda: Fasta(p, validate=False), "ragged.fa", 3, "not consistent")


def test_fasta_read_only_dir_tells_how_to_index(tmp_path, monkeypatch):
    p = put(tmp_path, "ro.fa", GOOD_FA)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path) == str(tmp_path) else
                        real_access(path, mode))
    raises_at(lambda: Fasta(p), "ro.fa", None, "samtools faidx", "pyfaidx")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_fasta_read_only_dir_real(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    p = put(d, "g.fa", GOOD_FA)
    d.chmod(0o555)
    try:
        raises_at(lambda: Fasta(p), "g.fa", None, "samtools faidx")
    finally:
        d.chmod(0o755)


# ---------------------------------------------------------------- BED

def test_read_bed_skips_headers_and_keeps_types(tmp_path):
    text = ("browser position chr1:1-100\ntrack name=peaks\n# comment\n"
            "chr1\t0\t10\tp1\t5\t+\t0\t10\t0\t12.5\n\nchr2\t5\t6\tp2\t.\t-\t5\t6\t0\t3\n")
    df = read_bed(put(tmp_path, "p.bed", text), contigs={"chr1": 10, "chr2": 6})
    assert list(df.columns) == ["chrom", "start", "end", "name", "score", "strand", "col7", "col8", "col9", "col10"]
    assert df["start"].tolist() == [0, 5] and df["end"].tolist() == [10, 6]
    assert df["start"].dtype == np.int64
    assert df["score"].iloc[0] == 5 and np.isnan(df["score"].iloc[1])
    assert df["col10"].tolist() == [12.5, 3.0]
    bed3 = read_bed(put(tmp_path, "b3.bed", "chr1\t1\t2\n"))
    assert list(bed3.columns) == ["chrom", "start", "end"] and bed3.iloc[0].tolist() == ["chr1", 1, 2]
    assert len(read_bed(put(tmp_path, "e.bed", "track name=x\n"))) == 0


@pytest.mark.parametrize("text, line, fragment", [
    ("chr1\t0\t10\n# c\nchr1\t5\n", 3, "expected at least 3"),
    ("chr1\t0\t10\nchr1\t0\t10\tx\n", 2, "all rows of a BED file must have the same number"),
    ("chr1\t0\t10\nchr1\t0\t1e3\n", 2, "end is not an integer: '1e3'"),
    ("chrom\tstart\tend\n", 1, "start is not an integer"),
    ("track x\nchr1\t0\t10\nchr1\t9\t5\n", 3, "end < start"),
    ("chr1\t-1\t10\n", 1, "negative start"),
    ("chr1\t0\t5\tn\t0\t*\n", 1, "strand must be"),
])
def test_read_bed_bad_input(tmp_path, text, line, fragment):
    p = put(tmp_path, "bad.bed", text)
    raises_at(lambda: read_bed(p), "bad.bed", line, fragment)


def test_read_bed_contig_checks(tmp_path):
    p = put(tmp_path, "c.bed", "#h\nchr1\t0\t10\nchrZ\t0\t10\n")
    raises_at(lambda: read_bed(p, contigs={"chr1": 100}), "c.bed", 3, "unknown contig 'chrZ'", "chr1")
    p = put(tmp_path, "l.bed", "chr1\t0\t10\nchr1\t90\t101\n")
    raises_at(lambda: read_bed(p, contigs={"chr1": 100}), "l.bed", 2, "beyond the length of chr1 (100)")


def test_non_utf8_input_is_located(tmp_path):
    p = put(tmp_path, "latin.bed", b"chr1\t0\t10\tok\nchr1\t0\t10\tcaf\xe9\n")
    raises_at(lambda: read_bed(p), "latin.bed", 2, "not UTF-8", "byte offset 26", "iconv")
    p = put(tmp_path, "broken.bed.gz", b"")
    p.write_bytes(gzip.compress(b"chr1\t0\t1\n")[:-6])
    raises_at(lambda: read_text(p), "broken.bed.gz", None, "gzip")


# ---------------------------------------------------------------- GTF / GFF3

GTF = """#!genome-build test
chr1\tsrc\tgene\t11\t100\t.\t+\t.\tgene_id "G1"; gene_name "ABC"; gene_biotype "protein_coding";
chr1\tsrc\ttranscript\t11\t100\t.\t+\t.\tgene_id "G1"; transcript_id "T1";
chr1\tsrc\texon\t11\t20\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; exon_number 1;
chr1\tsrc\texon\t51\t100\t.\t+\t.\tgene_id "G1"; transcript_id "T1";
chr2\tsrc\texon\t201\t300\t5.5\t-\t.\tgene_id "G2"; transcript_id "T2";
chr2\tsrc\texon\t101\t150\t.\t-\t.\tgene_id "G2"; transcript_id "T2";
"""


def test_read_gtf_converts_coordinates_and_attributes(tmp_path):
    df = read_gtf(put(tmp_path, "a.gtf", GTF), contigs={"chr1": 100, "chr2": 300})
    assert list(df.columns[:12]) == ["chrom", "start", "end", "strand", "feature", "source", "score", "frame",
                                     "gene_id", "transcript_id", "gene_name", "gene_type"]
    assert df.loc[2, ["start", "end"]].tolist() == [10, 20]          # GTF 11..20 → [10, 20)
    assert df["gene_name"].tolist()[:4] == ["ABC"] * 4                # propagated from the gene line
    assert df.loc[0, "gene_type"] == "protein_coding" and pd.isna(df.loc[0, "transcript_id"])
    assert df.loc[4, "score"] == 5.5
    g = genes(df)
    assert g[["chrom", "start", "end", "strand", "gene_id"]].values.tolist() == [
        ["chr1", 10, 100, "+", "G1"], ["chr2", 100, 300, "-", "G2"]]  # G2 spans its exons (no gene line)
    assert transcripts(df)["transcript_id"].tolist() == ["T1", "T2"]
    assert exons(df)[["chrom", "start", "end"]].values.tolist() == [
        ["chr1", 10, 20], ["chr1", 50, 100], ["chr2", 100, 150], ["chr2", 200, 300]]
    assert introns(df)[["chrom", "start", "end", "transcript_id"]].values.tolist() == [
        ["chr1", 20, 50, "T1"], ["chr2", 150, 200, "T2"]]
    t = tss(df)
    assert t[["chrom", "pos", "strand", "gene_id"]].values.tolist() == [["chr1", 10, "+", "G1"],
                                                                         ["chr2", 299, "-", "G2"]]
    assert tss(df, by="transcript")["transcript_id"].tolist() == ["T1", "T2"]


GFF3 = """##gff-version 3
chr1\tsrc\tgene\t11\t100\t.\t+\t.\tID=gene:G1;Name=ABC;biotype=protein_coding;gene_id=G1
chr1\tsrc\tmRNA\t11\t100\t.\t+\t.\tID=transcript:T1;Parent=gene:G1;transcript_id=T1
chr1\tsrc\tmRNA\t11\t80\t.\t+\t.\tID=transcript:T3;Parent=gene:G1;transcript_id=T3
chr1\tsrc\texon\t11\t20\t.\t+\t.\tParent=transcript:T1,transcript:T3
chr1\tsrc\texon\t51\t100\t.\t+\t.\tParent=transcript:T1
chr1\tsrc\tCDS\t15\t20\t.\t+\t0\tID=cds1;Parent=transcript:T1
chr1\tsrc\texon\t61\t80\t.\t+\t.\tParent=transcript:T3;Note=a%3Bb
chr1\tsrc\tregion\t1\t100\t.\t.\t.\tID=chromosome:1
"""


def test_read_gff3_resolves_hierarchy(tmp_path):
    df = read_gtf(put(tmp_path, "b.gff3", GFF3))
    gene_rows = df[df["feature"] != "region"]
    assert (gene_rows["gene_id"] == "G1").all() and (gene_rows["gene_type"] == "protein_coding").all()
    assert pd.isna(df["gene_id"].iloc[-1])  # a childless region line is not a gene
    ex = exons(df)
    assert ex[["start", "end", "transcript_id"]].values.tolist() == [[10, 20, "T1"], [10, 20, "T3"],
                                                                    [50, 100, "T1"], [60, 80, "T3"]]
    assert sorted(map(tuple, introns(df)[["start", "end", "transcript_id"]].values.tolist())) == [
        (20, 50, "T1"), (20, 60, "T3")]
    assert genes(df)[["start", "end", "gene_id", "gene_name"]].values.tolist() == [[10, 100, "G1", "ABC"]]
    # detected from attribute syntax when the name says only .gff
    same = read_gtf(put(tmp_path, "c.gff", GFF3.split("\n", 1)[1]))
    assert same["transcript_id"].tolist() == df["transcript_id"].tolist()


@pytest.mark.parametrize("row, fragment", [
    ("chr1\tsrc\texon\t1\t10\t.\t+\tgene_id \"G\";", "expected 9 tab-separated columns"),
    ("chr1\tsrc\texon\t1\t10\t.\t+\t.\tgene_id \"G\";\textra", "expected 9"),
    ("chr1\tsrc\texon\tx\t10\t.\t+\t.\tgene_id \"G\";", "start is not an integer: 'x'"),
    ("chr1\tsrc\texon\t0\t10\t.\t+\t.\tgene_id \"G\";", "start must be >= 1"),
    ("chr1\tsrc\texon\t20\t10\t.\t+\t.\tgene_id \"G\";", "end < start (10 < 20)"),
    ("chr1\tsrc\texon\t1\t10\t.\t*\t.\tgene_id \"G\";", "strand must be one of"),
    ("chr1\tsrc\texon\t1\t10\t.\t+\t.\ttranscript_id \"T\";", "no gene_id"),
    ("chr1\tsrc\texon\t1\t10\t.\t+\t.\tID=e1;Parent=t1", "looks like GFF3"),
    ("chr1\tsrc\texon\t1\t10\tbig\t+\t.\tgene_id \"G\";", "score must be a number"),
    ("chrZ\tsrc\texon\t1\t10\t.\t+\t.\tgene_id \"G\";", "unknown contig 'chrZ'"),
    ("chr1\tsrc\texon\t1\t101\t.\t+\t.\tgene_id \"G\";", "beyond the length of chr1"),
])
def test_read_gtf_bad_input(tmp_path, row, fragment):
    text = "# header\n" + 'chr1\tsrc\tgene\t1\t10\t.\t+\t.\tgene_id "G";\n' + row + "\n"
    p = put(tmp_path, "bad.gtf", text)
    raises_at(lambda: read_gtf(p, contigs={"chr1": 100}), "bad.gtf", 3, fragment)


def test_read_gff3_unknown_parent(tmp_path):
    p = put(tmp_path, "bad.gff3", "##gff-version 3\nchr1\ts\texon\t1\t10\t.\t+\t.\tParent=nope\n")
    raises_at(lambda: read_gtf(p), "bad.gff3", 2, "Parent 'nope' is not the ID")


# ---------------------------------------------------------------- bigWig

@pytest.fixture
def bw_path(tmp_path):
    # chr1 (100 bp): [0,10)=1, [10,20)=3, gap, [30,40)=2, gap to the end; chr2 has no data
    p = tmp_path / "s.bw"
    write_bigwig(p, {"chr1": 100, "chr2": 50},
                 {"chr1": (np.array([0, 10, 30]), np.array([10, 20, 40]), np.array([1.0, 3.0, 2.0]))})
    return p


def test_bigwig_binned_mean_by_hand(bw_path):
    bw = BigWig(bw_path)
    assert bw.chroms == {"chr1": 100, "chr2": 50}
    out = bw.binned_mean("chr1", 0, 40, 4)
    assert out.dtype == np.float32 and out.tolist() == [1, 3, 0, 2]
    np.testing.assert_allclose(bw.binned_mean("chr1", 0, 30, 2), [(10 * 1 + 5 * 3) / 15, (5 * 3) / 15], rtol=1e-6)
    np.testing.assert_allclose(bw.binned_mean("chr1", 0, 30, 2, nan="nan"), [25 / 15, 3.0], rtol=1e-6)
    np.testing.assert_array_equal(bw.binned_mean("chr1", 0, 40, 4, nan="nan"), [1, 3, np.nan, 2])
    np.testing.assert_allclose(bw.binned_mean("chr1", 0, 10, 3), [1, 1, 1])        # unequal bins 3,3,4
    np.testing.assert_allclose(bw.binned_mean("chr1", -10, 10, 2), [0, 1])           # left of the chromosome
    np.testing.assert_array_equal(bw.binned_mean("chr1", 90, 110, 2, nan="nan"), [np.nan, np.nan])
    assert bw.binned_mean("chr2", 0, 10, 2).tolist() == [0, 0]
    assert pickle.loads(pickle.dumps(bw)).binned_mean("chr1", 10, 20, 1).tolist() == [3]


def test_bigwig_missing_policies(bw_path):
    bw = BigWig(bw_path)
    raises_at(lambda: bw.binned_mean("chr1", 15, 25, 2, nan="error"), "s.bw", None, "chr1:20", "no data")
    raises_at(lambda: bw.binned_mean("chr1", -5, 5, 1, nan="error"), "s.bw", None, "chr1:-5", "outside the chromosome")
    assert bw.binned_mean("chr1", 0, 10, 2, nan="error").tolist() == [1, 1]
    raises_at(lambda: bw.binned_mean("chrX", 0, 10, 2), "s.bw", None, "'chrX' is not in the bigWig", "chr1, chr2")
    assert bw.binned_mean("chrX", 0, 10, 2, missing_chrom="zero").tolist() == [0, 0]


def test_bigwig_per_base_writer_and_bad_files(tmp_path):
    v = np.full(20, np.nan)
    v[2:6], v[6:8], v[15:20] = 1.5, 2.5, 4.0
    write_bigwig(tmp_path / "pb.bw", {"chrA": 20}, {"chrA": v})
    np.testing.assert_array_equal(BigWig(tmp_path / "pb.bw").values("chrA", 0, 20), v.astype(np.float32))
    raises_at(lambda: BigWig(put(tmp_path, "x.bw", "chr1\t0\t10\t1\n")), "x.bw", None, "not a bigWig")
    (tmp_path / "cut.bw").write_bytes((tmp_path / "pb.bw").read_bytes()[:100])
    raises_at(lambda: BigWig(tmp_path / "cut.bw"), "cut.bw", None, "corrupt")


# ---------------------------------------------------------------- VCF

REF_FA = ">chr1\nACGTACGTAC\nGGTTACCATG\n"  # chr1 = ACGTACGTACGGTTACCATG (20 bp)
VCF_HEAD = ("##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1,Type=Integer,Description=\"depth\">\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")


def test_read_vcf_good(tmp_path):
    fa = Fasta(put(tmp_path, "r.fa", REF_FA))
    body = ("chr1\t2\trs1\tC\tT\t50\tPASS\tDP=10;AF=0.5;SOMATIC;NOTE=x\n"
            "chr1\t5\t.\tA\tATT\t.\tPASS\tDP=3;AF=0.25\n"
            "chr1\t11\t.\tggt\tg\t9.5\tq10\t.\n")
    for name in ("v.vcf", "v.vcf.gz"):
        df = read_vcf(put(tmp_path, name, VCF_HEAD + body), fasta=fa)
        assert df[["chrom", "start", "end", "pos", "ref", "alt"]].values.tolist() == [
            ["chr1", 1, 2, 2, "C", "T"], ["chr1", 4, 5, 5, "A", "ATT"], ["chr1", 10, 13, 11, "GGT", "G"]]
        assert df["id"].tolist() == ["rs1", ".", "."] and df["filter"].tolist() == ["PASS", "PASS", "q10"]
        np.testing.assert_array_equal(df["qual"], [50, np.nan, 9.5])
        np.testing.assert_array_equal(df["info_DP"], [10, 3, np.nan])
        assert df["info_SOMATIC"].tolist() == [True, False, False]
        assert df["info_NOTE"].tolist()[0] == "x" and df.attrs["skipped"] == {}
    assert len(read_vcf(put(tmp_path, "e.vcf", VCF_HEAD))) == 0


def test_write_vcf_roundtrip(tmp_path):
    body = "chr1\t2\trs1\tC\tT\t50\tPASS\tDP=10;AF=0.125;SOMATIC\nchr1\t5\t.\tA\tATT\t.\t.\tDP=3\n"
    df = read_vcf(put(tmp_path, "v.vcf", VCF_HEAD + body))
    for name in ("out.vcf", "out.vcf.gz"):
        back = read_vcf(write_vcf(tmp_path / name, df, contigs={"chr1": 20}))
        pd.testing.assert_frame_equal(back, df)
    assert "##INFO=<ID=SOMATIC,Number=0,Type=Flag" in (tmp_path / "out.vcf").read_text()


@pytest.mark.parametrize("record, fragments", [
    ("chr1\t2\t.\tC\tT\t.\tPASS", ["expected at least 8 tab-separated columns, found 7"]),
    ("chr1\t2x\t.\tC\tT\t.\tPASS\t.", ["POS must be a positive integer, got '2x'"]),
    ("chr1\t0\t.\tC\tT\t.\tPASS\t.", ["POS must be >= 1"]),
    ("chr1\t2\t.\tC\tU\t.\tPASS\t.", ["REF/ALT must be A/C/G/T/N"]),
    ("chr1\t2\t.\tC\tT,G\t.\tPASS\t.", ["multi-allelic ALT 'T,G'", "bcftools norm -m -"]),
    ("chr1\t2\t.\tC\t<DEL>\t.\tPASS\t.", ["symbolic/breakend ALT '<DEL>'"]),
    ("chr1\t2\t.\tC\t*\t.\tPASS\t.", ["symbolic/breakend ALT '*'"]),
    ("chr1\t2\t.\tC\tC[chr1:5[\t.\tPASS\t.", ["symbolic/breakend"]),
    ("chr1\t2\t.\tC\tC\t.\tPASS\t.", ["ALT equals REF"]),
    ("chr1\t2\t.\tC\t.\t.\tPASS\t.", ["REF/ALT must be A/C/G/T/N"]),
    ("chr1\t2\t.\tC\tC" + "A" * 60 + "\t.\tPASS\t.", ["longer than 50 bp"]),
    ("chr1\t2\t.\tA\tT\t.\tPASS\t.", ["REF does not match r.fa at chr1:2: VCF has 'A', FASTA has 'C'"]),
    ("chr9\t2\t.\tA\tT\t.\tPASS\t.", ["contig 'chr9' is not in r.fa"]),
    ("chr1\t19\t.\tTGA\tT\t.\tPASS\t.", ["extends past the contig end (20)"]),
])
def test_read_vcf_bad_records(tmp_path, record, fragments):
    fa = Fasta(put(tmp_path, "r.fa", REF_FA))
    p = put(tmp_path, "bad.vcf", VCF_HEAD + "chr1\t1\t.\tA\tG\t.\tPASS\t.\n" + record + "\n")
    raises_at(lambda: read_vcf(p, fasta=fa), "bad.vcf", 5, *fragments)


def test_read_vcf_header_errors(tmp_path):
    p = put(tmp_path, "nohead.vcf", "##fileformat=VCFv4.2\nchr1\t2\t.\tC\tT\t.\tPASS\t.\n")
    raises_at(lambda: read_vcf(p), "nohead.vcf", 2, "missing #CHROM header")
    p = put(tmp_path, "spaces.vcf", "#CHROM POS ID REF ALT QUAL FILTER INFO\n")
    raises_at(lambda: read_vcf(p), "spaces.vcf", 1, "malformed #CHROM header")


def test_read_vcf_skip_mode_counts(tmp_path, caplog):
    fa = Fasta(put(tmp_path, "r.fa", REF_FA))
    body = ("chr1\t1\t.\tA\tG\t.\tPASS\t.\n"          # ok
            "chr1\t2\t.\tC\tT,G\t.\tPASS\t.\n"        # multi-allelic
            "chr1\t3\t.\tG\tT,A\t.\tPASS\t.\n"        # multi-allelic
            "chr1\t4\t.\tA\tC\t.\tPASS\t.\n"          # REF mismatch (T in FASTA)
            "chr1\t4\t.\tT\t<INS>\t.\tPASS\t.\n"      # symbolic
            "chr1\t6\t.\tC\tCA\t.\tPASS\tDP=1\n")     # ok
    with caplog.at_level(logging.WARNING, logger="seq2gen.genome.vcf"):
        df = read_vcf(put(tmp_path, "s.vcf", VCF_HEAD + body), fasta=fa, on_error="skip")
    assert df["pos"].tolist() == [1, 6]
    assert df.attrs["skipped"] == {"multi-allelic": 2, "REF mismatch": 1, "symbolic allele": 1}
    assert "skipped 4 of 6 records" in caplog.text and "multi-allelic=2" in caplog.text


def test_read_vcf_ref_check_reads_blocks_and_keeps_located_errors(tmp_path, monkeypatch):
    """REFs are checked from a few sorted block reads per contig (tiny blocks here: many of them, across contig
    boundaries and unsorted records); the bases, and a mismatch's error (file:line, contig:POS, VCF vs FASTA), are
    those of one fetch per record."""
    from seq2gen.genome import vcf, write_fasta
    monkeypatch.setattr(vcf, "REF_BLOCK", 100)
    monkeypatch.setattr(vcf, "REF_GAP", 20)
    rng = np.random.default_rng(5)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 3000), ("chr2", 2000), ("chr3", 400))}
    fa = Fasta(write_fasta(tmp_path / "r.fa", seqs))
    recs = []
    for c in ("chr2", "chr1", "chr3", "chr1"):                      # contigs interleaved, positions unsorted
        for p in rng.integers(0, len(seqs[c]) - 10, 25):
            n = int(rng.integers(1, 4))
            recs.append([c, int(p) + 1, seqs[c][p:p + n], "ACGT"[("ACGT".index(seqs[c][p]) + 1) % 4]])
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for c, p, r, a in recs)
    df = read_vcf(put(tmp_path, "v.vcf", VCF_HEAD + body), fasta=fa)
    assert df[["chrom", "pos", "ref"]].values.tolist() == [[c, p, r] for c, p, r, _ in recs]
    chrom = np.array([r[0] for r in recs], dtype=object)
    start = np.array([r[1] - 1 for r in recs])
    end = start + np.array([len(r[2]) for r in recs])
    mask = rng.random(len(recs)) < 0.7
    got = vcf.fasta_bases(fa, chrom, start, end, mask)
    assert got == [fa.fetch(c, a, b) if m else "" for c, a, b, m in zip(chrom, start, end, mask)]
    for k in (61, 37):                                               # two wrong REFs: the first line is named
        c, p, r, a = recs[k]
        wrong = "ACGT"[("ACGT".index(r[0]) + 2) % 4] + r[1:]
        recs[k] = [c, p, wrong, a if a != wrong[0] else r[0]]
    body = "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\n" for c, p, r, a in recs)
    c, p, r, _ = recs[37]
    raises_at(lambda: read_vcf(put(tmp_path, "w.vcf", VCF_HEAD + body), fasta=fa), "w.vcf", 37 + 4,
              f"REF does not match r.fa at {c}:{p}: VCF has {r!r}, FASTA has {seqs[c][p - 1:p - 1 + len(r)]!r}")
    assert read_vcf(tmp_path / "w.vcf", fasta=fa, on_error="skip").attrs["skipped"] == {"REF mismatch": 2}


# ---------------------------------------------------------------- expression

def test_read_expression_tsv_csv_gz(tmp_path):
    tsv = "gene_id\tliver\theart\n\nG1\t1.5\t0\nG2\t-2\t3e2\n"
    df = read_expression(put(tmp_path, "e.tsv", tsv))
    assert df.index.name == "gene_id" and df.index.tolist() == ["G1", "G2"]
    assert df.to_dict("list") == {"liver": [1.5, -2.0], "heart": [0.0, 300.0]}
    assert df.dtypes.eq(np.float64).all()
    csv = 'gene,"liver",heart\n"G1",1.5,0\nG2,-2,300\n'
    pd.testing.assert_frame_equal(read_expression(put(tmp_path, "e.csv.gz", csv)), df)
    assert read_expression(put(tmp_path, "s.tsv", tsv), tissues=["heart"]).columns.tolist() == ["heart"]
    m = read_expression(put(tmp_path, "m.tsv", "g\tliver\nG1\tNA\nG2\t1\n"), allow_missing=True)
    assert np.isnan(m.loc["G1", "liver"]) and m.loc["G2", "liver"] == 1


@pytest.mark.parametrize("text, line, fragments, kw", [
    ("g\tliver\theart\nG1\t1\t2\nG2\t1\tlots\n", 3, ["column 'heart'", "not a number: 'lots'"], {}),
    ("g\tliver\nG1\t1\n\nG1\t2\n", 4, ["duplicate gene id 'G1' (first at line 2)"], {}),
    ("g\tliver\tliver\nG1\t1\t2\n", 1, ["duplicate tissue column 'liver'"], {}),
    ("g\tliver\nG1\t1\nG2\tNA\n", 3, ["column 'liver'", "missing", "allow_missing=True"], {}),
    ("g\tliver\nG1\tinf\n", 2, ["not finite"], {}),
    ("g\tliver\theart\nG1\t1\n", 2, ["row has 2 columns, the header has 3"], {}),
    ("g\tliver\n", 1, ["header but no gene rows"], {}),
    ("gene_id\n", 1, ["no tissue columns"], {}),
    ("g\tliver\theart\nG1\t1\t2\n", 1, ["requested tissues ['brain']", "liver, heart"], {"tissues": ["brain"]}),
])
def test_read_expression_bad_input(tmp_path, text, line, fragments, kw):
    p = put(tmp_path, "x.tsv", text)
    raises_at(lambda: read_expression(p, **kw), "x.tsv", line, *fragments)


def test_read_expression_empty_file(tmp_path):
    raises_at(lambda: read_expression(put(tmp_path, "x.tsv", "")), "x.tsv", None, "empty expression table")


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_replaces_or_leaves_old(tmp_path):
    p = tmp_path / "out.txt"
    with atomic_write(p) as f:
        f.write("new\n")
    assert p.read_text() == "new\n" and (p.stat().st_mode & 0o777) != 0o600
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write("partial")
            raise RuntimeError("boom")
    assert p.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_read_gtf_bare_values_and_gtf_style_gff(tmp_path):
    text = 'chr1\tsrc\texon\t5\t9\t.\t-\t2\tgene_id G7; transcript_id "T7"; gene_biotype "lncRNA";\n'
    for name in ("x.gtf", "x.gff"):
        df = read_gtf(put(tmp_path, name, text))
        assert df.loc[0, ["start", "end", "frame", "gene_id", "transcript_id", "gene_type"]].tolist() == [
            4, 9, "2", "G7", "T7", "lncRNA"]


def test_import_is_cheap_and_missing_files_are_input_errors(tmp_path):
    import subprocess
    import sys
    code = "import sys, seq2gen.genome; print('pyBigWig' in sys.modules, 'pyfaidx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]
    for fn in (Fasta, read_bed, read_gtf, read_vcf, read_expression, BigWig):
        raises_at(lambda: fn(tmp_path / "nope.txt"), "nope.txt", None, "no such")


def test_fasta_stale_index_is_caught(tmp_path):
    p = put(tmp_path, "s.fa", GOOD_FA)
    Fasta(p)
    fai = tmp_path / "s.fa.fai"
    fai.write_text(fai.read_text().replace("chr2\t5\t", "chr2\t4\t"))  # index newer than FASTA but wrong
    raises_at(lambda: Fasta(p), "s.fa", None, "disagrees", "'chr2'", "delete")
