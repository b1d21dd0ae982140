"""Model presets (configs/model/*.yaml) and the batch collator."""
import pytest
import torch

from seq2gen.data.collate import Seq2GenCollator
from seq2gen.errors import InputError
from seq2gen.model import build_model, count_parameters, list_presets, load_preset

VOCAB, PAD, EOS = 37, 0, 1


def test_presets_listed():
    assert {"tiny", "small", "base", "long"} <= set(list_presets())


@pytest.mark.parametrize("preset,cls", [("tiny", "T5ForConditionalGeneration"),
                                        ("long", "LongT5ForConditionalGeneration")])
def test_build_and_forward(preset, cls):
    model = build_model(preset, VOCAB, PAD, EOS, overrides={"d_model": 32, "d_ff": 64, "num_layers": 1,
                                                             "num_decoder_layers": 1, "num_heads": 2, "d_kv": 16})
    assert type(model).__name__ == cls
    assert model.config.vocab_size == VOCAB
    assert model.config.decoder_start_token_id == PAD and model.generation_config.decoder_start_token_id == PAD
    assert model.get_input_embeddings().weight.shape == (VOCAB, 32)
    x = torch.randint(2, VOCAB, (3, 300 if preset == "long" else 11))
    y = torch.randint(2, VOCAB, (3, 5))
    out = model(input_ids=x, labels=y)
    assert out.logits.shape == (3, 5, VOCAB)
    assert torch.isfinite(out.loss)


def test_long_preset_is_transient_global():
    p = load_preset("long")
    assert p["arch"] == "longt5"
    assert p["config"]["encoder_attention_type"] == "transient-global"
    assert p["config"]["local_radius"] == 127 and p["config"]["global_block_size"] == 16


def test_preset_sizes():
    small = build_model("small", 300, PAD, EOS)
    assert small.config.d_model == 256 and small.config.num_layers == 4 == small.config.num_decoder_layers
    assert 5e6 < count_parameters(small) < 2e7


def test_seeded_init_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = build_model("tiny", VOCAB, PAD, EOS)
    assert torch.equal(before, torch.get_rng_state())
    b = build_model("tiny", VOCAB, PAD, EOS)
    c = build_model("tiny", VOCAB, PAD, EOS, seed=1)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_initial_loss_near_uniform():
    model = build_model("tiny", VOCAB, PAD, EOS).eval()
    x, y = torch.randint(2, VOCAB, (8, 12)), torch.randint(2, VOCAB, (8, 4))
    loss = model(input_ids=x, labels=y).loss.item()
    assert loss < 2 * torch.log(torch.tensor(float(VOCAB))).item()


def test_preset_from_dict_and_errors(tmp_path):
    m = build_model({"arch": "t5", "config": {"d_model": 16, "d_ff": 32, "num_layers": 1, "num_heads": 2,
                                              "d_kv": 8}}, VOCAB, PAD, EOS)
    assert m.config.d_model == 16
    with pytest.raises(InputError, match="did you mean 'tiny'"):
        build_model("tinny", VOCAB, PAD, EOS)
    with pytest.raises(InputError, match="did you mean 'd_model'"):
        build_model("tiny", VOCAB, PAD, EOS, overrides={"d_modle": 8})
    with pytest.raises(InputError, match="set from the tokenizer"):
        build_model({"config": {"vocab_size": 5}}, VOCAB, PAD, EOS)
    with pytest.raises(InputError, match="outside the vocabulary"):
        build_model("tiny", VOCAB, PAD, VOCAB + 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("arch: gpt\n")
    with pytest.raises(InputError, match="arch must be"):
        build_model(bad, VOCAB, PAD, EOS)


def test_build_from_tokenizer():
    class Tok:
        pad_token_id, eos_token_id = 3, 4

        def __len__(self):
            return 50
    m = build_model("tiny", tokenizer=Tok())
    assert (m.config.vocab_size, m.config.pad_token_id, m.config.eos_token_id) == (50, 3, 4)


def test_collator_pads_and_masks():
    rows = [{"input_ids": [5, 6, 7], "labels": [8, 1], "task_id": 0},
            {"input_ids": [5], "labels": [9, 9, 9, 1], "task_id": 2}]
    b = Seq2GenCollator(0)(rows)
    assert b["input_ids"].tolist() == [[5, 6, 7], [5, 0, 0]]
    assert b["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert b["labels"].tolist() == [[8, 1, -100, -100], [9, 9, 9, 1]]
    assert b["task_ids"].tolist() == [0, 2] and b["task_ids"].dtype == torch.long
    b = Seq2GenCollator(0, pad_to_multiple_of=8)([{"input_ids": [5, 6, 7], "labels": [8, 1]}])
    assert b["input_ids"].shape == (1, 8) and b["labels"].shape == (1, 8) and "task_ids" not in b


def test_collator_errors():
    col = Seq2GenCollator(0)
    with pytest.raises(InputError, match="no 'labels'"):
        col([{"input_ids": [1]}])
    with pytest.raises(InputError, match="empty"):
        col([])
    with pytest.raises(InputError, match="task_id"):
        col([{"input_ids": [1], "labels": [1], "task_id": 0}, {"input_ids": [1], "labels": [1]}])
