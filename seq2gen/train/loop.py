"""`train(config)`: factories → one plain loop (maybe_log / maybe_eval / maybe_save) → HF export.

Every rank draws the same global batch from the mixture sampler and keeps its own slice: with ``world`` ranks and
``accum`` micro-steps, micro-batch ``j`` of rank ``r`` is chunk ``j·world + r`` of the global batch (after sorting
the batch by length with ``batching: grouped``; ``seq2gen.train.batches``). Step statistics stay on the device and
are reduced over ranks at log steps only.
"""
from __future__ import annotations

import importlib
import json
import logging
import math
import random
import time
from pathlib import Path

from seq2gen.errors import InputError
from seq2gen.train import distributed as dist_utils
from seq2gen.train.checkpoint import export_hf, latest_checkpoint, load_checkpoint, save_checkpoint
from seq2gen.train.config import TrainConfig, batch_geometry, load_train_config, resolve_deepspeed_config
from seq2gen.train.batches import StepBatches, StepPlans, row_lengths, step_loader
from seq2gen.train.sampler import MixtureSampler, SubsetSampler, curriculum_rows, load_mixture, mixture_rates
from seq2gen.train.steps import columns, eval_losses, token_losses

logger = logging.getLogger("seq2gen.train")


# ----------------------------------------------------------------------------------------------- factories
def get_tokenizer(cfg: TrainConfig, tokenizer=None):
    if tokenizer is not None and not isinstance(tokenizer, (str, Path)):
        return tokenizer
    path = tokenizer or cfg.tokenizer
    if path is None:
        raise InputError("no tokenizer: set `tokenizer:` (a save_pretrained directory) or pass one to train()")
    from seq2gen.vocab.tokenizer import VOCAB_FILE, Seq2GenTokenizer
    if (Path(path) / VOCAB_FILE).is_file():       # keeps the grammar file in the export (Seq2Gen needs it)
        return Seq2GenTokenizer.from_pretrained(path)
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(str(path))


def get_datasets(cfg: TrainConfig, datasets=None) -> dict:
    if datasets is None:
        module, _, func = cfg.data_loader.partition(":")
        loader = getattr(importlib.import_module(module), func)
        datasets = loader(cfg.data)
    if not isinstance(datasets, dict) or not datasets:
        raise InputError("datasets must be a non-empty dict task → DatasetDict(train/validation/test)")
    return datasets


def param_groups(model, weight_decay: float, lr: float = 1.0, stem_lr_scale: float = 1.0) -> list[dict]:
    """No weight decay on layer norms (T5 has no biases) and embeddings. With ``stem_lr_scale`` ≠ 1 the conv stem's
    parameters get groups of their own at ``lr × stem_lr_scale`` (``lr_scale`` kept in the group for resume):
    motif discovery happens in the stem, whose gradients are orders smaller than the transformer's."""
    groups: dict = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            decays = not (p.ndim < 2 or "layer_norm" in name or "shared" in name)
            scale = stem_lr_scale if name.startswith("stem.") else 1.0
            groups.setdefault((decays, scale), []).append(p)
    if stem_lr_scale != 1.0 and not any(scale != 1.0 for _, scale in groups):
        raise InputError(f"stem_lr_scale is {stem_lr_scale} but the model has no conv stem",
                         hint="use a *_conv preset (configs/model/), or leave stem_lr_scale at 1")
    out = []
    order = [(True, 1.0), (False, 1.0), (True, stem_lr_scale), (False, stem_lr_scale)]   # the old two groups first
    for decays, scale in dict.fromkeys(order):
        if (decays, scale) not in groups:
            continue
        group = {"params": groups[decays, scale], "weight_decay": weight_decay if decays else 0.0}
        if stem_lr_scale != 1.0:
            group.update(lr=lr * scale, lr_scale=scale)
        out.append(group)
    return out


def init_weights_from(model, path, tokenizer=None) -> None:
    """Replace a fresh model's weights by those of a trained export (fine-tuning; same preset). A larger
    vocabulary (tokens added with ``seq2gen vocab add``) grows the embeddings, old rows kept exactly. Under ZeRO-3
    (``zero.Init``) the shards are gathered for the copy and re-partitioned from rank 0."""
    import contextlib

    from seq2gen.model.build import load_weights_resized
    params = [p for p in model.parameters() if hasattr(p, "ds_id")]    # ZeRO-3 shards (zero.Init)
    if params:
        import deepspeed
        gathered = deepspeed.zero.GatheredParameters(params, modifier_rank=0)
    else:
        gathered = contextlib.nullcontext()
    with gathered:
        load_weights_resized(model, path, tokenizer)


