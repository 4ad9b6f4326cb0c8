"""The registry of benchmark datasets. Each dataset is one module that registers its :class:`DatasetSpec`."""

from __future__ import annotations

from benchmark.core.registry import Registry
from benchmark.datasets.spec import DatasetSpec, SplitSizes

DATASETS: Registry[DatasetSpec] = Registry("dataset")

SUITES: dict[str, tuple[str, ...]] = {
    "dev": ("D01", "D02", "D03", "D04", "D05"),
    "test": ("D06", "D07", "D08"),
    "all": ("D01", "D02", "D03", "D04", "D05", "D06", "D07", "D08"),
}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Register a dataset spec under its id (``D01``)."""
    DATASETS.register(spec.id, spec)
    return spec


def get_dataset(name: str) -> DatasetSpec:
    """Look up a dataset by id (``D06``), twin id (``S06``) or name (``LUNA16``)."""
    if isinstance(name, str) and len(name) == 3 and name[0] in "sS" and name[1:].isdigit():
        name = "D" + name[1:]
    by_name = {spec.name.lower(): key for key, spec in DATASETS.items()}
    if isinstance(name, str) and name.lower() in by_name:
        name = by_name[name.lower()]
    return DATASETS.get(name)


def resolve_suite(suite_or_ids: str | list[str] | tuple[str, ...]) -> list[DatasetSpec]:
    """Expand a suite name (``dev``, ``test``, ``all``) or a comma list of dataset ids into specs."""
    if isinstance(suite_or_ids, str):
        if suite_or_ids in SUITES:
            return [get_dataset(d) for d in SUITES[suite_or_ids]]
        items = [s.strip() for s in suite_or_ids.split(",") if s.strip()]
    else:
        items = list(suite_or_ids)
    if not items:
        raise ValueError(f"Empty dataset selection. Valid suites: {', '.join(SUITES)}; or dataset ids.")
    try:
        return [get_dataset(i) for i in items]
    except ValueError as err:
        raise ValueError(f"{err} Valid suites: {', '.join(SUITES)}.") from None


# Registration: importing the modules registers the eight datasets.
from benchmark.datasets import (  # noqa: E402,F401
    d01_msd_pancreas,
    d02_ribfrac,
    d03_kits21,
    d04_lidc,
    d05_duke_breast,
    d06_luna16,
    d07_pn9,
    d08_cta_a,
)

__all__ = ["DATASETS", "SUITES", "DatasetSpec", "SplitSizes", "get_dataset", "register_dataset", "resolve_suite"]
