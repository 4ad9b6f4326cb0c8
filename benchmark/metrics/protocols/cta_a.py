"""CTA-A aneurysm-detection protocol: box FROC with hits at IoU >= 0.3, per test set (internal, external).

Sources: the CTA-A data are the intracranial-aneurysm CTA set of Bo et al., "Toward human intervention-free
clinical diagnosis of intracranial aneurysm via deep neural network", Patterns 2(2), 2021 (GLIA-Net,
https://github.com/MeteorsHub/GLIA-Net, data https://doi.org/10.5281/zenodo.6801398), with an internal test
set (hospital of the training data) and an external one (other hospitals). The protocol is the FROC with
hits at IoU 0.3 that the nnDetection v2 study (Baumgartner et al., 2025) reports for CTA-A, computed the way
nnDetection computes FROC: its ``FROCMetric`` (``nndet/evaluator/detection/froc.py``) on its COCO-style
``matching_batch`` (``nndet/evaluator/detection/matching.py``), MIC-DKFZ/nnDetection @ 97a58f3:

* per scan the 100 highest-scoring boxes are matched greedily by descending score (stable order), each to
  the unmatched GT box of highest IoU >= 0.3 (ties go to the later GT); unmatched boxes are false positives;
* the curve is ``sklearn.metrics.roc_curve`` over all matched/unmatched boxes of the test set with
  FP/scan ``fpr * n_unmatched / n_scans`` and sensitivity ``tpr * n_matched / n_gt``; the sensitivities at
  1/8..8 FP/scan are ``np.interp`` on it and the score is their mean. Verified by running that code.

Sources disagree on the hit criterion: GLIA-Net's own evaluation (``utils/metrics.py``,
``per_target_transform``) counts a segmented component as a hit when its centroid lies within
``0.62 * (V_pred^(1/3) + V_gt^(1/3))`` voxels of a GT component (after a 7-voxel closing and dropping
components of <= 10 voxels). The nnDetection v2 paper's text could not be obtained here to confirm its
details (e.g. the detection cap); this module implements the IoU-0.3 box FROC with nnDetection's defaults.
Boxes are detbench voxel-frame boxes (see :mod:`benchmark.core.conventions`); nnDetection's GT boxes carry a
one-voxel margin, so convert both sides alike.

Deviations: no matched box gives sensitivity 0 (nnDetection: NaN); no GT box raises ``ValueError``
(nnDetection: score 0 with an error log).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmark.core.boxes import box_iou
from benchmark.metrics.matching import MatchTable
from benchmark.metrics.protocols._froc import ProtocolResult, check_rates
from benchmark.metrics.protocols.luna16 import froc_result
from benchmark.metrics.registry import EvaluationInput, MetricResult

__all__ = [
    "CTA_A_IOU",
    "CTA_A_RATES",
    "CTA_A_TEST_SETS",
    "CTAAProtocol",
    "cta_a_evaluate",
    "cta_a_froc",
    "cta_a_score",
    "cta_a_table",
    "match_scan",
]

CTA_A_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
CTA_A_TEST_SETS = ("internal", "external")
CTA_A_IOU = 0.3

Case = tuple[np.ndarray, np.ndarray, np.ndarray]  # (pred_boxes [D, 6], pred_scores [D], gt_boxes [G, 6])


def _as_boxes(boxes: object, what: str) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 6)
    if b.ndim != 2 or b.shape[1] != 6:
        raise ValueError(f"{what} must have shape [N, 6] (z1, y1, x1, z2, y2, x2), got {b.shape}")
    return b


def match_scan(
    pred_boxes: np.ndarray,
    pred_scores: np.ndarray,
    gt_boxes: np.ndarray,
    iou_threshold: float = CTA_A_IOU,
    max_detections: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """nnDetection's single-class matching of one scan: ``(matched [D'], scores [D'])`` of the kept boxes."""
    boxes = _as_boxes(pred_boxes, "pred_boxes")
    scores = np.asarray(pred_scores, dtype=np.float64).reshape(-1)
    gts = _as_boxes(gt_boxes, "gt_boxes")
    if scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"{boxes.shape[0]} boxes but {scores.shape[0]} scores")
    if not np.all(np.isfinite(scores)):
        raise ValueError("pred_scores must be finite")
    order = np.argsort(-scores, kind="mergesort")[:max_detections]
    boxes, scores = boxes[order], scores[order]
    matched = np.zeros(scores.shape[0], dtype=bool)
    if gts.shape[0] == 0 or scores.shape[0] == 0:
        return matched, scores
    ious = box_iou(boxes, gts)
    free = np.ones(gts.shape[0], dtype=bool)
    floor = min(iou_threshold, 1 - 1e-10)
    for d in range(scores.shape[0]):
        ok = free & (ious[d] >= floor)
        if ok.any():
            best = ious[d][ok].max()
            g = np.flatnonzero(ok & (ious[d] == best))[-1]
            free[g] = False
            matched[d] = True
    return matched, scores


