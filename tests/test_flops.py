"""The FLOP model behind bench_train's MFU (seq2gen.model.flops), checked against torch's own FLOP counter (a wrong
count made MFU read > 100 % for stem presets before the stem was counted)."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from seq2gen.model import build_model
from seq2gen.model.flops import stem_flops, train_flops

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def counted(fn) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


@pytest.mark.parametrize("bases", [64, 70, 333])
def test_stem_flops_match_torch_count(tokenizer, bases):
    model = build_model("tiny_conv", tokenizer=tokenizer, seed=0).eval()
    stem, P = model.stem, model.config.stem_pool
    width = -(-bases // P) * P
    codes = torch.full((1, width), 5, dtype=torch.long)
    codes[0, :bases] = torch.randint(0, 4, (bases,))
    with torch.no_grad():
        torch_count = counted(lambda: stem(codes, torch.tensor([bases])))
    assert stem_flops(model.config, width) == torch_count
    # a run shorter than the padded width costs less (pooled positions are counted per run)
    assert stem_flops(model.config, bases) <= torch_count


@pytest.mark.parametrize("preset", ["tiny", "tiny_conv"])
def test_train_flops_match_torch_count(tokenizer, preset):
    """One unpadded row: train_flops = 3 × the counted forward FLOPs, exactly. Eager attention: torch's counter does
    not see the CPU SDPA kernel (it would miss the S² score terms)."""
    model = build_model(preset, tokenizer=tokenizer, seed=0).eval()
    model.set_attn_implementation("eager")
    dna = "ACGT" * 40
    ids = torch.from_numpy(tokenizer.encode_parts(["<task:promoter>", "<dna>"], dna, ["</dna>"]))[None]
    labels = torch.tensor([tokenizer.token_ids(["<yes>"]) + [tokenizer.eos_id]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    with torch.no_grad():
        torch_count = counted(lambda: model(**batch))
    fl = train_flops(model.config, batch, model)
    assert fl["useful"] == fl["padded"]
    assert fl["useful"] == 3 * torch_count
    if preset == "tiny_conv":
        assert fl["positions"] < fl["tokens"]          # the encoder sees pooled positions, tokens/s counts bases
