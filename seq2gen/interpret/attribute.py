"""Gradient attributions on the one-hot DNA input: saliency, input × gradient and integrated gradients (captum).

Where the gradient is taken: conv-stem models (``stem: conv`` presets) one-hot encode bases inside the stem —
``ConvStem.one_hot_hook`` swaps in a soft one-hot ``x`` (n, L, 4) that carries gradients. Other models read
token embeddings: the DNA embeddings become ``x @ E[ACGT] + (1 - Σx) · E[N]``, the same soft one-hot interface.
Either way the explained function is ``score(x)`` over ``x ∈ [0, 1]^{L×4}``, and captum sees one forward function.

Outputs per base: ``contrib`` (L, 4), non-zero only at the observed base (what a logo of "what the model reads"
shows), and ``hypothetical`` (L, 4): the gradient at the reference minus its per-position mean (the correction of
Majdandzic et al. 2023, which removes the off-simplex component), the input TF-MoDISco wants.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from seq2gen.errors import InputError
from seq2gen.interpret.ism import Prompt
from seq2gen.infer.objective import Objective, decoder_batch, evaluate, objective

METHODS = ("saliency", "input_x_gradient", "integrated_gradients")


@dataclass
class Attribution:
    dna: str
    method: str
    contrib: np.ndarray          # (L, 4)
    hypothetical: np.ndarray     # (L, 4)
    score: float
    describe: str
    convergence: float | None = None   # integrated gradients: Σ contrib − (f(x) − f(baseline))

    def to_table(self):
        import pandas as pd
        return pd.DataFrame({"offset": np.arange(len(self.dna)), "base": list(self.dna),
                             "contrib": self.contrib.sum(1), **{f"hyp_{b}": self.hypothetical[:, i]
                                                                for i, b in enumerate("ACGT")}})


def one_hot(codes: np.ndarray) -> np.ndarray:
    """(…, L) codes 0..4 → (…, L, 4) float32 (N → all zeros)."""
    return (codes[..., None] == np.arange(4)).astype(np.float32)


class SoftForward:
    """``score(x, ids)``: the objective for soft one-hot DNA ``x`` (n, L, 4) in prompts ``ids`` (n, T)."""

    def __init__(self, m, obj: Objective, p: Prompt):
        self.m, self.obj, self.p = m, obj, p
        self.stem = getattr(m.model, "stem", None)
        self.n_id = m.tokenizer.token_to_id.get("N")

    @contextlib.contextmanager
    def _feeding(self, x):
        """Route ``x`` into the model (the stem's one-hot or the DNA embeddings) for one forward pass."""
        if self.stem is None:
            yield None
            return
        L = x.shape[1]

        def hook(oh):
            import torch
            if oh.shape[0] != x.shape[0]:
                raise InputError("attributions need one DNA run per prompt")
            soft = torch.cat([x.to(oh.dtype), oh[:, :L, 4:]], dim=-1)
            return torch.cat([soft, oh[:, L:]], dim=1) if oh.shape[1] > L else soft

        self.stem.one_hot_hook = hook
        try:
            yield None
        finally:
            self.stem.one_hot_hook = None

    def __call__(self, x, ids):
        import torch
        n = ids.shape[0]
        mask = torch.ones_like(ids)
        dec = decoder_batch(self.obj, n, ids.device)
        kw = {"input_ids": ids}
        if self.stem is None:
            emb = self.m.model.get_input_embeddings()
            e = emb(ids)
            acgt = emb.weight[torch.as_tensor(self.p.base_ids, device=ids.device)]
            nvec = emb.weight[self.n_id] if self.n_id is not None else torch.zeros_like(acgt[0])
            dna = x.to(e.dtype) @ acgt + (1 - x.sum(-1, keepdim=True)).to(e.dtype) * nvec
            pos = torch.as_tensor(self.p.dna_pos, device=ids.device)
            e = e.index_copy(1, pos, dna)
            kw = {"inputs_embeds": e}
        with self._feeding(x):
            logits = self.m.model(attention_mask=mask, decoder_input_ids=dec, use_cache=False, **kw).logits
        return evaluate(self.obj, logits)


def gradients(m, obj: Objective, prompts: list[Prompt], batch_size: int | None = None):
    """``(scores (n,), d score / d one-hot (n, L, 4))`` for prompts that share one layout (same ids but DNA),
    one forward + backward pass per batch — what motif discovery over many windows needs."""
    import torch
    if any(len(q.ids) != len(prompts[0].ids) or (q.dna_pos != prompts[0].dna_pos).any() for q in prompts):
        raise InputError("batched gradients need prompts of one layout (same task, tokens and DNA length)")
    f = SoftForward(m, obj, prompts[0])
    bs = int(batch_size or m.batch_size)
    scores, grads = [], []
    for a in range(0, len(prompts), bs):
        chunk = prompts[a:a + bs]
        ids = torch.as_tensor(np.stack([q.ids for q in chunk]), device=m.device)
        x = torch.as_tensor(one_hot(np.stack([q.codes for q in chunk])), device=m.device).requires_grad_(True)
        with torch.enable_grad():
            s = f(x, ids)
            g = torch.autograd.grad(s.sum(), x)[0]
        scores.append(s.detach().float().cpu().numpy())
        grads.append(g.float().cpu().numpy())
    return np.concatenate(scores).astype(np.float64), np.concatenate(grads).astype(np.float64)


def hypothetical(grad: np.ndarray) -> np.ndarray:
    """Mean-corrected gradient (…, L, 4): the per-base effect of each letter, up to a constant per position."""
    return grad - grad.mean(axis=-1, keepdims=True)


def attribute(m, p: Prompt, method: str = "integrated_gradients", obj: Objective | None = None, n_steps: int = 32,
              internal_batch_size: int | None = None) -> Attribution:
    """Attributions of a prompt's score to its DNA bases (``method``: one of ``METHODS``)."""
    import torch
    from captum.attr import IntegratedGradients
    if method not in METHODS:
        raise InputError(f"unknown attribution method {method!r}", hint=f"one of {', '.join(METHODS)}")
    obj = obj or objective(m, p.task, p.ids)
    f = SoftForward(m, obj, p)
    dev = m.device
    ids = torch.as_tensor(p.ids, device=dev)[None]
    codes = p.codes
    x = torch.as_tensor(one_hot(codes), device=dev)[None]
    score, grad = gradients(m, obj, [p])
    hyp = hypothetical(grad[0])
    conv = None
    if method == "saliency":
        contrib = np.abs(grad[0]) * one_hot(codes)
    elif method == "input_x_gradient":                    # mean-corrected gradient at the observed base
        contrib = hyp * one_hot(codes)
    else:
        base = torch.full_like(x, 0.25) * (x.sum(-1, keepdim=True) > 0)        # uniform background; N stays N
        ig = IntegratedGradients(f)
        a, delta = ig.attribute(x, baselines=base, additional_forward_args=(ids,), n_steps=n_steps,
                                internal_batch_size=internal_batch_size or m.batch_size,
                                return_convergence_delta=True)
        a = a[0].detach().cpu().numpy()
        contrib = a.sum(1, keepdims=True) * one_hot(codes)        # the off-base terms (x − b < 0) folded in
        conv = float(delta.detach().cpu().numpy().ravel()[0])
    return Attribution(p.dna, method, contrib.astype(np.float64), hyp, float(score[0]),
                       obj.describe, conv)
