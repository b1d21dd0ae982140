"""seq2gen.world: determinism, real-format files, and recoverable ground truth (see docs/world.md)."""
from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seq2gen.errors import InputError
from seq2gen.world import TISSUES, Motif, generate_world, promoter_activity
from seq2gen.world.motifs import encode, revcomp

SIZE = 500_000


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    out = {}
    for key, seed in (("a", 0), ("b", 0), ("c", 1)):
        out[key] = (root / key, generate_world(root / key, size=SIZE, seed=seed))
    t0 = time.perf_counter()
    out["big"] = (root / "big", generate_world(root / "big", size=2_000_000, seed=3))
    out["big_seconds"] = time.perf_counter() - t0
    return out


def _hashes(d: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def _gtf(d: Path) -> pd.DataFrame:
    gtf = pd.read_csv(d / "genes.gtf", sep="\t", comment="#", header=None,
                      names=["chrom", "src", "feature", "start", "end", "score", "strand", "frame", "attr"])
    gtf["gene_id"] = gtf["attr"].str.extract(r'gene_id "([^"]+)"', expand=False)
    return gtf


def _vcf(d: Path) -> tuple[list[str], pd.DataFrame]:
    lines = (d / "variants.vcf").read_text().splitlines()
    meta = [x for x in lines if x.startswith("##")]
    rows = [x.split("\t") for x in lines if not x.startswith("#")]
    df = pd.DataFrame(rows, columns=["chrom", "pos", "id", "ref", "alt", "qual", "filter", "info"])
    df["pos"] = df["pos"].astype(int)
    info = df["info"].str.split(";").apply(lambda kv: dict(x.split("=", 1) for x in kv))
    return meta, pd.concat([df, pd.DataFrame(list(info))], axis=1)


def _peaks(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "peaks.bed", sep="\t", header=None,
                       names=["chrom", "start", "end", "name", "score", "strand", "tissue"])


def _genome(d: Path) -> dict[str, str]:
    import pyfaidx

    fa = pyfaidx.Fasta(str(d / "genome.fa"), sequence_always_upper=True)
    return {k: str(fa[k][:]) for k in fa.keys()}


def _promoters(genome, genes: pd.DataFrame) -> np.ndarray:
    """(n, 350) promoter codes in gene orientation, from the files alone (TSS - 300 .. TSS + 50)."""
    out = []
    for g in genes.itertuples():
        if g.strand == "+":
            tss = g.start - 1
            out.append(encode(genome[g.chrom][tss - 300:tss + 50]))
        else:
            tss = g.end - 1
            out.append(revcomp(encode(genome[g.chrom][tss - 49:tss + 301])))
    return np.stack(out)


def _motifs(manifest) -> list[Motif]:
    return [Motif.from_json(m, manifest["model"]["background"]) for m in manifest["motifs"]]


# -- manifest, determinism ---------------------------------------------------------------------------------------
def test_manifest_lists_everything(worlds):
    d, m = worlds["a"]
    assert json.loads((d / "world.json").read_text()) == m
    assert m["seed"] == 0 and m["size"] == SIZE and m["tissues"] == list(TISSUES)
    assert list(m["chromosomes"]) == [f"chr{i}" for i in range(1, 7)] and sum(m["chromosomes"].values()) == SIZE
    assert m["splits"] == {"train": ["chr1", "chr2", "chr3", "chr4"], "validation": ["chr5"], "test": ["chr6"]}
    roles = {x["role"] for x in m["motifs"]}
    assert roles == {"activator", "repressor", "core", "splice_donor", "splice_acceptor"}
    for x in m["motifs"]:
        pwm = np.array(x["pwm"])
        assert pwm.shape == (x["length"], 4) and np.allclose(pwm.sum(1), 1)
        if x["role"] in ("activator", "repressor"):
            assert 10 <= x["length"] <= 12 and set(x["levels"]) == set(TISSUES)
    names = {n for v in m["files"].values() for n in (v.values() if isinstance(v, dict) else [v])}
    assert {p.name for p in d.iterdir()} == names
    assert {"data_spec.yaml", "samples.tsv", "peaks.liver.bed"} <= names   # the world as a data spec too
    assert m["columns"]["peaks"][-1] == "tissue"


def test_same_seed_same_bytes_other_seed_differs(worlds):
    ha, hb, hc = (_hashes(worlds[k][0]) for k in "abc")
    assert ha == hb
    for name in ["genome.fa", "genes.gtf", "peaks.bed", "expression.tsv", "variants.vcf", "liver.bw", "world.json"]:
        assert ha[name] != hc[name], name


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="n_chrom"):
        generate_world(tmp_path, n_chrom=2)
    with pytest.raises(InputError, match="too small"):
        generate_world(tmp_path, size=10_000)
    with pytest.raises(InputError, match="tissues"):
        generate_world(tmp_path, tissues=("liver", "liver"))
    with pytest.raises(InputError, match="string"):
        generate_world(tmp_path, tissues="liver")


