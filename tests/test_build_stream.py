"""The data build streams each split in chunks (``seq2gen.data.build``): same rows as the in-memory build it replaced.

``EXPECTED`` holds digests of datasets built on the session world (``conftest.world_dir``: 300 kb, seed 0) by the
build before streaming (commit f5f34b7, every split held in memory): per split, a sha256 of its features and all of
its columns in row order; then of the task's build stats (seconds aside) and of ``quantizers.json``. Any chunk size,
and parallel workers, must reproduce them.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from seq2gen.data.build import CONFIG_FILE, build_datasets
from seq2gen.tasks import TaskRegistry

SPLITS = ("train", "validation", "test")
CASES = {                           # build_datasets arguments; "append": every task augments by appending RC copies
    "capped60": dict(max_per_task=60),
    "append50_seed3": dict(max_per_task=50, seed=3, tasks=["chromatin", "variant_effect", "span_corruption"],
                           append=True),
    "templatecaps": dict(),         # the templates' own caps: more candidates than these rows on this world
}
EXPECTED = {                        # split digests train, validation, test, then the stats' digest
    "capped60": {
        "annotate": "ff9a70ca22f6e8b8 cdb17c328b281e2e 2d6a5dbe457b3939 dbf40d6c34ac17ae",
        "chromatin": "eb7a4ee7a9291b55 a0ee47e00e802762 b4a3c3809596d0bf 71783f7f24e10313",
        "expression": "11060e05e8bdfaa9 550e16df0aef29e6 699ea776ea329ac4 f22c5576d7bd0886",
        "promoter": "13d25829cef18982 4f394d42c23885de 02191d87973a4e0b 4c5badf9a42340b0",
        "span_corruption": "8d469aa275d51a7a ead7d33afeaf6041 6ec222c9d29d5643 2b8b66a5afc7178f",
        "tf_binding": "ebf069d9036e2aca ec5938ebee512c03 793f025bc1e3e4e8 dabd067ca44506a2",
        "variant_effect": "d7bf17fa32875b56 7de04c955f5119b5 771587b97d8c5965 68d08b6509914edc",
    },
    "append50_seed3": {
        "chromatin": "92094de793c58955 766cb76950f622c4 6331787462745f80 8f604e48e1f2a5c2",
        "variant_effect": "7818340cb2c05ce6 7684b6bc27ca2f6a 95caac1421eea778 2510c2c9446f8f60",
        "span_corruption": "b916146c9e4b6eff 815ea95275eb0089 b2e64a28257c6635 6c308589496ebb11",
    },
    "templatecaps": {
        "annotate": "891b8d105d9b5ab2 cdb17c328b281e2e 2d6a5dbe457b3939 cee51a95a8ad6895",
        "chromatin": "249efb838e7d385d 1e5c9d7499ef623e d68b58a7d0407ef2 937cf3da952f017a",
        "expression": "f51c6a998df3c875 5028ab256b896cc4 8ffe21eab76c503b ee391a4a2045993b",
        "promoter": "13d25829cef18982 4f394d42c23885de 02191d87973a4e0b 4c5badf9a42340b0",
        "span_corruption": "7794c5d3b9b7082c 5d7815031d3ab601 b5f2d06f66eaa854 e66e1567fa033c83",
        "tf_binding": "498b1bde95893c25 bf1c16816844d73a beb1fba73be03593 37481a885db4c6ae",
        "variant_effect": "1083a77a25c489ac 62ff22c312d7d46f d2015070182648e5 30d4f9dda5d8e933",
    },
}
QUANTIZERS = {"capped60": "7dc318d5dd766181", "append50_seed3": "dc479604d520a95f", "templatecaps": "cbfed442aed87d67"}


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def digests(data: dict, out) -> dict[str, str]:
    stats = json.loads((out / CONFIG_FILE).read_text())["stats"]
    got = {}
    for name, dd in data.items():
        st = {k: v for k, v in stats[name].items() if k != "seconds"}
        got[name] = " ".join([_sha([dd[s].features.to_dict(), dd[s].to_dict()]) for s in SPLITS] + [_sha(st)])
    return got


def build_case(case, world_dir, tokenizer, out, **extra):
    kw = dict(CASES[case])
    reg = TaskRegistry.from_dir(vocab=tokenizer.vocab)
    if kw.pop("append", False):
        for name in kw["tasks"]:
            reg.override(name, rc_mode="append")
    data = build_datasets(world_dir, reg, tokenizer, out, progress=False, **kw, **extra)
    return digests(data, out), hashlib.sha256((out / "quantizers.json").read_bytes()).hexdigest()[:16]


@pytest.mark.parametrize("chunk_rows", [7, 10 ** 9])
@pytest.mark.parametrize("case", list(CASES))
def test_stream_build_rows_identical_to_the_in_memory_build(case, chunk_rows, world_dir, tokenizer, tmp_path):
    got, quant = build_case(case, world_dir, tokenizer, tmp_path / "d", chunk_rows=chunk_rows)
    assert got == EXPECTED[case]
    assert quant == QUANTIZERS[case]


def test_parallel_workers_stream_the_same_rows(world_dir, tokenizer, tmp_path):
    got, quant = build_case("capped60", world_dir, tokenizer, tmp_path / "d", chunk_rows=7, num_proc=2)
    assert got == EXPECTED["capped60"] and quant == QUANTIZERS["capped60"]


def test_chunks_hold_one_chromosome_and_keep_the_order():
    from seq2gen.data.stream import chunk_slices
    chrom = np.array(["chr1"] * 10 + ["chr2"] * 3 + ["chr1"] * 2 + ["chr3"])
    sl = chunk_slices(chrom, 4)
    assert [(s.start, s.stop) for s in sl] == [(0, 4), (4, 8), (8, 10), (10, 13), (13, 15), (15, 16)]
    assert all(len(set(chrom[s])) == 1 and s.stop - s.start <= 4 for s in sl)
    assert chunk_slices(chrom[:0], 4) == []
    with pytest.raises(ValueError, match="chunk_rows"):
        chunk_slices(chrom, 0)


def test_memory_holds_one_chunk(world_dir, tokenizer, tmp_path, monkeypatch):
    """Rows are fetched and rendered a chunk at a time: no call sees more than ``chunk_rows`` records, and the
    splits on disk are the concatenation of the chunks."""
    import seq2gen.data.stream as stream
    seen = []
    real = stream.encode_records

    def spy(task, tok, render, recs):
        seen.append((len(recs), {r["chrom"] for r in recs}))
        return real(task, tok, render, recs)
    monkeypatch.setattr(stream, "encode_records", spy)
    reg = TaskRegistry.from_dir(vocab=tokenizer.vocab).subset(["chromatin"])
    data = build_datasets(world_dir, reg, tokenizer, tmp_path / "d", max_per_task=60, chunk_rows=5,
                          progress=False)
    assert max(n for n, _ in seen) <= 5 and all(len(c) == 1 for _, c in seen)
    assert sum(n for n, _ in seen) == sum(len(data["chromatin"][s]) for s in SPLITS)
    assert len(data["chromatin"]["train"]) == 60
    assert not [p for p in (tmp_path / "d").rglob("*") if ".chunks-" in p.name]      # the chunk files are gone
