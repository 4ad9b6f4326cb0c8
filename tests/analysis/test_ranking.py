"""Rank rule, aggregated ranks worked out by hand, deltas, Kendall's tau and rank distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from analysis import ranking


def test_rank_rule_min_for_ties_and_nan_stays_nan():
    assert ranking.rank_desc(np.array([0.9, 0.8, 0.8, 0.7])).tolist() == [1, 2, 2, 4]
    assert ranking.rank_desc(np.array([0.5, 0.5, 0.5])).tolist() == [1, 1, 1]
    r = ranking.rank_desc(np.array([[0.1, np.nan, 0.3]]), axis=1)
    assert r[0, 0] == 2 and np.isnan(r[0, 1]) and r[0, 2] == 1
    assert ranking.rank_asc(np.array([2.0, 1.0, 2.0])).tolist() == [2, 1, 2]
    frame = pd.DataFrame({"dataset": "d", "metric": "m", "value": [0.9, 0.8, 0.8, 0.7]})
    assert ranking.add_ranks(frame)["rank"].tolist() == [1, 2, 2, 4]  # pandas path: same rule


def hand_example() -> pd.DataFrame:
    """3 models x 2 datasets x 2 replicates; the ranks (rule "min") are written next to the values."""
    rows = [
        # dataset, replicate, model, value        rank
        ("D1", 0, "A", 0.9), ("D1", 0, "B", 0.8), ("D1", 0, "C", 0.7),  # A1 B2 C3
        ("D1", 1, "A", 0.6), ("D1", 1, "B", 0.8), ("D1", 1, "C", 0.8),  # A3 B1 C1
        ("D2", 0, "A", 0.5), ("D2", 0, "B", 0.4), ("D2", 0, "C", 0.6),  # A2 B3 C1
        ("D2", 1, "A", 0.7), ("D2", 1, "B", 0.7), ("D2", 1, "C", 0.7),  # A1 B1 C1
    ]
    frame = pd.DataFrame(rows, columns=["dataset", "replicate", "pretraining", "value"])
    frame = frame.assign(architecture="arch", metric="map@0.1")
    return ranking.add_ranks(frame, by=("dataset", "metric", "replicate"))


def test_aggregated_ranks_match_the_hand_computation():
    reps = hand_example()
    assert reps["rank"].tolist() == [1, 2, 3, 3, 1, 1, 2, 3, 1, 1, 1, 1]
    agg = ranking.aggregate_ranks(reps).set_index("pretraining")
    # mean over datasets and replicates: A (1+3+2+1)/4, B (2+1+3+1)/4, C (3+1+1+1)/4
    assert agg.loc["A", "mean_rank"] == 1.75
    assert agg.loc["B", "mean_rank"] == 1.75
    assert agg.loc["C", "mean_rank"] == 1.5
    assert list(agg.index) == ["C", "A", "B"]  # sorted by mean rank, then name
    per = ranking.replicate_mean_ranks(reps).set_index(["replicate", "pretraining"])
    # replicate 0: A (1+2)/2 = 1.5, B 2.5, C 2.0 -> consensus A1 C2 B3; replicate 1: A 2, B 1, C 1 -> B1 C1 A3
    assert per["mean_rank"].to_dict() == {
        (0, "A"): 1.5, (0, "B"): 2.5, (0, "C"): 2.0, (1, "A"): 2.0, (1, "B"): 1.0, (1, "C"): 1.0,
    }
    assert per["consensus_rank"].to_dict() == {
        (0, "A"): 1, (0, "B"): 3, (0, "C"): 2, (1, "A"): 3, (1, "B"): 1, (1, "C"): 1,
    }
    assert agg.loc["A", "median_consensus_rank"] == 2.0
    assert agg.loc["C", "median_consensus_rank"] == 1.5
    # sd over replicates of the per-replicate mean rank: A (1.5, 2.0)
    assert agg.loc["A", "sd_rank"] == pytest.approx(np.std([1.5, 2.0], ddof=1))


def test_full_mean_rank_and_rank_distribution():
    reps = hand_example()
    full = reps[reps["replicate"] == 0].drop(columns="replicate")
    agg = ranking.aggregate_ranks(reps, full).set_index("pretraining")
    assert agg.loc["A", "full_mean_rank"] == 1.5  # (1 + 2) / 2
    dist = ranking.rank_distribution(reps).set_index(["dataset", "pretraining", "rank"])
    assert dist.loc[("D1", "C", 1.0), "count"] == 1 and dist.loc[("D1", "C", 3.0), "frequency"] == 0.5
    assert dist.groupby(["dataset", "pretraining"])["frequency"].sum().eq(1).all()


def test_aggregated_ranks_need_every_model_on_every_dataset():
    reps = hand_example()
    partial = reps[~((reps["dataset"] == "D2") & (reps["pretraining"] == "B"))]
    with pytest.raises(ValueError, match="D2/arch__B"):
        ranking.aggregate_ranks(partial)


def test_baseline_deltas_by_hand():
    full = pd.DataFrame(
        [("D1", "r", "default", 0.50), ("D1", "r", "mae", 0.60), ("D1", "d", "default", 0.40),
         ("D2", "r", "default", 0.70), ("D2", "r", "mae", 0.65), ("D2", "d", "default", 0.30)],
        columns=["dataset", "architecture", "pretraining", "value"],
    ).assign(metric="map@0.1")
    reps = pd.concat([full.assign(replicate=0), full.assign(replicate=1, value=full["value"] + [0, .1, 0, 0, 0, 0])])
    d = ranking.baseline_deltas(full, reps).set_index(["dataset", "architecture", "pretraining"])
    assert d.loc[("D1", "r", "mae"), "delta"] == pytest.approx(0.10)
    assert d.loc[("D2", "r", "mae"), "delta"] == pytest.approx(-0.05)
    assert d.loc[("mean", "r", "mae"), "delta"] == pytest.approx(0.025)
    assert d.loc[("D1", "d", "default"), "delta"] == 0
    # replicate deltas on D1: 0.1 and 0.2 -> the 95% interval lies within them
    assert 0.1 - 1e-12 <= d.loc[("D1", "r", "mae"), "ci_low"] < d.loc[("D1", "r", "mae"), "ci_high"] <= 0.2 + 1e-12
    no_base = ranking.baseline_deltas(full[full["pretraining"] != "default"])
    assert no_base["delta"].isna().all()


def test_kendall_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    y = np.round(rng.random(9), 1)
    x = np.round(rng.random((30, 9)), 1)
    x[0] = y
    tau = ranking.kendall_tau_b(x, y)
    assert tau[0] == pytest.approx(1.0)
    for r in range(30):
        assert tau[r] == pytest.approx(kendalltau(x[r], y).statistic)
    assert np.isnan(ranking.kendall_tau_b(np.ones((1, 3)), np.array([1.0, 2.0, 3.0]))[0])


def test_ranking_stability_is_one_for_unchanged_replicates():
    reps = hand_example()
    full = reps[reps["replicate"] == 0].drop(columns="replicate")
    st = ranking.ranking_stability(reps, full).set_index(["dataset", "replicate"])["kendall_tau"]
    assert st[("D1", 0)] == pytest.approx(1.0) and st[("D2", 0)] == pytest.approx(1.0)
    assert st[("D1", 1)] == pytest.approx(kendalltau([0.6, 0.8, 0.8], [0.9, 0.8, 0.7]).statistic)
    assert np.isnan(st[("D2", 1)])  # all tied: tau undefined
    summary = ranking.stability_summary(ranking.ranking_stability(reps, full))
    assert set(summary.columns) == {"dataset", "metric", "mean_tau", "median_tau", "q025", "q975"}
