"""The results store the runner writes and the analysis reads: one match table and one result record per run.

Layout (``docs/analysis.md`` has the full description)::

    STORE/
      store.json                                   {"format": "detbench-results", "version": 1}
      runs/<dataset>/<architecture>__<pretraining>/
        match_table.npz                            the run's MatchTable on the test split (IoU 0.1 matching)
        result.json                                ids, metric values, provenance
      analysis/                                    written by ``benchmark analyze``

A model is identified by ``(architecture, pretraining)``; ids are lower-case ``[a-z0-9._-]`` words without a
double underscore, so the run folder name ``<architecture>__<pretraining>`` is unambiguous.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.atomic import atomic_open, atomic_write_json
from benchmark.metrics.matching import MatchTable

__all__ = [
    "ANALYSIS_DIR",
    "MATCH_TABLE_FILE",
    "RESULT_FILE",
    "RUNS_DIR",
    "STORE_FORMAT",
    "ModelKey",
    "ResultsStore",
    "check_paired",
    "init_store",
    "load_match_table",
    "open_store",
    "run_dir",
    "save_match_table",
    "table_metrics",
    "write_run",
]

STORE_FORMAT = {"format": "detbench-results", "version": 1}
STORE_FILE = "store.json"
RUNS_DIR = "runs"
ANALYSIS_DIR = "analysis"
MATCH_TABLE_FILE = "match_table.npz"
RESULT_FILE = "result.json"
STORE_METRICS = ("map@0.1", "froc@0.1")
_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*(_[a-z0-9.-]+)*$")
_MATCH_COLUMNS = ("image_index", "class_index", "score", "tp", "ignored", "gt_counts", "det_index", "gt_index")

ModelKey = tuple[str, str]  # (architecture, pretraining)


def _check_id(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(
            f"{kind} id {value!r} is not valid: use lower-case letters, digits, '.', '-' and single '_' "
            "(e.g. 'resenc_retina_unet', 'mae')"
        )
    return value


def _check_dataset(value: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", value):
        raise ValueError(f"dataset id {value!r} is not valid: use letters, digits, '.', '-', '_' (e.g. 'D06')")
    return value


# -- match tables on disk --------------------------------------------------------------------------------
def save_match_table(table: MatchTable, path: str | Path) -> Path:
    """Write ``table`` as a compressed ``.npz`` (columns, ids, class names and JSON meta; no pickles)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(table, name) for name in _MATCH_COLUMNS}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            image_ids=np.asarray(table.image_ids, dtype=str),
            class_names=np.asarray(table.class_names, dtype=str),
            meta=np.asarray(json.dumps(table.meta, sort_keys=True, default=str)),
            **arrays,
        )
    return path


def load_match_table(path: str | Path) -> MatchTable:
    """Read a table written by :func:`save_match_table` (validated again by :class:`MatchTable`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no match table at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # not an npz, truncated, pickled
        why = "not an .npz archive" if "pickle" in str(err) else str(err)
        raise ValueError(f"{path}: not a readable match table ({why}); rerun this experiment") from None
    missing = [k for k in ("image_ids", "class_names", *_MATCH_COLUMNS) if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not a match table, missing arrays {missing}")
    try:
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        return MatchTable(
            image_ids=tuple(arrays["image_ids"].reshape(-1).tolist()),
            class_names=tuple(arrays["class_names"].reshape(-1).tolist()),
            meta=meta,
            **{k: arrays[k] for k in _MATCH_COLUMNS},
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: invalid match table ({err})") from None


def table_metrics(table: MatchTable) -> dict[str, float | None]:
    """The store's metrics (``map@0.1``, ``froc@0.1``) of one match table; NaN becomes None (JSON null)."""
    from benchmark.metrics.coco import map_from_matches
    from benchmark.metrics.froc import froc_from_matches

    values = {"map@0.1": map_from_matches(table).map, "froc@0.1": froc_from_matches(table).score}
    return {k: None if v != v else float(v) for k, v in values.items()}


