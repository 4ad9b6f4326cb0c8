"""A run's LUNA16 evaluation as the challenge's tables, so that the ten folds' test scans can be pooled later.

The LUNA16 tables report one CPM over all 888 scans, each scored by the model of the fold that tested it
(Setio et al. 2017; :func:`benchmark.metrics.protocols.luna16.luna16_pooled_froc`). Pooling needs every fold's
candidates, not its CPM, so a run on LUNA16 (D06, or its twin S06) writes the folder ``protocol_luna16/``::

    candidates.csv             seriesuid,coordX,coordY,coordZ,probability   (world mm, all test candidates)
    annotations.csv            seriesuid,coordX,coordY,coordZ,diameter_mm   (the findings that count)
    annotations_excluded.csv   seriesuid,coordX,coordY,coordZ,diameter_mm   (irrelevant findings, ignored hits)
    seriesuids.csv             the run's test scans, one a line, no header (as the challenge's list)
    info.json                  fold, splits version (LUNA16 scheme), annotation source, number of scans

The findings are those the ``luna16`` protocol used for the run: the official ``annotations.csv`` /
``annotations_excluded.csv`` kept at conversion when present, else the ground-truth boxes (centre, mean extent
in mm; ignored objects as irrelevant findings), exactly as :class:`~.luna16.LUNA16Protocol` does. Candidates
are written uncapped; the evaluation applies the 100-per-scan cap itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.conventions import box_centers, box_sizes, voxel_to_world
from benchmark.metrics.protocols.luna16 import (
    ANNOTATION_COLUMNS,
    CANDIDATE_COLUMNS,
    _frame,
    _geometry,
    candidate_centres,
    read_luna16_csv,
    read_seriesuids,
)
from benchmark.metrics.registry import EvaluationInput

__all__ = ["LUNA16_FOLDER", "LUNA16Tables", "luna16_tables", "read_luna16_tables", "write_luna16_tables"]

LUNA16_FOLDER = "protocol_luna16"


class LUNA16Tables:
    """The four tables of one evaluation and its ``info``."""

    def __init__(
        self,
        candidates: pd.DataFrame,
        annotations: pd.DataFrame,
        annotations_excluded: pd.DataFrame,
        seriesuids: list[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.candidates = candidates
        self.annotations = annotations
        self.annotations_excluded = annotations_excluded
        self.seriesuids = seriesuids
        self.info = dict(info or {})


def luna16_tables(inputs: EvaluationInput) -> LUNA16Tables:
    """The candidates and findings the ``luna16`` protocol matches for ``inputs`` (see the module docstring)."""
    ids = [str(c) for c in inputs.ground_truth]
    rows = []
    for case_id in ids:
        pred = inputs.predictions.get(case_id)
        if pred is None or len(pred) == 0:
            continue
        frame = pd.DataFrame(candidate_centres(inputs, case_id, pred), columns=["coordX", "coordY", "coordZ"])
        frame.insert(0, "seriesuid", case_id)
        frame["probability"] = np.asarray(pred.scores, dtype=np.float64)
        rows.append(frame)
    candidates = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(CANDIDATE_COLUMNS))
    wanted = set(ids)
    if "luna16_annotations" in inputs.extra:
        annotations = _frame(inputs.extra["luna16_annotations"])
        excluded_src = inputs.extra.get("luna16_annotations_excluded")
        excluded = _frame(excluded_src) if excluded_src is not None else pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
        annotations = annotations[annotations["seriesuid"].astype(str).isin(wanted)][list(ANNOTATION_COLUMNS)]
        excluded = excluded[excluded["seriesuid"].astype(str).isin(wanted)][list(ANNOTATION_COLUMNS)]
        source = "luna16_annotations"
    else:
        found, ignored = [], []
        for case_id in ids:
            gt = inputs.ground_truth[case_id]
            if not len(gt):
                continue
            geometry = _geometry(inputs, case_id)
            diameter = (box_sizes(gt.boxes) * np.asarray(geometry.spacing)).mean(axis=1)
            centres = voxel_to_world(box_centers(gt.boxes), geometry)
            frame = pd.DataFrame(centres, columns=["coordX", "coordY", "coordZ"])
            frame.insert(0, "seriesuid", case_id)
            frame["diameter_mm"] = diameter
            skip = np.asarray(gt.ignore, bool)
            found.append(frame[~skip])
            ignored.append(frame[skip])
        empty = pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
        annotations = pd.concat(found, ignore_index=True) if found else empty
        excluded = pd.concat(ignored, ignore_index=True) if ignored else empty
        source = "ground_truth_boxes"
    info = {"annotation_source": source, "n_scans": len(ids), "dataset_id": inputs.dataset_id}
    return LUNA16Tables(candidates, annotations.reset_index(drop=True), excluded.reset_index(drop=True), ids, info)


def write_luna16_tables(folder: str | Path, tables: LUNA16Tables, **info: Any) -> Path:
    """Write ``tables`` into ``folder/protocol_luna16/`` (each file atomically); ``info`` joins ``info.json``."""
    from benchmark.core.atomic import atomic_open, atomic_write_json

    out = Path(folder) / LUNA16_FOLDER
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("candidates.csv", tables.candidates),
        ("annotations.csv", tables.annotations),
        ("annotations_excluded.csv", tables.annotations_excluded),
    ):
        with atomic_open(out / name, "w") as fh:
            frame.to_csv(fh, index=False, float_format="%.17g")
    with atomic_open(out / "seriesuids.csv", "w") as fh:
        fh.write("".join(f"{uid}\n" for uid in tables.seriesuids))
    atomic_write_json(out / "info.json", {**tables.info, **info}, indent=2)
    return out


def read_luna16_tables(folder: str | Path) -> LUNA16Tables:
    """Read ``folder/protocol_luna16/`` (or ``folder`` itself when it is that folder)."""
    folder = Path(folder)
    if folder.name != LUNA16_FOLDER:
        folder = folder / LUNA16_FOLDER
    if not (folder / "candidates.csv").is_file():
        raise FileNotFoundError(f"{folder}: no LUNA16 candidate table (candidates.csv)")
    info_file = folder / "info.json"
    return LUNA16Tables(
        read_luna16_csv(folder / "candidates.csv"),
        read_luna16_csv(folder / "annotations.csv"),
        read_luna16_csv(folder / "annotations_excluded.csv"),
        read_seriesuids(folder / "seriesuids.csv"),
        json.loads(info_file.read_text()) if info_file.is_file() else {},
    )
