"""Paper-style figures: aggregated ranking distribution with delta bars (Fig. 2), per-dataset panels (Fig. 3),
and a blob plot of rank frequencies. Built on ``matplotlib.figure.Figure`` (no pyplot), so they work headless.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.ranking import MODEL, rank_distribution, replicate_mean_ranks
from analysis.tables import ARCHITECTURE_LABELS, ARCHITECTURE_ORDER, METRIC_LABELS, PRETRAINING_LABELS, _order

__all__ = [
    "FIGURE_FORMATS",
    "blob_figure",
    "fit_to_contents",
    "model_label",
    "no_learning_figure",
    "per_dataset_figure",
    "ranking_overview_figure",
    "save_figure",
]

FIGURE_FORMATS = ("png", "pdf")
_MPL_VERSION = tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit())
_HORIZONTAL = {"orientation": "horizontal"} if _MPL_VERSION >= (3, 10) else {"vert": False}
_PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


def fit_to_contents(fig: Figure, pad: float = 0.05, max_rounds: int = 6) -> Figure:
    """Grow ``fig`` until every drawn artist (titles, axis labels, tick labels) lies inside it.

    Constrained layout shrinks axes to make room for tick labels, but a title or axis label wider than a narrow
    figure (a blob plot of one to three models) is centred on its axes and would be cut off. Growing the width by
    twice the overflow keeps a centred text inside (the axes grows by as much as the figure); a few rounds
    settle it. Returns ``fig``.
    """
    for _ in range(max_rounds):
        fig.draw_without_rendering()  # runs the layout engine, rasterises nothing
        box = fig.get_tightbbox()  # inches
        width, height = fig.get_size_inches()
        over_x = max(-box.x0, box.x1 - width, 0.0)
        over_y = max(-box.y0, box.y1 - height, 0.0)
        if over_x <= 1e-3 and over_y <= 1e-3:
            break
        fig.set_size_inches(width + (2 * over_x + pad if over_x > 1e-3 else 0.0),
                            height + (2 * over_y + pad if over_y > 1e-3 else 0.0))
    return fig


def model_label(architecture: str, pretraining: str) -> str:
    """``RetUNet · MT`` style label of a model (a reference row reads ``Classical (reference) · no learning``)."""
    return f"{ARCHITECTURE_LABELS.get(architecture, architecture)} · {PRETRAINING_LABELS.get(pretraining, pretraining)}"


def _note(ax, text: str, detail: str = "") -> None:  # noqa: ANN001
    """``text`` (and ``detail`` below it) in the middle of an empty axes, in place of a plot."""
    ax.set_axis_off()
    ax.text(0.5, 0.6, text, ha="center", va="center", fontsize=13, weight="bold", transform=ax.transAxes)
    if detail:
        ax.text(0.5, 0.3, detail, ha="center", va="center", fontsize=8, wrap=True, transform=ax.transAxes)


def no_learning_figure(note: str, detail: str = "", title: str = "") -> Figure:
    """A ranking figure that says why it shows no ranking (``no model learned: profile tiny``), not a tie."""
    fig = Figure(figsize=(7.5, 2.2), layout="constrained")
    ax = fig.subplots()
    _note(ax, note, detail)
    if title:
        ax.set_title(title, fontsize=9)
    return fit_to_contents(fig)


_REFERENCE_COLOR = "#B0B0B0"  # reference rows (the classical baseline): grey and hatched, apart from the models


def _colors(architectures: Sequence[str]) -> dict[str, str]:
    from analysis.store import is_reference

    ordered = [a for a in _order(list(dict.fromkeys(architectures)), ARCHITECTURE_ORDER) if not is_reference(a)]
    colors = {a: _PALETTE[i % len(_PALETTE)] for i, a in enumerate(ordered)}
    return {**colors, **{a: _REFERENCE_COLOR for a in architectures if is_reference(a)}}


def _model_order(frame: pd.DataFrame, column: str) -> list[tuple[str, str]]:
    """Models sorted by the mean of ``column`` (best = lowest first)."""
    mean = frame.groupby(MODEL)[column].mean().sort_values(kind="stable")
    return [tuple(k) for k in mean.index]


def _delta_bars(ax, deltas: pd.DataFrame, models: list[tuple[str, str]], metric: str, dataset: str, colors) -> None:
    d = deltas[(deltas["metric"] == metric) & (deltas["dataset"] == dataset)].set_index(MODEL)
    d = d.reindex(pd.MultiIndex.from_tuples(models, names=MODEL))
    y = np.arange(len(models))
    values = d["delta"].to_numpy() * 100
    ax.barh(y, np.nan_to_num(values), color=[colors[a] for a, _ in models], alpha=0.85, height=0.6)
    if {"ci_low", "ci_high"} <= set(d.columns):
        low, high = d["ci_low"].to_numpy() * 100, d["ci_high"].to_numpy() * 100
        ok = ~np.isnan(low) & ~np.isnan(high)
        # the interval itself (a percentile interval need not contain the full-data delta, so no +-errorbar)
        ax.hlines(y[ok], low[ok], high[ok], color="0.25", lw=0.8)
        ax.plot(np.r_[low[ok], high[ok]], np.r_[y[ok], y[ok]], "|", color="0.25", ms=4)
    ax.axvline(0, color="0.3", lw=0.8)
    if not np.isfinite(values).any():
        # no model has its baseline run in the store (e.g. `benchmark run --pretraining fixed`): say so instead of
        # leaving an empty panel that reads like "no difference"
        ax.text(0.5, 0.5, "no baseline runs\nin this store:\nno deltas\n(--baseline)", transform=ax.transAxes,
                ha="center", va="center", fontsize=8, color="0.35")
    ax.set_yticks(y)
    ax.set_yticklabels([])
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_xlabel(f"Δ {METRIC_LABELS.get(metric, metric)} [%]")
    ax.grid(axis="x", alpha=0.3)


def _rank_boxes(ax, frame: pd.DataFrame, models: list[tuple[str, str]], column: str, colors, n_models: int) -> None:
    groups = frame.groupby(MODEL)[column]
    data = [groups.get_group(m).dropna().to_numpy() for m in models]
    parts = ax.boxplot(data, positions=np.arange(len(models)), widths=0.6, showfliers=False, patch_artist=True,
                       medianprops={"color": "black"}, **_HORIZONTAL)
    from analysis.store import is_reference

    for patch, (arch, _) in zip(parts["boxes"], models, strict=True):
        patch.set_facecolor(colors[arch])
        patch.set_alpha(0.6)
        if is_reference(arch):
            patch.set_hatch("//")
    means = [d.mean() if len(d) else np.nan for d in data]
    ax.plot(means, np.arange(len(models)), "o", color="black", ms=3, label="mean")
    ax.set_yticks(np.arange(len(models)))
    ax.set_yticklabels([model_label(*m) for m in models])
    ax.set_ylim(len(models) - 0.5, -0.5)
    ax.set_xlim(0.5, n_models + 0.5)
    ax.grid(axis="x", alpha=0.3)


def ranking_overview_figure(
    replicates: pd.DataFrame,
    deltas: pd.DataFrame,
    metric: str = "map@0.1",
    delta_metrics: Sequence[str] = ("map@0.1", "froc@0.1"),
    baseline: str = "default",
    note: str = "",
    note_detail: str = "",
) -> Figure:
    """Fig. 2: per model, the distribution over replicates of the mean rank across datasets, and beside it the
    mean difference to the architecture's ``baseline`` in each of ``delta_metrics`` (bars, 95% bootstrap CI).

    ``note`` (e.g. ``no model learned: profile tiny``, :mod:`analysis.learning`) replaces the ranking: the figure
    says it instead of drawing every model tied at rank 1."""
    if note:
        return no_learning_figure(note, note_detail, f"Aggregated ranking ({METRIC_LABELS.get(metric, metric)})")
    per_rep = replicate_mean_ranks(replicates[replicates["metric"] == metric])
    models = _model_order(per_rep, "mean_rank")
    colors = _colors([a for a, _ in models])
    n = len(models)
    fig = Figure(figsize=(4 + 2.2 * len(delta_metrics) + 2, 0.9 + 0.32 * n), layout="constrained")
    axes = fig.subplots(1, 1 + len(delta_metrics), sharey=False,
                        gridspec_kw={"width_ratios": [3] + [1.3] * len(delta_metrics)})
    _rank_boxes(axes[0], per_rep, models, "mean_rank", colors, n)
    axes[0].set_xlabel(f"mean rank over datasets ({METRIC_LABELS.get(metric, metric)}, 1 = best)")
    n_rep = per_rep["replicate"].nunique()
    n_data = replicates["dataset"].nunique()
    axes[0].set_title(f"Aggregated ranking, {n_rep} bootstrap replicates x {n_data} datasets", fontsize=9)
    for ax, dm in zip(axes[1:], delta_metrics, strict=True):
        _delta_bars(ax, deltas, models, dm, "mean", colors)
        ax.set_title(f"vs. {PRETRAINING_LABELS.get(baseline, baseline)}", fontsize=9)
    return fit_to_contents(fig)


def per_dataset_figure(
    replicates: pd.DataFrame,
    deltas: pd.DataFrame,
    metric: str = "map@0.1",
    ncols: int = 2,
    notes: dict[str, str] | None = None,
) -> Figure:
    """Fig. 3: one panel per dataset with the models' rank distributions and their delta to the baseline.

    ``notes`` (dataset -> text, e.g. ``no model learned: profile tiny``) replace a dataset's panel."""
    notes = notes or {}
    rep = replicates[replicates["metric"] == metric]
    datasets = sorted(rep["dataset"].unique())
    if not datasets:
        raise ValueError(f"no replicates for metric {metric!r}")
    ncols = max(1, min(ncols, len(datasets)))
    nrows = int(np.ceil(len(datasets) / ncols))
    n_models = rep.groupby(MODEL).ngroups
    fig = Figure(figsize=(7.5 * ncols, nrows * (1.0 + 0.28 * n_models)), layout="constrained")
    grid = fig.add_gridspec(nrows, 2 * ncols, width_ratios=[3, 1] * ncols)
    colors = _colors(rep["architecture"].unique())
    for i, dataset in enumerate(datasets):
        r, c = divmod(i, ncols)
        d = rep[rep["dataset"] == dataset]
        models = _model_order(d, "rank")
        if notes.get(dataset):
            ax_note = fig.add_subplot(grid[r, 2 * c : 2 * c + 2])
            _note(ax_note, notes[dataset])
            ax_note.set_title(dataset, fontsize=10, loc="left")
            continue
        ax_rank = fig.add_subplot(grid[r, 2 * c])
        ax_delta = fig.add_subplot(grid[r, 2 * c + 1])
        _rank_boxes(ax_rank, d, models, "rank", colors, n_models)
        ax_rank.set_title(dataset, fontsize=10, loc="left")
        ax_rank.set_xlabel("rank (1 = best)")
        _delta_bars(ax_delta, deltas, models, metric, dataset, colors)
    # no fit_to_contents: panel titles are short and left-aligned, and a draw of 8 x 18 boxes costs seconds
    return fig


