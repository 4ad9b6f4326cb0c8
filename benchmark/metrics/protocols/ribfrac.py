"""RibFrac challenge detection protocol: instance-mask hits at IoU > 0.2, FROC score = mean recall at 0.5-8 FP.

Source: Jin et al., "Deep-learning-assisted detection and segmentation of rib fractures from CT scans"
(eBioMedicine 2020) and the MICCAI 2020 RibFrac challenge, https://ribfrac.grand-challenge.org/, evaluation
code ``ribfrac/evaluation.py`` of M3DV/RibFrac-Challenge @ afc4060 (functions ``evaluate_single_prediction``
and ``froc``). Reproduced rules, verified by running that code:

* the "IoU" of a GT/prediction pair is per *connected component* of the binary intersection (26-connected):
  its voxel count over that of the binary-union component containing it; the GT and prediction ids are
  read at the component's first voxel (raster order), and a later component overwrites an earlier one of
  the same pair. It equals the instance IoU for separate, single-component objects;
* each prediction counts for its best GT (first on ties) and hits it when that IoU is > ``iou_threshold``;
  a GT hit by several predictions counts once, extra hits are not false positives; a prediction without a
  hit is a false positive;
* GT instances are all labels ``1..max(gt)`` whatever their class: ignored (``-1``) fractures count as GT in
  detection (the challenge only ignores them in classification);
* the curve is taken at probability thresholds ``np.arange(0, 1, 0.01)`` (predictions with probability
  ``>=`` the threshold), FP/scan ``(FP + 1e-8) / (scans + 1e-8)``, recall ``(TP + 1e-8) / (GT + 1e-8)``;
* the recall at a key FP is interpolated between the neighbouring curve points after sorting by FP with
  numpy's default (unstable) quicksort, exactly as ``DataFrame.sort_values`` in the script does: 0 below
  the curve, the maximum recall above it; the score is the mean at 0.5, 1, 2, 4, 8 FP/scan.

Deviations: labels are not cast to ``uint8`` (the script wraps ids above 255); an evaluation without GT
raises ``ValueError`` (the script reports recall 1).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from benchmark.core.boxes import box_iou
from benchmark.metrics.matching import MatchTable
from benchmark.metrics.protocols._froc import ProtocolResult, check_rates
from benchmark.metrics.registry import EvaluationInput, MetricResult

__all__ = [
    "RIBFRAC_RATES",
    "RibFracProtocol",
    "RibFracCase",
    "ribfrac_case",
    "ribfrac_froc",
    "ribfrac_iou",
    "ribfrac_score",
    "ribfrac_table",
]

RIBFRAC_RATES = (0.5, 1.0, 2.0, 4.0, 8.0)
EPS = 1e-8


@dataclass(frozen=True, eq=False)
class RibFracCase:
    """One scan: challenge IoU ``[n_pred, n_gt]`` of prediction ``i + 1`` with GT ``j + 1``, and scores."""

    iou: np.ndarray
    scores: np.ndarray  # confidence of prediction i + 1; NaN where the prediction has none (never counted)

    def __post_init__(self) -> None:
        if self.iou.ndim != 2 or self.iou.shape[0] != self.scores.shape[0]:
            raise ValueError(f"iou must be [n_pred, n_gt] with n_pred = {self.scores.shape[0]} scores")

    @property
    def n_gt(self) -> int:
        return int(self.iou.shape[1])


def ribfrac_iou(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The challenge's component-wise IoU ``[max(pred), max(gt)]`` of two instance maps (0 = background)."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"GT and prediction shapes differ: {gt.shape} vs {pred.shape}")
    if gt.size and (gt.min() < 0 or pred.min() < 0):
        raise ValueError("instance maps must be non-negative integer labels")
    n_gt = int(gt.max()) if gt.size else 0
    n_pred = int(pred.max()) if pred.size else 0
    iou = np.zeros((n_pred, n_gt))
    if n_gt == 0 or n_pred == 0:
        return iou
    structure = np.ones((3,) * gt.ndim, dtype=bool)
    inter, n_inter = ndimage.label((gt > 0) & (pred > 0), structure=structure)
    if n_inter == 0:
        return iou
    union, _ = ndimage.label((gt > 0) | (pred > 0), structure=structure)
    flat = inter.ravel()
    where = np.flatnonzero(flat)
    labels, first = np.unique(flat[where], return_index=True)  # labels 1..n_inter, first voxel of each
    anchor = where[first]
    area = np.bincount(flat[where], minlength=n_inter + 1)[labels]
    union_area = np.bincount(union.ravel())[union.ravel()[anchor]]
    g = gt.ravel()[anchor].astype(np.int64) - 1
    p = pred.ravel()[anchor].astype(np.int64) - 1
    value = area / (union_area + EPS)
    # later components (higher label) overwrite earlier ones of the same pair
    pair = (g * n_pred + p)[::-1]
    _, last = np.unique(pair, return_index=True)
    last = labels.size - 1 - last
    iou[p[last], g[last]] = value[last]
    return iou


def ribfrac_case(
    gt: np.ndarray, pred: np.ndarray, scores: Mapping[int, float] | Sequence[float] | np.ndarray
) -> RibFracCase:
    """A :class:`RibFracCase` from instance maps and the confidence of each predicted label.

    ``scores`` maps label -> confidence (the challenge's ``label_id -> confidence`` CSV rows) or lists the
    confidences of labels ``1..max(pred)`` in order.
    """
    iou = ribfrac_iou(gt, pred)
    n_pred = iou.shape[0]
    if isinstance(scores, Mapping):
        s = np.array([float(scores.get(i, np.nan)) for i in range(1, n_pred + 1)], dtype=np.float64)
    else:
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        if s.shape[0] != n_pred:
            raise ValueError(f"{s.shape[0]} scores for {n_pred} predicted labels (1..max(pred))")
    return RibFracCase(iou=iou, scores=s)


def _recall_at(fp_sorted: np.ndarray, recall_sorted: np.ndarray, key: float) -> float:
    """The script's ``_interpolate_recall_at_fp`` on points sorted by FP."""
    below = np.flatnonzero(fp_sorted <= key)
    above = np.flatnonzero(fp_sorted >= key)
    if below.size == 0:
        return 0.0
    if above.size == 0:
        return float(recall_sorted.max())
    fp0, fp1 = fp_sorted[below[-1]], fp_sorted[above[0]]
    r0, r1 = recall_sorted[below[-1]], recall_sorted[above[0]]
    return float(r0 + (r1 - r0) * ((key - fp0) / (fp1 - fp0 + EPS)))


def ribfrac_table(
    cases: Sequence[RibFracCase],
    *,
    iou_threshold: float = 0.2,
    image_ids: Sequence[str] | None = None,
    class_name: str = "fracture",
) -> MatchTable:
    """The per-prediction outcome as a :class:`MatchTable`: per hit GT the best-scored hit is the TP, the
    other hits are ignored (not FPs), predictions without a hit are FPs; unscored predictions drop out."""
    if not 0.0 <= iou_threshold < 1.0:
        raise ValueError(f"iou_threshold must lie in [0, 1), got {iou_threshold}")
    cases = list(cases)
    ids = [str(i) for i in range(len(cases))] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != len(cases):
        raise ValueError(f"{len(ids)} image ids for {len(cases)} cases")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("image", "score", "tp", "ignored", "det", "gt")}
    for i, case in enumerate(cases):
        n_pred = case.iou.shape[0]
        scored = ~np.isnan(case.scores)
        if case.n_gt and n_pred:
            max_iou = case.iou.max(axis=1)
            target = np.where(max_iou > iou_threshold, case.iou.argmax(axis=1), -1)
        else:
            target = np.full(n_pred, -1)
        target = np.where(scored, target, -2)  # -2: no score, never counted
        rows = np.flatnonzero(target >= 0)
        order = rows[np.lexsort((rows, -case.scores[rows], target[rows]))]
        best = np.r_[True, target[order][1:] != target[order][:-1]] if order.size else np.zeros(0, bool)
        fp = np.flatnonzero(target == -1)
        det = np.r_[order[best], fp, order[~best]]
        cols["image"].append(np.full(det.size, i))
        cols["score"].append(case.scores[det])
        cols["tp"].append(np.r_[np.ones(int(best.sum()), bool), np.zeros(fp.size + int((~best).sum()), bool)])
        cols["ignored"].append(np.r_[np.zeros(int(best.sum()) + fp.size, bool), np.ones(int((~best).sum()), bool)])
        cols["det"].append(det)
        cols["gt"].append(np.r_[target[order][best], np.full(fp.size + int((~best).sum()), -1)])
    cat = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}
    return MatchTable(
        image_ids=tuple(ids),
        class_names=(class_name,),
        image_index=cat["image"],
        class_index=np.zeros(cat["score"].size, dtype=np.int64),
        score=cat["score"],
        tp=cat["tp"],
        ignored=cat["ignored"],
        gt_counts=np.array([[c.n_gt] for c in cases], dtype=np.int64).reshape(-1, 1),
        det_index=cat["det"],
        gt_index=cat["gt"],
        meta={"iou_threshold": float(iou_threshold)},
    )


