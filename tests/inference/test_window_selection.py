"""The inference window is chosen on the validation split: the best validation mAP@0.1 wins, ties the smaller."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.inference.sliding_window import InferenceConfig
from benchmark.inference.window_selection import candidate_patches, select_window

GT = {
    "a": (np.array([[10.0, 10, 10, 40, 40, 40]]), np.array([0])),
    "b": (np.array([[5.0, 5, 5, 15, 15, 15]]), np.array([0])),
}


def _pred(boxes, scores):
    return {"boxes": np.asarray(boxes, float).reshape(-1, 6), "scores": np.asarray(scores, float),
            "labels": np.zeros(len(scores), np.int64)}


def _fragmented(config):
    """Small windows: the big object of case 'a' comes as two fragments that outrank it; large windows: whole."""
    if config.patch_size[0] < 64:
        a = _pred([[10, 10, 10, 20, 20, 20], [30, 30, 30, 40, 40, 40], [10, 10, 10, 40, 40, 40]], [0.9, 0.8, 0.5])
    else:
        a = _pred([[10, 10, 10, 40, 40, 40]], [0.9])
    return {"a": a, "b": _pred([[5, 5, 5, 15, 15, 15]], [0.7])}


def test_candidates_are_multiples_of_the_stride_without_duplicates():
    assert candidate_patches((32, 32, 32), (1.0, 2.0), (8, 8, 8)) == [(32, 32, 32), (64, 64, 64)]
    assert candidate_patches((16, 40, 40), (1.0, 1.5, 1.5), (8, 8, 8)) == [(16, 40, 40), (24, 56, 56)]
    assert candidate_patches((32, 32, 32), (1.0, 1.1), (8, 8, 8)) == [(32, 32, 32)]  # 35 rounds down to 32
    with pytest.raises(ValueError, match=">= 1"):
        candidate_patches((32, 32, 32), (0.5,), (8, 8, 8))


def test_the_window_with_the_best_validation_map_wins():
    base = InferenceConfig(patch_size=(32, 32, 32), overlap=0.25)
    seen = []

    def predict(config):
        seen.append(config.patch_size)
        return _fragmented(config)

    choice = select_window(predict, GT, ["c"], base, [(32, 32, 32), (64, 64, 64)])
    assert seen == [(32, 32, 32), (64, 64, 64)]  # each candidate predicts the validation cases once
    assert choice.inference.patch_size == (64, 64, 64) and choice.inference.overlap == 0.25
    scores = {tuple(c["patch_size"]): c["validation_map@0.1"] for c in choice.record()["candidates"]}
    assert scores[(64, 64, 64)] == pytest.approx(1.0) and scores[(32, 32, 32)] < 1.0
    assert choice.val_map == pytest.approx(1.0) and choice.record()["patch_size"] == [64, 64, 64]


def test_a_tie_keeps_the_smaller_window():
    same = lambda config: _fragmented(InferenceConfig(patch_size=(64, 64, 64)))  # noqa: E731
    choice = select_window(same, GT, ["c"], InferenceConfig(patch_size=(32, 32, 32)), [(32, 32, 32), (64, 64, 64)])
    assert choice.inference.patch_size == (32, 32, 32)
    with pytest.raises(ValueError, match="no candidate"):
        select_window(same, GT, ["c"], InferenceConfig(), [])
