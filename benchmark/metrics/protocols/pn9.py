"""PN9 nodule-detection protocol of SANet: LUNA16-style centre hits in voxels, up to 300 candidates per scan.

Source: Mei et al., "SANet: A Slice-Aware Network for Pulmonary Nodule Detection", IEEE TPAMI, 2021 (PN9
dataset), and its evaluation script ``evaluationScript/noduleCADEvaluationLUNA16.py`` in mj129/SANet
(@ 58d2042, unchanged since c4a90b6; the fork mibaumgartner/SANet @ ad55b38 by nnDetection's author changes
only coordinate parsing and matplotlib calls). It is the LUNA16 script with these changes, reproduced and
verified by running it:

* coordinates are voxel indices ``(center_x, center_y, center_z)`` of the 1 mm volumes, the hit radius is
  ``diameter / 2`` of ``test_anno_center.csv``; there are no excluded findings;
* cap of 300 per scan: candidates with probability above the 301st highest minus ``1e-8`` are kept in file
  order until 300 are taken, so ties at the cut are broken by file order (LUNA16 drops them all);
* the sensitivity at a rate is not interpolated: it is the sensitivity of the first FROC point whose FP/scan
  is >= the rate (the last such point when several share that FP/scan), on the ``roc_curve`` points (which
  start at (0, 0) and omit collinear points); the score is their mean at 1/8..8 FP/scan.

Deviations: where the script fails we define the result -- a rate above the curve's largest FP/scan (the
script raises ``ValueError``) takes the curve's last sensitivity; no candidate or no hit gives 0 (script:
crash or NaN); no nodule raises ``ValueError``. Scan ids are compared as integers when they parse as
integers (the script does so for annotations only and compares candidate ids as strings).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.conventions import box_centers, box_sizes
from benchmark.metrics.matching import MatchTable
from benchmark.metrics.protocols._froc import ProtocolResult, check_rates
from benchmark.metrics.protocols.luna16 import (
    LUNA16_RATES,
    _check_cap,
    _columns,
    _finite,
    cap_sanet,
    capped,
    centre_hit_table,
    froc_result,
    read_luna16_csv,
    scan_index,
    sensitivity_at_next,
    stack_columns,
)
from benchmark.metrics.registry import EvaluationInput, MetricResult

__all__ = ["PN9_RATES", "PN9Protocol", "pn9_froc", "pn9_froc_files", "pn9_sensitivity_at", "read_pn9_csv"]

PN9_RATES = LUNA16_RATES
pn9_sensitivity_at = sensitivity_at_next  # SANet's find_nearest rule
CANDIDATE_COLUMNS = ("pid", "center_x", "center_y", "center_z", "probability")
ANNOTATION_COLUMNS = ("pid", "center_x", "center_y", "center_z", "diameter")


def read_pn9_csv(path: str | Path) -> pd.DataFrame:
    """Read a PN9 annotation or result CSV with exact float parsing and string ``pid``."""
    return read_luna16_csv(path)


def _pid(value: object) -> str:
    text = str(value).strip()
    try:
        return str(int(text))
    except ValueError:
        return text


def pn9_froc(
    candidates: pd.DataFrame,
    annotations: pd.DataFrame,
    pids: Sequence[object],
    *,
    max_candidates: int | None = 300,
    rates: Sequence[float] = PN9_RATES,
) -> ProtocolResult:
    """Evaluate PN9 candidates (``pid, center_x, center_y, center_z, probability``, voxels of the 1 mm
    volume) on the scans ``pids`` against ``annotations`` (``pid, center_x, center_y, center_z, diameter``,
    e.g. ``test_anno_center.csv``); ``score`` is the mean sensitivity at ``rates``.
    """
    _columns(candidates, CANDIDATE_COLUMNS, "candidates")
    _columns(annotations, ANNOTATION_COLUMNS, "annotations")
    cap = _check_cap(max_candidates)
    rates_t = check_rates(rates)
    ids = [_pid(p) for p in pids]
    n_scans = len(ids)
    if n_scans == 0:
        raise ValueError("pids is empty")

    c_scan = scan_index([_pid(p) for p in candidates["pid"].tolist()], ids)
    c_xyz = _finite(candidates[["center_x", "center_y", "center_z"]].to_numpy(np.float64), "candidate centres")
    c_prob = _finite(candidates["probability"].to_numpy(np.float64), "candidate probabilities")
    f_scan = scan_index([_pid(p) for p in annotations["pid"].tolist()], ids)
    f_xyz = _finite(annotations[["center_x", "center_y", "center_z"]].to_numpy(np.float64), "nodule centres")
    f_diam = _finite(annotations["diameter"].to_numpy(np.float64), "nodule diameters")

    keep = capped(c_scan, c_prob, n_scans, cap, cap_sanet)
    included = np.ones(f_scan.size, dtype=bool)
    table = centre_hit_table(ids, c_scan, c_xyz, c_prob, f_scan, f_xyz, f_diam, included, keep)
    table.meta.pop("ignored_on_excluded", None)
    return froc_result("pn9", table, rates_t, rule="next")


def pn9_froc_files(
    results_csv: str | Path, annotations_csv: str | Path, pid_list: str | Path, **kwargs: Any
) -> ProtocolResult:
    """:func:`pn9_froc` on the script's files: results CSV, ``test_anno_center.csv`` and a pid per line."""
    pids = [line.strip() for line in Path(pid_list).read_text().splitlines() if line.strip()]
    return pn9_froc(read_pn9_csv(results_csv), read_pn9_csv(annotations_csv), pids, **kwargs)


