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
