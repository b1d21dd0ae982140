"""Chunked encoder: a plain T5 whose encoder attends within fixed windows of ``encoder_chunk`` tokens.

Why: full self-attention costs O(L²) memory — a `small` T5 step at 4 k tokens already needs 4.8 GiB on CPU
(benchmarks/RESULTS.md), so 32 k tokens are out of reach. Cutting the input into chunks of C tokens and encoding
each chunk on its own (all chunks of a batch in one encoder call) makes encoder memory O(L·C); the decoder still
cross-attends to every encoder position, which is linear in L. Tokens never see past their chunk inside the encoder,
so context beyond C comes only through the decoder's cross-attention: the option trades long-range encoder mixing
for length (LongT5's transient-global attention, preset ``long``, keeps a global summary per block instead).

Inputs no longer than C give exactly the plain T5's outputs (tested). Chunks are laid out left to right; padding
masks are kept per chunk, and an all-padding chunk (the tail of a short row) yields zeros that the decoder masks.
Importing the module registers ``seq2gen_t5_chunked`` with ``AutoConfig`` / ``AutoModelForSeq2SeqLM``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoModelForSeq2SeqLM, T5Config, T5ForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutput


class ChunkedEncoder(nn.Module):
    """What ``get_encoder()`` returns: the T5 encoder stack applied to chunks of ``chunk`` tokens."""

    def __init__(self, stack: nn.Module, chunk: int):
        super().__init__()
        self.stack, self.chunk = stack, int(chunk)

    def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, return_dict=None, **kwargs):
        x = input_ids if inputs_embeds is None else inputs_embeds
        B, L = x.shape[:2]
        if attention_mask is None:
            attention_mask = torch.ones(B, L, dtype=torch.long, device=x.device)
        C = self.chunk
        n = -(-L // C)
        pad = n * C - L

        def split(t):                                            # (B, L, …) → (B·n, C, …), zero padded
            t = F.pad(t, (0, 0, 0, pad) if t.dim() == 3 else (0, pad))
            return t.reshape(B * n, C, *t.shape[2:])
        mask = split(attention_mask)
        live = mask.any(dim=1)                                   # chunks with at least one real token
        args = {"inputs_embeds": split(inputs_embeds)[live]} if inputs_embeds is not None else \
            {"input_ids": split(input_ids)[live]}
        out = self.stack(attention_mask=mask[live], return_dict=True, **args, **kwargs)
        h = out.last_hidden_state
        hidden = h.new_zeros(B * n, C, h.shape[-1])
        hidden[live] = h
        hidden = hidden.reshape(B, n * C, -1)[:, :L]
        res = BaseModelOutput(last_hidden_state=hidden)
        return res.to_tuple() if return_dict is False else res


@strict
class ChunkedT5Config(T5Config):
    """T5Config + ``encoder_chunk`` (tokens per encoder window), saved in config.json."""

    model_type = "seq2gen_t5_chunked"
    encoder_chunk: int = 1024


class ChunkedT5ForConditionalGeneration(T5ForConditionalGeneration):
    config_class = ChunkedT5Config

    def get_encoder(self, modality: str | None = None):
        if modality is not None:
            return super().get_encoder(modality)
        return ChunkedEncoder(self.encoder, self.config.encoder_chunk)

    def forward(self, input_ids=None, attention_mask=None, encoder_outputs=None, inputs_embeds=None, **kwargs):
        if encoder_outputs is None and (input_ids is not None or inputs_embeds is not None):
            encoder_outputs = self.get_encoder()(input_ids=input_ids, attention_mask=attention_mask,
                                                 inputs_embeds=inputs_embeds)
            input_ids = inputs_embeds = None
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, encoder_outputs=encoder_outputs,
                               inputs_embeds=inputs_embeds, **kwargs)


AutoConfig.register(ChunkedT5Config.model_type, ChunkedT5Config, exist_ok=True)
AutoModelForSeq2SeqLM.register(ChunkedT5Config, ChunkedT5ForConditionalGeneration, exist_ok=True)
