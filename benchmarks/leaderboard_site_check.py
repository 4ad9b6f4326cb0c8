"""Render the committed leaderboards and check the site in headless chromium; write a screenshot.

Run: ``python benchmarks/leaderboard_site_check.py SCREENSHOT.png [--boards leaderboards/boards] [--board ID]``.
Renders ``--boards`` into a temporary folder (``benchmark leaderboard render``), opens it from ``file://`` in
Debian's chromium through Playwright (tests/browser.py: no ``playwright install``), and checks that the index
lists every board, every board page loads with no console error, page error or failed request and lists every
entry of the board, each entry page loads, and clicking the method header re-orders the table. Writes a
full-page screenshot of one board (``--board``, default: the board with the most entries) to SCREENSHOT.
Exit 0 when every check passes, 1 with one line per problem otherwise, 2 when chromium or playwright is missing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # tests/browser.py, the shared browser helper


def check_site(site: Path, boards: list, page, board_to_shoot: str, screenshot: Path) -> list[str]:
    """Every check on a rendered ``site`` in ``page``; returns the problems (empty when all pass)."""
    problems: list[str] = []
    base = site.resolve().as_uri() + "/"
    page.goto(base + "index.html")
    listed = page.eval_on_selector_all("#boards tbody a", "links => links.map(a => a.getAttribute('href'))")
    if listed != [f"{b.spec.board_id}.html" for b in boards]:
        problems.append(f"index.html lists {len(listed)} boards, the boards folder has {len(boards)}")
    for board in boards:
        bid = board.spec.board_id
        page.goto(base + f"{bid}.html")
        slugs = page.eval_on_selector_all("#entries tbody tr", "rows => rows.map(r => r.dataset.slug)")
        if slugs != [e.slug for e in board.entries]:
            problems.append(f"{bid}.html lists {slugs}, expected {[e.slug for e in board.entries]}")
        if len(board.entries) >= 2:  # two clicks on "method": an order, then its reverse, not both the start
            button = page.locator("#entries thead th button", has_text="method")
            orders = []
            for _ in range(2):
                button.click()
                orders.append(page.eval_on_selector_all("#entries tbody tr", "rows => rows.map(r => r.dataset.slug)"))
            if orders[1] != orders[0][::-1] or orders[0] == orders[1] == slugs:
                problems.append(f"{bid}.html: clicking 'method' does not sort the table ({orders})")
        for entry in board.entries:
            page.goto(base + f"{bid}/{entry.slug}.html")
            if page.locator("h1").inner_text() != entry.method:
                problems.append(f"{bid}/{entry.slug}.html: heading is not the method name")
    page.goto(base + f"{board_to_shoot}.html")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    problems += page.problems
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("screenshot", type=Path, help="PNG file to write")
    parser.add_argument("--boards", default=str(REPO / "leaderboards" / "boards"), help="boards folder")
    parser.add_argument("--board", default=None, help="board to screenshot (default: the one with most entries)")
    args = parser.parse_args(argv)

    from browser import browser_unavailable, chromium_page

    reason = browser_unavailable()
    if reason:
        print(f"skipped: {reason}", file=sys.stderr)
        return 2
    from benchmark.cli import main as benchmark_main
    from leaderboards.store import load_boards

    boards = load_boards(args.boards)
    if not boards:
        print(f"error: no boards under {args.boards}", file=sys.stderr)
        return 1
    ids = [b.spec.board_id for b in boards]
    shoot = args.board or max(boards, key=lambda b: len(b.entries)).spec.board_id
    if shoot not in ids:
        print(f"error: --board {shoot!r} is not one of {', '.join(ids)}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="leaderboard-site-") as tmp:
        site = Path(tmp) / "site"
        if benchmark_main(["leaderboard", "render", "--boards", args.boards, "--out", str(site)]) != 0:
            return 1
        with chromium_page(tmp) as page:
            problems = check_site(site, boards, page, shoot, args.screenshot)
    n_entries = sum(len(b.entries) for b in boards)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    status = "FAILED" if problems else "ok"
    print(f"{status}: {len(boards)} boards, {n_entries} entries checked in chromium in "
          f"{time.perf_counter() - start:.1f} s; screenshot of {shoot} in {args.screenshot}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
