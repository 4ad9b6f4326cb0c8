"""challengeR-style statistics from the paired bootstrap replicates: significance tests, three ranking methods,
their agreement and the robustness of the ranking.

The methods follow challengeR (M. Wiesenfarth, A. Reinke, B. A. Landman, M. Eisenmann, L. Aguilera Saiz,
M. J. Cardoso, L. Maier-Hein, A. Kopp-Schneider: "Methods and open-source toolkit for analyzing and visualizing
challenge results", Scientific Reports 11, 2369, 2021). challengeR works on per-case metric values; mAP and FROC
are set-level metrics (no per-image value exists), so here the **cases are the bootstrap replicates** of
:mod:`analysis.bootstrap`: the same ``R`` resampled test sets for every model of a dataset, so every comparison
is paired. Nothing here draws new resamples.

Per dataset and metric, with ``v[r, a]`` the value of model ``a`` on replicate ``r`` (NaN replicates, i.e.
resamples without ground truth, are left out of the pair that has them):

* **Pairwise one-sided test** (H0: model A is not better than B, H1: A better than B). The paired bootstrap
  distribution of the difference ``d_r = v[r, A] - v[r, B]`` gives the **percentile-method p-value**
  ``p = #{r : d_r <= 0} / R`` (the share of resampled test sets on which A does not beat B): it is the smallest
  ``alpha`` at which the one-sided ``1 - alpha`` percentile interval of the difference excludes 0, the same
  percentile method as the delta intervals of :func:`analysis.ranking.baseline_deltas`. Its resolution is
  ``1 / R``; ``p = 0`` reads "below 1/R". Identical models get ``p = 1`` both ways.
* **Holm adjustment** (Holm, Scand. J. Stat. 1979) over all ``M (M - 1)`` ordered pairs of the dataset and
  metric, as challengeR adjusts its one-sided pairwise tests: sorted p-values ``p_(1) <= ... <= p_(m)`` get
  ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``. A is **significantly better** than B when
  ``p~ < alpha`` (default 0.05). The **significance map** is the ``M x M`` matrix of these decisions.
* **Aggregate-then-rank**: models ranked by their mean value over replicates (challengeR ``aggregateThenRank``
  with ``FUN = mean``); 1 = highest.
* **Rank-then-aggregate**: models ranked within every replicate (:func:`analysis.ranking.rank_desc`), the
  ranks averaged over replicates, and the mean ranks ranked (challengeR ``rankThenAggregate``); 1 = lowest.
* **Test-then-rank**: the number of other models a model is significantly better than (its wins), ranked
  (challengeR ``testThenRank``); 1 = most wins.

Every ranking uses the tie rule ``min`` of :mod:`analysis.ranking`. **Across datasets** (``dataset = "all"``)
each method's per-dataset ranks are averaged over datasets and the averages ranked: the consensus ranking of
challengeR's ``consensus(method = "euclidean")``, whose solution is the order of the mean ranks.

* **Agreement of the methods**: Kendall's tau-b (:func:`analysis.ranking.kendall_tau_b`, equal to
  ``scipy.stats.kendalltau``) between every two of the three rankings, per dataset, metric and across datasets.
* **Ranking robustness** (challengeR's bootstrap ranking stability): Kendall's tau-b between the full-data
  ranking and each replicate's ranking, per dataset and metric (the values of
  :func:`analysis.ranking.ranking_stability`); across datasets, between the full-data consensus (mean over
  datasets of the full-data ranks) and each replicate's mean rank over datasets. Tau lies in [-1, 1]; NaN when a
  ranking is one tie.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.ranking import MODEL, kendall_tau_b, rank_asc, rank_desc, ranking_stability

__all__ = [
    "ALL_DATASETS",
    "DEFAULT_ALPHA",
    "METHODS",
    "ChallengeResult",
    "bootstrap_p_values",
    "challenge_statistics",
    "holm_adjust",
    "method_agreement",
    "pairwise_tests",
    "ranking_methods",
    "ranking_robustness",
    "significance_matrix",
    "value_matrices",
    "value_matrix",
]

DEFAULT_ALPHA = 0.05
ALL_DATASETS = "all"  # the ``dataset`` of rows aggregated across datasets
METHODS = ("aggregate_then_rank", "rank_then_aggregate", "test_then_rank")
METHOD_LABELS = {
    "aggregate_then_rank": "aggregate-then-rank",
    "rank_then_aggregate": "rank-then-aggregate",
    "test_then_rank": "test-then-rank",
}
PAIR = ["architecture_a", "pretraining_a", "architecture_b", "pretraining_b"]


def bootstrap_p_values(diffs: np.ndarray) -> np.ndarray:
    """One-sided percentile-method p-values from paired bootstrap differences ``diffs`` ``[R, ...]``.

    ``p = #{r : d_r <= 0} / #{r : d_r not NaN}`` along axis 0 (H1: the difference is positive); NaN where no
    replicate is finite.
    """
    d = np.asarray(diffs, np.float64)
    finite = ~np.isnan(d)
    n = finite.sum(axis=0)
    not_better = (finite & (d <= 0)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = not_better / n
    return np.where(n > 0, p, np.nan)


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values of a family (NaN entries are left out of the family and stay NaN)."""
    p = np.asarray(p_values, np.float64).reshape(-1)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return out.reshape(np.shape(p_values))
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out.reshape(np.shape(p_values))


