"""Where the shipped data folders live: ``vocab/``, ``configs/``, ``task_templates/``.

The folders sit at the top of the repository, where they are edited; a wheel carries a copy of them as
``seq2gen/_data/<name>/`` (``setup.py`` copies them at build time). Every module finds them here, so an editable
checkout reads the repository's folders and an installed wheel reads its own copy — never ``Path(__file__)``
arithmetic that breaks once the package leaves the checkout.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

NAMES = ("vocab", "configs", "task_templates")


@lru_cache(maxsize=None)
def checkout_root() -> Path | None:
    """The source checkout this package is imported from (the folder holding ``pyproject.toml`` and
    ``vocab/``), or ``None`` for an installed wheel."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "vocab").is_dir() else None


@lru_cache(maxsize=None)
def data_root() -> Path:
    """The folder holding ``vocab/``, ``configs/`` and ``task_templates/``: the checkout, else the wheel's
    ``seq2gen/_data``. Relative paths inside the shipped configs (``train: configs/train/x.yaml``) start here."""
    shipped = resources.files("seq2gen") / "_data"
    if shipped.is_dir() and isinstance(shipped, Path):
        return shipped
    root = checkout_root()
    if root is None:   # pragma: no cover - a broken install
        raise FileNotFoundError("seq2gen's data folders (vocab/, configs/, task_templates/) are missing: "
                                "reinstall the package (pip install seq2gen) or run from a source checkout")
    return root


def data_dir(name: str) -> Path:
    """``data_dir("vocab")`` → the vocabulary folder; ``"configs"``, ``"task_templates"`` likewise."""
    if name not in NAMES:
        raise KeyError(f"unknown data folder {name!r}; known: {', '.join(NAMES)}")
    return data_root() / name


def config_dir(*parts: str) -> Path:
    """``config_dir("model")`` → ``configs/model``."""
    return data_dir("configs").joinpath(*parts)


def real_data_default() -> Path:
    """Default folder of the real data sets when ``$SEQ2GEN_REAL_DATA`` is unset: ``../shared/data/real`` next to
    the checkout, or next to the working directory for an installed package."""
    return (checkout_root() or Path.cwd()).parent / "shared" / "data" / "real"


def study_presets(gue: bool = False) -> list[str]:
    """Names of the shipped study presets (``configs/transfer/*.yaml``): the GUE study's (``gue_*``) or the
    transfer protocol's (the others) — for help texts and "did you mean" hints, so a new preset file is listed."""
    return sorted(p.stem for p in config_dir("transfer").glob("*.yaml") if p.stem.startswith("gue_") == gue)
