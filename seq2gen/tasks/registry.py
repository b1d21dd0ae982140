"""``TaskRegistry``: a registry *object* (no global state) of tasks read from ``task_templates/*.yaml``.

As in seqio: duplicate names are rejected unless ``overwrite=True``; an unknown name raises with "did you mean".
Every template is validated against the vocabulary when it is added (tokens, task token, placeholders, n_bins).
"""
from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from seq2gen.errors import InputError
from seq2gen.resources import data_dir
from seq2gen.tasks.task import Task

DEFAULT_TEMPLATES_DIR = data_dir("task_templates")


class TaskRegistry:
    def __init__(self, vocab=None):
        if vocab is None:
            from seq2gen.vocab import Vocabulary
            vocab = Vocabulary.from_dir()
        self.vocab = vocab
        self._tasks: dict[str, Task] = {}
        self.mixtures_dir: Path | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dir(cls, path: str | os.PathLike | list = DEFAULT_TEMPLATES_DIR, vocab=None,
                 overwrite: bool = False) -> "TaskRegistry":
        """Every ``*.yaml`` directly in ``path`` (sub-folders such as ``mixtures/`` or ``gue/`` are not read: the
        default registry holds the world tasks; ``from_dir("task_templates/gue")`` the GUE ones). A list of folders
        gives one registry of all their tasks (names must not clash); mixtures come from the first folder's."""
        if isinstance(path, (list, tuple)):
            if not path:
                raise InputError("no task template folders given")
            reg = cls.from_dir(path[0], vocab, overwrite)
            for p in path[1:]:
                for task in cls.from_dir(p, reg.vocab, overwrite):
                    reg.add(task, overwrite=overwrite)
            return reg
        path = Path(path)
        if not path.is_dir():
            raise InputError("task template folder not found", path=path,
                             hint="pass the folder holding the task YAML files (task_templates/)")
        reg = cls(vocab)
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise InputError("no task templates (*.yaml) in this folder", path=path)
        for f in files:
            reg.add(Task.from_yaml(f), overwrite=overwrite)
        if (path / "mixtures").is_dir():
            reg.mixtures_dir = path / "mixtures"
        return reg

    @classmethod
    def from_json(cls, path_or_dict, vocab=None) -> "TaskRegistry":
        """Rebuild from a ``tasks.json`` snapshot (written by ``to_json`` / the data build)."""
        data = path_or_dict
        if not isinstance(data, dict):
            data = json.loads(Path(path_or_dict).read_text())
        reg = cls(vocab)
        for name, d in data["tasks"].items():
            reg.add(Task.from_dict(d, where=f"tasks.json[{name}]"))
        return reg

    def add(self, task: Task, overwrite: bool = False) -> Task:
        if task.name in self._tasks and not overwrite:
            first = self._tasks[task.name].path
            raise InputError(f"duplicate task name {task.name!r} (already registered from {first})",
                             path=task.path, hint="rename one, or pass overwrite=True to replace it")
        task.validate(self.vocab)
        self._tasks[task.name] = task
        return task

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> Task:
        if name not in self._tasks:
            near = difflib.get_close_matches(str(name), list(self._tasks), n=3, cutoff=0.5)
            raise InputError(f"unknown task {name!r}", hint=f"did you mean {', '.join(near)}?" if near
                             else f"registered: {', '.join(self._tasks)}")
        return self._tasks[name]

    __getitem__ = get

    def __contains__(self, name: str) -> bool:
        return name in self._tasks

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def names(self) -> list[str]:
        return list(self._tasks)

    def subset(self, names) -> "TaskRegistry":
        reg = TaskRegistry(self.vocab)
        reg._tasks = {self.get(n).name: self.get(n) for n in names}
        reg.mixtures_dir = self.mixtures_dir
        return reg

    def override(self, name: str, **changes) -> None:
        """Replace task ``name`` by ``task.override(**changes)`` (tissue include/exclude/holdout, limits, …)."""
        self._tasks[name] = self.get(name).override(**changes)

    def mixture(self, name_or_path):
        """A mixture from ``mixtures/NAME.yaml`` beside the templates, or from a YAML path."""
        from seq2gen.tasks.mixture import Mixture
        p = Path(name_or_path)
        if not p.suffix and self.mixtures_dir is not None:
            p = self.mixtures_dir / f"{name_or_path}.yaml"
        if not p.is_file():
            known = sorted(q.stem for q in self.mixtures_dir.glob("*.yaml")) if self.mixtures_dir else []
            near = difflib.get_close_matches(str(name_or_path), known, n=2)
            raise InputError(f"unknown mixture {name_or_path!r}", hint=f"did you mean {', '.join(near)}?" if near
                             else f"mixtures: {', '.join(known) or 'none'}")
        return Mixture.from_yaml(p, registry=self)

    # ------------------------------------------------------------------ snapshot
    def to_dict(self) -> dict:
        return {"format_version": 1, "vocab": {"off_resolution": self.vocab.off_resolution,
                                               "n_values": self.vocab.n_values},
                "tasks": {n: t.to_dict() for n, t in self._tasks.items()}}

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            from seq2gen.utils.io import atomic_write
            with atomic_write(path) as f:
                f.write(text + "\n")
        return text
