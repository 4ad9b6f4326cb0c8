"""The static HTML pages of the leaderboard site: ``index.html``, one page per board, one page per entry.

Self-contained by design, so the site works from ``file://`` and from any static host: CSS and the table-sorting
script are inline, the only other file a page uses is its board's rank plot (an SVG next to it), the favicon is an empty
``data:`` URL (so a host never answers a favicon request with 404), and there are no fonts, CDNs or requests
elsewhere. Each page carries a Content-Security-Policy that allows exactly its own
inline style and script (by their sha256) and same-origin images, so even text that slipped past escaping could
not run a script. Every untrusted string goes through :func:`html.escape`.

Sorting: click a column header (a button, so the keyboard works too); a second click reverses the order; empty
cells (reported entries have no rank) stay at the bottom in both directions.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape
from typing import Any

from leaderboards.render.text import fmt_interval, fmt_rank, fmt_value, safe_http_url

__all__ = ["board_page", "entry_page", "index_page"]

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
nav { font-size: 0.9rem; margin-bottom: 1rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td.nowrap { white-space: nowrap; }
th button { font: inherit; font-weight: 600; background: none; border: none; padding: 0; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; }
th[aria-sort="descending"] button::after { content: " \\25BC"; }
.badge { display: inline-block; padding: 0.05rem 0.45rem; border-radius: 0.6rem; font-size: 0.8rem; }
.badge.evaluated { background: #dcefdc; color: #1d5e1d; }
.badge.reported { background: #e6e6f5; color: #34346e; }
.muted { color: #666; }
.description { white-space: pre-wrap; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; } dt { font-weight: 600; }
code { font-size: 0.85rem; word-break: break-all; }
""".strip()

SORT_JS = """
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    return v === null ? cell.textContent.trim() : v;
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "number";
        var current = th.getAttribute("aria-sort");
        var asc = current ? current !== "ascending" : th.getAttribute("data-first") !== "descending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === "" || y === "") { return (x === "") - (y === ""); }
          var d = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return asc ? d : -d;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
""".strip()


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = (
    f"default-src 'none'; img-src 'self' data:; style-src {_sha256_source(CSS)}; script-src {_sha256_source(SORT_JS)}; "
    "base-uri 'none'; form-action 'none'"
)


def _page(title: str, body: str, generator: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<meta name=\"referrer\" content=\"no-referrer\">\n"
        "<link rel=\"icon\" href=\"data:,\">\n"  # no favicon request: a static host would answer 404
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
        f"<footer class=\"muted\"><p>Rendered by {escape(generator)} (benchmark leaderboard render).</p></footer>\n"
        f"<script>{SORT_JS}</script>\n</body>\n</html>\n"
    )


def _th(label: str, kind: str = "text", sortable: bool = True, first: str = "", sort: str = "") -> str:
    attrs = f' data-type="{kind}"' + (' class="num"' if kind == "number" else "")
    attrs += f' data-first="{first}"' if first else ""
    attrs += f' aria-sort="{sort}"' if sort else ""
    inner = f'<button type="button">{escape(label)}</button>' if sortable else escape(label)
    return f"<th scope=\"col\"{attrs}>{inner}</th>"


def _num_td(text: str, sort_key: Any) -> str:
    key = "" if sort_key is None else repr(float(sort_key))
    return f'<td class="num" data-sort="{key}">{escape(text)}</td>'


def _badge(entry: dict[str, Any]) -> str:
    prov = entry.get("provenance") or {}
    kind = prov.get("kind")
    if kind == "evaluated":
        tip = (
            f"evaluated here: predictions sha256 {prov.get('predictions_sha256')}, detbench "
            f"{prov.get('detbench_version')}, dataset {prov.get('dataset_version')}, split {prov.get('split_version')}"
        )
        return f'<span class="badge evaluated" title="{escape(tip)}">evaluated</span>'
    if kind == "reported":
        tip = f"reported: {prov.get('citation')}"
        return f'<span class="badge reported" title="{escape(tip)}">reported</span>'
    return f'<span class="badge">{escape(str(kind))}</span>'


def _split(spec: dict[str, Any]) -> str:
    """``test`` or ``external test`` (CTA-A's external set)."""
    return str(spec.get("split") or "test").replace("_", " ")


