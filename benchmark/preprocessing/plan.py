"""The preprocessing plan: a typed, JSON-serialisable artefact saved as ``plans.json`` next to the outputs.

A plan fixes everything that decides the preprocessed arrays (target spacing, interpolation order, storage
dtype, intensity normalisation and its statistics) plus the training patch size, and records which dataset
version it was computed from (``dataset_fingerprint``). Its :meth:`Plan.digest` enters every case fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from benchmark.core.atomic import atomic_write_json

CONFIGS = ("fixed", "default")
SCHEMES = ("ct", "zscore_per_case")
IMAGE_DTYPES = ("float32", "float16")
IMAGE_ORDERS = (1, 3)
PLAN_VERSION = 1
PLANS_FILE = "plans.json"


@dataclass(frozen=True)
class ChannelNormalization:
    """How one channel is normalised.

    ``ct``: clip to ``[lower, upper]`` (0.5/99.5 percentiles of foreground intensities of the training cases),
    then ``(x - mean) / std`` with the mean/std of the clipped foreground samples.
    ``zscore_per_case``: ``(x - mean) / std`` with the statistics of each case's own channel (MRI).
    """

    scheme: str
    lower: float | None = None
    upper: float | None = None
    mean: float | None = None
    std: float | None = None
    num_samples: int = 0
    foreground: str = ""  # where CT samples came from: "instances" or "body" (no training case has instances)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"normalisation scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.scheme == "ct" and None in (self.lower, self.upper, self.mean, self.std):
            raise ValueError("the 'ct' scheme needs lower, upper, mean and std")


@dataclass(frozen=True)
class Plan:
    """Preprocessing plan of one dataset and configuration (``fixed`` or ``default``)."""

    config: str
    dataset_name: str
    dataset_id: str
    target_spacing: tuple[float, float, float]  # mm, array order (z, y, x)
    patch_size: tuple[int, int, int]  # voxels, array order
    normalization: tuple[ChannelNormalization, ...]  # one per channel
    dataset_fingerprint: str
    modalities: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    train_cases: tuple[str, ...] = ()  # cases the statistics and the default spacing were computed from
    image_order: int = 3  # spline order of image resampling
    image_dtype: str = "float32"
    seed: int = 0  # seed of the foreground-intensity sampling
    planning: dict = field(default_factory=dict)  # informational: median spacing/shape, budget, heuristic
    plan_version: int = PLAN_VERSION

    def __post_init__(self) -> None:
        if self.config not in CONFIGS:
            raise ValueError(f"Unknown config {self.config!r}. Valid configs: {', '.join(CONFIGS)}")
        if len(self.target_spacing) != 3 or any(s <= 0 for s in self.target_spacing):
            raise ValueError(f"target_spacing must be 3 positive numbers (z, y, x), got {self.target_spacing}")
        if len(self.patch_size) != 3 or any(int(p) < 1 for p in self.patch_size):
            raise ValueError(f"patch_size must be 3 positive integers (z, y, x), got {self.patch_size}")
        if self.image_dtype not in IMAGE_DTYPES:
            raise ValueError(f"image_dtype must be one of {IMAGE_DTYPES}, got {self.image_dtype!r}")
        if self.image_order not in IMAGE_ORDERS:
            raise ValueError(f"image_order must be one of {IMAGE_ORDERS}, got {self.image_order!r}")
        if not self.normalization:
            raise ValueError("a plan needs one normalisation entry per channel")

    @property
    def num_channels(self) -> int:
        return len(self.normalization)

    def to_json(self) -> dict:
        obj = asdict(self)
        obj["target_spacing"] = [float(s) for s in self.target_spacing]
        obj["patch_size"] = [int(p) for p in self.patch_size]
        obj["normalization"] = [asdict(n) for n in self.normalization]
        for key in ("modalities", "classes", "train_cases"):
            obj[key] = list(obj[key])
        return obj

    @classmethod
    def from_json(cls, obj: dict) -> Plan:
        if not isinstance(obj, dict):
            raise ValueError("a plan must be a JSON object")
        version = obj.get("plan_version", PLAN_VERSION)
        if version != PLAN_VERSION:
            raise ValueError(f"plan_version {version} is not supported (expected {PLAN_VERSION}); re-plan the dataset")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(obj) - known)
        if unknown:
            raise ValueError(f"unknown plan field(s) {unknown}. Valid fields: {', '.join(sorted(known))}")
        kw = dict(obj)
        kw["target_spacing"] = tuple(float(s) for s in obj["target_spacing"])
        kw["patch_size"] = tuple(int(p) for p in obj["patch_size"])
        kw["normalization"] = tuple(ChannelNormalization(**n) for n in obj["normalization"])
        for key in ("modalities", "classes", "train_cases"):
            kw[key] = tuple(obj.get(key, ()))
        return cls(**kw)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the plan: equal digests mean identical preprocessing settings."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def save(self, out_dir: str | Path) -> Path:
        """Write ``out_dir/plans.json`` (atomically) and return its path."""
        path = Path(out_dir) / PLANS_FILE
        return atomic_write_json(path, self.to_json(), indent=2)

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        """Read a plan from ``plans.json`` or from a folder that contains one."""
        path = Path(path)
        if path.is_dir():
            path = path / PLANS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no plan here (run plan_preprocessing and save it first)")
        return cls.from_json(json.loads(path.read_text()))


def load_plan(path: str | Path) -> Plan:
    """Read a plan from ``plans.json`` or from a folder that contains one."""
    return Plan.load(path)
