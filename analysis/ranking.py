"""Rankings from bootstrap replicates: per-dataset rank distributions, aggregated ranks, deltas, stability.

**Rank rule.** Within one dataset, metric and replicate, rank 1 is the model with the highest value; tied
models share the smallest rank of their block and the next rank is skipped (values 0.9, 0.8, 0.8, 0.7 rank
1, 2, 2, 4: "min" ranking, as challengeR's ``ties.method = "min"``). Ties only occur for exactly equal values
(e.g. identical detections). A NaN value (a resample without ground truth) gets a NaN rank and is left out of
every mean. The **mean rank** of a model is its rank averaged over datasets and replicates (every dataset has
the same number of replicates, so this is also the mean over datasets of the per-dataset mean ranks); it is
the "Mean Rank" column of the tables. The **consensus rank** of a replicate ranks the models by their mean
rank over datasets in that replicate (lower is better, same tie rule).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "MODEL",
    "TIE_RULE",
    "add_ranks",
    "aggregate_ranks",
    "baseline_deltas",
    "check_complete",
    "kendall_tau_b",
    "rank_asc",
    "rank_desc",
    "rank_distribution",
    "ranking_stability",
    "replicate_mean_ranks",
    "stability_summary",
]

TIE_RULE = "min"
MODEL = ["architecture", "pretraining"]


def rank_desc(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Ranks along ``axis``, 1 = highest; ties share the smallest rank ("min"); NaN stays NaN."""
    v = np.moveaxis(np.asarray(values, np.float64), axis, -1)
    better = (v[..., None, :] > v[..., :, None]).sum(axis=-1)  # how many values are strictly higher
    ranks = (better + 1).astype(np.float64)
    ranks[np.isnan(v)] = np.nan
    return np.moveaxis(ranks, -1, axis)


