"""A conventional baseline a user would reach for instead of seq2gen: a small DeepSEA/Basset-style CNN per task.

Why it exists: the jointly trained T5 must beat what one short, cheap, single-task model reaches on the same split
and in the same wall time. So training takes a wall-clock budget (``budget_s``) and/or a step budget
(``max_steps``), and ``history`` reports examples seen, steps and seconds, to compare at equal cost.

Model: one-hot (B, 4, L) → conv blocks (Conv1d → BatchNorm → ReLU → MaxPool → Dropout) → global max ‖ mean pool →
dropout → linear → ReLU → linear → C logits (softmax; C = 2 for binary tasks). AdamW, short warm-up then cosine decay
over the budget (under a wall-clock budget the schedule follows elapsed time, so such runs are seeded but not
bit-reproducible; a pure ``max_steps`` run is). The weights with the best validation AUROC are returned.

One-hot encoding is a byte lookup table (vectorised with numpy): ``A C G T`` (either case; ``U`` as ``T``) → unit
vectors; ``N`` → 0.25 each by default (``n_value=0`` → zeros); the other IUPAC codes → their bases' fractions (R = ½A
+ ½G …; zeros when ``n_value=0``); padding of shorter sequences in a batch → zeros. Other characters → ``ValueError``.
"""
from __future__ import annotations

import copy
import math
import time
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from seq2gen.evaluate.metrics import classification

# Code 0 = padding; 1-4 = A C G T; 5 = N; 6-15 = IUPAC ambiguity codes.
_CODES = "ACGTNRYSWKMBDHV"
_BASES = {"A": "A", "C": "C", "G": "G", "T": "T", "N": "ACGT", "R": "AG", "Y": "CT", "S": "CG", "W": "AT",
          "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG"}
_RC = "TGCANYRSWMKVHDB"  # complement of each letter of _CODES, same order
BYTE_TO_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(_CODES, start=1):
    BYTE_TO_CODE[ord(_c)] = BYTE_TO_CODE[ord(_c.lower())] = _i
BYTE_TO_CODE[ord("U")] = BYTE_TO_CODE[ord("u")] = 4
#: code → complement code (padding stays padding)
RC_CODE = np.array([0] + [_CODES.index(c) + 1 for c in _RC], dtype=np.int64)


def code_table(n_value: float = 0.25) -> np.ndarray:
    """(16, 4) float32: row = code, columns = A C G T weights."""
    t = np.zeros((16, 4), dtype=np.float32)
    for i, c in enumerate(_CODES, start=1):
        bases = _BASES[c]
        if len(bases) == 1:
            t[i, "ACGT".index(bases)] = 1.0
        elif n_value:
            w = n_value if c == "N" else 1.0 / len(bases)
            for b in bases:
                t[i, "ACGT".index(b)] = w
    return t


def encode_codes(seqs: Sequence[str], length: int | None = None) -> np.ndarray:
    """Sequences → (n, L) uint8 codes (0 = padding), vectorised; ``L`` = longest sequence unless ``length``."""
    seqs = [str(s) for s in seqs]
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    L = int(length if length is not None else (lens.max() if len(lens) else 0))
    buf = BYTE_TO_CODE[np.frombuffer("".join(seqs).encode("ascii", errors="replace"), dtype=np.uint8)]
    if (buf == 255).any():
        k = int(np.flatnonzero(buf == 255)[0])
        row = int(np.searchsorted(np.cumsum(lens), k, side="right"))
        pos = k - int(lens[:row].sum())
        raise ValueError(f"sequence {row}: invalid character {seqs[row][pos]!r} at position {pos + 1}")
    if len(lens) and lens.min() == lens.max() == L:
        return buf.reshape(len(seqs), L)
    out = np.zeros((len(seqs), L), dtype=np.uint8)
    keep = np.repeat(np.arange(len(seqs)), lens), np.arange(len(buf)) - np.repeat(np.cumsum(lens) - lens, lens)
    ok = keep[1] < L  # sequences longer than ``length`` are cut at the right
    out[keep[0][ok], keep[1][ok]] = buf[ok]
    return out


def one_hot(seqs: Sequence[str], n_value: float = 0.25, length: int | None = None) -> np.ndarray:
    """Sequences → (n, L, 4) float32 one-hot (see the module docstring for N/IUPAC/padding)."""
    return code_table(n_value)[encode_codes(seqs, length)]


