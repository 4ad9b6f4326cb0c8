"""Markdown pages of the boards: ``<board_id>.md`` (one table per board) and ``index.md`` (the list of boards).

Readable on any git host without the HTML site; links are relative, so they work in the rendered folder.
"""

from __future__ import annotations

from typing import Any

from leaderboards.render.text import fmt_interval, fmt_rank, fmt_value, md_escape

__all__ = ["board_markdown", "index_markdown"]


def _provenance(entry: dict[str, Any]) -> str:
    prov = entry.get("provenance") or {}
    if prov.get("kind") == "evaluated":
        sha = str(prov.get("predictions_sha256") or "")[:12]
        return f"evaluated (predictions sha256 {md_escape(sha)}…)"
    if prov.get("kind") == "reported":
        return f"reported ({md_escape(prov.get('citation') or 'no citation')})"
    return md_escape(prov.get("kind") or "unknown")


def board_markdown(spec: dict[str, Any], entries: list[dict[str, Any]], plot_name: str | None) -> str:
    """The board's page: header, the ranked table (entries in the store's order, best first) and the plot."""
    better = "higher" if spec.get("higher_is_better", True) else "lower"
    split = md_escape(str(spec.get("split") or "test").replace("_", " "))
    lines = [
        f"# {md_escape(spec.get('title') or spec['board_id'])}",
        "",
        f"Dataset {md_escape(spec.get('dataset'))}, protocol {md_escape(spec.get('protocol'))}, "
        f"metric {md_escape(spec.get('metric'))} on the {split} split ({better} is better). "
        f"{len(entries)} entries. Intervals are 95% bootstrap intervals; the bootstrap rank is the mean rank "
        "over the replicates with its 2.5-97.5 percentile range (evaluated entries only).",
        "",
    ]
    if not entries:
        lines += ["No entries yet.", ""]
    else:
        lines += [
            "| # | method | architecture | pre-training | value | 95% interval | bootstrap rank | provenance | date |",
            "| ---: | --- | --- | --- | ---: | --- | --- | --- | --- |",
        ]
        for i, e in enumerate(entries, start=1):
            cells = [
                str(i),
                md_escape(e.get("method")),
                md_escape(e.get("architecture") or "-"),
                md_escape(e.get("pretraining") or "-"),
                fmt_value(e.get("value")),
                fmt_interval(e.get("ci_low"), e.get("ci_high")) or "-",
                fmt_rank(e.get("rank")),
                _provenance(e),
                md_escape(e.get("date")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if plot_name:
        lines += [f"![Bootstrap rank distribution of {md_escape(spec['board_id'])}]({plot_name})", ""]
    lines += [f"HTML version: [{spec['board_id']}.html]({spec['board_id']}.html) · [all boards](index.md)", ""]
    return "\n".join(lines)


def index_markdown(boards: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> str:
    """``index.md``: every board with its entry count and current leader."""
    lines = [
        "# detbench leaderboards",
        "",
        "| board | dataset | protocol | metric | entries | best |",
        "| --- | --- | --- | --- | ---: | --- |",
    ]
    for spec, entries in boards:
        best = f"{md_escape(entries[0].get('method'))} ({fmt_value(entries[0].get('value'))})" if entries else "-"
        lines.append(
            f"| [{md_escape(spec.get('title') or spec['board_id'])}]({spec['board_id']}.md) | "
            f"{md_escape(spec.get('dataset'))} | {md_escape(spec.get('protocol'))} | {md_escape(spec.get('metric'))} | "
            f"{len(entries)} | {best} |"
        )
    return "\n".join(lines) + "\n"
