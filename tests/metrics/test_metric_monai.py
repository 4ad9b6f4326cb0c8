"""Optional: mAP@0.1 equals MONAI's COCOMetric (nnDetection's evaluator, ported) on random problems.

MONAI boxes are ``(x1, y1, z1, x2, y2, z2)``; any axis relabelling leaves IoU unchanged, so detbench boxes are
reordered and scored with MONAI's own ``box_iou``. MONAI reads recall thresholds from ``np.linspace`` and
averages classes without ground truth in as -1, so the comparison passes the same thresholds and compares
only classes with ground truth.
"""

from __future__ import annotations

import numpy as np
import pytest
from metric_cases import random_problem

from benchmark.metrics import map_from_matches, match_detections

monai_coco = pytest.importorskip("monai.apps.detection.metrics.coco")
monai_matching = pytest.importorskip("monai.apps.detection.metrics.matching")
monai_boxes = pytest.importorskip("monai.data.box_utils")

TO_MONAI = [2, 1, 0, 5, 4, 3]  # (z1, y1, x1, z2, y2, x2) -> (x1, y1, z1, x2, y2, z2)


@pytest.mark.parametrize("seed", range(12))
def test_map_equals_monai_coco_metric(seed):
    n_classes = 1 + seed % 3
    preds, gt = random_problem(
        seed, n_images=6, n_classes=n_classes, max_det=10, ignore_frac=0.2 * (seed % 2)
    )
    ids = list(gt)
    names = [f"c{i}" for i in range(n_classes)]
    metric = monai_coco.COCOMetric(
        classes=names, iou_list=(0.1,), iou_range=(0.1, 0.5, 0.4), max_detection=(100,), verbose=False
    )
    matched = monai_matching.matching_batch(
        iou_fn=monai_boxes.box_iou,
        iou_thresholds=metric.iou_thresholds,
        pred_boxes=[preds[c][0][:, TO_MONAI] for c in ids],
        pred_classes=[preds[c][2] for c in ids],
        pred_scores=[preds[c][1] for c in ids],
        gt_boxes=[gt[c][0][:, TO_MONAI] for c in ids],
        gt_classes=[gt[c][1] for c in ids],
        gt_ignore=[gt[c][2] for c in ids],
        max_detections=100,
    )
    monai_result = metric(matched)[0]
    table = match_detections(preds, gt, names)
    ours = map_from_matches(table, recall_thresholds=np.linspace(0.0, 1.0, 101))
    for c, name in enumerate(names):
        if ours.num_gt[c] > 0:
            assert ours.per_class[c] == pytest.approx(
                monai_result[f"{name}_AP_IoU_0.10_MaxDet_100"], abs=1e-6
            )
    # MONAI's headline mean counts classes without ground truth as -1; ours leaves them out
    with_gt = ours.num_gt > 0
    expected = (ours.per_class[with_gt].sum() - (~with_gt).sum()) / n_classes
    assert monai_result["AP_IoU_0.10_MaxDet_100"] == pytest.approx(expected, abs=1e-6)
