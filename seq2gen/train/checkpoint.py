"""DeepSpeed checkpoints with a completion marker, retention, resume look-up, and the HF export.

Layout under ``out_dir``::

    checkpoints/step_00000040/            one DeepSpeed tag per saved step
        mp_rank_00_model_states.pt        module + client_state (step, samplers, RNG, config)
        *optim_states.pt                  optimizer (+ ZeRO partitions, one per rank)
        rng_rank00000.pt                  python/numpy/torch RNG of each rank
        complete                          written last, by rank 0, after every rank finished
    model/                                HF export: config.json, model.safetensors, generation_config.json,
                                          tokenizer files, train_config.yaml, export_files
"""
from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import yaml

from seq2gen.errors import InputError
from seq2gen.train import distributed as dist_utils

MARKER = "complete"
_TAG = re.compile(r"^step_(\d{8})$")


def tag_for(step: int) -> str:
    return f"step_{step:08d}"


def checkpoint_dirs(root: str | os.PathLike, complete_only: bool = True) -> list[tuple[int, Path]]:
    """(step, dir) of checkpoints under ``root``, oldest first; incomplete ones are skipped by default."""
    root = Path(root)
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        m = _TAG.match(d.name)
        if m and d.is_dir() and (not complete_only or (d / MARKER).is_file()):
            out.append((int(m.group(1)), d))
    return sorted(out)


def latest_checkpoint(root: str | os.PathLike) -> tuple[int, Path] | None:
    found = checkpoint_dirs(root)
    return found[-1] if found else None


def rng_state() -> dict:
    import numpy as np
    import torch
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(engine, root: str | os.PathLike, step: int, client_state: dict, keep_last: int) -> Path:
    """All ranks call this. Writes the DeepSpeed tag, per-rank RNG files, then the ``complete`` marker."""
    import torch
    root = Path(root)
    tag = tag_for(step)
    path = root / tag
    if dist_utils.is_main():
        root.mkdir(parents=True, exist_ok=True)
        if path.exists():              # a leftover of a save that was killed: start clean
            shutil.rmtree(path)
    dist_utils.barrier()
    engine.save_checkpoint(str(root), tag=tag, client_state=client_state, save_latest=False)
    rank = dist_utils.rank()
    from seq2gen.utils.io import atomic_path
    with atomic_path(path / f"rng_rank{rank:05d}.pt") as tmp:
        torch.save(rng_state(), tmp)
    dist_utils.barrier()
    if dist_utils.is_main():
        (path / MARKER).write_text(f"{step}\n")
        prune(root, keep_last)
    dist_utils.barrier()
    return path


def prune(root: Path, keep_last: int) -> None:
    """Keep the newest ``keep_last`` complete checkpoints; drop older ones and incomplete ones older than them."""
    complete = checkpoint_dirs(root)
    for _, d in complete[:-keep_last]:
        (d / MARKER).unlink()          # unmark first: a kill during rmtree leaves an ignored dir
        shutil.rmtree(d, ignore_errors=True)
    if complete:
        newest = complete[-1][0]
        for step, d in checkpoint_dirs(root, complete_only=False):
            if step < newest and not (d / MARKER).is_file():
                shutil.rmtree(d, ignore_errors=True)


def load_checkpoint(engine, path: Path) -> dict:
    """All ranks call this. Restores module/optimizer/scheduler and this rank's RNG; returns client_state."""
    import torch
    try:
        load_path, client_state = engine.load_checkpoint(str(path.parent), tag=path.name, load_optimizer_states=True,
                                                         load_lr_scheduler_states=True)
    except ValueError as e:             # torch's optimizer message names neither the file nor the cause
        if "parameter group" not in str(e):
            raise
        raise InputError(f"the checkpoint's optimizer has another number of parameter groups than this run's ({e})",
                         path=path, hint="stem_lr_scale 1 vs not 1 changes the groups: resume with the stem_lr_scale "
                         "the checkpoint was saved with (its run's train_config), or start a new out_dir") from e
    if load_path is None:
        raise RuntimeError(f"DeepSpeed could not load checkpoint {path}")
    rng_file = path / f"rng_rank{dist_utils.rank():05d}.pt"
    if rng_file.is_file():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return client_state


def _consolidated_state_dict(engine):
    """Full fp32 state dict for export; every rank must call (ZeRO-3 gathers).

    Under bf16/fp16 the module holds rounded 16-bit copies: the export takes the optimizer's fp32 master weights
    (``deepspeed.utils.safe_get_full_fp32_param``, which also gathers ZeRO-3 partitions), so an exported bf16 run
    reloads as the fp32 model the optimizer actually held. fp32 runs below ZeRO-3 read the module directly.
    """
    import logging

    module = engine.module
    mixed = engine.bfloat16_enabled() or engine.fp16_enabled()
    if not mixed and engine.zero_optimization_stage() < 3:
        return {k: v.detach().float().cpu() for k, v in module.state_dict().items()}
    from deepspeed.utils import safe_get_full_fp32_param
    keys = set(module.state_dict())
    full, out = {}, {}
    for name, p in module.named_parameters(remove_duplicate=False):     # same order on every rank
        if id(p) not in full:
            master = safe_get_full_fp32_param(p)
            if master is None:           # an optimizer without linked fp32 copies (fp16 ZeRO-0): the module's
                logging.getLogger("seq2gen.train").warning("no fp32 master copy of %s: exporting the 16-bit "
                                                           "weights", name)
                master = p
            full[id(p)] = master.detach().float().cpu()
        if name in keys:
            out[name] = full[id(p)]      # tied names share one tensor: save_pretrained keeps the tie
    for name, b in module.named_buffers():
        if name in keys:
            out[name] = b.detach().float().cpu() if b.is_floating_point() else b.detach().cpu()
    return out


def export_hf(engine, tokenizer, out_dir: str | os.PathLike, config_dict: dict, export_files=(),
              geometry: dict | None = None) -> Path:
    """All ranks call this; rank 0 writes ``out_dir/model/`` through a temp dir + rename.

    ``train_config.yaml`` holds every key (defaults filled, overrides applied) and can be passed back to
    ``load_train_config``; the batch geometry of the run (world size, derived grad_accum) is a comment on top.
    """
    state_dict = _consolidated_state_dict(engine)
    target = Path(out_dir) / "model"
    if dist_utils.is_main():
        from seq2gen.utils.io import atomic_dir
        with atomic_dir(target) as tmp:   # a failed export leaves the previous one, and no temp folder
            model = engine.module
            model.save_pretrained(tmp, state_dict=state_dict)
            if tokenizer is not None:
                tokenizer.save_pretrained(tmp)
            with open(tmp / "train_config.yaml", "w") as f:
                if geometry:
                    f.write("# run: " + ", ".join(f"{k}={v}" for k, v in geometry.items()) + "\n")
                yaml.safe_dump(config_dict, f, sort_keys=False)
            for src in export_files:
                src = Path(src)
                if not src.is_file():
                    raise FileNotFoundError(f"export_files: {src} does not exist")
                shutil.copy2(src, tmp / src.name)
    dist_utils.barrier()
    return target
