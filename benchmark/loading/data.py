"""Read access to a preprocessed dataset folder (see :mod:`benchmark.preprocessing.store`).

Arrays are memory-mapped lazily and cached per process (least recently used, at most ``max_open`` cases: each
memory map holds a file descriptor); the memory maps are dropped when the object is pickled (DataLoader workers
reopen their own), so sending it to a worker never copies voxel data.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np

from benchmark.data.format import Splits
from benchmark.preprocessing.plan import Plan
from benchmark.preprocessing.store import (
    PreprocessedCaseMeta,
    open_case_arrays,
    preprocessed_case_ids,
    read_case_meta,
)


class PreprocessedData:
    """A preprocessed dataset: its plan, splits, per-case metadata and memory-mapped arrays."""

    def __init__(self, root: str | Path, max_open: int = 128) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open}")
        self.root = Path(root)
        self.max_open = max_open
        self.plan = Plan.load(self.root)
        splits_path = self.root / "splits.json"
        self.splits = Splits.from_json(json.loads(splits_path.read_text())) if splits_path.is_file() else None
        self._meta: dict[str, PreprocessedCaseMeta] = {}
        self._arrays: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_arrays"] = OrderedDict()
        return state

    def case_ids(self, split: str | None = None) -> list[str]:
        """Preprocessed cases of ``split`` (all preprocessed cases when ``None``)."""
        present = preprocessed_case_ids(self.root)
        if split is None:
            return present
        if self.splits is None:
            raise ValueError(f"{self.root} has no splits.json; pass case ids explicitly")
        have = set(present)
        return [c for c in self.splits.get(split) if c in have]

    def fold_case_ids(self, fold: int, part: str = "train") -> list[str]:
        """Cases of ``part`` (train/val/test) of cross-validation fold ``fold``."""
        if self.splits is None:
            raise ValueError(f"{self.root} has no splits.json; pass case ids explicitly")
        f = self.splits.fold(fold)
        if part not in f:
            raise ValueError(f"fold {fold} has no {part!r} part. Valid parts: {', '.join(f)}")
        return list(f[part])

    def meta(self, case_id: str) -> PreprocessedCaseMeta:
        if case_id not in self._meta:
            self._meta[case_id] = read_case_meta(self.root, case_id)
        return self._meta[case_id]

    def arrays(self, case_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Memory-mapped image ``(C, z, y, x)`` and instance map ``(z, y, x)``."""
        if case_id in self._arrays:
            self._arrays.move_to_end(case_id)
        else:
            self._arrays[case_id] = open_case_arrays(self.root, case_id)
            while len(self._arrays) > self.max_open:
                self._arrays.popitem(last=False)
        return self._arrays[case_id]

    def __repr__(self) -> str:
        return f"PreprocessedData({str(self.root)!r}, config={self.plan.config!r})"
