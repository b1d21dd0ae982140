"""Process-group set-up that works with and without a launcher.

Launched by ``deepspeed``/``torchrun`` the rank variables are already in the environment. A plain ``python -m
seq2gen.train`` (or a test) gets single-process defaults: RANK=0, WORLD_SIZE=1, LOCAL_RANK=0, MASTER_ADDR=127.0.0.1
and a free MASTER_PORT; without CUDA, DS_ACCELERATOR=cpu is set *before* deepspeed is imported (otherwise it probes
for mpi4py and fails). The process group (gloo on CPU) is created once per process and reused by later
``deepspeed.initialize`` calls.
"""
from __future__ import annotations

import os
import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_env() -> None:
    """Fill launcher variables that are absent; choose the CPU accelerator when there is no GPU."""
    if "DS_ACCELERATOR" not in os.environ:
        import torch
        if not torch.cuda.is_available():
            os.environ["DS_ACCELERATOR"] = "cpu"
    defaults = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": os.environ.get("RANK", "0"),
                "MASTER_ADDR": "127.0.0.1"}
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    if "MASTER_PORT" not in os.environ:
        os.environ["MASTER_PORT"] = str(free_port())


STALE_LOCK_S = 15 * 60


def check_extension_locks(now: float | None = None) -> None:
    """Refuse to start over a stale torch-extension build lock instead of waiting on it forever.

    DeepSpeed compiles a CPU op on a first run (torch ``cpp_extension``, ~1 min); a run killed during that build
    leaves ``<extensions dir>/<op>/lock`` behind and every later run waits on it silently (torch's lock has no
    timeout). A lock older than ``STALE_LOCK_S`` in a folder without the built ``.so`` is that case.
    """
    import glob
    import time

    from seq2gen.errors import InputError
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.expanduser("~/.cache/torch_extensions")
    now = time.time() if now is None else now
    for lock in glob.glob(os.path.join(root, "*", "lock")) + glob.glob(os.path.join(root, "*", "*", "lock")):
        folder = os.path.dirname(lock)
        if not glob.glob(os.path.join(folder, "*.so")) and now - os.path.getmtime(lock) > STALE_LOCK_S:
            raise InputError("a torch extension build lock left by a killed run: the DeepSpeed op build would "
                             "wait on it forever", path=lock, hint=f"delete {folder} and run again")


def on_cpu() -> bool:
    return os.environ.get("DS_ACCELERATOR") == "cpu"


def init_distributed() -> None:
    """Create the default process group once (gloo on CPU); later calls are no-ops."""
    setup_env()
    if on_cpu():
        check_extension_locks()
    import deepspeed
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return
    deepspeed.init_distributed(dist_backend="gloo" if on_cpu() else None, verbose=False)


def rank() -> int:
    import torch.distributed as dist
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else int(os.environ.get("RANK", 0))


def world_size() -> int:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def all_reduce_sum(tensor):
    """In-place sum over ranks (no-op for one process); returns the tensor.

    Keep reduced tensors on ``device()``: NCCL (every GPU run) reduces device tensors only, so a CPU tensor is
    copied to the device and back here rather than failing at the first step.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        if tensor.device.type == "cpu" and dist.get_backend() != "gloo":
            on_device = tensor.to(device())
            dist.all_reduce(on_device, op=dist.ReduceOp.SUM)
            tensor.copy_(on_device.cpu())
        else:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def device():
    """The accelerator device of this rank (``cpu`` under DS_ACCELERATOR=cpu)."""
    from deepspeed.accelerator import get_accelerator
    return get_accelerator().current_device_name()
