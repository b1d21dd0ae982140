"""Vocabulary grammar and tokenizer: round trips per mode, atomic tokens, validation, fast path = HF path."""
from __future__ import annotations

import re

import numpy as np
import pytest
from transformers import AutoTokenizer

from seq2gen.errors import InputError
from seq2gen.vocab import Seq2GenTokenizer, Vocabulary, build_tokenizer
from seq2gen.vocab.dna import reverse_complement

PROMPTS = [
    "<task:expression> <tissue:liver> <chr:7> <bin:0027> <dna> ACGTTGCAAGGCTTAACGGATC </dna>",
    "<task:promoter> <dna> acgtnnACGTAcgtaGGGCTAG </dna>",  # soft-masked + N runs
    "<task:variant_effect> <tissue:heart> <off:0012> <ref:A> <alt:G> <dna> TTTTTTAAAAAACCCCCCGGGGGGA </dna>",
    "<task:annotate> <dna> GATTACAGATTACA </dna> <sep> <exon> <off:0001> <off:0002>",
    "<task:span_corruption> <dna> ACGTAC <extra_id_0> GTAC <extra_id_1> </dna>",
]


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.from_dir()


@pytest.fixture(scope="module")
def sp_sequences():
    rng = np.random.default_rng(0)
    motifs = ["TATAAA", "GGGCGG", "CACGTG", "TTGACA"]
    return ["".join(rng.choice(list("ACGT"), 400)).replace("ACG", motifs[i % 4]) for i in range(150)]


@pytest.fixture(scope="module", params=["char", "kmer", "sentencepiece-unigram", "sentencepiece-bpe"])
def tok(request, sp_sequences):
    if request.param.startswith("sentencepiece"):
        return build_tokenizer(mode="sentencepiece", fasta=sp_sequences, vocab_size=200,
                               model_type=request.param.split("-")[1])
    return build_tokenizer(mode=request.param)


def test_grammar_groups_and_order(vocab):
    toks = vocab.grammar_tokens
    assert toks[:3] == ["<pad>", "</s>", "<unk>"]
    assert len(toks) == len(set(toks))
    assert len(vocab.groups["values"]) == vocab.n_values == 128
    assert vocab.groups["values"][87] == "<val:087>" and vocab.val_token(87) == "<val:087>"
    assert vocab.chr_token("chr7") == "<chr:7>" and vocab.chr_token("MT") == "<chr:M>"
    assert vocab.offset_token_for(100) == f"<off:{100 // vocab.off_resolution:04d}>"
    for t in ("liver", "heart", "brain", "lung", "kidney", "k562", "whole_blood"):  # world, ENCODE, GTEx
        assert vocab.tissue_token(t) == f"<tissue:{t}>"


def test_unknown_names_are_errors_with_suggestions(vocab):
    with pytest.raises(InputError, match=r"unknown tissue 'livr'.*did you mean liver"):
        vocab.tissue_token("livr")
    with pytest.raises(InputError, match="unknown task"):
        vocab.task_token("nonexistent_task")
    with pytest.raises(InputError, match="outside 0..127"):
        vocab.val_token(128)
    with pytest.raises(InputError, match="chromosome 'chrUn_gl000220'"):
        vocab.chr_token("chrUn_gl000220")


def test_grammar_yaml_errors(tmp_path, vocab):
    import shutil
    from seq2gen.vocab import DEFAULT_VOCAB_DIR
    shutil.copytree(DEFAULT_VOCAB_DIR, tmp_path / "v")
    (tmp_path / "v" / "species.yaml").write_text("species: [human, liver]\n")
    (tmp_path / "v" / "tissues.yaml").write_text("a: [liver]\nb: [liver]\n")
    with pytest.raises(InputError, match="declared twice"):
        Vocabulary.from_dir(tmp_path / "v")
    (tmp_path / "v" / "tissues.yaml").write_text("a: [liver\n")
    with pytest.raises(InputError, match="tissues.yaml.*invalid YAML"):
        Vocabulary.from_dir(tmp_path / "v")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_fast_path_equals_hf_and_round_trips(tok, prompt, tmp_path):
    ids = tok.encode_prompt(prompt)
    assert ids == tok.hf(prompt).input_ids
    assert ids[-1] == tok.eos_id and tok.vocab.special["unk"] not in tok.convert_ids_to_tokens(ids)
    tok.save_pretrained(tmp_path)
    auto = AutoTokenizer.from_pretrained(tmp_path)
    assert auto(prompt).input_ids == ids
    reloaded = Seq2GenTokenizer.from_pretrained(tmp_path)
    assert reloaded.encode_prompt(prompt) == ids
    decoded = tok.decode(ids)
    # decode gives the prompt back with DNA upper-cased; re-encoding gives the same ids
    assert decoded == "".join(p if p.startswith("<") else p.upper() for p in re.split(r"(<[^>]+>)", prompt))
    assert tok.encode_prompt(decoded) == ids


def test_special_tokens_are_atomic(tok):
    for t in ["<task:expression>", "<tissue:liver>", "<val:087>", "<off:0012>", "<extra_id_5>", "<dna>", "</dna>"]:
        ids = tok.encode_prompt(f"AC{t}GT", eos=False)
        assert t in tok.convert_ids_to_tokens(ids)
        assert tok.convert_ids_to_tokens(tok.hf(f"AC{t}GT", add_special_tokens=False).input_ids).count(t) == 1


