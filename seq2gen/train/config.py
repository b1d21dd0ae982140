"""Training configuration: a dataclass read from YAML, start-up invariant checks, DeepSpeed JSON resolution.

`load_train_config(path, overrides)` → `TrainConfig` (checked). `resolve_deepspeed_config(cfg, world_size)` reads
``configs/deepspeed/<name>.json`` (or a path / dict) and fills its ``"auto"`` values from the train config, checking
``train_batch_size == micro_batch_size × grad_accum × world_size``.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seq2gen.errors import InputError

SCHEDULES = ("linear", "cosine", "constant")
BATCHINGS = ("grouped", "mixed")


@dataclass
class TrainConfig:
    # where everything goes: metrics.jsonl, checkpoints/, model/ (HF export)
    out_dir: str = "runs/train"
    # inputs
    model: Any = "tiny"                      # preset name, YAML path or dict (configs/model/)
    model_overrides: dict = field(default_factory=dict)   # updates the preset's `config`
    init_from: str | None = None             # export dir (OUT/model) whose weights start training (fine-tune)
    tokenizer: str | None = None             # directory written by tokenizer.save_pretrained
    data: str | None = None                  # argument of data_loader (e.g. the datasets directory)
    data_loader: str = "seq2gen.data:load_datasets"       # "module:function" → dict[task → DatasetDict]
    export_files: list = field(default_factory=list)      # copied into out_dir/model/ (quantizers.json, …)
    # mixture
    rates: Any = "proportional"              # {task: rate} | "proportional" | "uniform" (over the train splits)
    mixture: str | None = None               # a task_templates/mixtures name or YAML path: its tasks and rates
                                             # (temperature, cap) drive the mixture stage instead of `rates`
    pretrain_task: str | None = None         # e.g. a span-corruption dataset; trained alone first
    pretrain_steps: int = 0
    curriculum_tissues: list | None = None   # e.g. [liver]: the first curriculum_steps mixture steps use only
    curriculum_steps: int = 0                # these tissues' rows of tissue-conditioned tasks (docs/training.md)
    curriculum_rates: dict | None = None     # e.g. {tf_binding: 1, tf_tissues: 1}: the curriculum's own task rates
                                             # (default: the mixture's); with or without curriculum_tissues
    # batch: global = micro_batch_size × grad_accum × world_size
    micro_batch_size: int = 8
    grad_accum: int | None = 1               # null: derived from global_batch_size
    global_batch_size: int | None = None     # optional; checked against the product above
    pad_to_multiple_of: int | None = None
    batching: str = "grouped"                # grouped: each step's rows sorted by length before cutting micro-
                                             # batches | mixed: micro-batches in draw order (docs/training.md)
    loader_workers: int | None = None        # DataLoader worker processes (null: 1 on GPU, 0 on CPU)
    prefetch_steps: int = 2                  # steps each worker prepares ahead
    # optimisation
    max_steps: int = 1000                    # mixture steps (after pretrain_steps)
    lr: float = 1e-3
    stem_lr_scale: float = 1.0               # the conv stem's lr / lr (docs/training.md, "Why seed 2 misses")
    weight_decay: float = 0.0
    betas: list = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup_steps: int = 0
    hold_steps: int = 0                      # steps at the peak lr after the warm-up, before the decay starts
                                             # (e.g. = curriculum_steps: the mixture then decays as it would alone)
    schedule: str = "linear"                 # linear | cosine | constant (after linear warm-up)
    min_lr_ratio: float = 0.0                # final lr = lr × min_lr_ratio
    grad_clip: float = 1.0                   # 0 disables
    loss_weighting: str = "token"            # token | example: what one answer token weighs (steps.token_losses)
    deepspeed: Any = "cpu_zero0"             # configs/deepspeed/<name>.json, a path, or a dict
    seed: int = 0
    num_threads: int | None = None           # torch.set_num_threads per process
    # logging / eval / checkpoints
    log_every: int = 10
    progress: bool = True                    # tqdm bar on rank 0
    eval_every: int = 0                      # every N steps; always at the end
    eval_examples: int = 256                 # validation rows per task (0: no validation loss)
    eval_split: str = "validation"
    save_every: int = 0                      # every N steps and at the end; 0: no checkpoints
    keep_last: int = 2
    resume: bool = False                     # continue from the latest complete checkpoint in out_dir
    export_every_save: bool = False          # also refresh out_dir/model/ at each checkpoint
    stop_at_step: int | None = None          # end early (like a preemption) without final save/export

    @property
    def total_steps(self) -> int:
        return self.pretrain_steps + self.max_steps

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fields() -> dict:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def _unknown(key: str, where) -> InputError:
    close = difflib.get_close_matches(key, sorted(_fields()), n=1)
    return InputError(f"unknown train config key {key!r}", path=where,
                      hint=f"did you mean {close[0]!r}?" if close else "see docs/training.md")


def _apply_overrides(data: dict, overrides, where) -> None:
    from seq2gen.utils.overrides import parse_overrides, set_dotted
    for key, value in parse_overrides(overrides):
        top = key.partition(".")[0]
        if top not in _fields():
            raise _unknown(top, where)
        if "." in key and data.get(top) in (None, "proportional", "uniform"):
            data[top] = {}                 # `rates: proportional` + `rates.expr=2` → explicit rates
        set_dotted(data, key, value)


def load_train_config(path: str | os.PathLike | dict | None = None, overrides=None) -> TrainConfig:
    """Read a train YAML (or dict), apply ``overrides`` (dict or ``["key=value", "rates.a=2"]``), check it."""
    where = None
    if path is None:
        data = {}
    elif isinstance(path, dict):
        data = copy.deepcopy(path)
    else:
        where = Path(path)
        if not where.is_file():
            raise InputError("train config not found", path=where)
        from seq2gen.utils.io import read_yaml_mapping
        data = read_yaml_mapping(where, "a train config")
    for key in data:
        if key not in _fields():
            raise _unknown(key, where)
    _apply_overrides(data, overrides, where)
    cfg = TrainConfig(**data)
    check_config(cfg, where)
    return cfg


def _positive_int(cfg, name, where, allow_zero=False, allow_none=False):
    value = getattr(cfg, name)
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        need = "an integer >= 0" if allow_zero else "a positive integer"
        raise InputError(f"{name} must be {need}, got {value!r}", path=where)


def _check_rates(rates, name: str, where) -> None:
    if not isinstance(rates, dict) or not rates:
        raise InputError(f"{name} must be a non-empty mapping task → rate, got {rates!r}", path=where)
    for task, rate in rates.items():
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 0:
            raise InputError(f"{name}: rate of task {task!r} must be a number >= 0, got {rate!r}", path=where)
    if sum(rates.values()) <= 0:
        raise InputError(f"{name} sum to 0", path=where)


def check_config(cfg: TrainConfig, where=None) -> None:
    """Invariants that do not depend on the world size or the data; raise InputError naming the key."""
    for name in ("micro_batch_size", "max_steps", "keep_last"):
        _positive_int(cfg, name, where)
    for name in ("pretrain_steps", "curriculum_steps", "warmup_steps", "hold_steps", "log_every", "eval_every",
                 "eval_examples", "save_every"):
        _positive_int(cfg, name, where, allow_zero=True)
    for name in ("grad_accum", "global_batch_size", "pad_to_multiple_of", "num_threads", "stop_at_step"):
        _positive_int(cfg, name, where, allow_none=True)
    _positive_int(cfg, "loader_workers", where, allow_zero=True, allow_none=True)
    _positive_int(cfg, "prefetch_steps", where)
    if cfg.batching not in BATCHINGS:
        raise InputError(f"batching must be one of {list(BATCHINGS)}, got {cfg.batching!r}", path=where)
    if cfg.mixture is not None and isinstance(cfg.rates, dict):
        raise InputError("set either `mixture:` (a mixture YAML) or a `rates:` mapping, not both", path=where,
                         hint="the mixture file's own `rates:` (temperature, cap) apply")
    if cfg.grad_accum is None and cfg.global_batch_size is None:
        raise InputError("grad_accum is null: set global_batch_size so that it can be derived", path=where)
    if cfg.global_batch_size is not None and cfg.global_batch_size % cfg.micro_batch_size:
        raise InputError(f"global_batch_size={cfg.global_batch_size} is not divisible by micro_batch_size="
                         f"{cfg.micro_batch_size}", path=where, hint="global = micro × grad_accum × world_size")
    if (cfg.global_batch_size is not None and cfg.grad_accum is not None
            and cfg.global_batch_size % (cfg.micro_batch_size * cfg.grad_accum)):
        raise InputError(f"global_batch_size={cfg.global_batch_size} is not divisible by micro_batch_size × "
                         f"grad_accum = {cfg.micro_batch_size * cfg.grad_accum}", path=where)
    if not cfg.stem_lr_scale > 0:
        raise InputError(f"stem_lr_scale must be > 0, got {cfg.stem_lr_scale}", path=where)
    if cfg.schedule not in SCHEDULES:
        raise InputError(f"schedule must be one of {list(SCHEDULES)}, got {cfg.schedule!r}", path=where)
    if cfg.warmup_steps + cfg.hold_steps > cfg.total_steps:
        raise InputError(f"warmup_steps + hold_steps = {cfg.warmup_steps + cfg.hold_steps} exceeds the total steps "
                         f"{cfg.total_steps}", path=where)
    if not (cfg.lr > 0 and cfg.eps > 0 and cfg.weight_decay >= 0 and cfg.grad_clip >= 0):
        raise InputError("lr and eps must be > 0, weight_decay and grad_clip >= 0", path=where)
    if cfg.loss_weighting not in ("token", "example"):
        raise InputError(f"loss_weighting must be 'token' or 'example', got {cfg.loss_weighting!r}", path=where)
    if not 0.0 <= cfg.min_lr_ratio <= 1.0:
        raise InputError(f"min_lr_ratio must be in [0, 1], got {cfg.min_lr_ratio}", path=where)
    if len(cfg.betas) != 2 or not all(0 <= b < 1 for b in cfg.betas):
        raise InputError(f"betas must be two numbers in [0, 1), got {cfg.betas}", path=where)
    if cfg.curriculum_steps and not (cfg.curriculum_tissues or cfg.curriculum_rates):
        raise InputError("curriculum_steps > 0 needs curriculum_tissues (e.g. [liver]) or curriculum_rates "
                         "(e.g. {tf_binding: 1, tf_tissues: 1})", path=where)
    if cfg.curriculum_rates is not None:
        _check_rates(cfg.curriculum_rates, "curriculum_rates", where)
    if cfg.curriculum_steps > cfg.max_steps:
        raise InputError(f"curriculum_steps ({cfg.curriculum_steps}) > max_steps ({cfg.max_steps}): the curriculum "
                         "is the first part of the mixture steps", path=where)
    if cfg.pretrain_steps and not cfg.pretrain_task:
        raise InputError("pretrain_steps > 0 needs pretrain_task (the name of its dataset)", path=where)
    if isinstance(cfg.rates, str):
        if cfg.rates not in ("proportional", "uniform"):
            raise InputError(f"rates must be a mapping task → rate, 'proportional' or 'uniform', got "
                             f"{cfg.rates!r}", path=where)
    elif isinstance(cfg.rates, dict):
        _check_rates(cfg.rates, "rates", where)
    else:
        raise InputError(f"rates must be a mapping or a string, got {type(cfg.rates).__name__}", path=where)
    if ":" not in cfg.data_loader:
        raise InputError(f"data_loader must be 'module:function', got {cfg.data_loader!r}", path=where)


def batch_geometry(cfg: TrainConfig, world_size: int) -> tuple[int, int, int]:
    """(micro, grad_accum, global) for ``world_size`` processes; raises when they do not multiply up."""
    micro = cfg.micro_batch_size
    accum = cfg.grad_accum
    if accum is None:
        if cfg.global_batch_size % (micro * world_size):
            raise InputError(f"global_batch_size={cfg.global_batch_size} is not divisible by micro_batch_size × "
                             f"world_size = {micro} × {world_size}", hint="change micro_batch_size or the "
                             "number of processes")
        accum = cfg.global_batch_size // (micro * world_size)
    total = micro * accum * world_size
    if cfg.global_batch_size is not None and cfg.global_batch_size != total:
        raise InputError(f"global_batch_size={cfg.global_batch_size} != micro_batch_size × grad_accum × "
                         f"world_size = {micro} × {accum} × {world_size} = {total}",
                         hint="set grad_accum: null to derive it")
    return micro, accum, total


def deepspeed_config_dirs() -> list[Path]:
    from seq2gen.resources import config_dir
    return [config_dir("deepspeed"), Path.cwd() / "configs" / "deepspeed"]


def _read_deepspeed_json(spec) -> dict:
    if isinstance(spec, dict):
        return copy.deepcopy(spec)
    path = Path(spec)
    if not path.suffix and not path.exists():
        hits = [d / f"{spec}.json" for d in deepspeed_config_dirs() if (d / f"{spec}.json").is_file()]
        if not hits:
            names = sorted({p.stem for d in deepspeed_config_dirs() if d.is_dir() for p in d.glob("*.json")})
            raise InputError(f"unknown deepspeed config {str(spec)!r}", hint=f"known: {names} or a JSON path")
        path = hits[0]
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise InputError("deepspeed config not found", path=path) from None
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg}", path=path, line=e.lineno) from None


def _fill(ds: dict, key: str, value, where: str) -> None:
    current = ds.get(key, "auto")
    if current == "auto":
        ds[key] = value
    elif current != value:
        raise InputError(f"deepspeed config {where}{key}={current!r} disagrees with the train config ({value!r})",
                         hint='write "auto" there to take the value from the train YAML')


def resolve_deepspeed_config(cfg: TrainConfig, world_size: int, on_cpu: bool) -> dict:
    """The DeepSpeed config dict for this run, with every "auto" replaced and batch invariants checked."""
    ds = _read_deepspeed_json(cfg.deepspeed)
    if "scheduler" in ds:
        raise InputError("the deepspeed config must not define a scheduler: the LR schedule comes from the "
                         "train YAML (warmup_steps, schedule, min_lr_ratio)")
    micro, accum, total = batch_geometry(cfg, world_size)
    _fill(ds, "train_micro_batch_size_per_gpu", micro, "")
    _fill(ds, "gradient_accumulation_steps", accum, "")
    _fill(ds, "train_batch_size", total, "")
    _fill(ds, "gradient_clipping", float(cfg.grad_clip), "")
    opt = ds.setdefault("optimizer", {"type": "AdamW", "params": {}})
    if opt.get("type", "AdamW").lower() not in ("adamw", "adam"):
        raise InputError(f"deepspeed optimizer.type must be AdamW, got {opt.get('type')!r}")
    params = opt.setdefault("params", {})
    for key, value in (("lr", float(cfg.lr)), ("betas", [float(b) for b in cfg.betas]), ("eps", float(cfg.eps)),
                       ("weight_decay", float(cfg.weight_decay))):
        _fill(params, key, value, "optimizer.params.")
    if on_cpu:
        params.setdefault("torch_adam", True)   # FusedAdam needs CUDA
    ds.setdefault("steps_per_print", 10 ** 9)     # we log ourselves
    ds.setdefault("wall_clock_breakdown", False)
    left = [k for k, v in _walk(ds) if v == "auto"]
    if left:
        raise InputError(f"deepspeed config keys {left} are 'auto' but seq2gen does not fill them",
                         hint="give numbers")
    return ds


def _walk(d: dict, prefix: str = ""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _walk(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v
