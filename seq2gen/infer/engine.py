"""Batched torch passes behind the inference API: padding, one teacher-forced step, constrained greedy generation,
and target log-likelihoods that share one encoder pass between several decoder targets.

Everything works on lists of id arrays (any lengths; padded per batch) and runs on the model's device; softmaxes are
taken in float32 whatever the model's dtype.
"""
from __future__ import annotations

import numpy as np

from seq2gen.infer.grammar import AnswerGrammar, GrammarLogitsProcessor


def pad_batch(rows, pad_id: int, device):
    """List of id sequences → (ids, attention mask) long tensors on ``device``, right-padded with ``pad_id``."""
    import torch
    n, width = len(rows), max(len(r) for r in rows)
    ids = np.full((n, width), pad_id, dtype=np.int64)
    mask = np.zeros((n, width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


def length_batches(lengths, batch_size: int):
    """Index batches of rows sorted by length (less padding); callers scatter results back by index."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def first_step_logits(model, rows, pad_id: int, start_id: int):
    """Logits (float32, (n, vocab)) of the first answer token: one teacher-forced forward pass."""
    import torch
    ids, mask = pad_batch(rows, pad_id, model.device)
    dec = torch.full((len(rows), 1), start_id, dtype=torch.long, device=model.device)
    with torch.inference_mode():
        out = model(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, use_cache=False)
    return out.logits[:, 0, :].float()


def restricted_softmax(logits, token_ids: np.ndarray) -> np.ndarray:
    """Softmax over the columns ``token_ids`` only (the answer's allowed tokens), as a numpy (n, len(ids)) array."""
    import torch
    sub = logits[:, torch.as_tensor(token_ids, device=logits.device)]
    return torch.softmax(sub, dim=-1).cpu().numpy().astype(np.float64)


def value_steps(model, rows, value_ids: np.ndarray, count: int, pad_id: int, start_id: int, pick):
    """A ``count``-token value answer (a track): the distributions over ``value_ids``, ``(n, count, n_bins)``, and
    the bins fed back, ``(n, count)`` (the answer).

    One encoder pass, then ``count`` cached decoder steps; each step feeds back the bin ``pick`` chooses from that
    step's distribution (``pick``: (n, n_bins) probabilities → (n,) bin indices). Feeding back the bin of the
    expected value, not the argmax, keeps later bins conditioned on the mean path: greedy feedback of the mode (a
    low background bin on skewed signal) drags every later bin down to it.
    """
    import torch
    from transformers.modeling_outputs import Seq2SeqLMOutput
    ids, mask = pad_batch(rows, pad_id, model.device)
    vid = torch.as_tensor(np.asarray(value_ids), device=model.device)
    dec = torch.full((len(rows), 1), start_id, dtype=torch.long, device=model.device)
    key = "cache" if "cache" in Seq2SeqLMOutput.__dataclass_fields__ else "past_key_values"   # renamed within 5.x
    out_probs, picks, past = [], [], None
    with torch.inference_mode():
        enc = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        for _ in range(count):
            out = model(encoder_outputs=(enc,), attention_mask=mask, decoder_input_ids=dec, use_cache=True,
                        **{key: past})
            past = getattr(out, key)
            probs = torch.softmax(out.logits[:, -1, vid].float(), dim=-1).cpu().numpy().astype(np.float64)
            out_probs.append(probs)
            picks.append(np.asarray(pick(probs), dtype=np.int64))
            dec = vid[torch.as_tensor(picks[-1], device=model.device)][:, None]
    return np.stack(out_probs, axis=1), np.stack(picks, axis=1)


def constrained_generate(model, rows, grammars: list[AnswerGrammar], max_new_tokens: int, pad_id: int,
                         keep_scores: bool = False):
    """Greedy decoding of one padded batch, each row constrained by its own grammar.

    Returns ``(tokens, scores)``: per row the generated ids (up to and including ``</s>``), and — with
    ``keep_scores`` — the masked per-step logits (float32 tensor ``(steps, n, vocab)``) for value distributions.
    """
    import torch
    from transformers import LogitsProcessorList
    ids, mask = pad_batch(rows, pad_id, model.device)
    proc = GrammarLogitsProcessor(grammars, max_new_tokens)
    with torch.inference_mode():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                             num_beams=1, logits_processor=LogitsProcessorList([proc]),
                             output_scores=keep_scores, return_dict_in_generate=True)
    seqs = out.sequences[:, 1:].cpu().numpy()          # drop decoder_start
    eos = grammars[0].eos
    tokens = []
    for row in seqs:
        stop = np.flatnonzero(row == eos)
        tokens.append(row[:stop[0] + 1] if stop.size else row)
    scores = torch.stack([s.float() for s in out.scores]) if keep_scores else None
    return tokens, scores


def target_logprobs(model, rows, targets, group: np.ndarray, pad_id: int, start_id: int) -> np.ndarray:
    """Sum of log p(target tokens) (full-vocabulary softmax) for each target.

    ``rows``: encoder inputs (one per group); ``targets[j]`` is scored against ``rows[group[j]]``: the encoder runs
    once per input and its states are shared by all of that input's targets (e.g. REF and ALT fillings).
    """
    import torch
    ids, mask = pad_batch(rows, pad_id, model.device)
    tgt, tmask = pad_batch(targets, pad_id, model.device)
    dec = torch.cat([torch.full((len(targets), 1), start_id, dtype=torch.long, device=model.device),
                     tgt[:, :-1]], dim=1)
    g = torch.as_tensor(group, device=model.device)
    with torch.inference_mode():
        enc = model.get_encoder()(input_ids=ids, attention_mask=mask).last_hidden_state
        out = model(encoder_outputs=(enc[g],), attention_mask=mask[g], decoder_input_ids=dec, use_cache=False)
        logp = torch.log_softmax(out.logits.float(), dim=-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    return (logp * tmask).sum(dim=1).cpu().numpy().astype(np.float64)
