"""Synthetic preprocessed data written straight in the preprocessed layout, for loader tests and benchmarks.

Cases are smooth noise with ellipsoidal objects of a few classes; no source dataset, so the plan's
fingerprint is ``"synthetic"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry, boxes_from_instances
from benchmark.data.format import Splits, _write_json
from benchmark.preprocessing.plan import ChannelNormalization, Plan
from benchmark.preprocessing.store import PreprocessedCaseMeta, write_preprocessed_case


def _smooth_noise(rng: np.random.Generator, shape: Sequence[int], step: int = 8) -> np.ndarray:
    from scipy import ndimage

    coarse = rng.normal(size=[max(2, -(-int(s) // step) + 1) for s in shape]).astype(np.float32)
    zoom = [s / c for s, c in zip(shape, coarse.shape, strict=True)]
    return ndimage.zoom(coarse, zoom, order=1, grid_mode=True, mode="nearest")[tuple(slice(0, int(s)) for s in shape)]


def write_synthetic_preprocessed(
    out_dir: str | Path,
    num_cases: int = 4,
    shape: Sequence[int] = (48, 48, 48),
    channels: int = 1,
    objects_per_case: int = 3,
    num_classes: int = 2,
    radius_range: tuple[float, float] = (2.0, 6.0),
    empty_cases: int = 0,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    patch_size: Sequence[int] = (32, 32, 32),
    seed: int = 0,
) -> Path:
    """Write ``num_cases`` synthetic cases (the last ``empty_cases`` without objects), all in split ``train``."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in shape)
    geometry = Geometry(shape, tuple(float(s) for s in spacing[::-1]), (0.0, 0.0, 0.0))  # type: ignore[arg-type]
    ids = [f"syn_{i:03d}" for i in range(num_cases)]
    grid = np.ogrid[tuple(slice(0, s) for s in shape)]
    for k, case_id in enumerate(ids):
        image = np.stack([_smooth_noise(rng, shape) for _ in range(channels)]).astype(np.float32)
        inst = np.zeros(shape, dtype=np.int16)
        classes: dict[int, int] = {}
        n_obj = 0 if k >= num_cases - empty_cases else objects_per_case
        for j in range(1, n_obj + 1):
            radii = rng.uniform(*radius_range, size=3)
            centre = rng.uniform(radii + 1, np.asarray(shape) - radii - 1)
            dist = sum(((g + 0.5 - c) / r) ** 2 for g, c, r in zip(grid, centre, radii, strict=True))
            mask = (dist <= 1.0) & (inst == 0)
            if not mask.any():
                continue
            inst[mask] = j
            classes[j] = int(rng.integers(num_classes))
            image[:, mask] += 2.0 + classes[j]
        boxes = boxes_from_instances(inst)
        meta = PreprocessedCaseMeta(
            case_id=case_id,
            split="train",
            fingerprint="synthetic",
            original_geometry=geometry,
            resampled_geometry=geometry,
            classes={i: classes[i] for i in boxes},
            boxes={i: [float(v) for v in b] for i, b in boxes.items()},
        )
        write_preprocessed_case(out, meta, image, inst)
    Plan(
        config="fixed",
        dataset_name="synthetic",
        dataset_id="SYN",
        target_spacing=tuple(float(s) for s in spacing),  # type: ignore[arg-type]
        patch_size=tuple(int(p) for p in patch_size),  # type: ignore[arg-type]
        normalization=tuple(ChannelNormalization("zscore_per_case") for _ in range(channels)),
        dataset_fingerprint="synthetic",
        modalities=tuple("MRI" for _ in range(channels)),
        classes=tuple(f"class_{c}" for c in range(num_classes)),
        train_cases=tuple(ids),
        seed=seed,
    ).save(out)
    _write_json(out / "splits.json", Splits(train=ids, val=[], test=[]).to_json())
    return out
