"""CLI: vocab build/show through typer's runner."""
from __future__ import annotations

from typer.testing import CliRunner

from seq2gen.cli import app
from seq2gen.vocab import Seq2GenTokenizer

runner = CliRunner()


def test_vocab_build_and_show(tmp_path):
    out = tmp_path / "tok"
    res = runner.invoke(app, ["vocab", "build", "--mode", "kmer", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "kmer tokenizer" in res.output
    assert Seq2GenTokenizer.from_pretrained(out).mode == "kmer"
    res = runner.invoke(app, ["vocab", "show", "<task:promoter> <dna> ACGTACGTA </dna>", "--tokenizer", str(out)])
    assert res.exit_code == 0, res.output
    assert "ACGTAC" in res.output and "<task:promoter>" in res.output


def test_vocab_show_reports_bad_prompt(tmp_path):
    res = runner.invoke(app, ["vocab", "show", "<tissue:livr> <dna> ACGT </dna>", "--tokenizer",
                              str(tmp_path / "missing")])
    assert res.exit_code == 2
    assert "unknown tissue 'livr'" in res.output


def test_world_command(tmp_path):
    res = runner.invoke(app, ["world", "--out", str(tmp_path / "w"), "--size", "300kb", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "w" / "genome.fa.fai").exists() and (tmp_path / "w" / "world.json").exists()
    assert "300,000 bp" in res.output
    res = runner.invoke(app, ["world", "--out", str(tmp_path / "w2"), "--size", "lots"])
    assert res.exit_code != 0 and "cannot read size" in res.output


def test_python_dash_m_runs_the_same_app():
    """``python -m seq2gen`` is the console command (seq2gen/__main__.py)."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "seq2gen", "world", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "Usage: seq2gen world" in res.stdout and "--size" in res.stdout
