"""`train(config)`: factories → one plain loop (maybe_log / maybe_eval / maybe_save) → HF export.

Every rank draws the same global batch from the mixture sampler and keeps its own slice: with ``world`` ranks and
``accum`` micro-steps, micro-batch ``j`` of rank ``r`` is rows ``[(j·world + r)·micro, …+micro)`` of the global batch.
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
from seq2gen.train.sampler import MixtureSampler, SubsetSampler, curriculum_rows, mixture_rates
from seq2gen.train.steps import columns, eval_losses, fetch_rows, token_losses

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


def param_groups(model, weight_decay: float) -> list[dict]:
    """No weight decay on layer norms (T5 has no biases) and embeddings."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "layer_norm" in name or "shared" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def init_weights_from(model, path, tokenizer=None) -> None:
    """Replace a fresh model's weights by those of a trained export (fine-tuning; same preset). A larger
    vocabulary (tokens added with ``seq2gen vocab add``) grows the embeddings, old rows kept exactly."""
    from seq2gen.model.build import load_weights_resized
    load_weights_resized(model, path, tokenizer)


def lr_lambda(cfg: TrainConfig):
    """Multiplier of `lr` for update number s+1: linear warm-up, then linear / cosine decay / constant."""
    warm, total, floor = cfg.warmup_steps, cfg.total_steps, cfg.min_lr_ratio

    def f(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        p = min(1.0, (s - warm) / max(1, total - warm))
        if cfg.schedule == "linear":
            return floor + (1 - floor) * (1 - p)
        if cfg.schedule == "cosine":
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p))
        return 1.0
    return f


