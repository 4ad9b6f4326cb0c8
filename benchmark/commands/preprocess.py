"""Plan and preprocess a prepared dataset (resumable; a changed plan never reuses stale files).

Writes plans.json and one compressed (Blosc2 .b2nd) array pair per case; see docs/preprocessing.md. Before any
work the dataset is checked: splits disjoint, every case's files present and intact (headers and sizes; a
truncated image is an error naming the case), and --fold among the dataset's folds.
"""

from __future__ import annotations

import argparse

NAME = "preprocess"
HELP = "plan and preprocess a prepared dataset (fixed 1 mm or nnDetection-style default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="prepared dataset folder")
    parser.add_argument("--out", required=True, help="output folder of the preprocessed data")
    parser.add_argument("--config", default="fixed", choices=("fixed", "default"), help="preprocessing config")
    parser.add_argument("--fold", type=int, default=None, help="plan statistics on this fold's training cases")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="rebuild stale or existing outputs")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks

    checks = Checks()
    checks.at_least(args.workers, "--workers")
    root = checks.input_dir(args.dataset, "DATASET", "a prepared dataset folder")
    out = checks.output_dir(args.out, "--out")
    checks.not_inside(out, root, "--out", "the dataset folder itself")
    checks.prepared_dataset(root, args.fold)
    checks.raise_if_any()

    from benchmark.preprocessing.pipeline import StaleOutputError, preprocess_dataset
    from benchmark.preprocessing.planning import plan_preprocessing

    plan = plan_preprocessing(args.dataset, args.config, fold=args.fold, workers=args.workers)
    try:
        report = preprocess_dataset(
            args.dataset, args.out, plan, workers=args.workers, overwrite=args.overwrite, progress=not args.no_progress
        )
    except StaleOutputError as err:
        raise ValueError(str(err)) from None
    print(
        f"preprocessed {len(report.processed)} case(s), skipped {len(report.skipped)} up to date; "
        f"spacing {plan.target_spacing} mm, patch {plan.patch_size}; {len(report.warnings)} warning(s)"
    )
    for warning in report.warnings:
        print(f"  warning: {warning}")
    return 0
