"""Tests for seq2gen.genome.tables: the labelled-sequence reader on tiny files written here, each bad-input class
(message names ``file:line``), seeded stratified splits and deduplication."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError
from seq2gen.genome import read_sequence_table, split_table


def put(tmp_path, name: str, text: str):
    p = tmp_path / name
    if name.endswith(".gz"):
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def raises_at(fn, name: str, line: int | None, *fragments: str) -> str:
    with pytest.raises(InputError) as e:
        fn()
    msg = str(e.value)
    assert (f"{name}:{line}:" if line is not None else f"{name}:") in msg, msg
    for f in fragments:
        assert f in msg, msg
    return msg


def test_csv_gz_with_comments_blank_lines_and_line_numbers(tmp_path):
    p = put(tmp_path, "t.csv.gz", "sequence,label\n# a comment\nACGT,1\n\nacgtn,0\nACGTRYKM,1\n")
    df = read_sequence_table(p)
    assert list(df.columns) == ["sequence", "label", "line"]
    assert df["sequence"].tolist() == ["ACGT", "acgtn", "ACGTRYKM"]  # kept as written; tokenizer normalises
    assert df["label"].dtype == np.int64 and df["label"].tolist() == [1, 0, 1]
    assert df["line"].tolist() == [3, 5, 6]


def test_tsv_sniffed_extra_cols_values_and_string_classes(tmp_path):
    p = put(tmp_path, "t.txt", "id\tseq\ty\tcell\nr1\tACGT\t0.5\tK562\nr2\tGGCC\t-1e3\tHepG2\n")
    df = read_sequence_table(p, seq_col="seq", label_col="y", kind="value", extra_cols=["cell", "id"])
    assert list(df.columns) == ["sequence", "label", "cell", "id", "line"]
    assert df["label"].tolist() == [0.5, -1000.0] and df["cell"].tolist() == ["K562", "HepG2"]
    p2 = put(tmp_path, "c.csv", "sequence,label\nACGT,promoter\nTTTT,background\n")
    assert read_sequence_table(p2)["label"].tolist() == ["promoter", "background"]
    p3 = put(tmp_path, "semi.dat", "sequence;label\nACGT;1\n")
    assert read_sequence_table(p3, sep=";")["label"].tolist() == [1]
    p4 = put(tmp_path, "bom.csv", "\ufeffsequence,label\r\nACGT,1\r\n")  # spreadsheet export: BOM + CRLF
    assert read_sequence_table(p4)["sequence"].tolist() == ["ACGT"]


@pytest.mark.parametrize("text,line,fragments", [
    ("seq,lab\nACGT,1\n", 1, ["missing column 'sequence'", "'seq', 'lab'"]),
    ("sequence,label\nACGT,1\n,0\n", 3, ["empty sequence"]),
    ("sequence,label\nACGT,1\nACGXT,0\n", 3, ["invalid character 'X' at position 4"]),
    ("sequence,label\nACGT,1\nAC GT,0\n", 3, ["invalid character ' ' at position 3"]),
    ("sequence,label\nACGT,1\nACGT,NA\n", 3, ["missing label 'NA'"]),
    ("sequence,label\nACGT,1\nACGT,\n", 3, ["missing label"]),
    ("sequence,label\nACGT,1\nACGT,1,2\n", 3, ["expected 2 fields", "found 3"]),
    ("sequence,label\n", 1, ["no rows"]),
])
def test_bad_tables_name_file_and_line(tmp_path, text, line, fragments):
    p = put(tmp_path, "bad.csv", text)
    raises_at(lambda: read_sequence_table(p), "bad.csv", line, *fragments)


def test_value_labels_must_be_finite_numbers(tmp_path):
    p = put(tmp_path, "v.csv", "sequence,label\nACGT,1.5\nACGT,high\n")
    raises_at(lambda: read_sequence_table(p, kind="value"), "v.csv", 3, "'high' is not a finite number")
    p = put(tmp_path, "w.csv", "sequence,label\nACGT,1.5\nACGT,inf\n")
    raises_at(lambda: read_sequence_table(p, kind="value"), "w.csv", 3, "not a finite number")
    with pytest.raises(ValueError):
        read_sequence_table(p, kind="regression")


def test_fasta_with_header_labels(tmp_path):
    p = put(tmp_path, "s.fa", ">r1 label=1 cell=K562\nACGT\nAC\n>r2 label=0 cell=HeLa\nggnn\n")
    df = read_sequence_table(p, extra_cols=["cell"])
    assert df["name"].tolist() == ["r1", "r2"] and df["sequence"].tolist() == ["ACGTAC", "ggnn"]
    assert df["label"].tolist() == [1, 0] and df["cell"].tolist() == ["K562", "HeLa"] and df["line"].tolist() == [1, 4]
    p = put(tmp_path, "m.fa", ">r1 label=1\nACGT\n>r2\nACGT\n")
    raises_at(lambda: read_sequence_table(p), "m.fa", 3, "'r2' has no 'label=…'")
    p = put(tmp_path, "e.fa", ">r1 label=1\nACGT\n>r2 label=0\n>r3 label=1\nAC\n")
    raises_at(lambda: read_sequence_table(p), "e.fa", 3, "empty sequence")
    p = put(tmp_path, "x.fa", ">r1 label=1\nACGT\nAC*T\n")
    raises_at(lambda: read_sequence_table(p), "x.fa", 1, "invalid character '*' at position 7")


def test_fasta_with_labels_table(tmp_path):
    fa = put(tmp_path, "s.fasta", ">r1\nACGT\n>r2\nTTTT\n")
    lab = put(tmp_path, "labels.tsv", "name\tlabel\nr2\t0.25\nr1\t3\nextra\t1\n")
    df = read_sequence_table(fa, kind="value", labels=lab)
    assert df["label"].tolist() == [3.0, 0.25]
    lab2 = put(tmp_path, "l2.tsv", "name\tlabel\nr1\t1\n")
    raises_at(lambda: read_sequence_table(fa, labels=lab2), "s.fasta", 3, "'r2' has no row in l2.tsv")
    lab3 = put(tmp_path, "l3.tsv", "name\tlabel\nr1\t1\nr2\t0\nr1\t0\n")
    raises_at(lambda: read_sequence_table(fa, labels=lab3), "l3.tsv", 4, "duplicate name 'r1'")


def test_split_is_stratified_seeded_disjoint_and_complete():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"sequence": [f"ACGT{i}" for i in range(1000)], "label": (rng.random(1000) < 0.2).astype(int)})
    a, b, c = split_table(df, (0.7, 0.1, 0.2), seed=3)
    assert (len(a), len(b), len(c)) == pytest.approx((700, 100, 200), abs=2)
    for part in (a, b, c):
        assert part["label"].mean() == pytest.approx(df["label"].mean(), abs=0.01)
    assert sorted(pd.concat([a, b, c])["sequence"]) == sorted(df["sequence"])
    again = split_table(df, (0.7, 0.1, 0.2), seed=3)
    assert all(x.equals(y) for x, y in zip((a, b, c), again))
    assert not split_table(df, (0.7, 0.1, 0.2), seed=4)[0].equals(a)
    vals = df.assign(label=rng.normal(size=1000))  # continuous labels: stratified by quantile bins
    v1, v2 = split_table(vals, (0.5, 0.5))
    assert abs(v1["label"].median() - v2["label"].median()) < 0.1
    with pytest.raises(ValueError):
        split_table(df, (0.7, 0.2))


def test_dedup_is_case_insensitive():
    from seq2gen.tasks.overlap import dedup
    df = pd.DataFrame({"sequence": ["ACGT", "acgg", "TTTT", "CCCC"], "label": [0, 1, 0, 1]})
    ref = pd.DataFrame({"sequence": ["acgt", "ACGG", "GGGG"], "label": [1, 1, 1]})
    rest, n = dedup(df, [ref])
    assert n == 2 and rest["sequence"].tolist() == ["TTTT", "CCCC"]
