"""Bootstrap replicates: paired, seeded, exact on the identity replicate; dominance and ties in the ranks."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.bootstrap import bootstrap_counts, bootstrap_dataset, bootstrap_store, dataset_generator, full_metrics
from analysis.store import open_store
from benchmark.metrics.matching import MatchTable


def quality_table(hit: np.ndarray, tp_score: float, fp_score: float, n_fp: int = 2) -> MatchTable:
    """One class and one object per image; image i's object is found (at ``tp_score``) where ``hit[i]``;
    plus ``n_fp`` false positives per image at ``fp_score``."""
    image, score, tp = [], [], []
    for i, h in enumerate(hit):
        if h:
            image, score, tp = image + [i], score + [tp_score], tp + [True]
        image, score, tp = image + [i] * n_fp, score + [fp_score] * n_fp, tp + [False] * n_fp
    n = len(score)
    return MatchTable(tuple(f"img{i:03d}" for i in range(len(hit))), ("lesion",), np.array(image),
                      np.zeros(n, np.int64), np.array(score, float), np.array(tp), np.zeros(n, bool),
                      np.ones((len(hit), 1), np.int64))


def test_counts_are_resamples_of_n_images():
    w = bootstrap_counts(17, 50, np.random.default_rng(0))
    assert w.shape == (50, 17)
    assert (w.sum(axis=1) == 17).all() and (w >= 0).all()
    assert np.array_equal(w, bootstrap_counts(17, 50, np.random.default_rng(0)))
    with pytest.raises(ValueError):
        bootstrap_counts(0, 5, np.random.default_rng(0))


def test_dataset_generator_depends_on_seed_and_dataset_only():
    a = bootstrap_counts(10, 5, dataset_generator(3, "D06"))
    assert np.array_equal(a, bootstrap_counts(10, 5, dataset_generator(3, "D06")))
    assert not np.array_equal(a, bootstrap_counts(10, 5, dataset_generator(3, "D07")))
    assert not np.array_equal(a, bootstrap_counts(10, 5, dataset_generator(4, "D06")))


def test_identity_replicate_reproduces_the_full_data_metrics_exactly(tiny_store):
    store = open_store(tiny_store)
    tables = store.tables("S03")
    n = next(iter(tables.values())).n_images
    w = np.vstack([np.ones(n, np.int64), bootstrap_counts(n, 3, np.random.default_rng(1))])
    full, reps, _ = bootstrap_dataset(tables, counts=w, dataset="S03")
    first = reps[reps["replicate"] == 0].set_index(["architecture", "pretraining", "metric"])["value"]
    ref = full.set_index(["architecture", "pretraining", "metric"])["value"]
    assert (first.sort_index() == ref.sort_index()).all()  # exact, not approximate
    # the stored result.json values are the same full-data metrics
    stored = store.metrics().query("dataset == 'S03'").set_index(["architecture", "pretraining", "metric"])["value"]
    assert np.allclose(stored.sort_index(), ref.sort_index(), rtol=0, atol=1e-12)


def test_same_draws_for_every_model_whatever_the_image_order():
    rng = np.random.default_rng(0)
    hit = rng.random(12) < 0.6
    a = quality_table(hit, 0.9, 0.2)
    # the same model with its images stored in another order must give identical replicate values
    perm = rng.permutation(12)
    inv = np.argsort(perm)
    b = MatchTable(tuple(a.image_ids[i] for i in perm), a.class_names, inv[a.image_index], a.class_index, a.score,
                   a.tp, a.ignored, a.gt_counts[perm])
    _, reps, (ids, w) = bootstrap_dataset({("m", "a"): a, ("m", "b"): b}, n_replicates=40, seed=5, dataset="X")
    assert ids == a.image_ids and w.shape == (40, 12)
    va = reps[reps["pretraining"] == "a"].sort_values(["metric", "replicate"])["value"].to_numpy()
    vb = reps[reps["pretraining"] == "b"].sort_values(["metric", "replicate"])["value"].to_numpy()
    assert np.array_equal(va, vb, equal_nan=True)


def test_a_model_that_dominates_on_every_image_ranks_first_in_every_replicate():
    rng = np.random.default_rng(3)
    n = 30
    best = quality_table(np.ones(n, bool), tp_score=0.9, fp_score=0.1)  # finds every object, FPs score low
    weaker = quality_table(rng.random(n) < 0.7, tp_score=0.8, fp_score=0.3)
    worst = quality_table(rng.random(n) < 0.4, tp_score=0.5, fp_score=0.6)
    tables = {("arch", "best"): best, ("arch", "weaker"): weaker, ("arch", "worst"): worst}
    full, reps, _ = bootstrap_dataset(tables, n_replicates=300, seed=0, dataset="D")
    top = reps[reps["pretraining"] == "best"]
    assert len(top) == 2 * 300 and (top["rank"] == 1).all()
    assert (full[full["pretraining"] == "best"]["rank"] == 1).all()


def test_ties_share_the_smallest_rank_in_every_replicate():
    rng = np.random.default_rng(4)
    hit = rng.random(25) < 0.6
    twin = quality_table(hit, 0.9, 0.2)
    tables = {
        ("a", "twin1"): twin,
        ("a", "twin2"): quality_table(hit, 0.9, 0.2),  # identical detections: tied in every replicate
        ("a", "worse"): quality_table(np.zeros(25, bool), 0.9, 0.95),
    }
    _, reps, _ = bootstrap_dataset(tables, n_replicates=100, seed=1, dataset="D")
    r = reps.pivot_table(index=["metric", "replicate"], columns="pretraining", values="rank")
    valid = r.dropna()
    assert (valid["twin1"] == valid["twin2"]).all()
    assert ((valid["twin1"] == 1) & (valid["worse"] == 3)).all()  # 1, 1, 3: "min" ranking


def test_store_bootstrap_frames(tiny_store):
    result = bootstrap_store(open_store(tiny_store), n_replicates=20, seed=0)
    assert set(result.full.columns) == {"dataset", "architecture", "pretraining", "metric", "value", "rank"}
    assert len(result.replicates) == 3 * 4 * 2 * 20
    assert set(result.replicates["replicate"]) == set(range(20))
    per = result.replicates.groupby(["dataset", "metric", "replicate"])["rank"]
    assert (per.min() == 1).all()
    # the full-data value is what the reference functions give
    store = open_store(tiny_store)
    row = result.full.iloc[0]
    ref = full_metrics(store.table(row.dataset, row.architecture, row.pretraining))[row.metric]
    assert row.value == ref


def test_rejects_unknown_metrics_and_unpaired_tables():
    a = quality_table(np.ones(5, bool), 0.9, 0.1)
    b = quality_table(np.ones(6, bool), 0.9, 0.1)
    with pytest.raises(ValueError, match="Valid: map@0.1, froc@0.1"):
        bootstrap_dataset({("m", "a"): a}, n_replicates=2, metrics=("auc",))
    with pytest.raises(ValueError, match="same test images"):
        bootstrap_dataset({("m", "a"): a, ("m", "b"): b}, n_replicates=2)


# -- a replicate equals scoring its resampled set from scratch, ties included -----------------------------------
CUBE = np.array([0.0, 0.0, 0.0, 4.0, 4.0, 4.0])


def tied_problem(seed: int, n_images: int = 14, n_classes: int = 3, decimals: int = 1) -> tuple[dict, dict]:
    """Predictions and ground truth with heavy ties: scores rounded to ``decimals``, so tied runs mix TPs and FPs
    inside and across images, plus duplicate detections of an object at the same score (one TP, one FP); some
    images without ground truth, some ignored objects."""
    rng = np.random.default_rng(seed)
    preds, gt = {}, {}
    for i in range(n_images):
        n_obj = 0 if i % 4 == 1 else int(rng.integers(0, 7))
        objects = CUBE + 10.0 * np.arange(n_obj)[:, None] * np.array([0, 0, 1, 0, 0, 1])
        labels = rng.integers(0, n_classes, n_obj)
        found = rng.random(n_obj) < 0.75
        hits = objects[found] + rng.integers(0, 2, size=(int(found.sum()), 6))
        n_fp = int(rng.integers(0, 13))
        misses = CUBE + 500.0 + 10.0 * np.arange(n_fp)[:, None]
        twins = rng.random(len(hits)) < 0.3  # duplicate detections of an object at the same score (TP + FP)
        boxes = np.concatenate([hits, misses, hits[twins] + 1])
        det_labels = np.concatenate([labels[found], rng.integers(0, n_classes, n_fp), labels[found][twins]])
        scores = np.round(rng.random(len(hits) + n_fp), decimals)
        scores = np.concatenate([scores, scores[: len(hits)][twins]])
        perm = rng.permutation(len(boxes))
        preds[f"case{i:02d}"] = (boxes[perm], scores[perm], det_labels[perm])
        gt[f"case{i:02d}"] = (objects, labels, rng.random(n_obj) < 0.1)
    return preds, gt


def resampled_set(preds: dict, gt: dict, counts: np.ndarray) -> tuple[dict, dict]:
    """The resampled set itself: the images in image order, image ``i`` repeated ``counts[i]`` times, copies
    adjacent (the documented tie order of a replicate)."""
    p2, g2 = {}, {}
    for cid, k in zip(list(gt), counts, strict=True):
        for copy in range(int(k)):
            p2[f"{cid}#{copy}"] = preds[cid]
            g2[f"{cid}#{copy}"] = gt[cid]
    return p2, g2


def close(a: float, b: float, tol: float = 1e-12) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= tol


def test_tied_true_positive_first_copy_by_copy():
    """Image A: one object and two detections of equal score (the TP first); image B empty. Weights [2, 0] are
    the set {A, A}: TP, FP, TP, FP in score order (AP 0.834983), not TP, TP, FP, FP (AP 1.0)."""
    from analysis.batched_metrics import batched_map
    from benchmark.metrics import map_from_matches, match_detections

    preds = {"A": (np.stack([CUBE, CUBE + 50]), np.array([0.5, 0.5]), np.zeros(2, np.int64)),
             "B": (np.zeros((0, 6)), np.zeros(0), np.zeros(0, np.int64))}
    gt = {"A": (CUBE[None], np.zeros(1, np.int64)), "B": (np.zeros((0, 6)), np.zeros(0, np.int64))}
    table = match_detections(preds, gt, 1)
    assert list(table.tp) == [True, False]
    scratch = map_from_matches(match_detections(*resampled_set(preds, gt, np.array([2, 0])), 1)).map
    assert scratch == pytest.approx((51 + 50 * 2 / 3) / 101, abs=1e-12)  # 0.834983
    assert map_from_matches(table, [2, 0]).map == scratch
    assert batched_map(table, np.array([[2, 0]]))[0] == scratch


@pytest.mark.parametrize("decimals", [1, 2])
@pytest.mark.parametrize("seed", range(4))
def test_batched_bootstrap_equals_scoring_the_resampled_set(seed, decimals):
    """Heavy ties, 3 classes, images without ground truth, weights with zeros and multiples: every replicate of
    the batched path (and of the weighted reference functions) equals matching and scoring its resampled set
    from scratch through the public path, to 1e-12, for both recall rules and for FROC."""
    from analysis.batched_metrics import batched_scores
    from benchmark.metrics import froc_from_matches, map_from_matches, match_detections

    rng = np.random.default_rng([seed, decimals])
    preds, gt = tied_problem(seed, decimals=decimals)
    names = ("a", "b", "c")
    table = match_detections(preds, gt, names)
    n = table.n_images
    counts = bootstrap_counts(n, 30, rng)
    counts[0] = 1  # the data set itself
    counts[1] = 0
    counts[1, :3] = [5, 4, n - 9]  # few images, many copies
    counts[2] = rng.integers(0, 4, n)  # not a resample of n draws: zeros, twos and threes anywhere
    counts[3] = 2
    differ = 0
    for rule in ("nndetection", "exact"):
        batched = batched_scores(table, counts, recall_rule=rule)
        for r, w in enumerate(counts):
            scratch_table = match_detections(*resampled_set(preds, gt, w), names)
            scratch_map = map_from_matches(scratch_table, recall_rule=rule).map
            scratch_froc = froc_from_matches(scratch_table).score
            assert close(batched["map"][r], scratch_map), (rule, r, batched["map"][r], scratch_map)
            assert close(batched["froc"][r], scratch_froc), (rule, r)
            assert close(map_from_matches(table, w, recall_rule=rule).map, scratch_map), (rule, r)
            assert close(froc_from_matches(table, w).score, scratch_froc), (rule, r)
            # weighting each detection (the old rule) would differ here: the test has teeth
            naive = _naive_weighted_map(table, w, rule)
            differ += not close(naive, scratch_map)
    assert differ >= 5


def _naive_weighted_map(table: MatchTable, w: np.ndarray, rule: str) -> float:
    """mAP with each detection weighted by its image's count (ties not repeated copy by copy)."""
    from benchmark.metrics.coco import average_precision

    num_gt = w @ table.gt_counts
    aps = []
    for c, s in enumerate(table.sorted_by_class):
        if num_gt[c] > 0:
            tp, fp = s.cumulative(w)
            aps.append(average_precision(tp[s.tp_rows], fp[s.tp_rows], float(num_gt[c]), recall_rule=rule)[0])
    return float(np.mean(aps)) if aps else float("nan")


