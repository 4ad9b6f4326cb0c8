"""Makes ``pretrain_cases`` (next to this file) importable; runs the tests single-threaded like the model tests
(on the shared 2-core machine intra-op threads only oversubscribe)."""

import sys
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
