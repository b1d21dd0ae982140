"""``POST /explain`` for ``seq2gen.serve.create_app``: ISM and attributions of one prompt or sequence, as JSON."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field


class ExplainRequest(BaseModel):
    prompt: Optional[str] = Field(None, description="A raw prompt with one <dna> … </dna> run")
    sequence: Optional[str] = Field(None, description="DNA of the task's window length (with task)")
    task: Optional[str] = Field(None, description="Task for 'sequence'")
    tissue: Optional[str] = None
    chrom: Optional[str] = Field(None, description="Position tokens, for tasks whose prompt carries them")
    pos: Optional[int] = Field(None, ge=0)
    label: Optional[str] = Field(None, description="Choice tasks: the label whose log-probability is explained")
    attribution: Literal["saliency", "input_x_gradient", "integrated_gradients", "none"] = "input_x_gradient"
    n_steps: int = Field(16, ge=2, le=256, description="Integrated-gradients steps")


def add_explain_routes(app, model, lock, max_length: int) -> None:
    """Mount ``/explain`` (errors: 413 oversize, 422 bad input, through the app's ``InputError`` handler)."""
    from fastapi import HTTPException

    @app.post("/explain", summary="In-silico mutagenesis (every base × 3 ALTs) and attributions of one prompt")
    def explain(req: ExplainRequest) -> dict:
        if (req.prompt is None) == (req.sequence is None):
            raise HTTPException(422, "give either 'prompt' or 'sequence' (with 'task')")
        text = req.prompt if req.prompt is not None else req.sequence
        if len(text) > max_length:
            raise HTTPException(413, f"the input has {len(text)} characters; this server accepts at most "
                                     f"{max_length} (max_length)")
        from seq2gen.infer.objective import objective
        from seq2gen.interpret.attribute import attribute
        from seq2gen.interpret.ism import ism
        p = model.explained_prompt(req.prompt if req.prompt is not None else req.sequence, req.task, req.tissue,
                                   req.chrom, req.pos)
        with lock:
            obj = objective(model, p.task, p.ids, label=req.label)
            r = ism(model, p, obj)
            a = attribute(model, p, req.attribution, obj, req.n_steps) if req.attribution != "none" else None
        out = {"task": p.task, "score": obj.describe, "ref_score": r.ref_score, "dna": r.dna,
               "ism_delta": [[None if v != v else round(float(v), 6) for v in row] for row in r.delta],
               "bases": "ACGT"}
        if a is not None:
            out["attribution"] = {"method": a.method, "contrib": [round(float(v), 6) for v in a.contrib.sum(1)],
                                  "hypothetical": [[round(float(v), 6) for v in row] for row in a.hypothetical],
                                  "convergence_delta": a.convergence}
        return out
