"""Pad tokenised rows into T5 batches.

Rows are mappings with ``input_ids`` and ``labels`` (lists of ints; labels already end with EOS) and optionally
``task_id`` (int). The batch is a dict of torch tensors: ``input_ids`` and ``attention_mask`` padded with the pad
id / 0, ``labels`` padded with ``label_pad`` (-100, ignored by the loss), and ``task_ids`` when rows carry one.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from seq2gen.errors import InputError


class Seq2GenCollator:
    """``Seq2GenCollator(pad_id, label_pad=-100, pad_to_multiple_of=None)``; ``pad_id`` may also be a tokenizer."""

    def __init__(self, pad_id: int | Any, label_pad: int = -100, pad_to_multiple_of: int | None = None):
        if not isinstance(pad_id, int):          # a tokenizer
            pad_id = getattr(pad_id, "pad_token_id", None)
            if pad_id is None:
                raise InputError("Seq2GenCollator needs a pad id or a tokenizer with a pad token")
        if pad_to_multiple_of is not None and pad_to_multiple_of < 1:
            raise InputError(f"pad_to_multiple_of must be >= 1, got {pad_to_multiple_of}")
        self.pad_id = int(pad_id)
        self.label_pad = int(label_pad)
        self.pad_to_multiple_of = pad_to_multiple_of

    def _length(self, n: int) -> int:
        m = self.pad_to_multiple_of
        return n if not m else -(-n // m) * m

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict:
        import torch

        if len(rows) == 0:
            raise InputError("cannot collate an empty batch")
        for i, row in enumerate(rows):
            for key in ("input_ids", "labels"):
                if key not in row:
                    raise InputError(f"batch row {i} has no {key!r} column", hint="tokenise the dataset first")
            if len(row["input_ids"]) == 0 or len(row["labels"]) == 0:
                raise InputError(f"batch row {i} has empty input_ids or labels")
        n = len(rows)
        src_len = self._length(max(len(r["input_ids"]) for r in rows))
        tgt_len = self._length(max(len(r["labels"]) for r in rows))
        input_ids = torch.full((n, src_len), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((n, src_len), dtype=torch.long)
        labels = torch.full((n, tgt_len), self.label_pad, dtype=torch.long)
        for i, row in enumerate(rows):
            src, tgt = row["input_ids"], row["labels"]
            input_ids[i, :len(src)] = torch.as_tensor(src, dtype=torch.long)
            attention_mask[i, :len(src)] = 1
            labels[i, :len(tgt)] = torch.as_tensor(tgt, dtype=torch.long)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        has_task = ["task_id" in r for r in rows]
        if any(has_task):
            if not all(has_task):
                raise InputError("some batch rows have 'task_id' and others do not")
            batch["task_ids"] = torch.as_tensor([int(r["task_id"]) for r in rows], dtype=torch.long)
        return batch
