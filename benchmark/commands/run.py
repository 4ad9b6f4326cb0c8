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
connected components tuned on validation, no learning; under a minute per twin), labelled as a reference in the
analysis; --no-classical leaves it out.

The grid (docs/grid.md): by default the paper's 20 model rows (rows whose pre-training this build lacks are
named and skipped), one pre-training cell per (method, encoder) before the fine-tuning cells that need it.
--only/--exclude select cells (e.g. --only arch=retina_unet,pretraining=fixed); --dry-run prints every cell,
its dependency and the GPU-hours estimated from the profile's iterations. --gpus 0,1 runs one cell per GPU;
--jobs N runs N cells at a time on CPU, each in a subprocess with the profile's threads (the cpu profile: one);
without --jobs, a profile that pins its threads runs cores // threads cells at a time (two on a two-core laptop);
--executor slurm submits job arrays through submitit (with --dry-run: writes the sbatch scripts into
--slurm-dir). --folds 0,1,2 (or all) runs every cell once per cross-validation fold where the dataset has
folds (S06/D06: 10, S07/D07 and S08/D08: 5); datasets without folds run their official split once, as the plan
notes. --fractions 0.1,0.25,0.5,1.0 and --finetune full,linear-probe,lora,partial are grid axes: every cell once
per training fraction and strategy (docs/training.md). Cells are claimed with locks, so several runners can share
one store; benchmark status STORE shows the progress.
"""

from __future__ import annotations

import argparse

NAME = "run"
HELP = "run a suite of experiments into a results store and analyse it"


def _names(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", default="dev", help="dev, test, all, or comma-separated dataset ids (default dev)")
    parser.add_argument(
        "--archs", default=None, help="comma-separated architectures (default: those of the paper's 20 rows)"
    )
    parser.add_argument(
        "--pretraining", default=None, help="comma-separated pre-training settings (default: the paper's rows)"
    )
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
    parser.add_argument(
        "--folds", default=None, help="cross-validation folds where the dataset has them: 0,1,2 or all (default: none)"
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
    parser.add_argument(
        "--only", action="append", default=[], help="run only cells matching arch=..,pretraining=..,dataset=.."
    )
    parser.add_argument("--exclude", action="append", default=[], help="skip cells matching the filter")
    parser.add_argument("--dry-run", action="store_true", help="print cells, dependencies and GPU-hours; run none")
    parser.add_argument("--executor", default="local", choices=("local", "slurm"), help="who runs cells")
    parser.add_argument("--gpus", default=None, help="local executor: GPU ids, one cell per GPU at a time (0,1)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="local executor on CPU: cells at a time, each in a subprocess (default: cores // the profile's threads, "
        "so 2 on a two-core laptop with the cpu profile; 1 on GPU, with SLURM and for profiles without pinned threads)",
    )
    parser.add_argument(
        "--slurm-dir", default=None, help="slurm: job folder; with --dry-run the folder for the sbatch scripts"
    )
    parser.add_argument("--slurm-partition", default=None, help="slurm: partition")
    parser.add_argument("--slurm-constraint", default=None, help="slurm: node constraint (e.g. a GPU type)")
    parser.add_argument(
        "--stale-after", type=int, default=600, help="seconds without heartbeat before a claimed cell is taken over"
    )
    from benchmark.commands.experiment_checks import add_lowdata_arguments

    add_lowdata_arguments(parser, grid=True)


def _gpu_list(checks, text: str | None) -> tuple[str, ...]:  # noqa: ANN001
    if text is None:
        return ()
    gpus = _names(text)
    if not gpus or any(not g.isdigit() for g in gpus) or len(set(gpus)) != len(gpus):
        checks.add(f"--gpus {text!r}: give distinct GPU ids >= 0, e.g. --gpus 0,1")
        return ()
    return gpus


def _check_jobs(checks, args) -> None:  # noqa: ANN001
    """--jobs: >= 1, local executor, CPU only, not with --gpus (the GPU list sets the parallelism)."""
    import sys

    from benchmark.grid.executors import usable_cores

    checks.at_least(args.jobs, "--jobs")
    if args.jobs is None or args.jobs <= 1:
        return
    if args.executor != "local":
        checks.add("--jobs is for --executor local; SLURM runs every cell as its own job")
    elif args.gpus is not None:
        checks.add("--jobs with --gpus: the GPU list sets the parallelism (one cell per GPU); give one of them")
    elif args.device == "cuda":
        checks.add("--jobs runs cells on CPU; for GPUs give --gpus 0,1 (one cell per GPU) instead")
    elif args.jobs > (cores := usable_cores()):
        print(
            f"warning: --jobs {args.jobs} is more than the {cores} usable CPU core(s): the cells will share cores",
            file=sys.stderr,
        )


def _check_grid(checks, args) -> tuple[tuple[str, ...], tuple[str, ...]]:  # noqa: ANN001
    """--only/--exclude filters (fields and names), executor options; returns (archs, pre-training) to check."""
    from benchmark.datasets import get_dataset
    from benchmark.grid.filters import parse_filter
    from benchmark.grid.rows import PAPER_ROWS, PRETRAINED_METHODS, available_rows, select_rows
    from models.registry import ARCHITECTURES
    from pretraining.registry import PRETRAINING

    known_pre = {r.pretraining for r in PAPER_ROWS} | set(PRETRAINING.names())
    for flag, texts in (("--only", args.only), ("--exclude", args.exclude)):
        for text in texts:
            try:
                f = parse_filter(text, flag)
            except ValueError as err:
                checks.add(str(err))
                continue
            for name in f.values.get("arch", ()):
                checks.lookup(ARCHITECTURES.get, name, flag)
            for name in f.values.get("pretraining", ()):
                if name not in known_pre:
                    checks.lookup(PRETRAINING.get, name, flag)
            for name in f.values.get("dataset", ()):
                checks.lookup(get_dataset, name, flag)
    checks.at_least(args.stale_after, "--stale-after", 60)
    _check_jobs(checks, args)
    if args.executor == "slurm":
        if args.gpus is not None:
            checks.add("--gpus is for --executor local; SLURM gives every cell its own GPU(s)")
        if args.dry_run and args.slurm_dir is None:
            checks.add("--executor slurm --dry-run: give --slurm-dir DIR, the folder the sbatch scripts go to")
        if not args.dry_run:
            import shutil

            if shutil.which("sbatch") is None:
                checks.add("--executor slurm: no sbatch on PATH (not a SLURM login node); use --dry-run --slurm-dir")
    elif args.slurm_dir or args.slurm_partition or args.slurm_constraint:
        checks.add("--slurm-dir/--slurm-partition/--slurm-constraint need --executor slurm")
    if args.slurm_dir is not None:
        checks.output_dir(args.slurm_dir, "--slurm-dir")
    archs = _names(args.archs) if args.archs is not None else ()
    pres = _names(args.pretraining) if args.pretraining is not None else ()
    if args.archs is not None and not archs:
        checks.add("--archs: give at least one architecture (e.g. retina_unet)")
    if args.pretraining is not None and not pres:
        checks.add("--pretraining: give at least one pre-training setting (e.g. fixed)")
    for name in pres:
        if name in PRETRAINED_METHODS and name not in PRETRAINING:
            checks.add(f"--pretraining {name}: pre-training {name!r} not available in this build")
    pres = tuple(p for p in pres if not (p in PRETRAINED_METHODS and p not in PRETRAINING))
    valid_archs = tuple(a for a in archs if a in ARCHITECTURES)
    rows, _ = available_rows(select_rows(valid_archs, pres if args.pretraining is not None else ()))
    return (archs or tuple(dict.fromkeys(r.architecture for r in rows))), (
        pres or tuple(dict.fromkeys(r.pretraining for r in rows))
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.commands.experiment_checks import (
        check_dataset,
        check_lowdata,
        check_store,
        check_training,
        lowdata_config,
    )
    from benchmark.datasets import resolve_suite
    from benchmark.experiment import default_data_root

    # Everything is checked before any twin is generated, any case preprocessed or any step trained.
    checks = Checks()
    archs, pretrainings = _check_grid(checks, args)
    if archs and pretrainings:
        check_training(
            checks,
            list(archs),
            list(pretrainings),
            args.profile,
            args.seed,
            args.workers,
            args.device,
            "--archs",
            "--pretraining",
            each_architecture=False,
        )
    checks.at_least(args.replicates, "--replicates")
    fractions, strategies = check_lowdata(checks, args, args.profile, grid=True)
    seeds = checks.seed_list(args.seeds)
    from benchmark.grid.folds import parse_folds

    folds: tuple[int, ...] | str = ()
    try:
        folds = parse_folds(args.folds)
    except ValueError as err:
        checks.add(str(err))
    gpus = _gpu_list(checks, args.gpus)
    check_store(checks, args.store)
    checks.output_dir(args.runs, "--runs")
    data_root = checks.output_dir(Path(args.data_root) if args.data_root else default_data_root(), "--data-root")
    specs = checks.lookup(resolve_suite, args.suite, "--suite") or []
    if not args.dry_run:  # a plan needs no data; a run needs every dataset prepared (or generatable)
        for spec in specs:
            check_dataset(checks, spec.id if args.real else spec.twin_id, data_root, args.profile, None, "--suite")
    checks.raise_if_any()

    from benchmark.grid.executors import default_jobs
    from benchmark.runner import SuiteConfig, run_suite

    jobs = args.jobs if args.jobs is not None else default_jobs(args.profile, args.device, args.executor, gpus)
    cfg = SuiteConfig(
        suite=args.suite,
        architectures=_names(args.archs) if args.archs is not None else (),
        pretraining=_names(args.pretraining) if args.pretraining is not None else (),
        profile=args.profile,
        store=args.store,
        runs=args.runs,
        real=args.real,
        seed=args.seed,
        seeds=seeds,
        folds=folds,
        data_root=args.data_root,
        workers=args.workers,
        device=args.device,
        force=args.force,
        analyze=not args.no_analyze,
        replicates=args.replicates,
        progress=not args.no_progress,
        only=tuple(args.only),
        exclude=tuple(args.exclude),
        executor=args.executor,
        gpus=gpus,
        jobs=jobs,
        stale_after=float(args.stale_after),
        slurm_folder=args.slurm_dir,
        slurm_partition=args.slurm_partition,
        slurm_constraint=args.slurm_constraint,
        classical=not args.no_classical,
        fractions=fractions,
        finetunes=strategies,
        **lowdata_config(args),
    )
    if args.dry_run:
        from benchmark.grid.cells import build_plan
        from benchmark.grid.describe import plan_text

        plan = build_plan(cfg, include_unavailable=True)
        print(plan_text(cfg, plan))
        if args.executor == "slurm":
            from benchmark.grid.slurm import write_slurm_scripts

            runnable = build_plan(cfg)  # only cells this build can run are scripted
            written = write_slurm_scripts(cfg, runnable, Path(args.slurm_dir))
            print(f"wrote {len(written)} file(s) to {args.slurm_dir} (nothing submitted): {written[-1]} submits them")
        return 0
    run_suite(cfg)
    return 0
