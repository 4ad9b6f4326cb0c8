"""Shared pieces of the official FROC protocols: the result types and an exact ``sklearn.metrics.roc_curve``.

The LUNA16, PN9 (SANet) and nnDetection scripts all build their FROC curve with scikit-learn's
``roc_curve`` (default ``drop_intermediate=True``); :func:`roc_curve_sorted` reproduces its arithmetic
bit for bit (checked against scikit-learn 1.9.1) so that interpolated sensitivities match the scripts exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from benchmark.metrics.matching import MatchTable

__all__ = [
    "BootstrapCI",
    "ProtocolResult",
    "check_rates",
    "froc_points",
    "percentile_bounds",
    "roc_curve_sorted",
    "table_points",
]


@dataclass(frozen=True, eq=False)
class BootstrapCI:
    """Bootstrap mean and confidence bounds of a FROC curve (scan-level resampling with replacement).

    ``fps_grid``/``mean``/``lower``/``upper`` are on the official script's grid; the ``rate_*`` fields and the
    ``score_*`` fields interpolate each bootstrap curve exactly at the protocol's rates.
    """

    n_bootstraps: int
    confidence: float
    fps_grid: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    rate_mean: tuple[float, ...]
    rate_lower: tuple[float, ...]
    rate_upper: tuple[float, ...]
    score_mean: float
    score_lower: float
    score_upper: float


@dataclass(frozen=True, eq=False)
class ProtocolResult:
    """Outcome of one protocol run: the score, the sensitivity at each FP/scan rate, and the FROC curve.

    ``fps``/``sensitivity``/``thresholds`` are the curve points by ascending FP per scan (the ROC-based
    protocols start at (0, 0); RibFrac's are its 100 probability thresholds); ``details`` holds
    protocol-specific counts (ignored candidates, double hits, ...).
    """

    protocol: str
    score: float
    rates: tuple[float, ...]
    sensitivities: tuple[float, ...]
    fps: np.ndarray
    sensitivity: np.ndarray
    thresholds: np.ndarray
    n_scans: int
    n_lesions: int
    n_detected: int
    n_false_positives: int
    details: dict[str, float] = field(default_factory=dict)
    bootstrap: BootstrapCI | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain-Python summary (no arrays), e.g. for JSON."""
        out: dict[str, object] = {
            "protocol": self.protocol,
            "score": self.score,
            "rates": list(self.rates),
            "sensitivities": list(self.sensitivities),
            "n_scans": self.n_scans,
            "n_lesions": self.n_lesions,
            "n_detected": self.n_detected,
            "n_false_positives": self.n_false_positives,
            **self.details,
        }
        if self.bootstrap is not None:
            b = self.bootstrap
            out["bootstrap"] = {
                "n_bootstraps": b.n_bootstraps,
                "confidence": b.confidence,
                "score_mean": b.score_mean,
                "score_lower": b.score_lower,
                "score_upper": b.score_upper,
            }
        return out


def check_rates(rates: Sequence[float]) -> tuple[float, ...]:
    """Validate FP-per-scan rates (non-empty, finite, non-negative) and return them as a tuple of floats."""
    out = tuple(float(r) for r in rates)
    if not out or not all(math.isfinite(r) and r >= 0 for r in out):
        raise ValueError(f"rates must be a non-empty sequence of finite FP/scan values >= 0, got {rates!r}")
    return out


def roc_curve_sorted(
    scores: np.ndarray, pos_weight: np.ndarray, neg_weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sklearn.metrics.roc_curve`` (with ``drop_intermediate``) on entries already sorted by descending score.

    ``pos_weight``/``neg_weight`` give each entry's multiplicity as a positive/negative (0/1 for a plain list,
    counts for a bootstrap sample). Returns ``(fpr, tpr, thresholds)``; a rate whose total is 0 is NaN, as in
    scikit-learn. The input must not be empty.
    """
    n = scores.shape[0]
    if n == 0:
        raise ValueError("roc_curve_sorted needs at least one entry")
    ends = np.r_[np.flatnonzero(np.diff(scores)), n - 1]
    tps = np.cumsum(pos_weight, dtype=np.float64)[ends]
    fps = np.cumsum(neg_weight, dtype=np.float64)[ends]
    thresholds = scores[ends].astype(np.float64)
    if fps.shape[0] > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    tps = np.r_[0.0, tps]
    fps = np.r_[0.0, fps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, thresholds


def percentile_bounds(sorted_values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower/upper bounds the LUNA16 way: ``v[floor(Pz n)]`` and ``v[floor((1 - Pz) n)]``, ``Pz = (1 - c) / 2``.

    ``sorted_values`` is sorted along axis 0 (NaN last, as ``np.sort`` leaves it).
    """
    n = sorted_values.shape[0]
    pz = (1.0 - confidence) / 2.0
    return sorted_values[int(math.floor(pz * n))], sorted_values[int(math.floor((1.0 - pz) * n))]


def froc_points(
    s_sorted: np.ndarray, pos_w: np.ndarray, neg_w: np.ndarray, n_lesions: float, n_scans: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FP/scan and sensitivity along the ROC of weighted entries sorted by descending score.

    LUNA16's ``computeFROC`` and nnDetection's ``compute_froc_curve_one_iou`` share this arithmetic:
    ``fps = fpr * n_fp / n_scans`` (0 without false positives), ``sens = tpr * n_tp / n_lesions``. Where the
    scripts fail we define the result: no entry gives the single point (0, 0); no true positive gives
    sensitivity 0 (the scripts: NaN).
    """
    if s_sorted.size == 0:
        return np.zeros(1), np.zeros(1), np.full(1, np.inf)
    fpr, tpr, thresholds = roc_curve_sorted(s_sorted, pos_w, neg_w)
    n_tp = float(pos_w.sum())
    n_fp = float(neg_w.sum())
    fps = np.zeros(fpr.shape[0]) if n_fp == 0 else fpr * n_fp / n_scans
    sens = np.zeros(tpr.shape[0]) if n_tp == 0 else (tpr * n_tp) / n_lesions
    return fps, sens, thresholds


def table_points(
    table: MatchTable, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """:func:`froc_points` of a :class:`~benchmark.metrics.matching.MatchTable` (classes pooled).

    True positives are positives, false positives negatives, ignored rows drop out; ``weights`` are
    per-image bootstrap counts. Returns ``(fps, sens, thresholds, n_lesions, n_scans)``.
    """
    s = table.sorted_pooled
    w = np.ones(table.n_images) if weights is None else np.asarray(weights, dtype=np.float64)
    n_scans = float(table.n_images) if weights is None else float(w.sum())
    n_lesions = float((table.gt_counts.sum(axis=1) * w).sum())
    row_w = w[s.image]
    keep = (s.tp | s.fp) & (row_w > 0)
    fps, sens, thresholds = froc_points(s.score[keep], (row_w * s.tp)[keep], (row_w * s.fp)[keep], n_lesions, n_scans)
    return fps, sens, thresholds, n_lesions, n_scans