def test_custom_tissues_and_progress(tmp_path, capsys):
    m = generate_world(tmp_path, size=200_000, n_chrom=3, tissues=("gut", "skin"), seed=5, progress=True)
    assert sorted(p.name for p in tmp_path.glob("*.bw")) == ["gut.bw", "skin.bw"]
    assert m["splits"] == {"train": ["chr1"], "validation": ["chr2"], "test": ["chr3"]}
    assert "EFFECT_skin" in (tmp_path / "variants.vcf").read_text()
    assert "world" in capsys.readouterr().err


# -- formats -------------------------------------------------------------------------------------------------------
def test_fasta_opens_with_pyfaidx(worlds):
    d, m = worlds["a"]
    import pyfaidx

    fa = pyfaidx.Fasta(str(d / "genome.fa"))
    assert {k: len(fa[k]) for k in fa.keys()} == m["chromosomes"]
    raw = "".join(str(fa[k][:]) for k in fa.keys())
    assert any(c.islower() for c in raw), "soft-masked repeats expected"
    assert "N" * 100 in raw
    acgt = raw.upper().replace("N", "")
    gc = (acgt.count("G") + acgt.count("C")) / len(acgt)
    assert 0.38 < gc < 0.46


def test_gtf_structure(worlds):
    d, m = worlds["a"]
    lines = [x for x in (d / "genes.gtf").read_text().splitlines() if not x.startswith("#")]
    assert all(len(x.split("\t")) == 9 for x in lines)
    gtf = _gtf(d)
    assert set(gtf["feature"]) == {"gene", "transcript", "exon"}
    assert gtf["attr"].str.contains('transcript_id "').all()
    assert gtf["attr"].str.contains('gene_biotype "protein_coding"').all()
    genes = gtf[gtf.feature == "gene"].set_index("gene_id")
    assert set(genes["strand"]) == {"+", "-"} and genes.index.is_unique
    ex = gtf[gtf.feature == "exon"].join(genes[["start", "end"]], on="gene_id", rsuffix="_g")
    assert ((ex.start >= ex.start_g) & (ex.end <= ex.end_g) & (ex.start <= ex.end)).all()
    n_ex = ex.groupby("gene_id").size()
    assert n_ex.between(2, 8).all() and n_ex.nunique() > 3
    assert (genes["end"] <= genes["chrom"].map(m["chromosomes"])).all()


def test_splice_sites_carry_gt_ag(worlds):
    d, _ = worlds["a"]
    genome, gtf = _genome(d), _gtf(d)
    ex = gtf[gtf.feature == "exon"].sort_values(["gene_id", "start"])
    n = 0
    for gid, e in ex.groupby("gene_id"):
        chrom, strand = e.chrom.iat[0], e.strand.iat[0]
        for left_end, right_start in zip(e.end.to_numpy()[:-1], e.start.to_numpy()[1:]):
            intron = genome[chrom][left_end:right_start - 1]  # 1-based closed exons -> 0-based intron
            if strand == "-":
                intron = intron[::-1].translate(str.maketrans("ACGT", "TGCA"))
            assert intron[:2] == "GT" and intron[-2:] == "AG", (gid, intron[:4], intron[-4:])
            n += 1
    assert n > 100


def test_exons_are_gc_richer_than_introns(worlds):
    """Exon bases are drawn at the manifest's exon_background (GC 0.52), introns at the background (GC 0.42)."""
    d, m = worlds["a"]
    genome, gtf = _genome(d), _gtf(d)
    ex = gtf[gtf.feature == "exon"].sort_values(["gene_id", "start"])
    exon, intron = [], []
    for _, e in ex.groupby("gene_id"):
        seq = genome[e.chrom.iat[0]]
        exon += [seq[s - 1:t] for s, t in zip(e.start, e.end)]
        intron += [seq[t:s - 1] for t, s in zip(e.end.to_numpy()[:-1], e.start.to_numpy()[1:])]

    def gc(parts):
        text = "".join(parts)
        return (text.count("G") + text.count("C")) / len(text)
    want = m["model"]["exon_background"]
    assert abs(gc(exon) - (want[1] + want[2])) < 0.02 and abs(gc(intron) - 0.42) < 0.02


