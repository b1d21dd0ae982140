"""New conditioning tokens (tissues / cell types, tasks, species) added to a vocabulary without moving any id.

Why appended: ids follow the grammar's group order, so inserting a tissue into ``tissues.yaml`` would shift every
later id (species, positions, values, nucleotides) and silently scramble a trained model's embeddings. Added tokens
take the ids after the last existing one instead; a model trained before keeps every row of its embedding and only
grows new rows (``seq2gen.model.build.load_weights_resized``).
"""
from __future__ import annotations

import copy
import re
from pathlib import Path

from seq2gen.errors import InputError

KINDS = ("tissue", "task", "species")


def token_name(name: str) -> str:
    """``HepG2`` → ``hepg2``, ``Brain - Cortex`` → ``brain_cortex`` (the spelling a token uses)."""
    key = re.sub(r"[^a-z0-9.+]+", "_", str(name).strip().lower()).strip("_")
    if not key:
        raise InputError(f"cannot make a token name from {name!r}")
    return key


def new_tokens(vocab, names: dict[str, list[str]]) -> tuple[list[str], list[str]]:
    """``(tokens to add, tokens already known)`` for ``{kind: [names]}`` (names normalised, duplicates once)."""
    add, known = [], []
    for kind, values in names.items():
        if kind not in KINDS:
            raise InputError(f"unknown token kind {kind!r}", hint=f"one of {', '.join(KINDS)}")
        have = set(vocab.names(kind))
        for n in values:
            tok = f"<{kind}:{token_name(n)}>"
            if token_name(n) in have:
                known.append(tok)
            elif tok not in add:
                add.append(tok)
    return add, known


def extend_tokenizer(tokenizer, names: dict[str, list[str]]):
    """A copy of a ``Seq2GenTokenizer`` with the new tokens appended (ids ``len(tokenizer)``, ``+1``, …); returns
    ``(new tokenizer, added tokens, already known tokens)``. The input tokenizer is left unchanged."""
    from tokenizers import AddedToken

    from seq2gen.vocab.tokenizer import Seq2GenTokenizer
    add, known = new_tokens(tokenizer.vocab, names)
    hf = copy.deepcopy(tokenizer.hf)
    n0 = len(hf)
    hf.add_tokens([AddedToken(t, special=False, normalized=False) for t in add])
    got = [hf.convert_tokens_to_ids(t) for t in add]
    if got != list(range(n0, n0 + len(add))):       # never silently: the whole point is id stability
        raise InputError(f"added tokens got ids {got[:3]}…, expected {n0}…", hint="the tokenizer is inconsistent")
    meta = copy.deepcopy(tokenizer.meta)
    meta["vocab"]["added"] = list(meta["vocab"].get("added", [])) + add
    return Seq2GenTokenizer(hf, meta), add, known


def add_to_vocab_dir(vocab_dir, names: dict[str, list[str]]) -> list[str]:
    """Append names to ``vocab_dir/added.yaml`` (created if absent); returns the tokens added."""
    import yaml

    from seq2gen.utils.io import atomic_write
    from seq2gen.vocab.grammar import Vocabulary
    vocab = Vocabulary.from_dir(vocab_dir)
    add, _ = new_tokens(vocab, names)
    path = Path(vocab_dir) / "added.yaml"
    data = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    for tok in add:
        kind, name = tok[1:-1].split(":", 1)
        data.setdefault({"tissue": "tissues", "task": "tasks", "species": "species"}[kind], []).append(name)
    with atomic_write(path) as f:
        f.write("# Tokens appended after every other id (seq2gen vocab add): a trained model keeps its ids.\n")
        yaml.safe_dump(data, f, sort_keys=False)
    Vocabulary.from_dir(vocab_dir)         # the edited folder must still load
    return add
