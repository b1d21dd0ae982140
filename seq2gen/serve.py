"""HTTP server over ``Seq2Gen`` (FastAPI): ``/predict``, ``/variant-effect``, ``/score-vcf``, ``/explain``, ``/tasks``,
``/health``.

    app = create_app("runs/quickstart/model", max_length=4096, max_batch=64, fasta="runs/world/genome.fa")
    uvicorn.run(app, host="127.0.0.1", port=8000)          # or: seq2gen serve MODEL --port 8000

Requests are validated with pydantic; bad input is a 4xx whose ``detail`` says what is wrong and where: 413 for
oversize (a sequence longer than ``max_length`` bases, more than ``max_batch`` items, a VCF over
``max_vcf_records``), 422 for invalid input (unknown task or tissue with "did you mean", an invalid base with its
position, a REF that does not match the window, a malformed VCF upload with its file name and line), 409 for
``/score-vcf`` on a server without a reference genome. Input is checked before the model lock where it can be;
model calls are serialised by the lock (one batch at a time). OpenAPI docs at ``/docs``; see docs/inference.md.
"""
from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path
from typing import Literal, Optional

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from seq2gen.errors import InputError
from seq2gen.tasks.render import PROMPT_TISSUE

DNA_HELP = "DNA (ACGTN, any case; U read as T; IUPAC codes read as N)"


class PredictRequest(BaseModel):
    prompts: list[str] = Field(..., min_length=1, description="Prompts such as '<task:promoter> <dna> ACGT… </dna>'",
                               examples=[["<task:promoter> <dna> ACGTACGT </dna>"]])
    max_new_tokens: Optional[int] = Field(None, ge=1, le=2048, description="Default: the longest answer the "
                                                                          "grammars allow")
    with_probs: bool = Field(False, description="Include the full value distributions")


class Variant(BaseModel):
    sequence: str = Field(..., min_length=1, description=f"Reference window, {DNA_HELP}")
    offset: int = Field(..., ge=0, description="0-based position of REF in the window")
    ref: str = Field(..., min_length=1, max_length=50, pattern="^[ACGTNacgtn]+$")
    alt: str = Field(..., min_length=1, max_length=50, pattern="^([ACGTNacgtn]+|-)$")


class VariantRequest(BaseModel):
    variants: list[Variant] = Field(..., min_length=1)
    tissue: Optional[str] = Field(None, description="Tissue for method 'task' (e.g. liver)")
    methods: list[Literal["task", "zero_shot"]] = Field(["task"], min_length=1,
                                                         description="'task': the variant_effect task's expected "
                                                                     "value; 'zero_shot': log p(ALT) − log p(REF)")


class Limits:
    """The request limits of one server, and the 413 errors that enforce them."""

    def __init__(self, max_length: int, max_batch: int, max_vcf_records: int):
        self.max_length, self.max_batch, self.max_vcf_records = max_length, max_batch, max_vcf_records

    def too_many(self, n: int, what: str) -> None:
        if n > self.max_batch:
            raise HTTPException(413, f"{n} {what} in one request; this server takes at most {self.max_batch} "
                                     "(max_batch): split the request")

    def too_long(self, n: int, i: int, what: str) -> None:
        if n > self.max_length:
            raise HTTPException(413, f"{what} {i} has {n} characters; this server accepts at most "
                                     f"{self.max_length} (max_length)")

    def as_dict(self) -> dict:
        return {"max_length": self.max_length, "max_batch": self.max_batch, "max_vcf_records": self.max_vcf_records}


def create_app(model_or_dir, max_length: int = 8192, max_batch: int = 64, fasta=None,
               max_vcf_records: int = 100_000, device: str = "cpu", dtype: str = "float32") -> FastAPI:
    """A FastAPI app serving one model (a ``Seq2Gen`` or a model directory)."""
    from seq2gen.infer import Seq2Gen
    from seq2gen.interpret.routes import add_explain_routes
    model = model_or_dir if isinstance(model_or_dir, Seq2Gen) else Seq2Gen.from_pretrained(
        model_or_dir, device=device, dtype=dtype)
    if fasta is not None:
        from seq2gen.genome import Fasta
        model.fasta = fasta if hasattr(fasta, "fetch") else Fasta(fasta)
    lock, limits = threading.Lock(), Limits(max_length, max_batch, max_vcf_records)
    app = FastAPI(title="seq2gen", version="1", description="Genomics as text-to-text: prompts in, constrained "
                  "answers out. Limits: sequences ≤ %d bases, ≤ %d items per request." % (max_length, max_batch))

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    _add_info_routes(app, model, limits)
    _add_predict_routes(app, model, lock, limits)
    _add_score_vcf_route(app, model, lock, limits)
    add_explain_routes(app, model, lock, max_length)
    app.state.model = model
    return app