def ribfrac_score(
    table: MatchTable, rates: Sequence[float] = RIBFRAC_RATES, weights: np.ndarray | None = None
) -> ProtocolResult:
    """The challenge's FROC of a :func:`ribfrac_table` (``weights``: per-scan bootstrap counts)."""
    rates_t = check_rates(rates)
    w = np.ones(table.n_images) if weights is None else np.asarray(weights, dtype=np.float64)
    n_scans = float(table.n_images) if weights is None else float(w.sum())
    total_gt = float((table.gt_counts.sum(axis=1) * w).sum())
    if total_gt == 0:
        raise ValueError("no GT instance in any case: recall is undefined")
    thresholds = np.arange(0, 1, 0.01)
    row_w = w[table.image_index]
    above = table.score[None, :] >= thresholds[:, None]
    n_fp = (above * (row_w * table.fp)[None, :]).sum(axis=1)
    n_tp = (above * (row_w * table.tp)[None, :]).sum(axis=1)
    fp = (n_fp + EPS) / (n_scans + EPS)
    recall = (n_tp + EPS) / (total_gt + EPS)
    order = np.argsort(fp, kind="quicksort")  # what DataFrame.sort_values("fp") does in the script
    fp_sorted, recall_sorted = fp[order], recall[order]
    key_recall = np.array([_recall_at(fp_sorted, recall_sorted, r) for r in rates_t])
    return ProtocolResult(
        protocol="ribfrac",
        score=float(np.mean(key_recall)),
        rates=rates_t,
        sensitivities=tuple(float(v) for v in key_recall),
        fps=fp_sorted,
        sensitivity=recall_sorted,
        thresholds=thresholds[order],
        n_scans=table.n_images,
        n_lesions=int(table.gt_counts.sum()),
        n_detected=int(table.tp.sum()),
        n_false_positives=int(table.fp.sum()),
        details={**table.meta, "max_recall": float(recall.max()), "average_fp_at_max_recall": float(fp.max())},
    )


