"""Create every board's ``board.json`` (from the dataset registry) and seed the boards with the seed paper's Table 3.

Boards: mAP@0.1 and FROC@0.1 on the test split of D01-D08 and their twins S01-S08, plus the official protocol
boards (LUNA16 CPM, PN9, CTA-A internal and external, RibFrac). Table 3's numbers become ``kind: reported``
entries with the paper's citation (existing entry files are kept unless ``--replace``). Safe to rerun.
"""

from __future__ import annotations

import argparse

from benchmark.commands.leaderboard import add_boards_argument

NAME = "init"
HELP = "create the boards (board.json per dataset and protocol) and add the seed paper's Table 3 as reported entries"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_boards_argument(parser)
    parser.add_argument("--no-reported", action="store_true", help="only write board.json files, no Table 3 entries")
    parser.add_argument("--replace", action="store_true", help="rewrite existing reported entry files")


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks

    checks = Checks()
    boards = checks.output_dir(args.boards, "--boards")
    checks.raise_if_any()

    from leaderboards.seed import init_boards, write_reported_entries

    written, unchanged = init_boards(boards)
    print(f"{len(written)} board.json written, {len(unchanged)} unchanged in {boards}")
    if not args.no_reported:
        entries, skipped = write_reported_entries(boards, replace=args.replace)
        print(f"{len(entries)} reported entries (seed paper Table 3) written, {len(skipped)} kept")
    return 0
