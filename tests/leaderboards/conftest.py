"""Fixtures of the leaderboard tests: a boards folder in a tmp dir (tests/leaderboard_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_fixtures import write_boards_folder


@pytest.fixture
def boards_root(tmp_path: Path) -> Path:
    return write_boards_folder(tmp_path / "boards")



@pytest.fixture
def boards(boards_root: Path):
    """The fixture boards as the store reads them (``leaderboards.store.load_boards``: validated, best first)."""
    from leaderboards.store import load_boards

    return load_boards(boards_root)
