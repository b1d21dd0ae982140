"""Fine-to-coarse DNA encoder: a convolutional nucleotide stem in front of the T5 / LongT5 encoder.

Why: with one token per base the encoder pays for every base (T5 attention quadratically), so a 70-bp promoter
costs ~75 encoder positions and a megabase is out of reach on a CPU. The stem reads DNA at base resolution
(convolutions see motifs and exact positions), pools it ``stem_pool``-fold, and the pooled vectors replace those
bases in the encoder input (``inputs_embeds``); task / tissue / position / value tokens keep their ordinary
embeddings and the decoder is untouched — the encoder sequence is just shorter.

What is pooled: every *run* — a maximal stretch of unmasked nucleotide tokens (A C G T N), i.e. the DNA between
``<dna>`` and ``</dna>``, cut at any grammar token inside it (span-corruption sentinels). Each run is convolved on
its own with zero padding at both ends and pooled from its first base, so its vectors do not depend on the rest of
the prompt or the batch (with ``stem_condition`` they also read the row's task / tissue / species tokens). Run of n bases → ceil(n / stem_pool) vectors; vector j covers bases [j·P, (j+1)·P) and
carries a sinusoidal code of its offset j·P (T5's relative, log-bucketed positions cannot name offsets in a long run;
docs/model.md measures it).

Masks: the encoder output is shorter than ``input_ids``. ``forward(input_ids=…)`` hands the pooled mask to the
decoder itself. ``get_encoder()`` returns stem + encoder and sets padding positions of its output to exactly zero;
``forward(encoder_outputs=…, attention_mask=…)`` derives the cross-attention mask from those zeros (ANDed with the
given mask when that already has the pooled length). So callers that keep the token-level mask — ``generate`` and
the two-pass scoring of ``seq2gen.infer.engine`` — stay correct without knowing about the stem.

Importing this module registers ``seq2gen_t5`` / ``seq2gen_longt5`` with ``AutoConfig`` and
``AutoModelForSeq2SeqLM`` (``import seq2gen.model`` does it), so saved models reload with the Auto classes.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import (AutoConfig, AutoModelForSeq2SeqLM, LongT5Config, LongT5ForConditionalGeneration, T5Config,
                          T5ForConditionalGeneration)
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutput

from seq2gen.errors import InputError

NUCLEOTIDES = ("A", "C", "G", "T", "N")
PAD_CODE = len(NUCLEOTIDES)          # code of run padding: a zero one-hot
OFFSET_FREQS = 16                     # sinusoid frequencies of the in-run offset feature
COND_GATE_SCALE = 2.0                 # gate projection init std, in units of fan-in scaling: gates ~2·sigmoid(N(0, 1.4))
STEM_KEYS = ("stem_pool", "stem_channels", "stem_kernel", "stem_blocks", "stem_downsample", "stem_condition")
DOWNSAMPLE = ("conv", "max_conv")
CONDITION = ("none", "add", "gate")
#: token groups whose prompt tokens condition the stem (``stem_condition``): what the DNA is asked about, not where
CONDITION_PREFIXES = ("<task:", "<tissue:", "<species:")


def pool_schedule(pool: int, blocks: int) -> list[int]:
    """Per-block downsampling factors (product = ``pool``, a power of 2); earlier blocks pool more (cheaper)."""
    e = int(pool).bit_length() - 1
    return [2 ** (e // blocks + (i < e % blocks)) for i in range(blocks)]


def check_stem_params(pool: int, channels: int, kernel: int, blocks: int, downsample: str = "conv",
                      condition: str = "none") -> None:
    if not (isinstance(pool, int) and pool >= 1 and pool & (pool - 1) == 0):
        raise InputError(f"stem_pool must be a power of 2 (1, 2, 4, … 128), got {pool!r}")
    if not (isinstance(kernel, int) and kernel >= 1 and kernel % 2 == 1):
        raise InputError(f"stem_kernel must be an odd positive integer (centred convolutions), got {kernel!r}")
    if downsample not in DOWNSAMPLE:
        raise InputError(f"stem_downsample must be one of {', '.join(DOWNSAMPLE)}, got {downsample!r}")
    if condition not in CONDITION:
        raise InputError(f"stem_condition must be one of {', '.join(CONDITION)}, got {condition!r}")
    for name, v in (("stem_channels", channels), ("stem_blocks", blocks)):
        if not (isinstance(v, int) and v >= 1):
            raise InputError(f"{name} must be a positive integer, got {v!r}")


def _vocab(tokenizer) -> dict:
    return tokenizer.token_to_id if hasattr(tokenizer, "token_to_id") else tokenizer.get_vocab()


def is_kmer_tokenizer(tokenizer) -> bool:
    """Whether the tokenizer has multi-base DNA tokens (k-mers or learned pieces)."""
    mode = getattr(tokenizer, "mode", None)
    if mode is not None:
        return mode == "kmer"
    return any(len(t) > 1 and set(t) <= set("ACGTN") for t in _vocab(tokenizer))


def nucleotide_ids(tokenizer) -> list[int]:
    """Ids of ``A C G T N`` (-1 where absent): the tokens the conv stem reads. Needs one token per base."""
    vocab = _vocab(tokenizer)
    multi = sorted(t for t in vocab if len(t) > 1 and set(t) <= set("ACGTN"))
    if multi or getattr(tokenizer, "mode", "char") != "char":
        raise InputError(f"stem: conv reads one token per base, but this tokenizer has multi-base DNA tokens "
                         f"({', '.join(multi[:3]) or getattr(tokenizer, 'mode', '?')}, …)",
                         hint="build the tokenizer with mode='char' (seq2gen vocab build --mode char): the stem does "
                              "the pooling")
    ids = [int(vocab.get(b, -1)) for b in NUCLEOTIDES]
    if min(ids[:4]) < 0:
        raise InputError("stem: conv needs tokens A, C, G and T in the tokenizer")
    return ids


def condition_ids(tokenizer) -> list[int]:
    """Ids of the task / tissue / species tokens (``CONDITION_PREFIXES``): the prompt tokens that condition the stem.
    Recomputed whenever a model is built for a tokenizer, so tokens added by ``seq2gen vocab add`` join in."""
    return sorted(int(i) for t, i in _vocab(tokenizer).items() if t.startswith(CONDITION_PREFIXES))


class ConvStem(nn.Module):
    """One-hot bases → conv + GELU (motif detectors at base resolution) → ``blocks`` × [downsample, pre-norm
    residual conv] → linear → RMSNorm to d_model, + a learned projection (zero at init) of the offset sinusoids.

    Downsampling (``downsample``) is ``"conv"``: a stride-p convolution over each window of p positions (learned
    pooling that keeps where in the window a feature is: offsets finer than the pool factor stay recoverable,
    docs/model.md), or ``"max_conv"``: that plus a max-pool over the same window, which makes a motif detection
    survive pooling wherever it falls (world TF binding, one tissue: held-out AUROC 0.78 vs 0.55 at 400 steps).
    Pooling right after the first layer keeps the C×C convolutions at reduced resolution: ~85 k multiply-adds per
    base for C=128, k=9, pool 8.
    """

    def __init__(self, d_model: int, nucleotide_ids: list[int], pool: int = 8, channels: int = 128,
                 kernel: int = 9, blocks: int = 2, downsample: str = "conv", condition: str = "none",
                 condition_ids: list[int] | None = None):
        super().__init__()
        check_stem_params(pool, channels, kernel, blocks, downsample, condition)
        self.condition, self.condition_ids = condition, list(condition_ids or [])
        self.pool, self.pools, self.kernel = pool, pool_schedule(pool, blocks), kernel
        self.max_pool = downsample == "max_conv"
        self.nucleotide_ids = list(nucleotide_ids)
        self.embed = nn.Conv1d(len(NUCLEOTIDES), channels, kernel, padding=kernel // 2)
        self.downs = nn.ModuleList(nn.Conv1d(channels, channels, p, stride=p) if p > 1 else nn.Identity()
                                   for p in self.pools)
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in self.pools)
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, padding=kernel // 2) for _ in self.pools)
        self.proj = nn.Linear(channels, d_model)
        self.out_norm = nn.RMSNorm(d_model, eps=1e-6)     # pooled vectors at the scale of token embeddings
        self.offset_proj = nn.Linear(2 * OFFSET_FREQS, d_model, bias=False)   # where in the run (zero at init)
        if condition != "none":    # prompt tokens → per-channel gate of the motif detectors, or a shift of the output
            self.cond_proj = nn.Linear(d_model, channels if condition == "gate" else d_model, bias=False)
        self._luts: dict = {}
        self.one_hot_hook = None     # callable (R, W, 5) one-hot → same shape: lets attributions feed a soft input
        for m in self.modules():
            if m is not self:
                m._in_stem = True                        # the model's _init_weights leaves them to reset_parameters
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fan-in scaled normal weights, zero biases, unit norms (HF's generic init would use std 1.0)."""
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                init.normal_(m.weight, mean=0.0, std=m.weight[0].numel() ** -0.5)
                if m.bias is not None:
                    init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, nn.RMSNorm)):
                init.ones_(m.weight)
                if getattr(m, "bias", None) is not None:
                    init.zeros_(m.bias)
        init.zeros_(self.offset_proj.weight)
        if self.condition == "gate":     # random, not zero: each tissue starts on its own mix of detectors
            init.normal_(self.cond_proj.weight, mean=0.0, std=COND_GATE_SCALE * self.cond_proj.in_features ** -0.5)

    def reach(self) -> int:
        """Bases on either side of a base that can change its pooled vector (bound): a variant moves the output
        only within ``(pos ± reach) // pool``."""
        scale, r = 1, self.kernel // 2
        for p in self.pools:
            scale *= p
            r += (self.kernel // 2) * scale
        return r + self.pool

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``codes`` (R, W) in 0..4 (A C G T N), ``PAD_CODE`` past each run's ``lengths``; W a multiple of
        ``pool`` → (R, W / pool, d_model). Padding is re-zeroed after every layer so a run never sees it.
        ``cond`` (R, d_model): each run's conditioning vector (``stem_condition``; ignored when "none").

        Computed channels-last: the first conv (one-hot input) and every downsampling conv (kernel = stride: a
        linear map of each window) are matrix products, the max-pool and LayerNorm need no transposes; only the
        residual k-wide convs run as ``conv1d``. Same parameters and outputs as the Conv1d modules (tested); 26 %
        less stem forward + backward time than the channels-first version at 500 bp (docs/model.md)."""
        R, W = codes.shape
        pad = self.kernel // 2

        def valid(n, width):
            return (torch.arange(width, device=codes.device) < n[:, None]).unsqueeze(-1)

        def conv_weight(conv, order):   # (C_out, C_in, k) → (C_out, C_in·k) ("ck") or (C_out, k·C_in) ("kc")
            w = conv.weight if order == "ck" else conv.weight.transpose(1, 2)
            return w.reshape(w.shape[0], -1)

        one_hot = F.one_hot(codes, PAD_CODE + 1)[..., :PAD_CODE].to(self.embed.weight.dtype)       # (R, W, 5)
        if self.one_hot_hook is not None:               # seq2gen.interpret: gradients w.r.t. the one-hot input
            one_hot = self.one_hot_hook(one_hot)
        windows = F.pad(one_hot, (0, 0, pad, pad)).unfold(1, self.kernel, 1).reshape(R, W, -1)
        n = lengths
        keep = valid(n, W)
        x = F.gelu(F.linear(windows, conv_weight(self.embed, "ck"), self.embed.bias)) * keep        # (R, W, C)
        if self.condition == "gate" and cond is not None:   # which motif detectors this task / tissue reads
            x = x * (2 * torch.sigmoid(self.cond_proj(cond)))[:, None, :]
        for down, norm, conv, p in zip(self.downs, self.norms, self.convs, self.pools):
            if p > 1:
                n, width = -(-n // p), x.shape[1] // p
                keep = valid(n, width)
                win = x.reshape(R, width, p, x.shape[2])
                y = F.linear(win.reshape(R, width, -1), conv_weight(down, "kc"), down.bias)
                x = (y + win.amax(2) if self.max_pool else y) * keep
            h = F.gelu(norm(x)) * keep
            x = (x + conv(h.transpose(1, 2)).transpose(1, 2)) * keep
        out = self.out_norm(self.proj(x)) + self.offset_proj(self.offset_features(x.shape[1]))
        if self.condition == "add" and cond is not None:    # the condition at every DNA position of the encoder
            out = out + self.cond_proj(cond)[:, None, :]
        return out

    def condition_vectors(self, input_ids: torch.Tensor, valid: torch.Tensor, embed_tokens: nn.Module):
        """(B, d_model): mean embedding of each row's conditioning tokens (``condition_ids``), zero where none."""
        lut = torch.zeros(embed_tokens.num_embeddings, dtype=torch.bool, device=input_ids.device)
        ids = [i for i in self.condition_ids if 0 <= i < embed_tokens.num_embeddings]
        lut[torch.tensor(ids, dtype=torch.long, device=input_ids.device)] = True
        m = (lut[input_ids] & valid).to(embed_tokens.weight.dtype)[..., None]
        return (embed_tokens(input_ids) * m).sum(1) / m.sum(1).clamp(min=1)

    def offset_features(self, n: int) -> torch.Tensor:
        """Sinusoids of each pooled vector's first base in its run (wavelengths 16 bp … 1 Mb), (n, 2F): T5 has only
        relative, log-bucketed positions, so the stem says where in the DNA each vector sits."""
        w = self.offset_proj.weight
        off = torch.arange(n, device=w.device, dtype=torch.float32)[:, None] * self.pool
        freq = 2 * math.pi / (16.0 * (2.0 ** 16) ** torch.linspace(0, 1, OFFSET_FREQS, device=w.device))
        return torch.cat([torch.sin(off * freq), torch.cos(off * freq)], dim=1).to(w.dtype)

    def _lut(self, device, size: int) -> torch.Tensor:
        key = (str(device), size)
        if key not in self._luts:
            lut = torch.full((size,), -1, dtype=torch.long)
            for code, i in enumerate(self.nucleotide_ids):
                if 0 <= i < size:
                    lut[i] = code
            self._luts[key] = lut.to(device)
        return self._luts[key]

    def encoder_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, embed_tokens: nn.Module):
        """``(inputs_embeds, mask)`` for the encoder: each run → its pooled vectors, other unmasked tokens → their
        embeddings, in input order, compacted to the left (right padding, ``mask`` 1 on real positions)."""
        B, L = input_ids.shape
        dev, P = input_ids.device, self.pool
        valid = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
        code = self._lut(dev, embed_tokens.num_embeddings)[input_ids]
        nt = valid & (code >= 0)
        start = nt & ~F.pad(nt[:, :-1], (1, 0), value=False)
        pos = torch.arange(L, device=dev).expand(B, L)
        q = pos - torch.where(start, pos, 0).cummax(dim=1).values          # base index inside its run
        run = start.flatten().cumsum(0).view(B, L) - 1                       # run number, row-major
        keep = (valid & ~nt) | (nt & (q % P == 0))                           # positions that open an output slot
        slot = keep.cumsum(dim=1) - 1
        n_out = keep.sum(dim=1)
        T = int(n_out.max()) if B else 0
        mask = (torch.arange(T, device=dev) < n_out[:, None]).long()
        out = embed_tokens.weight.new_zeros(B, T, embed_tokens.embedding_dim)
        b, i = (valid & ~nt).nonzero(as_tuple=True)
        out[b, slot[b, i]] = embed_tokens(input_ids[b, i])
        if nt.any():
            b, i = nt.nonzero(as_tuple=True)
            r, k = run[b, i], q[b, i]
            lengths = torch.bincount(r, minlength=int(start.sum()))
            codes = torch.full((len(lengths), -(-int(lengths.max()) // P) * P), PAD_CODE, dtype=torch.long,
                               device=dev)
            codes[r, k] = code[b, i]
            cond = None
            if self.condition != "none":                      # runs are numbered row-major: run j is in row_of[j]
                row_of = start.nonzero(as_tuple=True)[0]
                cond = self.condition_vectors(input_ids, valid, embed_tokens)[row_of]
            pooled = self(codes, lengths, cond)
            h = k % P == 0
            out[b[h], slot[b[h], i[h]]] = pooled[r[h], k[h] // P].to(out.dtype)
        return out, mask


def encoder_mask(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Cross-attention mask for stem encoder states: non-zero rows (padding is exactly zero, see module doc),
    ANDed with ``attention_mask`` when it has the pooled length already."""
    mask = hidden.ne(0).any(dim=-1)
    if attention_mask is not None and attention_mask.shape == mask.shape:
        mask = mask & attention_mask.bool()
    return mask.long()


class StemEncoder(nn.Module):
    """What ``get_encoder()`` returns: stem + encoder stack (``generate`` and two-pass scoring call it)."""

    def __init__(self, stem: ConvStem, stack: nn.Module, embed_tokens: nn.Module):
        super().__init__()
        self.stem, self.stack, self.embed_tokens = stem, stack, embed_tokens

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, return_dict=None, **kwargs):
        if inputs_embeds is None:
            inputs_embeds, attention_mask = self.stem.encoder_inputs(input_ids, attention_mask, self.embed_tokens)
        elif attention_mask is None:
            attention_mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        out = self.stack(inputs_embeds=inputs_embeds, attention_mask=attention_mask, return_dict=True, **kwargs)
        out = BaseModelOutput(last_hidden_state=out.last_hidden_state * attention_mask[..., None].to(
            out.last_hidden_state.dtype), hidden_states=out.hidden_states, attentions=out.attentions)
        return out.to_tuple() if return_dict is False else out


class _StemModel:
    """Shared by the T5 and LongT5 stem models: builds the stem, routes ids through it, keeps masks consistent."""

    def _add_stem(self) -> None:
        c = self.config
        self.stem = ConvStem(c.d_model, c.stem_nucleotide_ids or [], c.stem_pool, c.stem_channels, c.stem_kernel,
                             c.stem_blocks, c.stem_downsample, c.stem_condition, c.stem_condition_ids)

    def _init_weights(self, module):
        if isinstance(module, ConvStem):
            module.reset_parameters()
        elif not getattr(module, "_in_stem", False):
            super()._init_weights(module)

    def get_encoder(self, modality: str | None = None):
        if modality is not None:
            return super().get_encoder(modality)
        return StemEncoder(self.stem, self.encoder, self.get_input_embeddings())

    def forward(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
                encoder_outputs=None, inputs_embeds=None, **kwargs):
        if encoder_outputs is not None:
            attention_mask = encoder_mask(encoder_outputs[0], attention_mask)
        elif inputs_embeds is None and input_ids is not None:
            inputs_embeds, attention_mask = self.stem.encoder_inputs(input_ids, attention_mask,
                                                                     self.get_input_embeddings())
            input_ids = None
        return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                               decoder_input_ids=decoder_input_ids, decoder_attention_mask=decoder_attention_mask,
                               encoder_outputs=encoder_outputs, inputs_embeds=inputs_embeds, **kwargs)


def _stem_config(base, name: str, model_type: str, pool: int, blocks: int):
    """``base`` (T5Config / LongT5Config) + the conv stem's parameters, saved in config.json. The two configs differ
    only in ``model_type`` and the defaults of ``stem_pool`` and ``stem_blocks``."""
    fields = {"stem_pool": (int, pool), "stem_channels": (int, 128), "stem_kernel": (int, 9),
              "stem_blocks": (int, blocks),
              "stem_downsample": (str, "conv"),             # conv | max_conv (saved models without the key: conv)
              "stem_condition": (str, "none"),              # none | add | gate (saved models without the key: none)
              "stem_nucleotide_ids": (list[int] | None, None),
              "stem_condition_ids": (list[int] | None, None)}
    body = {"__module__": __name__, "__qualname__": name, "model_type": model_type,
            "__doc__": f"{base.__name__} + the conv stem's parameters (saved in config.json).",
            "__annotations__": {k: typ for k, (typ, _) in fields.items()}, **{k: v for k, (_, v) in fields.items()}}
    return strict(type(name, (base,), body))


StemT5Config = _stem_config(T5Config, "StemT5Config", "seq2gen_t5", pool=8, blocks=2)
StemLongT5Config = _stem_config(LongT5Config, "StemLongT5Config", "seq2gen_longt5", pool=32, blocks=3)


class StemT5ForConditionalGeneration(_StemModel, T5ForConditionalGeneration):
    config_class = StemT5Config

    def __init__(self, config: StemT5Config):
        super().__init__(config)
        self._add_stem()


class StemLongT5ForConditionalGeneration(_StemModel, LongT5ForConditionalGeneration):
    config_class = StemLongT5Config

    def __init__(self, config: StemLongT5Config):
        super().__init__(config)
        self._add_stem()


for _cfg, _cls in ((StemT5Config, StemT5ForConditionalGeneration),
                   (StemLongT5Config, StemLongT5ForConditionalGeneration)):
    AutoConfig.register(_cfg.model_type, _cfg, exist_ok=True)
    AutoModelForSeq2SeqLM.register(_cfg, _cls, exist_ok=True)
