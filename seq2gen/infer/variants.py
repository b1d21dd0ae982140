"""Variant scoring: the supervised ``variant_effect`` task and a zero-shot likelihood ratio, for single variants and
for whole VCFs (streamed in chunks, resumable, written through a temp file).

* **task** — the ``variant_effect`` prompt names REF and ALT (``<off:…> <ref:X> <alt:Y>``) over the reference
  window, so one teacher-forced pass per (variant, tissue) gives the distribution over value tokens; the score is
  its expected value (``Quantizer.decode``), with the argmax-bin centre and an 80 % interval.
* **zero_shot** — needs no variant task: the REF base(s) are replaced by one sentinel in the span-corruption format
  (``<task:span_corruption> <dna> …left <extra_id_0> right… </dna>``); the encoder runs once per variant and the
  decoder scores two targets against the same encoder states, ``<extra_id_0> ALT <extra_id_1> </s>`` and
  ``<extra_id_0> REF <extra_id_1> </s>``: ``llr = log p(ALT) − log p(REF)``.
* **delta** — the ALT − REF change of another task's prediction (expression, chromatin, tf_binding) per tissue,
  Enformer / AlphaGenome style (``seq2gen.infer.delta``).

SNVs get every method; indels get ``delta`` and ``zero_shot`` (their ``effect_*`` columns stay empty: the variant
task's prompt names one REF and one ALT base), and the count is logged. A bad record is reported with the VCF's
file and line.

Windows are centred on the variant (REF's first base at the template's anchor offset, forward strand), fetched once
per variant as the union of both methods' windows.
"""
from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from seq2gen.errors import InputError
from seq2gen.infer import engine

log = logging.getLogger(__name__)
METHODS = ("task", "zero_shot", "delta")


# ---------------------------------------------------------------------------------------------- building blocks
def _pretrain_task(m) -> str:
    names = [t.name for t in m.registry if t.family == "pretrain"]
    if not names:
        raise InputError("zero-shot scoring needs a span-corruption (pretrain) task in the model's tasks.json",
                         hint="score with --method task (methods=('task',) in Python)")
    return names[0]


def zero_shot_inputs(m, windows: list[str], var_pos, refs, alts):
    """Encoder inputs (one per variant), targets (REF then ALT per variant) and each target's input index."""
    from seq2gen.vocab import encode_pieces
    task = m.registry.get(_pretrain_task(m))
    rows, targets = [], []
    for dna, p, ref, alt in zip(windows, var_pos, refs, alts):
        p = int(p)
        masked = [x for x in (dna[:p], "<extra_id_0>", dna[p + len(ref):]) if x]
        pieces = []
        for item in task.prompt:
            if item == "{dna}":
                pieces += masked
            elif item.startswith("{"):
                raise InputError(f"task {task.name}: zero-shot prompts cannot fill {item}")
            else:
                pieces.append(item)
        rows.append(encode_pieces(m.tokenizer, pieces))
        for allele in (ref, alt):
            targets.append(encode_pieces(m.tokenizer, ["<extra_id_0>", *([allele] if allele != "-" else []),
                                                       "<extra_id_1>"]))
    return rows, targets, np.repeat(np.arange(len(rows)), 2)


def llr_scores(m, rows, targets, group, batch_size: int) -> np.ndarray:
    """log p(ALT) − log p(REF) per variant, in batches of variants (one encoder pass each)."""
    out = np.empty(len(rows))
    for a in range(0, len(rows), batch_size):
        idx = np.arange(a, min(a + batch_size, len(rows)))
        tsel = np.concatenate([np.flatnonzero(group == i) for i in idx])
        lp = engine.target_logprobs(m.model, [rows[i] for i in idx], [targets[j] for j in tsel],
                                    group[tsel] - a, m.tokenizer.pad_id, m.start_id)
        out[idx] = lp[1::2] - lp[0::2]
    return out


