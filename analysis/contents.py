"""What a results store holds, read from its runs' ``result.json``: real datasets or synthetic twins, twin scale,
models, test images, profiles, seeds and folds. Reports state it, and only real datasets are compared with the
paper's reported results (a synthetic twin ``S0k`` mirrors ``D0k`` but its numbers are not comparable with it).

Every field is read defensively: runs written by older code, by hand or by :mod:`analysis.synthetic_store` may
lack provenance; what is not recorded is reported as ``"unknown"``, never guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.store import RESULT_FILE, ModelKey, ResultsStore, open_store

__all__ = [
    "MIXED",
    "NOT_COMPARABLE_TWINS",
    "REAL",
    "SYNTHETIC_TWIN",
    "UNKNOWN",
    "DatasetContents",
    "StoreContents",
    "describe_store",
    "kind_from_id",
    "run_kind",
]

REAL, SYNTHETIC_TWIN, UNKNOWN, MIXED = "real", "synthetic_twin", "unknown", "mixed"
KIND_LABELS = {REAL: "real", SYNTHETIC_TWIN: "synthetic twin", UNKNOWN: "unknown", MIXED: "mixed"}
NOT_COMPARABLE_TWINS = "not applicable: synthetic twins are not comparable with the paper's real-data results"
_TWIN_ID = re.compile(r"^[sS]\d\d$")
_REAL_ID = re.compile(r"^D\d\d$")


def kind_from_id(dataset: str) -> str:
    """The kind a dataset id alone implies: ``S0k`` is a synthetic twin; a registered ``D0k`` is real; else unknown."""
    if _TWIN_ID.match(dataset):
        return SYNTHETIC_TWIN
    if _REAL_ID.match(dataset):
        from benchmark.datasets import DATASETS

        return REAL if dataset in DATASETS else UNKNOWN
    return UNKNOWN


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def run_kind(record: Mapping[str, Any], dataset: str) -> str:
    """A run's dataset kind from its ``result.json``: the provenance decides, the dataset id only when it is silent.

    Synthetic: ``provenance.dataset.source.kind == "synthetic_twin"`` (the twin generator's record), or a
    ``synthetic: true`` flag (top level, provenance or its dataset). Real: the dataset was written by a
    ``benchmark.converters`` converter.
    """
    prov = _dict(record.get("provenance"))
    ds = _dict(prov.get("dataset"))
    source = _dict(ds.get("source"))
    if source.get("kind") == SYNTHETIC_TWIN or any(d.get("synthetic") is True for d in (record, prov, ds)):
        return SYNTHETIC_TWIN
    if str(source.get("converter", "")).startswith("benchmark.converters"):
        return REAL
    return kind_from_id(dataset)


def _known(value: Any) -> bool:
    """A recorded value (None counts: fold None means the official split, not a fold); NaN/NA do not."""
    if value is None:
        return True
    try:
        return not bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers
        return True


def _run_identity(record: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """Profile, seed and fold of a run: the store's index or ``result.json`` when they have them, else the
    provenance's experiment config (``seed`` also the provenance's own); ``unknown`` when none records it."""
    prov = _dict(record.get("provenance"))
    config = _dict(prov.get("config"))
    out: dict[str, Any] = {}
    for key in ("profile", "seed", "fold"):
        for source in (row, record, config, prov if key == "seed" else {}):
            if key in source and _known(source[key]) and not (key == "seed" and source[key] is None):
                value = source[key]
                out[key] = value.item() if hasattr(value, "item") else value
                break
        else:
            out[key] = UNKNOWN
    return out


def _read_run(row: Mapping[str, Any]) -> dict[str, Any]:
    path = Path(row["path"]) / RESULT_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    record = record if isinstance(record, dict) else {}
    dataset = row["dataset"]
    prov = _dict(record.get("provenance"))
    ds = _dict(prov.get("dataset"))
    source = _dict(ds.get("source"))
    kind = run_kind(record, dataset)
    n_images = record.get("n_images")
    return {
        "dataset": dataset,
        "architecture": row["architecture"],
        "pretraining": row["pretraining"],
        "kind": kind,
        "mirrors": source.get("mirrors") or (("D" + dataset[1:]) if kind == SYNTHETIC_TWIN and _TWIN_ID.match(dataset)
                                             else None),
        "scale": str(source["scale"]) if kind == SYNTHETIC_TWIN and source.get("scale") else UNKNOWN,
        "generator": str(prov.get("generator") or source.get("generator") or source.get("converter") or UNKNOWN),
        "n_images": int(n_images) if isinstance(n_images, int) else UNKNOWN,
        "revision": str(prov.get("git_revision") or UNKNOWN),
        "machine": machine_label(_dict(prov.get("environment"))),
        **_run_identity(record, row),
    }


def machine_label(env: Mapping[str, Any]) -> str:
    """``AMD EPYC, AVX512, torch 2.13.0+cpu`` (``, GPU NAME`` when one was used): what a run's floating-point
    rounding depends on besides the code, from ``provenance.environment``; ``unknown`` for runs recorded before
    the CPU was (detbench before 2026-12-04)."""
    if not env.get("cpu"):
        return UNKNOWN
    parts = [str(env["cpu"]), str(env.get("torch_cpu_capability") or "?"), f"torch {env.get('torch', '?')}"]
    return ", ".join(parts + ([str(env["gpu"])] if env.get("gpu") else []))


def _values(series: pd.Series) -> list[Any]:
    """Distinct values in a stable, readable order (known values sorted, ``unknown`` last)."""
    seen = list(dict.fromkeys(series.tolist()))
    known = [v for v in seen if v != UNKNOWN]
    try:
        known = sorted(known, key=lambda v: (v is None, v))
    except TypeError:
        known = sorted(known, key=str)
    return known + ([UNKNOWN] if UNKNOWN in seen else [])


@dataclass(frozen=True)
class DatasetContents:
    """One dataset of the store: its kind, the real dataset a twin mirrors, twin scale(s), test images, models."""

    dataset: str
    kind: str
    mirrors: str | None
    scales: tuple[str, ...]
    n_test_images: tuple[Any, ...]
    models: tuple[ModelKey, ...]
    generators: tuple[str, ...]

    @property
    def label(self) -> str:
        """``S01 (synthetic twin of D01, scale tiny)`` style description."""
        if self.kind == SYNTHETIC_TWIN:
            parts = [f"synthetic twin of {self.mirrors}" if self.mirrors else "synthetic twin"]
            parts.append(f"scale {'/'.join(self.scales)}")
            return f"{self.dataset} ({', '.join(parts)})"
        return f"{self.dataset} ({KIND_LABELS.get(self.kind, self.kind)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mirrors": self.mirrors,
            "twin_scale": list(self.scales) if self.kind == SYNTHETIC_TWIN else None,
            "n_test_images": self.n_test_images[0] if len(self.n_test_images) == 1 else list(self.n_test_images),
            "n_models": len(self.models),
            "generator": list(self.generators),
        }


@dataclass(frozen=True)
class StoreContents:
    """What a store holds (:func:`describe_store`); ``runs`` has one row per run with its kind and identity."""

    root: Path
    runs: pd.DataFrame  # dataset, architecture, pretraining, kind, mirrors, scale, generator, n_images, profile...

    @property
    def datasets(self) -> dict[str, DatasetContents]:
        out = {}
        for dataset, r in self.runs.groupby("dataset", sort=True):
            kinds = set(r["kind"])
            mirrors = [m for m in dict.fromkeys(r["mirrors"]) if isinstance(m, str)]
            out[dataset] = DatasetContents(
                dataset=dataset,
                kind=kinds.pop() if len(kinds) == 1 else MIXED,
                mirrors=mirrors[0] if len(mirrors) == 1 else None,
                scales=tuple(_values(r["scale"])),
                n_test_images=tuple(_values(r["n_images"])),
                models=tuple(sorted(set(zip(r["architecture"], r["pretraining"], strict=True)))),
                generators=tuple(_values(r["generator"])),
            )
        return out

    def of_kind(self, kind: str) -> list[str]:
        return [d for d, c in self.datasets.items() if c.kind == kind]

    @property
    def real_datasets(self) -> list[str]:
        return self.of_kind(REAL)

    @property
    def twin_datasets(self) -> list[str]:
        return self.of_kind(SYNTHETIC_TWIN)

    @property
    def models(self) -> list[ModelKey]:
        return sorted(set(zip(self.runs["architecture"], self.runs["pretraining"], strict=True)))

    @property
    def profiles(self) -> list[Any]:
        return _values(self.runs["profile"])

    @property
    def seeds(self) -> list[Any]:
        return _values(self.runs["seed"])

    @property
    def folds(self) -> list[Any]:
        return _values(self.runs["fold"])

    def _runs_per(self, column: str) -> dict[str, int]:
        if column not in self.runs:
            return {}
        return {str(v): int((self.runs[column] == v).sum()) for v in _values(self.runs[column])}

    @property
    def revisions(self) -> dict[str, int]:
        """Runs per code revision (``git_revision`` of each run's provenance; ``+dirty``: uncommitted changes)."""
        return self._runs_per("revision")

    @property
    def machines(self) -> dict[str, int]:
        """Runs per machine (:func:`machine_label`: CPU model, torch's CPU capability and version, GPU)."""
        return self._runs_per("machine")

    def revision_note(self) -> str:
        """A warning when the runs come from more than one code revision, else ``""``.

        Training is bitwise reproducible within one revision on one machine, but a change anywhere in the
        numerics (an operator order, a layout) moves a trained model by about the seed-to-seed spread, so runs of
        different revisions differ by more than their bootstrap intervals say. A store filled over days, or by a
        runner whose working tree changed under it (each ``--jobs`` cell imports the code on disk when it starts),
        mixes revisions.
        """
        from benchmark.provenance import short_revision

        revisions = self.revisions
        if len(revisions) < 2:
            return ""
        listed = ", ".join(f"`{short_revision(r)}` ({n} runs)" for r, n in revisions.items())
        return (f"The runs come from {len(revisions)} code revisions: {listed}. Results of different revisions "
                "can differ by about the seed-to-seed spread; rerun them on one revision before reading small "
                "differences.")

    def machine_note(self) -> str:
        """A warning when the runs were computed on more than one known machine, else ``""``.

        The same revision on another CPU model or instruction set (or on a GPU) runs other kernels, which round
        differently; at a laptop budget that moved single test scores by up to 23.5 points of mAP@0.1 (README.md,
        2026-12-04: S06 with the ``cpu`` profile on two machines). Runs of unknown machines (recorded before the
        CPU was) are not counted as another machine.
        """
        known = {m: n for m, n in self.machines.items() if m != UNKNOWN}
        if len(known) < 2:
            return ""
        listed = "; ".join(f"`{m}` ({n} runs)" for m, n in known.items())
        return (f"The runs were computed on {len(known)} machines: {listed}. The same code rounds differently on "
                "another CPU or GPU, which can move a result by about the seed-to-seed spread; compare runs of one "
                "machine before reading small differences.")

    def subset(self, datasets: list[str] | None = None, models: list[ModelKey] | None = None) -> StoreContents:
        """The runs of the given datasets and models (what an analysis used)."""
        keep = pd.Series(True, index=self.runs.index)
        if datasets is not None:
            keep &= self.runs["dataset"].isin(list(datasets))
        if models is not None:
            wanted = set(map(tuple, models))
            keep &= pd.Series([(a, p) in wanted for a, p in zip(self.runs["architecture"], self.runs["pretraining"],
                                                                  strict=True)], index=self.runs.index, dtype=bool)
        return StoreContents(self.root, self.runs[keep].reset_index(drop=True))

    def describe(self) -> str:
        """One line: ``3 datasets (S01 (synthetic twin of D01, scale tiny), ...), 4 models, profile cpu, seed 0``."""
        sets = ", ".join(c.label for c in self.datasets.values())
        return (f"{len(self.datasets)} dataset(s): {sets}; {len(self.models)} model(s); "
                f"profile {'/'.join(map(str, self.profiles))}; seed {'/'.join(map(str, self.seeds))}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "datasets": {d: c.to_dict() for d, c in self.datasets.items()},
            "real_datasets": self.real_datasets,
            "synthetic_twins": self.twin_datasets,
            "other_datasets": [d for d, c in self.datasets.items() if c.kind not in (REAL, SYNTHETIC_TWIN)],
            "n_runs": len(self.runs),
            "profiles": self.profiles,
            "seeds": self.seeds,
            "folds": self.folds,
            "code_revisions": self.revisions,
            "machines": self.machines,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per dataset: kind, mirrors, twin scale, test images, models, runs, profiles, seeds, folds."""
        rows = []
        for dataset, c in self.datasets.items():
            r = self.runs[self.runs["dataset"] == dataset]
            rows.append({
                "dataset": dataset,
                "kind": KIND_LABELS.get(c.kind, c.kind),
                "mirrors": c.mirrors or "",
                "twin scale": "/".join(c.scales) if c.kind == SYNTHETIC_TWIN else "",
                "test images": "/".join(map(str, c.n_test_images)),
                "models": len(c.models),
                "runs": len(r),
                "profiles": "/".join(map(str, _values(r["profile"]))),
                "seeds": "/".join(map(str, _values(r["seed"]))),
                "folds": "/".join(map(str, _values(r["fold"]))),
                "generator": "/".join(c.generators),
            })
        return pd.DataFrame(rows)


def describe_store(store: ResultsStore | str | Path) -> StoreContents:
    """Read every run's ``result.json`` of ``store`` and collect what the store holds."""
    store = store if isinstance(store, ResultsStore) else open_store(store)
    rows = [_read_run(row) for row in store.runs.to_dict("records")]
    return StoreContents(Path(store.root), pd.DataFrame(rows))
