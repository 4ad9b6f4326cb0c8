"""Fixtures of the leaderboard tests: a tiny S06 twin, a results store of three models on it, initialised boards."""

from __future__ import annotations

import shutil

import pytest
from lb_submissions import STORE_MODELS, match_table_of, noisy_predictions


@pytest.fixture(scope="session")
def twin(tmp_path_factory):
    """The tiny S06 twin (`benchmark synth --suite S06 --scale tiny`), generated once."""
    from benchmark.synthetic.generate import generate_twin

    return generate_twin("S06", tmp_path_factory.mktemp("twin") / "synthetic" / "tiny", scale="tiny", seed=1,
                         progress=False)


@pytest.fixture(scope="session")
def store(twin, tmp_path_factory):
    """A results store with three models' runs on the twin's test split."""
    from analysis.store import write_run
    from benchmark.core.run_key import RunKey
    from benchmark.data.format import PreparedDataset

    root = tmp_path_factory.mktemp("store") / "store"
    ids = PreparedDataset(twin).case_ids("test")
    for k, (arch, pre) in enumerate(STORE_MODELS):
        table = match_table_of(twin, noisy_predictions(twin, ids, seed=10 + k))
        write_run(root, RunKey("S06", arch, pre, "tiny"), table)
    return root


@pytest.fixture(scope="session")
def seeded_boards(store, tmp_path_factory):
    """Boards after `leaderboard init` and `leaderboard add-store` (50 replicates), built once; copy before use."""
    from leaderboards.from_store import add_store
    from leaderboards.seed import init_boards, write_reported_entries

    root = tmp_path_factory.mktemp("boards") / "boards"
    init_boards(root)
    write_reported_entries(root)
    add_store(store, root, n_replicates=50, seed=0)
    return root


@pytest.fixture
def boards(seeded_boards, tmp_path):
    """A fresh copy of the seeded S06 boards and one board of reported entries (d06-map), for one test."""
    root = tmp_path / "boards"
    for folder in [*seeded_boards.glob("s06-*"), seeded_boards / "d06-map"]:
        shutil.copytree(folder, root / folder.name)
    return root


@pytest.fixture
def good_predictions(twin):
    from benchmark.data.format import PreparedDataset

    return noisy_predictions(twin, PreparedDataset(twin).case_ids("test"), seed=99)


@pytest.fixture
def render_boards_root(tmp_path):
    """A boards folder of hand-written entries for the renderer (tests/leaderboard_fixtures.py): a hostile method
    name, evaluated and reported entries, a board without a rank plot."""
    from leaderboard_fixtures import write_boards_folder

    return write_boards_folder(tmp_path / "render-boards")


@pytest.fixture
def render_boards(render_boards_root):
    """Those boards as the store reads them (``leaderboards.store.load_boards``: validated, best first)."""
    from leaderboards.store import load_boards

    return load_boards(render_boards_root)

