"""Planning: from a prepared dataset to a :class:`Plan` for the ``fixed`` or ``default`` configuration.

* ``fixed`` (the paper's fine-tuning setup, appendix C): 1 mm isotropic spacing, 128^3 patches.
* ``default`` (nnDetection-style): target spacing = per-axis median spacing of the training cases; patch size
  from :func:`fit_patch_size` (a voxel budget, aspect ratio of the median image extent in mm, multiples of
  ``2 ** (num_stages - 1)``).

Both compute the CT normalisation statistics from the training cases only (see
:mod:`benchmark.preprocessing.intensity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry
from benchmark.data.format import PreparedDataset, image_path
from benchmark.preprocessing.fingerprint import dataset_fingerprint
from benchmark.preprocessing.intensity import (
    DEFAULT_SAMPLES_PER_CASE,
    ct_normalization,
    foreground_samples,
    is_ct,
)
from benchmark.preprocessing.plan import CONFIGS, ChannelNormalization, Plan

FIXED_SPACING = (1.0, 1.0, 1.0)
FIXED_PATCH = (128, 128, 128)
DEFAULT_VOXEL_BUDGET = 128**3  # the fixed configuration's patch: both configurations fit the same GPU memory
DEFAULT_NUM_STAGES = 6  # encoder resolutions of the paper's architecture (Table 5): 5 poolings by 2


def read_geometry(path: Path) -> Geometry:
    """Geometry of an image from its header only (no voxel data is read)."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = reader.GetSize()
    return Geometry(
        shape=(int(size[2]), int(size[1]), int(size[0])),
        spacing_xyz=tuple(float(v) for v in reader.GetSpacing()),  # type: ignore[arg-type]
        origin_xyz=tuple(float(v) for v in reader.GetOrigin()),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in reader.GetDirection()),
    )


def training_cases(dataset: PreparedDataset, fold: int | None = None, cases: Sequence[str] | None = None) -> list[str]:
    """Cases the plan is computed from: ``cases`` if given, else fold ``fold``'s train part, else split ``train``."""
    if cases is not None:
        ids = list(cases)
        unknown = sorted(set(ids) - set(dataset.case_ids()))
        if unknown:
            raise ValueError(f"training case(s) not in the dataset: {unknown[:5]}")
    elif fold is not None:
        ids = list(dataset.splits.fold(fold)["train"])
    else:
        ids = dataset.case_ids("train")
    if not ids:
        raise ValueError("no training cases to plan from")
    return ids


def fit_patch_size(
    median_shape: Sequence[float], voxel_budget: int = DEFAULT_VOXEL_BUDGET, num_stages: int = DEFAULT_NUM_STAGES
) -> tuple[int, int, int]:
    """Largest patch within ``voxel_budget`` voxels with the aspect of ``median_shape`` (voxels at target spacing).

    Heuristic: scale the median shape to the budget; no axis longer than the median image (rounded up to a
    multiple); round down to multiples of ``m = 2 ** (num_stages - 1)`` (every pooling divides evenly, at least
    ``m``); shrink the longest axis while over budget, then grow the axis that covers the smallest fraction
    of the median image by ``m`` while the budget allows.
    """
    m = 2 ** (num_stages - 1)
    if voxel_budget < m**3:
        raise ValueError(f"voxel_budget {voxel_budget} is below the smallest patch {m}^3 for {num_stages} stages")
    shape = np.maximum(np.asarray(median_shape, dtype=np.float64), m)
    cap = np.ceil(shape / m) * m
    patch = shape * (voxel_budget / np.prod(shape)) ** (1 / 3)
    free = np.ones(3, dtype=bool)
    for _ in range(3):  # axes that hit their cap are fixed; the others share the remaining budget
        over = free & (patch > cap)
        if not over.any():
            break
        patch[over] = cap[over]
        free &= ~over
        if not free.any():
            break
        rest = voxel_budget / np.prod(patch[~free])
        patch[free] = shape[free] * (rest / np.prod(shape[free])) ** (1 / free.sum())
    patch = np.clip(np.floor(patch / m) * m, m, cap)
    while np.prod(patch) > voxel_budget:
        axis = int(np.argmax(np.where(patch > m, patch, -1)))
        patch[axis] -= m
    while True:
        for axis in np.argsort(patch / shape, kind="stable"):
            grown = patch.copy()
            grown[axis] += m
            if grown[axis] <= cap[axis] and np.prod(grown) <= voxel_budget:
                patch = grown
                break
        else:
            break
    return tuple(int(p) for p in patch)  # type: ignore[return-value]