def _nav(links: list[tuple[str, str]]) -> str:
    return "<nav>" + " › ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for href, text in links) + "</nav>"


def index_page(boards: list[tuple[dict[str, Any], list[dict[str, Any]]]], generator: str) -> str:
    """``index.html``: a sortable table of every board with its entry counts and leader."""
    rows = []
    for spec, entries in boards:
        bid = spec["board_id"]
        n_eval = sum((e.get("provenance") or {}).get("kind") == "evaluated" for e in entries)
        best = entries[0] if entries else None
        rows.append(
            "<tr>"
            f'<td><a href="{escape(bid)}.html">{escape(spec.get("title") or bid)}</a></td>'
            f"<td>{escape(str(spec.get('dataset')))}</td><td>{escape(str(spec.get('protocol')))}</td>"
            f"<td>{escape(str(spec.get('metric')))}</td>"
            + _num_td(str(len(entries)), len(entries))
            + _num_td(str(n_eval), n_eval)
            + (f"<td>{escape(str(best.get('method')))} ({fmt_value(best.get('value'))})</td>" if best else "<td>-</td>")
            + "</tr>"
        )
    head = "".join([
        _th("board", sort="ascending"), _th("dataset"), _th("protocol"), _th("metric"),
        _th("entries", "number", first="descending"), _th("evaluated", "number", first="descending"),
        _th("best", sortable=False),
    ])
    body = (
        "<h1>detbench leaderboards</h1>\n"
        f"<p>{len(boards)} boards. Each board ranks methods on one dataset's test split under one protocol; "
        "values carry 95% bootstrap intervals and evaluated entries a bootstrap rank (see each board).</p>\n"
        f'<table class="sortable" id="boards"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
    )
    return _page("detbench leaderboards", body, generator)


def board_page(
    spec: dict[str, Any], entries: list[dict[str, Any]], plot_name: str | None, generator: str
) -> str:
    """A board: the sortable ranked table (entries in the store's order, best first) and its rank plot."""
    bid = spec["board_id"]
    title = spec.get("title") or bid
    better = "higher" if spec.get("higher_is_better", True) else "lower"
    rows = []
    for i, e in enumerate(entries, start=1):
        rank = e.get("rank") if isinstance(e.get("rank"), dict) else None
        rows.append(
            f'<tr data-slug="{escape(str(e["slug"]))}">'
            + _num_td(str(i), i)
            + f'<td><a href="{escape(bid)}/{escape(str(e["slug"]))}.html">{escape(str(e.get("method")))}</a></td>'
            + f"<td>{escape(str(e.get('architecture') or '-'))}</td>"
            + f"<td>{escape(str(e.get('pretraining') or '-'))}</td>"
            + _num_td(fmt_value(e.get("value")), e.get("value"))
            + f'<td class="num">{escape(fmt_interval(e.get("ci_low"), e.get("ci_high")))}</td>'
            + _num_td(fmt_rank(rank), rank.get("mean") if rank else None)
            + f'<td data-sort="{escape(str((e.get("provenance") or {}).get("kind")))}">{_badge(e)}</td>'
            + f'<td class="nowrap">{escape(str(e.get("date")))}</td>'
            + "</tr>"
        )
    first_value = "descending" if spec.get("higher_is_better", True) else "ascending"
    head = "".join([
        _th("#", "number", sort="ascending"), _th("method"), _th("architecture"), _th("pre-training"),
        _th(str(spec.get("metric")), "number", first=first_value), _th("95% interval", sortable=False),
        _th("bootstrap rank", "number"), _th("provenance"), _th("date"),
    ])
    table = (
        f'<table class="sortable" id="entries"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
        if entries
        else "<p>No entries yet.</p>"
    )
    if plot_name:
        figure = (
            f'<figure><img src="{escape(plot_name)}" alt="bootstrap rank distribution of the evaluated entries">'
            "<figcaption class=\"muted\">Bootstrap rank of each evaluated entry: bar = 95% interval, dot = median, "
            "diamond = mean. Reported entries have no per-case results and are not ranked.</figcaption></figure>"
        )
    else:
        figure = "<p class=\"muted\">No evaluated entry with a bootstrap rank yet, so no rank plot.</p>"
    body = (
        _nav([("index.html", "all boards")])
        + f"\n<h1>{escape(title)}</h1>\n"
        f"<p>Dataset <strong>{escape(str(spec.get('dataset')))}</strong>, protocol "
        f"<strong>{escape(str(spec.get('protocol')))}</strong>, metric <strong>{escape(str(spec.get('metric')))}"
        f"</strong> on the {escape(_split(spec))} split ({better} is better). {len(entries)} entries. "
        "Intervals are 95% bootstrap intervals; the bootstrap rank is the mean rank over the paired replicates "
        "with its 2.5-97.5 percentile range. Click a column header to sort.</p>\n"
        + table
        + "\n"
        + figure
    )
    return _page(f"{title} · detbench leaderboard", body, generator)


