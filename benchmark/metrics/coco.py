"""COCO-style mean average precision from a :class:`MatchTable`, optionally with per-image bootstrap weights.

Per class (source: pycocotools ``cocoeval.py`` ``accumulate``, as used by nnDetection's ``COCOMetric`` and its
port ``monai.apps.detection.metrics.coco``): detections of all images are taken in descending score order
(ties: image order, then rank in the image), cumulative TP and FP counts give recall ``TP / n_gt`` and
precision ``TP / (TP + FP)``; the precision is made monotone from the right (envelope); at each of the 101
recall thresholds the envelope is read at the first operating point whose recall reaches the threshold
(``searchsorted`` left), and 0 where the recall is never reached. AP is the mean of the 101 values; mAP is the
mean over **classes with ground truth**.

Two recall rules (``recall_rule``), which differ only in when a recall counts as reaching a threshold:

* ``"nndetection"`` (the default, :data:`DEFAULT_RECALL_RULE`): as nnDetection/MONAI compute it. Their
  cumulative counts are float32, so the recall ``TP / n_gt`` is a float32 quotient (9/10 becomes
  0.899999976), compared with the float64 thresholds ``np.linspace(0, 1, 101)`` (whose entries for 0.35, 0.41,
  0.47, 0.57, 0.69, 0.70, 0.82, 0.83, 0.94 and 0.95 are one ulp above ``k/100``). A recall of exactly 9/10
  therefore misses the 0.90 point: one image with 10 objects and 9 correct detections scores 90/101, not
  91/101. This is what makes numbers comparable with the paper (which used nnDetection's metric code) and
  with nnDetection users; the test suite checks it against MONAI's ``COCOMetric`` per class.
* ``"exact"``: recall ``TP / n_gt`` in float64 against the exact fractions ``k/100``; a recall of exactly
  ``k/100`` reaches threshold ``k`` (float64 comparisons agree with the rational ones here).

Precision is ``TP / (TP + FP)`` under both rules. nnDetection adds ``np.spacing(1)`` to the denominator; that
changes only a precision of 1 after a single detection (to ``1 - 2**-52``), so it is left out (a perfect
detector scores exactly 1); the AP differs from MONAI's by at most a few ulps. A class without ground truth is
left out of the mean (nnDetection averages it in as -1, its issue #276).

Weights are per-image bootstrap counts (integers: 0 drops an image, 2 counts it twice). The result equals
scoring the **resampled set** from scratch, which is defined as the images in image order, each image's copies
adjacent, so that among tied scores the order is: image, then copy, then rank in the image. Inside a run of
tied scores an image's detections (its *block*) are therefore repeated copy by copy (TP, FP, TP, FP for a block
TP, FP counted twice), not detection by detection; only blocks holding both a TP and an FP are affected, and
only these are expanded. Non-integral weights multiply each detection. The one sort is cached on the table, so
a weighted evaluation is a few cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.metrics.matching import MatchTable

__all__ = [
    "DEFAULT_RECALL_RULE",
    "RECALL_RULES",
    "APResult",
    "average_precision",
    "check_recall_rule",
    "map_from_matches",
    "recall_grid",
    "recall_thresholds_for",
    "recall_values",
]

N_RECALL_THRESHOLDS = 101
RECALL_RULES = ("nndetection", "exact")
DEFAULT_RECALL_RULE = "nndetection"


def check_recall_rule(rule: str) -> str:
    """``rule`` if it is one of :data:`RECALL_RULES`, else a ValueError naming the valid ones."""
    if rule not in RECALL_RULES:
        raise ValueError(f"Unknown recall rule {rule!r}. Valid: {', '.join(RECALL_RULES)}")
    return rule


def recall_grid(n: int = N_RECALL_THRESHOLDS, rule: str = "exact") -> np.ndarray:
    """``n`` evenly spaced recall thresholds from 0 to 1: exact fractions ``k / (n - 1)`` (``rule="exact"``)
    or nnDetection's ``np.linspace(0, 1, n)`` (``rule="nndetection"``)."""
    if n < 2:
        raise ValueError(f"need at least 2 recall thresholds, got {n}")
    if check_recall_rule(rule) == "nndetection":
        return np.linspace(0.0, 1.0, n)
    return np.arange(n) / (n - 1)


def recall_thresholds_for(recall_thresholds: Any, rule: str) -> np.ndarray:
    """Thresholds from a count (the rule's even grid, :func:`recall_grid`) or an explicit array (used as is)."""
    check_recall_rule(rule)
    if np.ndim(recall_thresholds) == 0:
        return recall_grid(int(recall_thresholds), rule)
    return np.asarray(recall_thresholds, np.float64).reshape(-1)


