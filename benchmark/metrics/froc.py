"""FROC from a :class:`MatchTable`: sensitivity at fixed false positives per image, per class and averaged.

Definition (nnDetection's ``FROCMetric``, ``nndet/evaluator/detection/froc.py``; FROC after Setio et al.,
LUNA16, MedIA 2017), for one class:

1. Operating points: for every distinct score ``s`` (descending), ``FPI(s) = FP(score >= s) / n_images`` and
   ``sens(s) = TP(score >= s) / n_gt``, preceded by the origin ``(0, 0)``. Tied scores form one point;
   ignored detections count in neither. ``n_images`` counts every evaluated image, with or without
   detections or objects of the class.
2. Sensitivity at a rate ``r`` (``interpolation="linear"``, nnDetection's ``np.interp``): take the last point
   ``j`` with ``FPI_j <= r`` (the highest sensitivity reached within the budget) and interpolate linearly
   towards the next point, ``sens_j + (sens_{j+1} - sens_j) (r - FPI_j) / (FPI_{j+1} - FPI_j)``; beyond the
   last point the final sensitivity holds. ``interpolation="step"`` returns ``sens_j`` (no interpolation).
3. The class score is the mean sensitivity over the rates ``1/8, 1/4, 1/2, 1, 2, 4, 8``.

The reported FROC is the mean over classes **with ground truth** (nnDetection's ``mc_`` score divides by all
classes, counting a class without objects as 0); per-rate values are averaged the same way.
``pool_classes=True`` gives nnDetection's default class-agnostic curve instead. Weights are per-image
bootstrap counts, as in :func:`benchmark.metrics.coco.map_from_matches`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.metrics.matching import MatchTable, SortedClass

__all__ = ["FROC_RATES", "INTERPOLATIONS", "FROCResult", "froc_curve", "froc_from_matches", "sensitivity_at"]

FROC_RATES = (1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0)
INTERPOLATIONS = ("linear", "step")


@dataclass(frozen=True)
class FROCResult:
    """FROC score and parts; ``sensitivity`` rows and ``per_class`` are NaN for classes without objects."""

    score: float
    per_rate: np.ndarray  # [R] mean over classes with ground truth
    per_class: np.ndarray  # [C] mean over rates
    sensitivity: np.ndarray  # [C, R]
    rates: tuple[float, ...]
    class_names: tuple[str, ...]
    num_gt: np.ndarray  # [C]
    num_images: float
    interpolation: str

    def to_dict(self) -> dict[str, Any]:
        def f(x: float) -> float | None:
            return None if np.isnan(x) else float(x)

        return {
            "score": f(self.score),
            "rates": list(self.rates),
            "per_rate": [f(v) for v in self.per_rate],
            "per_class": {c: f(v) for c, v in zip(self.class_names, self.per_class, strict=True)},
            "sensitivity": {
                c: [f(v) for v in row] for c, row in zip(self.class_names, self.sensitivity, strict=True)
            },
            "num_gt": {c: float(v) for c, v in zip(self.class_names, self.num_gt, strict=True)},
            "num_images": float(self.num_images),
            "interpolation": self.interpolation,
        }


def froc_curve(
    s: SortedClass, num_images: float, num_gt: float, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Operating points ``(FP per image, sensitivity)`` of one class, origin first.

    Only the points that can matter for interpolation are returned (``SortedClass.curve_rows``); the
    dropped ones lie on flat stretches between them.
    """
    tp, fp = s.cumulative(weights)
    rows = s.curve_rows
    fpi = fp[rows] / num_images if num_images > 0 else np.zeros(len(rows))
    return np.concatenate([[0.0], fpi]), np.concatenate([[0.0], tp[rows] / num_gt])


def sensitivity_at(
    fpi: np.ndarray, sens: np.ndarray, rates: Any, interpolation: str = "linear"
) -> np.ndarray:
    """Sensitivity at each rate from non-decreasing operating points (see the module docstring)."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation {interpolation!r}. Valid: {', '.join(INTERPOLATIONS)}")
    rates = np.asarray(rates, np.float64)
    j = np.searchsorted(fpi, rates, side="right") - 1  # last point with FPI <= rate (fpi[0] = 0 <= rate)
    out = sens[j].astype(np.float64)
    if interpolation == "linear":
        inner = j < len(fpi) - 1
        jj = j[inner]
        span = fpi[jj + 1] - fpi[jj]  # > 0: fpi[jj + 1] > rate >= fpi[jj]
        out[inner] += (sens[jj + 1] - sens[jj]) * (rates[inner] - fpi[jj]) / span
    return out


def froc_from_matches(
    table: MatchTable,
    weights: Any = None,
    rates: Any = FROC_RATES,
    interpolation: str = "linear",
    pool_classes: bool = False,
) -> FROCResult:
    """FROC (mean sensitivity at ``rates`` FP/image) per class, and the mean over classes with objects."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation {interpolation!r}. Valid: {', '.join(INTERPOLATIONS)}")
    rates_arr = np.asarray(rates, np.float64).reshape(-1)
    if not len(rates_arr) or np.any(~np.isfinite(rates_arr)) or np.any(rates_arr <= 0):
        raise ValueError(f"rates must be positive finite FP-per-image values, got {list(rates_arr)}")
    w = table.check_weights(weights)
    num_images = float(table.n_images if w is None else w.sum())
    num_gt = (table.gt_counts.sum(axis=0) if w is None else w @ table.gt_counts).astype(np.float64)
    if pool_classes:
        sorted_sets, num_gt, names = (table.sorted_pooled,), np.array([num_gt.sum()]), ("all",)
    else:
        sorted_sets, names = table.sorted_by_class, table.class_names
    sens = np.full((len(names), len(rates_arr)), np.nan)
    for c, s in enumerate(sorted_sets):
        if num_gt[c] > 0:
            fpi, curve = froc_curve(s, num_images, num_gt[c], w)
            sens[c] = sensitivity_at(fpi, curve, rates_arr, interpolation)
    valid = num_gt > 0
    per_class = sens.mean(axis=1)
    if valid.any():
        per_rate = sens[valid].mean(axis=0)
        score = float(per_class[valid].mean())
    else:
        per_rate, score = np.full(len(rates_arr), np.nan), float("nan")
    return FROCResult(
        score=score,
        per_rate=per_rate,
        per_class=per_class,
        sensitivity=sens,
        rates=tuple(float(r) for r in rates_arr),
        class_names=tuple(names),
        num_gt=num_gt,
        num_images=num_images,
        interpolation=interpolation,
    )
