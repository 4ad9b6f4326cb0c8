"""Fixtures of the leaderboard tests: a boards folder in a tmp dir (tests/leaderboard_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import PlainBoard, write_boards_folder


@pytest.fixture
def boards_root(tmp_path: Path) -> Path:
    return write_boards_folder(tmp_path / "boards")


@pytest.fixture
def load_boards():
    """``leaderboards.store.load_boards`` (lb-core's store API)."""
    store = pytest.importorskip("leaderboards.store", reason="leaderboards.store (branch lb-core) is not merged yet")
    return store.load_boards


@pytest.fixture
def plain_boards(boards_root: Path) -> list[PlainBoard]:
    return [PlainBoard(p) for p in sorted(boards_root.iterdir())]