def lr_lambda(cfg: TrainConfig):
    """Multiplier of `lr` for update number s+1: linear warm-up, `hold_steps` at the peak, then linear / cosine
    decay / constant."""
    warm, total, floor = cfg.warmup_steps, cfg.total_steps, cfg.min_lr_ratio
    start = warm + cfg.hold_steps

    def f(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        p = min(1.0, max(0, s - start) / max(1, total - start))
        if cfg.schedule == "linear":
            return floor + (1 - floor) * (1 - p)
        if cfg.schedule == "cosine":
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))
        return 1.0
    return f


# ----------------------------------------------------------------------------------------------- set-up helpers
def build_samplers(cfg: TrainConfig, datasets: dict) -> dict:
    """Sampler per stage (mixture, pretrain, curriculum); the mixture stage's rates come from ``Mixture.rates``."""
    sizes = {t: len(d["train"]) for t, d in datasets.items() if "train" in d}
    mixture = load_mixture(cfg.mixture) if cfg.mixture else None
    rates = mixture_rates(cfg.rates, sizes, cfg.pretrain_task, mixture)
    samplers = {"mixture": MixtureSampler(sizes, rates, cfg.seed)}
    if cfg.pretrain_steps:
        if cfg.pretrain_task not in sizes:
            raise InputError(f"pretrain_task {cfg.pretrain_task!r} has no train split", hint=f"tasks: {sorted(sizes)}")
        samplers["pretrain"] = MixtureSampler(sizes, {cfg.pretrain_task: 1.0}, cfg.seed + 1)
    if cfg.curriculum_steps:
        stage_rates = mixture_rates(cfg.curriculum_rates, sizes) if cfg.curriculum_rates else rates
        if cfg.curriculum_tissues:
            rows = curriculum_rows({t: d["train"] for t, d in datasets.items() if "train" in d}, cfg.curriculum_tissues)
            empty = [t for t, r in stage_rates.items() if r > 0 and not len(rows.get(t, ()))]
            if cfg.curriculum_rates and empty:     # named for the curriculum, yet it would never draw them
                raise InputError(f"curriculum_rates names tasks without a row of curriculum_tissues "
                                 f"{list(cfg.curriculum_tissues)}: {empty}", hint="drop them or add their tissues")
            if empty:                              # the mixture's own rates: say which tasks the stage skips
                logger.warning("curriculum: %d task(s) have no row of curriculum_tissues %s and are skipped for the "
                               "first %d steps: %s", len(empty), list(cfg.curriculum_tissues), cfg.curriculum_steps,
                               empty)
            samplers["curriculum"] = SubsetSampler(rows, stage_rates, cfg.seed + 2)
        else:
            samplers["curriculum"] = MixtureSampler(sizes, stage_rates, cfg.seed + 2)
    return samplers


def stage_of(cfg: TrainConfig):
    def f(step: int) -> str:
        return ("pretrain" if step < cfg.pretrain_steps else
                "curriculum" if step < cfg.pretrain_steps + cfg.curriculum_steps else "mixture")
    return f


def build_engine(cfg: TrainConfig, tokenizer, ds_config: dict):
    """Model + DeepSpeed engine; returns (engine, number of parameters)."""
    import deepspeed
    import torch

    from seq2gen.model.build import build_model
    if ds_config.get("zero_optimization", {}).get("stage", 0) == 3:
        model = _build_partitioned(cfg, tokenizer, ds_config)
    else:
        model = build_model(cfg.model, tokenizer=tokenizer, seed=cfg.seed, overrides=cfg.model_overrides)
    n_params = sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())
    if cfg.init_from:
        init_weights_from(model, cfg.init_from, tokenizer)
    engine, *_ = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, cfg.weight_decay, cfg.lr, cfg.stem_lr_scale),
        config=ds_config,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg)))
    if dist_utils.world_size() == 1 and engine.zero_optimization_stage() == 0:
        engine.enable_backward_allreduce = False   # a 1-rank all-reduce only flattens/copies every gradient (~10 %)
    return engine, n_params


