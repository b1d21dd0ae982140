"""``Seq2Gen``: a trained model directory behind a prompt API — batched, grammar-constrained, value-aware.

    m = Seq2Gen.from_pretrained("runs/quickstart/model", device="cpu")        # or device="cuda", dtype="bfloat16"
    m.predict(["<task:promoter> <dna> ACGT… </dna>", …])                       # → [Prediction]
    m.expression(dna, "liver", chrom="chr5", pos=tss)                          # typed helpers: seq2gen.infer.helpers

The directory holds what training exports (``config.json``, ``model.safetensors``, the tokenizer with
``seq2gen_vocab.json``, ``quantizers.json``, ``tasks.json``) plus, when written by ``save_pretrained``,
``seq2gen_infer.json`` (the tissues the model was trained on). See docs/inference.md.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer import engine
from seq2gen.infer.grammar import AnswerGrammar
from seq2gen.infer.explain import ExplainMethods
from seq2gen.infer.helpers import TypedHelpers
from seq2gen.tasks.render import PROMPT_TISSUE

log = logging.getLogger(__name__)
META_FILE = "seq2gen_infer.json"
ONE_STEP = ("choice", "values")   # grammars answered by one teacher-forced pass when they have a single token


@dataclass
class ValueEstimate:
    """Decoded value answer: per value position the expected value, argmax-bin centre, central 80 % interval, and
    the distribution over the quantizer's bins (``probs``: (K, n_bins))."""

    expected: np.ndarray
    argmax: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    probs: np.ndarray

    def to_dict(self, with_probs: bool = False) -> dict:
        keys = ("expected", "argmax", "lo", "hi") + (("probs",) if with_probs else ())
        return {k: np.round(getattr(self, k), 6).tolist() for k in keys}


@dataclass
class Prediction:
    """One answer: its task, the answer text (tokens), the parsed answer (``parse_answer``), whether ``</s>`` was
    reached, label probabilities (choice tasks) and the value estimate (value tasks)."""

    task: str
    answer: str
    parsed: object
    finished: bool = True
    probs: dict | None = None
    value: ValueEstimate | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self, with_probs: bool = False) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("value", "extra")}
        d["value"] = None if self.value is None else self.value.to_dict(with_probs)
        return d


