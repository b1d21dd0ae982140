"""seq2gen.infer: prompt-style inference over a trained model directory.

``Seq2Gen.from_pretrained(dir)`` → ``predict`` (raw prompts, grammar-constrained, batched), typed helpers
(``classify``, ``expression``, ``track``, ``annotate``, ``variant_effect``, ``variant_llr``, ``score_vcf``), region
strings (``parse_region``). torch/transformers load when a model does. See docs/inference.md.
"""
from __future__ import annotations

from seq2gen.infer.grammar import AnswerGrammar, GrammarLogitsProcessor, allowed_mask
from seq2gen.infer.regions import Region, parse_region

__all__ = ["AnswerGrammar", "GrammarLogitsProcessor", "Prediction", "Region", "Seq2Gen", "ValueEstimate",
           "allowed_mask", "parse_region"]


def __getattr__(name: str):
    if name in ("Seq2Gen", "Prediction", "ValueEstimate"):
        from seq2gen.infer import model
        return getattr(model, name)
    raise AttributeError(f"module 'seq2gen.infer' has no attribute {name!r}")
