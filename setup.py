"""Build hook only (metadata lives in pyproject.toml): copy the top-level data folders into the wheel.

``vocab/``, ``configs/`` and ``task_templates/`` stay at the top of the repository, where they are edited; a wheel
gets them as ``seq2gen/_data/<name>/``, which ``seq2gen.resources`` reads. Editable installs read the checkout's
folders directly, so nothing is copied there.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("vocab", "configs", "task_templates")   # = seq2gen.resources.NAMES


class build_py_with_data(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for name in DATA:
            dest = Path(self.build_lib, "seq2gen", "_data", name)
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(here / name, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": build_py_with_data})
