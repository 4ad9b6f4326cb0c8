"""Run the model tests single-threaded: on a shared 2-core machine, intra-op threads oversubscribe the CPU
and make small-tensor workloads several times slower (measured: 4 s vs 31 s for the overfitting test)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
