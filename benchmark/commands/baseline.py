"""Run the classical reference detector on a dataset: no learning, parameters tuned on the validation split.

An intensity band + 3D connected components detector (docs/training.md#classical-baseline): the channel,
smoothing, band, size filter and component score are chosen by grid search maximising mAP@0.1 on the validation
split, then applied to the test split and scored by the same protocols as the trained detectors. DATASET is a
prepared folder, a twin id (generated on first use at the scale of --profile) or a converted dataset id. Writes
the run folder (result.json with the tuned parameters and the validation score, predictions_test.json) and,
with --store, the `classical` reference row of a results store (`benchmark run` adds it by default).
"""

from __future__ import annotations

import argparse

NAME = "baseline"
HELP = "run the classical reference detector (threshold + connected components, tuned on validation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="prepared folder, twin id (S06) or dataset id (D06)")
    parser.add_argument(
        "--profile", default="cpu", help="the profile of the trained runs it stands beside: twin scale (default cpu)"
    )
    parser.add_argument("--store", default=None, help="results store to add the classical reference row to")
    parser.add_argument("--fold", type=int, default=None, help="cross-validation fold (default: official split)")
    parser.add_argument("--seed", type=int, default=0, help="seed in the run name, to stand beside trained runs")
    parser.add_argument("--data-root", default=None, help="data folder (default: $DETBENCH_DATA or ./data)")
    parser.add_argument(
        "--out", default=None, help="run folder (default: RUNS/<dataset>/classical__none/<profile>_<fold>_seed<N>/)"
    )
    parser.add_argument("--runs", default="runs", help="root of the default run folders (default ./runs)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for twin generation")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.commands.experiment_checks import check_dataset, check_store
    from benchmark.experiment import default_data_root
    from benchmark.training.profiles import PROFILES

    checks = Checks()
    checks.lookup(PROFILES.get, args.profile, "--profile")
    checks.at_least(args.seed, "--seed", 0)
    checks.at_least(args.workers, "--workers")
    data_root = checks.output_dir(Path(args.data_root) if args.data_root else default_data_root(), "--data-root")
    prepared = check_dataset(checks, args.dataset, data_root, args.profile, args.fold)
    out = checks.output_dir(args.out, "--out") if args.out else checks.output_dir(args.runs, "--runs")
    if args.out:
        checks.not_inside(out, prepared, "--out", "the dataset folder")
    if args.store is not None:
        check_store(checks, args.store)
    checks.raise_if_any()

    from benchmark.classical.baseline import ClassicalConfig, run_classical

    result = run_classical(
        ClassicalConfig(
            dataset=args.dataset,
            profile=args.profile,
            seed=args.seed,
            fold=args.fold,
            data_root=args.data_root,
            runs=args.runs,
            out=args.out,
            store=args.store,
            workers=args.workers,
            progress=not args.no_progress,
        )
    )
    print(f"classical baseline on {result.key.dataset} in {result.seconds:.1f} s (reference row, no learning)")
    print(f"tuned on validation: {result.params}  validation map@0.1 {100 * result.validation_map:.2f}")
    for name, value in result.metrics.items():
        print(f"{name:<12} {100 * value:6.2f}")
    print(f"results: {result.result_file}" + (f"; store row: {result.store_dir}" if result.store_dir else ""))
    return 0
