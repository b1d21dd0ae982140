"""The data build streams each split in chunks (``seq2gen.data.build``): same rows as the in-memory build it replaced.

``EXPECTED`` holds digests of datasets built on the session world (``conftest.world_dir``: 300 kb, seed 0) by the
build before streaming (commit f5f34b7, every split held in memory): per split, a sha256 of its features and all of
its columns in row order; then of the task's build stats (seconds aside) and of ``quantizers.json`` (its edges
rounded: ``quantizer_digest``). Any chunk size, and parallel workers, must reproduce them. Re-pinned when
``<task:tf_tissues>`` shifted the token ids of every group after the task tokens (2026-12-03): the rows decoded to
token strings were checked identical before and after; and tf_binding's when its bound rows began to answer their
prompt's tissue token instead of ``<yes>`` (2026-12-07): every other column of every split checked identical, and
answer / labels / target equal to ``<tissue:t>`` exactly where the old target was ``<yes>``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

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
        "annotate": "afaa1454eabbfa0f 58ca43717fe1c29a b6de4e518366be52 dbf40d6c34ac17ae",
        "chromatin": "e6182845ab4e4afb 51d7b5a2781a7017 8b23653b522c7b2d 71783f7f24e10313",
        "expression": "3a5757669cd7279b 6c5d741ae539fd6e 3b57679ef163b56a f22c5576d7bd0886",
        "promoter": "646cbca050c12730 39fa66b568ac3404 31e8546965792703 4c5badf9a42340b0",
        "span_corruption": "137518e11a116336 d7fbcfb7d960023f 28787dae7d67a2ef 2b8b66a5afc7178f",
        "tf_binding": "a9e211145e74bec0 0add53e433b68b4a c07b140dbf4d2778 09e21a6411dbc95a",
        "tf_tissues": "52bdb9e9a2bca501 35ff4c41d67ac8db 94bb83badb9f3cef 5d97b7671661abeb",
        "variant_effect": "cbc4079ab2072fab b4a5fee550b053db cf700f30bece352a 68d08b6509914edc",
    },
    "append50_seed3": {
        "chromatin": "c7600e98035bd0de 008f910e01dc965b aa3dfa6d5da47427 8f604e48e1f2a5c2",
        "variant_effect": "8b8c7aa65144bc7e 99191ab478f72b30 9b28800d9b61bc74 2510c2c9446f8f60",
        "span_corruption": "5e304dc3337faff8 ce2825b53a322444 517961d3953d16b9 6c308589496ebb11",
    },
    "templatecaps": {
        "annotate": "c5c269276319fd87 58ca43717fe1c29a b6de4e518366be52 cee51a95a8ad6895",
        "chromatin": "32daf5c9755a3fdb 2a7d0296b8d92816 267dbe744d77fa1f 937cf3da952f017a",
        "expression": "494b95d5d6620afc 385edace61b9cdb6 b9380f9f578c3274 ee391a4a2045993b",
        "promoter": "646cbca050c12730 39fa66b568ac3404 31e8546965792703 4c5badf9a42340b0",
        "span_corruption": "ea2503209edff3bd 4e0d9a7e6bfd323c f98cdd97839353b5 e66e1567fa033c83",
        "tf_binding": "8fd8ae4f4f3ab3dd d36c7f21527dc06e f65c024c0567ac55 464f1c48f538c919",
        "tf_tissues": "93c411a77d5a5ebe 35ff4c41d67ac8db 94bb83badb9f3cef d6e47d7015a4cb06",
        "variant_effect": "44c1c50aea3a12bf 9fc735fb01c8fee3 ea52c69d08c06481 30d4f9dda5d8e933",
    },
}
# quantizer_digest of quantizers.json (edges at 7 significant digits); re-pinned 2026-12-07 when the bit-exact file
# digest broke on another numpy build / CPU (AVX-512 EPYC) with every row digest above unchanged
QUANTIZERS = {"capped60": "e0d22fd59d328362", "append50_seed3": "8d3c252fcf140dcc", "templatecaps": "dd39121a0abf174f"}


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
    return digests(data, out), quantizer_digest(out / "quantizers.json")


def quantizer_digest(path) -> str:
    """Digest of ``quantizers.json`` with its edges at 7 significant digits: ``np.quantile`` / ``np.log1p`` differ
    in the last bits between numpy builds and CPU dispatch (AVX2 vs AVX-512), which moves no row (the row digests
    above are bit-exact) — the edges are fitted on float32 tracks, so 7 digits keep what the data can tell."""
    q = json.loads(Path(path).read_text())
    return _sha({k: {**v, "edges": [float(f"{x:.7g}") for x in v.get("edges", [])]} for k, v in q.items()})


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
