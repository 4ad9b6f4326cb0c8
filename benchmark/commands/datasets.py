"""List the registered datasets with the facts of the paper's Table 1."""

from __future__ import annotations

import argparse

NAME = "datasets"
HELP = "list the benchmark datasets (Table 1 facts, protocols)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="all", help="dev, test, all, or comma-separated ids (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from benchmark.datasets import resolve_suite
    from benchmark.datasets.table import datasets_table

    table = datasets_table(resolve_suite(args.suite))
    if args.json:
        print(json.dumps(table.to_dict(orient="records"), indent=2))
    else:
        print(table.to_string(index=False))
    return 0
