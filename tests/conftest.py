"""Shared fixtures: one small synthetic world and a char tokenizer per test session."""
from __future__ import annotations

import pytest

WORLD_SIZE = 300_000


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory):
    """A small world (6 chromosomes, ~33 genes, 300 kb), generated once per session. Treat as read-only."""
    from seq2gen.world import generate_world
    path = tmp_path_factory.mktemp("world")
    generate_world(path, size=WORLD_SIZE, seed=0)
    return path


@pytest.fixture(scope="session")
def tokenizer():
    """The char-mode tokenizer of the repository's vocabulary."""
    from seq2gen.vocab import build_tokenizer
    return build_tokenizer(mode="char")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``): on a small
    shared CPU two spinning OpenMP threads run tiny passes many times slower."""
    import torch
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