def _build_partitioned(cfg: TrainConfig, tokenizer, ds_config: dict):
    """ZeRO-3: build under ``deepspeed.zero.Init`` so that each rank materialises only its shard, then initialise
    with transformers' ZeRO-3 init (each module gathered in turn, rank 0 draws, seeded): the same init scheme as a
    plain build, not the same draws. Conv-stem presets are built whole (their stem init needs whole tensors)."""
    import deepspeed
    import torch
    from transformers.integrations.deepspeed import initialize_weights_zero3

    from seq2gen.model.build import build_model, load_preset
    if load_preset(cfg.model).get("stem") == "conv":
        logger.warning("ZeRO-3: conv-stem presets are built unpartitioned on every rank (no zero.Init)")
        return build_model(cfg.model, tokenizer=tokenizer, seed=cfg.seed, overrides=cfg.model_overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        with deepspeed.zero.Init(config_dict_or_path=ds_config):
            model = build_model(cfg.model, tokenizer=tokenizer, seed=cfg.seed, overrides=cfg.model_overrides)
        for x in [*model.modules(), *model.parameters(), *model.buffers()]:
            if hasattr(x, "_is_hf_initialized"):    # set by the init that ran on empty shards during construction
                del x._is_hf_initialized
        initialize_weights_zero3(model)
    model.tie_weights()
    return model


def resume_state(engine, cfg: TrainConfig, samplers: dict, ckpt_root: Path) -> tuple[int, bool]:
    """(step to start from, whether a checkpoint was loaded); restores samplers and re-fits the LR schedule."""
    found = latest_checkpoint(ckpt_root)
    if found and not cfg.resume:
        raise InputError(f"{ckpt_root} holds checkpoints of an earlier run", hint="set resume: true, or use a "
                         "new out_dir")
    if not found:
        return 0, False
    client = load_checkpoint(engine, found[1])
    for name, state in client["samplers"].items():
        samplers[name].load_state_dict(state)
    _warn_changes(client["config"], cfg)
    step = client["step"]
    sched = engine.lr_scheduler     # the schedule follows this run's config (same values if unchanged)
    for group in sched.optimizer.param_groups:
        # the checkpoint's groups carry its own lr_scale: a stem group takes this run's stem_lr_scale, as lr does
        if group.get("lr_scale", 1.0) != 1.0:
            group["lr_scale"] = cfg.stem_lr_scale
        base = cfg.lr * group.get("lr_scale", 1.0)
        group["initial_lr"], group["lr"] = base, base * lr_lambda(cfg)(step)
    sched.base_lrs = [g["initial_lr"] for g in sched.optimizer.param_groups]
    return step, True


def make_loader(cfg: TrainConfig, datasets: dict, tokenizer, samplers: dict, start: int):
    """The step loader (``seq2gen.train.batches``): plans drawn ahead in this process, rows read in workers."""
    import torch

    from seq2gen.data.collate import Seq2GenCollator
    world, rank = dist_utils.world_size(), dist_utils.rank()
    _, accum, global_bs = batch_geometry(cfg, world)
    tasks = sorted(datasets)
    train_splits = {t: d["train"] for t, d in datasets.items() if "train" in d}
    lengths = {t: row_lengths(s) for t, s in train_splits.items()}
    plans = StepPlans(samplers, stage_of(cfg), lengths, (world, rank, accum, global_bs), cfg.batching,
                      cfg.loss_weighting, start, cfg.total_steps)
    collate = Seq2GenCollator(tokenizer.pad_token_id, pad_to_multiple_of=cfg.pad_to_multiple_of)
    batches = StepBatches({t: columns(s) for t, s in train_splits.items()}, {t: i for i, t in enumerate(tasks)},
                          collate)
    on_gpu = not dist_utils.on_cpu() and torch.cuda.is_available()
    workers = cfg.loader_workers if cfg.loader_workers is not None else (1 if on_gpu else 0)
    return step_loader(plans, batches, workers, cfg.prefetch_steps, pin_memory=on_gpu)


def train_step(engine, item: dict, cfg: TrainConfig, stats, n_tasks: int) -> None:
    """One optimizer step over this rank's micro-batches; adds to the device-side ``stats`` (no host sync).

    Each micro-batch's loss is its answer-token sum over the whole step's answer tokens, × grad_accum × world (what
    DeepSpeed divides by): micro 16 × accum 2, micro 32 × accum 1 and 2 ranks × micro 16 give the same gradient.
    """
    world = dist_utils.world_size()
    scale = len(item["batches"]) * world
    norm = item["plan"].norm / scale
    for batch in item["batches"]:
        loss, ex_sum, ex_tok = token_losses(engine, batch, cfg.loss_weighting, norm=norm)
        engine.backward(loss)
        engine.step()
        task_ids = batch["task_ids"].to(stats.device, non_blocking=True)
        stats[:n_tasks].index_add_(0, task_ids, ex_sum.double())
        stats[n_tasks:2 * n_tasks].index_add_(0, task_ids, ex_tok.double())
        stats[-2] += loss.detach().double() / scale
    stats[-1] += float(item["tokens"])


# ----------------------------------------------------------------------------------------------- the loop
def train(config, datasets=None, tokenizer=None, eval_fn=None) -> dict:
    """Train per ``config`` (TrainConfig, YAML path or dict); returns {step, model, out_dir, export_dir, …}.

    ``datasets``: dict task → DatasetDict with ``train`` (and ``config.eval_split``) rows holding ``input_ids`` and
    ``labels``; default: ``config.data_loader(config.data)``. ``eval_fn(model, step) -> dict`` runs on every rank
    at each eval (model in eval mode, no grad); rank 0's result goes to metrics.jsonl.
    """
    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    dist_utils.init_distributed()
    import numpy as np
    import torch

    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    rank, world = dist_utils.rank(), dist_utils.world_size()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    for f in cfg.export_files:
        if not Path(f).is_file():
            raise InputError("export_files entry does not exist", path=f)
    tokenizer = get_tokenizer(cfg, tokenizer)
    datasets = get_datasets(cfg, datasets)
    samplers = build_samplers(cfg, datasets)
    micro, accum, global_bs = batch_geometry(cfg, world)
    ds_config = resolve_deepspeed_config(cfg, world, dist_utils.on_cpu())
    random.seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    torch.manual_seed(cfg.seed + rank)      # dropout; differs per rank
    engine, n_params = build_engine(cfg, tokenizer, ds_config)
    step, resumed = resume_state(engine, cfg, samplers, Path(cfg.out_dir) / "checkpoints")
    hooks = _Hooks(cfg, engine, tokenizer, datasets, eval_fn, step)
    if dist_utils.is_main():
        logger.info("model %s parameters; batch %d = %d micro × %d accum × %d ranks (%s); %s from step %d",
                    f"{n_params:,}", global_bs, micro, accum, world, cfg.batching,
                    "resuming" if resumed else "starting", step)
    stopped = False
    for item in make_loader(cfg, datasets, tokenizer, samplers, step):
        t0 = time.perf_counter()
        lr = engine.get_lr()[0]
        train_step(engine, item, cfg, hooks.window.stats, len(hooks.tasks))
        step = item["plan"].step + 1
        hooks.window.add(time.perf_counter() - t0, global_bs)
        stopped = cfg.stop_at_step is not None and step >= cfg.stop_at_step and step < cfg.total_steps
        hooks.after_step(step, item["plan"], lr, final=step == cfg.total_steps)
        if stopped:
            break
    hooks.bar.close()
    export_dir = None if stopped else export_hf(engine, tokenizer, cfg.out_dir, cfg.to_dict(), cfg.export_files,
                                                hooks.geometry)
    return {"step": step, "model": engine.module, "engine": engine, "out_dir": Path(cfg.out_dir),
            "export_dir": export_dir, "metrics_path": hooks.metrics_path}


class _Hooks:
    """maybe_log / maybe_eval / maybe_save after each step (nanoT5 style), and the metrics file of rank 0."""

    def __init__(self, cfg: TrainConfig, engine, tokenizer, datasets, eval_fn, step: int):
        from tqdm.auto import tqdm

        from seq2gen.data.collate import Seq2GenCollator
        self.cfg, self.engine, self.tokenizer, self.datasets, self.eval_fn = cfg, engine, tokenizer, datasets, eval_fn
        self.tasks = sorted(datasets)
        self.main, self.world = dist_utils.is_main(), dist_utils.world_size()
        micro, accum, global_bs = batch_geometry(cfg, self.world)
        self.geometry = {"world_size": self.world, "micro_batch_size": micro, "grad_accum": accum,
                         "global_batch_size": global_bs}
        self.collate = Seq2GenCollator(tokenizer.pad_token_id, pad_to_multiple_of=cfg.pad_to_multiple_of)
        self.metrics_path = Path(cfg.out_dir) / "metrics.jsonl"
        if self.main:
            Path(cfg.out_dir).mkdir(parents=True, exist_ok=True)
            _truncate_metrics(self.metrics_path, step)
        self.window = _Window(len(self.tasks))
        self.bar = tqdm(total=cfg.total_steps, initial=step, disable=not (self.main and cfg.progress), desc="train")
        engine.train()

    def log(self, record: dict) -> None:
        if self.main:
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def after_step(self, step: int, plan, lr: float, final: bool) -> None:
        self.bar.update(1)
        cfg = self.cfg
        if final or step % cfg.log_every == 0:          # the only host sync of a training step
            record = {"type": "train", "step": step, "stage": plan.stage, "lr": lr, **self.window.flush(self.tasks)}
            grad_norm = self.engine.get_global_grad_norm()     # None where DeepSpeed does not track it (ZeRO-0)
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm)
            self.bar.set_postfix(loss=f"{record['loss']:.4f}")
            self.log(record)
        if final or (cfg.eval_every and step % cfg.eval_every == 0):
            self.evaluate(step)
        if cfg.save_every and (final or step % cfg.save_every == 0):
            client = {"step": step, "samplers": plan.states, "config": cfg.to_dict(), "world_size": self.world}
            save_checkpoint(self.engine, Path(cfg.out_dir) / "checkpoints", step, client, cfg.keep_last)
            if cfg.export_every_save:
                export_hf(self.engine, self.tokenizer, cfg.out_dir, cfg.to_dict(), cfg.export_files, self.geometry)

    def evaluate(self, step: int) -> None:
        import torch
        record = {"type": "eval", "step": step}
        record.update(eval_losses(self.engine, self.datasets, self.cfg, self.tasks, self.collate, self.world,
                                  dist_utils.rank()))
        if self.eval_fn is not None:
            self.engine.eval()
            with torch.no_grad():
                record.update(self.eval_fn(self.engine.module, step) or {})
            self.engine.train()
        if len(record) > 2:
            self.log(record)