def _check_alleles(window: str, offset: int, ref: str, alt: str, i: int) -> None:
    if not 0 <= offset <= len(window) - len(ref):
        raise InputError(f"variant {i}: offset {offset} is outside the {len(window)}-bp window")
    shown = window[offset:offset + len(ref)].upper()
    if shown != ref.upper():
        raise InputError(f"variant {i}: REF {ref!r} does not match the window at offset {offset} ({shown!r})",
                         hint="offset is 0-based in the reference window")
    if alt.upper() == ref.upper():
        raise InputError(f"variant {i}: ALT equals REF ({ref!r})")


# ---------------------------------------------------------------------------------------------- single variants
def variant_effect(m, ref_seq, offset, ref, alt, tissue, task: str = "variant_effect", batch_size=None):
    """Effect per variant: ``{"expected", "argmax", "lo", "hi"}`` (task's value units, e.g. Δ log expression).

    ``ref_seq``: the reference window (the task's window length), ``offset``: 0-based position of REF in it.
    Lists of equal length score many variants in one batched call; ``tissue`` may be one name or a list.
    """
    from seq2gen.infer.args import listify as _listify
    from seq2gen.infer.args import scalar_value as _scalar
    m._expect(task, "values", ("variant",))
    single = isinstance(ref_seq, str)
    seqs = [ref_seq] if single else list(ref_seq)
    n = len(seqs)
    offs, refs, alts, tissues = (_listify(offset, n, "offset"), _listify(ref, n, "ref"), _listify(alt, n, "alt"),
                                 _listify(tissue, n, "tissue"))
    dnas, _ = m.windows(task, seqs, "error")
    records = []
    for i, (d, o, r, a, t) in enumerate(zip(dnas, offs, refs, alts, tissues)):
        _check_alleles(d, int(o), r, a, i)
        records.append({"dna": d, "tissue": t, "var_pos": int(o), "ref": r.upper(), "alt": a.upper()})
    _check_tokens(m, records)
    out = [_scalar(p.value) for p in m._run(task, records, batch_size=batch_size)]
    return out[0] if single else out


def variant_llr(m, ref_seq, offset, ref, alt, batch_size=None):
    """Zero-shot ``log p(ALT) − log p(REF)`` of the masked allele (any window length the model handles)."""
    from seq2gen.infer.args import listify as _listify
    single = isinstance(ref_seq, str)
    seqs = [ref_seq] if single else list(ref_seq)
    n = len(seqs)
    offs, refs, alts = _listify(offset, n, "offset"), _listify(ref, n, "ref"), _listify(alt, n, "alt")
    for i, (d, o, r, a) in enumerate(zip(seqs, offs, refs, alts)):
        _check_alleles(d, int(o), r, a, i)
    rows, targets, group = zero_shot_inputs(m, seqs, offs, [r.upper() for r in refs], [a.upper() for a in alts])
    out = llr_scores(m, rows, targets, group, int(batch_size or m.batch_size))
    return float(out[0]) if single else out


def _check_tokens(m, records, where=None) -> None:
    """Every allele has its ``<ref:…>``/``<alt:…>`` token; ``where(i)`` → ``(path, line)`` of record ``i``."""
    for i, r in enumerate(records):
        for kind in ("ref", "alt"):
            if f"<{kind}:{r[kind]}>" not in m.tokenizer.token_to_id:
                path, line = where(i) if where else (None, None)
                raise InputError(f"{'' if line else f'variant {i}: '}allele {r[kind]!r} has no <{kind}:…> token "
                                 "(the variant task scores single-base substitutions)", path=path, line=line,
                                 hint="score indels with --method delta or --method zero_shot "
                                      "(methods=('delta',) or ('zero_shot',) in Python)")


def _is_snv(variants: pd.DataFrame) -> np.ndarray:
    return ((variants["ref"].str.len() == 1) & (variants["alt"].str.len() == 1)).to_numpy()


def _locator(variants: pd.DataFrame):
    """Row of a ``read_vcf`` chunk → ``(path, line)`` in the original VCF (``iter_vcf_chunks`` adds them)."""
    lines = variants["line"].to_numpy() if "line" in variants.columns else None
    path = variants.attrs.get("path")
    return lambda i: (path, int(lines[i])) if lines is not None else (None, None)


