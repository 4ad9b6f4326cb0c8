"""The benchmark's two standard metrics, matched by IoU as nnDetection does: ``map@0.1`` and ``froc@0.1``.

Both follow the paper's evaluation (Eckstein et al., MICCAI 2025, Sec. 2.4: mAP at IoU 0.1; FROC at
1/8..8 FP per image), computed as nnDetection computes them (see :mod:`benchmark.metrics.coco` and
:mod:`benchmark.metrics.froc` for the definitions and the documented deviations). ``map@0.1`` uses
nnDetection's recall rule (float32 recall against ``np.linspace`` thresholds); ``map_exact@0.1`` is the same
mAP with exact recall thresholds ``k/100`` (not comparable with nnDetection's numbers). The rule is recorded in
each result's details (``recall_rule``).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from benchmark.metrics.coco import DEFAULT_RECALL_RULE, check_recall_rule, map_from_matches
from benchmark.metrics.froc import FROC_RATES, froc_from_matches
from benchmark.metrics.matching import MAX_DETECTIONS, MatchTable, match_detections
from benchmark.metrics.registry import METRICS, EvaluationInput, MetricResult

__all__ = ["FROCMetric", "IoUMatched", "MeanAPMetric"]


@dataclass(frozen=True)
class IoUMatched:
    """Shared matching of the IoU-based metrics: one table per (threshold, max detections)."""

    iou_threshold: float = 0.1
    max_detections: int = MAX_DETECTIONS

    @property
    def match_key(self) -> Hashable:
        return ("iou", float(self.iou_threshold), int(self.max_detections))

    def match(self, inputs: EvaluationInput) -> MatchTable:
        return match_detections(
            inputs.predictions,
            inputs.ground_truth,
            inputs.class_names,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            allow_missing=True,
        )


@dataclass(frozen=True)
class MeanAPMetric(IoUMatched):
    """COCO 101-point mAP at one IoU threshold, averaged over classes with ground truth.

    ``recall_rule`` is ``"nndetection"`` (default; named ``map@T``) or ``"exact"`` (named ``map_exact@T``).
    """

    recall_rule: str = DEFAULT_RECALL_RULE

    def __post_init__(self) -> None:
        check_recall_rule(self.recall_rule)

    @property
    def name(self) -> str:
        prefix = "map" if self.recall_rule == DEFAULT_RECALL_RULE else f"map_{self.recall_rule}"
        return f"{prefix}@{self.iou_threshold:g}"

    @property
    def description(self) -> str:
        if self.recall_rule == "exact":
            return (
                f"mean average precision at IoU {self.iou_threshold:g} (COCO 101-point, exact recall thresholds "
                "k/100; not comparable with nnDetection)"
            )
        return f"mean average precision at IoU {self.iou_threshold:g} (COCO 101-point, as nnDetection computes it)"

    def score(self, table: MatchTable, weights: Any = None) -> MetricResult:
        result = map_from_matches(table, weights, recall_rule=self.recall_rule)
        return MetricResult(self.name, result.map, result.to_dict())


@dataclass(frozen=True)
class FROCMetric(IoUMatched):
    """Mean sensitivity at 1/8..8 FP per image at one IoU threshold, averaged over classes with objects."""

    rates: tuple[float, ...] = FROC_RATES
    interpolation: str = "linear"

    @property
    def name(self) -> str:
        return f"froc@{self.iou_threshold:g}"

    @property
    def description(self) -> str:
        return (
            f"FROC score at IoU {self.iou_threshold:g}: mean sensitivity at 1/8..8 false positives per image"
        )

    def score(self, table: MatchTable, weights: Any = None) -> MetricResult:
        result = froc_from_matches(table, weights, rates=self.rates, interpolation=self.interpolation)
        return MetricResult(self.name, result.score, result.to_dict())


for _metric in (MeanAPMetric(0.1), MeanAPMetric(0.1, recall_rule="exact"), FROCMetric(0.1)):
    METRICS.register(_metric.name, _metric)
