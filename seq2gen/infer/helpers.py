"""Typed helpers of ``Seq2Gen``: ``classify``, ``expression``, ``track``, ``annotate`` (variants: variants.py).

Every helper builds its prompts with the task's own ``Renderer`` and ``seq2gen.vocab.encode_pieces`` (as the data
pipeline does), so the ids are exactly what training saw for the same record. Inputs are a DNA string, a region string
(``chr7:1,001-1,384:-``, resolved with ``Seq2Gen.fasta``), a ``Region``, or a list of them (one call, batched).

Window rule: a sequence must have the task's window length (``window.length``; the anchor — TSS, site centre,
variant — at offset ``window.before`` in the shown orientation). Anything else is an ``InputError`` naming the
length and anchor, unless ``fit="centre"``: then the sequence's centre base (index ``len // 2``) is put at the
anchor offset, cropping or padding with ``N`` (a region is instead re-fetched around its centre).
``annotate`` is the exception: it tiles sequences of any length (see its docstring).
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError
from seq2gen.infer.args import listify as _listify
from seq2gen.infer.args import scalar_value as _scalar
from seq2gen.infer.regions import Region, looks_like_region, parse_region

FITS = ("error", "centre")
_ANCHOR = {"tss": "the TSS (gene orientation)", "interval_centre": "the site centre", "variant": "the variant",
           "tiled": "the window centre"}


def fit_centre(dna: str, length: int, before: int) -> str:
    """Put base ``len(dna) // 2`` at offset ``before`` of a ``length`` window, cropping or padding with N."""
    c, n = len(dna) // 2, len(dna)
    lo = max(0, before - c)                  # first window offset filled from dna
    src = lo - before + c
    take = max(0, min(length - lo, n - src))
    return "N" * lo + dna[src:src + take] + "N" * (length - lo - take)