def blob_figure(
    replicates: pd.DataFrame,
    metric: str = "map@0.1",
    dataset: str | None = None,
    max_size: float = 600.0,
    note: str = "",
    note_detail: str = "",
) -> Figure:
    """Blob plot: how often each model reached each rank (circle area = frequency), with the median rank and
    its 95% interval. ``dataset=None`` uses the consensus rank of each replicate across datasets. ``note``
    replaces the plot (see :func:`ranking_overview_figure`)."""
    if note:
        return no_learning_figure(note, note_detail, f"Consensus rank ({METRIC_LABELS.get(metric, metric)})")
    rep = replicates[replicates["metric"] == metric]
    if dataset is None:
        ranks = replicate_mean_ranks(rep).rename(columns={"consensus_rank": "rank"}).assign(dataset="all")
        title = f"Consensus rank across datasets ({METRIC_LABELS.get(metric, metric)})"
    else:
        ranks = rep[rep["dataset"] == dataset]
        title = f"Ranks on {dataset} ({METRIC_LABELS.get(metric, metric)})"
    if ranks.empty:
        raise ValueError(f"no replicates for metric {metric!r}" + (f" and dataset {dataset!r}" if dataset else ""))
    freq = rank_distribution(ranks, by=("dataset",))
    models = _model_order(ranks, "rank")
    colors = _colors([a for a, _ in models])
    n = len(models)
    fig = Figure(figsize=(2.5 + 0.45 * n, 1.0 + 0.35 * n), layout="constrained")
    ax = fig.subplots()
    ypos = {m: i for i, m in enumerate(models)}
    y = np.array([ypos[(a, p)] for a, p in zip(freq["architecture"], freq["pretraining"], strict=True)])
    ax.scatter(freq["rank"], y, s=freq["frequency"] * max_size, c=[colors[a] for a in freq["architecture"]],
               alpha=0.7, edgecolors="none")
    stats = ranks.groupby(MODEL)["rank"].quantile([0.025, 0.5, 0.975]).unstack()
    for m in models:
        lo, med, hi = stats.loc[m, [0.025, 0.5, 0.975]]
        ax.plot([lo, hi], [ypos[m]] * 2, color="black", lw=1)
        ax.plot(med, ypos[m], "x", color="black", ms=5)
    ax.set_yticks(np.arange(n))
    ax.set_yticklabels([model_label(*m) for m in models])
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xticks(np.arange(1, n + 1))
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xlabel("rank (1 = best); x = median, line = 95% interval")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fit_to_contents(fig)


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = FIGURE_FORMATS, dpi: int = 150) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` (or ``formats``); returns the paths."""
    bad = [f for f in formats if f not in FIGURE_FORMATS]
    if bad:
        raise ValueError(f"Unknown figure format(s) {bad}. Valid: {', '.join(FIGURE_FORMATS)}")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in formats:
        path = stem.with_name(f"{stem.name}.{f}")
        fig.savefig(path, dpi=dpi)
        paths.append(path)
    return paths
