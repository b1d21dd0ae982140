"""Mixture sampling with a serialisable state.

Each example of a global batch picks its task from the normalised ``rates`` with a seeded numpy Generator, then
takes the next index of that task's current shuffled order (a per-task cursor). When a task's order is exhausted its
epoch increases and it is reshuffled with ``(seed, task position, epoch)``. The state (Generator state, cursors,
epochs) is plain JSON-able data, so a resumed run draws exactly the batches the uninterrupted run would have drawn.
"""
from __future__ import annotations

import numpy as np

from seq2gen.errors import InputError


class MixtureSampler:
    def __init__(self, sizes: dict[str, int], rates: dict[str, float], seed: int):
        tasks = [t for t in rates if rates[t] > 0]
        for t in tasks:
            if t not in sizes:
                raise InputError(f"rate given for task {t!r} that has no training data", hint=f"tasks: {sorted(sizes)}")
            if sizes[t] <= 0:
                raise InputError(f"task {t!r} has an empty training split")
        if not tasks:
            raise InputError("no task has a positive rate")
        self.tasks = tasks
        self.sizes = [int(sizes[t]) for t in tasks]
        total = float(sum(rates[t] for t in tasks))
        self.probs = np.array([rates[t] / total for t in tasks], dtype=np.float64)
        self.seed = int(seed)
        self.rng = np.random.default_rng([self.seed, 0x5EED])
        self.cursors = [0] * len(tasks)
        self.epochs = [0] * len(tasks)
        self._orders = [self._order(i) for i in range(len(tasks))]

    def _order(self, i: int) -> np.ndarray:
        return np.random.default_rng([self.seed, i, self.epochs[i]]).permutation(self.sizes[i])

    def draw(self, n: int) -> list[tuple[str, int]]:
        """The next ``n`` examples as ``(task, row index)``; identical on every rank."""
        which = self.rng.choice(len(self.tasks), size=n, p=self.probs)
        out = []
        for i in which.tolist():
            if self.cursors[i] >= self.sizes[i]:
                self.epochs[i] += 1
                self.cursors[i] = 0
                self._orders[i] = self._order(i)
            out.append((self.tasks[i], int(self._orders[i][self.cursors[i]])))
            self.cursors[i] += 1
        return out

    def state_dict(self) -> dict:
        return {"tasks": list(self.tasks), "sizes": list(self.sizes), "seed": self.seed,
                "rng": self.rng.bit_generator.state, "cursors": list(self.cursors), "epochs": list(self.epochs)}

    def load_state_dict(self, state: dict) -> None:
        if state["tasks"] != self.tasks or state["sizes"] != self.sizes or state["seed"] != self.seed:
            raise InputError("checkpointed sampler does not match this run's tasks/sizes/seed "
                             f"({state['tasks']} {state['sizes']} seed {state['seed']} vs {self.tasks} "
                             f"{self.sizes} seed {self.seed})", hint="resume with the same data and config")
        self.rng.bit_generator.state = state["rng"]
        self.cursors = list(state["cursors"])
        self.epochs = list(state["epochs"])
        self._orders = [self._order(i) for i in range(len(self.tasks))]


def mixture_rates(rates, train_sizes: dict[str, int], exclude: str | None = None, mixture=None) -> dict[str, float]:
    """Sampling rates for the mixture stage, always through ``seq2gen.tasks.Mixture.rates`` (one definition).

    ``mixture``: a ``Mixture`` (from ``task_templates/mixtures/*.yaml``: proportional / temperature with a cap /
    uniform / fixed); otherwise ``rates`` = "proportional" | "uniform" | {task: rate} over the tasks that have a
    train split (``exclude``, the pre-training task, is left out of the string forms).
    """
    from seq2gen.tasks.mixture import Mixture
    if mixture is None:
        if isinstance(rates, dict):
            unknown = [t for t in rates if t not in train_sizes]
            if unknown:
                raise InputError(f"rates name tasks without data: {unknown}", hint=f"tasks: {sorted(train_sizes)}")
            if not any(r > 0 for r in rates.values()):
                raise InputError("no task has a positive rate")
            mixture = Mixture(name="rates", tasks=list(rates), rate_type="fixed",
                              fixed={t: float(r) for t, r in rates.items()})
        else:
            tasks = [t for t in train_sizes if t != exclude]
            if not tasks:
                raise InputError("no training tasks in the datasets")
            mixture = Mixture(name=str(rates), tasks=tasks, rate_type=rates)
    missing = [t for t in mixture.tasks if t not in train_sizes]
    if missing:
        raise InputError(f"mixture {mixture.name!r} names tasks without training data: {missing}", path=mixture.path,
                         hint=f"tasks with data: {sorted(train_sizes)}")
    return mixture.rates(train_sizes)


def load_mixture(spec):
    """A ``Mixture`` from a name in ``task_templates/mixtures/`` or a YAML path (``mixture:`` in the train YAML)."""
    from pathlib import Path

    from seq2gen.tasks.mixture import Mixture
    from seq2gen.tasks.registry import DEFAULT_TEMPLATES_DIR
    path = Path(spec)
    if not path.suffix and not path.exists():
        folder = DEFAULT_TEMPLATES_DIR / "mixtures"
        path = folder / f"{spec}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.yaml"))
            raise InputError(f"unknown mixture {str(spec)!r}", hint=f"known: {known} or a YAML path")
    if not path.is_file():
        raise InputError("mixture file not found", path=path)
    return Mixture.from_yaml(path)


class SubsetSampler(MixtureSampler):
    """A ``MixtureSampler`` over chosen rows of each task (``rows``: task → row indices), e.g. one tissue's rows
    for the curriculum stage; draws return indices into the full train splits."""

    def __init__(self, rows: dict, rates: dict[str, float], seed: int):
        self.rows = {t: np.asarray(r, dtype=np.int64) for t, r in rows.items() if len(r)}
        super().__init__({t: len(r) for t, r in self.rows.items()},
                         {t: rates.get(t, 0.0) for t in self.rows}, seed)

    def draw(self, n: int) -> list[tuple[str, int]]:
        return [(t, int(self.rows[t][i])) for t, i in super().draw(n)]


def curriculum_rows(train_splits: dict, tissues: list[str]) -> dict:
    """Rows for the curriculum: a tissue-conditioned task keeps the rows of ``tissues``, a task without tissues
    (promoter, annotation, span corruption) keeps every row."""
    out, matched = {}, 0
    for task, split in train_splits.items():
        col = split["tissue"] if "tissue" in getattr(split, "column_names", []) else None
        if col is None or not any(col):
            out[task] = np.arange(len(split))
        else:
            out[task] = np.flatnonzero(np.isin(np.asarray(col, dtype=object), list(tissues)))
            matched += len(out[task])
    if not matched:
        raise InputError(f"curriculum_tissues {list(tissues)} match no row of a tissue-conditioned training split",
                         hint="name tissues of the data (the 'tissue' column)")
    return out