# -- writing runs ------------------------------------------------------------------------------------------
def init_store(root: str | Path) -> Path:
    """Create (or check) a store folder and its ``store.json``."""
    root = Path(root)
    marker = root / STORE_FILE
    if marker.exists():
        found = json.loads(marker.read_text())
        if found.get("format") != STORE_FORMAT["format"]:
            raise ValueError(f"{root} is not a detbench results store ({marker} says {found})")
    else:
        (root / RUNS_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_json(marker, STORE_FORMAT, indent=2)
    return root


def run_dir(root: str | Path, dataset: str, architecture: str, pretraining: str) -> Path:
    """Folder of one run: ``runs/<dataset>/<architecture>__<pretraining>``."""
    name = f"{_check_id('architecture', architecture)}__{_check_id('pretraining', pretraining)}"
    return Path(root) / RUNS_DIR / _check_dataset(dataset) / name


def write_run(
    root: str | Path,
    dataset: str,
    architecture: str,
    pretraining: str,
    table: MatchTable,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write one run (match table + ``result.json`` with its metrics and provenance); returns the run folder."""
    init_store(root)
    folder = run_dir(root, dataset, architecture, pretraining)
    save_match_table(table, folder / MATCH_TABLE_FILE)
    record = {
        "dataset": dataset,
        "architecture": architecture,
        "pretraining": pretraining,
        "split": "test",
        "n_images": table.n_images,
        "class_names": list(table.class_names),
        "metrics": table_metrics(table),
        "match_table": MATCH_TABLE_FILE,
        "matching": dict(table.meta),
        "provenance": dict(provenance or {}),
        **dict(extra or {}),
    }
    atomic_write_json(folder / RESULT_FILE, record, indent=2, default=str)
    return folder


# -- reading ----------------------------------------------------------------------------------------------
def check_paired(tables: Mapping[ModelKey, MatchTable], dataset: str = "") -> None:
    """Models of one dataset must be evaluated on the same images with the same ground truth (paired bootstrap)."""
    items = list(tables.items())
    if len(items) < 2:
        return
    (key0, ref), where = items[0], f" in dataset {dataset}" if dataset else ""
    ref_gt = dict(zip(ref.image_ids, ref.gt_counts.tolist(), strict=True))
    for key, table in items[1:]:
        if table.class_names != ref.class_names:
            raise ValueError(f"{key}{where}: classes {table.class_names} differ from {key0}: {ref.class_names}")
        if set(table.image_ids) != set(ref.image_ids):
            extra = sorted(set(table.image_ids) - set(ref.image_ids))[:5]
            missing = sorted(set(ref.image_ids) - set(table.image_ids))[:5]
            raise ValueError(
                f"{key}{where}: evaluated on other images than {key0} (extra {extra}, missing {missing}); "
                "every model of a dataset must be evaluated on the same test images"
            )
        differ = [i for i, row in zip(table.image_ids, table.gt_counts.tolist(), strict=True) if ref_gt[i] != row]
        if differ:
            raise ValueError(f"{key}{where}: ground-truth counts differ from {key0} on images {differ[:5]}")


@dataclass
class ResultsStore:
    """An opened results store: the run index and lazily loaded match tables."""

    root: Path
    runs: pd.DataFrame  # dataset, architecture, pretraining, path, and one column per stored metric
    _tables: dict[tuple[str, str, str], MatchTable] = field(default_factory=dict, repr=False)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.runs["dataset"].unique())

    def models(self, dataset: str | None = None) -> list[ModelKey]:
        """The ``(architecture, pretraining)`` keys, of one dataset or of the whole store."""
        runs = self.runs if dataset is None else self.runs[self.runs["dataset"] == dataset]
        return sorted(set(zip(runs["architecture"], runs["pretraining"], strict=True)))

    def table(self, dataset: str, architecture: str, pretraining: str) -> MatchTable:
        key = (dataset, architecture, pretraining)
        if key not in self._tables:
            hit = self.runs[
                (self.runs["dataset"] == dataset)
                & (self.runs["architecture"] == architecture)
                & (self.runs["pretraining"] == pretraining)
            ]
            if hit.empty:
                valid = ", ".join(f"{d}/{a}__{p}" for d, a, p in self.runs[["dataset", "architecture", "pretraining"]]
                                  .itertuples(index=False))
                raise ValueError(f"no run {dataset}/{architecture}__{pretraining} in {self.root}. Runs: {valid}")
            self._tables[key] = load_match_table(Path(hit["path"].iloc[0]) / MATCH_TABLE_FILE)
        return self._tables[key]

    def tables(self, dataset: str) -> dict[ModelKey, MatchTable]:
        """All match tables of one dataset, keyed by model, checked to be paired."""
        tables = {m: self.table(dataset, *m) for m in self.models(dataset)}
        check_paired(tables, dataset)
        return tables

    def metrics(self) -> pd.DataFrame:
        """The metric values recorded in ``result.json`` as a long frame (dataset, model, metric, value)."""
        value_cols = [c for c in self.runs.columns if c in STORE_METRICS]
        long = self.runs.melt(
            id_vars=["dataset", "architecture", "pretraining"], value_vars=value_cols, var_name="metric"
        )
        return long.sort_values(["dataset", "metric", "architecture", "pretraining"], ignore_index=True)


def open_store(root: str | Path, datasets: Iterable[str] | None = None) -> ResultsStore:
    """Index a results store (every ``runs/*/*/result.json``); ``datasets`` restricts the index."""
    root = Path(root)
    runs_root = root / RUNS_DIR
    if not runs_root.is_dir():
        raise FileNotFoundError(f"{root} is not a results store: no {RUNS_DIR}/ folder (see docs/analysis.md)")
    wanted = None if datasets is None else set(datasets)
    rows = []
    for result in sorted(runs_root.glob(f"*/*/{RESULT_FILE}")):
        try:
            record = json.loads(result.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{result}: not valid JSON ({err}); rerun this experiment or remove its folder") from None
        if not isinstance(record, dict):
            raise ValueError(f"{result}: expected a JSON object (a run record); rerun this experiment")
        folder = result.parent
        dataset = record.get("dataset", folder.parent.name)
        if wanted is not None and dataset not in wanted:
            continue
        arch, pre = record.get("architecture"), record.get("pretraining")
        if folder.name != f"{arch}__{pre}" or folder.parent.name != dataset:
            raise ValueError(f"{result}: ids ({dataset}, {arch}, {pre}) do not match the folder {folder}")
        if not (folder / MATCH_TABLE_FILE).is_file():
            raise FileNotFoundError(f"{folder}: {MATCH_TABLE_FILE} is missing")
        row = {"dataset": dataset, "architecture": arch, "pretraining": pre, "path": str(folder)}
        row.update({k: v for k, v in (record.get("metrics") or {}).items() if k in STORE_METRICS})
        rows.append(row)
    if not rows:
        which = "" if wanted is None else f" for datasets {sorted(wanted)}"
        raise FileNotFoundError(f"no runs in {runs_root}{which} (expected runs/<dataset>/<arch>__<pretraining>/)")
    runs = pd.DataFrame(rows)
    for metric in STORE_METRICS:
        if metric in runs:
            runs[metric] = runs[metric].astype(float)
    return ResultsStore(root=root, runs=runs.sort_values(["dataset", "architecture", "pretraining"], ignore_index=True))
