"""COCO-style mean average precision from a :class:`MatchTable`, optionally with per-image bootstrap weights.

Per class (source: pycocotools ``cocoeval.py`` ``accumulate``, as used by nnDetection's ``COCOMetric``):
detections of all images are taken in descending score order (ties: image order, then rank in the image),
cumulative TP and FP counts give recall ``TP / n_gt`` and precision ``TP / (TP + FP)``; the precision is made
monotone from the right (envelope); at each of the 101 recall thresholds ``0, 0.01, ..., 1`` the envelope is
read at the first operating point whose recall reaches the threshold (``searchsorted`` left), and 0 where the
recall is never reached. AP is the mean of the 101 values; mAP is the mean over **classes with ground truth**.

Deliberate deviations from nnDetection, both documented in ``docs/predictions-format.md``:

* a class without ground truth is left out of the mean (nnDetection averages it in as -1, its issue #276);
* thresholds are exact fractions ``k/100`` (``np.linspace`` puts e.g. 0.70 one ulp above 7/10, so
  nnDetection treats recall 7/10 as below 0.70). Pass ``recall_thresholds=np.linspace(0, 1, 101)`` to
  reproduce nnDetection/MONAI to the last bit.

Weights multiply each image's detections and objects (integer bootstrap counts: 0 drops an image, 2 counts
it twice); the one sort is cached on the table, so a weighted evaluation is a few cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.metrics.matching import MatchTable

__all__ = ["APResult", "average_precision", "map_from_matches", "recall_grid"]

N_RECALL_THRESHOLDS = 101


def recall_grid(n: int = N_RECALL_THRESHOLDS) -> np.ndarray:
    """``n`` evenly spaced recall thresholds from 0 to 1, as exact fractions ``k / (n - 1)``."""
    if n < 2:
        raise ValueError(f"need at least 2 recall thresholds, got {n}")
    return np.arange(n) / (n - 1)


@dataclass(frozen=True)
class APResult:
    """mAP and its parts. ``per_class`` and ``recall`` are NaN for classes without ground truth."""

    map: float
    per_class: np.ndarray
    recall: np.ndarray
    num_gt: np.ndarray
    class_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return {
            "map": f(self.map),
            "per_class": {c: f(v) for c, v in zip(self.class_names, self.per_class, strict=True)},
            "recall": {c: f(v) for c, v in zip(self.class_names, self.recall, strict=True)},
            "num_gt": {c: float(v) for c, v in zip(self.class_names, self.num_gt, strict=True)},
        }


def average_precision(
    tp_cum: np.ndarray, fp_cum: np.ndarray, num_gt: float, thresholds: np.ndarray | None = None
) -> tuple[float, float]:
    """101-point interpolated AP and final recall from cumulative TP/FP counts in score order.

    The counts may be restricted to the true-positive positions: the first position reaching a recall is
    always a true positive, and the envelope's maximum over later positions is attained at one. Returns
    ``(nan, nan)`` when ``num_gt`` is 0.
    """
    if num_gt <= 0:
        return float("nan"), float("nan")
    thresholds = recall_grid() if thresholds is None else np.asarray(thresholds, np.float64)
    if len(tp_cum) == 0:
        return 0.0, 0.0
    tp_cum = np.asarray(tp_cum, np.float64)
    total = tp_cum + np.asarray(fp_cum, np.float64)
    recall = tp_cum / num_gt
    precision = np.divide(tp_cum, total, out=np.zeros_like(tp_cum), where=total > 0)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, thresholds, side="left")
    reached = idx < len(recall)
    ap = float(envelope[idx[reached]].sum() / len(thresholds))
    return ap, float(recall[-1])


def map_from_matches(
    table: MatchTable, weights: Any = None, recall_thresholds: Any = N_RECALL_THRESHOLDS
) -> APResult:
    """Mean AP over classes with ground truth, from ``table`` alone (``weights``: per-image counts or None).

    ``recall_thresholds`` is a count (exact fractions) or an explicit array. mAP is NaN when no class has
    ground truth (e.g. a bootstrap resample without positives).
    """
    w = table.check_weights(weights)
    if np.ndim(recall_thresholds) == 0:
        thresholds = recall_grid(int(recall_thresholds))
    else:
        thresholds = np.asarray(recall_thresholds, np.float64)
    num_gt = table.gt_counts.sum(axis=0) if w is None else w @ table.gt_counts
    ap = np.full(table.n_classes, np.nan)
    rec = np.full(table.n_classes, np.nan)
    for c, s in enumerate(table.sorted_by_class):
        if num_gt[c] > 0:
            tp_cum, fp_cum = s.cumulative(w)
            rows = s.tp_rows
            ap[c], rec[c] = average_precision(tp_cum[rows], fp_cum[rows], float(num_gt[c]), thresholds)
    valid = num_gt > 0
    mean = float(ap[valid].mean()) if valid.any() else float("nan")
    return APResult(
        map=mean, per_class=ap, recall=rec, num_gt=num_gt.astype(np.float64), class_names=table.class_names
    )