class Seq2Gen(TypedHelpers, ExplainMethods):
    """Model + tokenizer + quantizers + task registry. Build with ``from_pretrained``."""

    def __init__(self, model, tokenizer, quantizers: dict, registry, tissues: list[str] | None = None,
                 fasta=None, batch_size: int = 32, source: str | None = None):
        self.model, self.tokenizer, self.quantizers, self.registry = model.eval(), tokenizer, quantizers, registry
        self.vocab = tokenizer.vocab
        self.tissues = list(tissues) if tissues else None
        self.fasta = fasta
        self.batch_size = int(batch_size)
        self.source = source
        cfg = model.config
        self.start_id = int(cfg.decoder_start_token_id if cfg.decoder_start_token_id is not None else cfg.pad_token_id)
        self._grammar_cache: dict = {}
        self._task_ids = {tokenizer.token_to_id[f"<task:{t.name}>"]: t.name for t in registry}
        nt = np.zeros(len(tokenizer), dtype=np.int64)           # bases per id (0 for grammar tokens)
        for t, i in tokenizer.token_to_id.items():
            if t not in tokenizer.grammar:
                nt[i] = len(t)
        self._bases_per_id = nt
        self._sentinel_ids = np.asarray(tokenizer.ids_of(self.vocab.groups["sentinels"]))
        self._tissue_ids = np.asarray(tokenizer.ids_of(self.vocab.groups["tissues"]))
        for t in registry:
            if t.quantizer is not None and t.name not in quantizers:
                raise InputError(f"task {t.name!r} needs a quantizer but quantizers.json has none for it",
                                 hint="export the data folder's quantizers.json with the model")

    # ------------------------------------------------------------------ persistence
    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: str = "cpu", dtype="float32", fasta=None,
                        batch_size: int = 32) -> "Seq2Gen":
        """Load an export directory. ``device``: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"`` …; ``dtype``:
        ``"float32"`` (default), ``"bfloat16"``, ``"float16"`` or a torch dtype; ``fasta``: a path or ``Fasta`` used
        to resolve region strings."""
        import torch
        from transformers import AutoModelForSeq2SeqLM

        import seq2gen.model  # noqa: F401  (registers the conv-stem models with AutoModelForSeq2SeqLM)
        from seq2gen.tasks import TaskRegistry
        from seq2gen.vocab import Seq2GenTokenizer, load_quantizers
        path = Path(path)
        if not (path / "config.json").is_file():
            raise InputError("not a model directory (no config.json)", path=path,
                             hint="pass the export folder written by training (OUT_DIR/model) or save_pretrained")
        for name in ("tasks.json", "quantizers.json"):
            if not (path / name).is_file():
                raise InputError(f"the model directory has no {name}", path=path,
                                 hint="`seq2gen train` with `data: DIR` exports them; from Python, list the data "
                                      "folder's quantizers.json and tasks.json in the training config's "
                                      "export_files (or copy them into the model directory)")
        tokenizer = Seq2GenTokenizer.from_pretrained(_tokenizer_dir(path))
        torch_dtype = _dtype(dtype)
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"device {device!r} requested but CUDA is not available",
                             hint="use --device cpu (device='cpu' in Python)")
        model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=torch_dtype).to(dev)
        if model.config.vocab_size < len(tokenizer):
            raise InputError(f"the model's vocabulary ({model.config.vocab_size}) is smaller than the tokenizer's "
                             f"({len(tokenizer)})", path=path, hint="resize_token_embeddings and fine-tune")
        registry = TaskRegistry.from_json(path / "tasks.json", vocab=tokenizer.vocab)
        meta = json.loads((path / META_FILE).read_text()) if (path / META_FILE).is_file() else {}
        if fasta is not None and not hasattr(fasta, "fetch"):
            from seq2gen.genome import Fasta
            fasta = Fasta(fasta)
        return cls(model, tokenizer, load_quantizers(path / "quantizers.json"), registry, meta.get("tissues"),
                   fasta=fasta, batch_size=batch_size, source=str(path))

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """Write a complete, reloadable directory (temp folder, then renamed into place)."""
        from seq2gen.utils.io import atomic_dir
        from seq2gen.vocab import save_quantizers
        path = Path(path)
        with atomic_dir(path) as tmp:
            self.model.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            save_quantizers(self.quantizers, tmp / "quantizers.json")
            self.registry.to_json(tmp / "tasks.json")
            (tmp / META_FILE).write_text(json.dumps({"format_version": 1, "tissues": self.tissues}, indent=1) + "\n")
        return path

    @property
    def device(self):
        return self.model.device

    # ------------------------------------------------------------------ grammars
    def grammar(self, task: str, max_offset: int | None = None, n_sentinels: int | None = None,
                tissue: str | None = None) -> AnswerGrammar:
        """``tissue``: the prompt's tissue token, for a choice that names it (``{tissue}``: tf_binding)."""
        key = (task, max_offset, n_sentinels, tissue)
        if key not in self._grammar_cache:
            t = self.registry.get(task)
            spec = dict(t.answer_grammar)
            if PROMPT_TISSUE in spec.get("tokens", ()):
                if tissue is None:
                    raise InputError(f"task {task} answers with the prompt's tissue token, and this prompt has none",
                                     hint="put a <tissue:…> token after the task token")
                spec["tokens"] = [tissue if x == PROMPT_TISSUE else x for x in spec["tokens"]]
            q = self.quantizers.get(task)
            if spec["type"] == "values" and q is not None:
                if spec.setdefault("n_bins", q.n_bins) != q.n_bins:
                    raise InputError(f"task {task}: grammar n_bins {spec['n_bins']} ≠ quantizer bins {q.n_bins}")
            self._grammar_cache[key] = AnswerGrammar.from_spec(spec, self.tokenizer, max_offset, n_sentinels)
        return self._grammar_cache[key]

    def _row_grammar(self, task: str, ids: np.ndarray) -> AnswerGrammar:
        spec = self.registry.get(task).answer_grammar
        kind = spec["type"]
        if kind == "spans":
            from seq2gen.tasks import snap
            n_bases = int(self._bases_per_id[ids].sum())
            n_off = len(self.vocab.groups["offsets"]) - 1
            return self.grammar(task, max_offset=min(max(snap(n_bases, self.vocab.off_resolution), 1), n_off))
        if kind == "sentinel_spans":
            return self.grammar(task, n_sentinels=int(np.isin(ids, self._sentinel_ids).sum()))
        if kind == "choice" and PROMPT_TISSUE in spec["tokens"]:
            found = np.asarray(ids)[np.isin(ids, self._tissue_ids)]
            return self.grammar(task, tissue=self.tokenizer.id_to_token[int(found[0])] if found.size else None)
        return self.grammar(task)

    def task_of(self, ids) -> str:
        """Task named by a prompt's first token (``<task:NAME>``)."""
        name = self._task_ids.get(int(ids[0])) if len(ids) else None
        if name is None:
            first = self.tokenizer.id_to_token.get(int(ids[0]), "?") if len(ids) else "nothing"
            raise InputError(f"a prompt must start with the token of a task this model knows, got {first}",
                             hint=f"tasks: {', '.join(self.registry.names)}")
        return name

    # ------------------------------------------------------------------ prompts → answers
    def encode(self, prompts: list[str]) -> list[np.ndarray]:
        out = []
        for i, p in enumerate(prompts):
            try:
                out.append(np.asarray(self.tokenizer.encode_prompt(p), dtype=np.int64))
            except InputError as exc:
                raise InputError(f"prompt {i}: {exc}") from None
        return out

    def predict(self, prompts, max_new_tokens: int | None = None, batch_size: int | None = None):
        """Answers for prompt strings (one string → one ``Prediction``, a list → a list), in input order.

        Choice and single-value answers come from one teacher-forced pass (probabilities over the allowed tokens);
        tracks (several value tokens) from cached decoder steps that feed back each bin's expected value
        (``engine.value_steps``); other answers from grammar-constrained greedy generation.
        """
        single = isinstance(prompts, str)
        rows, tasks = self.prepare([prompts] if single else list(prompts))
        preds = self.predict_ids(rows, tasks, max_new_tokens, batch_size)
        return preds[0] if single else preds

    def prepare(self, prompts: list[str]) -> tuple[list[np.ndarray], list[str]]:
        """Encoded prompts and their tasks; ``InputError`` naming the prompt for unknown tokens, no task token, or a
        structure that is not its task's template (``seq2gen.tasks.promptcheck``: tokens, ``<dna>…</dna>``, window
        length). ``predict`` = ``prepare`` + ``predict_ids``."""
        from seq2gen.tasks.promptcheck import check_prompt
        rows, tasks = self.encode(prompts), []
        names = self.tokenizer.id_to_token
        for i, r in enumerate(rows):
            try:
                tasks.append(self.task_of(r))
                check_prompt(self.registry.get(tasks[-1]), [names[int(x)] for x in r], self.vocab.off_resolution)
            except InputError as exc:
                raise InputError(f"prompt {i}: {exc}") from None
        return rows, tasks

    def predict_ids(self, rows: list[np.ndarray], tasks: list[str], max_new_tokens: int | None = None,
                    batch_size: int | None = None) -> list[Prediction]:
        """``predict`` for already-encoded prompts (ids end with ``</s>``) whose tasks are known."""
        bs = int(batch_size or self.batch_size)
        grammars = [self._row_grammar(t, r) for t, r in zip(tasks, rows)]
        one = [i for i, g in enumerate(grammars) if g.kind in ONE_STEP and g.max_tokens() == 2]
        track = [i for i, g in enumerate(grammars) if g.kind == "values" and g.count > 1]
        done = set(one) | set(track)
        multi = [i for i in range(len(rows)) if i not in done]
        out: list[Prediction | None] = [None] * len(rows)
        for batch in engine.length_batches([len(rows[i]) for i in one], bs):
            idx = [one[j] for j in batch]
            logits = engine.first_step_logits(self.model, [rows[i] for i in idx], self.tokenizer.pad_id,
                                              self.start_id)
            by_grammar: dict[int, list[int]] = {}    # rows of a batch may differ in task: softmax per grammar
            for k, i in enumerate(idx):
                by_grammar.setdefault(id(grammars[i]), []).append(k)
            for ks in by_grammar.values():
                g = grammars[idx[ks[0]]]
                allowed = g.choices if g.kind == "choice" else g.values
                probs = engine.restricted_softmax(logits[ks], allowed)
                for k, p in zip(ks, probs):
                    out[idx[k]] = self._finish(tasks[idx[k]], g, [int(allowed[p.argmax()])], True, p[None])
        for i in track + multi:
            if max_new_tokens is not None and max_new_tokens < grammars[i].min_tokens():
                raise InputError(f"max_new_tokens={max_new_tokens} is too small for task {tasks[i]} "
                                 f"(its answers need ≥ {grammars[i].min_tokens()} tokens)")
        for task in dict.fromkeys(tasks[i] for i in track):     # tracks: expected-value feedback (engine.value_steps)
            sel = [i for i in track if tasks[i] == task]
            g, q = grammars[sel[0]], self.quantizers.get(task)
            if q is None:
                raise InputError(f"task {task} has a values answer but no quantizer")
            for batch in engine.length_batches([len(rows[i]) for i in sel], bs):
                idx = [sel[j] for j in batch]
                probs, bins = engine.value_steps(self.model, [rows[i] for i in idx], g.values, g.count,
                                                 self.tokenizer.pad_id, self.start_id, expected_bin(q))
                for k, i in enumerate(idx):
                    out[i] = self._finish(task, g, [int(g.values[b]) for b in bins[k]], True, probs[k])
        if multi:
            needed = max(self._budget(tasks[i], grammars[i], rows[i]) for i in multi)
            steps = max_new_tokens or needed
            for batch in engine.length_batches([len(rows[i]) for i in multi], bs):
                idx = [multi[j] for j in batch]
                gs = [grammars[i] for i in idx]
                keep = any(g.kind == "values" for g in gs)
                toks, scores = engine.constrained_generate(self.model, [rows[i] for i in idx], gs, steps,
                                                           self.tokenizer.pad_id, keep_scores=keep)
                for k, i in enumerate(idx):
                    g, t = grammars[i], toks[k]
                    probs = None
                    if g.kind == "values":
                        probs = np.concatenate([engine.restricted_softmax(scores[s, k:k + 1], g.values)
                                                for s in range(g.count)])
                    finished = bool(t.size and t[-1] == g.eos)
                    out[i] = self._finish(tasks[i], g, [int(x) for x in t if x != g.eos], finished, probs)
        return out

    def _budget(self, task: str, g: AnswerGrammar, ids: np.ndarray) -> int:
        """Default max_new_tokens: the grammar's longest answer, or for sentinel answers the sentinels plus 1.5×
        the bases the task's noise density implies were masked (visible × d / (1 − d))."""
        if g.max_tokens() is not None:
            return g.max_tokens()
        d = float(self.registry.get(task).corruption.get("noise_density", 0.15))
        visible = int(self._bases_per_id[ids].sum())
        return min(g.n_sentinels + 2 + int(np.ceil(1.5 * visible * d / max(1 - d, 1e-6))), 1024)

    def _finish(self, task: str, g: AnswerGrammar, ids: list[int], finished: bool, probs) -> Prediction:
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        pred = Prediction(task, " ".join(tokens), g.parse(tokens), finished)
        if g.kind == "choice":
            pred.probs = {t: float(p) for t, p in zip(g.spec["tokens"], probs[0])}
        elif g.kind == "values":
            q = self.quantizers.get(task)
            if q is None:
                raise InputError(f"task {task} has a values answer but no quantizer")
            pred.value = ValueEstimate(*q.decode(probs), probs=probs)
        return pred


