"""The registry of benchmark datasets. Each dataset is one module that registers its :class:`DatasetSpec`."""

from __future__ import annotations

import difflib

from benchmark.core.registry import Registry, UnknownNameError
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


def _close_datasets(name: object, suites: bool) -> list[str]:
    """Up to three suites, ids, twin ids or names close to ``name`` (case-insensitive)."""
    specs = [spec for _, spec in DATASETS.items()]
    candidates = (list(SUITES) if suites else []) + [s.id for s in specs] + [s.twin_id for s in specs]
    candidates += [s.name for s in specs]
    lowered = {c.lower(): c for c in candidates}
    text = str(name).strip().lower()
    close = difflib.get_close_matches(text, list(lowered), n=3, cutoff=0.6)
    if not close and len(text) >= 3:  # e.g. "pancreas" for "MSD Pancreas", "luna" for "LUNA16"
        close = [c for c in lowered if text in c or c in text][:3]
    return [lowered[c] for c in close]


def _unknown_dataset(names: list[object], suites: bool = False) -> UnknownNameError:
    """An "unknown dataset" error naming every unknown item as typed, with "did you mean" suggestions."""
    hints = []
    for name in names:
        close = _close_datasets(name, suites)
        if close:
            hints.append(", ".join(repr(c) for c in close) + (f" for {name!r}" if len(names) > 1 else ""))
    specs = [spec for _, spec in DATASETS.items()]
    head = f"Unknown dataset {names[0]!r}." if len(names) == 1 else f"Unknown datasets {', '.join(map(repr, names))}."
    hint = f" Did you mean {'; '.join(hints)}?" if hints else ""
    valid = f" Valid names: {', '.join(s.id for s in specs)}, the twin ids {specs[0].twin_id}-{specs[-1].twin_id}"
    valid += f" or the dataset names ({', '.join(s.name for s in specs)})."
    if suites:
        valid += f" Valid suites: {', '.join(SUITES)}."
    return UnknownNameError(head + hint + valid)


def get_dataset(name: str) -> DatasetSpec:
    """Look up a dataset by id (``D06``), twin id (``S06``) or name (``LUNA16``), case-insensitively."""
    key = name.strip() if isinstance(name, str) else name
    if isinstance(key, str) and len(key) == 3 and key[0] in "sS" and key[1:].isdigit():
        key = "D" + key[1:]
    by_name = {spec.name.lower(): k for k, spec in DATASETS.items()}
    if isinstance(key, str) and key.lower() in by_name:
        key = by_name[key.lower()]
    try:
        return DATASETS.get(key)
    except UnknownNameError:
        raise _unknown_dataset([name]) from None


def resolve_suite(suite_or_ids: str | list[str] | tuple[str, ...]) -> list[DatasetSpec]:
    """Expand a suite name (``dev``, ``test``, ``all``) or a comma list of dataset ids into specs.

    Every unknown item is named in one error (with "did you mean" among suites, ids, twin ids and names).
    """
    if isinstance(suite_or_ids, str):
        if suite_or_ids.strip().lower() in SUITES:
            return [get_dataset(d) for d in SUITES[suite_or_ids.strip().lower()]]
        items = [s.strip() for s in suite_or_ids.split(",") if s.strip()]
    else:
        items = list(suite_or_ids)
    if not items:
        raise ValueError(f"Empty dataset selection. Valid suites: {', '.join(SUITES)}; or dataset ids.")
    specs, unknown = [], []
    for item in items:
        try:
            specs.append(get_dataset(item))
        except UnknownNameError:
            unknown.append(item)
    if unknown:
        raise _unknown_dataset(unknown, suites=True)
    return specs


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
