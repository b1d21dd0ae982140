"""Fault tolerance under SIGKILL: real subprocesses (`python -m seq2gen.train`, `seq2gen score-vcf`) are killed at
chosen points, then resumed with --resume.

A small driver (DRIVER below) runs the real entry point with one hook that writes a flag file and stalls at the
chosen point — inside a step, inside a checkpoint write (after a torn model-states file), or between a score-vcf
chunk's rows and its bookkeeping — so the kill lands exactly there, not by timing luck. What must hold:

* training: an incomplete checkpoint (no ``complete`` marker, a torn file) is never picked up; the resumed run's
  per-step losses and learning rates equal an uninterrupted run's (docs/training.md's guarantee);
* score-vcf: no duplicate or lost rows — the resumed TSV is byte-identical to an uninterrupted run's.

Default suite: the checkpoint-write kill and the score-vcf kill (~40 s, mostly process start-up). ``-m slow``
adds the chain kill-in-a-step → resume → kill-in-a-save → resume.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seq2gen.train.checkpoint import MARKER, checkpoint_dirs, latest_checkpoint

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

DRIVER = r'''
import os, sys, time
from pathlib import Path

def stall(what):
    Path(os.environ["FT_FLAG"]).write_text(what)
    time.sleep(3600)                              # until SIGKILL

mode, _, n = os.environ.get("FT_STALL", "").partition(":")
if mode == "step":          # after step n's update, before it is logged or saved
    import seq2gen.train.loop as loop
    real_add, count = loop._Window.add, [0]
    def add(self, *a, **k):
        count[0] += 1
        real_add(self, *a, **k)
        if count[0] == int(n):
            stall(f"step {n}")
    loop._Window.add = add
elif mode == "save":        # inside step n's checkpoint write: a torn model-states file, no marker yet
    import torch
    real_save, tag = torch.save, f"step_{int(n):08d}"
    def save(obj, f, *a, **k):
        if tag in str(f) and "model_states" in str(f):
            Path(f).write_bytes(b"torn")
            stall(str(f))
        return real_save(obj, f, *a, **k)
    torch.save = save
elif mode == "vcf_state":   # score-vcf: chunk n's rows are written and fsynced, its checkpoint is not
    import seq2gen.infer.variants as v
    real_json, count = v._write_json, [0]
    def write_json(path, obj):
        count[0] += 1
        if count[0] == int(n):
            stall(f"chunk {n}")
        return real_json(path, obj)
    v._write_json = write_json
if os.environ.get("FT_ENTRY") == "train":
    from seq2gen.train.__main__ import main
    sys.exit(main())
from seq2gen.cli import app
app()
'''


def _env(**extra) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu", "TOKENIZERS_PARALLELISM": "false", **extra}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


class Proc:
    """A driver subprocess; ``kill_at_stall`` waits for its flag file and SIGKILLs it."""

    def __init__(self, args: list[str], log: Path, stall: str = "", entry: str = "train"):
        self.flag = log.with_suffix(".flag")
        self.flag.unlink(missing_ok=True)
        self.log = log
        self.fh = open(log, "w")
        self.p = subprocess.Popen([sys.executable, "-c", DRIVER, *args], stdout=self.fh, stderr=subprocess.STDOUT,
                                  env=_env(FT_STALL=stall, FT_FLAG=str(self.flag), FT_ENTRY=entry), cwd=REPO)

    def output(self) -> str:
        self.fh.flush()
        return self.log.read_text()

    def kill_at_stall(self, timeout: float = 300) -> str:
        t0 = time.time()
        while not (self.flag.exists() and self.flag.read_text()):     # created, then written: wait for the text
            if self.p.poll() is not None:
                raise AssertionError(f"exited ({self.p.returncode}) before the stall point:\n{self.output()[-3000:]}")
            if time.time() - t0 > timeout:
                self.p.kill()
                raise AssertionError(f"no stall within {timeout} s:\n{self.output()[-3000:]}")
            time.sleep(0.05)
        self.p.send_signal(signal.SIGKILL)
        assert self.p.wait(60) == -signal.SIGKILL
        self.fh.close()
        return self.flag.read_text()

    def finish(self, timeout: float = 400) -> str:
        rc = self.p.wait(timeout)
        self.fh.close()
        out = self.log.read_text()
        assert rc == 0, out[-3000:]
        return out


# ---------------------------------------------------------------------------------------------- training
N, SAVE_EVERY = 12, 4


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory):
    from builders import toy_tokenizer
    d = tmp_path_factory.mktemp("tok")
    toy_tokenizer().save_pretrained(d)
    return d


def train_args(out: Path, tok_dir: Path, resume: bool = False) -> list[str]:
    args = ["--config", str(REPO / "configs/train/tiny_test.yaml")]
    for kv in (f"out_dir={out}", f"tokenizer={tok_dir}", "data_loader=builders:toy_datasets", f"max_steps={N}",
               f"save_every={SAVE_EVERY}", "eval_every=6", "warmup_steps=2", "keep_last=2", "progress=false"):
        args += ["--set", kv]
    return args + (["--resume"] if resume else [])


def metrics(out: Path, kind: str = "train") -> list[dict]:
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["type"] == kind]


def assert_replays(run: Path, ref: Path) -> None:
    """Per-step loss and LR (and eval losses) of ``run`` equal those of the uninterrupted ``ref``."""
    a, b = metrics(run), metrics(ref)
    assert [r["step"] for r in a] == list(range(1, N + 1)), [r["step"] for r in a]
    np.testing.assert_allclose([r["loss"] for r in a], [r["loss"] for r in b], rtol=0, atol=1e-5)
    np.testing.assert_allclose([r["lr"] for r in a], [r["lr"] for r in b], rtol=1e-12)
    ea, eb = metrics(run, "eval"), metrics(ref, "eval")
    assert [e["step"] for e in ea] == [6, 12]
    for x, y in zip(ea, eb):
        assert x.keys() == y.keys()
        np.testing.assert_allclose([x[k] for k in x if k != "type"], [y[k] for k in y if k != "type"], atol=1e-5)


def assert_clean(run: Path) -> None:
    """Only complete checkpoints remain, the export is in place, no temp folders are left behind."""
    ck = run / "checkpoints"
    assert [s for s, _ in checkpoint_dirs(ck, complete_only=False)] == [s for s, _ in checkpoint_dirs(ck)] == [8, 12]
    assert (run / "model" / "model.safetensors").is_file()
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name or ".old" in p.name]


def test_sigkill_during_checkpoint_write_then_resume(tmp_path, tok_dir):
    ref = Proc(train_args(tmp_path / "ref", tok_dir), tmp_path / "ref.log")            # uninterrupted, in parallel
    run = tmp_path / "run"
    p = Proc(train_args(run, tok_dir), tmp_path / "p1.log", stall="save:8")
    torn = p.kill_at_stall()
    assert torn.endswith("step_00000008/mp_rank_00_model_states.pt")
    ck = run / "checkpoints"
    assert (ck / "step_00000008").is_dir() and not (ck / "step_00000008" / MARKER).exists()
    assert latest_checkpoint(ck)[0] == 4                       # the torn step-8 checkpoint is not a candidate
    assert [r["step"] for r in metrics(run)] == list(range(1, 9))
    out = Proc(train_args(run, tok_dir, resume=True), tmp_path / "p2.log").finish()
    assert "resuming from step 4" in out
    ref.finish()
    assert_replays(run, tmp_path / "ref")
    assert_clean(run)


@pytest.mark.slow
def test_sigkill_chain_step_then_save_then_resume(tmp_path, tok_dir, request):
    """Killed inside step 7 (after checkpoint 4), resumed and killed inside the step-8 save, resumed to the end."""
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow: run with -m slow")
    ref = Proc(train_args(tmp_path / "ref", tok_dir), tmp_path / "ref.log")
    run = tmp_path / "run"
    Proc(train_args(run, tok_dir), tmp_path / "p1.log", stall="step:7").kill_at_stall()
    first = metrics(run)
    assert [r["step"] for r in first] == list(range(1, 7)) and latest_checkpoint(run / "checkpoints")[0] == 4
    Proc(train_args(run, tok_dir, resume=True), tmp_path / "p2.log", stall="save:8").kill_at_stall()
    second = metrics(run)
    assert [r["step"] for r in second] == list(range(1, 9)) and latest_checkpoint(run / "checkpoints")[0] == 4
    np.testing.assert_allclose([r["loss"] for r in second[4:6]], [r["loss"] for r in first[4:6]], atol=1e-5)
    out = Proc(train_args(run, tok_dir, resume=True), tmp_path / "p3.log").finish()
    assert "resuming from step 4" in out
    ref.finish()
    assert_replays(run, tmp_path / "ref")
    assert_clean(run)


# ---------------------------------------------------------------------------------------------- score-vcf
@pytest.fixture(scope="module")
def fx(world_dir, tokenizer, tmp_path_factory):
    from builders import build_fixture
    return build_fixture(world_dir, tokenizer, tmp_path_factory.mktemp("ft_infer"))


def test_score_vcf_sigkill_then_resume_no_duplicate_or_lost_rows(fx, tmp_path):
    import typer
    from typer.testing import CliRunner

    from seq2gen.infer import Seq2Gen
    from seq2gen.infer.cli import score_vcf_cmd
    from seq2gen.infer.variants import write_scores
    vcf, fasta, out = fx["world"] / "variants.vcf", fx["world"] / "genome.fa", tmp_path / "scores.tsv"
    args = ["score-vcf", str(fx["export"]), "--vcf", str(vcf), "--fasta", str(fasta), "--out", str(out),
            "--tissue", "liver", "--method", "task", "--chunk-size", "8", "--no-progress"]
    p = Proc(args, tmp_path / "vcf.log", stall="vcf_state:3", entry="cli")
    m = Seq2Gen.from_pretrained(fx["export"])            # meanwhile: the uninterrupted reference
    full = write_scores(m, vcf, fasta, tmp_path / "full.tsv", tissue="liver", methods=("task",), chunk_size=8)
    p.kill_at_stall()
    part = out.with_name(out.name + ".partial")
    state = json.loads(out.with_name(out.name + ".partial.json").read_text())
    assert not out.exists() and state["records"] == 16 and state["rows"] == 16
    assert part.stat().st_size > state["bytes"]          # chunk 3's rows reached the disk, its checkpoint did not
    app = typer.Typer()
    app.command("score-vcf")(score_vcf_cmd)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    res = runner.invoke(app, args)                       # without --resume: refuses to touch the partial run
    assert res.exit_code == 2 and "--resume" in res.output
    res = runner.invoke(app, args + ["--resume"])
    assert res.exit_code == 0, res.output
    # same rows in the same order; scores equal up to float rounding (the killed run was another process, whose
    # torch thread count may differ from this one's: the last printed digit can differ)
    import pandas as pd
    got, want = pd.read_csv(out, sep="\t"), pd.read_csv(tmp_path / "full.tsv", sep="\t")
    assert list(got.columns) == list(want.columns) and len(got) == len(want)
    num = got.select_dtypes("number").columns
    pd.testing.assert_frame_equal(got.drop(columns=num), want.drop(columns=num))
    np.testing.assert_allclose(got[num].to_numpy(float), want[num].to_numpy(float), rtol=1e-4, atol=1e-6)
    ids = [line.split("\t")[2] for line in out.read_text().splitlines()[1:]]
    assert len(ids) == len(set(ids)) == full["rows"] > 16
    assert not list(tmp_path.glob("scores.tsv.*"))