def _wide(rep: pd.DataFrame) -> tuple[list[tuple[str, str]], np.ndarray]:
    """``(models, values [R, M])`` of one dataset's and metric's rows: models sorted, replicates in order."""
    n_rep = rep["replicate"].nunique()
    if n_rep and len(rep) % n_rep == 0:  # every model in every replicate: a sort and a reshape, no pivot
        rep = rep.sort_values(["replicate", *MODEL], kind="stable")
        m = len(rep) // n_rep
        arch = rep["architecture"].to_numpy().reshape(n_rep, m)
        pre = rep["pretraining"].to_numpy().reshape(n_rep, m)
        models = list(zip(arch[0], pre[0], strict=True))
        if (arch == arch[0]).all() and (pre == pre[0]).all() and len(set(models)) == m:
            return models, rep["value"].to_numpy(np.float64).reshape(n_rep, m)
    wide = rep.pivot(index="replicate", columns=MODEL, values="value").sort_index().sort_index(axis=1)
    return [tuple(m) for m in wide.columns], wide.to_numpy(np.float64)


def value_matrix(replicates: pd.DataFrame, dataset: str, metric: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """``(models, values [R, M])`` of one dataset and metric: models sorted, replicates in order."""
    rep = replicates[(replicates["dataset"] == dataset) & (replicates["metric"] == metric)]
    if rep.empty:
        raise ValueError(f"no replicates for dataset {dataset!r} and metric {metric!r}")
    return _wide(rep)


def value_matrices(replicates: pd.DataFrame) -> dict[tuple[str, str], tuple[list[tuple[str, str]], np.ndarray]]:
    """:func:`value_matrix` of every dataset and metric, ``{(dataset, metric): (models, values)}``, sorted."""
    return {(d, m): _wide(g) for (d, m), g in replicates.groupby(["dataset", "metric"], sort=True)}


def pairwise_tests(full: pd.DataFrame, replicates: pd.DataFrame, alpha: float = DEFAULT_ALPHA,
                   matrices: dict | None = None) -> pd.DataFrame:
    """Every ordered pair of models per dataset and metric: one-sided paired bootstrap test, Holm-adjusted.

    Columns: dataset, metric, architecture_a, pretraining_a, architecture_b, pretraining_b, ``delta`` (full-data
    value of A minus B), ``mean_delta`` (mean over replicates), ``p_value`` (H1: A better than B, see the module
    docstring), ``p_holm`` (Holm over the dataset's and metric's ``M (M - 1)`` pairs), ``significant``
    (``p_holm < alpha``), ``n_replicates`` (finite differences). ``matrices``: :func:`value_matrices` of
    ``replicates`` if already computed.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    full_values = full.set_index(["dataset", "metric", *MODEL])["value"]
    rows = []
    for (dataset, metric), (models, values) in (matrices or value_matrices(replicates)).items():
        m = len(models)
        diffs = values[:, :, None] - values[:, None, :]  # [R, A, B]
        a, b = np.nonzero(~np.eye(m, dtype=bool))
        p = bootstrap_p_values(diffs[:, a, b])
        ref = np.array([full_values.get((dataset, metric, *k), np.nan) for k in models])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_delta = np.nanmean(diffs[:, a, b], axis=0) if len(a) else np.empty(0)
        p_holm = holm_adjust(p)
        rows.append(pd.DataFrame({
            "dataset": dataset,
            "metric": metric,
            "architecture_a": [models[i][0] for i in a],
            "pretraining_a": [models[i][1] for i in a],
            "architecture_b": [models[j][0] for j in b],
            "pretraining_b": [models[j][1] for j in b],
            "delta": ref[a] - ref[b],
            "mean_delta": mean_delta,
            "p_value": p,
            "p_holm": p_holm,
            "significant": p_holm < alpha,
            "n_replicates": (~np.isnan(diffs[:, a, b])).sum(axis=0),
        }))
    return pd.concat(rows, ignore_index=True)


def significance_matrix(
    tests: pd.DataFrame, dataset: str, metric: str, models: list[tuple[str, str]] | None = None,
    column: str = "significant",
) -> pd.DataFrame:
    """``M x M`` frame of ``column`` (default: significant) with row A, column B: A significantly better than B.

    ``models`` fixes the order (default: sorted); the diagonal is False (NaN for a numeric ``column``).
    """
    t = tests[(tests["dataset"] == dataset) & (tests["metric"] == metric)]
    if t.empty:
        raise ValueError(f"no tests for dataset {dataset!r} and metric {metric!r}")
    if models is None:
        models = sorted(set(zip(t["architecture_a"], t["pretraining_a"], strict=True)))
    index = pd.MultiIndex.from_tuples(models, names=MODEL)
    wide = t.pivot(index=["architecture_a", "pretraining_a"], columns=["architecture_b", "pretraining_b"],
                   values=column)
    wide.index.names = MODEL
    wide.columns.names = MODEL
    wide = wide.reindex(index=index, columns=index)
    if column == "significant":
        return wide.fillna(False).astype(bool)
    return wide.astype(np.float64)


def _consensus(per_dataset: pd.DataFrame) -> pd.DataFrame:
    """Across datasets: each method's ranks averaged over datasets, ranked (challengeR's Euclidean consensus)."""
    rows = []
    for metric, g in per_dataset.groupby("metric", sort=True):
        mean = g.groupby(MODEL, sort=True).agg(
            mean_value=("mean_value", "mean"), mean_rank=("mean_rank", "mean"), wins=("wins", "sum"),
            **{f"{m}_mean": (m, "mean") for m in METHODS},
        ).reset_index()
        out = mean[[*MODEL, "mean_value", "mean_rank", "wins"]].assign(dataset=ALL_DATASETS, metric=metric)
        for m in METHODS:
            out[m] = rank_asc(mean[f"{m}_mean"].to_numpy())
            out[f"{m}_mean_over_datasets"] = mean[f"{m}_mean"].to_numpy()
        rows.append(out)
    return pd.concat(rows, ignore_index=True)


def ranking_methods(replicates: pd.DataFrame, tests: pd.DataFrame, matrices: dict | None = None) -> pd.DataFrame:
    """The three rankings per dataset and metric, and their consensus across datasets (``dataset = "all"``).

    Columns: dataset, metric, architecture, pretraining, ``mean_value`` (mean over replicates),
    ``aggregate_then_rank``, ``mean_rank`` (over replicates), ``rank_then_aggregate``, ``wins`` (models
    significantly beaten), ``test_then_rank``; the ``all`` rows also have ``<method>_mean_over_datasets``.
    """
    rows = []
    for (dataset, metric), (models, values) in (matrices or value_matrices(replicates)).items():
        with warnings.catch_warnings():  # a model NaN in every replicate: NaN, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            mean_value = np.nanmean(values, axis=0)
            mean_rank = np.nanmean(rank_desc(values, axis=1), axis=0)
        if len(models) > 1:
            wins = significance_matrix(tests, dataset, metric, models).to_numpy().sum(axis=1).astype(np.float64)
        else:  # one model: nothing to beat
            wins = np.zeros(len(models))
        rows.append(pd.DataFrame({
            "dataset": dataset, "metric": metric,
            "architecture": [k[0] for k in models], "pretraining": [k[1] for k in models],
            "mean_value": mean_value, "aggregate_then_rank": rank_desc(mean_value),
            "mean_rank": mean_rank, "rank_then_aggregate": rank_asc(mean_rank),
            "wins": wins, "test_then_rank": rank_desc(wins),
        }))
    per_dataset = pd.concat(rows, ignore_index=True)
    return pd.concat([per_dataset, _consensus(per_dataset)], ignore_index=True)


def method_agreement(rankings: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau-b between every two ranking methods per dataset (and ``all``) and metric.

    Columns: dataset, metric, method_a, method_b, kendall_tau (NaN when a ranking is one tie).
    """
    rows = []
    for (dataset, metric), g in rankings.groupby(["dataset", "metric"], sort=True):
        for i, a in enumerate(METHODS):
            for b in METHODS[i + 1:]:
                tau = kendall_tau_b(g[a].to_numpy()[None, :], g[b].to_numpy())[0]
                rows.append({"dataset": dataset, "metric": metric, "method_a": a, "method_b": b,
                             "kendall_tau": float(tau)})
    return pd.DataFrame(rows, columns=["dataset", "metric", "method_a", "method_b", "kendall_tau"])


