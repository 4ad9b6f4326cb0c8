"""Fixtures of the preprocessing tests; makes ``preprocessing_cases`` (next to this file) importable."""

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from preprocessing_cases import write_ct_dataset  # noqa: E402


@pytest.fixture
def ct_dataset(tmp_path: Path) -> Path:
    return write_ct_dataset(tmp_path / "ct")
