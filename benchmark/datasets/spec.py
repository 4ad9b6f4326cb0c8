"""Typed description of a benchmark dataset: the facts of the paper's Table 1 and its evaluation protocols."""

from __future__ import annotations

from dataclasses import dataclass, field

POOLS = ("dev", "test")
MODALITIES = ("CT", "MRI")
ANNOTATIONS = ("masks", "boxes")


@dataclass(frozen=True)
class SplitSizes:
    """Number of images per official split (``external_test`` only where the dataset has one)."""

    train: int
    val: int
    test: int
    external_test: int = 0

    @property
    def total(self) -> int:
        return self.train + self.val + self.test + self.external_test


@dataclass(frozen=True)
class DatasetSpec:
    """One of the benchmark datasets (source: Eckstein et al., MICCAI 2025, Table 1)."""

    id: str
    name: str
    pool: str
    target: str
    modality: str
    channels: tuple[str, ...]
    classes: tuple[str, ...]
    splits: SplitSizes
    objects: int
    median_spacing: tuple[float, float, float]  # mm, array order (z, y, x)
    annotation: str = "masks"
    protocols: tuple[str, ...] = ("map@0.1", "froc@0.1")
    official_folds: str = ""
    citation: str = ""
    url: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pool not in POOLS:
            raise ValueError(f"{self.id}: pool must be one of {POOLS}, got {self.pool!r}")
        if self.modality not in MODALITIES:
            raise ValueError(f"{self.id}: modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.annotation not in ANNOTATIONS:
            raise ValueError(f"{self.id}: annotation must be one of {ANNOTATIONS}, got {self.annotation!r}")
        if not self.classes or not self.channels:
            raise ValueError(f"{self.id}: a dataset needs at least one class and one channel")
        if len(self.median_spacing) != 3:
            raise ValueError(f"{self.id}: median_spacing must have 3 entries (z, y, x)")

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def twin_id(self) -> str:
        """Id of the synthetic twin (``D06`` -> ``S06``)."""
        return "S" + self.id[1:]
