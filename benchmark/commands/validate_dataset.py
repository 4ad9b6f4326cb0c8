"""Check prepared datasets against the canonical format; print every problem with its case id.

Exit code 0 when every dataset is valid, 1 otherwise (problems are listed, no traceback).
"""

from __future__ import annotations

import argparse
import sys

NAME = "validate-dataset"
HELP = "check a prepared dataset and list every problem with its case id"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="prepared dataset folder(s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--allow-missing-labels", action="store_true", help="accept cases without a label map (unlabeled data)"
    )


def run(args: argparse.Namespace) -> int:
    from benchmark.data.validate import validate_dataset

    ok = True
    for path in args.paths:
        report = validate_dataset(
            path, progress=not args.no_progress and sys.stderr.isatty(), require_labels=not args.allow_missing_labels
        )
        print(report.summary())
        ok &= report.ok
    return 0 if ok else 1
