"""Rows → Arrow a chunk at a time: what bounds the data build's memory (``seq2gen.data.build.build_task``).

A split's rows (the sampled candidate frame: coordinates, labels, values, no DNA) are cut into chunks — each run of
consecutive rows on one chromosome, cut every ``chunk_rows`` rows — kept in row order. Per chunk the DNA is fetched,
the seeded RC picks (drawn for the whole split up front, ``seq2gen.data.augment.rc_picks``) are applied, the rows are
rendered and encoded, and one record batch is appended to an Arrow stream file. Memory holds one chunk's records,
whatever the split's size; the rows are the same for any ``chunk_rows`` (tested in ``tests/test_build_stream.py``).
"""
from __future__ import annotations

import json

import numpy as np

from seq2gen.vocab.tokenizer import encode_pieces


def with_dna(world, part, values=None) -> list[dict]:
    """``part``'s rows as records with ``dna`` (fetched; table rows hold it already) and ``values`` (track rows)."""
    recs = part.to_dict("records")
    if "dna" not in part.columns:
        for r in recs:
            r["dna"] = world.fetch(r["chrom"], r["start"], r["end"], r["strand"])
    if values is not None:
        for r, v in zip(recs, values.tolist()):
            r["values"] = v
    return recs


def _ids_array(arrays: list[np.ndarray]):
    import pyarrow as pa
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    values = np.concatenate(arrays).astype(np.int32) if arrays else np.zeros(0, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.int32()))


def to_table(task, rows: list[dict], prompts, answers, ids, labels, targets):
    """The rows as a columnar ``pyarrow.Table`` (schema identical for no rows)."""
    import pyarrow as pa
    if task.family in ("regression", "variant"):
        target = pa.array(targets, pa.float64())
    elif task.family == "classification":
        target = pa.array(targets, pa.string())
    else:
        if task.family == "track":
            targets = [[round(v, 5) for v in t] for t in targets]
        target = pa.array([json.dumps(t, separators=(",", ":")) for t in targets], pa.string())
    col = lambda k, typ: pa.array([r[k] for r in rows], typ)  # noqa: E731
    return pa.table({
        "task": pa.array([task.name] * len(rows), pa.string()), "prompt": pa.array(prompts, pa.string()),
        "answer": pa.array(answers, pa.string()), "input_ids": _ids_array(ids), "labels": _ids_array(labels),
        "chrom": col("chrom", pa.string()), "start": col("start", pa.int64()), "end": col("end", pa.int64()),
        "strand": col("strand", pa.string()), "tissue": col("tissue", pa.string()), "target": target,
        "name": col("name", pa.string()), "rc": pa.array([bool(r.get("rc", False)) for r in rows], pa.bool_())})


def encode_records(task, tokenizer, render, records: list[dict]) -> tuple[list, list, list, list, list]:
    """Rendered and encoded records: ``(prompts, answers, input ids, label ids, targets)``."""
    prompts, answers, ids, labels, targets = [], [], [], [], []
    for r in records:
        p, a, t = render(r)
        prompts.append(" ".join(p))
        answers.append(" ".join(a))
        ids.append(encode_pieces(tokenizer, p))
        labels.append(encode_pieces(tokenizer, a))
        targets.append(t)
    return prompts, answers, ids, labels, targets


def chunk_slices(chrom, chunk_rows: int) -> list[slice]:
    """The chunks a split is built in, in row order: each run of consecutive rows on one chromosome, cut every
    ``chunk_rows`` rows."""
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    chrom = np.asarray(chrom).astype(str)
    if chrom.size == 0:
        return []
    edges = np.r_[0, np.flatnonzero(chrom[1:] != chrom[:-1]) + 1, chrom.size]
    return [slice(s, min(s + chunk_rows, b)) for a, b in zip(edges[:-1], edges[1:]) for s in range(a, b, chunk_rows)]


def split_passes(task, part, values, split: str, rc_seed: int) -> list[tuple]:
    """What a split renders, in order: ``(rows, track values or None, RC flags)`` per pass. Train reverse-complements
    its seeded picks (``rc_picks``, drawn for the whole split) in place, or appends them after the originals."""
    from seq2gen.data.augment import rc_picks
    keep = np.zeros(len(part), dtype=bool)
    if split != "train":
        return [(part, values, keep)]
    pick = rc_picks(len(part), task.rc_fraction, rc_seed)
    if task.rc_mode == "replace":
        return [(part, values, pick)]
    copies = part[pick].reset_index(drop=True)
    return [(part, values, keep), (copies, None if values is None else values[pick], np.ones(len(copies), bool))]


class SplitStats:
    """Row, RC and length counts of a split, added a chunk at a time (``stats[split]`` of ``build_task``)."""

    def __init__(self, family: str):
        self.family, self.rows, self.rc, self.max_in, self.max_lab = family, 0, 0, 0, 0
        self.labels: dict[str, int] = {}

    def add(self, records, ids, labels, targets) -> None:
        self.rows += len(records)
        self.rc += sum(bool(r.get("rc")) for r in records)
        self.max_in = max([self.max_in, *(x.size for x in ids)])
        self.max_lab = max([self.max_lab, *(x.size for x in labels)])
        if self.family == "classification":
            for t in targets:
                self.labels[str(t)] = self.labels.get(str(t), 0) + 1

    def done(self) -> dict:
        out = {"rows": self.rows, "rc": int(self.rc), "max_input_len": int(self.max_in),
               "max_label_len": int(self.max_lab)}
        if self.family == "classification":
            out["labels"] = dict(sorted(self.labels.items()))
        return out


def stream_split(world, task, tokenizer, render, passes, path, chunk_rows: int) -> dict:
    """Fetch, augment, render and encode a split a chunk at a time, appending each chunk's record batch to the Arrow
    stream file ``path``; only one chunk's records are in memory. Returns the split's stats."""
    import pyarrow as pa
    from seq2gen.data.augment import reverse_complement_record
    acc = SplitStats(task.family)
    schema = to_table(task, [], [], [], [], [], []).schema
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for part, values, flip in passes:
            for sl in chunk_slices(part["chrom"].to_numpy(), chunk_rows):
                recs = with_dna(world, part.iloc[sl], None if values is None else values[sl])
                recs = [reverse_complement_record(r) if f else r for r, f in zip(recs, flip[sl])]
                cols = encode_records(task, tokenizer, render, recs)
                acc.add(recs, *cols[2:])
                writer.write_table(to_table(task, recs, *cols))
    return acc.done()