# ---------------------------------------------------------------------------------------------- VCF scoring
def score_chunk(m, variants: pd.DataFrame, fasta, tissues: list[str], methods=METHODS, task="variant_effect",
                batch_size=None, delta_task: str = "expression", genes=None) -> pd.DataFrame:
    """Scores for a ``read_vcf`` frame: ``chrom pos id ref alt`` + per tissue ``effect_T, effect_T_lo,
    effect_T_hi, effect_T_argmax`` (task; NaN for indels) + ``llr`` (zero_shot) + ``delta_<delta_task>_T`` (delta)."""
    bs = int(batch_size or m.batch_size)
    out = variants[["chrom", "pos", "id", "ref", "alt"]].reset_index(drop=True).copy()
    if variants.empty:
        cols = _score_columns(tissues, methods, m, delta_task, genes)
        return out.assign(**{c: pd.Series(dtype=object if c == "delta_gene" else float) for c in cols})
    variants = variants.reset_index(drop=True)
    spans = []                                        # (length, before) of each method's window
    if "task" in methods:
        w = m.registry.get(task).window
        spans.append((w.length, w.before))
    if "zero_shot" in methods:
        w = m.registry.get(_pretrain_task(m)).window
        spans.append((w.length, w.before))
    lo = min((-b for _, b in spans), default=0)
    hi = max((L - b for L, b in spans), default=0)
    starts = variants["start"].to_numpy(np.int64)
    union = [fasta.fetch(c, s + lo, s + hi) for c, s in zip(variants["chrom"], starts)] if spans else []
    refs, alts = variants["ref"].tolist(), variants["alt"].tolist()
    if "task" in methods:
        _task_columns(m, out, variants, [u[-lo - spans[0][1]:] for u in union], spans[0], tissues, task, bs)
    if "delta" in methods:
        from seq2gen.infer.delta import delta_scores
        d = delta_scores(m, variants, fasta, delta_task, tissues, genes, bs)
        for c in d.columns:
            out[c] = d[c].to_numpy()
    if "zero_shot" in methods:
        L, before = spans[-1]                                       # union starts at variant + lo
        wins = [u[-lo - before:-lo - before + L] for u in union]
        rows, targets, group = zero_shot_inputs(m, wins, [before] * len(wins), refs, alts)
        out["llr"] = llr_scores(m, rows, targets, group, bs)
    return out


def _task_columns(m, out, variants, wins, span, tissues, task, bs) -> None:
    """``effect_T*`` columns of the variant task for the SNVs (indels: NaN, counted in the log)."""
    L, before = span
    snv = np.flatnonzero(_is_snv(variants))
    if len(snv) < len(variants):
        log.info("%d indel(s): the %s task scores SNVs only; their effect_* columns are empty (delta / zero_shot "
                 "score them)", len(variants) - len(snv), task)
    refs, alts = variants["ref"].tolist(), variants["alt"].tolist()
    records = [{"dna": wins[i][:L], "tissue": t, "var_pos": before, "ref": refs[i], "alt": alts[i]}
               for t in tissues for i in snv]
    where = _locator(variants)
    _check_tokens(m, records, lambda j: where(int(snv[j % len(snv)])))
    preds = m._run(task, records, batch_size=bs) if records else []
    n = len(snv)
    for k, t in enumerate(tissues):
        vals = [p.value for p in preds[k * n:(k + 1) * n]]
        for suffix, key in (("", "expected"), ("_lo", "lo"), ("_hi", "hi"), ("_argmax", "argmax")):
            col = np.full(len(variants), np.nan)
            col[snv] = [float(getattr(v, key)[0]) for v in vals]
            out[f"effect_{t}{suffix}"] = col


def _score_columns(tissues, methods, m=None, delta_task="expression", genes=None) -> list[str]:
    cols = [f"effect_{t}{s}" for t in tissues for s in ("", "_lo", "_hi", "_argmax")] if "task" in methods else []
    if "delta" in methods:
        t = m.registry.get(delta_task)
        cols += [f"delta_{delta_task}_{x}" for x in tissues] if t.tissue_conditioned else [f"delta_{delta_task}"]
        cols += ["delta_gene"] if genes is not None and t.window.centre == "tss" else []
    return cols + (["llr"] if "zero_shot" in methods else [])