def cta_a_table(
    cases: Sequence[Case],
    *,
    iou_threshold: float = CTA_A_IOU,
    max_detections: int = 100,
    image_ids: Sequence[str] | None = None,
    class_name: str = "aneurysm",
) -> MatchTable:
    """Match every scan (:func:`match_scan`) into a :class:`MatchTable` (one row per kept box)."""
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must lie in (0, 1], got {iou_threshold}")
    if max_detections < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    cases = list(cases)
    ids = [str(i) for i in range(len(cases))] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != len(cases):
        raise ValueError(f"{len(ids)} image ids for {len(cases)} scans")
    images, scores, matched, n_gt = [], [], [], []
    for i, (pred_boxes, pred_scores, gt_boxes) in enumerate(cases):
        m, s = match_scan(pred_boxes, pred_scores, gt_boxes, iou_threshold, max_detections)
        images.append(np.full(s.size, i))
        scores.append(s)
        matched.append(m)
        n_gt.append(_as_boxes(gt_boxes, "gt_boxes").shape[0])
    tp = np.concatenate(matched) if matched else np.zeros(0, bool)
    return MatchTable(
        image_ids=tuple(ids),
        class_names=(class_name,),
        image_index=np.concatenate(images) if images else np.zeros(0, np.int64),
        class_index=np.zeros(tp.size, dtype=np.int64),
        score=np.concatenate(scores) if scores else np.zeros(0),
        tp=tp,
        ignored=np.zeros(tp.size, dtype=bool),
        gt_counts=np.asarray(n_gt, dtype=np.int64).reshape(-1, 1),
        meta={"iou_threshold": float(iou_threshold)},
    )


def cta_a_score(
    table: MatchTable, rates: Sequence[float] = CTA_A_RATES, weights: np.ndarray | None = None
) -> ProtocolResult:
    """nnDetection's FROC of a matched table (``weights``: per-scan bootstrap counts)."""
    return froc_result("cta_a", table, check_rates(rates), rule="interp", weights=weights, finding="GT box")


def cta_a_froc(
    cases: Sequence[Case],
    *,
    iou_threshold: float = CTA_A_IOU,
    rates: Sequence[float] = CTA_A_RATES,
    max_detections: int = 100,
) -> ProtocolResult:
    """Box FROC over one test set; ``cases`` holds ``(pred_boxes, pred_scores, gt_boxes)`` per scan."""
    cases = list(cases)
    if not cases:
        raise ValueError("no scans to evaluate")
    table = cta_a_table(cases, iou_threshold=iou_threshold, max_detections=max_detections)
    return cta_a_score(table, rates)


def cta_a_evaluate(test_sets: Mapping[str, Sequence[Case]], **kwargs: Any) -> dict[str, ProtocolResult]:
    """:func:`cta_a_froc` on each CTA-A test set (keys among ``internal``, ``external``), reported apart."""
    unknown = sorted(set(test_sets) - set(CTA_A_TEST_SETS))
    if unknown:
        raise ValueError(f"unknown CTA-A test set(s) {unknown}; valid: {list(CTA_A_TEST_SETS)}")
    return {name: cta_a_froc(test_sets[name], **kwargs) for name in CTA_A_TEST_SETS if name in test_sets}


@dataclass(frozen=True)
class CTAAProtocol:
    """``cta_a`` in :data:`~benchmark.metrics.registry.METRICS`: the IoU-0.3 box FROC of one test set.

    Evaluate the internal and the external test set as two inputs (``inputs.extra["test_set"]`` is copied
    into the details). Ground-truth objects flagged ``ignore`` are left out (CTA-A has none).
    """

    iou_threshold: float = CTA_A_IOU
    max_detections: int = 100
    rates: tuple[float, ...] = CTA_A_RATES
    name: str = "cta_a"
    description: str = "CTA-A: box FROC at IoU 0.3 (nnDetection), sensitivity at 1/8..8 FP/scan"

    @property
    def match_key(self) -> Hashable:
        return ("cta_a", float(self.iou_threshold), int(self.max_detections))

    def match(self, inputs: EvaluationInput) -> MatchTable:
        ids = [str(c) for c in inputs.ground_truth]
        cases = []
        for case_id in ids:
            gt = inputs.ground_truth[case_id]
            pred = inputs.predictions.get(case_id)
            boxes, scores = (np.zeros((0, 6)), np.zeros(0)) if pred is None else (pred.boxes, pred.scores)
            cases.append((boxes, scores, gt.boxes[~np.asarray(gt.ignore, bool)]))
        class_name = inputs.class_names[0] if len(inputs.class_names) == 1 else "all"
        table = cta_a_table(
            cases,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            image_ids=ids,
            class_name=class_name,
        )
        if "test_set" in inputs.extra:
            table.meta["test_set"] = str(inputs.extra["test_set"])
        return table

    def score(self, table: MatchTable, weights: np.ndarray | None = None) -> MetricResult:
        result = cta_a_score(table, self.rates, table.check_weights(weights))
        return MetricResult(self.name, result.score, result.as_dict())
