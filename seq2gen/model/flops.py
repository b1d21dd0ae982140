"""Model FLOPs of a training step, counted from the config: the numerator of MFU (``benchmarks/bench_train.py``).

``train_flops``: forward matmul FLOPs counted per layer from the config, × 3 for forward + backward —
encoder: ``S·(8·d·hk + 2·m·d·d_ff) + 4·S²·hk`` per layer (QKVO projections, gated FFN with m = 3 matrices, scores
+ weighted sum); decoder per layer: self-attention ``T·8·d·hk + 4·T²·hk``, cross-attention ``T·4·d·hk`` (Q, O)
+ ``S·4·d·hk`` (K, V of the encoder states, recomputed in every decoder layer) + ``4·T·S·hk``, FFN ``T·2·m·d·d_ff``;
LM head ``2·T·d·V``. S/T = encoder/decoder tokens of a row, hk = heads × d_kv. ``useful`` counts each row's real
lengths (work that would remain with no padding); ``padded`` the padded batch shape (work the CPU actually did).
With a conv stem (``*_conv`` presets) S is the pooled encoder length and the stem's convolutions
are added (``stem_flops``); tests/test_flops.py checks both counts against torch's FLOP counter.
"""
from __future__ import annotations


def forward_flops(cfg, S: int, T: int) -> float:
    """Forward matmul FLOPs of one T5 row with S encoder and T decoder tokens (see the module doc)."""
    d, hk, dff, V = cfg.d_model, cfg.num_heads * cfg.d_kv, cfg.d_ff, cfg.vocab_size
    m = 3 if str(cfg.feed_forward_proj).startswith("gated") else 2
    enc = cfg.num_layers * (S * (8 * d * hk + 2 * m * d * dff) + 4 * S * S * hk)
    dec = cfg.num_decoder_layers * (T * 8 * d * hk + 4 * T * T * hk + T * 4 * d * hk + S * 4 * d * hk
                                    + 4 * T * S * hk + T * 2 * m * d * dff)
    return float(enc + dec + 2 * T * d * V)


def stem_flops(cfg, bases: int) -> float:
    """Forward FLOPs of the conv stem on one run of ``bases`` bases: the base-resolution conv, per block a
    downsampling conv (stride p) and a residual conv at the pooled resolution, then the linear and offset maps to
    d_model at ``stem_pool``. (Norms, GELU, max-pool: elementwise, not counted.)"""
    from seq2gen.model.stem import NUCLEOTIDES, OFFSET_FREQS, pool_schedule
    C, k = cfg.stem_channels, cfg.stem_kernel
    flops, res = 2 * len(NUCLEOTIDES) * C * k * bases, 1
    for p in pool_schedule(cfg.stem_pool, cfg.stem_blocks):
        res *= p
        n = -(-bases // res)
        flops += (2 * C * C * p if p > 1 else 0) * n + 2 * C * C * k * n
    return float(flops + 2 * (C + 2 * OFFSET_FREQS) * cfg.d_model * -(-bases // cfg.stem_pool))


def train_flops(cfg, batch, model=None) -> dict:
    """Model FLOPs of one training step on ``batch``; ``tokens`` = non-pad input + label tokens (as in
    metrics.jsonl), ``positions`` = encoder positions + label tokens (what ``6·N`` multiplies). With a conv stem
    (``model.stem``) the encoder sees the pooled positions (its own mask) and each row's bases cost ``stem_flops``,
    counted as one run per row (padded: the longest row's bases for every row)."""
    tokens = batch["attention_mask"].sum(1).tolist()
    dec = (batch["labels"] != -100).sum(1).tolist()
    L, T = batch["input_ids"].shape[1], batch["labels"].shape[1]
    enc, S, stem_useful, stem_padded = tokens, L, 0.0, 0.0
    stem = getattr(model, "stem", None)
    if stem is not None:
        import torch
        with torch.no_grad():
            mask = stem.encoder_inputs(batch["input_ids"], batch["attention_mask"], model.shared)[1]
        lut = stem._lut(batch["input_ids"].device, model.shared.num_embeddings)
        bases = ((lut[batch["input_ids"]] >= 0) & batch["attention_mask"].bool()).sum(1).tolist()
        enc, S = mask.sum(1).tolist(), mask.shape[1]
        stem_useful = sum(stem_flops(cfg, n) for n in bases)
        stem_padded = len(bases) * stem_flops(cfg, max(bases))
    useful = 3 * (sum(forward_flops(cfg, s, t) for s, t in zip(enc, dec)) + stem_useful)
    padded = 3 * (len(enc) * forward_flops(cfg, S, T) + stem_padded)
    return {"useful": useful, "padded": padded, "tokens": sum(tokens) + sum(dec), "positions": sum(enc) + sum(dec),
            "padded_tokens": len(enc) * (L + T)}
