"""Property tests of matching, mAP and FROC: perfect predictions, monotonicity, invariance, weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_cases import random_problem

from benchmark.metrics import froc_from_matches, map_from_matches, match_detections

SETTINGS = settings(max_examples=40, deadline=None)
problems = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_images": st.integers(1, 6),
        "n_classes": st.integers(1, 3),
        "ignore_frac": st.sampled_from([0.0, 0.25]),
    }
)


def _scores(preds, gt, n_classes, weights=None):
    table = match_detections(preds, gt, n_classes)
    return map_from_matches(table, weights), froc_from_matches(table, weights)


def _assert_same(a, b):
    (ap_a, froc_a), (ap_b, froc_b) = a, b
    np.testing.assert_allclose(ap_a.per_class, ap_b.per_class, atol=1e-12)
    np.testing.assert_allclose(froc_a.sensitivity, froc_b.sensitivity, atol=1e-12)
    assert ap_a.map == pytest.approx(ap_b.map, abs=1e-12, nan_ok=True)
    assert froc_a.score == pytest.approx(froc_b.score, abs=1e-12, nan_ok=True)


def _has_gt(gt, ignore_ok=False):
    return any(len(g[1]) and (ignore_ok or not np.all(g[2])) for g in gt.values())


@SETTINGS
@given(p=problems)
def test_perfect_predictions_score_one(p):
    _, gt = random_problem(p["seed"], p["n_images"], p["n_classes"])
    if not _has_gt(gt):
        return
    rng = np.random.default_rng(p["seed"])
    preds = {c: (g[0], rng.random(len(g[1])), g[1]) for c, g in gt.items()}
    ap, froc = _scores(preds, gt, p["n_classes"])
    assert ap.map == pytest.approx(1.0)
    assert froc.score == pytest.approx(1.0)
    np.testing.assert_allclose(froc.per_rate, 1.0)


@SETTINGS
@given(p=problems, where=st.integers(0, 100))
def test_low_scored_false_positive_never_raises_scores(p, where):
    preds, gt = random_problem(p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"])
    ap, froc = _scores(preds, gt, p["n_classes"])
    cid = list(preds)[where % len(preds)]
    boxes, scores, labels = preds[cid]
    low = (scores.min() if len(scores) else 0.0) - 1.0
    far = np.array([[1000.0, 1000.0, 1000.0, 1002.0, 1002.0, 1002.0]])
    preds[cid] = (
        np.concatenate([boxes, far]),
        np.append(scores, low),
        np.append(labels, where % p["n_classes"]),
    )
    ap2, froc2 = _scores(preds, gt, p["n_classes"])
    if np.isnan(ap.map):
        assert np.isnan(ap2.map)
        return
    assert ap2.map <= ap.map + 1e-12
    assert froc2.score <= froc.score + 1e-12


@SETTINGS
@given(p=problems, perm_seed=st.integers(0, 2**32 - 1))
def test_permuting_detections_and_images_changes_nothing(p, perm_seed):
    preds, gt = random_problem(p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"])
    rng = np.random.default_rng(perm_seed)
    shuffled = {}
    for cid, (b, s, lab) in preds.items():
        perm = rng.permutation(len(s))
        shuffled[cid] = (b[perm], s[perm], lab[perm])
    order = rng.permutation(len(gt))
    ids = list(gt)
    gt_shuffled = {ids[i]: gt[ids[i]] for i in order}
    _assert_same(_scores(preds, gt, p["n_classes"]), _scores(shuffled, gt_shuffled, p["n_classes"]))


def _replicate(preds, gt, counts):
    """The dataset with image ``i`` repeated ``counts[i]`` times (a materialised bootstrap resample)."""
    p2, g2 = {}, {}
    for cid, k in zip(list(gt), counts, strict=True):
        for r in range(int(k)):
            p2[f"{cid}#{r}"] = preds[cid]
            g2[f"{cid}#{r}"] = gt[cid]
    return p2, g2


@SETTINGS
@given(p=problems)
def test_unit_weights_equal_unweighted(p):
    preds, gt = random_problem(p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"])
    _assert_same(_scores(preds, gt, p["n_classes"]), _scores(preds, gt, p["n_classes"], np.ones(len(gt))))


@SETTINGS
@given(p=problems)
def test_weight_two_equals_duplicating_every_image(p):
    preds, gt = random_problem(p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"])
    weighted = _scores(preds, gt, p["n_classes"], np.full(len(gt), 2))
    _assert_same(weighted, _scores(*_replicate(preds, gt, [2] * len(gt)), p["n_classes"]))


@SETTINGS
@given(p=problems, weight_seed=st.integers(0, 2**32 - 1))
def test_bootstrap_counts_equal_materialised_resample(p, weight_seed):
    preds, gt = random_problem(p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"])
    rng = np.random.default_rng(weight_seed)
    counts = np.bincount(rng.integers(0, len(gt), len(gt)), minlength=len(gt))  # one bootstrap draw
    weighted = _scores(preds, gt, p["n_classes"], counts)
    resampled = _replicate(preds, gt, counts)
    _assert_same(weighted, _scores(*resampled, p["n_classes"]))


@SETTINGS
@given(p=problems, weight_seed=st.integers(0, 2**32 - 1), integer=st.booleans())
def test_bootstrap_counts_equal_materialised_resample_with_tied_scores(p, weight_seed, integer):
    """Scores rounded to one decimal (ties inside images, mixing TPs and FPs): integer weights still equal the
    resampled set (copies adjacent in image order) scored from scratch."""
    preds, gt = random_problem(
        p["seed"], p["n_images"], p["n_classes"], ignore_frac=p["ignore_frac"], tied_scores=True, integer=integer
    )
    rng = np.random.default_rng(weight_seed)
    counts = rng.integers(0, 4, len(gt))  # zeros and multiples
    for rule in ("nndetection", "exact"):
        table = match_detections(preds, gt, p["n_classes"])
        scratch = match_detections(*_replicate(preds, gt, counts), p["n_classes"])
        weighted = map_from_matches(table, counts, recall_rule=rule)
        expected = map_from_matches(scratch, recall_rule=rule)
        np.testing.assert_allclose(weighted.per_class, expected.per_class, atol=1e-12, rtol=0)
        np.testing.assert_allclose(
            froc_from_matches(table, counts).sensitivity, froc_from_matches(scratch).sensitivity, atol=1e-12, rtol=0
        )


def test_tie_order_is_image_then_row_whatever_the_row_order():
    """A hand-built table whose rows interleave images: tied scores are still ordered by image, then row."""
    from benchmark.metrics.matching import MatchTable

    interleaved = MatchTable(("a", "b"), ("x",), [1, 0, 0], [0, 0, 0], [0.5, 0.5, 0.5], [False, True, False],
                             [False] * 3, np.array([[1], [0]]))
    ordered = MatchTable(("a", "b"), ("x",), [0, 0, 1], [0, 0, 0], [0.5, 0.5, 0.5], [True, False, False],
                         [False] * 3, np.array([[1], [0]]))
    s = interleaved.sorted_by_class[0]
    assert list(s.image) == [0, 0, 1] and list(s.tp) == [True, False, False]
    for w in (None, [1, 1], [3, 1], [2, 0]):
        assert map_from_matches(interleaved, w).map == map_from_matches(ordered, w).map


def test_bad_weights_raise():
    preds, gt = random_problem(0, 3, 1)
    table = match_detections(preds, gt, 1)
    with pytest.raises(ValueError, match="one entry per image"):
        map_from_matches(table, np.ones(2))
    with pytest.raises(ValueError, match="non-negative"):
        froc_from_matches(table, np.array([1.0, -1.0, 1.0]))
