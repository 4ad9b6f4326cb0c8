"""The rendered site in a real headless browser (Debian's chromium via Playwright, see tests/browser.py).

From ``file://`` and from a static HTTP server: every page loads with no console error, no page error and no
failed request; the index lists every board; every board lists every entry and its rank plot loads; clicking a
column header sorts the table (the order changes, a second click reverses it, unranked entries stay last); every
entry page loads and shows the method name as text (the hostile name runs no script); a screenshot is written.
Skipped with the reason when chromium or the playwright package is missing.
"""

from __future__ import annotations

import pytest
from browser import browser_unavailable, chromium_page, serve_folder
from leaderboard_fixtures import HOSTILE_METHOD

from benchmark.cli import main

_REASON = browser_unavailable()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"browser check skipped: {_REASON}")


def _slugs(page) -> list[str]:
    return page.eval_on_selector_all("#entries tbody tr", "rows => rows.map(r => r.dataset.slug)")


def _column(page, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "#entries tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent.trim())"
    )


def _header(page, label: str):
    return page.locator("#entries thead th", has=page.locator(f"button:text-is('{label}')"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from leaderboard_fixtures import write_boards_folder

    root = tmp_path_factory.mktemp("lb")
    boards = write_boards_folder(root / "boards")
    out = root / "site"
    assert main(["leaderboard", "render", "--boards", str(boards), "--out", str(out)]) == 0
    from leaderboards.store import load_boards

    return out, load_boards(boards)


@pytest.mark.parametrize("origin", ["file", "http"])
def test_every_page_loads_sorts_and_lists_every_entry(site, origin, tmp_path):
    out, boards = site
    with serve_folder(out) as http_base, chromium_page(tmp_path) as page:
        base = out.as_uri() + "/" if origin == "file" else http_base
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(base + "index.html")
        assert page.title() == "detbench leaderboards"
        board_links = page.eval_on_selector_all("#boards tbody a", "links => links.map(a => a.getAttribute('href'))")
        assert board_links == [f"{b.spec.board_id}.html" for b in boards]

        for board in boards:
            page.goto(base + f"{board.spec.board_id}.html")
            assert page.locator("h1").inner_text() == board.spec.title
            assert _slugs(page) == [e.slug for e in board.entries]  # every entry, best first
            if any(e.rank is not None for e in board.entries):
                loaded = page.eval_on_selector("figure img", "img => img.complete && img.naturalWidth > 0")
                assert loaded, f"rank plot of {board.spec.board_id} did not load"
            for entry in board.entries:
                page.goto(base + f"{board.spec.board_id}/{entry.slug}.html")
                assert page.locator("h1").inner_text() == entry.method  # shown as text, exactly
                cases = page.locator("#cases tbody tr").count()
                assert cases == (len(entry.per_case) if entry.per_case else 0)

        page.goto(base + "s06-map.html")
        start = _slugs(page)
        _header(page, "method").locator("button").click()
        by_name = _column(page, 1)
        assert _slugs(page) != start and by_name == sorted(by_name, key=str.lower)
        assert _header(page, "method").get_attribute("aria-sort") == "ascending"
        _header(page, "method").locator("button").click()
        assert _column(page, 1) == by_name[::-1]

        _header(page, "bootstrap rank").locator("button").click()
        ranks = _column(page, 6)
        assert ranks[-1] == "-" and [float(r.split()[0]) for r in ranks[:-1]] == [1.3, 2.1, 2.9]
        _header(page, "bootstrap rank").locator("button").click()
        ranks = _column(page, 6)
        assert ranks[-1] == "-" and [float(r.split()[0]) for r in ranks[:-1]] == [2.9, 2.1, 1.3]  # unranked last

        _header(page, "mAP@0.1").locator("button").click()  # a higher-is-better value sorts best first
        assert [float(v) for v in _column(page, 4)] == [0.33, 0.312, 0.29, 0.15]

        assert HOSTILE_METHOD in _column(page, 1)
        shot = tmp_path / f"s06-map-{origin}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
        assert dialogs == [] and page.problems == [], (dialogs, page.problems)