def ribfrac_froc(
    cases: Sequence[RibFracCase],
    *,
    iou_threshold: float = 0.2,
    rates: Sequence[float] = RIBFRAC_RATES,
) -> ProtocolResult:
    """RibFrac FROC over ``cases`` (one per scan); ``score`` is the mean recall at ``rates`` FP/scan.

    The curve fields hold the 100 threshold points sorted by FP/scan as the script sorts them.
    """
    cases = list(cases)
    if not cases:
        raise ValueError("no cases to evaluate")
    return ribfrac_score(ribfrac_table(cases, iou_threshold=iou_threshold), rates)


@dataclass(frozen=True)
class RibFracProtocol:
    """``ribfrac`` in :data:`~benchmark.metrics.registry.METRICS`: the challenge FROC on an input.

    With ``inputs.extra["ribfrac_cases"]`` (case id -> :class:`RibFracCase`, built from instance masks by
    :func:`ribfrac_case`) the challenge's mask IoU is used; otherwise the IoU of the predicted and
    ground-truth *boxes* stands in for it (``details["iou_source"]``). All ground-truth objects count, as in
    the challenge's detection track.
    """

    iou_threshold: float = 0.2
    rates: tuple[float, ...] = RIBFRAC_RATES
    name: str = "ribfrac"
    description: str = "RibFrac challenge FROC: hits at IoU > 0.2, mean recall at 0.5, 1, 2, 4, 8 FP/scan"

    @property
    def match_key(self) -> Hashable:
        return ("ribfrac", float(self.iou_threshold))

    def match(self, inputs: EvaluationInput) -> MatchTable:
        ids = [str(c) for c in inputs.ground_truth]
        given = inputs.extra.get("ribfrac_cases")
        cases = []
        for case_id in ids:
            if given is not None:
                cases.append(given[case_id])
                continue
            gt = inputs.ground_truth[case_id]
            pred = inputs.predictions.get(case_id)
            if pred is None or len(pred) == 0:
                cases.append(RibFracCase(np.zeros((0, len(gt))), np.zeros(0)))
            else:
                cases.append(RibFracCase(np.asarray(box_iou(pred.boxes, gt.boxes)), np.asarray(pred.scores)))
        class_name = inputs.class_names[0] if len(inputs.class_names) == 1 else "all"
        table = ribfrac_table(cases, iou_threshold=self.iou_threshold, image_ids=ids, class_name=class_name)
        table.meta["iou_source"] = "masks" if given is not None else "boxes"
        return table

    def score(self, table: MatchTable, weights: np.ndarray | None = None) -> MetricResult:
        result = ribfrac_score(table, self.rates, table.check_weights(weights))
        return MetricResult(self.name, result.score, result.as_dict())
