"""CTA-A protocol pinned to nnDetection's ``matching_batch`` + ``FROCMetric``.

Expected numbers marked "official" come from running ``nndet/evaluator/detection/matching.py`` and
``froc.py`` of MIC-DKFZ/nnDetection @ 97a58f3 (with ``box_iou_np``, ``max_detections=100``, scikit-learn
1.9.1, numpy 2.4.6) on these boxes converted to nnDetection's axis order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.metrics.protocols.cta_a import cta_a_evaluate, cta_a_froc, match_scan

DATA = Path(__file__).parent / "data"


def crafted():
    """(pred boxes, scores, GT boxes) per scan, detbench (z1, y1, x1, z2, y2, x2)."""
    g = [[0, 0, 0, 10, 10, 10], [20, 20, 20, 30, 30, 30]]
    p = [
        [0, 0, 0, 10, 10, 10],  # IoU 1 with g0, but scored below the next box
        [1, 0, 0, 11, 10, 10],  # takes g0 first (higher score)
        [20, 20, 20, 30, 30, 23],  # IoU exactly 0.3 with g1: a hit at 0.3
        [50, 50, 50, 60, 60, 60],
    ]
    tie_g = [[0, 0, 0, 10, 10, 10], [0, 0, 10, 10, 10, 20]]
    tie_p = [[0, 0, 5, 10, 10, 15], [0, 0, 0, 10, 10, 10]]  # first box ties between GTs: goes to the later
    return [
        (p, [0.9, 0.95, 0.4, 0.4], g),
        ([], [], [[5, 5, 5, 9, 9, 9]]),  # no prediction
        ([[0, 0, 0, 4, 4, 4], [8, 8, 8, 9, 9, 9]], [0.7, 0.2], []),  # no GT
        (tie_p, [0.8, 0.6], tie_g),
        ([], [], []),  # empty scan: still counts in FP per scan
    ]


@pytest.mark.parametrize(
    ("iou", "curve", "score"),
    [  # official FROC_curve_IoU_* and FROC_score_IoU_*
        (0.1, [0.2, 0.4, 0.7000000000000001, 0.8, 0.8, 0.8, 0.8], 0.6428571428571429),
        (0.3, [0.2, 0.4, 0.7000000000000001, 0.8, 0.8, 0.8, 0.8], 0.6428571428571429),
        (0.5, [0.2, 0.2, 0.2, 0.4, 0.4, 0.4, 0.4], 0.3142857142857142),
    ],
)
def test_crafted_matches_nndetection(iou, curve, score):
    r = cta_a_froc(crafted(), iou_threshold=iou)
    assert list(r.sensitivities) == curve
    assert r.score == score


def test_random_fixture_matches_nndetection():
    cases = [tuple(c) for c in json.loads((DATA / "cta_a_random.json").read_text())]
    r = cta_a_froc(cases)
    # official FROC_curve_IoU_0.30 / FROC_score_IoU_0.30 (30 scans, 46 GT boxes)
    assert list(r.sensitivities) == [0.043478260869565216, 0.043478260869565216, 0.06521739130434782,
                                     0.10869565217391304, 0.21739130434782608, 0.34782608695652173,
                                     0.34782608695652173]  # fmt: skip
    assert r.score == 0.16770186335403725
    assert (r.n_lesions, r.n_detected, r.n_false_positives) == (46, 16, 82)


def test_matching_rules():
    m, s = match_scan(*crafted()[3])
    assert m.tolist() == [True, True]  # the tie went to the later GT, leaving g0 for the second box
    boxes = [[0, 0, 0, 10, 10, 10]] * 5
    m, s = match_scan(boxes, [0.1, 0.5, 0.3, 0.9, 0.2], [[0, 0, 0, 10, 10, 10]], max_detections=3)
    assert s.tolist() == [0.9, 0.5, 0.3] and m.tolist() == [True, False, False]


def test_test_sets_and_validation():
    out = cta_a_evaluate({"external": crafted(), "internal": crafted()[:2]})
    assert list(out) == ["internal", "external"]
    assert out["external"].score == 0.6428571428571429
    with pytest.raises(ValueError, match="valid: \\['internal', 'external'\\]"):
        cta_a_evaluate({"test": crafted()})
    with pytest.raises(ValueError, match="no GT box"):
        cta_a_froc([([[0, 0, 0, 1, 1, 1]], [0.5], [])])
    no_match = cta_a_froc([([[50, 50, 50, 60, 60, 60]], [0.5], [[0, 0, 0, 1, 1, 1]])])
    assert no_match.score == 0.0  # nnDetection: NaN
