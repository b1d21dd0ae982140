"""Build the HF tokenizer from the grammar and wrap it with validation and a fast DNA path.

Saved interface: a ``PreTrainedTokenizerFast`` (``tokenizer.json``) that ``AutoTokenizer.from_pretrained`` loads,
plus ``seq2gen_vocab.json`` (the grammar and nucleotide mode) so ``Seq2GenTokenizer.from_pretrained`` restores the
validating, vectorised front end. Grammar tokens are added tokens (matched before normalisation, never split);
only DNA goes through the normaliser (upper-case, IUPAC → N, U → T) and the nucleotide model.
"""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.vocab.dna import DnaIds, build_normaliser, normalise
from seq2gen.vocab.grammar import TOKEN_RE, Vocabulary

MODES = ("char", "kmer", "sentencepiece")
VOCAB_FILE = "seq2gen_vocab.json"


def _kmers(k: int) -> list[str]:
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def build_tokenizer(vocab: Vocabulary | str | os.PathLike | None = None, mode: str = "char", k: int | None = None,
                    fasta=None, seed: int = 0, **sp_options):
    """A ``Seq2GenTokenizer`` for the grammar in ``vocab`` with the given nucleotide ``mode``.

    ``sentencepiece`` mode learns its pieces on ``fasta``: sequences (e.g. ``seq2gen.genome.Fasta(path).sequences()``).
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    if not isinstance(vocab, Vocabulary):
        vocab = Vocabulary.from_dir(*(() if vocab is None else (vocab,)))
    if mode not in MODES:
        raise InputError(f"unknown nucleotide mode '{mode}'", hint=f"choose one of {', '.join(MODES)}")
    options = dict(vocab.modes.get(mode) or {})
    grammar = vocab.grammar_tokens
    bases = [b.upper() for b in vocab.bases]
    pieces: list[tuple[str, float]] = []
    if mode == "char":
        nucleotides = bases
    elif mode == "kmer":
        k = int(k or options.get("k", 6))
        options["k"] = k
        nucleotides = bases + _kmers(k)
    else:
        from seq2gen.vocab.pieces import train_pieces
        options.update(sp_options)
        if fasta is None:
            raise InputError("sentencepiece mode learns its pieces from DNA", hint="pass --fasta FILE")
        pieces = train_pieces(fasta, bases=bases, seed=seed, **options)
        nucleotides = bases + [p for p, _ in pieces if p not in bases]
    tokens = vocab.core_tokens + nucleotides + list(vocab.added)   # added tokens last: older ids keep their meaning
    ids = {t: i for i, t in enumerate(tokens)}
    unk = vocab.special["unk"]

    if mode == "sentencepiece" and options.get("model_type", "unigram") == "bpe":
        from transformers.convert_slow_tokenizer import generate_merges
        rank = {p: r for r, (p, _) in enumerate(pieces)}  # sentencepiece BPE lists pieces in merge order
        model = models.BPE(ids, generate_merges({**{b: -1 for b in bases}, **rank}), unk_token=unk)
        split = pre_tokenizers.WhitespaceSplit()
    elif mode == "sentencepiece":
        scores = dict(pieces)
        floor = min(scores.values(), default=0.0) - 10.0
        model = models.Unigram([(t, scores.get(t, floor)) for t in tokens], unk_id=ids[unk], byte_fallback=False)
        split = pre_tokenizers.WhitespaceSplit()
    else:
        model = models.WordLevel(ids, unk_token=unk)
        pattern = "." if mode == "char" else f"[ACGT]{{{options['k']}}}|."
        split = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                         pre_tokenizers.Split(Regex(pattern), behavior="isolated")])
    tok = Tokenizer(model)
    rules = [(b.lower(), b) for b in bases]
    rules += [(c, "N") for c in vocab.iupac_to_n] + [(c.lower(), "N") for c in vocab.iupac_to_n]
    rules += [(s, d) for s, d in vocab.rna.items()] + [(s.lower(), d) for s, d in vocab.rna.items()]
    tok.normalizer = normalizers.Sequence([normalizers.Replace(s, d) for s, d in rules])
    tok.pre_tokenizer = split
    specials = [vocab.special["pad"], vocab.special["eos"], unk]  # sentinels stay visible in decoded answers
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in grammar if t not in specials])
    eos = vocab.special["eos"]
    tok.post_processor = processors.TemplateProcessing(single=f"$A {eos}", pair=f"$A {eos} $B {eos}",
                                                       special_tokens=[(eos, ids[eos])])
    # Fuse DNA back into runs, then put one space around grammar tokens: "<task:x> <dna> ACGT </dna>".
    tok.decoder = decoders.Sequence([decoders.Fuse(),
                                     decoders.Replace(Regex(r"(?<=>)(?=[^\s])|(?<=[^\s])(?=<)"), " ")])
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=vocab.special["pad"], eos_token=eos, unk_token=unk,
                                 model_max_length=1 << 30)
    meta = {"mode": mode, "options": options, "vocab": vocab.to_dict()}
    return Seq2GenTokenizer(hf, meta)


class Seq2GenTokenizer:
    """Validating front end over the HF tokenizer; ``.hf`` is what models and ``AutoTokenizer`` see."""

    def __init__(self, hf, meta: dict):
        self.hf = hf
        self.meta = meta
        self.mode: str = meta["mode"]
        self.vocab = Vocabulary.from_dict(meta["vocab"])
        self.token_to_id: dict[str, int] = dict(hf.get_vocab())
        self.id_to_token = {i: t for t, i in self.token_to_id.items()}
        self.grammar = set(self.vocab.grammar_tokens)
        self.norm_lut = build_normaliser(self.vocab.bases, self.vocab.iupac_to_n, self.vocab.rna)
        self.eos_id = self.token_to_id[self.vocab.special["eos"]]
        self.pad_id = self.token_to_id[self.vocab.special["pad"]]
        base_ids = {b.upper(): self.token_to_id[b.upper()] for b in self.vocab.bases}
        if self.mode == "char":
            self._dna = DnaIds(base_ids)
        elif self.mode == "kmer":
            k = int(meta["options"]["k"])
            self._dna = DnaIds(base_ids, "kmer", k, kmer_offset=self.token_to_id["A" * k])
        else:
            self._dna = None  # learned pieces: the Rust model is the only segmenter

    # ---------------------------------------------------------------- persistence
    def save_pretrained(self, path: str | os.PathLike) -> None:
        path = Path(path)
        self.hf.save_pretrained(path)
        (path / VOCAB_FILE).write_text(json.dumps(self.meta, indent=1))

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> "Seq2GenTokenizer":
        from transformers import AutoTokenizer
        path = Path(path)
        if not (path / VOCAB_FILE).exists():
            raise InputError(f"no {VOCAB_FILE} here: not a seq2gen tokenizer directory", path=path,
                             hint="build one with `seq2gen vocab build --out DIR`")
        return cls(AutoTokenizer.from_pretrained(path), json.loads((path / VOCAB_FILE).read_text()))

    def __len__(self) -> int:
        return len(self.token_to_id)

    @property
    def pad_token_id(self) -> int:
        """HF spelling, so code written for ``PreTrainedTokenizerFast`` takes this tokenizer too."""
        return self.pad_id

    @property
    def eos_token_id(self) -> int:
        return self.eos_id

    # ---------------------------------------------------------------- encoding
    def dna_ids(self, seq: str, *, where: str = "sequence", offset: int = 0) -> np.ndarray:
        """Ids of one DNA string (validated; whitespace separates runs as in the HF pre-tokenizer)."""
        runs = seq.split()
        if self._dna is None:
            for r in runs:
                normalise(r, self.norm_lut, where=where, offset=offset + seq.find(r))
            return np.asarray(self.hf(" ".join(runs), add_special_tokens=False)["input_ids"], dtype=np.int64)
        out, start = [], 0
        for r in runs:
            start = seq.find(r, start)
            out.append(self._dna(normalise(r, self.norm_lut, where=where, offset=offset + start)))
            start += len(r)
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def token_ids(self, tokens: list[str]) -> list[int]:
        """Ids of grammar tokens, each checked (unknown tissue/task → error with "did you mean")."""
        for t in tokens:
            self.vocab.check_token(t, self.grammar)
        return [self.token_to_id[t] for t in tokens]

    def encode_parts(self, prefix: list[str], dna: str = "", suffix: list[str] = (), eos: bool = True) -> np.ndarray:
        """Ids for ``prefix-tokens <dna-run> suffix-tokens </s>``: the data pipeline's fast path."""
        parts = [np.asarray(self.token_ids(list(prefix)), dtype=np.int64), self.dna_ids(dna),
                 np.asarray(self.token_ids(list(suffix)), dtype=np.int64)]
        if eos:
            parts.append(np.asarray([self.eos_id], dtype=np.int64))
        return np.concatenate(parts)

    def encode_prompt(self, text: str, eos: bool = True) -> list[int]:
        """Validated ids of a prompt string; equal to ``self.hf(text).input_ids`` for valid prompts."""
        ids: list[np.ndarray] = []
        pos = 0
        for m in TOKEN_RE.finditer(text):
            self._encode_text(text[pos:m.start()], pos, ids)
            ids.append(np.asarray(self.token_ids([m.group(0)]), dtype=np.int64))
            pos = m.end()
        self._encode_text(text[pos:], pos, ids)
        if eos:
            ids.append(np.asarray([self.eos_id], dtype=np.int64))
        return np.concatenate(ids).tolist() if ids else []

    def _encode_text(self, chunk: str, offset: int, ids: list) -> None:
        if "<" in chunk or ">" in chunk:
            i = offset + max(chunk.find("<"), chunk.find(">"))
            raise InputError(f"malformed token near position {i} of the prompt: {chunk.strip()[:40]!r}",
                             hint="tokens look like <task:NAME>, with no spaces inside")
        if chunk.strip():
            ids.append(self.dna_ids(chunk, where="prompt", offset=offset))

    def __call__(self, texts: str | list[str], padding: bool = False, return_tensors: str | None = None,
                 add_special_tokens: bool = True):
        """HF-style call, validated like ``encode_prompt``: ``tok(p)["input_ids"]`` is ``encode_prompt(p)``.

        Returns a ``transformers.BatchEncoding`` (``input_ids``, ``attention_mask``) so code written for a
        ``PreTrainedTokenizerFast`` takes this tokenizer; a list of prompts gives lists, ``padding=True`` pads them
        on the right with ``<pad>`` (mask 0), ``return_tensors="pt" | "np"`` converts (a single prompt gets a batch
        axis, as in HF).
        """
        from transformers import BatchEncoding
        single = isinstance(texts, str)
        ids = [self.encode_prompt(t, eos=add_special_tokens) for t in ([texts] if single else texts)]
        mask = [[1] * len(i) for i in ids]
        if padding:
            width = max(map(len, ids), default=0)
            ids = [i + [self.pad_id] * (width - len(i)) for i in ids]
            mask = [m + [0] * (width - len(m)) for m in mask]
        if single and return_tensors is None:
            return BatchEncoding({"input_ids": ids[0], "attention_mask": mask[0]})
        return BatchEncoding({"input_ids": ids, "attention_mask": mask}, tensor_type=return_tensors)

    # ---------------------------------------------------------------- decoding
    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return self.hf.decode(list(map(int, ids)), skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, ids) -> list[str]:
        return [self.id_to_token[int(i)] for i in ids]

    def ids_of(self, tokens: list[str]) -> list[int]:
        """Ids of known tokens, without the user-facing checks (for building decoding constraints)."""
        return [self.token_to_id[t] for t in tokens]


