"""seq2gen.interpret: look inside a trained model and act on it.

* ``ism`` — batched saturation mutagenesis of any task's prompt (``ism.py``);
* ``attribute`` — saliency / input × gradient / integrated gradients on the one-hot DNA input (``attribute.py``);
* ``plots`` — logos, ISM maps, tracks, annotation spans, design rounds; ``report.explain`` — the HTML report;
* ``motifs`` — TF-MoDISco motif discovery from attributions and, on the synthetic world, recovery of its motifs;
* ``design`` — model-guided sequence design (batched evolution under an edit budget), judged on the world by its
  true generative function (``world_truth.WorldTruth``).

The scalar explained is ``seq2gen.infer.objective``: one teacher-forced pass per prompt. See docs/explain.md.
"""
from __future__ import annotations

__all__ = ["attribute", "design", "explain", "ism"]


def __getattr__(name: str):
    if name == "ism":
        from seq2gen.interpret.ism import ism
        return ism
    if name == "attribute":
        from seq2gen.interpret.attribute import attribute
        return attribute
    if name == "design":
        from seq2gen.interpret.design import design
        return design
    if name == "explain":
        from seq2gen.interpret.report import explain
        return explain
    raise AttributeError(f"module 'seq2gen.interpret' has no attribute {name!r}")
