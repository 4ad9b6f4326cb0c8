"""mAP and FROC against a plain per-image Python implementation of the COCO / nnDetection algorithms.

The reference below is written independently of ``benchmark.metrics``: nested loops per image and class,
for the 101 recall thresholds either exact integer comparisons (``recall_rule="exact"``) or nnDetection's
float32 recall against ``np.linspace`` thresholds (the default ``"nndetection"``), and ``np.interp`` over FROC
operating points.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import random_problem, stress_problem

from benchmark.metrics import froc_from_matches, map_from_matches, match_detections

RATES = [1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8]
LINSPACE = np.linspace(0.0, 1.0, 101).tolist()


def _iou(a, b) -> float:
    inter = 1.0
    for k in range(3):
        inter *= max(0.0, min(a[k + 3], b[k + 3]) - max(a[k], b[k]))
    va = (a[3] - a[0]) * (a[4] - a[1]) * (a[5] - a[2])
    vb = (b[3] - b[0]) * (b[4] - b[1]) * (b[5] - b[2])
    union = va + vb - inter
    return inter / union if union > 0 else 0.0


def reference_match(preds, gt, n_classes, thr=0.1, max_det=100):
    """Per class: (score, status, image, detection, object or -1) in image order; object counts."""
    records = {c: [] for c in range(n_classes)}
    n_gt = [0] * n_classes
    for img, cid in enumerate(gt):
        g_boxes, g_labels, g_ignore = (list(x) for x in gt[cid])
        p_boxes, p_scores, p_labels = (list(x) for x in preds[cid])
        for c in range(n_classes):
            dets = sorted((k for k in range(len(p_scores)) if p_labels[k] == c), key=lambda k: -p_scores[k])
            dets = dets[:max_det]
            objs = sorted(
                (k for k in range(len(g_labels)) if g_labels[k] == c), key=lambda k: bool(g_ignore[k])
            )
            n_gt[c] += sum(1 for k in objs if not g_ignore[k])
            taken = set()
            for d in dets:
                best, best_iou = -1, min(thr, 1 - 1e-10)
                for g in objs:
                    if g in taken:
                        continue
                    if best >= 0 and not g_ignore[best] and g_ignore[g]:
                        break
                    v = _iou(p_boxes[d], g_boxes[g])
                    if v < best_iou:
                        continue
                    best, best_iou = g, v
                if best < 0:
                    status = "fp"
                else:
                    taken.add(best)
                    status = "ignored" if g_ignore[best] else "tp"
                records[c].append((p_scores[d], status, img, d, best))
    return records, n_gt


def _reaches(tp: int, n_gt: int, k: int, rule: str) -> bool:
    """Whether recall ``tp / n_gt`` reaches the ``k``-th of 101 thresholds under ``rule``."""
    if rule == "exact":
        return tp * 100 >= k * n_gt  # recall t / n_gt >= k / 100, exactly
    # nnDetection: float32 cumulative counts, so a float32 quotient, against np.linspace's float64 thresholds
    return float(np.float32(tp) / np.float32(n_gt)) >= LINSPACE[k]


def reference_ap(records, n_gt, rule="nndetection") -> float:
    if n_gt == 0:
        return float("nan")
    ordered = sorted(records, key=lambda r: -r[0])  # stable: image order, then rank
    tps, precision = [], []
    tp = fp = 0
    for _, status, *_ in ordered:
        tp += status == "tp"
        fp += status == "fp"
        tps.append(tp)
        precision.append(tp / (tp + fp) if tp + fp else 0.0)
    for i in range(len(precision) - 1, 0, -1):
        precision[i - 1] = max(precision[i - 1], precision[i])
    total = 0.0
    for k in range(101):
        for i, t in enumerate(tps):
            if _reaches(t, n_gt, k, rule):
                total += precision[i]
                break
    return total / 101


def reference_froc(records, n_gt, n_images) -> list[float]:
    thresholds = sorted({r[0] for r in records}, reverse=True)
    fpi, sens = [0.0], [0.0]
    for s in thresholds:
        fpi.append(sum(1 for r in records if r[0] >= s and r[1] == "fp") / n_images)
        sens.append(sum(1 for r in records if r[0] >= s and r[1] == "tp") / n_gt)
    return list(np.interp(RATES, fpi, sens))


def reference_scores(preds, gt, n_classes, thr=0.1, max_det=100, rule="nndetection"):
    records, n_gt = reference_match(preds, gt, n_classes, thr, max_det)
    with_gt = [c for c in range(n_classes) if n_gt[c] > 0]
    aps = [reference_ap(records[c], n_gt[c], rule) for c in with_gt]
    frocs = [reference_froc(records[c], n_gt[c], len(gt)) for c in with_gt]
    return aps, frocs


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_images=st.integers(1, 6),
    n_classes=st.integers(1, 3),
    ignore_frac=st.sampled_from([0.0, 0.3]),
    tied=st.booleans(),
    thr=st.sampled_from([0.1, 0.3, 0.5]),
    integer=st.booleans(),
    rule=st.sampled_from(["nndetection", "exact"]),
)
def test_map_and_froc_equal_reference(seed, n_images, n_classes, ignore_frac, tied, thr, integer, rule):
    preds, gt = random_problem(
        seed, n_images, n_classes, ignore_frac=ignore_frac, tied_scores=tied, integer=integer
    )
    table = match_detections(preds, gt, n_classes, iou_threshold=thr)
    aps, frocs = reference_scores(preds, gt, n_classes, thr, rule=rule)
    ap = map_from_matches(table, recall_rule=rule)
    froc = froc_from_matches(table)
    if not aps:
        assert np.isnan(ap.map) and np.isnan(froc.score)
        return
    records, _ = reference_match(preds, gt, n_classes, thr)
    expected = {(r[2], r[3]): (r[1], r[4]) for rs in records.values() for r in rs}
    status = np.where(table.tp, "tp", np.where(table.ignored, "ignored", "fp"))
    columns = zip(table.image_index, table.det_index, status, table.gt_index, strict=True)
    got = {(i, d): (s, g) for i, d, s, g in columns}
    assert got == expected
    valid = ~np.isnan(ap.per_class)
    np.testing.assert_allclose(ap.per_class[valid], aps, atol=1e-6)
    assert ap.map == pytest.approx(np.mean(aps), abs=1e-6)
    np.testing.assert_allclose(froc.sensitivity[valid], frocs, atol=1e-6)
    assert froc.score == pytest.approx(np.mean(frocs), abs=1e-6)
    np.testing.assert_allclose(froc.per_rate, np.mean(frocs, axis=0), atol=1e-6)


def test_max_detections_matches_reference():
    preds, gt = random_problem(7, n_images=4, n_classes=2, max_det=12)
    table = match_detections(preds, gt, 2, max_detections=3)
    aps, _ = reference_scores(preds, gt, 2, max_det=3)
    np.testing.assert_allclose(map_from_matches(table).per_class, aps, atol=1e-9)
    assert np.bincount(table.image_index * 2 + table.class_index).max() <= 3


def test_round_object_counts_match_reference_per_rule():
    """Problems whose recalls hit k/100 exactly (10, 20, 25, ... objects), where the two rules differ."""
    differ = 0
    for seed in range(60):
        preds, gt, n_classes = stress_problem(4 * seed + 3)
        table = match_detections(preds, gt, n_classes)
        records, n_gt = reference_match(preds, gt, n_classes)
        with_gt = [c for c in range(n_classes) if n_gt[c] > 0]
        expected = {}
        for rule in ("nndetection", "exact"):
            expected[rule] = [reference_ap(records[c], n_gt[c], rule) for c in with_gt]
            np.testing.assert_allclose(
                map_from_matches(table, recall_rule=rule).per_class[with_gt], expected[rule], atol=1e-12, rtol=0
            )
        differ += not np.allclose(expected["nndetection"], expected["exact"], atol=1e-9, rtol=0)
    assert differ >= 5  # the problems do separate the rules
