"""The prediction file format: round trip and the loader's validation errors (each names the case)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.metrics import (
    CasePrediction,
    PredictionFormatError,
    PredictionSet,
    load_predictions,
    parse_predictions,
    save_predictions,
)

GOOD_CASE = {"boxes": [[0, 1, 2, 3, 4, 5], [1, 1, 1, 2, 2, 2]], "scores": [0.9, 0.1], "labels": [0, 1]}


def _file(tmp_path, cases, **top):
    obj = {"format_version": 1, "dataset": "D07", "cases": cases, **top}
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(obj))
    return path


def _error(tmp_path, cases, case_ids=("c1", "c2"), num_classes=2, **top) -> str:
    with pytest.raises(PredictionFormatError) as info:
        load_predictions(_file(tmp_path, cases, **top), case_ids, num_classes)
    return str(info.value)


def test_round_trip(tmp_path):
    cases = {
        "c1": CasePrediction(np.array(GOOD_CASE["boxes"], float), np.array([0.9, 0.1]), np.array([0, 1])),
        "c2": CasePrediction.empty(),
    }
    centres = np.array([[1.0, 2.0, 3.0]])
    cases["c3"] = CasePrediction(np.ones((1, 6)), np.array([0.5]), np.array([1]), centers_world=centres)
    path = save_predictions(tmp_path / "p.json", PredictionSet("D07", cases, metadata={"model": "x"}))
    loaded = load_predictions(path, ["c1", "c2", "c3"], num_classes=2)
    assert loaded.dataset == "D07" and loaded.metadata == {"model": "x"}
    np.testing.assert_array_equal(loaded.cases["c1"].boxes, cases["c1"].boxes)
    assert loaded.cases["c2"].boxes.shape == (0, 6)
    np.testing.assert_array_equal(loaded.cases["c3"].centers_world, centres)
    assert loaded.cases["c1"].labels.dtype == np.int64


def test_unknown_and_missing_cases(tmp_path):
    msg = _error(tmp_path, {"c1": GOOD_CASE, "c9": GOOD_CASE})
    assert "'c9'" in msg and "not in the ground truth" in msg
    assert "'c2'" in msg and "no predictions" in msg
    loaded = load_predictions(_file(tmp_path, {"c1": GOOD_CASE}), ["c1", "c2"], 2, allow_missing=True)
    assert len(loaded.cases["c2"]) == 0


def test_non_finite_scores_and_boxes(tmp_path):
    bad = dict(GOOD_CASE, scores=[0.9, float("nan")])
    msg = _error(tmp_path, {"c1": GOOD_CASE, "c2": bad})
    assert "case 'c2'" in msg and "scores contain NaN or inf (entries 1)" in msg
    bad = dict(GOOD_CASE, boxes=[[0, 1, 2, 3, 4, float("inf")], [1, 1, 1, 2, 2, 2]])
    assert "case 'c1': boxes contain NaN or inf" in _error(tmp_path, {"c1": bad, "c2": GOOD_CASE})


def test_inverted_boxes(tmp_path):
    bad = dict(GOOD_CASE, boxes=[[5, 1, 2, 3, 4, 5], [1, 1, 1, 2, 2, 2]])
    msg = _error(tmp_path, {"c1": GOOD_CASE, "c2": bad})
    assert "case 'c2'" in msg and "boxes 0 inverted (z2 < z1" in msg and "minima first" in msg
    bad = dict(GOOD_CASE, boxes=[[0, 1, 2, 3, 4, 5], [1, 1, 3, 2, 2, 2]])
    assert "inverted (x2 < x1" in _error(tmp_path, {"c1": bad, "c2": GOOD_CASE})


def test_labels_out_of_range_or_not_integer(tmp_path):
    msg = _error(tmp_path, {"c1": dict(GOOD_CASE, labels=[0, 2]), "c2": GOOD_CASE})
    assert "case 'c1'" in msg and "labels out of range at 1 (got 2, valid: 0..1)" in msg
    assert "labels out of range" in _error(tmp_path, {"c1": dict(GOOD_CASE, labels=[-1, 0]), "c2": GOOD_CASE})
    assert "must be integers" in _error(tmp_path, {"c1": dict(GOOD_CASE, labels=[0.5, 0]), "c2": GOOD_CASE})


def test_length_mismatch_and_shapes(tmp_path):
    msg = _error(tmp_path, {"c1": dict(GOOD_CASE, scores=[0.9]), "c2": GOOD_CASE})
    assert "case 'c1'" in msg and "length mismatch: boxes 2, scores 1, labels 2" in msg
    msg = _error(tmp_path, {"c1": dict(GOOD_CASE, boxes=[[0, 0, 0, 1, 1]] * 2), "c2": GOOD_CASE})
    assert "boxes must have shape [N, 6]" in msg


def test_every_problem_is_listed(tmp_path):
    msg = _error(tmp_path, {"c1": dict(GOOD_CASE, scores=[0.9]), "c2": dict(GOOD_CASE, labels=[0, 7])})
    assert "2 problem(s)" in msg and "case 'c1'" in msg and "case 'c2'" in msg


def test_top_level_errors(tmp_path):
    assert "format_version must be one of [1]" in _error(tmp_path, {}, format_version=2)
    msg = _error(tmp_path, {"c1": GOOD_CASE, "c2": GOOD_CASE}, dataset="", extra=1)
    assert "dataset must be a non-empty string" in msg and "unknown top-level keys ['extra']" in msg
    assert "unknown keys ['score']" in _error(tmp_path, {"c1": dict(GOOD_CASE, score=[1]), "c2": GOOD_CASE})
    with pytest.raises(PredictionFormatError, match="cases must be an object"):
        parse_predictions({"format_version": 1, "dataset": "D07", "cases": []})
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(PredictionFormatError, match="not valid JSON"):
        load_predictions(path)
    with pytest.raises(FileNotFoundError):
        load_predictions(tmp_path / "missing.json")
