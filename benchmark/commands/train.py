"""Fine-tune a detector on a dataset and score it on the test split (resumable end to end).

DATASET is a prepared-dataset folder, a synthetic twin id (S01..S08, generated on first use at the scale of
the profile) or a converted real dataset id. Stages: preprocessing -> training (checkpoint every epoch;
rerunning the same command resumes) -> post-processing tuned on validation -> test predictions and scores,
written to the run folder (result.json, predictions_test.json, training_log.csv). The default run folder is
named by the run's identity (dataset, architecture, pre-training, profile, fold, seed), the same one
``benchmark run`` uses, so the two commands share finished runs and never mix runs of different settings.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "fine-tune a detector on a dataset and score it on the test split"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="prepared folder, twin id (S06) or dataset id (D06)")
    parser.add_argument("--arch", default="retina_unet", help="detector (retina_unet, deformable_detr, resenc_*)")
    parser.add_argument("--profile", default="cpu", help="training budget: paper, cpu or tiny (default cpu)")
    parser.add_argument(
        "--pretraining",
        default=None,
        help="pre-training setting: default, fixed, mt, mae, s3d, mg, voco (default: fixed, or custom with --weights)",
    )
    parser.add_argument("--weights", default=None, help="pre-trained weights: nnssl/nnU-Net/MultiTalent/detbench file")
    parser.add_argument(
        "--transfer", default="encoder", choices=("encoder", "all"), help="what to transfer (default encoder)"
    )
    parser.add_argument(
        "--stem", default=None, help="input stem: random, replicate or transfer:NAME (default: the paper's rule)"
    )
    parser.add_argument(
        "--pretrained-cache",
        default=None,
        help="cache of the synthetic pre-trainings (default $DETBENCH_PRETRAINED or DATA_ROOT/pretrained)",
    )
    parser.add_argument("--fold", type=int, default=None, help="cross-validation fold (default: official split)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and batches (default 0)")
    parser.add_argument(
        "--seeds", default=None, help="train once per seed, e.g. 0,1,2, and print the seed-to-seed spread"
    )
    parser.add_argument("--data-root", default=None, help="data folder (default: $DETBENCH_DATA or ./data)")
    parser.add_argument(
        "--out",
        default=None,
        help="run folder (default: RUNS/<dataset>/<arch>__<pretraining>/<profile>_<fold>_seed<N>/)",
    )
    parser.add_argument("--runs", default="runs", help="root of the default run folders (default ./runs)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for data preparation")
    parser.add_argument("--tta", action="store_true", help="mirror test-time augmentation (8 views)")
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument(
        "--overwrite-preprocessing", action="store_true", help="rebuild preprocessed cases made from other inputs"
    )
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (resume later)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    from benchmark.commands.experiment_checks import add_lowdata_arguments

    add_lowdata_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.commands.experiment_checks import check_dataset, check_lowdata, check_training, lowdata_config
    from benchmark.experiment import ExperimentConfig, default_data_root

    # Everything is checked before any twin is generated, any case preprocessed or any step trained.
    checks = Checks()
    pretraining = args.pretraining or ("custom" if args.weights else "fixed")
    check_training(
        checks, [args.arch], [pretraining], args.profile, args.seed, args.workers, args.device,
        weights=args.weights, stem=args.stem, takes_weights=True, pretrained_cache=args.pretrained_cache,
    )
    checks.at_least(args.max_steps, "--max-steps")
    check_lowdata(checks, args, args.profile)
    seeds = checks.seed_list(args.seeds) or (args.seed,)
    if args.seeds is not None and args.out and len(seeds) > 1:
        checks.add("--out names one run folder: with several --seeds leave it out (runs/<...>_seed<N> per seed)")
    data_root = checks.output_dir(Path(args.data_root) if args.data_root else default_data_root(), "--data-root")
    prepared = check_dataset(checks, args.dataset, data_root, args.profile, args.fold)
    out = checks.output_dir(args.out, "--out") if args.out else checks.output_dir(args.runs, "--runs")
    if args.out:
        checks.not_inside(out, prepared, "--out", "the dataset folder")
    checks.raise_if_any()

    from benchmark.experiment import run_experiment

    scores: dict[int, dict[str, float]] = {}
    for seed in seeds:
        if len(seeds) > 1:
            print(f"seed {seed}:")
        result = run_experiment(
            ExperimentConfig(
                dataset=args.dataset,
                architecture=args.arch,
                profile=args.profile,
                pretraining=pretraining,
                seed=seed,
                fold=args.fold,
                data_root=args.data_root,
                out=args.out,
                runs=args.runs,
                weights=args.weights,
                transfer=args.transfer,
                stem=args.stem,
                pretrained_cache=args.pretrained_cache,
                workers=args.workers,
                device=args.device,
                mirror_tta=args.tta,
                resume=not args.no_resume,
                overwrite_preprocessing=args.overwrite_preprocessing,
                max_steps=args.max_steps,
                progress=not args.no_progress,
                train_fraction=args.train_fraction,
                finetune=args.finetune,
                **lowdata_config(args),
            )
        )
        if not result.finished:
            print(f"stopped before the end of training; run the same command again to resume ({result.run_dir})")
            continue
        scores[seed] = dict(result.metrics)
        for name, value in result.metrics.items():
            print(f"{name:<12} {100 * value:6.2f}")
        print(f"results: {result.result_file}")
    if len(seeds) > 1 and len(scores) > 1:
        print(seed_spread_text(scores))
    return 0


def seed_spread_text(scores: dict[int, dict[str, float]]) -> str:
    """Mean, sample standard deviation and range of each metric over the seeds (in %)."""
    import statistics

    lines = [f"seed-to-seed spread over seeds {', '.join(map(str, scores))} (in %):"]
    names = list(dict.fromkeys(n for s in scores.values() for n in s))
    for name in names:
        values = [100 * s[name] for s in scores.values() if name in s]
        sd = statistics.stdev(values) if len(values) > 1 else float("nan")
        lines.append(
            f"{name:<12} mean {statistics.fmean(values):6.2f}  sd {sd:5.2f}  range {min(values):.2f}-{max(values):.2f}"
        )
    return "\n".join(lines)