@dataclass(frozen=True)
class PN9Protocol:
    """``pn9`` in :data:`~benchmark.metrics.registry.METRICS`: SANet's score on an :class:`EvaluationInput`.

    Works in the voxel frame of the (1 mm) images: candidates are box centres, nodules the ground-truth box
    centres with diameter = the larger in-plane extent (as ``test_anno_center.csv``'s ``diameter`` =
    ``max(x_size, y_size)``); ignored objects neither reward nor penalise hits on them. For the released
    annotation file itself use :func:`pn9_froc`.
    """

    max_candidates: int | None = 300
    rates: tuple[float, ...] = PN9_RATES
    name: str = "pn9"
    description: str = "PN9 (SANet): centre-in-radius hits, <=300 candidates/scan, sensitivity at 1/8..8 FP/scan"

    @property
    def match_key(self) -> Hashable:
        return ("pn9", self.max_candidates)

    def match(self, inputs: EvaluationInput) -> MatchTable:
        ids = [str(c) for c in inputs.ground_truth]
        c_parts, f_parts = [], []
        for i, case_id in enumerate(ids):
            pred = inputs.predictions.get(case_id)
            if pred is not None and len(pred):
                c_parts.append((np.full(len(pred), i), box_centers(pred.boxes)[:, ::-1], pred.scores))
            gt = inputs.ground_truth[case_id]
            if len(gt):
                size = box_sizes(gt.boxes)
                f_parts.append(
                    (
                        np.full(len(gt), i),
                        box_centers(gt.boxes)[:, ::-1],
                        np.maximum(size[:, 1], size[:, 2]),
                        ~np.asarray(gt.ignore, bool),
                    )
                )
        scan, xyz, prob = stack_columns(c_parts, (np.int64, (0, 3), np.float64))
        f_scan, f_xyz, f_diam, f_incl = stack_columns(f_parts, (np.int64, (0, 3), np.float64, bool))
        keep = capped(scan, np.asarray(prob, np.float64), len(ids), _check_cap(self.max_candidates), cap_sanet)
        table = centre_hit_table(ids, scan, xyz, prob, f_scan, f_xyz, f_diam, f_incl, keep)
        table.meta["annotation_source"] = "ground_truth_boxes"
        return table

    def score(self, table: MatchTable, weights: np.ndarray | None = None) -> MetricResult:
        result = froc_result(self.name, table, check_rates(self.rates), "next", table.check_weights(weights))
        return MetricResult(self.name, result.score, result.as_dict())
