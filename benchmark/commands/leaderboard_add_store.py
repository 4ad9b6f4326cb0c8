"""Add the study's runs from a results store to the mAP@0.1 and FROC@0.1 boards as ``kind: evaluated`` entries.

One entry per (dataset, model) of the store's selection (the same selection ``benchmark analyze`` makes; choose
with ``--profile``/``--run-seed`` when the store holds several), on the boards ``<dataset>-map`` and
``<dataset>-froc``. Intervals and rank summaries use the bootstrap of ``benchmark analyze`` with the same
``--replicates`` and ``--seed``; every evaluated entry of a board is re-ranked. The run's match table is copied
next to its entry (``<board>/tables/<slug>.npz``) so later submissions are ranked against it. Official protocol
boards need the predictions, which a store does not keep: submit those with ``benchmark submit``.
"""

from __future__ import annotations

import argparse

from benchmark.commands.leaderboard import add_boards_argument

NAME = "add-store"
HELP = "add a results store's runs to the mAP@0.1/FROC@0.1 boards as evaluated entries (intervals, ranks)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="results store folder (written by benchmark run)")
    add_boards_argument(parser)
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000, as analyze)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0, as analyze)")
    parser.add_argument("--profile", default=None, help="add the runs of this training profile (needed if several)")
    parser.add_argument("--run-seed", type=int, default=None, help="add the runs of this training seed")
    parser.add_argument("--replace", action="store_true", help="overwrite entries of the same name")


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks

    checks = Checks()
    checks.at_least(args.replicates, "--replicates")
    checks.at_least(args.seed, "--seed", 0)
    checks.at_least(args.run_seed, "--run-seed", 0)
    store_dir = checks.input_dir(args.store, "STORE", "a results store folder (with runs/)")
    boards_dir = checks.input_dir(args.boards, "--boards", "a boards folder (run `benchmark leaderboard init`)")
    checks.raise_if_any()

    from leaderboards.from_store import add_store

    written, skipped = add_store(
        store_dir, boards_dir, profile=args.profile, run_seed=args.run_seed, n_replicates=args.replicates,
        seed=args.seed, replace=args.replace,
    )
    for line in skipped:
        print(f"skipped: {line}")
    print(f"wrote {len(written)} files under {boards_dir}")
    return 0
