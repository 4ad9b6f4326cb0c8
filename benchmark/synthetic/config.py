"""Typed configuration of the synthetic twins: generation scales, difficulty knobs and twin configs.

A *knob* is a field of :class:`DifficultyKnobs`, never a subclass: a harder or easier twin is the same
generator with other numbers. Every field is recorded in the provenance of each generated dataset.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np

from benchmark.datasets.spec import DatasetSpec, SplitSizes

GENERATOR_NAME = "detbench.synthetic"
GENERATOR_VERSION = "1.1.0"
COUNT_MODELS = ("geometric", "poisson", "fixed")


@dataclass(frozen=True)
class ScaleConfig:
    """How big a generated twin is: number of cases and voxels per case.

    * ``max_inplane_voxels``: the larger in-plane axis (y or x) of a nominal case has this many voxels;
      the real median spacing is multiplied by one factor ``k >= 1`` (so spacing *ratios* are exact) until
      the field of view fits. ``None`` keeps the real spacing (``k = 1``).
    * ``fov_scale``: the phantom (field of view and anatomy) is this fraction of a real body region.
      Lesions keep their real millimetre sizes, bounded below by ``min_object_extent_voxels``.
    * Case counts: ``fixed_splits`` if given, else ``cases_per_twin`` spread over the real split
      proportions, else the real counts of the dataset spec.
    """

    name: str
    max_inplane_voxels: int | None
    fov_scale: float
    fixed_splits: SplitSizes | None = None
    cases_per_twin: int | None = None
    min_slices: int = 0
    min_object_extent_voxels: float = 1.5
    shape_jitter: float = 0.08
    corpus_cases: int = 8

    def __post_init__(self) -> None:
        if not 0.05 <= self.fov_scale <= 1.0:
            raise ValueError(f"scale {self.name}: fov_scale must be in [0.05, 1], got {self.fov_scale}")
        if self.max_inplane_voxels is not None and self.max_inplane_voxels < 16:
            raise ValueError(f"scale {self.name}: max_inplane_voxels must be >= 16 or None")
        if not 0.0 <= self.shape_jitter < 0.5:
            raise ValueError(f"scale {self.name}: shape_jitter must be in [0, 0.5)")

    def split_sizes(self, spec: DatasetSpec) -> SplitSizes:
        """Cases per split of the twin of ``spec`` at this scale (external_test only where the spec has one)."""
        real = spec.splits
        if self.fixed_splits is not None:
            f = self.fixed_splits
            return SplitSizes(f.train, f.val, f.test, f.external_test if real.external_test else 0)
        if self.cases_per_twin is None:
            return real
        counts = [real.train, real.val, real.test, real.external_test]
        return SplitSizes(*_proportional(counts, self.cases_per_twin, minimum=2))


def _proportional(counts: list[int], total: int, minimum: int) -> list[int]:
    """Split ``total`` in proportion to ``counts`` (largest remainder), then lift non-zero entries to ``minimum``."""
    weights = np.asarray(counts, dtype=np.float64)
    share = weights / weights.sum() * total
    out = np.floor(share).astype(int)
    for i in np.argsort(-(share - out), kind="stable")[: total - int(out.sum())]:
        out[i] += 1
    for i in np.flatnonzero((weights > 0) & (out < minimum)):
        need = minimum - out[i]
        out[i] += need
        out[int(np.argmax(out))] -= need
    return [int(v) for v in out]


SCALES: dict[str, ScaleConfig] = {
    # A handful of ~40-voxel cases per twin: all eight twins in seconds, for tests and smoke runs.
    "tiny": ScaleConfig(
        name="tiny",
        max_inplane_voxels=40,
        fov_scale=0.15,
        fixed_splits=SplitSizes(train=4, val=2, test=2, external_test=2),
        min_slices=16,
        min_object_extent_voxels=2.0,
        corpus_cases=6,
    ),
    # The CPU default (profile ``cpu``): 40 cases per twin of 64 voxels in-plane over a quarter of the real
    # field of view, so that at the fixed 1 mm spacing a case is ~40-100 voxels per axis (a few 48^3 patches)
    # and generating plus preprocessing a twin takes seconds; lesions keep their real millimetre sizes.
    "small": ScaleConfig(
        name="small",
        max_inplane_voxels=64,
        fov_scale=0.25,
        cases_per_twin=40,
        min_slices=16,
        min_object_extent_voxels=2.5,
        corpus_cases=64,
    ),
    # The real case counts, the real median spacing and a realistic body region.
    "full": ScaleConfig(
        name="full",
        max_inplane_voxels=None,
        fov_scale=1.0,
        min_slices=0,
        min_object_extent_voxels=1.5,
        corpus_cases=2000,
    ),
}


def get_scale(name: str | ScaleConfig) -> ScaleConfig:
    """Look up a scale by name (``tiny``, ``small``, ``full``)."""
    if isinstance(name, ScaleConfig):
        return name
    if name not in SCALES:
        raise ValueError(f"Unknown scale {name!r}. Valid scales: {', '.join(SCALES)}")
    return SCALES[name]


@dataclass(frozen=True)
class DifficultyKnobs:
    """Everything that makes a twin easier or harder; defaults are set per twin in ``twins.py``.

    Intensities are HU for CT and arbitrary positive units (fat-saturated T1 ~ 100) for MRI.
    Per-class tuples have one entry per class of the mirrored dataset.
    """

    object_contrast: float = 1.0  # multiplies each object's intensity difference to its host tissue
    noise_sigma: float = 20.0  # SD of white noise added last (HU; MRI: Rician noise SD)
    texture_sigma: float = 10.0  # SD of spatially correlated tissue texture (HU / MRI units)
    blur_mm: float = 0.5  # partial-volume blur: Gaussian sigma in mm, applied before the noise
    object_diameter_mm: tuple[float, float] = (3.0, 30.0)  # truncation range of object diameters
    object_median_mm: tuple[float, ...] = (6.5,)  # per class: median of the log-normal diameter
    object_size_spread: float = 0.5  # SD of log(diameter)
    empty_fraction: float = 0.0  # fraction of images without any object
    objects_per_image: float | None = None  # mean objects per image; None = the real dataset's ratio
    count_model: str = "geometric"  # object count of a non-empty image: geometric | poisson | fixed
    max_objects: int = 12  # cap on objects per image (placement may also give up when full)
    class_probs: tuple[float, ...] | None = None  # per class: probability of an object's class
    irregularity: float = 0.1  # lobulation amplitude of object margins (fraction of the radius)
    spiculation: tuple[float, ...] = (0.0,)  # per class: length of margin spikes (fraction of radius)
    distractors: int = 0  # object look-alikes per image that are NOT labelled (see docs)
    # object-sized look-alikes with other multi-channel kinetics, NOT labelled; only the breast-MRI placer uses it
    # (S05): each single channel matches the target's intensity for one kind of mimic, so a per-channel intensity
    # rule cannot tell them apart and a model must read the channels together (docs/synthetic-twins.md)
    mimics: int = 0
    vessel_count: int = 12  # number of vessel branches of the scene (lung vessels, brain arteries)
    bias_field: float = 0.0  # MRI: log-amplitude of the smooth multiplicative bias field
    external_shift: float = 0.0  # scanner shift of external_test cases (noise x(1+s), contrast x(1-s/3))

    def __post_init__(self) -> None:
        lo, hi = self.object_diameter_mm
        if not 0 < lo < hi:
            raise ValueError(f"object_diameter_mm must be (min, max) with 0 < min < max, got {self.object_diameter_mm}")
        if self.count_model not in COUNT_MODELS:
            raise ValueError(f"count_model must be one of {COUNT_MODELS}, got {self.count_model!r}")
        if not 0.0 <= self.empty_fraction < 1.0:
            raise ValueError(f"empty_fraction must be in [0, 1), got {self.empty_fraction}")
        if self.max_objects < 1:
            raise ValueError(f"max_objects must be >= 1, got {self.max_objects}")
        if self.mimics < 0 or self.distractors < 0:
            raise ValueError("distractors and mimics must be >= 0")
        if self.noise_sigma < 0 or self.texture_sigma < 0 or self.blur_mm < 0:
            raise ValueError("noise_sigma, texture_sigma and blur_mm must be >= 0")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TwinConfig:
    """One synthetic twin: which real dataset it mirrors, which scene and object generator it uses.

    ``scene`` and ``target`` name generators registered in ``anatomy.SCENES`` and ``objects.PLACERS``;
    ``fov_mm`` is the realistic field of view ``(z, y, x)`` of a full-scale case; ``direction`` is the
    row-major ITK direction matrix of every case; ``num_folds`` cross-validation folds over train+val.
    """

    twin_id: str
    mirrors: str
    scene: str
    target: str
    fov_mm: tuple[float, float, float]
    knobs: DifficultyKnobs = field(default_factory=DifficultyKnobs)
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    num_folds: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"S\d\d", self.twin_id):
            raise ValueError(f"twin id must look like 'S06', got {self.twin_id!r}")
        if len(self.fov_mm) != 3 or min(self.fov_mm) <= 0:
            raise ValueError(f"{self.twin_id}: fov_mm must be 3 positive lengths (z, y, x)")
        matrix = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)
        if not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6):
            raise ValueError(f"{self.twin_id}: direction must be an orthonormal 3x3 matrix (row-major)")

    @property
    def number(self) -> int:
        return int(self.twin_id[1:])

    @property
    def spec(self) -> DatasetSpec:
        from benchmark.datasets import get_dataset

        return get_dataset(self.mirrors)

    @property
    def dir_name(self) -> str:
        """Folder name of the twin, e.g. ``S06_LUNA16`` or ``S01_MSD_Pancreas``."""
        return f"{self.twin_id}_{re.sub(r'[^A-Za-z0-9-]+', '_', self.spec.name).strip('_')}"

    @property
    def display_name(self) -> str:
        return f"{self.twin_id} {self.spec.name} (synthetic twin)"

    def check_against_spec(self) -> None:
        """Raise ``ValueError`` when per-class knobs do not match the classes of the mirrored dataset."""
        n = self.spec.num_classes
        k = self.knobs
        for name in ("object_median_mm", "spiculation"):
            if len(getattr(k, name)) != n:
                raise ValueError(f"{self.twin_id}: knob {name} needs {n} entries (one per class)")
        if k.class_probs is not None and (len(k.class_probs) != n or abs(sum(k.class_probs) - 1) > 1e-6):
            raise ValueError(f"{self.twin_id}: class_probs needs {n} entries summing to 1")

    def mean_objects_per_image(self) -> float:
        """The knob if set, else the real dataset's objects / images."""
        if self.knobs.objects_per_image is not None:
            return float(self.knobs.objects_per_image)
        return self.spec.objects / self.spec.splits.total