def test_vcf_ref_matches_and_info_declared(worlds):
    d, m = worlds["a"]
    genome = _genome(d)
    meta, v = _vcf(d)
    assert meta[0] == "##fileformat=VCFv4.2"
    declared = {re.search(r"ID=([^,]+)", x).group(1) for x in meta if x.startswith("##INFO")}
    assert declared == set(m["columns"]["variants_info"])
    assert all(genome[r.chrom][r.pos - 1] == r.ref for r in v.itertuples())
    assert (v.ref != v.alt).all() and v.id.is_unique
    order = v.chrom.map({c: i for i, c in enumerate(m["chromosomes"])})
    assert (np.diff(order.to_numpy() * 10**9 + v.pos.to_numpy()) > 0).all()
    assert set(v.REGION) == {"promoter", "enhancer"} and (v.REGION == "promoter").mean() > 0.6


def test_bigwigs_open_and_signal_peaks_above_background(worlds):
    import pyBigWig

    d, m = worlds["a"]
    peaks = _peaks(d)
    for t in m["tissues"]:
        bw = pyBigWig.open(str(d / f"{t}.bw"))
        assert bw.isBigWig() and bw.chroms() == m["chromosomes"]
        p = peaks[peaks.tissue == t]
        at_peaks = np.array([bw.stats(r.chrom, r.start + 90, r.end - 90)[0] for r in p.itertuples()])
        background = np.median([bw.stats(c, 0, n, nBins=200) for c, n in m["chromosomes"].items()])
        assert len(p) > 10 and np.median(at_peaks) > 5 * background, t
        bw.close()


def test_peaks_and_expression_tables(worlds):
    d, m = worlds["a"]
    peaks = _peaks(d)
    tf = {x["name"] for x in m["motifs"] if x["role"] in ("activator", "repressor")}
    assert set(peaks.name) <= tf and set(peaks.tissue) == set(m["tissues"])
    assert peaks.score.between(500, 1000).all() and ((peaks.end - peaks.start) <= 200).all()
    expr = pd.read_csv(d / "expression.tsv", sep="\t")
    assert list(expr.columns) == ["gene_id"] + m["tissues"]
    assert set(expr.gene_id) == set(_gtf(d).gene_id) and (expr[m["tissues"]] > 0).all().all()


# -- ground truth ------------------------------------------------------------------------------------------------
def test_expression_is_f_plus_small_noise(worlds):
    d, m = worlds["big"]
    gtf = _gtf(d)
    genes = gtf[gtf.feature == "gene"]
    f = promoter_activity(_promoters(_genome(d), genes), _motifs(m), m["tissues"])
    expr = pd.read_csv(d / "expression.tsv", sep="\t", index_col=0).loc[genes.gene_id]
    resid = np.log(expr.to_numpy()) - f
    assert abs(resid.mean()) < 0.05
    assert abs(resid.std() - m["model"]["expression"]["noise_sd"]) < 0.05
    assert np.corrcoef(f.ravel(), np.log(expr.to_numpy()).ravel())[0, 1] > 0.9


def test_bound_activator_sites_predict_expression(worlds):
    from scipy.stats import spearmanr

    d, m = worlds["big"]
    genes = _gtf(d).query("feature == 'gene'")
    tss = np.where(genes.strand == "+", genes.start - 1, genes.end - 1)
    lo = np.where(genes.strand == "+", tss - 300, tss - 49)
    peaks = _peaks(d)
    centre = (peaks.start + peaks.end) // 2
    expr = np.log(pd.read_csv(d / "expression.tsv", sep="\t", index_col=0).loc[genes.gene_id])
    rhos = []
    for x in (x for x in m["motifs"] if x["role"] == "activator"):
        home = max(x["levels"], key=x["levels"].get)
        sel = (peaks.name == x["name"]) & (peaks.tissue == home)
        counts = [int(((peaks.chrom[sel] == c) & (centre[sel] >= a) & (centre[sel] < a + 350)).sum())
                  for c, a in zip(genes.chrom, lo)]
        rhos.append(spearmanr(counts, expr[home]).statistic)
    assert min(rhos) > 0.45 and np.mean(rhos) > 0.55, rhos