def test_decode_returns_dna(tok):
    rng = np.random.default_rng(1)
    seq = "".join(rng.choice(list("ACGTNacgtn"), 997))
    ids = tok.encode_prompt(f"<dna> {seq} </dna>")
    assert tok.decode(ids) == f"<dna> {seq.upper()} </dna>"
    assert "".join(tok.convert_ids_to_tokens(tok.dna_ids(seq))) == seq.upper()


def test_iupac_and_rna_mapping(tok):
    assert tok.dna_ids("ACRYU").tolist() == tok.dna_ids("ACNNT").tolist()
    assert tok.dna_ids("acryu").tolist() == tok.dna_ids("ACNNT").tolist()


@pytest.mark.parametrize("bad, pos", [("ACGTXAC", 4), ("ACG-T", 3), ("AC GT!", 5), ("ACGTé", 4)])
def test_invalid_characters_name_character_and_position(bad, pos):
    tok = build_tokenizer(mode="char")
    with pytest.raises(InputError, match=rf"invalid character .* at position {pos}"):
        tok.dna_ids(bad)
    with pytest.raises(InputError, match=rf"position {pos + 6}"):
        tok.encode_prompt(f"<dna> {bad} </dna>")


def test_unknown_tokens_in_prompt_are_errors_not_unk():
    tok = build_tokenizer(mode="char")
    with pytest.raises(InputError, match="unknown tissue 'livr'"):
        tok.encode_prompt("<task:expression> <tissue:livr> <dna> ACGT </dna>")
    with pytest.raises(InputError, match="unknown task"):
        tok.encode_prompt("<task:nope> <dna> ACGT </dna>")
    with pytest.raises(InputError, match="unknown token <val:999>"):
        tok.encode_prompt("<val:999>")
    with pytest.raises(InputError, match="malformed token"):
        tok.encode_prompt("<task:promoter <dna> ACGT </dna>")


def test_kmer_rule_matches_nucleotide_transformer():
    tok = build_tokenizer(mode="kmer", k=3)
    toks = tok.convert_ids_to_tokens(tok.dna_ids("ACGTACGTNACGTAA"))
    # runs split at N; full k-mers from the left, leftover tail as single bases
    assert toks == ["ACG", "TAC", "G", "T", "N", "ACG", "TAA"]
    toks = tok.convert_ids_to_tokens(tok.dna_ids("AC"))
    assert toks == ["A", "C"]


@pytest.mark.parametrize("mode", ["char", "kmer"])
def test_one_megabase_tokenizes_identically_on_both_paths(mode):
    tok = build_tokenizer(mode=mode)
    rng = np.random.default_rng(2)
    seq = "".join(rng.choice(list("ACGT"), 1_000_000, p=[0.3, 0.2, 0.2, 0.3]))
    seq = seq[:500_000] + "NNNN" + seq[500_000:]
    fast = tok.dna_ids(seq)
    assert fast.size == (1_000_004 if mode == "char" else fast.size) and (fast >= 0).all()
    head = seq[:200_003]
    assert tok.dna_ids(head).tolist() == tok.hf(head, add_special_tokens=False).input_ids


def test_reverse_complement():
    assert reverse_complement("ACGTNacgtRY") == "RYacgtNACGT"
    assert reverse_complement("AACGTT") == "AACGTT"
    assert reverse_complement("AAGc") == "gCTT"
    assert reverse_complement(reverse_complement("ACGTRYKMN")) == "ACGTRYKMN"
    # lower-case IUPAC too (y once mapped to m), and RNA U → A: the one table, also genome.reverse_complement's
    assert reverse_complement("ryswkmbdhv") == "bdhvkmwsry" and reverse_complement("ACGU") == "ACGT"
    from seq2gen.genome import reverse_complement as genome_rc
    assert genome_rc is reverse_complement


def test_sentencepiece_needs_dna():
    with pytest.raises(InputError, match="--fasta"):
        build_tokenizer(mode="sentencepiece")
    with pytest.raises(InputError, match="too little DNA"):
        build_tokenizer(mode="sentencepiece", fasta=["ACGTACGTAC"], vocab_size=500)


def test_call_returns_a_batch_encoding(tokenizer):
    """``tok(p)["input_ids"]`` as with HF tokenizers: validated ids, masks, padding and tensors."""
    import torch
    from transformers import BatchEncoding
    a, b = "<task:promoter> <dna> ACGT </dna>", "<dna> AC </dna>"
    enc = tokenizer(a)
    assert isinstance(enc, BatchEncoding) and enc["input_ids"] == tokenizer.encode_prompt(a)
    assert enc.attention_mask == [1] * len(enc.input_ids) and enc.input_ids[-1] == tokenizer.eos_id
    assert tokenizer(a, add_special_tokens=False).input_ids == tokenizer.encode_prompt(a, eos=False)
    batch = tokenizer([a, b], padding=True, return_tensors="pt")
    n_a, n_b = len(tokenizer.encode_prompt(a)), len(tokenizer.encode_prompt(b))
    assert batch["input_ids"].shape == (2, n_a) and batch["input_ids"].dtype == torch.long
    assert batch["input_ids"][1, n_b:].tolist() == [tokenizer.pad_id] * (n_a - n_b)
    assert batch["attention_mask"].sum(1).tolist() == [n_a, n_b]
    assert tokenizer(a, return_tensors="np")["input_ids"].shape == (1, n_a)
    assert tokenizer([a, b]).input_ids == [tokenizer.encode_prompt(a), tokenizer.encode_prompt(b)]
    with pytest.raises(InputError, match="invalid character 'Z'"):
        tokenizer("<dna> ACGZ </dna>")