@dataclass(frozen=True)
class CaseGeometryPlan:
    """Nominal spacing and field of view of a twin at a scale (before the per-case shape jitter)."""

    spacing: tuple[float, float, float]  # (z, y, x) mm
    shape: tuple[int, int, int]  # (z, y, x) voxels
    spacing_factor: float  # k: spacing = real median spacing * k

    @property
    def fov_mm(self) -> tuple[float, float, float]:
        return tuple(float(s * n) for s, n in zip(self.spacing, self.shape, strict=True))  # type: ignore[return-value]


def nominal_geometry(twin: TwinConfig, scale: ScaleConfig) -> CaseGeometryPlan:
    """Spacing = real median spacing x k (exact ratios), shape = scaled field of view / spacing."""
    real = np.asarray(twin.spec.median_spacing, dtype=np.float64)
    fov = np.asarray(twin.fov_mm, dtype=np.float64) * scale.fov_scale
    k = 1.0
    if scale.max_inplane_voxels is not None:
        k = max(1.0, float(np.max(fov[1:] / real[1:])) / scale.max_inplane_voxels)
    spacing = np.round(real * k, 6)
    shape = np.maximum(np.round(fov / spacing), 8).astype(int)
    shape[0] = max(shape[0], scale.min_slices)
    return CaseGeometryPlan(tuple(float(s) for s in spacing), tuple(int(n) for n in shape), float(k))
