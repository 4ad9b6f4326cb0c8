"""Shared fixture: all eight twins and the corpus at tiny scale, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.synthetic.generate import generate_suite
from benchmark.synthetic.twins import TWINS


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic_tiny")
    generate_suite("all", out, scale="tiny", seed=0, workers=1, corpus=True, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_twin_roots(tiny_root: Path) -> dict[str, Path]:
    return {twin_id: tiny_root / TWINS.get(twin_id).dir_name for twin_id in TWINS.names()}
