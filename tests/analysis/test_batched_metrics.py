"""The batched bootstrap metrics equal the per-replicate reference functions exactly (bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.batched_metrics import ReplicateWeights, batched_froc, batched_map, batched_scores, batched_scores_many
from benchmark.metrics.coco import map_from_matches
from benchmark.metrics.froc import froc_from_matches
from benchmark.metrics.matching import MatchTable


def random_table(
    rng: np.random.Generator, n_images: int = 30, n_classes: int = 2, max_dets: int = 20,
    tie_levels: int | None = None, ignored: float = 0.05, gt: np.ndarray | None = None,
) -> MatchTable:
    """Random TP/FP/ignored detections; ``tie_levels`` rounds scores to make ties (mixed TP/FP tie groups)."""
    gt = rng.poisson(1.5, size=(n_images, n_classes)) if gt is None else gt
    parts: dict[str, list] = {k: [] for k in ("image", "cls", "score", "tp", "ign")}
    for i in range(n_images):
        for c in range(n_classes):
            n_tp, n_fp = int(rng.binomial(gt[i, c], 0.7)), int(rng.integers(0, max_dets))
            score = np.concatenate([rng.beta(3, 1.5, n_tp), rng.beta(0.7, 3, n_fp)])
            if tie_levels:
                score = np.round(score * tie_levels) / tie_levels
            tp = np.arange(len(score)) < n_tp
            parts["image"].append(np.full(len(score), i))
            parts["cls"].append(np.full(len(score), c))
            parts["score"].append(score)
            parts["tp"].append(tp)
            parts["ign"].append(~tp & (rng.random(len(score)) < ignored))
    a = {k: np.concatenate(v) for k, v in parts.items()}
    return MatchTable(
        image_ids=tuple(f"img{i:03d}" for i in range(n_images)), class_names=tuple(f"c{c}" for c in range(n_classes)),
        image_index=a["image"], class_index=a["cls"], score=a["score"], tp=a["tp"], ignored=a["ign"], gt_counts=gt,
    )


def counts(rng: np.random.Generator, n_images: int, n_rep: int) -> np.ndarray:
    return np.stack([np.bincount(rng.integers(0, n_images, n_images), minlength=n_images) for _ in range(n_rep)])


def same(a: float, b: float) -> bool:
    return a == b or (np.isnan(a) and np.isnan(b))


@pytest.mark.parametrize("rule", ["nndetection", "exact"])
@pytest.mark.parametrize("tie_levels", [None, 4, 20])
@pytest.mark.parametrize("seed", range(8))
def test_equals_reference_on_every_replicate(seed, tie_levels, rule):
    rng = np.random.default_rng(seed)
    table = random_table(rng, n_images=int(rng.integers(2, 40)), n_classes=int(rng.integers(1, 4)),
                         max_dets=int(rng.integers(1, 25)), tie_levels=tie_levels)
    w = counts(rng, table.n_images, 25)
    w[0] = 1  # every image once
    w[1] = 0
    w[1, 0] = table.n_images  # one image only (often no ground truth: NaN)
    got = batched_scores(table, w, recall_rule=rule)
    for r in range(len(w)):
        assert same(got["map"][r], map_from_matches(table, w[r], recall_rule=rule).map), r
        assert same(got["froc"][r], froc_from_matches(table, w[r]).score), r


@pytest.mark.parametrize("rule", ["nndetection", "exact"])
def test_threshold_counting_shortcut_equals_searchsorted(rule):
    """The closed form for how many grid thresholds a count reaches (with the nndetection rule's float32 hits
    corrected) equals searchsorted on the rule's recall, for every count of up to 3000 objects."""
    from analysis.batched_metrics import _recall_counts, _thresholds_passed
    from benchmark.metrics.coco import recall_grid, recall_values

    g = np.arange(1, 3001, dtype=np.float64)
    tp = np.minimum(np.arange(0, 3001)[None, :], g[:, None]).astype(np.int32)
    for k in (101, 11, 1001):
        thresholds = recall_grid(k, rule)
        expected = np.searchsorted(thresholds, recall_values(tp, g[:, None], rule), side="right")
        np.testing.assert_array_equal(_thresholds_passed(tp, g, thresholds, rule), expected)
        need = _recall_counts(g, thresholds, rule)
        assert np.all(recall_values(need, g[:, None], rule) >= thresholds)
        assert np.all((need == 0) | (recall_values(need - 1, g[:, None], rule) < thresholds))


def test_recall_rule_changes_replicates_and_is_validated():
    """Ten objects in one image, nine found: every replicate drawing the image once reads recall 9/10 as
    float32 under nndetection (misses 0.90) and exactly under exact."""
    table = MatchTable(("a", "b"), ("x",), np.zeros(12, np.int64), np.zeros(12, np.int64),
                       np.linspace(0.9, 0.1, 12), np.arange(12) < 9, np.zeros(12, bool), np.array([[10], [0]]))
    w = np.array([[1, 1], [1, 0], [1, 5]])
    np.testing.assert_allclose(batched_map(table, w), 90 / 101, rtol=0, atol=1e-15)
    np.testing.assert_allclose(batched_map(table, w, recall_rule="exact"), 91 / 101, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="Valid: nndetection, exact"):
        batched_map(table, w, recall_rule="coco")


