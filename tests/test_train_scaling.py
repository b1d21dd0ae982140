"""Training that scales: exact token-mean gradients across accumulation and ranks, grouped batches, mixture files,
the step loader's exact resume, ZeRO-3 under zero.Init.

Run as ``torchrun --nproc_per_node 2 -m test_train_scaling OUT.npy MICRO ACCUM BATCHING`` it is the 2-rank worker
of the gradient test (gloo on CPU, NCCL on GPUs).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seq2gen.errors import InputError

sys.path.insert(0, str(Path(__file__).parent))
from test_train import ID, cfg_for, read_metrics, toy_datasets, toy_tokenizer  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.usefixtures("one_torch_thread")]


def ragged_datasets(_path=None):
    """Two tasks whose answers differ 20×: 'short' answers 2 tokens, 'long' answers 20–40 tokens (span-like)."""
    import datasets as hfd
    rng = np.random.default_rng(5)
    rows = {"short": {"input_ids": [], "labels": []}, "long": {"input_ids": [], "labels": []}}
    for _ in range(64):
        x = rng.integers(ID["A"], ID["T"] + 1, size=int(rng.integers(6, 14))).tolist()
        rows["short"]["input_ids"].append([ID["<task:const>"]] + x)
        rows["short"]["labels"].append([ID["<val:005>"], ID["</s>"]])
        y = rng.integers(ID["A"], ID["T"] + 1, size=int(rng.integers(20, 41))).tolist()
        rows["long"]["input_ids"].append([ID["<task:span>"]] + y[:12])
        rows["long"]["labels"].append(y + [ID["</s>"]])
    return {t: hfd.DatasetDict(train=hfd.Dataset.from_dict(r)) for t, r in rows.items()}


def one_step_gradient(micro: int, accum: int | None, batching: str, weighting: str = "token") -> np.ndarray:
    """The gradient DeepSpeed hands the optimizer for the first step of global batch 32 (ZeRO-0, fp32, no dropout,
    no clipping), flattened; taken by an optimizer pre-step hook on the real ``train_step`` path."""
    import torch

    from seq2gen.train import distributed as dist_utils
    from seq2gen.train.config import resolve_deepspeed_config
    from seq2gen.train.loop import build_engine, build_samplers, make_loader, train_step
    dist_utils.init_distributed()
    world = dist_utils.world_size()
    over = {"micro_batch_size": micro, "grad_accum": accum, "global_batch_size": 32, "grad_clip": 0.0,
            "model_overrides": {"dropout_rate": 0.0}, "batching": batching, "loss_weighting": weighting,
            "rates": {"short": 1.0, "long": 1.0}}
    cfg = cfg_for("unused", **over)
    tok, data = toy_tokenizer(), ragged_datasets()
    engine, _ = build_engine(cfg, tok, resolve_deepspeed_config(cfg, world, dist_utils.on_cpu()))
    grads = []

    def grab(opt, *args, **kwargs):
        grads.append(torch.cat([p.grad.detach().flatten().cpu() for g in opt.param_groups for p in g["params"]]))
    engine.optimizer.register_step_pre_hook(grab)
    item = next(iter(make_loader(cfg, data, tok, build_samplers(cfg, data), 0)))
    stats = torch.zeros(6, dtype=torch.float64, device=dist_utils.device())
    train_step(engine, item, cfg, stats, 2)
    assert len(grads) == 1
    return grads[0].double().numpy()


@pytest.fixture(scope="module")
def reference_gradient():
    from seq2gen.train.distributed import setup_env
    setup_env()
    return one_step_gradient(32, 1, "mixed")


@pytest.mark.parametrize("batching", ["grouped", "mixed"])
def test_accumulation_gives_the_same_gradient(reference_gradient, batching):
    """micro 16 × accum 2 == micro 32 × accum 1 to 1e-6 although answers are 2 vs 21–41 tokens long (a per-micro-batch
    token mean, DeepSpeed's default, would weigh the micro-batch of short answers as much as the long one)."""
    grad = one_step_gradient(16, 2, batching)
    assert np.abs(reference_gradient).max() > 1e-3
    np.testing.assert_allclose(grad, reference_gradient, rtol=0, atol=1e-6)


def test_two_gloo_ranks_give_the_same_gradient(reference_gradient, tmp_path):
    """2 processes (gloo) × micro 16 == 1 process × micro 32, through DeepSpeed's gradient averaging."""
    from seq2gen.train.distributed import free_port
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu"}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    out = tmp_path / "grad.npy"
    cmd = [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()),
           "-m", "test_train_scaling", str(out), "16", "1", "grouped"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(np.load(out), reference_gradient, rtol=0, atol=1e-6)


def test_example_weighting_is_exact_too(env_setup):
    """loss_weighting: example — the mean over the step's rows of each row's token mean, split-independent."""
    np.testing.assert_allclose(one_step_gradient(8, 4, "grouped", "example"),
                               one_step_gradient(32, 1, "mixed", "example"), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def env_setup():
    from seq2gen.train.distributed import setup_env
    setup_env()


# --------------------------------------------------------------------------------------------- batching
def test_grouped_batches_isolate_long_answers_and_keep_the_rows():
    from seq2gen.train.batches import cut_micro_batches
    lengths = {"s": (np.full(8, 10), np.full(8, 2)), "l": (np.full(8, 12), np.arange(30, 38))}
    picks = [("l", 0), ("s", 1), ("s", 2), ("l", 3), ("s", 4), ("s", 5), ("l", 6), ("s", 7)]
    # one rank, 2 micro-steps: the 3 long answers get their own micro-batch (5×12 + 3×48 padded tokens, not 4×12 +
    # 4×48 as with equal halves)
    assert cut_micro_batches(picks, lengths, 1, 2, 0, grouped=True) == [
        [("s", 1), ("s", 2), ("s", 4), ("s", 5), ("s", 7)], [("l", 0), ("l", 3), ("l", 6)]]
    # 2 ranks × 2 micro-steps: 4 groups dealt costliest first to the least-loaded rank; together every row once
    got = [cut_micro_batches(picks, lengths, 2, 2, r, grouped=True) for r in (0, 1)]
    assert sorted(sum(got[0] + got[1], [])) == sorted(picks)
    assert all(len(g) == 2 and all(m for m in g) for g in got)
    mixed = cut_micro_batches(picks, lengths, 2, 2, 1, grouped=False)
    assert mixed == [picks[2:4], picks[6:8]]


def test_row_lengths_from_arrow_match_the_rows():
    from seq2gen.train.batches import row_lengths
    split = ragged_datasets()["long"]["train"]
    prompt, answer = row_lengths(split)
    assert prompt.tolist() == [len(x) for x in split["input_ids"]]
    assert answer.tolist() == [len(x) for x in split["labels"]]
    sub = split.select([5, 2])                      # an indices mapping: lengths of the selected rows
    assert row_lengths(sub)[1].tolist() == [len(split[5]["labels"]), len(split[2]["labels"])]


# --------------------------------------------------------------------------------------------- mixture files
def test_mixture_file_temperature_and_cap_reach_the_sampler(tmp_path):
    """`mixture:` in the train YAML: the file's temperature-scaled, capped rates are what the sampler draws."""
    from seq2gen.train.loop import build_samplers
    data = toy_datasets(tasks=("copy", "const"))
    data["const"]["train"] = data["const"]["train"].select(range(10))      # sizes 160 vs 10
    path = tmp_path / "mix.yaml"
    path.write_text("name: t2\nrates: {type: temperature, temperature: 2.0}\ntasks: [copy, const]\n")
    sampler = build_samplers(cfg_for(tmp_path, mixture=str(path)), data)["mixture"]
    picks = sampler.draw(8000)
    share = sum(t == "const" for t, _ in picks) / len(picks)
    assert abs(share - 0.2) < 0.02                 # sqrt(10) / (sqrt(10) + sqrt(160)) = 0.2; proportional: 0.06
    path.write_text("name: c\nrates: {type: temperature, temperature: 1.0, cap: 40}\ntasks: [copy, const]\n")
    sampler = build_samplers(cfg_for(tmp_path, mixture=str(path)), data)["mixture"]
    share = sum(t == "const" for t, _ in sampler.draw(8000)) / 8000
    assert abs(share - 0.2) < 0.02                 # 10 / (min(160, 40) + 10)
    path.write_text("name: bad\nrates: uniform\ntasks: [copy, expression]\n")
    with pytest.raises(InputError, match="names tasks without training data"):
        build_samplers(cfg_for(tmp_path, mixture=str(path)), data)
    with pytest.raises(InputError, match="not both"):
        cfg_for(tmp_path, mixture=str(path), rates={"copy": 1.0})
    with pytest.raises(InputError, match="unknown mixture"):
        build_samplers(cfg_for(tmp_path, mixture="no_such_mixture"), data)


def test_shipped_mixture_all_is_temperature_scaled():
    from seq2gen.train.sampler import load_mixture, mixture_rates
    mix = load_mixture("all")
    sizes = {"promoter": 7400, "tf_binding": 20000, "tf_tissues": 20000, "chromatin": 20000, "annotate": 5000,
             "expression": 20000, "variant_effect": 20000, "span_corruption": 20000}
    rates = mixture_rates("proportional", sizes, mixture=mix)
    assert set(rates) == set(mix.tasks) and "span_corruption" not in rates
    assert rates["annotate"] / rates["tf_binding"] == pytest.approx((5000 / 20000) ** 0.5)


# --------------------------------------------------------------------------------------------- loader + resume
def test_resume_exact_with_loader_workers_and_grouped_accumulation(env_setup, tmp_path):
    """A worker process prefetches steps ahead; the checkpoint still holds the sampler state of its own step."""
    from seq2gen.train import train
    tok, data = toy_tokenizer(), toy_datasets(tasks=("copy", "const", "span"))
    common = {"max_steps": 8, "save_every": 3, "micro_batch_size": 4, "grad_accum": 2, "loader_workers": 1,
              "prefetch_steps": 3, "batching": "grouped", "warmup_steps": 1}
    train(cfg_for(tmp_path / "full", **common), datasets=data, tokenizer=tok)
    train(cfg_for(tmp_path / "part", stop_at_step=5, **common), datasets=data, tokenizer=tok)
    state = json.loads(json.dumps(_sampler_state(tmp_path / "part", 3)))    # JSON-able
    assert state["mixture"]["cursors"] and sum(state["mixture"]["cursors"]) <= 3 * 8 + 3
    train(cfg_for(tmp_path / "part", resume=True, **common), datasets=data, tokenizer=tok)
    full, resumed = read_metrics(tmp_path / "full"), read_metrics(tmp_path / "part")
    assert [r["step"] for r in resumed] == list(range(1, 9))
    np.testing.assert_allclose([r["loss"] for r in resumed], [r["loss"] for r in full], rtol=0, atol=1e-6)


def _sampler_state(out: Path, step: int) -> dict:
    import torch
    path = out / "checkpoints" / f"step_{step:08d}" / "mp_rank_00_model_states.pt"
    return torch.load(path, weights_only=False)["samplers"]


# --------------------------------------------------------------------------------------------- ZeRO-3
def test_zero3_builds_under_zero_init_with_the_t5_init(env_setup, tmp_path):
    """ZeRO-3: the model is created partitioned (zero.Init) and initialised by T5's scheme, seeded: each weight has
    the spread of a plain build's (q: (d·d_kv)^-0.5 = 0.031, others d^-0.5 = 0.125), layer norms are 1, and two
    builds agree exactly. (Without re-running the init on gathered shards, weights kept torch's defaults.)"""
    import deepspeed
    import torch

    from seq2gen.model.build import build_model
    from seq2gen.train import distributed as dist_utils
    from seq2gen.train.config import resolve_deepspeed_config
    from seq2gen.train.loop import build_engine
    zero3 = {"zero_optimization": {"stage": 3, "stage3_gather_16bit_weights_on_model_save": True}}
    cfg = cfg_for(tmp_path, deepspeed=zero3)
    tok = toy_tokenizer()
    ds_config = resolve_deepspeed_config(cfg, dist_utils.world_size(), True)
    (e1, n_params), (e2, _) = build_engine(cfg, tok, ds_config), build_engine(cfg, tok, ds_config)
    plain = dict(build_model(cfg.model, tokenizer=tok, seed=cfg.seed).named_parameters())
    assert n_params == sum(p.numel() for p in plain.values())
    p1, p2 = dict(e1.module.named_parameters()), dict(e2.module.named_parameters())
    assert all(hasattr(p, "ds_id") and p.numel() < plain[n].numel() for n, p in p1.items())   # created partitioned
    with deepspeed.zero.GatheredParameters(list(p1.values()) + list(p2.values())):
        for name, ref in plain.items():
            got = p1[name].detach().cpu()
            assert torch.equal(got, p2[name].detach().cpu()), name
            if "layer_norm" in name:
                assert torch.equal(got, torch.ones_like(got)), name
            else:
                assert got.std().item() == pytest.approx(ref.std().item(), rel=0.15), name


# --------------------------------------------------------------------------------------------- GPU
def _cuda_devices() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.gpu
def test_gpu_bf16_export_reloads_close_to_the_fp32_master(tmp_path):
    """bf16 ZeRO-2 on a GPU: the export holds the fp32 master weights (not the bf16 module copies), so the reloaded
    fp32 model's logits match the optimizer's fp32 weights, and differ from the rounded bf16 module's."""
    if not _cuda_devices():
        pytest.skip("needs a CUDA device (scripts/gpu_smoke.sh)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    proc = subprocess.run([sys.executable, "-m", "test_train_scaling", "bf16", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "bf16.json").read_text())
    assert res["max_abs_logit_diff_fp32_master"] < 1e-4, res
    assert res["max_abs_weight_diff_bf16_module"] > 0, res        # the module really held rounded weights


@pytest.mark.gpu
def test_gpu_two_nccl_ranks_give_the_same_gradient(tmp_path):
    """2 GPUs (NCCL): device-side reductions and the exact token mean; 2 × micro 16 == 1 × micro 32 (fp32)."""
    if _cuda_devices() < 2:
        pytest.skip("needs two CUDA devices")
    from seq2gen.train.distributed import free_port
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "DS_ACCELERATOR"):
        env.pop(k, None)
    torchrun = [str(Path(sys.executable).parent / "torchrun"), "--master_port", str(free_port())]
    for n, out in ((2, "two.npy"), (1, "one.npy")):
        micro = 32 // n
        cmd = torchrun + ["--nproc_per_node", str(n), "-m", "test_train_scaling", str(tmp_path / out), str(micro),
                          "1", "grouped"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"), rtol=0, atol=1e-5)


def bf16_export_check(out: Path) -> dict:
    """Train a few bf16 ZeRO-2 steps on the GPU, export, reload in fp32; compare with the engine's fp32 master."""
    import torch
    from deepspeed.utils import safe_get_full_fp32_param
    from transformers import T5ForConditionalGeneration

    from seq2gen.train import train
    tok, data = toy_tokenizer(), toy_datasets()
    import shutil

    from seq2gen.train.config import _read_deepspeed_json
    ds = _read_deepspeed_json("gpu_zero2_bf16")
    if shutil.which("nvcc") is None:          # FusedAdam is JIT-built with nvcc; torch's AdamW otherwise
        ds["optimizer"]["params"]["torch_adam"] = True
    result = train(cfg_for(out / "run", deepspeed=ds, max_steps=20, lr=3e-3), datasets=data, tokenizer=tok)
    module = result["engine"].module
    master = T5ForConditionalGeneration(module.config)
    master.load_state_dict({n: safe_get_full_fp32_param(p).float().cpu()
                            for n, p in module.named_parameters(remove_duplicate=False)}, strict=False)
    reloaded = T5ForConditionalGeneration.from_pretrained(result["export_dir"]).eval()
    batch = {"input_ids": torch.tensor([[7, 3, 4, 5, 6, 3, 3, 4, 5]]), "decoder_input_ids": torch.tensor([[0, 6]])}
    with torch.no_grad():
        diff = (reloaded(**batch).logits - master.eval()(**batch).logits).abs().max().item()
    wdiff = max((p.detach().float().cpu() - master.state_dict()[n]).abs().max().item()
                for n, p in module.named_parameters())
    res = {"max_abs_logit_diff_fp32_master": diff, "max_abs_weight_diff_bf16_module": wdiff}
    (out / "bf16.json").write_text(json.dumps(res))
    return res


def _worker(argv: list[str]) -> None:
    if argv[0] == "bf16":
        print(bf16_export_check(Path(argv[1])))
        return
    out, micro, accum, batching = argv
    grad = one_step_gradient(int(micro), int(accum), batching)
    from seq2gen.train import distributed as dist_utils
    if dist_utils.is_main():
        np.save(out, grad)


if __name__ == "__main__":
    _worker(sys.argv[1:])
