"""One NMS rule everywhere: a box is suppressed when its IoU with a better kept box is strictly above the threshold.

The detectors' per-class NMS (``models.box_ops.batched_nms``) and the merging of windows / views
(``benchmark.inference.consolidation.consolidate``, NMS and WBC) used to disagree at IoU == threshold
(``>`` vs ``>=``); both now call ``benchmark.core.boxes.nms_clusters``.
"""

import numpy as np
import pytest
import torch

from benchmark.core.boxes import box_iou
from benchmark.inference.consolidation import consolidate
from benchmark.inference.postprocessing import PostprocessingParams, apply_postprocessing
from models.box_ops import batched_nms
from models.box_ops import nms as model_nms

# IoU(box 0, box 1) = 1/2 and IoU(box 0, box 2) = 3/4 exactly (in float32 and float64); IoU(1, 2) = 1/4
BOXES = np.array(
    [
        [0.0, 0.0, 0.0, 4.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 2.0, 1.0, 1.0],
        [1.0, 0.0, 0.0, 4.0, 1.0, 1.0],
        [10.0, 10.0, 10.0, 12.0, 12.0, 12.0],
    ]
)
SCORES = np.array([0.9, 0.8, 0.7, 0.6])


def _model_keep(threshold: float, dtype=torch.float32) -> list[int]:
    labels = torch.zeros(len(BOXES), dtype=torch.long)
    keep = batched_nms(torch.tensor(BOXES, dtype=dtype), torch.tensor(SCORES, dtype=dtype), labels, threshold)
    return sorted(keep.tolist())


def _consolidated(threshold: float, method: str) -> int:
    boxes, _, _ = consolidate(BOXES, SCORES, np.zeros(len(BOXES), np.int64), np.ones(len(BOXES)), method, threshold)
    return len(boxes)


def test_the_example_ious_are_exact():
    assert box_iou(BOXES[:1], BOXES[1:3])[0].tolist() == [0.5, 0.75]
    as32 = torch.tensor(BOXES, dtype=torch.float32)
    assert box_iou(as32[:1], as32[1:3])[0].tolist() == [0.5, 0.75]
    assert box_iou(BOXES[1:2], BOXES[2:3])[0].tolist() == [0.25]


@pytest.mark.parametrize(
    ("threshold", "kept"),
    [
        (0.75, [0, 1, 2, 3]),  # IoU(0, 2) = 0.75 is not above 0.75: box 2 stays
        (0.74, [0, 1, 3]),
        (0.5, [0, 1, 3]),  # IoU(0, 1) = 0.5 is not above 0.5: box 1 stays
        (0.49, [0, 3]),
    ],
)
def test_threshold_rule_is_strictly_greater(threshold, kept):
    from benchmark.core.boxes import nms

    assert sorted(nms(BOXES, SCORES, threshold).tolist()) == kept
    assert _reference_greedy(threshold) == kept


def _reference_greedy(threshold: float) -> list[int]:
    """Textbook greedy NMS with the torchvision rule (suppress when IoU > threshold), for checking."""
    order = list(np.argsort(-SCORES, kind="stable"))
    keep = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        order = [j for j in order if box_iou(BOXES[best : best + 1], BOXES[j : j + 1])[0, 0] <= threshold]
    return sorted(keep)


@pytest.mark.parametrize("threshold", [0.25, 0.5, 0.75, 0.1, 0.6, 1.0])
def test_model_nms_and_inference_merging_agree_at_and_around_the_threshold(threshold):
    reference = _reference_greedy(threshold)
    assert _model_keep(threshold) == reference
    assert _model_keep(threshold, torch.float64) == reference
    assert sorted(model_nms(torch.tensor(BOXES), torch.tensor(SCORES), threshold).tolist()) == reference
    assert _consolidated(threshold, "nms") == len(reference)
    assert _consolidated(threshold, "wbc") == len(reference)  # one cluster per NMS survivor


def test_box_at_exactly_the_threshold_survives_everywhere():
    pair = BOXES[:2]  # IoU exactly 0.5
    scores = SCORES[:2]
    one_class = torch.zeros(2, dtype=torch.long)
    assert batched_nms(torch.tensor(pair), torch.tensor(scores), one_class, 0.5).tolist() == [0, 1]
    for method in ("nms", "wbc"):
        boxes, _, _ = consolidate(pair, scores, np.zeros(2, np.int64), np.ones(2), method, 0.5)
        assert len(boxes) == 2, method  # the former consolidation rule (>=) merged them
    merged = apply_postprocessing(
        {"boxes": pair, "scores": scores, "labels": np.zeros(2, np.int64)}, PostprocessingParams(nms_iou=0.5)
    )
    assert len(merged["boxes"]) == 2
    # just below the IoU, the lower-scored box is suppressed by all of them
    assert batched_nms(torch.tensor(pair), torch.tensor(scores), one_class, 0.4999).tolist() == [0]
    assert len(consolidate(pair, scores, np.zeros(2, np.int64), np.ones(2), "nms", 0.4999)[0]) == 1


def test_clusters_hold_the_suppressed_boxes_and_ties_keep_the_lower_index():
    from benchmark.core.boxes import nms, nms_clusters

    clusters = nms_clusters(BOXES, SCORES, 0.1)
    assert [c.tolist() for c in clusters] == [[0, 1, 2], [3]]
    tied = nms_clusters(BOXES[:2], np.array([0.5, 0.5]), 0.1)
    assert [c.tolist() for c in tied] == [[0, 1]]
    assert nms(np.zeros((0, 6)), np.zeros(0), 0.5).tolist() == []
    assert nms(BOXES[:2], SCORES[:2], 0.5).tolist() == [0, 1] and nms(BOXES[:2], SCORES[:2], 0.4999).tolist() == [0]
    with pytest.raises(ValueError, match="2 boxes but 3 scores"):
        nms(BOXES[:2], SCORES[:3], 0.5)
