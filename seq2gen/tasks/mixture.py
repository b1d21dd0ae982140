"""``Mixture``: tasks + sampling rates (seqio style), read from ``task_templates/mixtures/*.yaml`` or a config dict.

Rates: ``proportional`` (to train-split size, each size capped at ``cap``), ``temperature`` (seqio's
``r_i ∝ min(size_i, cap)^(1/T)``; T=1 is proportional, T→∞ uniform), ``uniform``, or a fixed ``{task: rate}``.
``rates(sizes)`` always returns rates normalised to sum 1. Each task entry may carry overrides for the transfer
study — ``tissues``, ``exclude_tissues``, ``holdout_tissues`` (rendered for validation/test, absent from train),
``max_examples`` — applied with ``mixture.apply(registry)``.

    name: transfer_no_brain_chromatin
    rates: {type: temperature, temperature: 2.0, cap: 20000}
    tasks:
      promoter: {}
      chromatin: {holdout_tissues: [brain]}
      expression: {rate: 2.0}      # only used with fixed rates
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from seq2gen.errors import InputError

RATE_TYPES = ("proportional", "temperature", "uniform", "fixed")
OVERRIDES = ("tissues", "exclude_tissues", "holdout_tissues", "max_examples", "max_eval_examples")


@dataclass
class Mixture:
    name: str
    tasks: list[str]
    rate_type: str = "proportional"
    temperature: float = 1.0
    cap: int | None = None
    fixed: dict[str, float] = field(default_factory=dict)
    overrides: dict[str, dict] = field(default_factory=dict)
    path: str | None = None

    def __post_init__(self):
        where = self.path
        if self.rate_type not in RATE_TYPES:
            near = difflib.get_close_matches(str(self.rate_type), RATE_TYPES, n=1)
            raise InputError(f"rates: unknown rate type {self.rate_type!r}", path=where,
                             hint=f"did you mean {near[0]}?" if near else f"one of {', '.join(RATE_TYPES)}")
        if not self.tasks:
            raise InputError("tasks: a mixture needs at least one task", path=where)
        if len(set(self.tasks)) != len(self.tasks):
            raise InputError("tasks: a task is listed twice", path=where)
        if self.temperature <= 0:
            raise InputError(f"rates.temperature must be > 0, got {self.temperature}", path=where)
        if self.cap is not None and self.cap < 1:
            raise InputError(f"rates.cap must be >= 1, got {self.cap}", path=where)
        if self.rate_type == "fixed":
            missing = [t for t in self.tasks if t not in self.fixed]
            if missing or any(r < 0 for r in self.fixed.values()) or not sum(self.fixed.values()) > 0:
                raise InputError(f"fixed rates need a rate >= 0 for every task (missing: {missing}) and a positive "
                                 "total", path=where)
        for t, o in self.overrides.items():
            bad = [k for k in o if k not in OVERRIDES]
            if bad:
                raise InputError(f"tasks.{t}.{bad[0]}: not an override", path=where,
                                 hint=f"overrides: rate, {', '.join(OVERRIDES)}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict, where: str | None = None, registry=None) -> "Mixture":
        if not isinstance(d, dict):
            raise InputError("a mixture must be a mapping {name, tasks, rates}", path=where)
        extra = set(d) - {"name", "tasks", "rates", "description"}
        if extra:
            raise InputError(f"{sorted(extra)[0]}: unknown key", path=where, hint="keys: name, tasks, rates")
        tasks_in = d.get("tasks")
        if isinstance(tasks_in, list):
            tasks_in = {t: {} for t in tasks_in}
        if not isinstance(tasks_in, dict):
            raise InputError("tasks: a list of names or a mapping name → {rate, overrides}", path=where)
        rates = d.get("rates") or {}
        if isinstance(rates, str):
            rates = {"type": rates}
        if not isinstance(rates, dict):
            raise InputError("rates: a type name or {type, temperature, cap}", path=where)
        fixed, overrides = {}, {}
        for t, o in tasks_in.items():
            o = dict(o or {})
            if "rate" in o:
                fixed[t] = float(o.pop("rate"))
            if o:
                overrides[t] = o
        rate_type = rates.get("type", "fixed" if fixed else "proportional")
        mix = cls(name=str(d.get("name", Path(where).stem if where else "mixture")), tasks=list(tasks_in),
                  rate_type=rate_type, temperature=float(rates.get("temperature", 1.0)), cap=rates.get("cap"),
                  fixed=fixed, overrides=overrides, path=where)
        if registry is not None:
            for t in mix.tasks:
                try:
                    registry.get(t)
                except InputError as exc:
                    raise InputError(f"tasks.{t}: {exc}", path=where) from None
        return mix

    @classmethod
    def from_yaml(cls, path, registry=None) -> "Mixture":
        try:
            d = yaml.safe_load(Path(path).read_text())
        except yaml.YAMLError as exc:
            raise InputError(f"invalid YAML: {exc}", path=path) from None
        return cls.from_dict(d, where=str(path), registry=registry)

    # ------------------------------------------------------------------ use
    def rates(self, sizes: dict[str, int]) -> dict[str, float]:
        """Normalised sampling rate per task from its train-split size (``sizes`` must cover the tasks)."""
        missing = [t for t in self.tasks if t not in sizes]
        if missing:
            raise InputError(f"mixture {self.name!r}: no size for tasks {missing}", path=self.path)
        if self.rate_type == "fixed":
            raw = {t: float(self.fixed[t]) for t in self.tasks}
        elif self.rate_type == "uniform":
            raw = {t: 1.0 for t in self.tasks}
        else:
            capped = {t: float(min(sizes[t], self.cap) if self.cap else sizes[t]) for t in self.tasks}
            power = 1.0 if self.rate_type == "proportional" else 1.0 / self.temperature
            total = sum(capped.values())
            if total <= 0:
                raise InputError(f"mixture {self.name!r}: every task is empty", path=self.path)
            raw = {t: (c / total) ** power if c > 0 else 0.0 for t, c in capped.items()}
        norm = sum(raw.values())
        return {t: r / norm for t, r in raw.items()}

    def apply(self, registry):
        """A registry restricted to this mixture's tasks with their overrides applied (original untouched)."""
        reg = registry.subset(self.tasks)
        for t, o in self.overrides.items():
            reg.override(t, **o)
        return reg

    def to_dict(self) -> dict:
        rates = {"type": self.rate_type, "temperature": self.temperature, "cap": self.cap}
        return {"name": self.name, "rates": rates,
                "tasks": {t: {**self.overrides.get(t, {}), **({"rate": self.fixed[t]} if t in self.fixed else {})}
                          for t in self.tasks}}