# ----------------------------------------------------------------------------------------------- the loop
def train(config, datasets=None, tokenizer=None, eval_fn=None) -> dict:
    """Train per ``config`` (TrainConfig, YAML path or dict); returns {step, model, out_dir, export_dir, …}.

    ``datasets``: dict task → DatasetDict with ``train`` (and ``config.eval_split``) rows holding ``input_ids`` and
    ``labels``; default: ``config.data_loader(config.data)``. ``eval_fn(model, step) -> dict`` runs on every rank
    at each eval (model in eval mode, no grad); rank 0's result goes to metrics.jsonl.
    """
    cfg = config if isinstance(config, TrainConfig) else load_train_config(config)
    dist_utils.init_distributed()
    import deepspeed
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from seq2gen.data.collate import Seq2GenCollator
    from seq2gen.model.build import build_model, count_parameters

    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    rank, world, main = dist_utils.rank(), dist_utils.world_size(), dist_utils.is_main()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    out_dir, ckpt_root = Path(cfg.out_dir), Path(cfg.out_dir) / "checkpoints"
    for f in cfg.export_files:
        if not Path(f).is_file():
            raise InputError("export_files entry does not exist", path=f)
    tokenizer = get_tokenizer(cfg, tokenizer)
    datasets = get_datasets(cfg, datasets)
    tasks = sorted(datasets)
    task_index = {t: i for i, t in enumerate(tasks)}
    views = {t: columns(d["train"]) for t, d in datasets.items() if "train" in d}
    sizes = {t: len(v) for t, v in views.items()}
    samplers = {"mixture": MixtureSampler(sizes, mixture_rates(cfg.rates, sizes, cfg.pretrain_task), cfg.seed)}
    if cfg.pretrain_steps:
        if cfg.pretrain_task not in sizes:
            raise InputError(f"pretrain_task {cfg.pretrain_task!r} has no train split", hint=f"tasks: {tasks}")
        samplers["pretrain"] = MixtureSampler(sizes, {cfg.pretrain_task: 1.0}, cfg.seed + 1)
    if cfg.curriculum_steps:
        rows = curriculum_rows({t: d["train"] for t, d in datasets.items() if "train" in d}, cfg.curriculum_tissues)
        samplers["curriculum"] = SubsetSampler(rows, mixture_rates(cfg.rates, sizes, cfg.pretrain_task), cfg.seed + 2)
    micro, accum, global_bs = batch_geometry(cfg, world)
    geometry = {"world_size": world, "micro_batch_size": micro, "grad_accum": accum, "global_batch_size": global_bs}
    ds_config = resolve_deepspeed_config(cfg, world, dist_utils.on_cpu())
    collate = Seq2GenCollator(tokenizer.pad_token_id, pad_to_multiple_of=cfg.pad_to_multiple_of)

    random.seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    torch.manual_seed(cfg.seed + rank)      # dropout; differs per rank
    model = build_model(cfg.model, tokenizer=tokenizer, seed=cfg.seed, overrides=cfg.model_overrides)
    if cfg.init_from:
        init_weights_from(model, cfg.init_from, tokenizer)
    n_params = count_parameters(model)      # before ZeRO-3 partitions it
    engine, *_ = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, cfg.weight_decay), config=ds_config,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg)))
    if world == 1 and engine.zero_optimization_stage() == 0:
        engine.enable_backward_allreduce = False   # a 1-rank all-reduce only flattens/copies every gradient (~10 %)

    step = 0
    found = latest_checkpoint(ckpt_root)
    if found and not cfg.resume:
        raise InputError(f"{ckpt_root} holds checkpoints of an earlier run", hint="set resume: true, or use a "
                         "new out_dir")
    if found:
        client = load_checkpoint(engine, found[1])
        step = client["step"]
        for name, state in client["samplers"].items():
            samplers[name].load_state_dict(state)
        _warn_changes(client["config"], cfg)
        sched = engine.lr_scheduler     # the schedule follows this run's config (same values if unchanged)
        sched.base_lrs = [cfg.lr] * len(sched.base_lrs)
        for group in sched.optimizer.param_groups:
            group["initial_lr"], group["lr"] = cfg.lr, cfg.lr * lr_lambda(cfg)(step)
    metrics_path = out_dir / "metrics.jsonl"
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        _truncate_metrics(metrics_path, step)
        logger.info("model %s parameters; batch %d = %d micro × %d accum × %d ranks; %s from step %d",
                    f"{n_params:,}", global_bs, micro, accum, world,
                    "resuming" if found else "starting", step)

    def log(record):
        if main:
            with open(metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    def maybe_log(step, stage, lr, final=False):
        if final or step % cfg.log_every == 0:
            record = {"type": "train", "step": step, "stage": stage, "lr": lr, **window.flush(tasks)}
            grad_norm = engine.get_global_grad_norm()     # None where DeepSpeed does not track it (ZeRO-0)
            if grad_norm is not None:
                record["grad_norm"] = float(grad_norm)
            bar.set_postfix(loss=f"{record['loss']:.4f}")
            log(record)

    def maybe_eval(step, final=False):
        if not (final or (cfg.eval_every and step % cfg.eval_every == 0)):
            return
        record = {"type": "eval", "step": step}
        record.update(eval_losses(engine, datasets, cfg, tasks, collate, world, rank))
        if eval_fn is not None:
            engine.eval()
            with torch.no_grad():
                record.update(eval_fn(engine.module, step) or {})
            engine.train()
        if len(record) > 2:
            log(record)

    def maybe_save(step, final=False):
        if cfg.save_every and (final or step % cfg.save_every == 0):
            client = {"step": step, "samplers": {k: s.state_dict() for k, s in samplers.items()},
                      "config": cfg.to_dict(), "world_size": world}
            save_checkpoint(engine, ckpt_root, step, client, cfg.keep_last)
            if cfg.export_every_save:
                export_hf(engine, tokenizer, out_dir, cfg.to_dict(), cfg.export_files, geometry)

    window = _Window(len(tasks))
    bar = tqdm(total=cfg.total_steps, initial=step, disable=not (main and cfg.progress), desc="train")
    engine.train()
    while step < cfg.total_steps:
        t0 = time.perf_counter()
        stage = ("pretrain" if step < cfg.pretrain_steps else
                 "curriculum" if step < cfg.pretrain_steps + cfg.curriculum_steps else "mixture")
        picks = samplers[stage].draw(global_bs)
        lr = engine.get_lr()[0]
        stats = torch.zeros(2 * len(tasks) + 3, dtype=torch.float64)   # task sums | task tokens | loss, n, tokens
        for j in range(accum):
            lo = (j * world + rank) * micro
            batch = collate(fetch_rows(views, picks[lo:lo + micro], task_index))
            loss, ex_sum, ex_tok = token_losses(engine, batch, cfg.loss_weighting)
            engine.backward(loss)
            engine.step()
            stats[:len(tasks)].index_add_(0, batch["task_ids"], ex_sum.double())
            stats[len(tasks):2 * len(tasks)].index_add_(0, batch["task_ids"], ex_tok.double())
            stats[-3:] += torch.tensor([loss.item(), 1.0, float(batch["attention_mask"].sum() + ex_tok.sum())],
                                       dtype=torch.float64)
        dist_utils.all_reduce_sum(stats)
        step += 1
        window.add(stats, time.perf_counter() - t0, global_bs)
        bar.update(1)
        final = step == cfg.total_steps
        maybe_log(step, stage, lr, final)
        maybe_eval(step, final)
        maybe_save(step, final)
        if cfg.stop_at_step is not None and step >= cfg.stop_at_step and not final:
            bar.close()
            return {"step": step, "model": engine.module, "engine": engine, "out_dir": out_dir,
                    "export_dir": None, "metrics_path": metrics_path}
    bar.close()
    export_dir = export_hf(engine, tokenizer, out_dir, cfg.to_dict(), cfg.export_files, geometry)
    return {"step": step, "model": engine.module, "engine": engine, "out_dir": out_dir, "export_dir": export_dir,
            "metrics_path": metrics_path}


class _Window:
    """Sums of the per-step stats between two log lines."""

    def __init__(self, n_tasks):
        self.n = n_tasks
        self.reset()

    def reset(self):
        self.stats, self.seconds, self.examples, self.steps = None, 0.0, 0, 0

    def add(self, stats, seconds, examples):
        self.stats = stats.clone() if self.stats is None else self.stats + stats
        self.seconds += seconds
        self.examples += examples
        self.steps += 1

    def flush(self, tasks) -> dict:
        s, n = self.stats.tolist(), self.n
        out = {"loss": s[-3] / s[-2]}
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
    keys = ("seed", "rates", "micro_batch_size", "grad_accum", "global_batch_size", "lr", "schedule",
            "warmup_steps", "max_steps", "pretrain_steps", "model")
    changed = [k for k in keys if old.get(k) != getattr(cfg, k)]
    if changed and dist_utils.is_main():
        logger.warning("resuming with changed config keys %s: the run will not replay the uninterrupted one",
                       changed)
