"""challengeR-style figures (Wiesenfarth et al., Sci Rep 2021): significance map, podium plot, ranking heatmap and
ranking-robustness violins, from :mod:`analysis.challenge` frames and the bootstrap replicates.

Built on ``matplotlib.figure.Figure`` (the Agg canvas, no pyplot), so they render headless like
:mod:`analysis.figures`. In challengeR the cases of the podium plot and ranking heatmap are test cases; here they
are the bootstrap replicates (see :mod:`analysis.challenge`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from analysis.challenge import ALL_DATASETS, significance_matrix, value_matrix
from analysis.figures import _colors, model_label
from analysis.ranking import MODEL, rank_desc
from analysis.tables import METRIC_LABELS

__all__ = ["podium_figure", "ranking_heatmap_figure", "robustness_violin_figure", "significance_map_figure"]


def _order(rankings: pd.DataFrame, dataset: str, metric: str, method: str = "aggregate_then_rank") -> list:
    r = rankings[(rankings["dataset"] == dataset) & (rankings["metric"] == metric)]
    r = r.sort_values([method, "mean_rank", *MODEL], kind="stable")
    return [tuple(m) for m in r[MODEL].itertuples(index=False)]


def significance_map_figure(tests: pd.DataFrame, rankings: pd.DataFrame, dataset: str, metric: str,
                            alpha: float = 0.05) -> Figure:
    """Significance map: row model significantly better than column model (Holm-adjusted one-sided test) in
    dark; models ordered by the aggregate-then-rank ranking, best first."""
    models = _order(rankings, dataset, metric)
    sig = significance_matrix(tests, dataset, metric, models).to_numpy().astype(float)
    n = len(models)
    fig = Figure(figsize=(2.6 + 0.42 * n, 2.0 + 0.38 * n), layout="constrained")
    ax = fig.subplots()
    ax.imshow(sig, cmap=ListedColormap(["#EAEAF2", "#E3A21A"]), vmin=0, vmax=1)
    labels = [model_label(*m) for m in models]
    ax.set_xticks(np.arange(n), labels, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(n), labels, fontsize=7)
    ax.set_xticks(np.arange(n + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(n + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1)
    ax.tick_params(which="minor", length=0)
    ax.set_xlabel("model B")
    ax.set_ylabel("model A")
    ax.set_title(f"{dataset}, {METRIC_LABELS.get(metric, metric)}: A better than B\n"
                 f"(one-sided bootstrap test, Holm, alpha = {alpha:g}; orange = significant)", fontsize=8)
    return fig


def podium_figure(replicates: pd.DataFrame, rankings: pd.DataFrame, dataset: str, metric: str,
                  max_lines: int = 100, seed: int = 0) -> Figure:
    """Podium plot: per replicate each model's value drawn at its podium place (its rank in that replicate),
    one column per model; grey lines join the models of a replicate (at most ``max_lines`` replicates);
    below, each model's rank frequencies."""
    models, values = value_matrix(replicates, dataset, metric)
    order = _order(rankings, dataset, metric)
    values = values[:, [models.index(m) for m in order]]
    ranks = rank_desc(values, axis=1)
    n = len(order)
    colors = _colors([a for a, _ in order])
    fig = Figure(figsize=(3.0 + 0.75 * n, 5.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[2.2, 1], sharex=True)
    width = 0.8 / n
    offsets = (np.arange(n) - (n - 1) / 2) * width
    shown = np.random.default_rng(seed).permutation(len(values))[:max_lines]
    for r in shown:
        ok = ~np.isnan(ranks[r])
        x = ranks[r][ok] + offsets[ok]
        sort = np.argsort(x)
        top.plot(x[sort], values[r][ok][sort], color="0.6", lw=0.3, alpha=0.5, zorder=1)
    for j, m in enumerate(order):
        ok = ~np.isnan(ranks[:, j])
        top.scatter(ranks[ok, j] + offsets[j], values[ok, j], s=6, color=colors[m[0]], alpha=0.6, zorder=2,
                    label=model_label(*m), edgecolors="none")
        freq = np.array([(ranks[ok, j] == k).mean() if ok.any() else 0.0 for k in range(1, n + 1)])
        bottom.bar(np.arange(1, n + 1) + offsets[j], freq, width=width, color=colors[m[0]])
    top.set_ylabel(METRIC_LABELS.get(metric, metric))
    top.set_title(f"Podium, {dataset} ({len(values)} bootstrap replicates, lines for {len(shown)})", fontsize=9)
    top.legend(fontsize=6, ncols=2, loc="best", markerscale=2)
    bottom.set_xticks(np.arange(1, n + 1))
    bottom.set_xlabel("podium place (rank in the replicate, 1 = best)")
    bottom.set_ylabel("frequency")
    return fig


def ranking_heatmap_figure(replicates: pd.DataFrame, rankings: pd.DataFrame, dataset: str, metric: str) -> Figure:
    """Ranking heatmap: how many replicates put each model (column, ordered by aggregate-then-rank) at each rank
    (row). ``dataset = "all"`` counts each replicate's consensus rank (mean rank over datasets, ranked)."""
    rep = replicates[replicates["metric"] == metric]
    if dataset == ALL_DATASETS:
        mean = rep.groupby(["replicate", *MODEL])["rank"].mean().rename("mean_rank").reset_index()
        mean["rank"] = mean.groupby("replicate")["mean_rank"].rank(method="min", ascending=True)
        rep = mean
    else:
        rep = rep[rep["dataset"] == dataset]
    order = _order(rankings, dataset, metric)
    n = len(order)
    counts = np.zeros((n, n))
    for j, m in enumerate(order):
        r = rep[(rep["architecture"] == m[0]) & (rep["pretraining"] == m[1])]["rank"].dropna().astype(int)
        for k, c in r.value_counts().items():
            counts[k - 1, j] = c
    fig = Figure(figsize=(2.8 + 0.42 * n, 2.0 + 0.3 * n), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(counts, cmap="Blues", aspect="auto")
    fig.colorbar(image, ax=ax, label="replicates")
    ax.set_xticks(np.arange(n), [model_label(*m) for m in order], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(n), [str(k) for k in range(1, n + 1)])
    ax.set_ylabel("rank")
    what = "consensus rank across datasets" if dataset == ALL_DATASETS else dataset
    ax.set_title(f"Ranking heatmap, {what} ({METRIC_LABELS.get(metric, metric)})", fontsize=9)
    return fig


def robustness_violin_figure(robustness: pd.DataFrame, metric: str) -> Figure:
    """Violins of Kendall's tau between the full-data ranking and each replicate's ranking, one per dataset
    (and ``all``: the consensus across datasets)."""
    r = robustness[robustness["metric"] == metric]
    datasets = sorted(d for d in r["dataset"].unique() if d != ALL_DATASETS)
    datasets += [ALL_DATASETS] if ALL_DATASETS in set(r["dataset"]) else []
    data = [r[r["dataset"] == d]["kendall_tau"].dropna().to_numpy() for d in datasets]
    fig = Figure(figsize=(2.0 + 0.7 * len(datasets), 3.2), layout="constrained")
    ax = fig.subplots()
    pos = [i for i, d in enumerate(data) if len(d) > 1 and np.ptp(d) > 0]
    if pos:
        ax.violinplot([data[i] for i in pos], positions=pos, showmedians=True)
    for i, d in enumerate(data):  # points too: a violin of constant values is not drawn
        ax.scatter(np.full(len(d), i) + np.random.default_rng(i).uniform(-0.08, 0.08, len(d)), d, s=2,
                   color="0.3", alpha=0.3)
    ax.set_xticks(np.arange(len(datasets)), datasets)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_ylabel("Kendall's tau vs. full-data ranking")
    ax.set_title(f"Ranking robustness ({METRIC_LABELS.get(metric, metric)})", fontsize=9)
    return fig