def ranking_robustness(full: pd.DataFrame, replicates: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau-b of each replicate's ranking against the full-data ranking, per dataset and ``all``.

    Columns: dataset, metric, replicate, kendall_tau. Per dataset these are :func:`~analysis.ranking.ranking_stability`;
    ``all`` compares each replicate's mean rank over datasets with the mean over datasets of the full-data ranks
    (needs every model on every dataset).
    """
    per_dataset = ranking_stability(replicates, full)
    rows = [per_dataset]
    for metric, rep in replicates.groupby("metric", sort=True):
        mean = rep.groupby(["replicate", *MODEL], sort=True)["rank"].mean().unstack(MODEL).sort_index(axis=1)
        f = full[full["metric"] == metric].groupby(MODEL, sort=True)["rank"].mean()
        f = f.reindex(mean.columns)
        tau = kendall_tau_b(mean.to_numpy(np.float64), f.to_numpy(np.float64))
        rows.append(pd.DataFrame({"dataset": ALL_DATASETS, "metric": metric, "replicate": mean.index.to_numpy(),
                                  "kendall_tau": tau}))
    return pd.concat(rows, ignore_index=True)


@dataclass
class ChallengeResult:
    """The challengeR-style statistics of one analysis (tidy frames; see the module docstring)."""

    tests: pd.DataFrame
    rankings: pd.DataFrame
    agreement: pd.DataFrame
    robustness: pd.DataFrame
    alpha: float = DEFAULT_ALPHA

    def robustness_summary(self) -> pd.DataFrame:
        """Mean, median and 2.5/97.5 percentiles of the robustness tau per dataset (and ``all``) and metric."""
        g = self.robustness.groupby(["dataset", "metric"], sort=True)["kendall_tau"]
        return pd.DataFrame({"mean_tau": g.mean(), "median_tau": g.median(), "q025": g.quantile(0.025),
                             "q975": g.quantile(0.975)}).reset_index()


def challenge_statistics(full: pd.DataFrame, replicates: pd.DataFrame, alpha: float = DEFAULT_ALPHA) -> ChallengeResult:
    """Tests, the three rankings, their agreement and the ranking robustness from one bootstrap's frames."""
    matrices = value_matrices(replicates)
    tests = pairwise_tests(full, replicates, alpha, matrices)
    rankings = ranking_methods(replicates, tests, matrices)
    return ChallengeResult(tests=tests, rankings=rankings, agreement=method_agreement(rankings),
                           robustness=ranking_robustness(full, replicates), alpha=alpha)