def rank_asc(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Ranks along ``axis``, 1 = lowest (e.g. of mean ranks); same tie and NaN rule as :func:`rank_desc`."""
    return rank_desc(-np.asarray(values, np.float64), axis)


def add_ranks(
    frame: pd.DataFrame, by: Sequence[str] = ("dataset", "metric"), within: Sequence[str] = (), column: str = "rank"
) -> pd.DataFrame:
    """A copy of ``frame`` with ``column`` = rank of ``value`` within each group of ``by`` + ``within``.

    ``within=("architecture",)`` ranks models only against models of the same architecture (Table 2).
    """
    keys = [k for k in (*by, *within) if k in frame.columns]
    out = frame.copy()
    out[column] = out.groupby(keys, sort=False)["value"].rank(method=TIE_RULE, ascending=False, na_option="keep")
    return out


def check_complete(frame: pd.DataFrame) -> None:
    """Aggregated ranks need every model on every dataset; raise a ValueError naming the missing runs."""
    per_model = frame.groupby(MODEL, sort=False)["dataset"].nunique()
    if (per_model == frame["dataset"].nunique()).all():
        return
    datasets = sorted(frame["dataset"].unique())
    models = frame[MODEL].drop_duplicates()
    have = set(map(tuple, frame[["dataset", *MODEL]].drop_duplicates().itertuples(index=False)))
    missing = [(d, a, p) for d in datasets for a, p in models.itertuples(index=False) if (d, a, p) not in have]
    if missing:
        shown = ", ".join(f"{d}/{a}__{p}" for d, a, p in missing[:10])
        raise ValueError(
            f"aggregated ranks need every model on every dataset; {len(missing)} run(s) missing: {shown}. "
            "Restrict the analysis to complete models or add the runs."
        )


def rank_distribution(replicates: pd.DataFrame, by: Sequence[str] = ("dataset", "metric")) -> pd.DataFrame:
    """How often each model reached each rank: ``by``, architecture, pretraining, rank, count, frequency."""
    keys = [*by, *MODEL]
    counts = replicates.dropna(subset=["rank"]).groupby([*keys, "rank"], sort=True).size().rename("count")
    out = counts.reset_index()
    out["frequency"] = out["count"] / out.groupby(keys)["count"].transform("sum")
    return out


def replicate_mean_ranks(replicates: pd.DataFrame) -> pd.DataFrame:
    """Per metric, replicate and model: the mean rank over datasets and the replicate's consensus rank."""
    check_complete(replicates)
    mean = replicates.groupby(["metric", "replicate", *MODEL], sort=True)["rank"].mean().rename("mean_rank")
    out = mean.reset_index()
    out["consensus_rank"] = out.groupby(["metric", "replicate"])["mean_rank"].rank(method=TIE_RULE, ascending=True)
    return out


def aggregate_ranks(
    replicates: pd.DataFrame, full: pd.DataFrame | None = None, per_replicate: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per metric and model: mean rank over datasets and replicates (the tables' "Mean Rank") and its spread.

    Columns: metric, architecture, pretraining, mean_rank, sd_rank (over replicates of the per-replicate mean
    rank), median_consensus_rank, n_datasets, n_replicates, and ``full_mean_rank`` (mean over datasets of
    the full-data rank) when ``full`` is given. Sorted by metric, then mean rank. ``per_replicate`` is
    :func:`replicate_mean_ranks` of ``replicates`` if already computed.
    """
    per_rep = replicate_mean_ranks(replicates) if per_replicate is None else per_replicate
    out = (
        replicates.groupby(["metric", *MODEL], sort=True)
        .agg(mean_rank=("rank", "mean"), n_datasets=("dataset", "nunique"), n_replicates=("replicate", "nunique"))
        .reset_index()
    )
    spread = (
        per_rep.groupby(["metric", *MODEL], sort=True)
        .agg(sd_rank=("mean_rank", "std"), median_consensus_rank=("consensus_rank", "median"))
        .reset_index()
    )
    out = out.merge(spread, on=["metric", *MODEL])
    if full is not None:
        fr = full.groupby(["metric", *MODEL])["rank"].mean().rename("full_mean_rank").reset_index()
        out = out.merge(fr, on=["metric", *MODEL], how="left")
    cols = ["metric", *MODEL, "mean_rank", "sd_rank", "median_consensus_rank", "n_datasets", "n_replicates"]
    cols += ["full_mean_rank"] if full is not None else []
    return out[cols].sort_values(["metric", "mean_rank", *MODEL], ignore_index=True)


def baseline_deltas(
    full: pd.DataFrame, replicates: pd.DataFrame | None = None, baseline: str = "default", level: float = 0.95
) -> pd.DataFrame:
    """Difference of every model to its architecture's ``baseline`` pre-training, per dataset and averaged.

    Columns: dataset (each dataset, plus ``mean`` = mean over datasets), metric, architecture, pretraining,
    delta, and with ``replicates`` the paired bootstrap interval ``ci_low``/``ci_high`` (``level``, percentile
    method). NaN where an architecture has no ``baseline`` run.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")

    def deltas(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        base = frame[frame["pretraining"] == baseline].set_index([*keys, "architecture"])["value"].rename("base")
        out = frame.join(base, on=[*keys, "architecture"])
        out["delta"] = out["value"] - out["base"]
        return out

    per = deltas(full, ["dataset", "metric"])[["dataset", "metric", *MODEL, "delta"]]
    mean = per.groupby(["metric", *MODEL], sort=False)["delta"].mean().reset_index().assign(dataset="mean")
    out = pd.concat([per, mean[per.columns]], ignore_index=True)
    if replicates is not None:
        rep = deltas(replicates, ["dataset", "metric", "replicate"])
        rep_mean = rep.groupby(["metric", "replicate", *MODEL], sort=False)["delta"].mean().reset_index()
        rep = pd.concat([rep[["dataset", "metric", "replicate", *MODEL, "delta"]], rep_mean.assign(dataset="mean")])
        alpha = (1 - level) / 2
        ci = (
            rep.groupby(["dataset", "metric", *MODEL], sort=False)["delta"]
            .quantile([alpha, 1 - alpha])
            .unstack()
            .set_axis(["ci_low", "ci_high"], axis=1)
            .reset_index()
        )
        out = out.merge(ci, on=["dataset", "metric", *MODEL], how="left")
    return out


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between each row of ``x`` ``[R, M]`` and ``y`` ``[M]`` (as ``scipy.stats.kendalltau``)."""
    x = np.atleast_2d(np.asarray(x, np.float64))
    y = np.asarray(y, np.float64)
    i, j = np.triu_indices(len(y), k=1)
    sx = np.sign(x[:, i] - x[:, j])
    sy = np.sign(y[i] - y[j])
    n0 = len(i)
    ties_x = (sx == 0).sum(axis=1)
    ties_y = int((sy == 0).sum())
    denom = np.sqrt((n0 - ties_x) * float(n0 - ties_y))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (sx * sy).sum(axis=1) / denom
    tau[(denom == 0) | np.isnan(x).any(axis=1)] = np.nan
    return tau


def ranking_stability(replicates: pd.DataFrame, full: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau-b of each replicate's ranking against the full-data ranking, per dataset and metric."""
    rows = []
    for (dataset, metric), rep in replicates.groupby(["dataset", "metric"], sort=True):
        ref = full[(full["dataset"] == dataset) & (full["metric"] == metric)].set_index(MODEL)["value"].sort_index()
        rep = rep.sort_values(["replicate", *MODEL])
        reps = rep["replicate"].unique()
        if len(rep) == len(reps) * len(ref):  # every model in every replicate: a reshape, no pivot
            keys = list(zip(rep["architecture"].iloc[: len(ref)], rep["pretraining"].iloc[: len(ref)], strict=True))
            if keys != list(ref.index):
                raise ValueError(f"{dataset}/{metric}: replicate models differ from the full-data models")
            values = rep["value"].to_numpy().reshape(len(reps), len(ref))
        else:
            values = rep.pivot(index="replicate", columns=MODEL, values="value").reindex(columns=ref.index).to_numpy()
        tau = kendall_tau_b(values, ref.to_numpy())
        rows.append(pd.DataFrame({"dataset": dataset, "metric": metric, "replicate": reps, "kendall_tau": tau}))
    return pd.concat(rows, ignore_index=True)


def stability_summary(stability: pd.DataFrame) -> pd.DataFrame:
    """Mean, median and 2.5/97.5 percentiles of Kendall's tau per dataset and metric."""
    g = stability.groupby(["dataset", "metric"], sort=True)["kendall_tau"]
    return pd.DataFrame(
        {
            "mean_tau": g.mean(),
            "median_tau": g.median(),
            "q025": g.quantile(0.025),
            "q975": g.quantile(0.975),
        }
    ).reset_index()