def encode_pieces(tokenizer, pieces: list[str], eos: bool = True) -> np.ndarray:
    """Ids of rendered pieces (grammar tokens or DNA runs), the one encoding of training data, inference prompts and
    table evaluation; for ``tokens <dna> DNA </dna> tokens`` this is ``tokenizer.encode_parts``."""
    dna_at = [i for i, p in enumerate(pieces) if not p.startswith("<")]
    if len(dna_at) <= 1:
        i = dna_at[0] if dna_at else len(pieces)
        return tokenizer.encode_parts(pieces[:i], pieces[i] if dna_at else "", pieces[i + 1:], eos=eos)
    if tokenizer.mode == "char":      # one base = one id: encode all DNA at once, then slot the tokens in between
        is_tok = np.fromiter((p.startswith("<") for p in pieces), dtype=bool, count=len(pieces))
        widths = np.fromiter((1 if t else len(p) for p, t in zip(pieces, is_tok)), dtype=np.int64,
                             count=len(pieces))
        out = np.empty(int(widths.sum()) + int(eos), dtype=np.int64)
        tok_mask = np.zeros(out.size, dtype=bool)
        tok_mask[(np.cumsum(widths) - widths)[is_tok]] = True
        if eos:
            tok_mask[-1] = True
        tok_ids = tokenizer.token_ids([p for p, t in zip(pieces, is_tok) if t])
        out[tok_mask] = tok_ids + ([tokenizer.eos_id] if eos else [])
        out[~tok_mask] = tokenizer.dna_ids("".join(p for p, t in zip(pieces, is_tok) if not t))
        return out
    parts, run = [], []
    for p in pieces:
        if p.startswith("<"):
            run.append(p)
            continue
        if run:
            parts.append(np.asarray(tokenizer.token_ids(run), dtype=np.int64))
            run = []
        parts.append(tokenizer.dna_ids(p))
    if run:
        parts.append(np.asarray(tokenizer.token_ids(run), dtype=np.int64))
    if eos:
        parts.append(np.asarray([tokenizer.eos_id], dtype=np.int64))
    return np.concatenate(parts)
