"""Builders of tiny prepared datasets built in memory, no downloads, no ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, Splits, write_case, write_dataset_files

ROTATED = (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0)


def make_case(
    case_id: str, rng: np.random.Generator, channels: int = 1, shape=(8, 10, 12), boxes: bool = False
) -> Case:
    """A tiny case with two non-overlapping objects of classes 0 and 1."""
    geometry = Geometry(shape, (0.7, 0.8, 2.5), (10.0, -20.0, 5.0), ROTATED)
    image = rng.normal(size=(channels, *shape)).astype(np.float32)
    inst = np.zeros(shape, np.int16)
    inst[1:3, 1:4, 1:5] = 1
    inst[5:7, 5:8, 6:10] = 2
    if not boxes:
        inst[1, 1, 1] = 0  # not box-shaped
    return Case(case_id, image, geometry, inst, {1: 0, 2: 1})


def write_tiny_dataset(root: Path, channels: int = 1, annotation: str = "masks", seed: int = 0) -> Path:
    """Write a valid 6-case dataset (3 train, 1 val, 2 test) to ``root``."""
    rng = np.random.default_rng(seed)
    splits = Splits(train=["c_000", "c_001", "c_002"], val=["c_003"], test=["c_004", "c_005"])
    for name in ("train", "val", "test"):
        for cid in splits.get(name):
            write_case(root, make_case(cid, rng, channels, boxes=annotation == "boxes"), name)
    meta = DatasetMeta("tiny", "T01", ["CT"] * channels, ["benign", "malignant"], annotation=annotation)
    write_dataset_files(root, meta, splits)
    return root
