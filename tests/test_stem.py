"""Convolutional nucleotide stem (seq2gen.model.stem): masks with mixed runs, the three call paths agree, save/load,
DeepSpeed training, Seq2Gen predict/generate, and variant scoring stays local and exact."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seq2gen.errors import InputError
from seq2gen.model import build_model, load_preset
from seq2gen.model.stem import pool_schedule

PROMPTS = [
    "<task:promoter> <dna> ACGTACGTACGTAAACGTTGCA </dna>",
    "<task:promoter> <dna> ACG </dna>",
    "<task:span_corruption> <dna> ACGTAC <extra_id_0> GGGTTTAACNNA </dna>",
    "<task:promoter> <dna> </dna>",                                              # no DNA at all
    "<task:variant_effect> <tissue:liver> <off:0003> <ref:A> <alt:G> <dna> TTTAACCGGTTAACCGGA </dna>",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    return build_model("tiny_conv", tokenizer=tokenizer, overrides={"dropout_rate": 0.0}).eval()


def batch(tokenizer, prompts, extra_pad=0):
    from seq2gen.infer.engine import pad_batch
    ids, mask = pad_batch([tokenizer.encode_prompt(p) for p in prompts], tokenizer.pad_id, "cpu")
    if extra_pad:
        ids = torch.nn.functional.pad(ids, (0, extra_pad), value=tokenizer.pad_id)
        mask = torch.nn.functional.pad(mask, (0, extra_pad))
    return ids, mask


def first_logits(model, ids, mask):
    dec = torch.zeros(len(ids), 1, dtype=torch.long)
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, use_cache=False).logits[:, 0]


# ------------------------------------------------------------------------------------------ presets and layout
def test_presets_and_checks(tokenizer):
    assert load_preset("small_conv")["stem"] == "conv" and load_preset("long_conv")["arch"] == "longt5"
    assert load_preset("small")["stem"] == "none" and load_preset("small_kmer")["stem"] == "kmer"
    assert pool_schedule(16, 2) == [4, 4] and pool_schedule(32, 3) == [4, 4, 2] and pool_schedule(2, 3) == [2, 1, 1]
    with pytest.raises(InputError, match="needs the tokenizer"):
        build_model("tiny_conv", 300, 0, 1)
    with pytest.raises(InputError, match="power of 2"):
        build_model("tiny_conv", tokenizer=tokenizer, overrides={"stem_pool": 6})
    with pytest.raises(InputError, match="stem_downsample must be one of conv, max_conv"):
        build_model("tiny_conv", tokenizer=tokenizer, overrides={"stem_downsample": "avg"})
    with pytest.raises(InputError, match="needs `stem: conv`"):
        build_model("tiny", tokenizer=tokenizer, overrides={"stem_pool": 4})
    with pytest.raises(InputError, match="tokenizer choice"):
        build_model({**load_preset("tiny"), "stem": "kmer"}, tokenizer=tokenizer)
    from seq2gen.vocab import build_tokenizer
    kmer = build_tokenizer(mode="kmer", k=3)
    with pytest.raises(InputError, match="one token per base"):
        build_model("tiny_conv", tokenizer=kmer)
    assert type(build_model({**load_preset("tiny"), "stem": "kmer"}, tokenizer=kmer)).__name__ == \
        "T5ForConditionalGeneration"


def test_layout_mixed_runs(model, tokenizer):
    """Runs pool to ceil(n / P) positions in place, other tokens keep their embeddings, padding is masked."""
    ids, mask = batch(tokenizer, PROMPTS)
    emb, pmask = model.stem.encoder_inputs(ids, mask, model.shared)
    P = model.config.stem_pool
    for r, p in enumerate(PROMPTS):
        pieces = p.split()
        n_tok = sum(1 for x in pieces if x.startswith("<")) + 1                     # + </s>
        runs = " ".join("|" if x.startswith("<") else x for x in pieces).split("|")
        n_pool = sum(-(-len(s.replace(" ", "")) // P) for s in runs)
        assert int(pmask[r].sum()) == n_tok + n_pool
        assert not pmask[r, int(pmask[r].sum()):].any()
    # row 4: the five grammar tokens before <dna> sit unchanged at slots 0..5
    head = tokenizer.encode_prompt(PROMPTS[4])[:6]
    assert torch.equal(emb[4, :6], model.shared.weight[head])


def test_batch_and_padding_invariance(model, tokenizer):
    ids, mask = batch(tokenizer, PROMPTS)
    together = first_logits(model, ids, mask)
    padded = first_logits(model, *batch(tokenizer, PROMPTS, extra_pad=7))
    torch.testing.assert_close(padded, together, atol=1e-5, rtol=1e-5)
    for r, p in enumerate(PROMPTS):
        torch.testing.assert_close(first_logits(model, *batch(tokenizer, [p]))[0], together[r], atol=1e-5,
                                   rtol=1e-5)


def test_encoder_paths_and_generate(model, tokenizer):
    """forward(ids) == get_encoder() + forward(encoder_outputs, token mask); generate == per-row greedy."""
    ids, mask = batch(tokenizer, PROMPTS)
    dec = torch.zeros(len(ids), 3, dtype=torch.long)
    with torch.no_grad():
        a = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        enc = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        b = model(encoder_outputs=(enc,), attention_mask=mask, decoder_input_ids=dec).logits
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        n_pooled = model.stem.encoder_inputs(ids, mask, model.shared)[1].sum(1)
        assert torch.equal(enc.ne(0).any(-1).sum(1), n_pooled)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=5, do_sample=False)
        for r, p in enumerate(PROMPTS):
            i1, m1 = batch(tokenizer, [p])
            one = model.generate(input_ids=i1, attention_mask=m1, max_new_tokens=5, do_sample=False)
            assert torch.equal(out[r, :one.shape[1]], one[0])


# ------------------------------------------------------------------------------------------ persistence
@pytest.mark.parametrize("preset", ["tiny_conv", "long_conv"])
def test_save_load_roundtrip(preset, tokenizer, tmp_path):
    from transformers import AutoModelForSeq2SeqLM
    small = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "d_kv": 16,
             "stem_channels": 16, "stem_kernel": 5}
    m = build_model(preset, tokenizer=tokenizer, overrides=small).eval()
    m.save_pretrained(tmp_path)
    back = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(back) is type(m) and back.config.stem_pool == m.config.stem_pool
    assert back.config.stem_downsample == m.config.stem_downsample == "max_conv"
    ids, mask = batch(tokenizer, PROMPTS[:3])
    assert torch.equal(first_logits(back, ids, mask), first_logits(m, ids, mask))


def channels_first(stem, codes, lengths):
    """The stem's formula (docs/model.md) written plainly with its Conv1d / max-pool modules, channels first."""
    import torch.nn.functional as F
    keep = (torch.arange(codes.shape[1]) < lengths[:, None]).unsqueeze(1)
    x = F.gelu(stem.embed(F.one_hot(codes, 6)[..., :5].float().transpose(1, 2))) * keep
    n = lengths
    for down, norm, conv, p in zip(stem.downs, stem.norms, stem.convs, stem.pools):
        if p > 1:
            n = -(-n // p)
            keep = (torch.arange(x.shape[-1] // p) < n[:, None]).unsqueeze(1)
            x = (down(x) + (F.max_pool1d(x, p) if stem.max_pool else 0)) * keep
        x = (x + conv(F.gelu(norm(x.transpose(1, 2)).transpose(1, 2)) * keep)) * keep
    return stem.out_norm(stem.proj(x.transpose(1, 2))) + stem.offset_proj(stem.offset_features(x.shape[-1]))


@pytest.mark.parametrize("preset", ["tiny_conv", "mini_conv", "long_conv"])
def test_channels_last_stem_equals_conv_modules(preset, tokenizer):
    """The stem computes channels-last with matrix products (faster); outputs and every parameter gradient equal
    the plain Conv1d formula, for each preset's pool schedule, with runs of mixed lengths."""
    torch.manual_seed(0)
    stem = build_model(preset, tokenizer=tokenizer).stem
    for prm in stem.parameters():                          # non-zero everywhere (offset_proj starts at zero)
        torch.nn.init.normal_(prm, std=0.2)
    P = stem.pool
    codes = torch.randint(0, 5, (3, 6 * P))
    lengths = torch.tensor([6 * P, 3 * P + 1, 1])
    codes[torch.arange(6 * P)[None] >= lengths[:, None]] = 5
    grads = []
    for fn in (stem, lambda c, n: channels_first(stem, c, n)):
        stem.zero_grad()
        out = fn(codes, lengths)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append((out.detach(), {k: v.grad.clone() for k, v in stem.named_parameters()}))
    (fast, g_fast), (ref, g_ref) = grads
    assert fast.shape == (3, 6, stem.proj.out_features)
    assert torch.allclose(fast, ref, atol=1e-5)
    for k in g_ref:
        assert torch.allclose(g_fast[k], g_ref[k], atol=1e-4, rtol=1e-4), k


def test_downsample_modes_and_old_configs(tokenizer, tmp_path):
    """max_conv = the stride-p conv plus a max-pool of the same window; a config.json saved before the option existed
    (no stem_downsample key) loads as conv, with the same weights and logits as when it was saved."""
    import json

    from transformers import AutoModelForSeq2SeqLM
    small = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "d_kv": 16,
             "stem_channels": 16, "stem_kernel": 5, "stem_pool": 4, "stem_blocks": 1}
    mx = build_model("tiny_conv", tokenizer=tokenizer, overrides=small).eval()
    cv = build_model("tiny_conv", tokenizer=tokenizer, overrides={**small, "stem_downsample": "conv"}).eval()
    cv.load_state_dict(mx.state_dict())          # same parameters: the option adds none
    codes = torch.randint(0, 4, (2, 12))
    lengths = torch.tensor([12, 7])

    with torch.no_grad():
        assert torch.allclose(mx.stem(codes, lengths), channels_first(mx.stem, codes, lengths), atol=1e-6)
        assert torch.allclose(cv.stem(codes, lengths), channels_first(cv.stem, codes, lengths), atol=1e-6)
        assert not torch.allclose(mx.stem(codes, lengths), cv.stem(codes, lengths))
    cv.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg.pop("stem_downsample")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    back = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert back.config.stem_downsample == "conv"
    ids, mask = batch(tokenizer, PROMPTS[:3])
    assert torch.equal(first_logits(back, ids, mask), first_logits(cv, ids, mask))


@pytest.mark.parametrize("mode", ["gate", "add"])
def test_stem_condition_reads_task_and_tissue_tokens(mode, tokenizer, tmp_path):
    """``stem_condition``: the pooled DNA vectors depend on the row's task / tissue tokens (not its position tokens,
    not the batch); "none" (the default, and configs saved before the key) leaves them the same for every tissue."""
    from transformers import AutoModelForSeq2SeqLM

    from seq2gen.model.stem import condition_ids
    ids_c = set(condition_ids(tokenizer))
    assert set(tokenizer.token_ids(["<tissue:liver>", "<task:promoter>"])) <= ids_c
    assert not set(tokenizer.token_ids(["<chr:1>", "<bin:0001>", "<dna>"])) & ids_c
    small = {"d_model": 32, "d_ff": 64, "num_layers": 1, "num_decoder_layers": 1, "num_heads": 2, "d_kv": 16,
             "stem_channels": 16, "stem_kernel": 5}
    dna = "ACGTTGCAAGGCTTAACGGATCCA"
    rows = [f"<task:tf_binding> <tissue:{t}> <dna> {dna} </dna>" for t in ("liver", "heart")]
    rows += [f"<task:expression> <tissue:liver> <chr:{c}> <bin:0001> <dna> {dna} </dna>" for c in (1, 2)]

    def dna_vectors(m, prompts):
        ids, mask = batch(tokenizer, prompts)
        with torch.no_grad():
            emb, pmask = m.stem.encoder_inputs(ids, mask, m.shared)
        n = -(-len(dna) // m.config.stem_pool) + 2                    # the pooled run, </dna>, </s>: each row's end
        return [e[k.bool()][-n:] for e, k in zip(emb, pmask)]

    plain = build_model("tiny_conv", tokenizer=tokenizer, overrides=small).eval()
    assert plain.config.stem_condition == "none" and not hasattr(plain.stem, "cond_proj")
    v = dna_vectors(plain, rows[:2])
    assert torch.equal(v[0], v[1])
    m = build_model("tiny_conv", tokenizer=tokenizer, overrides={**small, "stem_condition": mode}).eval()
    v = dna_vectors(m, rows)
    assert not torch.allclose(v[0], v[1], atol=1e-3)                 # liver vs heart: different DNA vectors
    torch.testing.assert_close(v[2], v[3])                           # chr:1 vs chr:2: position tokens do not condition
    torch.testing.assert_close(dna_vectors(m, rows[1:2])[0], v[1])   # a row alone = in a batch
    m.save_pretrained(tmp_path)
    back = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert back.config.stem_condition == mode and back.config.stem_condition_ids == sorted(ids_c)
    ids, mask = batch(tokenizer, rows)
    assert torch.equal(first_logits(back, ids, mask), first_logits(m, ids, mask))
    with pytest.raises(InputError, match="stem_condition must be one of none, add, gate"):
        build_model("tiny_conv", tokenizer=tokenizer, overrides={**small, "stem_condition": "film"})


# ------------------------------------------------------------------------------------------ training
def test_train_tiny_conv_deepspeed(tmp_path):
    """seq2gen.train on DeepSpeed CPU with the tiny_conv preset: loss falls, the export reloads exactly."""
    from builders import cfg_for, toy_datasets, toy_tokenizer
    from transformers import AutoModelForSeq2SeqLM

    from seq2gen.train import train
    from seq2gen.train.distributed import setup_env
    setup_env()
    tok = toy_tokenizer()
    cfg = cfg_for(tmp_path, model="tiny_conv", max_steps=30, save_every=0, eval_every=0, num_threads=1)
    res = train(cfg, tokenizer=tok, datasets=toy_datasets(tasks=("copy", "const", "span")))
    losses = [r["loss"] for r in map(__import__("json").loads, open(tmp_path / "metrics.jsonl"))
              if r["type"] == "train"]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    back = AutoModelForSeq2SeqLM.from_pretrained(res["export_dir"]).eval()
    model = res["model"].eval()
    ids = torch.tensor([[7, 3, 4, 5, 6, 3, 3, 1], [9, 3, 4, 10, 5, 6, 1, 0]])
    mask = (ids != 0).long()
    torch.testing.assert_close(first_logits(back, ids, mask), first_logits(model, ids, mask), atol=0, rtol=0)


# ------------------------------------------------------------------------------------------ inference API
@pytest.fixture(scope="module")
def s2g(model, tokenizer):
    from seq2gen.infer import Seq2Gen
    from seq2gen.tasks import TaskRegistry
    from seq2gen.vocab import Quantizer
    reg = TaskRegistry.from_dir(vocab=tokenizer.vocab).subset(["promoter", "annotate", "span_corruption",
                                                               "variant_effect"])
    q = {"variant_effect": Quantizer.fit(np.random.default_rng(0).normal(size=500), n_bins=128)}
    return Seq2Gen(model, tokenizer, q, reg, tissues=["liver", "heart"], batch_size=8)


def test_seq2gen_predict_and_constrained_generate(s2g, tokenizer):
    rng = np.random.default_rng(1)
    dna = ["".join(rng.choice(list("ACGT"), n)) for n in (40, 97)]
    win = {n: ["".join(rng.choice(list("ACGT"), n)) for _ in range(2)] for n in (384, 480)}   # the windows
    prompts = ([f"<task:promoter> <dna> {d} </dna>" for d in win[384]]
               + [f"<task:annotate> <dna> {d} </dna>" for d in win[480]]
               + [f"<task:span_corruption> <dna> {d[:20]} <extra_id_0> {d[25:]} </dna>" for d in dna])
    preds = s2g.predict(prompts, max_new_tokens=8)
    assert [p.task for p in preds] == ["promoter"] * 2 + ["annotate"] * 2 + ["span_corruption"] * 2
    assert all(abs(sum(p.probs.values()) - 1) < 1e-6 for p in preds[:2])
    for p, single in zip(preds, (s2g.predict(x, max_new_tokens=8) for x in prompts)):
        assert p.answer == single.answer and p.parsed == single.parsed


# ------------------------------------------------------------------------------------------ variants
def test_variant_changes_stem_output_only_near_it(model, tokenizer):
    rng = np.random.default_rng(2)
    ref = "".join(rng.choice(list("ACGT"), 200))
    pos, P, reach = 101, model.config.stem_pool, model.stem.reach()
    alt = ref[:pos] + {"A": "C", "C": "G", "G": "T", "T": "A"}[ref[pos]] + ref[pos + 1:]
    ids, mask = batch(tokenizer, [f"<task:promoter> <dna> {s} </dna>" for s in (ref, alt)])
    with torch.no_grad():
        emb = model.stem.encoder_inputs(ids, mask, model.shared)[0]
    diff = (emb[0] - emb[1]).abs().amax(-1).numpy()
    slot = 2 + pos // P                                   # <task> <dna> then the pooled run
    near = np.zeros_like(diff, dtype=bool)
    near[2 + max(0, pos - reach) // P: 2 + (pos + reach) // P + 1] = True
    assert diff[slot] > 1e-4
    assert diff[~near].max() == 0.0


def test_variant_scores_batched_equal_single(s2g):
    rng = np.random.default_rng(3)
    seqs = ["".join(rng.choice(list("ACGT"), 256)) for _ in range(3)]
    offs, alts = [100, 7, 250], []
    for s, o in zip(seqs, offs):
        alts.append(next(b for b in "ACGT" if b != s[o]))
    refs = [s[o] for s, o in zip(seqs, offs)]
    llr = s2g.variant_llr(seqs, offs, refs, alts)
    single = [s2g.variant_llr(s, o, r, a) for s, o, r, a in zip(seqs, offs, refs, alts)]
    np.testing.assert_allclose(llr, single, atol=1e-5)
    eff = s2g.variant_effect(seqs, offs, refs, alts, ["liver", "heart", "liver"])
    for e, args in zip(eff, zip(seqs, offs, refs, alts, ["liver", "heart", "liver"])):
        np.testing.assert_allclose(e["expected"], s2g.variant_effect(*args)["expected"], atol=1e-5)


# ------------------------------------------------------------------------------------------ long inputs
def long_forward(tokenizer, n: int):
    """``long_conv`` (LongT5 transient-global + a 32-fold conv stem) on n random bases: encoder positions, logits."""
    model = build_model("long_conv", tokenizer=tokenizer, seed=0).eval()
    dna = "".join(np.random.default_rng(0).choice(list("ACGT"), n))
    ids = torch.from_numpy(tokenizer.encode_parts(["<task:promoter>", "<dna>"], dna, ["</dna>"]))[None]
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        _, pmask = model.stem.encoder_inputs(ids, mask, model.shared)
        logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=torch.zeros(1, 1, dtype=torch.long))
    return int(pmask.sum()), logits.logits, model.config.stem_pool


def test_long_conv_forward_50kb(tokenizer):
    """50 kb → ~1.6 k encoder positions: runs in the default suite (seconds), finite, pooled as documented."""
    positions, logits, P = long_forward(tokenizer, 50_000)
    assert positions == 4 + -(-50_000 // P)          # <task:…> <dna> </dna> </s> + the pooled run
    assert logits.shape[:2] == (1, 1) and torch.isfinite(logits).all()


@pytest.mark.slow
def test_long_conv_forward_1mb(tokenizer):
    """1,000,000 nt forward on CPU (benchmarks/bench_stem.py --long records time and peak memory: ~7.5 GiB)."""
    import resource
    positions, logits, P = long_forward(tokenizer, 1_000_000)
    assert positions == 4 + -(-1_000_000 // P) and torch.isfinite(logits).all()
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20 < 24        # GiB, the CI machine's memory