class _Window:
    """Per-step stats between two log lines, summed on the device: task loss sums | task tokens | loss | tokens.

    Reduced over ranks and read on the host only at a log step (``flush``)."""

    def __init__(self, n_tasks):
        self.n = n_tasks
        self.reset()

    def reset(self):
        import torch
        self.stats = torch.zeros(2 * self.n + 2, dtype=torch.float64, device=dist_utils.device())
        self.seconds, self.examples, self.steps = 0.0, 0, 0

    def add(self, seconds, examples):
        self.seconds += seconds
        self.examples += examples
        self.steps += 1

    def flush(self, tasks) -> dict:
        t0 = time.perf_counter()
        s, n = dist_utils.all_reduce_sum(self.stats).tolist(), self.n
        self.seconds += time.perf_counter() - t0          # the device work queued behind the host
        out = {"loss": s[-2] / self.steps}
        out.update({f"loss/{t}": s[i] / s[n + i] for i, t in enumerate(tasks) if s[n + i] > 0})
        out.update({"tokens_per_s": s[-1] / self.seconds, "examples_per_s": self.examples / self.seconds,
                    "s_per_step": self.seconds / self.steps})
        self.reset()
        return out


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep records up to ``step`` (the resumed step); a fresh run (step 0) starts an empty file."""
    keep = []
    if step and path.is_file():
        keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in keep))
    tmp.replace(path)


def _warn_changes(old: dict, cfg: TrainConfig) -> None:
    keys = ("seed", "rates", "mixture", "micro_batch_size", "grad_accum", "global_batch_size", "lr", "schedule",
            "warmup_steps", "max_steps", "pretrain_steps", "model", "stem_lr_scale")
    # a key an older checkpoint predates counts as its default (stem_lr_scale before 2026-12-08)
    changed = [k for k in keys if old.get(k, getattr(TrainConfig, k, None)) != getattr(cfg, k)]
    if changed and dist_utils.is_main():
        logger.warning("resuming with changed config keys %s: the run will not replay the uninterrupted one",
                       changed)
