"""Explanation and design methods of ``Seq2Gen`` — thin front doors to ``seq2gen.interpret`` (imported lazily, so
``seq2gen.infer`` loads without it)::

    r = m.ism("<task:promoter> <dna> … </dna>")                  # or m.ism(dna_or_region, task=…, tissue=…)
    a = m.attribute(dna, task="expression", tissue="liver", chrom="chr5", pos=tss)
    m.plot_ism(r); m.plot_attribution(a); m.explain(out_dir, seq=region, task="chromatin", tissue="liver")
    d = m.design(task="expression", tissue="liver", against="heart", n=20)
"""
from __future__ import annotations


class ExplainMethods:
    """Mixed into ``Seq2Gen``."""

    def explained_prompt(self, x, task=None, tissue=None, chrom=None, pos=None, fit: str = "error"):
        """A ``Prompt`` from a prompt string (``<task:…> … <dna> … </dna>``) or a DNA/region with ``task``."""
        from seq2gen.interpret.ism import Prompt, build_prompt, encode_prompt
        if isinstance(x, Prompt):
            return x
        if task is None and isinstance(x, str) and x.lstrip().startswith("<task:"):
            return encode_prompt(self, x)
        if task is None:
            from seq2gen.errors import InputError
            raise InputError("pass task= with a DNA string or region (or a full prompt string)")
        return build_prompt(self, task, x, tissue, chrom, pos, fit)

    def ism(self, x, task=None, tissue=None, chrom=None, pos=None, label=None, bins=None, positions=None,
            batch_size=None, fit: str = "error"):
        """Saturation mutagenesis (every base × 3 ALTs, batched): an ``ISMResult`` (``scores``, ``delta`` (L, 4))."""
        from seq2gen.infer.objective import objective
        from seq2gen.interpret.ism import ism
        p = self.explained_prompt(x, task, tissue, chrom, pos, fit)
        return ism(self, p, objective(self, p.task, p.ids, label=label, bins=bins), positions, batch_size)

    def attribute(self, x, task=None, tissue=None, chrom=None, pos=None, method: str = "integrated_gradients",
                  label=None, bins=None, n_steps: int = 32, fit: str = "error"):
        """Gradient attributions on the one-hot DNA (``saliency`` | ``input_x_gradient`` |
        ``integrated_gradients``): an ``Attribution`` (``contrib``, ``hypothetical`` (L, 4))."""
        from seq2gen.infer.objective import objective
        from seq2gen.interpret.attribute import attribute
        p = self.explained_prompt(x, task, tissue, chrom, pos, fit)
        return attribute(self, p, method, objective(self, p.task, p.ids, label=label, bins=bins), n_steps)

    def explain(self, out, **kw) -> dict:
        """The HTML report of ``seq2gen explain`` (see ``seq2gen.interpret.report.explain``)."""
        from seq2gen.interpret.report import explain
        return explain(self, out, **kw)

    def motifs(self, task: str, seqs, tissue: str | None = None, chrom: str | None = "chr1", pos: int | None = 0,
               **kw) -> list[dict]:
        """TF-MoDISco patterns of ``task``'s attributions over many windows (``seq2gen.interpret.motifs``); their
        ``cores`` are what ``design(patterns=…)`` inserts."""
        from seq2gen.interpret.motifs import find_motifs
        return find_motifs(self, task, seqs, tissue, chrom, pos, **kw)

    def design(self, task: str = "expression", tissue: str = "liver", **kw):
        """Model-guided design (see ``seq2gen.interpret.design.design``): a ``DesignResult``."""
        from seq2gen.interpret.design import design
        return design(self, task, tissue, **kw)

    def plot_ism(self, result, ax=None, title: str | None = None):
        from seq2gen.interpret import plots
        return plots.plot_ism(result.delta, result.dna, ax=ax, title=result.describe if title is None else title)

    def plot_attribution(self, attribution, ax=None, title: str | None = None):
        from seq2gen.interpret import plots
        return plots.plot_logo(attribution.contrib, ax=ax,
                               title=f"{attribution.method}: {attribution.describe}" if title is None else title)

    def plot_track(self, x, tissue, bigwig=None, task: str = "chromatin", ax=None):
        """Predicted bins of a region (or DNA) vs the observed bigWig means over the same region."""
        from seq2gen.infer.regions import parse_region
        from seq2gen.interpret import plots
        pred = self.track(x, tissue, task=task)
        obs = None
        if bigwig is not None:
            from seq2gen.genome import BigWig
            r = parse_region(x)
            obs = BigWig(bigwig).binned_mean(r.chrom, r.start, r.end, len(pred["expected"]))
            obs = obs[::-1] if r.strand == "-" else obs
        return plots.plot_track(pred["expected"], obs, ax=ax, lo=pred["lo"], hi=pred["hi"], title=f"{task} [{tissue}]")

    def plot_annotation(self, region, gtf=None, ax=None):
        """Predicted exon/intron spans of a region over the GTF's exons."""
        from seq2gen.infer.regions import parse_region
        from seq2gen.interpret import plots
        r = parse_region(region)
        ex = None
        if gtf is not None:
            from seq2gen.genome import exons, read_gtf
            e = exons(read_gtf(gtf))
            e = e[(e["chrom"] == r.chrom) & (e["end"] > r.start) & (e["start"] < r.end)]
            ex = e[["start", "end"]].drop_duplicates().to_numpy()
        return plots.plot_annotation(self.annotate(str(r)), ex, ax=ax, span=(r.start, r.end), title=str(r))