def recall_values(tp: np.ndarray, num_gt: Any, rule: str = DEFAULT_RECALL_RULE) -> np.ndarray:
    """Recall ``tp / num_gt`` as the rule computes it, as float64 (``nndetection``: a float32 quotient).

    ``num_gt`` is a scalar or broadcasts against ``tp``.
    """
    if check_recall_rule(rule) == "nndetection":
        with np.errstate(invalid="ignore", divide="ignore"):
            q = np.asarray(tp, np.float64).astype(np.float32) / np.asarray(num_gt, np.float64).astype(np.float32)
        return q.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(tp, np.float64) / np.asarray(num_gt, np.float64)


@dataclass(frozen=True)
class APResult:
    """mAP and its parts. ``per_class`` and ``recall`` are NaN for classes without ground truth."""

    map: float
    per_class: np.ndarray
    recall: np.ndarray
    num_gt: np.ndarray
    class_names: tuple[str, ...]
    recall_rule: str = DEFAULT_RECALL_RULE

    def to_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return {
            "map": f(self.map),
            "per_class": {c: f(v) for c, v in zip(self.class_names, self.per_class, strict=True)},
            "recall": {c: f(v) for c, v in zip(self.class_names, self.recall, strict=True)},
            "num_gt": {c: float(v) for c, v in zip(self.class_names, self.num_gt, strict=True)},
            "recall_rule": self.recall_rule,
        }


def average_precision(
    tp_cum: np.ndarray,
    fp_cum: np.ndarray,
    num_gt: float,
    thresholds: np.ndarray | None = None,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> tuple[float, float]:
    """101-point interpolated AP and final recall from cumulative TP/FP counts in score order.

    ``thresholds`` defaults to the rule's 101-point grid; the returned final recall is ``TP / n_gt`` in
    float64 under both rules (the rule governs only the threshold comparisons). The counts may be restricted
    to the true-positive positions: the first position reaching a recall is always a true positive, and the
    envelope's maximum over later positions is attained at one. Returns ``(nan, nan)`` when ``num_gt`` is 0.
    """
    check_recall_rule(recall_rule)
    if num_gt <= 0:
        return float("nan"), float("nan")
    thresholds = recall_thresholds_for(N_RECALL_THRESHOLDS if thresholds is None else thresholds, recall_rule)
    if len(tp_cum) == 0:
        return 0.0, 0.0
    tp_cum = np.asarray(tp_cum, np.float64)
    total = tp_cum + np.asarray(fp_cum, np.float64)
    recall = recall_values(tp_cum, num_gt, recall_rule)
    precision = np.divide(tp_cum, total, out=np.zeros_like(tp_cum), where=total > 0)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, thresholds, side="left")
    reached = idx < len(recall)
    ap = float(envelope[idx[reached]].sum() / len(thresholds))
    return ap, float(tp_cum[-1] / num_gt)  # the final recall itself is reported exactly under both rules


def map_from_matches(
    table: MatchTable,
    weights: Any = None,
    recall_thresholds: Any = N_RECALL_THRESHOLDS,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> APResult:
    """Mean AP over classes with ground truth, from ``table`` alone (``weights``: per-image counts or None).

    ``recall_thresholds`` is a count (the rule's even grid) or an explicit array; ``recall_rule`` is
    ``"nndetection"`` (default) or ``"exact"`` (see the module docstring). mAP is NaN when no class has ground
    truth (e.g. a bootstrap resample without positives).
    """
    w = table.check_weights(weights)
    thresholds = recall_thresholds_for(recall_thresholds, recall_rule)
    num_gt = table.gt_counts.sum(axis=0) if w is None else w @ table.gt_counts
    ap = np.full(table.n_classes, np.nan)
    rec = np.full(table.n_classes, np.nan)
    for c, s in enumerate(table.sorted_by_class):
        if num_gt[c] > 0:
            tp_at, fp_at = s.counts_at_true_positives(w)
            ap[c], rec[c] = average_precision(tp_at, fp_at, float(num_gt[c]), thresholds, recall_rule)
    valid = num_gt > 0
    mean = float(ap[valid].mean()) if valid.any() else float("nan")
    return APResult(
        map=mean,
        per_class=ap,
        recall=rec,
        num_gt=num_gt.astype(np.float64),
        class_names=table.class_names,
        recall_rule=recall_rule,
    )