def trained_pretrain(m) -> bool:
    """Whether model ``m`` was trained on a pre-training (span-corruption) task, read from the ``train_config.yaml``
    next to its weights (mixture rate > 0 or a pre-training stage). Without that file (e.g. a ``save_pretrained``
    copy) the answer is "yes" when the model has such a task at all."""
    import yaml
    pretrain = {t.name for t in m.registry if t.family == "pretrain"}
    cfg = Path(m.source) / "train_config.yaml" if getattr(m, "source", None) else None
    if not pretrain or cfg is None or not cfg.is_file():
        return bool(pretrain)
    tc = yaml.safe_load(cfg.read_text()) or {}
    names = _mixture_tasks(tc, {t.name for t in m.registry})
    if tc.get("pretrain_task") and tc.get("pretrain_steps"):
        names.add(tc["pretrain_task"])
    return bool(names & pretrain)


def _mixture_tasks(tc: dict, known: set[str]) -> set[str]:
    """Tasks the mixture stage of a saved train config drew from: a ``mixture:`` file's tasks, the positive entries
    of a ``rates:`` mapping, or (``proportional`` / ``uniform``) every task of the model but the pre-training one."""
    if tc.get("mixture"):
        from seq2gen.train.sampler import load_mixture
        try:
            return set(load_mixture(tc["mixture"]).tasks)
        except InputError as exc:
            log.warning("train_config.yaml names mixture %r, which cannot be read here (%s): counting every "
                        "task of the model as trained", tc["mixture"], exc)
            return set(known)
    rates = tc.get("rates") or "proportional"
    if isinstance(rates, dict):
        return {n for n, r in rates.items() if r}
    return set(known) - {tc.get("pretrain_task")}


def _methods(m, methods, task, delta_task: str = "expression") -> tuple[str, ...]:
    """Validated methods; ``None``: the variant task if the model has it, plus the zero-shot LLR only if its span-
    corruption head was trained (an untrained one would return noise that looks like a score)."""
    if methods is None:
        methods = tuple(x for x in ("task", "zero_shot")            # delta is opt-in
                        if (task in m.registry if x == "task" else trained_pretrain(m)))
        if not methods:
            raise InputError(f"the model has neither a {task!r} task nor a trained span-corruption task to score "
                             "variants with")
    methods = (methods,) if isinstance(methods, str) else tuple(methods)
    bad = [x for x in methods if x not in METHODS]
    if bad or not methods:
        raise InputError(f"unknown scoring method(s) {bad}", hint=f"choose from {', '.join(METHODS)}")
    if "task" in methods and task not in m.registry:
        raise InputError(f"the model has no {task!r} task for method 'task'",
                         hint="use --method zero_shot (methods=('zero_shot',) in Python)")
    if "zero_shot" in methods:
        _pretrain_task(m)
    if "delta" in methods and delta_task not in m.registry:
        from seq2gen.infer.delta import DELTA_TASKS
        raise InputError(f"the model has no {delta_task!r} task for method 'delta'",
                         hint=f"pass delta_task= one of {', '.join(x for x in DELTA_TASKS if x in m.registry)}")
    return methods


def _tissues(m, tissue, methods, task, delta_task: str = "expression") -> list[str]:
    """Tissues to score: those of the variant task and/or the delta task (each checked against both)."""
    used = [x for x, on in ((task, "task" in methods), (delta_task, "delta" in methods))
            if on and m.registry.get(x).tissue_conditioned]
    if not used:
        return []
    if tissue in (None, "all"):
        known = m.task_tissues(used[0])
        if not known:
            raise InputError("pass the tissue(s) to score (the model does not record its trained tissues)")
        tissue = known
    tissues = [tissue] if isinstance(tissue, str) else list(tissue)
    for t in tissues:
        for x in used:
            m.check_tissue(x, t)
    return tissues


