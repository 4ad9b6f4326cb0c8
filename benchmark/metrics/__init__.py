"""Detection metrics: 3D box ops, nnDetection-style matching into a :class:`MatchTable`, mAP and FROC.

Pipeline: predictions (:mod:`.predictions`) + ground truth (:mod:`.ground_truth`) -> :func:`match_detections`
-> :class:`MatchTable` -> :func:`map_from_matches` / :func:`froc_from_matches` (optionally with per-image
bootstrap weights). Named metrics and the official protocols live in the registry :data:`METRICS`.
"""

from __future__ import annotations

import importlib
import importlib.util

from benchmark.core.boxes import box_giou, box_iou, box_volume
from benchmark.metrics import standard  # noqa: F401 - registers map@0.1 and froc@0.1
from benchmark.metrics.coco import APResult, map_from_matches
from benchmark.metrics.froc import FROC_RATES, FROCResult, froc_from_matches
from benchmark.metrics.ground_truth import CaseGroundTruth, as_ground_truth, load_ground_truth
from benchmark.metrics.matching import MAX_DETECTIONS, MatchTable, match_detections
from benchmark.metrics.predictions import (
    CasePrediction,
    PredictionFormatError,
    PredictionSet,
    load_predictions,
    parse_predictions,
    save_predictions,
)
from benchmark.metrics.registry import (
    METRICS,
    EvaluationInput,
    Metric,
    MetricResult,
    evaluate,
    get_metric,
    match_tables,
)

# The official protocols (LUNA16, PN9, CTA-A, RibFrac) register themselves when their package exists.
if importlib.util.find_spec("benchmark.metrics.protocols") is not None:
    importlib.import_module("benchmark.metrics.protocols")

__all__ = [
    "FROC_RATES",
    "MAX_DETECTIONS",
    "METRICS",
    "APResult",
    "CaseGroundTruth",
    "CasePrediction",
    "EvaluationInput",
    "FROCResult",
    "MatchTable",
    "Metric",
    "MetricResult",
    "PredictionFormatError",
    "PredictionSet",
    "as_ground_truth",
    "box_giou",
    "box_iou",
    "box_volume",
    "evaluate",
    "froc_from_matches",
    "get_metric",
    "load_ground_truth",
    "load_predictions",
    "map_from_matches",
    "match_detections",
    "match_tables",
    "parse_predictions",
    "save_predictions",
]