def test_variant_effects_are_f_alt_minus_f_ref(worlds):
    d, m = worlds["big"]
    genome, motifs = _genome(d), _motifs(m)
    _, v = _vcf(d)
    eff = v[[f"EFFECT_{t}" for t in m["tissues"]]].astype(float).to_numpy()
    neutral, motif_hit = (v.CLASS == "neutral").to_numpy(), (v.CLASS == "motif").to_numpy()
    enh = (v.REGION == "enhancer").to_numpy()
    assert neutral.sum() > 20 and motif_hit.sum() > 50
    assert (eff[neutral] == 0).all() and (eff[enh] == 0).all()
    prom_hit = motif_hit & ~enh
    # most hits move f (some hit a base whose alt scores alike, or a site too weak to count); ~200 hits per world
    assert (np.abs(eff[prom_hit]).max(1) > 1e-3).mean() > 0.85
    assert np.median(np.abs(eff[prom_hit]).max(1)) > 0.2
    # recompute from the files alone: mutate the promoter and take the difference of f
    gtf = _gtf(d).query("feature == 'gene'").set_index("gene_id")
    sub = v[~enh].head(60)
    g = gtf.loc[sub.GENE]
    ref, alt = _promoters(genome, g), _promoters(genome, g)
    for i, (r, gg) in enumerate(zip(sub.itertuples(), g.itertuples())):
        k = r.pos - gg.start + 300 if gg.strand == "+" else gg.end - 1 + 300 - (r.pos - 1)
        assert "ACGT"[ref[i, k]] == (r.ref if gg.strand == "+" else r.ref.translate(str.maketrans("ACGT", "TGCA")))
        alt[i, k] = encode(r.alt)[0] if gg.strand == "+" else 3 - encode(r.alt)[0]
    delta = promoter_activity(alt, motifs, m["tissues"]) - promoter_activity(ref, motifs, m["tissues"])
    assert np.allclose(delta, eff[~enh][:60], atol=2e-6)


def test_size_scaling(worlds):
    small, big = worlds["a"][1]["counts"], worlds["big"][1]["counts"]
    assert worlds["big_seconds"] < 15
    assert 2.5 < big["genes"] / small["genes"] < 6 and big["peaks"] > 2.5 * small["peaks"]


def test_world_spec_and_per_tissue_peaks(worlds):
    """data_spec.yaml names the world's own files; the per-tissue BEDs partition peaks.bed exactly."""
    import yaml

    from seq2gen.data.spec import read_sample_sheet
    d, m = worlds["a"]
    spec = yaml.safe_load((d / "data_spec.yaml").read_text())
    assert spec["genome"] == "genome.fa" and spec["splits"]["test"] == m["splits"]["test"]
    sheet = read_sample_sheet(d / "samples.tsv")
    assert sorted(sheet["kind"].value_counts().items()) == [("bigwig", 5), ("peaks", 5)]
    peaks = _peaks(d)
    for t in TISSUES:
        part = pd.read_csv(d / f"peaks.{t}.bed", sep="\t", header=None)
        want = peaks[peaks["tissue"] == t].drop(columns="tissue").to_numpy()
        assert len(part) == len(want) > 0 and (part.to_numpy() == want).all(), t


def test_encode_style_is_deterministic_and_rejects_unknown_styles(tmp_path):
    a = generate_world(tmp_path / "a", size=200_000, seed=2, style="encode")
    generate_world(tmp_path / "b", size=200_000, seed=2, style="encode")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert [str(p) for p in files if p.suffix == ".narrowPeak"] == [f"peaks/{t}.narrowPeak" for t in sorted(TISSUES)]
    for p in files:
        assert (tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes(), p
    assert a["style"] == "encode" and json.loads((tmp_path / "a" / "truth.json").read_text()) == a
    with pytest.raises(InputError, match="unknown world style 'ensembl'"):
        generate_world(tmp_path / "c", size=200_000, style="ensembl")


def test_world_cli_style_encode(tmp_path):
    from typer.testing import CliRunner

    from seq2gen.cli import app
    r = CliRunner().invoke(app, ["world", "--out", str(tmp_path / "w"), "--size", "200kb", "--style", "encode"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "w" / "data_spec.yaml").is_file() and not (tmp_path / "w" / "world.json").exists()
    r = CliRunner().invoke(app, ["world", "--out", str(tmp_path / "x"), "--size", "200kb", "--style", "ucsc"])
    assert r.exit_code == 2 and "unknown world style 'ucsc'" in r.output