def iter_vcf_chunks(vcf, fasta, chunk_size: int = 2048, skip: int = 0):
    """Yield ``(records consumed so far, read_vcf frame)`` per chunk of data lines; memory stays one chunk.

    Each chunk goes through the strict ``read_vcf`` (REF checked against ``fasta``); errors name the original
    file and line. The first ``skip`` data lines are passed over (resume).
    """
    from seq2gen.genome import read_vcf
    vcf = Path(vcf)
    with tempfile.TemporaryDirectory() as tmpdir, contextlib.closing(_text_lines(vcf)) as f:
        header, lines, numbers, done, lineno = [], [], [], 0, 0
        tmp = Path(tmpdir) / "chunk.vcf"

        def flush():
            tmp.write_text("".join(header + lines))
            try:
                df = read_vcf(tmp, fasta)
            except InputError as exc:
                line = exc.line
                orig = numbers[line - len(header) - 1] if line and line > len(header) else line
                msg = str(exc).split(": ", 1)[1] if str(exc).startswith(str(tmp)) else str(exc)
                raise InputError(msg, path=vcf, line=orig) from None
            if len(df) == len(numbers):            # strict reader: one row per line → name lines in later errors
                df["line"] = numbers
            df.attrs["path"] = str(vcf)
            return df

        for lineno, raw in enumerate(f, start=1):
            if raw.startswith("#"):
                if lines or done:
                    raise InputError("header line after the first record", path=vcf, line=lineno)
                header.append(raw)
                continue
            if not raw.strip():
                continue
            done += 1
            if done <= skip:
                continue
            lines.append(raw if raw.endswith("\n") else raw + "\n")
            numbers.append(lineno)
            if len(lines) == chunk_size:
                yield done, flush()
                lines, numbers = [], []
        if not header:
            raise InputError("missing #CHROM header line", path=vcf)
        if lines:
            yield done, flush()


def score_vcf(m, vcf, fasta, tissue=None, methods=None, task: str = "variant_effect", chunk_size: int = 2048,
              batch_size=None, delta_task: str = "expression", genes=None) -> pd.DataFrame:
    """One row per VCF record, in file order (``tissue``: a name, a list, or None/"all" for the trained ones;
    ``delta_task`` / ``genes`` (GTF or ``tss`` table): the ``delta`` method's task and TSS anchors)."""
    methods = _methods(m, methods, task, delta_task)
    tissues = _tissues(m, tissue, methods, task, delta_task)
    fasta = _open_fasta(fasta)
    genes = _genes(genes, methods)
    kw = {"delta_task": delta_task, "genes": genes}
    parts = [score_chunk(m, df, fasta, tissues, methods, task, batch_size, **kw)
             for _, df in iter_vcf_chunks(vcf, fasta, chunk_size)]
    return pd.concat(parts, ignore_index=True) if parts else score_chunk(m, pd.DataFrame(
        columns=["chrom", "pos", "id", "ref", "alt", "start"]), fasta, tissues, methods, task, **kw)


def _genes(genes, methods):
    """The delta method's TSS table (read once per run, not per chunk)."""
    if genes is None or "delta" not in methods:
        return None
    from seq2gen.infer.delta import _tss_table
    return _tss_table(genes)


def _open_fasta(fasta):
    if hasattr(fasta, "fetch"):
        return fasta
    from seq2gen.genome import Fasta
    return Fasta(fasta)


def count_records(vcf) -> int:
    return sum(1 for line in _text_lines(vcf) if line.strip() and not line.startswith("#"))


def _text_lines(vcf):
    """Lines of a plain or gzip VCF (gzip told by its magic bytes, not its name), decoded as UTF-8 one at a time:
    a bad byte or a broken gzip stream is an ``InputError`` naming the file and line, never a traceback."""
    vcf = Path(vcf)
    if not vcf.is_file():
        raise InputError("no such VCF file", path=vcf)
    with open(vcf, "rb") as raw:
        zipped = raw.read(2) == b"\x1f\x8b"
    lineno = 0
    try:
        with (gzip.open(vcf, "rb") if zipped else open(vcf, "rb")) as f:
            for lineno, line in enumerate(f, start=1):
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(f"not UTF-8 text: byte 0x{line[e.start]:02x} at column {e.start + 1}",
                                     path=vcf, line=lineno,
                                     hint="re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`") from None
                yield text[:-2] + "\n" if text.endswith("\r\n") else text
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"corrupt or truncated gzip data after line {lineno} ({e})", path=vcf,
                         hint="check the file with `gzip -t`") from None


