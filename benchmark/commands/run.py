"""Run a whole suite: every dataset x architecture x pre-training setting, into one results store, then analyse it.

By default the datasets are the synthetic twins (S01-S05 for dev), so the suite runs with no download;
--real uses converted datasets under DATA_ROOT/prepared. Finished experiments already in the store are
skipped, and unfinished ones resume from their checkpoints: rerun the same command after an interruption.
Every experiment is keyed by dataset, architecture, pre-training, profile, fold and seed (docs/analysis.md), so
runs of another --profile or --seed into the same store are new experiments, never mistaken for finished ones.
The command prints the plan with an estimated time, one line per finished experiment with its test scores, and a
summary; the analysis goes to STORE/analysis/<profile>_seed<seed>. With --seeds 0,1,2 every experiment is trained
once per seed; the analysis ranks the smallest seed and reports the seed-to-seed spread beside the bootstrap
intervals (tables/seed_spread.md). Every dataset also gets the classical reference row (intensity threshold +
connected components tuned on validation, no learning; seconds per twin), labelled as a reference in the
analysis; --no-classical leaves it out.
"""

from __future__ import annotations

import argparse

NAME = "run"
HELP = "run a suite of experiments into a results store and analyse it"


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="dev", help="dev, test, all, or comma-separated dataset ids (default dev)")
    parser.add_argument("--archs", default="retina_unet,deformable_detr", help="comma-separated architectures")
    parser.add_argument("--pretraining", default="default,fixed", help="comma-separated pre-training settings")
    parser.add_argument("--profile", default="cpu", help="training budget: paper, cpu or tiny (default cpu)")
    parser.add_argument("--store", default="results", help="results store folder (default ./results)")
    parser.add_argument(
        "--runs", default="runs", help="root of the run folders, shared with benchmark train (default ./runs)"
    )
    parser.add_argument("--real", action="store_true", help="use converted real datasets instead of the twins")
    parser.add_argument("--seed", type=int, default=0, help="training and bootstrap seed (default 0)")
    parser.add_argument(
        "--seeds", default=None, help="train every experiment once per seed, e.g. 0,1,2 (the seed-to-seed spread)"
    )
    parser.add_argument("--data-root", default=None, help="data folder (default: $DETBENCH_DATA or ./data)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for data preparation")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    parser.add_argument("--force", action="store_true", help="rerun experiments already in the store")
    parser.add_argument("--no-analyze", action="store_true", help="do not run the bootstrap analysis at the end")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument(
        "--no-classical", action="store_true", help="leave out the classical reference row (benchmark baseline)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.commands.experiment_checks import check_dataset, check_store, check_training
    from benchmark.datasets import resolve_suite
    from benchmark.experiment import default_data_root

    # Everything is checked before any twin is generated, any case preprocessed or any step trained.
    checks = Checks()
    archs, pretrainings = list(_names(args.archs)), list(_names(args.pretraining))
    check_training(
        checks, archs, pretrainings, args.profile, args.seed, args.workers, args.device, "--archs", "--pretraining",
        each_architecture=False,
    )
    checks.at_least(args.replicates, "--replicates")
    seeds = checks.seed_list(args.seeds)
    check_store(checks, args.store)
    checks.output_dir(args.runs, "--runs")
    data_root = checks.output_dir(Path(args.data_root) if args.data_root else default_data_root(), "--data-root")
    specs = checks.lookup(resolve_suite, args.suite, "--suite") or []
    for spec in specs:
        check_dataset(checks, spec.id if args.real else spec.twin_id, data_root, args.profile, None, "--suite")
    checks.raise_if_any()

    from benchmark.runner import SuiteConfig, run_suite

    run_suite(
        SuiteConfig(
            suite=args.suite,
            architectures=_names(args.archs),
            pretraining=_names(args.pretraining),
            profile=args.profile,
            store=args.store,
            runs=args.runs,
            real=args.real,
            seed=args.seed,
            seeds=seeds,
            data_root=args.data_root,
            workers=args.workers,
            device=args.device,
            force=args.force,
            analyze=not args.no_analyze,
            replicates=args.replicates,
            progress=not args.no_progress,
            classical=not args.no_classical,
        )
    )
    return 0