def test_bootstrap_dataset_replicates_equal_their_resampled_sets():
    """The bootstrap itself (paired, several models, one shared set of counts) on heavily tied tables."""
    from benchmark.metrics import froc_from_matches, map_from_matches, match_detections

    preds_a, gt = tied_problem(11, decimals=1)
    rng = np.random.default_rng(5)
    preds_b = {c: (b, np.round(np.clip(s + rng.normal(0, 0.1, len(s)), 0, 1), 1), lab)
               for c, (b, s, lab) in preds_a.items()}
    names = ("a", "b", "c")
    tables = {("m", "a"): match_detections(preds_a, gt, names), ("m", "b"): match_detections(preds_b, gt, names)}
    counts = bootstrap_counts(len(gt), 40, rng)
    _, reps, _ = bootstrap_dataset(tables, counts=counts, dataset="D")
    for key, preds in ((("m", "a"), preds_a), (("m", "b"), preds_b)):
        rows = reps[(reps.architecture == key[0]) & (reps.pretraining == key[1])]
        for r, w in enumerate(counts):
            scratch = match_detections(*resampled_set(preds, gt, w), names)
            got = rows[rows.replicate == r].set_index("metric")["value"]
            assert close(got["map@0.1"], map_from_matches(scratch).map), (key, r)
            assert close(got["froc@0.1"], froc_from_matches(scratch).score), (key, r)