class SeqCNN(nn.Module):
    """Basset/DeepSEA-style 1-D CNN over one-hot DNA; ``forward(codes)`` takes (B, L) uint8/int codes → (B, C)."""

    def __init__(self, n_classes: int, channels: Sequence[int] = (128, 128, 128), kernels: Sequence[int] = (15, 9, 5),
                 pools: Sequence[int] = (2, 2, 1), dropout: float = 0.1, head_dropout: float = 0.3,
                 hidden: int = 64, n_value: float = 0.25):
        super().__init__()
        if not (len(channels) == len(kernels) == len(pools)):
            raise ValueError("channels, kernels and pools must have the same length")
        self.config = dict(n_classes=n_classes, channels=list(channels), kernels=list(kernels), pools=list(pools),
                           dropout=dropout, head_dropout=head_dropout, hidden=hidden, n_value=n_value)
        self.register_buffer("table", torch.from_numpy(code_table(n_value)))
        blocks, c_in = [], 4
        for c, k, p in zip(channels, kernels, pools):
            blocks += [nn.Conv1d(c_in, c, k, padding=k // 2, bias=False), nn.BatchNorm1d(c), nn.ReLU()]
            if p > 1:
                blocks.append(nn.MaxPool1d(p, ceil_mode=True))
            blocks.append(nn.Dropout(dropout))
            c_in = c
        self.body = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(head_dropout), nn.Linear(2 * c_in, hidden), nn.ReLU(),
                                  nn.Linear(hidden, n_classes))

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        x = self.table[codes.long()].transpose(1, 2)  # (B, 4, L)
        h = self.body(x)
        return self.head(torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1))


def _labels(df: pd.DataFrame, n_classes: int, what: str) -> np.ndarray:
    y = pd.to_numeric(df["label"], errors="coerce").to_numpy(dtype=np.float64)
    if not (np.isfinite(y).all() and (y == np.round(y)).all() and y.min() >= 0 and y.max() < n_classes):
        raise ValueError(f"{what} labels must be integers 0..{n_classes - 1}")
    return y.astype(np.int64)


def _rc(codes: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(RC_CODE)[codes.long()].flip(1)


@torch.inference_mode()
def _predict_codes(model: SeqCNN, codes: np.ndarray, batch_size: int, rc_average: bool) -> np.ndarray:
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(codes), batch_size):
        x = torch.from_numpy(codes[i:i + batch_size])
        p = torch.softmax(model(x), dim=1)
        if rc_average:
            p = 0.5 * (p + torch.softmax(model(_rc(x)), dim=1))
        out.append(p.numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, model.config["n_classes"]), dtype=np.float32)


def predict_cnn(model: SeqCNN, seqs: Sequence[str], batch_size: int = 1024, rc_average: bool | None = None
                ) -> np.ndarray:
    """Class probabilities (n, C) for ``seqs``; ``rc_average`` (default: as trained) averages with the reverse
    complement's prediction."""
    if rc_average is None:
        rc_average = bool(getattr(model, "rc_augment", False))
    return _predict_codes(model, encode_codes(list(seqs)), batch_size, rc_average)


def train_cnn(train_df: pd.DataFrame, val_df: pd.DataFrame | None, n_classes: int, budget_s: float | None = None,
              max_steps: int | None = None, batch_size: int = 128, seed: int = 0, lr: float = 2e-3,
              weight_decay: float = 1e-2, warmup_steps: int = 100, eval_every: int | None = None,
              rc_augment: bool = False, model_kwargs: dict | None = None, log=None, select: str = "best"
              ) -> tuple[SeqCNN, dict]:
    """Train a ``SeqCNN`` on ``train_df`` (columns ``sequence``, ``label`` ∈ 0..C-1) until ``budget_s`` seconds of
    wall time (everything inside this call: encoding, training, validation) or ``max_steps`` steps, whichever comes
    first (at least one must be given).

    Validation (on ``val_df``, if any) runs about 12 times over the budget and at the end; ``select="best"`` returns
    the best-AUROC weights, ``"last"`` the final ones (the GUE study's rule for every arm: the T5 keeps its last).
    ``rc_augment`` trains on a random reverse-complement half of each batch (for strand-symmetric tasks such as TF
    binding; not for oriented promoters). ``log(str)`` receives one line per evaluation.

    Returns ``(model, history)``; history: ``steps, examples_seen, wall_s, train_s, eval_s, stop_reason,
    best_step, best_val (metrics dict), n_params, curve`` (one dict per evaluation).
    """
    if budget_s is None and max_steps is None:
        raise ValueError("give budget_s (seconds) and/or max_steps")
    if select not in ("best", "last"):
        raise ValueError(f"select must be 'best' or 'last', got {select!r}")
    t0 = time.perf_counter()
    x_tr = encode_codes(train_df["sequence"].tolist())
    y_tr = _labels(train_df, n_classes, "train")
    val = None
    if val_df is not None and len(val_df) > 0:
        val = encode_codes(val_df["sequence"].tolist()), _labels(val_df, n_classes, "validation")
    if eval_every is None and max_steps is not None and budget_s is None:
        eval_every = max(1, max_steps // 12)
    rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[]):  # seeded init/dropout without touching the caller's global RNG
        torch.manual_seed(seed)
        model = SeqCNN(n_classes, **(model_kwargs or {}))
        model.rc_augment = rc_augment
        run = _Validation(model, val, rc_augment, t0, log)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        step, seen, stop = _fit(model, opt, run, x_tr, y_tr, rng, t0, budget_s, max_steps, batch_size, lr,
                                warmup_steps, eval_every, rc_augment)
    if select == "best" and run.best_state is not None:
        model.load_state_dict(run.best_state)
    model.eval()
    hist, wall = run.hist, time.perf_counter() - t0
    hist.update(steps=step, examples_seen=seen, wall_s=round(wall, 2), train_s=round(wall - hist["eval_s"], 2),
                eval_s=round(hist["eval_s"], 2), stop_reason=stop, batch_size=batch_size,
                n_params=sum(p.numel() for p in model.parameters()), threads=torch.get_num_threads(),
                model=model.config, seed=seed, select=select)
    return model, hist


