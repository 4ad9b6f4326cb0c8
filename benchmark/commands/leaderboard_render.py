"""Render the boards as markdown pages and a static HTML site (index, sortable board tables, rank plots, entries).

Reads ``--boards`` (``<board_id>/board.json`` and ``<board_id>/entries/*.json``, see leaderboards/README.md) and
writes into ``--out``: ``<board_id>.md``, ``index.html``, ``<board_id>.html`` with its ``<board_id>-ranks.svg``
and ``<board_id>/<slug>.html`` per entry. The site needs no server and loads nothing from elsewhere: open
``index.html`` from disk or copy the folder to any static host. ``--out`` must be new, empty, or a folder an
earlier render wrote (pages of removed boards and entries are then deleted).
"""

from __future__ import annotations

import argparse

from benchmark.commands.leaderboard import add_boards_argument

NAME = "render"
HELP = "write the boards' markdown pages and the static HTML site"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_boards_argument(parser)
    parser.add_argument("--out", default="leaderboards/site", help="site folder (default: leaderboards/site)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks

    checks = Checks()
    boards_dir = checks.input_dir(args.boards, "--boards", "a boards folder (<board_id>/board.json)")
    out = checks.output_dir(args.out, "--out")
    checks.not_inside(out, boards_dir, "--out", "the boards folder")
    if out is not None:
        from leaderboards.render import out_dir_problem

        problem = out_dir_problem(Path(out))
        if problem:
            checks.add(problem)
    checks.raise_if_any()

    from benchmark import __version__
    from leaderboards.render import write_site
    from leaderboards.store import load_boards

    boards = load_boards(boards_dir)
    site = write_site(boards, out, generator=f"detbench {__version__}")
    removed = f", removed {len(site.removed)} stale" if site.removed else ""
    print(
        f"rendered {site.n_boards} boards with {site.n_entries} entries: {len(site.files)} files in {site.out}"
        f"{removed}; open {site.out / 'index.html'}"
    )
    return 0
