"""challengeR-style statistics: p-values against closed forms and scipy, Holm by hand, tau against scipy, the three
rankings on a fixed example, robustness in [-1, 1]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import challenge
from analysis.bootstrap import bootstrap_counts, bootstrap_store
from analysis.ranking import rank_desc, ranking_stability
from analysis.store import open_store


def frames(values: dict[str, list[float]], full: dict[str, float] | None = None, dataset: str = "D") -> tuple:
    """``(full, replicates)`` frames of one dataset and metric from per-model replicate values."""
    names = sorted(values)
    v = np.array([values[n] for n in names], np.float64).T  # [R, M]
    ranks = rank_desc(v, axis=1)
    rep = pd.DataFrame({
        "dataset": dataset, "replicate": np.repeat(np.arange(v.shape[0]), len(names)),
        "architecture": np.tile(names, v.shape[0]), "pretraining": "p", "metric": "map@0.1",
        "value": v.reshape(-1), "rank": ranks.reshape(-1),
    })
    f = np.array([(full or {}).get(n, v[:, i].mean()) for i, n in enumerate(names)])
    full_frame = pd.DataFrame({"dataset": dataset, "architecture": names, "pretraining": "p", "metric": "map@0.1",
                               "value": f, "rank": rank_desc(f)})
    return full_frame, rep


def test_p_value_is_the_share_of_replicates_without_a_win_as_scipy_percentileofscore():
    d = np.array([0.3, -0.1, 0.0, 0.2, 0.25, np.nan, -0.05, 0.4])
    p = challenge.bootstrap_p_values(d)
    finite = d[~np.isnan(d)]
    assert p == pytest.approx(stats.percentileofscore(finite, 0.0, kind="weak") / 100)
    assert p == pytest.approx(3 / 7)
    assert np.isnan(challenge.bootstrap_p_values(np.array([np.nan, np.nan])))


def test_bootstrap_p_value_matches_the_closed_form_binomial():
    """Per-image differences +1 (k images) and -1 (n - k): a resample's mean difference is <= 0 exactly when at
    most n/2 of its n draws hit a +1 image, so the exact bootstrap p-value is ``binom.cdf(n // 2, n, k / n)``."""
    n, k, n_rep = 9, 6, 200_000
    per_image_a = np.r_[np.ones(k), np.zeros(n - k)]
    per_image_b = np.r_[np.zeros(k), np.ones(n - k)]
    counts = bootstrap_counts(n, n_rep, np.random.default_rng(3))
    full, rep = frames({"a": counts @ per_image_a / n, "b": counts @ per_image_b / n},
                       full={"a": per_image_a.mean(), "b": per_image_b.mean()})
    tests = challenge.pairwise_tests(full, rep)
    row = tests[tests["architecture_a"] == "a"].iloc[0]
    exact = stats.binom.cdf(n // 2, n, k / n)
    se = np.sqrt(exact * (1 - exact) / n_rep)
    assert abs(row["p_value"] - exact) < 4 * se
    reverse = tests[tests["architecture_a"] == "b"].iloc[0]
    assert reverse["p_value"] == pytest.approx(1 - row["p_value"])  # no ties: the two one-sided p-values sum to 1
    assert row["delta"] == pytest.approx((2 * k - n) / n)
    # two pairs: Holm multiplies the smaller p by 2 and keeps the order
    assert row["p_holm"] == pytest.approx(min(1.0, 2 * row["p_value"]))


def test_holm_on_a_hand_computed_example():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # sorted: 0.005 * 4 = 0.02; 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> max so far 0.06
    expected = np.array([0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(challenge.holm_adjust(p), expected, equal_nan=True)
    np.testing.assert_allclose(challenge.holm_adjust(np.array([0.5, 0.9])), [1.0, 1.0])
    assert challenge.holm_adjust(np.array([])).shape == (0,)


# 3 models, 4 replicates: the mean ranks A first, the mean rank B first, only B beats C in every replicate
FIXED = {"A": [0.95, 0.1, 0.9, 0.1], "B": [0.5, 0.5, 0.5, 0.5], "C": [0.4, 0.4, 0.4, 0.4]}


def test_three_rankings_on_a_fixed_example():
    full, rep = frames(FIXED)
    tests = challenge.pairwise_tests(full, rep)
    p = tests.set_index(["architecture_a", "architecture_b"])["p_value"]
    assert p[("B", "C")] == 0 and p[("C", "B")] == 1 and p[("A", "C")] == 0.5 and p[("B", "A")] == 0.5
    sig = challenge.significance_matrix(tests, "D", "map@0.1")
    assert sig.to_numpy().tolist() == [[False, False, False], [False, False, True], [False, False, False]]
    r = challenge.ranking_methods(rep, tests)
    per = r[r["dataset"] == "D"].set_index("architecture")
    assert per["aggregate_then_rank"].to_dict() == {"A": 1, "B": 2, "C": 3}  # means 0.5125, 0.5, 0.4
    assert per["mean_rank"].to_dict() == {"A": 2.0, "B": 1.5, "C": 2.5}
    assert per["rank_then_aggregate"].to_dict() == {"A": 2, "B": 1, "C": 3}
    assert per["wins"].to_dict() == {"A": 0, "B": 1, "C": 0}
    assert per["test_then_rank"].to_dict() == {"A": 2, "B": 1, "C": 2}  # ties share the smallest rank
    agree = challenge.method_agreement(r).query("dataset == 'D'").set_index(["method_a", "method_b"])["kendall_tau"]
    for (a, b), tau in agree.items():
        assert tau == pytest.approx(stats.kendalltau(per[a], per[b]).statistic)
    assert agree[("aggregate_then_rank", "rank_then_aggregate")] == pytest.approx(1 / 3)


def test_consensus_across_datasets_is_the_order_of_mean_ranks():
    f1, r1 = frames(FIXED, dataset="D1")
    f2, r2 = frames({"A": [0.9] * 4, "B": [0.2] * 4, "C": [0.3] * 4}, dataset="D2")
    full, rep = pd.concat([f1, f2]), pd.concat([r1, r2])
    r = challenge.ranking_methods(rep, challenge.pairwise_tests(full, rep))
    both = r[r["dataset"] == challenge.ALL_DATASETS].set_index("architecture")
    # aggregate-then-rank: D1 A1 B2 C3, D2 A1 C2 B3 -> means A 1, B 2.5, C 2.5
    assert both["aggregate_then_rank_mean_over_datasets"].to_dict() == {"A": 1.0, "B": 2.5, "C": 2.5}
    assert both["aggregate_then_rank"].to_dict() == {"A": 1, "B": 2, "C": 2}
    # test-then-rank: D1 A2 B1 C2, D2 A1 (beats B and C) C2 (beats B) B3 -> means A 1.5, B 2, C 2
    assert both["test_then_rank"].to_dict() == {"A": 1, "B": 2, "C": 2}


@pytest.fixture(scope="module")
def boot(tiny_store):
    return bootstrap_store(open_store(tiny_store), n_replicates=40, seed=1)


def test_statistics_of_a_store(boot):
    result = challenge.challenge_statistics(boot.full, boot.replicates)
    n_models = 4
    assert len(result.tests) == 3 * 2 * n_models * (n_models - 1)
    assert result.tests["p_value"].between(0, 1).all() and (result.tests["p_holm"] >= result.tests["p_value"]).all()
    # the two directions of a pair: one-sided p-values sum to 1 + the share of replicates with exactly equal values
    t = result.tests.set_index(["dataset", "metric", *challenge.PAIR])["p_value"]
    matrices = {(d, m): challenge.value_matrix(boot.replicates, d, m) for d, m in {k[:2] for k in t.index}}
    for (d, m, aa, pa, ab, pb), p in t.items():
        models, values = matrices[(d, m)]
        ties = np.mean(values[:, models.index((aa, pa))] == values[:, models.index((ab, pb))])
        assert p + t[(d, m, ab, pb, aa, pa)] == pytest.approx(1.0 + ties)
    # robustness in [-1, 1]; per dataset it is the ranking stability; "all" against scipy for some replicates
    tau = result.robustness["kendall_tau"].dropna()
    assert len(tau) and tau.between(-1, 1).all()
    per = result.robustness[result.robustness["dataset"] != challenge.ALL_DATASETS].reset_index(drop=True)
    pd.testing.assert_frame_equal(per, ranking_stability(boot.replicates, boot.full))
    rep = boot.replicates[boot.replicates["metric"] == "map@0.1"]
    full = boot.full[boot.full["metric"] == "map@0.1"].groupby(["architecture", "pretraining"])["rank"].mean()
    for r in (0, 7, 39):
        mean = rep[rep["replicate"] == r].groupby(["architecture", "pretraining"])["rank"].mean()
        got = result.robustness.query("dataset == 'all' and metric == 'map@0.1' and replicate == @r")["kendall_tau"]
        assert got.iloc[0] == pytest.approx(stats.kendalltau(mean, full.reindex(mean.index)).statistic)
    # method agreement against scipy on every dataset
    for row in result.agreement.itertuples(index=False):
        g = result.rankings[(result.rankings["dataset"] == row.dataset) & (result.rankings["metric"] == row.metric)]
        expected = stats.kendalltau(g[row.method_a], g[row.method_b]).statistic
        assert (np.isnan(row.kendall_tau) and np.isnan(expected)) or row.kendall_tau == pytest.approx(expected)
    summary = result.robustness_summary()
    assert set(summary["dataset"]) == {"S01", "S03", "S06", "all"}


def test_one_model_and_nan_replicates():
    full, rep = frames({"A": [0.5, np.nan, 0.7], "B": [0.4, np.nan, 0.9]})
    result = challenge.challenge_statistics(full, rep)
    assert result.tests["n_replicates"].tolist() == [2, 2] and result.tests["p_value"].tolist() == [0.5, 0.5]
    one_full, one_rep = frames({"A": [0.5, 0.6]})
    one = challenge.challenge_statistics(one_full, one_rep)
    assert one.tests.empty and one.rankings["test_then_rank"].tolist() == [1.0, 1.0]  # the dataset and "all"


def test_errors():
    full, rep = frames(FIXED)
    with pytest.raises(ValueError, match="alpha"):
        challenge.pairwise_tests(full, rep, alpha=1.5)
    with pytest.raises(ValueError, match="no replicates"):
        challenge.value_matrix(rep, "nope", "map@0.1")