def write_scores(m, vcf, fasta, out, tissue=None, methods=None, task: str = "variant_effect",
                 chunk_size: int = 2048, batch_size=None, resume: bool = False, progress: bool = False,
                 delta_task: str = "expression", genes=None) -> dict:
    """Stream scores into ``out`` (TSV). Rows go to ``OUT.partial`` with a checkpoint ``OUT.partial.json``
    (records consumed, bytes written) after each chunk; the finished file is renamed to ``out``.
    ``resume=True`` truncates the partial file to its last checkpoint and continues after the records it covers,
    so an interrupted run never duplicates or loses rows. Returns ``{"rows", "records", "path"}``."""
    methods = _methods(m, methods, task, delta_task)
    tissues = _tissues(m, tissue, methods, task, delta_task)
    fasta = _open_fasta(fasta)
    gene_src, genes = genes, _genes(genes, methods)
    kw = {"delta_task": delta_task, "genes": genes}
    out = Path(out)
    part, state_path = out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")
    if not Path(vcf).is_file():
        raise InputError("no such VCF file", path=vcf)
    st = Path(vcf).stat()
    settings = {"vcf": str(Path(vcf).resolve()), "vcf_size": st.st_size, "vcf_mtime_ns": st.st_mtime_ns,
                "model": m.source, "tissues": tissues, "methods": list(methods), "task": task}
    if "delta" in methods:
        settings.update(delta_task=delta_task, genes=None if gene_src is None else str(gene_src))
    state = {"records": 0, "bytes": 0, "rows": 0}
    if part.exists() and not state_path.exists() and part.stat().st_size == 0:
        part.unlink()        # a run that failed before its first checkpoint: nothing to resume
    if part.exists() or state_path.exists():
        if not resume:
            raise InputError(f"an interrupted run left {part.name}", path=part,
                             hint="pass --resume (resume=True) to continue it, or delete it to start over")
        saved = json.loads(state_path.read_text()) if state_path.exists() else {"settings": settings, **state}
        if saved["settings"] != settings:
            diff = [k for k in settings if saved["settings"].get(k) != settings[k]]
            raise InputError(f"cannot resume: the partial run used different settings ({', '.join(diff)})",
                             path=part, hint="delete the .partial files to start over")
        state = {k: saved[k] for k in state}
        with open(part, "r+b" if part.exists() else "wb") as f:
            f.truncate(state["bytes"])
    elif resume and out.exists():
        log.info("%s is complete; nothing to resume", out)
        return {"rows": None, "records": None, "path": out}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=count_records(vcf), initial=state["records"], unit="variant", desc="score-vcf")
    fresh = not part.exists()
    try:
        with open(part, "ab") as f:
            for done, df in iter_vcf_chunks(vcf, fasta, chunk_size, skip=state["records"]):
                scores = score_chunk(m, df, fasta, tissues, methods, task, batch_size, **kw)
                text = scores.to_csv(sep="\t", index=False, header=state["bytes"] == 0, float_format="%.6g",
                                     lineterminator="\n")
                f.write(text.encode())
                f.flush()
                os.fsync(f.fileno())
                if bar is not None:
                    bar.update(done - state["records"])
                state = {"records": done, "bytes": f.tell(), "rows": state["rows"] + len(scores)}
                _write_json(state_path, {"settings": settings, **state})
            if state["bytes"] == 0:               # no records at all: still a valid TSV with its header
                empty = score_chunk(m, pd.DataFrame(columns=["chrom", "pos", "id", "ref", "alt", "start"]),
                                    fasta, tissues, methods, task, **kw)
                f.write(empty.to_csv(sep="\t", index=False, lineterminator="\n").encode())
    except BaseException:
        if fresh and not state_path.exists():     # failed before any checkpoint (e.g. bad VCF): leave no .partial
            part.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    os.replace(part, out)
    state_path.unlink(missing_ok=True)
    return {"rows": state["rows"], "records": state["records"], "path": out}


def _write_json(path: Path, obj) -> None:
    from seq2gen.utils.io import atomic_write
    with atomic_write(path) as f:
        json.dump(obj, f)
