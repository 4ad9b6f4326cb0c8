"""Planning: from a prepared dataset to a :class:`Plan` for the ``fixed`` or ``default`` configuration.

* ``fixed`` (the paper's fine-tuning setup, appendix C): 1 mm isotropic spacing, 128^3 patches.
* ``default`` (nnDetection-style): target spacing = per-axis median spacing of the training cases; patch size
  from :func:`fit_patch_size` (a voxel budget, aspect ratio of the median image extent in mm, multiples of
  ``2 ** (num_stages - 1)``); the network topology (number of stages, strides and kernels per axis) from
  :func:`plan_network_topology` on that patch and spacing, recorded in ``plan.planning["network"]``.

Both compute the CT normalisation statistics from the training cases only (see
:mod:`benchmark.preprocessing.intensity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
DEFAULT_MIN_FEATURE_MAP = 4  # nnDetection's 3D planners (BoxC001/C002): shortest bottleneck edge in voxels

Triple = tuple[int, int, int]


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


def scale_patch_to_budget(patch_size: Sequence[int], voxel_budget: int, multiple: int) -> tuple[int, int, int]:
    """``patch_size`` shrunk to at most ``voxel_budget`` voxels, keeping its aspect ratio, in multiples of
    ``multiple`` (a network's total stride); a patch already within the budget is only rounded down.

    Every axis is scaled by the same factor ``(budget / voxels) ** (1/3)`` (at most 1), rounded down to a
    multiple (at least one ``multiple``); the longest axis gives up ``multiple`` while still over budget.
    Laptop profiles use it to run nnDetection's planned patch within their memory and time budget.
    """
    m = int(multiple)
    if m < 1 or voxel_budget < m**3:
        raise ValueError(f"voxel_budget {voxel_budget} is below the smallest patch {m}^3")
    patch = np.asarray([int(p) for p in patch_size], dtype=np.int64)
    factor = min(1.0, (voxel_budget / float(np.prod(patch))) ** (1 / 3))
    out = np.maximum(np.floor(patch * factor / m).astype(np.int64) * m, m)
    while np.prod(out) > voxel_budget:
        out[int(np.argmax(out))] -= m
    return tuple(int(p) for p in out)  # type: ignore[return-value]


@dataclass(frozen=True)
class NetworkTopology:
    """Encoder topology: one ``(z, y, x)`` stride and kernel per stage (the first stride is ``(1, 1, 1)``)."""

    strides: tuple[Triple, ...]
    kernel_sizes: tuple[Triple, ...]

    def __post_init__(self) -> None:
        if not self.strides or len(self.strides) != len(self.kernel_sizes):
            raise ValueError("a topology needs one stride and one kernel size per stage")

    @property
    def num_stages(self) -> int:
        return len(self.strides)

    @property
    def total_stride(self) -> Triple:
        """Product of the strides per axis: patch sizes must be multiples of it."""
        return tuple(int(v) for v in np.prod(np.asarray(self.strides), axis=0))  # type: ignore[return-value]

    def to_json(self) -> dict:
        return {"strides": [list(s) for s in self.strides], "kernel_sizes": [list(k) for k in self.kernel_sizes]}


def plan_network_topology(
    patch_size: Sequence[int],
    spacing: Sequence[float],
    min_feature_map_size: int = DEFAULT_MIN_FEATURE_MAP,
    max_pools_per_axis: int = DEFAULT_NUM_STAGES - 1,
) -> NetworkTopology:
    """nnDetection's (nnU-Net's) pooling plan for a patch at ``spacing`` (both array order ``(z, y, x)``).

    The rule of ``get_pool_and_conv_props`` (nnU-Net; used by nnDetection's ``BoxC001``/``BoxC002`` planners
    with a minimal feature map of 4): repeatedly halve every axis whose current spacing is less than twice
    the smallest current spacing and whose current size is at least ``2 * min_feature_map_size``, until no
    axis qualifies; each round adds a stage with stride 2 on those axes and 1 elsewhere. A stage's kernel is 3
    on the largest group of axes whose current spacings lie within a factor 2 of each other and 1 on the
    others (so a coarse slice axis gets ``1 x 3 x 3`` kernels until the pooling has caught up); the last stage
    (the bottleneck) is ``3 x 3 x 3``. Isotropic 128^3 gives the paper's fixed architecture (Table 5).

    One deviation: an axis is pooled at most ``max_pools_per_axis`` times (nnDetection: no limit), by default
    the 5 of :func:`fit_patch_size`'s divisor ``2 ** (DEFAULT_NUM_STAGES - 1)``, so every patch that function
    plans is divisible by the planned strides (nnDetection would pad the patch instead) and the encoder keeps
    at most the paper's six stages. ValueError if ``patch_size`` is not divisible by the planned strides.
    """
    patch = [int(p) for p in patch_size]
    current_spacing = [float(s) for s in spacing]
    if len(patch) != 3 or len(current_spacing) != 3 or min(patch) < 1 or min(current_spacing) <= 0:
        raise ValueError(f"need a 3-axis patch and spacing, got {tuple(patch_size)} and {tuple(spacing)}")
    size = [float(p) for p in patch]
    pools = [0, 0, 0]
    strides: list[Triple] = [(1, 1, 1)]
    kernels: list[Triple] = []
    while True:
        group: list[int] = []
        for a in range(3):
            near = [
                i
                for i in range(3)
                if max(current_spacing[i], current_spacing[a]) < 2 * min(current_spacing[i], current_spacing[a])
            ]
            if len(near) > len(group):
                group = near
        finest = min(current_spacing)
        axes = [
            i
            for i in range(3)
            if current_spacing[i] < 2 * finest and size[i] >= 2 * min_feature_map_size and pools[i] < max_pools_per_axis
        ]
        if not axes:
            break
        kernels.append(tuple(3 if i in group else 1 for i in range(3)))  # type: ignore[arg-type]
        strides.append(tuple(2 if i in axes else 1 for i in range(3)))  # type: ignore[arg-type]
        for i in axes:
            pools[i] += 1
            current_spacing[i] *= 2
            size[i] = float(np.ceil(size[i] / 2))
    kernels.append((3, 3, 3))
    topology = NetworkTopology(tuple(strides), tuple(kernels))
    if any(p % t for p, t in zip(patch, topology.total_stride, strict=True)):
        raise ValueError(
            f"patch {tuple(patch)} is not divisible by its planned total stride {topology.total_stride}; "
            "plan the patch with fit_patch_size"
        )
    return topology


def network_topology(plan: Plan) -> NetworkTopology:
    """The encoder topology of a plan: :func:`plan_network_topology` on its patch size and target spacing.

    Plans of the ``default`` configuration record the same result in ``plan.planning["network"]`` (for
    reading); this function recomputes it, so plans written before that record existed give the same answer.
    """
    info = plan.planning or {}
    return plan_network_topology(
        plan.patch_size,
        plan.target_spacing,
        int(info.get("min_feature_map_size", DEFAULT_MIN_FEATURE_MAP)),
        int(info.get("num_stages", DEFAULT_NUM_STAGES)) - 1,
    )


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
    min_feature_map_size: int = DEFAULT_MIN_FEATURE_MAP,
    image_order: int = 3,
    image_dtype: str = "float32",
    workers: int = 1,
) -> Plan:
    """Plan the preprocessing of the prepared dataset at ``dataset_root`` for ``config`` (``fixed``/``default``).

    Statistics and the default spacing come from the training cases only: ``train_cases`` if given, else
    fold ``fold``'s train part, else the official ``train`` split. ``default`` plans also record the network
    topology planned for their patch (:func:`plan_network_topology` with ``min_feature_map_size`` and at most
    ``num_stages - 1`` poolings per axis) in ``planning["network"]``.
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

    planning: dict = {
        "median_spacing": [float(s) for s in median_spacing],
        "median_shape_at_target": [float(s) for s in median_shape],
        "voxel_budget": int(voxel_budget) if config == "default" else int(np.prod(FIXED_PATCH)),
        "num_stages": int(num_stages),
        "samples_per_case": int(samples_per_case),
        "fold": fold,
    }
    if config == "default":
        planning["min_feature_map_size"] = int(min_feature_map_size)
        topology = plan_network_topology(patch, target, min_feature_map_size, num_stages - 1)
        planning["network"] = topology.to_json()
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
        planning=planning,
    )