class _Validation:
    """Periodic validation of a CNN run: the learning curve, and the best-AUROC (else accuracy) weights so far."""

    def __init__(self, model, val, rc_augment: bool, t0: float, log):
        self.model, self.val, self.rc_augment, self.t0, self.log = model, val, rc_augment, t0, log
        self.hist = {"curve": [], "best_step": 0, "best_val": None, "eval_s": 0.0}
        self.best_state, self.best_score = None, -math.inf
        self.last = time.perf_counter()
        self.losses: list[float] = []

    def __call__(self, step: int, seen: int) -> None:
        te = time.perf_counter()
        row = {"step": step, "examples": seen, "elapsed_s": round(te - self.t0, 2),
               "train_loss": float(np.mean(self.losses)) if self.losses else float("nan")}
        if self.val is not None:
            x_va, y_va = self.val
            m = classification(y_va, _predict_codes(self.model, x_va, 1024, self.rc_augment))
            row.update({f"val_{k}": v for k, v in m.items() if k != "n"})
            score = m["auroc"] if np.isfinite(m["auroc"]) else m["accuracy"]
            if score > self.best_score:
                self.best_score, self.best_state = score, copy.deepcopy(self.model.state_dict())
                self.hist["best_step"], self.hist["best_val"] = step, m
        self.losses.clear()
        self.hist["curve"].append(row)
        if self.log is not None:
            self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        self.last = time.perf_counter()
        self.hist["eval_s"] += self.last - te


def _fit(model, opt, run: _Validation, x_tr, y_tr, rng, t0: float, budget_s, max_steps, batch_size: int, lr: float,
         warmup_steps: int, eval_every, rc_augment: bool) -> tuple[int, int, str]:
    """The training loop: warm-up then cosine LR over the budget's progress → (steps, examples seen, stop reason)."""
    loss_fn = nn.CrossEntropyLoss()
    eval_interval_s = budget_s / 12 if budget_s is not None else math.inf
    step = seen = 0
    order, pos = rng.permutation(len(x_tr)), 0
    model.train()
    while True:
        p = max(step / max_steps if max_steps else 0.0, (time.perf_counter() - t0) / budget_s if budget_s else 0.0)
        if p >= 1.0:
            stop = "max_steps" if max_steps and step >= max_steps else "budget_s"
            break
        if pos + batch_size > len(order):
            order, pos = rng.permutation(len(x_tr)), 0
        idx = order[pos:pos + batch_size]
        pos += len(idx)
        xb, yb = torch.from_numpy(x_tr[idx]), torch.from_numpy(y_tr[idx])
        if rc_augment:
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            xb = torch.where(flip[:, None], _rc(xb), xb.long())
        scale = min(1.0, (step + 1) / warmup_steps) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * p)))
        for g in opt.param_groups:
            g["lr"] = lr * scale
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.losses.append(loss.item())
        step += 1
        seen += len(idx)
        if (eval_every and step % eval_every == 0) or time.perf_counter() - run.last >= eval_interval_s:
            run(step, seen)
    if not run.hist["curve"] or run.hist["curve"][-1]["step"] != step:
        run(step, seen)
    return step, seen, stop
