"""The rendered site: files and links, escaping of untrusted text, sortable tables, re-rendering, the plot."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import pytest
from leaderboard_fixtures import HOSTILE_METHOD, HOSTILE_SLUG

from leaderboards.render import MARKER, build_site, out_dir_problem, write_site
from leaderboards.render.text import md_escape


class _Collect(HTMLParser):
    """Tags, links and text of a page (the standard library parser, so the test needs no browser)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def test_site_has_every_page_and_every_link_resolves(render_boards, tmp_path):
    site = write_site(render_boards, tmp_path / "site")
    files = set(site.files)
    assert {"index.html", "index.md", "s06-map.html", "s06-map.md", "s06-map-ranks.svg",
            "d06-luna16-cpm.html", "d06-luna16-cpm.md"} <= files
    slugs = ("retina-u-net-scratch", HOSTILE_SLUG, "zeta-baseline", "alpha-reported")
    assert {f"s06-map/{s}.html" for s in slugs} <= files
    assert "d06-luna16-cpm-ranks.svg" not in files  # reported entries only: nothing to plot
    assert (site.n_boards, site.n_entries) == (2, 5)
    for rel in files:
        if not rel.endswith(".html"):
            continue
        page = tmp_path / "site" / rel
        for tag, attrs in _parse(page.read_text(encoding="utf-8")).tags:
            ref = attrs.get("href") if tag == "a" else attrs.get("src") if tag in ("img", "script") else None
            if ref is None or ref.startswith("https://example.org"):
                continue
            assert "://" not in ref and not ref.startswith("/"), (rel, ref)  # relative: file:// and any host
            assert (page.parent / ref).resolve().is_file(), (rel, ref)
        text = page.read_text(encoding="utf-8")
        links = [a for tag, a in _parse(text).tags if tag == "link"]
        assert links == [{"rel": "icon", "href": "data:,"}], links  # no stylesheet, font or favicon request
        assert "@import" not in text and "url(" not in text


def test_untrusted_text_is_escaped_in_html_and_markdown(render_boards):
    files = build_site(render_boards)
    for rel in ("s06-map.html", f"s06-map/{HOSTILE_SLUG}.html", "index.html"):
        html = files[rel].decode()
        scripts = re.findall(r"<script\b", html)
        assert len(scripts) == 1, rel  # only the page's own sorting script
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>arch" not in html
        if rel != "index.html":  # the index shows only each board's leader
            assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    entry = files[f"s06-map/{HOSTILE_SLUG}.html"].decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in entry and "javascript:" not in re.sub(r"&[a-z]+;", "", "".join(
        a.get("href", "") for _, a in _parse(entry).tags))
    texts = "".join(_parse(entry).text)
    assert HOSTILE_METHOD in texts  # the browser shows the name exactly as submitted
    md = files["s06-map.md"].decode()
    assert "<script>" not in md and "&lt;script&gt;" in md
    row = next(line for line in md.splitlines() if "alert" in line)
    assert row.count(" | ") == 8  # the | in the name did not add a column
    assert md_escape("a|b\nc [x](y)") == "a\\|b c \\[x\\]\\(y\\)"


def test_board_table_lists_entries_best_first_with_intervals_ranks_and_badges(render_boards):
    html = build_site(render_boards)["s06-map.html"].decode()
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = body.strip().split("\n")
    assert [re.search(r'data-slug="([^"]+)"', r).group(1) for r in rows] == [
        "alpha-reported", "retina-u-net-scratch", HOSTILE_SLUG, "zeta-baseline"]
    assert "0.312" in rows[1] and "[0.282, 0.352]" in rows[1] and "1.3 [1, 2.3]" in rows[1]
    assert 'class="badge evaluated"' in rows[1] and 'class="badge reported"' in rows[0]
    assert 'data-sort=""' in rows[0]  # a reported entry has no rank: sorted last either way
    assert html.count('<button type="button">') == 8  # every column but the interval sorts
    assert 'src="s06-map-ranks.svg"' in html


def test_entry_page_has_per_case_results_or_says_why_not(render_boards):
    files = build_site(render_boards)
    page = files["s06-map/zeta-baseline.html"].decode()
    assert page.count("<td>case_") == 3 and "sensitivity" in page
    reported = files["s06-map/alpha-reported.html"].decode()
    assert "No per-case results" in reported and 'href="https://example.org/paper"' in reported
    assert "Eckstein et al. 2025, Table 3" in reported


def test_every_page_allows_only_its_own_inline_script_and_style(render_boards):
    import base64
    import hashlib

    from leaderboards.render.html import CSS, SORT_JS

    html = build_site(render_boards)["s06-map.html"].decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    for source in (SORT_JS, CSS):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert f"<script>{SORT_JS}</script>" in html and f"<style>{CSS}</style>" in html


def test_rerender_is_byte_identical_and_removes_stale_pages(render_boards, tmp_path):
    out = tmp_path / "site"
    first = write_site(render_boards, out)
    before = {rel: (out / rel).read_bytes() for rel in first.files}
    render_boards[0] = dataclasses.replace(render_boards[0], entries=[])  # the d06 board loses its entry
    second = write_site(render_boards, out)
    assert second.removed == ("d06-luna16-cpm/paper-model.html",)
    assert not (out / "d06-luna16-cpm").exists()
    assert all((out / rel).read_bytes() == before[rel] for rel in second.files if rel.startswith("s06"))
    assert "No entries yet" in (out / "d06-luna16-cpm.html").read_text(encoding="utf-8")


def test_out_folder_must_be_new_empty_or_an_earlier_render(render_boards, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert "not empty" in out_dir_problem(other)
    with pytest.raises(ValueError, match="not empty"):
        write_site(render_boards, other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert out_dir_problem(tmp_path / "empty") is None
    write_site(render_boards, tmp_path / "empty")
    assert (tmp_path / "empty" / MARKER).is_file() and out_dir_problem(tmp_path / "empty") is None


def test_unsafe_slug_is_refused_before_anything_is_written(render_boards, tmp_path):
    entries = list(render_boards[1].entries)
    entries[0] = entries[0].model_copy(update={"slug": "../../escape"})  # model_copy does not validate
    render_boards[1] = dataclasses.replace(render_boards[1], entries=entries)
    with pytest.raises(ValueError, match="not a valid name"):
        write_site(render_boards, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_rank_plot_is_reproducible_and_draws_names_as_paths(render_boards):
    from leaderboards.render.plot import rank_plot_svg
    from leaderboards.render.text import as_dict

    board = render_boards[1]
    entries = [as_dict(e) for e in board.entries]
    spec = as_dict(board.spec)
    svg = rank_plot_svg(spec, entries)
    assert svg == rank_plot_svg(spec, entries)
    assert svg.startswith(b"<?xml") and b"<script" not in svg
    entries[0]["method"] = "a --> <svg onload=alert(1)> <!-- b"  # would close matplotlib's text comment
    for element in ElementTree.fromstring(rank_plot_svg(spec, entries)).iter():
        assert not element.tag.endswith(("script", "foreignObject")), element.tag
        assert not any(name.lower().startswith("on") for name in element.attrib), element.attrib
    assert rank_plot_svg(spec, [e for e in entries if e["rank"] is None]) is None


def test_site_files_are_plain_relative_paths(render_boards):
    for rel in build_site(render_boards):
        assert not Path(rel).is_absolute() and ".." not in Path(rel).parts
