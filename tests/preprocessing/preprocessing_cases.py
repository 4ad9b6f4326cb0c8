"""Tiny CT/MRI prepared datasets with anisotropic spacing and tiny objects, for the preprocessing tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from builders import ROTATED

from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, Splits, write_case, write_dataset_files

# (z, y, x) spacing: 5 mm slices, 0.6 mm in-plane -> strongly anisotropic
ANISO_SPACING = (5.0, 0.6, 0.6)
SHAPE = (6, 24, 24)


def ct_case(case_id: str, rng: np.random.Generator, spacing=ANISO_SPACING, shape=SHAPE, hu_offset=0.0) -> Case:
    """A CT-like case: air outside a body disc, three objects: a large one, a one-voxel speck, a thin one."""
    geometry = Geometry(shape, tuple(spacing[::-1]), (12.0, -30.0, 7.0), ROTATED)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    body = (y - shape[1] / 2) ** 2 + (x - shape[2] / 2) ** 2 < (0.45 * shape[1]) ** 2
    image = np.where(body, 40.0, -1000.0) + rng.normal(0, 10, size=shape)
    inst = np.zeros(shape, np.int16)
    inst[1:4, 4:12, 5:12] = 1  # large, class 0
    inst[4, 18, 17] = 2  # single voxel: 5 x 0.6 x 0.6 mm, class 1
    inst[2:4, 16, 4:9] = 3  # one voxel thin in y, class 1
    image = image + hu_offset
    image[inst == 1] = 120.0 + hu_offset + rng.normal(0, 5, size=int((inst == 1).sum()))
    image[inst == 2] = 300.0 + hu_offset
    image[inst == 3] = 200.0 + hu_offset
    return Case(case_id, image[None].astype(np.float32), geometry, inst, {1: 0, 2: 1, 3: 1})


def write_ct_dataset(
    root: Path, seed: int = 0, test_offset: float = 0.0, train_spacings=None, modality: str = "CT"
) -> Path:
    """4 train, 1 val, 2 test cases; ``test_offset`` shifts only the test cases' intensities."""
    rng = np.random.default_rng(seed)
    splits = Splits(train=["tr_0", "tr_1", "tr_2", "tr_3"], val=["va_0"], test=["te_0", "te_1"])
    spacings = train_spacings or [ANISO_SPACING] * 4
    for i, cid in enumerate(splits.train):
        write_case(root, ct_case(cid, rng, spacing=spacings[i]), "train")
    write_case(root, ct_case("va_0", rng), "val")
    for cid in splits.test:
        write_case(root, ct_case(cid, rng, spacing=(0.5, 3.0, 3.0), hu_offset=test_offset), "test")
    meta = DatasetMeta("tinyct", "T02", [modality], ["big", "small"])
    write_dataset_files(root, meta, splits)
    return root
