"""RibFrac protocol pinned to the challenge's ``ribfrac/evaluation.py``.

Expected numbers marked "official" come from running ``evaluate(gt_dir, pred_dir)`` of
M3DV/RibFrac-Challenge @ afc4060 (scikit-image 0.26, pandas 3.1, numpy 2.4.6) on these maps written as
NIfTI, with the GT CSV codes and prediction confidences given here, and ``evaluate_single_prediction`` for
the per-prediction ``max_iou``/``hit_label``.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics.protocols.ribfrac import RibFracCase, ribfrac_case, ribfrac_froc, ribfrac_iou

SHAPE = (24, 24, 24)


def _box(a, lo, hi, value):
    a[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = value


def crafted():
    """pid -> (gt map, pred map, confidences); the GT codes were 1/2/-1 for A, 2/3 for B, 1 for C, 4 for E."""
    cases = {}
    g, p = np.zeros(SHAPE, np.int32), np.zeros(SHAPE, np.int32)
    _box(g, (2, 2, 2), (6, 6, 6), 1)
    _box(p, (3, 2, 2), (7, 6, 6), 1)  # overlaps GT1; pred 2 touches it, so the union component grows
    _box(p, (2, 2, 6), (6, 6, 10), 2)
    _box(g, (12, 12, 12), (16, 16, 16), 2)
    _box(p, (12, 12, 15), (16, 16, 19), 4)  # IoU 1/7 <= 0.2: FP, GT2 missed
    _box(g, (18, 2, 2), (22, 6, 6), 3)  # an "ignored" (-1) fracture: still a GT for detection
    _box(p, (18, 2, 2), (22, 6, 5), 5)
    _box(p, (2, 18, 18), (4, 20, 20), 3)
    cases["A"] = (g, p, {1: 0.9, 2: 0.5, 3: 0.5, 4: 0.3, 5: 0.07})
    g, p = np.zeros(SHAPE, np.int32), np.zeros(SHAPE, np.int32)
    _box(g, (2, 2, 2), (6, 6, 6), 1)
    _box(g, (6, 2, 2), (10, 6, 6), 2)  # touching GTs
    _box(p, (3, 2, 2), (9, 6, 6), 1)  # spans both
    _box(p, (9, 2, 2), (10, 6, 6), 2)  # inside GT2 but in pred 1's intersection component: IoU 0
    cases["B"] = (g, p, {1: 0.8, 2: 0.8})
    g, p = np.zeros(SHAPE, np.int32), np.zeros(SHAPE, np.int32)
    _box(g, (5, 5, 5), (9, 9, 9), 1)
    cases["C"] = (g, p, {})  # no prediction
    g, p = np.zeros(SHAPE, np.int32), np.zeros(SHAPE, np.int32)
    _box(p, (5, 5, 5), (9, 9, 9), 1)
    _box(p, (15, 15, 15), (17, 17, 17), 2)
    cases["D"] = (g, p, {1: 0.95, 2: 0.2})  # no GT
    g, p = np.zeros(SHAPE, np.int32), np.zeros(SHAPE, np.int32)
    _box(g, (2, 2, 2), (12, 4, 4), 1)
    _box(p, (2, 2, 2), (4, 4, 4), 1)  # pred 1 in two pieces on GT1: the later piece's ratio wins
    _box(p, (9, 2, 2), (12, 4, 4), 1)
    _box(p, (14, 14, 14), (16, 16, 16), 3)  # label 2 absent from the map but scored: a phantom FP
    cases["E"] = (g, p, {1: 0.66, 2: 0.4, 3: 0.5})
    return cases


def test_component_iou_matches_official():
    c = crafted()
    # official max_iou / hit_label per prediction
    iou_a = ribfrac_iou(*c["A"][:2])
    np.testing.assert_array_equal(iou_a.max(axis=1), [0.33333333331018516, 0.0, 0.0, 0.14285714284438777,
                                                      0.7499999998828126])  # fmt: skip
    np.testing.assert_array_equal(iou_a.argmax(axis=1)[[0, 3, 4]], [0, 1, 2])
    np.testing.assert_array_equal(ribfrac_iou(*c["B"][:2]).max(axis=1), [0.8749999999316406, 0.0])
    np.testing.assert_array_equal(ribfrac_iou(*c["E"][:2]).max(axis=1), [0.299999999925, 0.0, 0.0])
    assert ribfrac_iou(*c["C"][:2]).shape == (0, 1)
    assert ribfrac_iou(*c["D"][:2]).shape == (2, 0)


def test_froc_matches_official():
    r = ribfrac_froc([ribfrac_case(g, p, s) for g, p, s in crafted().values()])
    # official key recalls at 0.5, 1, 2, 4, 8 FP/scan, average recall, max recall, FP at max recall
    assert r.sensitivities == (0.30952380987528344, 0.4285714293877551, 0.5714285720408163, 0.5714285720408163,
                               0.5714285720408163)  # fmt: skip
    assert r.score == 0.4904761910770975
    assert r.details["max_recall"] == 0.5714285720408163
    assert r.details["average_fp_at_max_recall"] == 1.5999999988000002
    assert (r.n_lesions, r.n_scans) == (7, 5)


def test_instance_iou_for_separate_objects_and_threshold():
    g, p = np.zeros((10, 10, 10), int), np.zeros((10, 10, 10), int)
    _box(g, (0, 0, 0), (4, 4, 4), 1)
    _box(p, (0, 0, 0), (4, 4, 2), 1)  # IoU exactly 0.5
    _box(g, (6, 6, 6), (10, 10, 10), 2)
    assert ribfrac_iou(g, p)[0, 0] == pytest.approx(0.5)
    case = ribfrac_case(g, p, [0.9])
    assert ribfrac_froc([case]).sensitivities[-1] == pytest.approx(0.5)
    assert ribfrac_froc([case], iou_threshold=0.5).sensitivities[-1] == pytest.approx(0.0, abs=1e-8)


def test_validation():
    with pytest.raises(ValueError, match="no GT"):
        ribfrac_froc([RibFracCase(np.zeros((1, 0)), np.array([0.5]))])
    with pytest.raises(ValueError, match="scores for"):
        ribfrac_case(np.ones((2, 2, 2), int), np.ones((2, 2, 2), int), [0.1, 0.2])
    with pytest.raises(ValueError, match="shapes differ"):
        ribfrac_iou(np.zeros((2, 2, 2), int), np.zeros((2, 2, 3), int))
