"""Show the grid of a results store: cells done / running / failed / remaining per model row and dataset.

Reads only the store (its grid records, docs/grid.md) and the run folders they name, so it works while
runners or SLURM jobs elsewhere write into the same store. Running cells show their epoch and an ETA.
"""

from __future__ import annotations

import argparse

NAME = "status"
HELP = "show done/running/failed/remaining cells of a results store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="results store folder (the --store of benchmark run)")


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks

    checks = Checks()
    store = checks.input_dir(args.store, "STORE", "results store")
    if store is not None:
        from analysis.store import check_store

        try:
            check_store(store)
        except (ValueError, NotADirectoryError) as err:
            checks.add(f"STORE: {err}")
        if not (store / "store.json").is_file():
            checks.add(f"STORE {store}: not a detbench results store (no store.json)")
    checks.raise_if_any()

    from benchmark.grid.status import status_text

    print(status_text(store))
    return 0