def _add_info_routes(app: FastAPI, model, limits: Limits) -> None:
    @app.get("/health", summary="Liveness and model summary")
    def health() -> dict:
        return {"status": "ok", "model": model.source, "device": str(model.device),
                "dtype": str(model.model.dtype).replace("torch.", ""), "tasks": model.registry.names}

    @app.get("/tasks", summary="Tasks, their prompts, tissues and answer grammars")
    def tasks() -> dict:
        out = []
        for t in model.registry:
            # a choice naming the prompt's tissue ({tissue}) resolves per prompt: shown as declared
            named = PROMPT_TISSUE in t.answer_grammar.get("tokens", ())
            g = dict(t.answer_grammar) if named else model.grammar(t.name).spec
            out.append({"name": t.name, "family": t.family, "description": t.description.strip(),
                        "prompt": t.prompt, "answer_grammar": g,
                        "window": {"length": t.window.length, "anchor_offset": t.window.before,
                                   "centre": t.window.centre},
                        "tissues": model.task_tissues(t.name)})
        return {"tasks": out, "tissues": model.tissues or model.vocab.tissues, "limits": limits.as_dict()}


def _add_predict_routes(app: FastAPI, model, lock, limits: Limits) -> None:
    from seq2gen.infer.variants import _check_alleles as check_alleles
    from seq2gen.vocab.dna import normalise

    @app.post("/predict", summary="Answers for raw prompts (grammar-constrained, batched)")
    def predict(req: PredictRequest) -> dict:
        limits.too_many(len(req.prompts), "prompts")
        for i, p in enumerate(req.prompts):
            limits.too_long(len(p), i, "prompt")
            if not p.strip():
                raise HTTPException(422, f"prompt {i} is empty: a prompt starts with a task token, e.g. "
                                         "'<task:promoter> <dna> ACGT… </dna>' (GET /tasks lists them)")
        rows, tasks = model.prepare(req.prompts)      # validated outside the model lock: bad input fails fast
        with lock:
            preds = model.predict_ids(rows, tasks, max_new_tokens=req.max_new_tokens)
        return {"predictions": [p.to_dict(req.with_probs) for p in preds]}

    @app.post("/variant-effect", summary="Effect of ALT vs REF (variant task and/or zero-shot likelihood ratio)")
    def variant_effect(req: VariantRequest) -> dict:
        limits.too_many(len(req.variants), "variants")
        for i, v in enumerate(req.variants):       # checked before the model lock: bad input fails fast
            limits.too_long(len(v.sequence), i, "sequence")
            normalise(v.sequence, model.tokenizer.norm_lut, where=f"sequence of variant {i}")
            check_alleles(v.sequence, v.offset, v.ref, v.alt, i)
        seqs = [v.sequence for v in req.variants]
        args = ([v.offset for v in req.variants], [v.ref for v in req.variants], [v.alt for v in req.variants])
        results = [{} for _ in seqs]
        with lock:
            if "task" in req.methods:
                if "variant_effect" not in model.registry:
                    raise InputError("this model has no variant_effect task", hint="use methods=['zero_shot']")
                for r, e in zip(results, model.variant_effect(seqs, *args, tissue=req.tissue)):
                    r.update(e)
            if "zero_shot" in req.methods:
                for r, s in zip(results, model.variant_llr(seqs, *args)):
                    r["llr"] = float(s)
        return {"results": results}


def _add_score_vcf_route(app: FastAPI, model, lock, limits: Limits) -> None:
    @app.post("/score-vcf", summary="Score an uploaded VCF against the server's reference genome (TSV back)",
              response_class=Response)
    def score_vcf(file: UploadFile = File(..., description="VCF (plain text)"),
                  tissue: Optional[str] = Form(None, description="Tissue, or empty for all trained tissues"),
                  methods: str = Form("", description="Comma-separated: task, zero_shot (empty: task, plus "
                                                      "zero_shot if the model trained span corruption)")):
        if model.fasta is None:
            raise HTTPException(409, "this server was started without a reference genome: restart it with "
                                     "fasta=… (seq2gen serve --fasta FILE)")
        from seq2gen.infer.variants import count_records
        name = re.sub(r"[^\w.+-]", "_", Path(file.filename or "").name).lstrip(".") or "upload.vcf"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            with open(path, "wb") as f:
                while chunk := file.file.read(1 << 20):
                    f.write(chunk)
            if path.stat().st_size == 0:
                raise HTTPException(422, f"the uploaded VCF {name} is empty")
            try:         # errors name the upload and its line, not the server's temp folder
                n = count_records(path)
                if n > limits.max_vcf_records:
                    raise HTTPException(413, f"the VCF has {n} records; this server scores at most "
                                             f"{limits.max_vcf_records} per upload (max_vcf_records): split it or "
                                             "use `seq2gen score-vcf`")
                with lock:
                    df = model.score_vcf(path, model.fasta, tissue or None,
                                         methods=tuple(x.strip() for x in methods.split(",") if x.strip()) or None)
            except InputError as exc:
                raise HTTPException(422, str(exc).replace(str(path), name)) from None
        return Response(df.to_csv(sep="\t", index=False, float_format="%.6g", lineterminator="\n"),
                        media_type="text/tab-separated-values")


def serve(model_dir, host: str = "127.0.0.1", port: int = 8000, **kw) -> None:  # pragma: no cover - blocking
    import uvicorn
    uvicorn.run(create_app(model_dir, **kw), host=host, port=port, workers=1)


__all__ = ["create_app", "serve"]
