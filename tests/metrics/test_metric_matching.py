"""Matching rules (ties, ignored objects, max detections), the MatchTable, and hand-computed mAP/FROC."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.metrics import (
    METRICS,
    EvaluationInput,
    MatchTable,
    evaluate,
    froc_from_matches,
    get_metric,
    map_from_matches,
    match_detections,
)

CUBE = np.array([0.0, 0.0, 0.0, 4.0, 4.0, 4.0])


def _one_image(det_boxes, scores, gt_boxes, ignore=None, labels=None, gt_labels=None, **kw):
    det_boxes, gt_boxes = np.atleast_2d(det_boxes), np.atleast_2d(gt_boxes)
    labels = np.zeros(len(scores), int) if labels is None else labels
    gt_labels = np.zeros(len(gt_boxes), int) if gt_labels is None else gt_labels
    ignore = np.zeros(len(gt_boxes), bool) if ignore is None else np.asarray(ignore)
    return match_detections({"a": (det_boxes, scores, labels)}, {"a": (gt_boxes, gt_labels, ignore)}, 1, **kw)


def test_tie_goes_to_the_later_object():
    gt = np.stack([CUBE, CUBE])  # two identical objects: equal IoU
    table = _one_image(np.stack([CUBE]), [0.9], gt)
    assert table.gt_index.tolist() == [1]
    assert table.tp.tolist() == [True]


def test_best_iou_wins_and_each_object_matches_once():
    gt = np.stack([CUBE, CUBE + [0, 0, 2, 0, 0, 2]])
    dets = np.stack([CUBE + [0, 0, 2, 0, 0, 2], CUBE + [0, 0, 1, 0, 0, 1], CUBE + [0, 0, 1, 0, 0, 1]])
    table = _one_image(dets, [0.9, 0.8, 0.7], gt)
    assert table.gt_index.tolist() == [1, 0, -1]
    assert table.tp.tolist() == [True, True, False]
    assert table.fp.tolist() == [False, False, True]


def test_threshold_is_inclusive():
    gt = np.array([[0.0, 0.0, 0.0, 10.0, 1.0, 1.0]])
    det = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])  # IoU exactly 0.1
    assert _one_image(det, [0.5], gt, iou_threshold=0.1).tp.tolist() == [True]
    assert _one_image(det, [0.5], gt, iou_threshold=0.11).tp.tolist() == [False]


def test_ignored_objects():
    shifted = CUBE + [0, 0, 1, 0, 0, 1]
    # a detection on an ignored object alone is ignored: neither TP nor FP, and the object is not counted
    table = _one_image(np.stack([CUBE]), [0.9], np.stack([CUBE]), ignore=[True])
    assert table.ignored.tolist() == [True] and not table.tp.any() and not table.fp.any()
    assert table.gt_counts.tolist() == [[0]]
    # a non-ignored object above the threshold is preferred to an ignored one with a higher IoU
    table = _one_image(np.stack([CUBE]), [0.9], np.stack([CUBE, shifted]), ignore=[True, False])
    assert table.tp.tolist() == [True] and table.gt_index.tolist() == [1]
    # an ignored object absorbs one detection only; the next one is a false positive
    table = _one_image(np.stack([CUBE, CUBE]), [0.9, 0.8], np.stack([CUBE]), ignore=[True])
    assert table.ignored.tolist() == [True, False] and table.fp.tolist() == [False, True]


def test_classes_match_separately():
    table = match_detections(
        {"a": (np.stack([CUBE, CUBE]), [0.9, 0.8], [1, 0])}, {"a": (np.stack([CUBE]), [0])}, ["x", "y"]
    )
    frame = table.to_pandas().set_index("class")
    assert bool(frame.loc[0, "tp"]) and not bool(frame.loc[1, "tp"])
    assert table.gt_counts.tolist() == [[1, 0]]


def test_max_detections_per_image_and_class():
    dets = np.stack([CUBE + [0, 0, 10 * k, 0, 0, 10 * k] for k in range(5)])
    table = _one_image(dets, [0.1, 0.5, 0.3, 0.4, 0.2], np.stack([CUBE]), max_detections=3)
    assert table.score.tolist() == [0.5, 0.4, 0.3]
    assert table.det_index.tolist() == [1, 3, 2]
    assert not table.tp.any()  # the only hit (score 0.1) was cut


def test_hand_computed_map_and_froc():
    # image a: 2 objects; detections 0.95 miss, 0.9 hit, 0.8 hit; image b: no object, one miss at 0.5
    far = CUBE + 100
    preds = {
        "a": (np.stack([far, CUBE, CUBE + 10]), [0.95, 0.9, 0.8], [0, 0, 0]),
        "b": (np.stack([far]), [0.5], [0]),
    }
    gt = {"a": (np.stack([CUBE, CUBE + 10]), [0, 0]), "b": (np.zeros((0, 6)), [])}
    table = match_detections(preds, gt, ["nodule"])
    # precision 0, 1/2, 2/3, 1/2 at recall 0, 1/2, 1, 1 -> envelope 2/3 at every recall threshold
    assert map_from_matches(table).map == pytest.approx(2 / 3)
    # FROC points (FP/image, sensitivity): (0, 0), (0.5, 0), (0.5, 0.5), (0.5, 1), (1, 1)
    froc = froc_from_matches(table)
    np.testing.assert_allclose(froc.per_rate, [0, 0, 1, 1, 1, 1, 1])
    assert froc.score == pytest.approx(5 / 7)


def test_froc_operating_points_and_interpolation():
    far = CUBE + 100
    gt = {"a": (np.stack([CUBE]), [0]), "b": (np.stack([CUBE]), [0])}
    # sorted: 0.9 FP, 0.8 TP, 0.7 FP, 0.6 FP, 0.5 TP -> (0,0) (.5,0) (.5,.5) (1,.5) (1.5,.5) (1.5,1)
    preds = {
        "a": (np.stack([far, CUBE]), [0.9, 0.8], [0, 0]),
        "b": (np.stack([far, far + 10, CUBE]), [0.7, 0.6, 0.5], [0, 0, 0]),
    }
    table = match_detections(preds, gt, 1)
    np.testing.assert_allclose(froc_from_matches(table, rates=[0.25, 1.25, 2.0]).per_rate, [0.0, 0.5, 1.0])
    # sorted: 0.9 FP, 0.8 TP, 0.7 FP, 0.6 TP, 0.5 FP -> (0,0) (.5,0) (.5,.5) (1,.5) (1,1) (1.5,1)
    preds["b"] = (np.stack([far, CUBE, far + 10]), [0.7, 0.6, 0.5], [0, 0, 0])
    table = match_detections(preds, gt, 1)
    np.testing.assert_allclose(froc_from_matches(table, rates=[0.75, 1.0]).per_rate, [0.5, 1.0])
    # tied scores form one operating point: an FP (a) and a TP (b) at 0.9 -> (0,0) (.5,.5), then the
    # second hit at 0.1 -> (.5, 1). Linear interpolation climbs the diagonal; step stays at the origin.
    preds = {"a": (np.stack([far, CUBE]), [0.9, 0.1], [0, 0]), "b": (np.stack([CUBE]), [0.9], [0])}
    table = match_detections(preds, gt, 1)
    lin = froc_from_matches(table, rates=[0.125, 0.25, 0.5, 8])
    step = froc_from_matches(table, rates=[0.125, 0.25, 0.5, 8], interpolation="step")
    np.testing.assert_allclose(lin.per_rate, [0.125, 0.25, 1.0, 1.0])
    np.testing.assert_allclose(step.per_rate, [0.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="linear, step"):
        froc_from_matches(table, interpolation="cubic")
    with pytest.raises(ValueError, match="positive"):
        froc_from_matches(table, rates=[0, 1])


def test_pooled_froc():
    preds = {"a": (np.stack([CUBE, CUBE + 100]), [0.9, 0.8], [0, 1])}
    gt = {"a": (np.stack([CUBE, CUBE + 50]), [0, 1])}
    table = match_detections(preds, gt, 2)
    per_class = froc_from_matches(table, rates=[1.0])
    pooled = froc_from_matches(table, rates=[1.0], pool_classes=True)
    np.testing.assert_allclose(per_class.per_class, [1.0, 0.0])
    assert per_class.score == 0.5 and pooled.score == 0.5 and pooled.class_names == ("all",)


def test_classes_without_ground_truth_are_left_out_of_the_means():
    preds = {"a": (np.stack([CUBE, CUBE]), [0.9, 0.8], [0, 1])}
    gt = {"a": (np.stack([CUBE]), [0])}
    table = match_detections(preds, gt, ["with", "without"])
    ap, froc = map_from_matches(table), froc_from_matches(table)
    assert ap.map == 1.0 and np.isnan(ap.per_class[1])  # nnDetection would report (1 + -1) / 2 = 0
    assert froc.score == 1.0 and np.isnan(froc.per_class[1])
    empty = match_detections(preds, {"a": (np.zeros((0, 6)), [])}, ["with", "without"])
    assert np.isnan(map_from_matches(empty).map) and np.isnan(froc_from_matches(empty).score)


def test_zero_weight_drops_an_image():
    far = CUBE + 100
    preds = {"a": (np.stack([CUBE]), [0.9], [0]), "b": (np.stack([far]), [0.95], [0])}
    gt = {"a": (np.stack([CUBE]), [0]), "b": (np.stack([CUBE]), [0])}
    table = match_detections(preds, gt, 1)
    assert map_from_matches(table).map < 1.0
    assert map_from_matches(table, [1, 0]).map == 1.0
    assert froc_from_matches(table, [1, 0]).num_images == 1.0


def test_match_detections_rejects_bad_inputs():
    gt = {"a": (np.stack([CUBE]), [0])}
    pred = (np.stack([CUBE]), [0.5], [0])
    with pytest.raises(ValueError, match="not in the ground truth"):
        match_detections({"a": pred, "zz": pred}, gt, 1)
    with pytest.raises(ValueError, match="no predictions for 1"):
        match_detections({}, gt, 1)
    assert len(match_detections({}, gt, 1, allow_missing=True)) == 0
    with pytest.raises(ValueError, match="out of range"):
        match_detections({"a": (np.stack([CUBE]), [0.5], [3])}, gt, 2)
    with pytest.raises(ValueError, match="iou_threshold"):
        match_detections({"a": pred}, gt, 1, iou_threshold=0.0)
    with pytest.raises(ValueError, match="ground truth of case 'a'"):
        match_detections({"a": pred}, {"a": (np.stack([CUBE[[3, 1, 2, 0, 4, 5]]]), [0])}, 1)


def test_match_table_validation_and_views():
    table = MatchTable(
        image_ids=("a", "b"),
        class_names=("x",),
        image_index=[0, 1, 1],
        class_index=[0, 0, 0],
        score=[0.9, 0.8, 0.1],
        tp=[True, False, False],
        ignored=[False, True, False],
        gt_counts=[[1], [0]],
    )
    frame = table.to_pandas()
    assert list(frame.columns[:6]) == ["image_id", "class", "class_name", "score", "tp", "ignored"]
    assert frame["image_id"].tolist() == ["a", "b", "b"]
    per_image = table.per_image()
    assert per_image[["tp", "fp", "ignored", "n_gt"]].to_numpy().tolist() == [[1, 0, 0, 1], [0, 1, 1, 0]]
    with pytest.raises(ValueError, match="both tp and ignored"):
        MatchTable(("a",), ("x",), [0], [0], [0.5], [True], [True], [[1]])
    with pytest.raises(ValueError, match="more true positives"):
        MatchTable(("a",), ("x",), [0], [0], [0.5], [True], [False], [[0]])
    with pytest.raises(ValueError, match="gt_counts"):
        MatchTable(("a",), ("x",), [0], [0], [0.5], [True], [False], [[1, 0]])
    with pytest.raises(ValueError, match="rows"):
        MatchTable(("a",), ("x",), [0, 0], [0], [0.5], [True], [False], [[1]])


def test_registry_and_evaluate():
    assert "map@0.1" in METRICS and "froc@0.1" in METRICS
    with pytest.raises(ValueError, match="Did you mean 'map@0.1'"):
        get_metric("map@0.01")
    preds = {"a": (np.stack([CUBE]), [0.9], [0])}
    gt = {"a": (np.stack([CUBE]), [0])}
    inputs = EvaluationInput(predictions=preds, ground_truth=gt, class_names=("nodule",))
    results = evaluate(["map@0.1", "froc@0.1"], inputs)
    assert results["map@0.1"].value == 1.0 and results["froc@0.1"].value == 1.0
    assert get_metric("map@0.1").match_key == get_metric("froc@0.1").match_key  # one shared match table
    assert results["froc@0.1"].to_dict()["details"]["rates"][0] == 0.125


def test_named_map_metrics_record_their_recall_rule():
    """``map@0.1`` is nnDetection's rule, ``map_exact@0.1`` the exact variant; both say so in their details."""
    from benchmark.metrics import EvaluationInput, evaluate

    boxes = np.array([[0, 0, 10 * i, 5, 5, 10 * i + 5] for i in range(10)], np.float64)
    preds = {"a": (boxes[:9], np.linspace(0.9, 0.5, 9), np.zeros(9, np.int64))}
    gt = {"a": (boxes, np.zeros(10, np.int64))}
    inputs = EvaluationInput(predictions=preds, ground_truth=gt, class_names=("x",))
    results = evaluate(["map@0.1", "map_exact@0.1"], inputs)
    assert results["map@0.1"].value == pytest.approx(90 / 101, abs=1e-12)
    assert results["map@0.1"].details["recall_rule"] == "nndetection"
    assert results["map_exact@0.1"].value == pytest.approx(91 / 101, abs=1e-12)
    assert results["map_exact@0.1"].details["recall_rule"] == "exact"
    with pytest.raises(ValueError, match="Valid: nndetection, exact"):
        map_from_matches(match_detections(preds, gt, 1), recall_rule="linspace")