def _tokenizer_dir(path: Path) -> Path:
    """The model directory itself, or (training exports of an HF-only tokenizer) the tokenizer folder named in its
    train_config.yaml — said in the log, never silently."""
    from seq2gen.vocab.tokenizer import VOCAB_FILE
    if (path / VOCAB_FILE).is_file():
        return path
    cfg = path / "train_config.yaml"
    if cfg.is_file():
        import yaml
        tok = (yaml.safe_load(cfg.read_text()) or {}).get("tokenizer")
        if tok and (Path(tok) / VOCAB_FILE).is_file():
            log.warning("%s has no %s; using the tokenizer folder named in train_config.yaml: %s", path,
                        VOCAB_FILE, tok)
            return Path(tok)
    raise InputError(f"the model directory has no {VOCAB_FILE} (the seq2gen tokenizer's grammar)", path=path,
                     hint=f"add the tokenizer folder's {VOCAB_FILE} to the training config's export_files, or "
                          "re-save with Seq2Gen.save_pretrained")


def _dtype(dtype):
    import torch
    if isinstance(dtype, torch.dtype):
        return dtype
    table = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
             "float16": torch.float16, "fp16": torch.float16}
    if str(dtype) not in table:
        raise InputError(f"unknown dtype {dtype!r}", hint=f"one of {', '.join(table)}")
    return table[str(dtype)]


def expected_bin(q):
    """``(…, n_bins)`` probabilities → the bin holding the expected value (what a track step feeds back)."""
    return lambda p: q.encode(q.decode(p)[0])
