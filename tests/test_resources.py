"""seq2gen.resources: the shipped data folders are found whether the package runs from the checkout or a wheel."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import seq2gen
from seq2gen import resources

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, member", [("vocab", "grammar.yaml"), ("configs", "model/mini_conv.yaml"),
                                          ("task_templates", "promoter.yaml")])
def test_data_dirs_hold_the_checkouts_files(name, member):
    """Every shipped folder is found and equals the checkout's (a wheel built from a stale tree fails here)."""
    shipped = resources.data_dir(name)
    assert (shipped / member).is_file()
    source = CHECKOUT / name
    if not source.is_dir():
        pytest.skip("no checkout beside the tests")
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()
                  and "__pycache__" not in p.parts) == files
    assert all((shipped / f).read_bytes() == (source / f).read_bytes() for f in files)


def test_unknown_folder_and_config_dir():
    with pytest.raises(KeyError, match="known: vocab, configs, task_templates"):
        resources.data_dir("vocabs")
    assert resources.config_dir("model") == resources.data_dir("configs") / "model"


def test_defaults_read_the_shipped_folders():
    from seq2gen.model.build import preset_dirs
    from seq2gen.tasks import DEFAULT_TEMPLATES_DIR
    from seq2gen.vocab import DEFAULT_VOCAB_DIR
    root = resources.data_root()
    assert DEFAULT_VOCAB_DIR == root / "vocab" and DEFAULT_TEMPLATES_DIR == root / "task_templates"
    assert preset_dirs()[0] == root / "configs" / "model"


@pytest.mark.skipif(os.environ.get("SEQ2GEN_EXPECT_INSTALLED") != "1",
                    reason="set by .ci/run, which tests the installed wheel")
def test_suite_runs_against_the_installed_package():
    """CI installs non-editable: the package and its data must come from site-packages, not the source tree."""
    pkg = Path(seq2gen.__file__).resolve().parent
    assert "site-packages" in pkg.parts, f"seq2gen imported from {pkg}, not an installed wheel ({sys.path[:3]})"
    assert resources.checkout_root() is None
    assert resources.data_root() == pkg / "_data"
