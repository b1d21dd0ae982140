"""Learn DNA pieces with the sentencepiece library (DNABERT-2 style), for the ``sentencepiece`` nucleotide mode.

The learned (piece, score) list becomes a ``tokenizers`` Unigram model inside the one ``tokenizer.json``, so a
model trained with it needs no ``.model`` file beside it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError


def _sequences(fasta, chunk: int, max_bases: int) -> list[str]:
    if isinstance(fasta, (str, os.PathLike)):   # reading files is seq2gen.genome's job, a later layer
        raise InputError("sentencepiece pieces are learned from sequences, not a path", path=fasta,
                         hint="pass fasta=seq2gen.genome.Fasta(path).sequences(), or use `seq2gen vocab build "
                              "--fasta FILE`")
    seqs = (str(s).upper() for s in fasta)
    out, total = [], 0
    for s in seqs:
        for i in range(0, len(s), chunk):
            piece = s[i:i + chunk].replace("N", " ").split()
            out.extend(p for p in piece if len(p) >= 8)
            total += chunk
            if total >= max_bases:
                return out
    return out


def train_pieces(fasta, bases: list[str], vocab_size: int = 1024, model_type: str = "unigram",
                 max_piece_length: int = 16, max_sentence_length: int = 4096, max_bases: int = 20_000_000,
                 seed: int = 0, **_ignored) -> list[tuple[str, float]]:
    """(piece, log-prob score) pairs learned on the sequences of ``fasta`` (path or list of strings)."""
    import sentencepiece as spm

    if model_type not in ("unigram", "bpe"):
        raise InputError(f"sentencepiece model_type must be unigram or bpe, got {model_type!r}")
    seqs = _sequences(fasta, max_sentence_length, max_bases)
    if sum(map(len, seqs)) < 10 * vocab_size:
        raise InputError(f"too little DNA ({sum(map(len, seqs))} bases) to learn {vocab_size} pieces",
                         hint="give a larger FASTA or a smaller vocab_size")
    rng = np.random.default_rng(seed)
    rng.shuffle(seqs)
    spm.set_random_generator_seed(seed)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "dna.txt"
        text.write_text("\n".join(seqs))
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(Path(tmp) / "dna"), vocab_size=vocab_size, model_type=model_type,
            character_coverage=1.0, max_sentencepiece_length=max_piece_length, add_dummy_prefix=False,
            split_by_whitespace=True, required_chars="".join(bases), bos_id=-1, eos_id=-1, unk_id=0,
            max_sentence_length=max_sentence_length + 1, shuffle_input_sentence=False, seed_sentencepiece_size=100000,
            num_threads=1, minloglevel=2, normalization_rule_name="identity")
        sp = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "dna.model"))
        pieces = [(sp.id_to_piece(i), float(sp.get_score(i))) for i in range(sp.get_piece_size())
                  if not sp.is_unknown(i) and not sp.is_control(i)]
    return [(p, s) for p, s in pieces if set(p) <= set("ACGTN")]