def _provenance_list(prov: dict[str, Any]) -> str:
    items = []
    for key, value in prov.items():
        if value is None:
            text = '<span class="muted">-</span>'
        elif key == "source" and safe_http_url(value):
            text = f'<a href="{escape(value)}" rel="noopener noreferrer">{escape(value)}</a>'
        else:
            text = f"<code>{escape(str(value))}</code>" if key.endswith(("sha256", "hash")) else escape(str(value))
        items.append(f"<dt>{escape(str(key))}</dt><dd>{text}</dd>")
    return "<dl>" + "".join(items) + "</dl>"


def _per_case_table(per_case: list[dict[str, Any]] | None) -> str:
    if not per_case:
        return "<p class=\"muted\">No per-case results: reported entries carry only the published value.</p>"
    rows = []
    for c in per_case:
        n_obj, tp = c.get("n_objects"), c.get("tp_at_0.1")
        sens = tp / n_obj if isinstance(n_obj, int) and n_obj > 0 and isinstance(tp, int) else None
        rows.append(
            f"<tr><td>{escape(str(c.get('case_id')))}</td>"
            + _num_td(str(n_obj), n_obj)
            + _num_td(str(c.get("n_detections")), c.get("n_detections"))
            + _num_td(str(tp), tp)
            + _num_td(fmt_value(sens), sens)
            + "</tr>"
        )
    head = "".join([
        _th("case", sort="ascending"), _th("objects", "number"), _th("detections", "number"),
        _th("true positives (IoU 0.1)", "number"), _th("sensitivity", "number"),
    ])
    return (
        f"<p>{len(per_case)} test cases.</p>\n"
        f'<table class="sortable" id="cases"><thead><tr>{head}</tr></thead>\n<tbody>\n'
        + "\n".join(rows)
        + "\n</tbody></table>"
    )


def entry_page(spec: dict[str, Any], entry: dict[str, Any], position: int, generator: str) -> str:
    """One entry (written to ``<board_id>/<slug>.html``): its values, provenance and per-case results."""
    bid = spec["board_id"]
    method = str(entry.get("method"))
    rank = entry.get("rank") if isinstance(entry.get("rank"), dict) else None
    interval = fmt_interval(entry.get("ci_low"), entry.get("ci_high"))
    facts = [
        ("position", f"{position} of the board"),
        (str(spec.get("metric")), fmt_value(entry.get("value")) + (f" (95% interval {interval})" if interval else "")),
        ("bootstrap rank", fmt_rank(rank) + (
            f" of {rank.get('n_entries')} over {rank.get('n_replicates')} replicates; median {rank.get('median')}"
            if rank else " (not ranked: no per-case results)")),
        ("architecture", entry.get("architecture") or "-"),
        ("pre-training", entry.get("pretraining") or "-"),
        ("date", entry.get("date")),
    ]
    dl = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts) + "</dl>"
    prov = entry.get("provenance") or {}
    body = (
        _nav([("../index.html", "all boards"), (f"../{bid}.html", spec.get("title") or bid)])
        + f"\n<h1>{escape(method)}</h1>\n"
        + f"<p>{_badge(entry)} on {escape(str(spec.get('title') or bid))}</p>\n"
        + (f'<p class="description">{escape(str(entry.get("description")))}</p>\n' if entry.get("description") else "")
        + dl
        + "\n<h2>Provenance</h2>\n"
        + _provenance_list(prov)
        + "\n<h2>Per-case results</h2>\n"
        + _per_case_table(entry.get("per_case"))
    )
    return _page(f"{method} · {spec.get('title') or bid}", body, generator)