def test_options_step_interpolation_custom_rates_and_thresholds():
    rng = np.random.default_rng(11)
    table = random_table(rng, n_images=25, n_classes=2, tie_levels=10)
    w = counts(rng, table.n_images, 20)
    rates, thresholds = (0.3, 1.0, 3.0), np.array([0.5, 0.1, 0.9, 0.3])  # unsorted thresholds too
    froc_step = batched_froc(table, w, rates=rates, interpolation="step")
    ap = batched_map(table, w, recall_thresholds=thresholds)
    ap11 = batched_map(table, w, recall_thresholds=11)
    for r in range(len(w)):
        assert same(froc_step[r], froc_from_matches(table, w[r], rates=rates, interpolation="step").score)
        assert same(ap[r], map_from_matches(table, w[r], recall_thresholds=thresholds).map)
        assert same(ap11[r], map_from_matches(table, w[r], recall_thresholds=11).map)


@pytest.mark.parametrize("tie_levels", [None, 10])
def test_many_tables_on_shared_replicates_equal_reference(tie_levels):
    """Models of one dataset are processed together (stacked); each equals its own reference, whatever the
    image order of its table."""
    rng = np.random.default_rng(21)
    n = 40
    gt = rng.poisson(1.2, size=(n, 2))
    tables = [random_table(rng, n, 2, max_dets=15, tie_levels=tie_levels, gt=gt) for _ in range(6)]
    perm = rng.permutation(n)  # one model lists its images in another order
    t = tables[2]
    inv = np.argsort(perm)
    tables[2] = MatchTable(tuple(t.image_ids[i] for i in perm), t.class_names, inv[t.image_index], t.class_index,
                           t.score, t.tp, t.ignored, t.gt_counts[perm])
    w = counts(rng, n, 30)
    weights = ReplicateWeights(w, tables[0].image_ids)
    got = batched_scores_many(tables, weights, rates=(4.0, 0.25, 1.0))  # unsorted rates too; ties copy by copy
    for table, scores in zip(tables, got, strict=True):
        order = [tables[0].image_ids.index(c) for c in table.image_ids]
        for r in range(len(w)):
            assert same(scores["map"][r], map_from_matches(table, w[r, order]).map)
            assert same(scores["froc"][r], froc_from_matches(table, w[r, order], rates=(4.0, 0.25, 1.0)).score)


def test_long_runs_and_large_weights_use_wider_integers():
    """Runs longer than a segment (split for int16) and weights that need int32 give the same values."""
    n_images, n_fp = 4, 5000
    image = np.concatenate([np.arange(n_fp) % n_images, [0, 1, 2]])
    score = np.concatenate([np.linspace(0.9, 0.5, n_fp), [0.4, 0.3, 0.2]])
    tp = np.concatenate([np.zeros(n_fp, bool), np.ones(3, bool)])
    table = MatchTable(tuple("abcd"), ("x",), image, np.zeros(len(tp), np.int64), score, tp, np.zeros(len(tp), bool),
                       np.ones((n_images, 1), np.int64))
    for w in (np.array([[1, 1, 1, 1], [40, 0, 3, 1], [0, 0, 0, 4], [2, 2, 0, 0]]),  # int32 products
              np.array([[1, 1, 1, 1], [3, 0, 3, 1], [0, 0, 0, 4], [2, 2, 0, 0]])):  # int16 products, split runs
        got = batched_scores(table, w)
        for r in range(len(w)):
            assert same(got["map"][r], map_from_matches(table, w[r]).map)
            assert same(got["froc"][r], froc_from_matches(table, w[r]).score)


def test_empty_and_degenerate_tables():
    no_dets = MatchTable(("a", "b"), ("x",), [], [], [], [], [], np.array([[1], [0]]))
    only_fp = MatchTable(("a", "b"), ("x",), [0, 1], [0, 0], [0.5, 0.4], [False, False], [False, False],
                         np.array([[1], [1]]))
    for table in (no_dets, only_fp):
        w = np.array([[1, 1], [2, 0], [0, 2]])
        got = batched_scores(table, w)
        for r in range(len(w)):
            assert same(got["map"][r], map_from_matches(table, w[r]).map)
            assert same(got["froc"][r], froc_from_matches(table, w[r]).score)


def test_rejects_bad_weights_and_options():
    table = random_table(np.random.default_rng(0), n_images=5)
    with pytest.raises(ValueError, match="shape"):
        batched_map(table, np.ones((3, 4), int))
    with pytest.raises(ValueError, match="not among the weighted images"):
        batched_map(table, ReplicateWeights(np.ones((1, 5), int), [f"other{i}" for i in range(5)]))
    with pytest.raises(ValueError, match="integer"):
        batched_map(table, np.full((1, 5), 0.5))
    with pytest.raises(ValueError, match="integer"):
        batched_map(table, -np.ones((1, 5), int))
    with pytest.raises(ValueError, match="Valid: map, froc"):
        batched_scores(table, np.ones((1, 5), int), metrics=("auc",))
    with pytest.raises(ValueError, match="Valid: linear, step"):
        batched_froc(table, np.ones((1, 5), int), interpolation="cubic")