class TypedHelpers:
    """Mixed into ``Seq2Gen``; needs ``registry``, ``quantizers``, ``tokenizer``, ``vocab``, ``fasta``, ``tissues``
    and ``predict_ids``."""

    # ------------------------------------------------------------------ prompts
    def render(self, task: str, records: list[dict]) -> list[np.ndarray]:
        """Prompt ids for records (``dna``, ``tissue``, ``chrom``, ``anchor``, ``var_pos``, ``ref``, ``alt``),
        via the task's ``Renderer`` and ``seq2gen.vocab.encode_pieces`` (as the data pipeline)."""
        from seq2gen.tasks import Renderer
        from seq2gen.vocab import encode_pieces
        t = self.registry.get(task)
        if t.family == "pretrain":
            raise InputError(f"task {task} corrupts its input at random; write its prompt yourself")
        renderer = Renderer(t, self.vocab, self.quantizers.get(task))
        for r in records:
            if t.tissue_conditioned:
                self.check_tissue(task, r.get("tissue"))
        return [encode_pieces(self.tokenizer, renderer.prompt(r)) for r in records]

    def check_tissue(self, task: str, tissue) -> None:
        if tissue is None or tissue == "":
            raise InputError(f"task {task} is tissue-conditioned: pass tissue=…")
        self.vocab.tissue_token(tissue)                       # unknown → "did you mean"
        allowed = self.task_tissues(task)
        if allowed is not None and tissue not in allowed:
            raise InputError(f"task {task} was not trained on tissue {tissue!r}", hint=f"tissues: {', '.join(allowed)}")

    def task_tissues(self, task: str) -> list[str] | None:
        """Tissues a task was trained on, where known (explicit template list, or the saved model's tissues)."""
        t = self.registry.get(task)
        if not t.tissue_conditioned:
            return []
        base = self.tissues if t.tissues == "all" else list(t.tissues)
        return None if base is None else [x for x in base if x not in t.exclude_tissues]

    def windows(self, task: str, seqs, fit: str = "error") -> tuple[list[str], list[Region | None]]:
        """DNA of each input at the task's window length (see the module doc for the rule)."""
        if fit not in FITS:
            raise InputError(f"fit must be one of {FITS}, got {fit!r}")
        w = self.registry.get(task).window
        L, before = w.length, w.before
        dnas, regions = [], []
        for i, s in enumerate(seqs):
            if isinstance(s, Region) or (isinstance(s, str) and looks_like_region(s)):
                reg = parse_region(s)
                if len(reg) != L:
                    if fit == "error":
                        raise self._length_error(task, i, len(reg), "region")
                    reg = reg.resized(L, before, len(reg) // 2)
                dnas.append(reg.fetch(self._fasta()))
                regions.append(reg)
                continue
            if not isinstance(s, str):
                raise InputError(f"sequence {i}: expected a DNA string or a region, got {type(s).__name__}")
            dna = s.strip()
            if len(dna) != L:
                if fit == "error":
                    raise self._length_error(task, i, len(dna), "sequence")
                dna = fit_centre(dna, L, before)
            dnas.append(dna)
            regions.append(None)
        return dnas, regions

    def _length_error(self, task, i, n, what) -> InputError:
        w = self.registry.get(task).window
        return InputError(f"{what} {i} has {n} bp; task {task} reads {w.length}-bp windows with "
                          f"{_ANCHOR.get(w.centre, 'the anchor')} at offset {w.before}",
                          hint=f"pass exactly {w.length} bp, or fit='centre' to centre it on that offset")

    def _fasta(self):
        if self.fasta is None:
            raise InputError("region inputs need a reference genome",
                             hint="pass --fasta genome.fa on the command line; in Python "
                                  "Seq2Gen.from_pretrained(dir, fasta='genome.fa') or set model.fasta")
        return self.fasta

    def _run(self, task: str, records: list[dict], **kw):
        rows = self.render(task, records)
        return self.predict_ids(rows, [task] * len(rows), **kw)

    def _expect(self, task: str, kind: str, family: tuple = ()) -> None:
        t = self.registry.get(task)
        if t.answer_grammar["type"] != kind or (family and t.family not in family):
            raise InputError(f"task {task} ({t.family}, {t.answer_grammar['type']} answers) cannot serve this call",
                             hint=f"tasks with {kind} answers: " + ", ".join(
                                 x.name for x in self.registry if x.answer_grammar["type"] == kind))

    # ------------------------------------------------------------------ typed helpers
    def classify(self, seq, task: str = "promoter", tissue=None, fit: str = "error", batch_size=None):
        """Label probabilities ``{"<yes>": p, "<no>": 1 - p}`` (one dict per sequence)."""
        self._expect(task, "choice")
        seqs, single = _as_list(seq)
        dnas, _ = self.windows(task, seqs, fit)
        tissues = _listify(tissue, len(dnas), "tissue")
        preds = self._run(task, [{"dna": d, "tissue": t} for d, t in zip(dnas, tissues)], batch_size=batch_size)
        out = [p.probs for p in preds]
        return out[0] if single else out

    def expression(self, seq, tissue, chrom=None, pos=None, task: str = "expression", fit: str = "error",
                   batch_size=None):
        """Expected value, argmax-bin centre and central 80 % interval (``lo``, ``hi``) of a regression task.

        ``chrom``/``pos`` (0-based TSS coordinate) fill the ``<chr:…> <bin:…>`` tokens the expression prompt
        carries; for region inputs they default to the region's chromosome and anchor base.
        """
        self._expect(task, "values", ("regression", "variant"))
        t = self.registry.get(task)
        seqs, single = _as_list(seq)
        dnas, regions = self.windows(task, seqs, fit)
        n = len(dnas)
        tissues, chroms, poss = (_listify(tissue, n, "tissue"), _listify(chrom, n, "chrom"), _listify(pos, n, "pos"))
        records = []
        for i, (d, reg) in enumerate(zip(dnas, regions)):
            c, p = chroms[i], poss[i]
            if reg is not None:
                c = reg.chrom if c is None else c
                p = reg.position(t.window.before) if p is None else p
            for key, v in (("{chr}", c), ("{bin}", p)):
                if key in t.prompt and v is None:
                    raise InputError(f"task {task}'s prompt carries {key}: pass chrom= and pos= (0-based anchor "
                                     "coordinate), or a region")
            records.append({"dna": d, "tissue": tissues[i], "chrom": c, "anchor": p})
        out = [_scalar(p.value) for p in self._run(task, records, batch_size=batch_size)]
        return out[0] if single else out

    def track(self, seq, tissue, task: str = "chromatin", fit: str = "error", batch_size=None):
        """K binned values left to right (shown orientation): ``expected``/``argmax``/``lo``/``hi`` lists; decoded by
        constrained greedy generation, each position's distribution conditioned on the argmax of the earlier ones."""
        self._expect(task, "values", ("track",))
        seqs, single = _as_list(seq)
        dnas, _ = self.windows(task, seqs, fit)
        tissues = _listify(tissue, len(dnas), "tissue")
        preds = self._run(task, [{"dna": d, "tissue": t} for d, t in zip(dnas, tissues)], batch_size=batch_size)
        out = [{**p.value.to_dict(), "answer": p.answer} for p in preds]
        return out[0] if single else out

    def annotate(self, seq, region=None, task: str = "annotate", batch_size=None):
        """Spans ``[{"label": "exon", "start": a, "end": b}]`` (0-based half-open, in the sequence's own
        orientation); with a region (``region=`` or a region string as ``seq``) they are genomic coordinates with
        ``chrom`` and ``strand`` (a ``-`` region reads the reverse complement: offset a → end − a).

        Any length: the sequence is cut into window-length tiles (the last padded with N), all tiles run in one
        batched call, spans are shifted, clipped to the sequence, and merged where one label runs across a seam.
        """
        self._expect(task, "spans")
        seqs, single = _as_list(seq)
        regs = _listify(region, len(seqs), "region")
        L = self.registry.get(task).window.length
        dnas, regions, tiles, owner = [], [], [], []
        for i, (s, r) in enumerate(zip(seqs, regs)):
            if isinstance(s, Region) or looks_like_region(s):
                r = parse_region(s)
                s = r.fetch(self._fasta())
            elif r is not None:
                r = parse_region(r)
                if len(r) != len(s):
                    raise InputError(f"sequence {i} has {len(s)} bp but region {r} spans {len(r)} bp")
            dnas.append(s.strip())
            if not dnas[-1]:
                raise InputError(f"sequence {i} is empty")
            regions.append(r)
            for a in range(0, max(len(dnas[-1]), 1), L):
                tiles.append((dnas[-1][a:a + L]).ljust(L, "N"))
                owner.append((i, a))
        preds = self._run(task, [{"dna": d} for d in tiles], batch_size=batch_size)
        spans: list[list[dict]] = [[] for _ in seqs]
        for (i, a), p in zip(owner, preds):
            n = len(dnas[i])
            for lab, s, e in p.parsed:
                s, e = a + s, min(a + e, n)
                if e <= s:
                    continue
                prev = spans[i][-1] if spans[i] else None
                if prev and a and s == a and prev["end"] == a and prev["label"] == lab[1:-1]:
                    prev["end"] = e               # one feature across a tile seam
                else:
                    spans[i].append({"label": lab[1:-1], "start": s, "end": e})
        for i, r in enumerate(regions):
            if r is not None:
                for sp in spans[i]:
                    sp["start"], sp["end"] = r.to_genome(sp["start"], sp["end"])
                    sp["chrom"], sp["strand"] = r.chrom, r.strand
        return spans[0] if single else spans

    # ------------------------------------------------------------------ variants (seq2gen.infer.variants)
    def variant_effect(self, ref_seq, offset, ref, alt, tissue, task: str = "variant_effect", batch_size=None):
        """Predicted effect of ALT vs REF at ``offset`` of a window (see ``seq2gen.infer.variants``)."""
        from seq2gen.infer.variants import variant_effect
        return variant_effect(self, ref_seq, offset, ref, alt, tissue, task=task, batch_size=batch_size)

    def variant_llr(self, ref_seq, offset, ref, alt, batch_size=None):
        """Zero-shot log-likelihood ratio log p(ALT) − log p(REF) of the masked variant base(s)."""
        from seq2gen.infer.variants import variant_llr
        return variant_llr(self, ref_seq, offset, ref, alt, batch_size=batch_size)

    def score_vcf(self, vcf, fasta, tissue, **kw):
        """DataFrame with one row per VCF record (see ``seq2gen.infer.variants.score_vcf``)."""
        from seq2gen.infer.variants import score_vcf
        return score_vcf(self, vcf, fasta, tissue, **kw)


def _as_list(x) -> tuple[list, bool]:
    if isinstance(x, (str, Region)):
        return [x], True
    return list(x), False
