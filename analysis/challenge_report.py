"""``statistics.html``: one static HTML page (no server, no scripts, no external resources; figures embedded as
base64 PNG) with the challengeR-style statistics of :mod:`analysis.challenge`, aggregated and per dataset."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import challenge_figures as cf
from analysis.challenge import ALL_DATASETS, METHOD_LABELS, METHODS, ChallengeResult
from analysis.figures import model_label
from analysis.tables import METRIC_LABELS
from benchmark.core.atomic import atomic_write_text

__all__ = ["statistics_html", "write_statistics_html"]

_STYLE = """body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f0f0f0}img{max-width:100%;margin:0.3em 0}.figs{display:flex;flex-wrap:wrap;gap:1em}
nav a{margin-right:0.8em}"""

_DEFINITIONS = (
    "<p>Statistics after challengeR (Wiesenfarth et al., <i>Methods and open-source toolkit for analyzing and "
    "visualizing challenge results</i>, Sci Rep 11, 2369, 2021), computed from the same paired image-level bootstrap "
    "replicates as the rest of the analysis; the replicates play the role of challengeR's test cases.</p><ul>"
    "<li><b>Test</b>: per dataset and metric, for every ordered pair of models (A, B), H1: A better than B. "
    "p = share of replicates with value(A) - value(B) &le; 0 (percentile method, resolution 1/R); "
    "Holm-adjusted over the M(M-1) pairs of the dataset and metric; significant when the adjusted p &lt; "
    "alpha.</li><li><b>Aggregate-then-rank</b>: rank of the mean value over replicates. "
    "<b>Rank-then-aggregate</b>: rank of the mean over replicates of the per-replicate rank. "
    "<b>Test-then-rank</b>: rank of the number of models significantly beaten. Ties share the smallest rank.</li>"
    "<li><b>All datasets</b>: each method's ranks averaged over datasets and ranked (challengeR's Euclidean "
    "consensus).</li><li><b>Kendall's tau</b> (tau-b) between the methods' rankings; <b>robustness</b>: tau between "
    "the full-data ranking and each replicate's ranking.</li></ul>"
)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _img(fig: Figure, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, float_format=lambda v: f"{v:.3f}", na_rep="n/a")


def _ranking_table(result: ChallengeResult, dataset: str, metric: str) -> str:
    r = result.rankings[(result.rankings["dataset"] == dataset) & (result.rankings["metric"] == metric)]
    r = r.sort_values(["aggregate_then_rank", "mean_rank"], kind="stable")
    shown = pd.DataFrame({"model": [model_label(a, p) for a, p in zip(r["architecture"], r["pretraining"],
                                                                        strict=True)]})
    shown["mean value" if dataset != ALL_DATASETS else "mean value over datasets"] = r["mean_value"].to_numpy()
    for m in METHODS:
        shown[METHOD_LABELS[m]] = r[m].to_numpy().astype(int)
    shown["models beaten" if dataset != ALL_DATASETS else "models beaten (sum)"] = r["wins"].to_numpy().astype(int)
    return _table(shown)


def _agreement_table(result: ChallengeResult, dataset: str, metric: str) -> str:
    a = result.agreement[(result.agreement["dataset"] == dataset) & (result.agreement["metric"] == metric)]
    return _table(pd.DataFrame({"methods": [f"{METHOD_LABELS[x]} vs {METHOD_LABELS[y]}"
                                            for x, y in zip(a["method_a"], a["method_b"], strict=True)],
                                "Kendall's tau": a["kendall_tau"].to_numpy()}))


def statistics_html(result: ChallengeResult, replicates: pd.DataFrame, title: str = "Statistics",
                    description: str = "") -> str:
    """The page as a string: definitions, then per metric the aggregated section and one section per dataset."""
    metrics = list(dict.fromkeys(result.rankings["metric"]))
    datasets = sorted(d for d in result.rankings["dataset"].unique() if d != ALL_DATASETS)
    robust = result.robustness_summary()
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    if description:
        parts.append(f"<p>{html.escape(description)}</p>")
    parts.append(_DEFINITIONS + f"<p>alpha = {result.alpha:g}.</p>")
    parts.append("<nav>" + "".join(f'<a href="#{html.escape(m)}-{d}">{html.escape(m)} {d}</a>'
                                   for m in metrics for d in [ALL_DATASETS, *datasets]) + "</nav>")
    for metric in metrics:
        label = html.escape(METRIC_LABELS.get(metric, metric))
        parts.append(f'<h2 id="{html.escape(metric)}-{ALL_DATASETS}">{label}: all datasets</h2>')
        parts.append(_ranking_table(result, ALL_DATASETS, metric))
        parts.append("<h3>Agreement of the ranking methods</h3>" + _agreement_table(result, ALL_DATASETS, metric))
        parts.append("<h3>Ranking robustness</h3>"
                     + _table(robust[robust["metric"] == metric].drop(columns="metric")))
        parts.append('<div class="figs">'
                     + _img(cf.robustness_violin_figure(result.robustness, metric), f"robustness {metric}")
                     + _img(cf.ranking_heatmap_figure(replicates, result.rankings, ALL_DATASETS, metric),
                            f"consensus ranking heatmap {metric}") + "</div>")
        for dataset in datasets:
            parts.append(f'<h2 id="{html.escape(metric)}-{dataset}">{label}: {html.escape(dataset)}</h2>')
            parts.append(_ranking_table(result, dataset, metric) + _agreement_table(result, dataset, metric))
            parts.append('<div class="figs">'
                         + _img(cf.significance_map_figure(result.tests, result.rankings, dataset, metric,
                                                           result.alpha), f"significance map {dataset} {metric}")
                         + _img(cf.ranking_heatmap_figure(replicates, result.rankings, dataset, metric),
                                f"ranking heatmap {dataset} {metric}")
                         + _img(cf.podium_figure(replicates, result.rankings, dataset, metric),
                                f"podium {dataset} {metric}") + "</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_statistics_html(path: str | Path, result: ChallengeResult, replicates: pd.DataFrame,
                          title: str = "Statistics", description: str = "") -> Path:
    """Write :func:`statistics_html` atomically to ``path``; returns it."""
    path = Path(path)
    atomic_write_text(path, statistics_html(result, replicates, title, description))
    return path