def _case_samples(
    root: str, case_id: str, channels: list[int], seed: int, index: int, max_samples: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(instance, body) samples of the CT channels of one case (its own Generator from ``(seed, index)``)."""
    dataset = PreparedDataset(root)
    case = dataset.load_case(case_id)
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    return [foreground_samples(case.image[c], case.instances, rng, max_samples) for c in channels]


def plan_preprocessing(
    dataset_root: str | Path,
    config: str = "fixed",
    *,
    fold: int | None = None,
    train_cases: Sequence[str] | None = None,
    seed: int = 0,
    samples_per_case: int = DEFAULT_SAMPLES_PER_CASE,
    voxel_budget: int = DEFAULT_VOXEL_BUDGET,
    num_stages: int = DEFAULT_NUM_STAGES,
    image_order: int = 3,
    image_dtype: str = "float32",
    workers: int = 1,
) -> Plan:
    """Plan the preprocessing of the prepared dataset at ``dataset_root`` for ``config`` (``fixed``/``default``).

    Statistics and the default spacing come from the training cases only: ``train_cases`` if given, else
    fold ``fold``'s train part, else the official ``train`` split.
    """
    if config not in CONFIGS:
        raise ValueError(f"Unknown config {config!r}. Valid configs: {', '.join(CONFIGS)}")
    dataset = PreparedDataset(dataset_root)
    ids = training_cases(dataset, fold, train_cases)
    geometries = [read_geometry(image_path(dataset.root, c, 0, dataset.splits.split_of(c))) for c in ids]
    spacings = np.array([g.spacing for g in geometries], dtype=np.float64)
    extents_mm = np.array([np.multiply(g.shape, g.spacing) for g in geometries], dtype=np.float64)
    median_spacing = np.round(np.median(spacings, axis=0), 6)  # headers store float32: drop the noise
    if config == "fixed":
        target = np.asarray(FIXED_SPACING)
        median_shape = np.median(extents_mm, axis=0) / target
        patch = FIXED_PATCH
    else:
        target = median_spacing
        median_shape = np.median(extents_mm, axis=0) / target
        patch = fit_patch_size(median_shape, voxel_budget, num_stages)

    modalities = list(dataset.meta.modalities)
    ct_channels = [c for c, m in enumerate(modalities) if is_ct(m)]
    norms: list[ChannelNormalization] = [ChannelNormalization("zscore_per_case") for _ in modalities]
    if ct_channels:
        jobs = [(str(dataset.root), c, ct_channels, seed, i, samples_per_case) for i, c in enumerate(ids)]
        if workers > 1:
            from joblib import Parallel, delayed

            per_case = Parallel(n_jobs=workers)(delayed(_case_samples)(*job) for job in jobs)
        else:
            per_case = [_case_samples(*job) for job in jobs]
        for k, c in enumerate(ct_channels):
            norms[c] = ct_normalization([pc[k][0] for pc in per_case], [pc[k][1] for pc in per_case])

    return Plan(
        config=config,
        dataset_name=dataset.meta.name,
        dataset_id=dataset.meta.dataset_id,
        target_spacing=tuple(float(s) for s in target),  # type: ignore[arg-type]
        patch_size=tuple(int(p) for p in patch),  # type: ignore[arg-type]
        normalization=tuple(norms),
        dataset_fingerprint=dataset_fingerprint(dataset, ids),
        modalities=tuple(modalities),
        classes=tuple(dataset.meta.classes),
        train_cases=tuple(ids),
        image_order=image_order,
        image_dtype=image_dtype,
        seed=seed,
        planning={
            "median_spacing": [float(s) for s in median_spacing],
            "median_shape_at_target": [float(s) for s in median_shape],
            "voxel_budget": int(voxel_budget) if config == "default" else int(np.prod(FIXED_PATCH)),
            "num_stages": int(num_stages),
            "samples_per_case": int(samples_per_case),
            "fold": fold,
        },
    )
