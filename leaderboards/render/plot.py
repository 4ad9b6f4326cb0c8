"""The rank-distribution plot of a board: per evaluated entry, its bootstrap rank's 95% interval, median and mean.

An entry file keeps a summary of the rank distribution (mean, median, 2.5/97.5 percentiles over the paired
bootstrap replicates, see leaderboards/README.md), so the plot draws that summary: a bar from the low to the
high percentile, a dot at the median and a diamond at the mean, rank 1 (best) on the left. Reported entries
have no per-case results, hence no bootstrap rank, and are not drawn.

The SVG is reproducible (no date in its metadata, fixed id salt) so re-rendering unchanged boards changes no
byte. Method names are drawn as glyph paths, with mathtext off (a ``$`` in a name is just a dollar sign).
"""

from __future__ import annotations

import io
from typing import Any

__all__ = ["rank_plot_svg", "ranked_entries"]

_MAX_LABEL = 48


def ranked_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that carry a bootstrap rank summary, in the board's order."""
    return [e for e in entries if isinstance(e.get("rank"), dict) and e["rank"].get("mean") is not None]


def _label(method: str) -> str:
    return method if len(method) <= _MAX_LABEL else method[: _MAX_LABEL - 1] + "…"


def rank_plot_svg(spec: dict[str, Any], entries: list[dict[str, Any]]) -> bytes | None:
    """The plot as SVG bytes, or None when no entry of the board has a bootstrap rank."""
    ranked = ranked_entries(entries)
    if not ranked:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    from analysis.figures import fit_to_contents

    n = len(ranked)
    n_entries = max(int(e["rank"].get("n_entries") or n) for e in ranked)
    replicates = sorted({int(e["rank"].get("n_replicates") or 0) for e in ranked})
    with matplotlib.rc_context({"svg.hashsalt": "detbench-leaderboard", "svg.fonttype": "path"}):
        fig = Figure(figsize=(7.0, 0.9 + 0.32 * n), layout="constrained")
        ax = fig.add_subplot()
        ys = list(range(n))
        for y, e in zip(ys, ranked, strict=True):
            r = e["rank"]
            low = r.get("low", r["mean"])
            high = r.get("high", r["mean"])
            ax.hlines(y, low, high, color="#4C72B0", linewidth=4, alpha=0.45)
            if r.get("median") is not None:
                ax.plot([r["median"]], [y], "o", color="#4C72B0", markersize=5)
            ax.plot([r["mean"]], [y], "D", color="#C44E52", markersize=4)
        ax.set_yticks(ys)
        labels = ax.set_yticklabels([_label(str(e.get("method", ""))) for e in ranked], fontsize=8)
        for text in labels:
            text.set_parse_math(False)
        ax.invert_yaxis()  # best entry on top, as in the table
        ax.set_xlim(0.5, n_entries + 0.5)
        ax.set_xticks(range(1, n_entries + 1) if n_entries <= 25 else ax.get_xticks())
        ax.set_xlabel("rank on this board (1 = best): bar 95% interval, dot median, diamond mean", fontsize=8)
        reps = "/".join(str(r) for r in replicates)
        title = ax.set_title(
            f"{spec.get('title') or spec['board_id']}: bootstrap rank ({reps} replicates)", fontsize=9
        )
        title.set_parse_math(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        fit_to_contents(fig)  # a long title or axis label is not cut off
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
