"""Chunked encoder (seq2gen.model.chunked): equals plain T5 within one chunk, encodes chunks independently, keeps
padded rows exact, round-trips through save/load, generates, and takes a 32k-token input on CPU (LongT5 too)."""
from __future__ import annotations

import pytest
import torch

from seq2gen.errors import InputError
from seq2gen.model import build_model, load_preset


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_chunked(tokenizer, chunk: int):
    p = load_preset("tiny")
    p = {**p, "config": {**p["config"], "encoder_chunk": chunk, "dropout_rate": 0.0}}
    return build_model(p, tokenizer=tokenizer, seed=0).eval()


def ids_of(tokenizer, n: int, seed: int = 0) -> torch.Tensor:
    import numpy as np
    dna = "".join(np.random.default_rng(seed).choice(list("ACGT"), n))
    return torch.from_numpy(tokenizer.encode_parts(["<task:promoter>", "<dna>"], dna, ["</dna>"]))[None]


def first_logits(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.zeros(len(ids), 1,
                                                                                      dtype=torch.long)).logits


def test_within_one_chunk_equals_plain_t5(tokenizer):
    chunked = tiny_chunked(tokenizer, 256)
    plain = build_model({**load_preset("tiny"), "config": {**load_preset("tiny")["config"], "dropout_rate": 0.0}},
                        tokenizer=tokenizer, seed=0).eval()
    plain.load_state_dict(chunked.state_dict())
    ids = ids_of(tokenizer, 200)
    mask = torch.ones_like(ids)
    torch.testing.assert_close(first_logits(chunked, ids, mask), first_logits(plain, ids, mask))


def test_chunks_are_encoded_independently_and_padding_is_exact(tokenizer):
    model = tiny_chunked(tokenizer, 64)
    long, short = ids_of(tokenizer, 300, 1), ids_of(tokenizer, 90, 2)
    enc = model.get_encoder()
    with torch.no_grad():
        h = enc(input_ids=long).last_hidden_state
        for start in (0, 64, 256):                                        # each chunk = the stack on that chunk
            part = model.encoder(input_ids=long[:, start:start + 64]).last_hidden_state
            torch.testing.assert_close(h[:, start:start + 64], part)
    batch = torch.full((2, long.shape[1]), tokenizer.pad_id)
    batch[0], batch[1, :short.shape[1]] = long[0], short[0]
    mask = (torch.arange(batch.shape[1]) < torch.tensor([[long.shape[1]], [short.shape[1]]])).long()
    both = first_logits(model, batch, mask)
    torch.testing.assert_close(both[0], first_logits(model, long, torch.ones_like(long))[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(both[1], first_logits(model, short, torch.ones_like(short))[0], atol=1e-5, rtol=1e-5)


def test_save_load_and_generate(tokenizer, tmp_path):
    from transformers import AutoModelForSeq2SeqLM
    model = tiny_chunked(tokenizer, 64)
    model.save_pretrained(tmp_path / "m")
    back = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "m").eval()
    assert type(back).__name__ == "ChunkedT5ForConditionalGeneration" and back.config.encoder_chunk == 64
    ids = ids_of(tokenizer, 150)
    mask = torch.ones_like(ids)
    torch.testing.assert_close(first_logits(back, ids, mask), first_logits(model, ids, mask), atol=0, rtol=0)
    out = back.generate(input_ids=ids, attention_mask=mask, max_new_tokens=3, do_sample=False)
    assert out.shape[0] == 1 and 1 < out.shape[1] <= 4


def test_32k_tokens_on_cpu(tokenizer):
    model = tiny_chunked(tokenizer, 512)
    ids = ids_of(tokenizer, 32_768)
    logits = first_logits(model, ids, torch.ones_like(ids))
    assert ids.shape[1] > 32_768 and torch.isfinite(logits).all()


def test_bad_chunk_settings(tokenizer):
    with pytest.raises(InputError, match="plain T5"):
        build_model({**load_preset("long"), "config": {**load_preset("long")["config"], "encoder_chunk": 512}},
                    tokenizer=tokenizer)
    with pytest.raises(InputError, match="positive integer"):
        tiny_chunked(tokenizer, 0)
    assert load_preset("small_chunked")["config"]["encoder_chunk"] == 1024


def test_longt5_32k_tokens_on_cpu(tokenizer):
    """The `long` preset's architecture (LongT5 transient-global) at a test width takes a 32k-token input too."""
    narrow = {"d_model": 64, "d_kv": 16, "num_heads": 4, "d_ff": 128, "num_layers": 2, "num_decoder_layers": 2,
              "dropout_rate": 0.0}
    model = build_model("long", tokenizer=tokenizer, seed=0, overrides=narrow).eval()
    ids = ids_of(tokenizer, 32_768)
    logits = first_logits(model, ids, torch.ones_like(ids))
    assert type(model).__name__ == "LongT5ForConditionalGeneration" and torch.isfinite(logits).all()
