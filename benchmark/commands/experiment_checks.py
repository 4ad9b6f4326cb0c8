"""Up-front checks of ``benchmark train`` and ``benchmark run``: everything before any twin, preprocessing or step.

Names go through their registries (architecture, profile, pre-training, dataset or suite, with "did you mean");
numbers are in range; ``--fold`` is checked against the prepared dataset's splits or, for a twin that does not
exist yet, against the splits the generator will write (planned, not generated); a prepared dataset's files
are checked by their headers; the data, run and store folders must be writable; ``--device cuda`` needs a
CUDA device. Every problem is one line in a :class:`~benchmark.commands.checks.Checks`.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.commands.checks import Checks


def check_training(
    checks: Checks,
    architectures: list[str],
    pretrainings: list[str],
    profile: str,
    seed: int,
    workers: int,
    device: str,
    arch_flag: str = "--arch",
    pretraining_flag: str = "--pretraining",
    weights: str | None = None,
    stem: str | None = None,
    takes_weights: bool = False,
    each_architecture: bool = True,
    pretrained_cache: str | None = None,
) -> None:
    """Architectures, pre-training settings, profile, seed, workers, the device, and ``--weights``/``--stem``.

    ``takes_weights`` is true for ``benchmark train``, which accepts ``--weights``; the suite runner does not yet.
    A study setting (``mt``, ``mae``, ...) must apply to the architecture (Table 3: SSL on ResEnc only): to every
    one with ``each_architecture`` (``train``), to at least one otherwise (``run`` skips the combinations the
    paper does not run). ``pretrained_cache`` (the cache of synthetic pre-trainings) must be writable.
    """
    from benchmark.training.profiles import PROFILES
    from models.registry import ARCHITECTURES
    from pretraining.methods import load_methods
    from pretraining.profiles import PRETRAINING_PROFILES
    from pretraining.registry import PRETRAINING, applicable

    if not architectures:
        checks.add(f"{arch_flag}: give at least one architecture (e.g. retina_unet)")
    for name in architectures:
        checks.lookup(ARCHITECTURES.get, name, arch_flag)
    if not pretrainings:
        checks.add(f"{pretraining_flag}: give at least one pre-training setting (e.g. fixed)")
    for name in pretrainings:
        setting = checks.lookup(PRETRAINING.get, name, pretraining_flag)
        if setting is None:
            continue
        if setting.weights is None and weights is not None:
            checks.add(
                f"{pretraining_flag} {name}: trains from random weights and cannot take --weights; use "
                f"{pretraining_flag} custom (the default with --weights)"
            )
        elif setting.weights == "user" and weights is None:
            hint = "pass the checkpoint with --weights FILE" if takes_weights else "use benchmark train --weights"
            checks.add(f"{pretraining_flag} {name}: needs pre-trained weights, which this command cannot make: {hint}")
        elif setting.weights == "pretrained":
            if weights is not None:
                checks.add(
                    f"{pretraining_flag} {name}: brings its own weights (a registered record or a synthetic "
                    f"pre-training made on first use); to fine-tune from a file use {pretraining_flag} custom --weights"
                )
            fitting = [a for a in architectures if applicable(setting, a)]
            if each_architecture or not fitting:
                for arch in architectures:
                    if arch in ARCHITECTURES and not applicable(setting, arch):
                        checks.add(
                            f"{pretraining_flag} {name}: {setting.paper_label} applies to "
                            f"{', '.join(setting.architectures or ())} only (Table 3), not to {arch}"
                        )
            if setting.method not in load_methods() and not _record_present(setting):
                checks.add(
                    f"{pretraining_flag} {name}: its method {setting.method!r} is not part of this installation and "
                    "no published checkpoint of it is on this machine; use --pretraining custom --weights FILE"
                )
            if profile in PROFILES and profile not in PRETRAINING_PROFILES:
                checks.add(f"--profile {profile}: no pre-training profile of that name for {pretraining_flag} {name}")
    if pretrained_cache is not None:
        checks.output_dir(pretrained_cache, "--pretrained-cache")
    if weights is not None:
        from pretraining.weights import resolve_weights

        try:
            resolve_weights(weights)
        except (FileNotFoundError, ValueError) as err:
            checks.add(f"--weights: {err}")
    if stem is not None and stem not in ("random", "replicate") and not (stem.startswith("transfer:") and stem[9:]):
        checks.add(f"--stem {stem!r}: use random, replicate or transfer:NAME")
    checks.lookup(PROFILES.get, profile, "--profile")
    checks.at_least(seed, "--seed", 0)
    checks.at_least(workers, "--workers")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            checks.add("--device cuda: no CUDA device is available; use --device cpu or auto")


def _record_present(setting) -> bool:  # noqa: ANN001 - pretraining.registry.PretrainingSpec
    """Whether a published checkpoint of ``setting`` (any encoder) is on this machine."""
    from pretraining.weights import WEIGHTS, weights_dir

    for name in setting.records.values():
        record = WEIGHTS.get(name)
        if (weights_dir() / record.name / record.file_name).is_file():
            return True
    return False


def check_dataset(
    checks: Checks, dataset: str, data_root: Path | None, profile: str, fold: int | None, flag: str = "--dataset"
) -> Path | None:
    """A prepared folder, a twin id or a converted dataset id; ``fold`` among its folds. Returns the folder if any.

    A twin that does not exist yet is not generated: its planned splits are checked, and its output folder
    (``DATA_ROOT/synthetic/<scale>/``) must be creatable and not hold another generator run.
    """
    from benchmark.data.format import DatasetFormatError
    from benchmark.experiment import scale_of_profile

    checks.at_least(fold, "--fold", 0)
    path = Path(dataset)
    if (path / "dataset.json").is_file():
        checks.prepared_dataset(path, fold, require_labels=True)
        return path
    if path.is_dir() or "/" in dataset or "\\" in dataset:
        what = "a folder without dataset.json" if path.is_dir() else "not found"
        checks.add(f"{flag} {dataset}: {what} (expected a prepared dataset folder, a twin id like S06 or an id)")
        return None
    from benchmark.datasets import get_dataset

    spec = checks.lookup(get_dataset, dataset, flag)
    if spec is None or data_root is None:
        return None
    if not dataset.strip().upper().startswith("S"):
        prepared = data_root / "prepared" / spec.id
        if not (prepared / "dataset.json").is_file():
            alternative = ", or pass the prepared folder" if flag == "--dataset" else ""
            checks.add(
                f"{flag} {dataset}: {spec.id} ({spec.name}) is not prepared under {prepared}: download it and run "
                f"`benchmark convert {spec.id} --source DOWNLOAD --out {prepared}`{alternative}"
            )
            return None
        checks.prepared_dataset(prepared, fold, require_labels=True)
        return prepared

    from benchmark.synthetic.generate import case_complete, output_problems, planned_splits
    from benchmark.synthetic.twins import get_twin

    twin = get_twin(spec.twin_id)
    scale = scale_of_profile(profile)
    root = data_root / "synthetic" / scale / twin.dir_name
    if checks.output_dir(root, f"{flag} {dataset}: the twin folder") is None:
        return None
    problems = output_problems([twin], root.parent, scale, 0, False)
    for problem in problems:
        checks.add(problem)
    if fold is not None:
        try:
            planned_splits(twin, scale).fold(fold)
        except DatasetFormatError as err:
            checks.add(f"--fold {fold}: {str(err).replace('splits.json', f'twin {twin.twin_id}')}")
    if not problems and (root / "dataset.json").is_file():  # generated before (maybe partly): check its cases
        from benchmark.data.format import PreparedDataset
        from benchmark.data.validate import check_case_files

        try:
            prepared = PreparedDataset(root)
        except DatasetFormatError as err:
            checks.add(str(err))
            return None
        done = [
            c
            for s in ("train", "val", "test", "external_test")
            for c in prepared.case_ids(s)
            if case_complete(root, c, s, prepared.meta.num_channels)
        ]
        for problem in check_case_files(prepared, done, require_labels=True)[:20]:
            checks.add(str(problem))
    return root


def check_store(checks: Checks, store: str | Path, flag: str = "--store") -> None:
    """A results store folder: writable (or creatable), and an existing one of this layout version."""
    p = checks.output_dir(store, flag)
    if p is None:
        return
    from analysis.store import RUNS_DIR, STORE_FILE
    from analysis.store import check_store as store_problem

    try:
        store_problem(p)
    except (ValueError, OSError) as err:
        checks.add(f"{flag} {p}: {err}")
        return
    if p.is_dir() and not (p / STORE_FILE).exists() and any(x.name != RUNS_DIR for x in p.iterdir()):
        checks.add(f"{flag} {p}: a non-empty folder that is not a results store; choose a new folder or a store")


def add_lowdata_arguments(parser, grid: bool = False) -> None:  # noqa: ANN001 - argparse.ArgumentParser
    """The low-data and fine-tuning flags of ``benchmark train`` (one value) and ``benchmark run`` (lists)."""
    from benchmark.training.finetune import STRATEGIES

    names = ", ".join(STRATEGIES)
    if grid:
        parser.add_argument(
            "--fractions", default=None, help="training fractions, a grid axis, e.g. 0.1,0.25,0.5,1.0 (default 1.0)"
        )
        parser.add_argument(
            "--finetune", default=None, help=f"fine-tuning strategies, a grid axis: {names} (default full)"
        )
    else:
        parser.add_argument(
            "--train-fraction", type=float, default=1.0, help="train on this share of the training cases, in (0, 1]"
        )
        parser.add_argument(
            "--finetune", default="full", choices=STRATEGIES, help="fine-tuning strategy (default full)"
        )
    parser.add_argument("--subset-seed", type=int, default=0, help="seed of the nested training subsets (default 0)")
    parser.add_argument("--lora-rank", type=int, default=None, help="--finetune lora: adapter rank (default 8)")
    parser.add_argument("--lora-alpha", type=float, default=None, help="--finetune lora: adapter alpha (default 16)")
    parser.add_argument(
        "--partial-stages", type=int, default=None, help="--finetune partial: last K encoder stages train (default 1)"
    )


def _float_list(checks: Checks, text: str, flag: str) -> tuple[float, ...]:
    parts = [t.strip() for t in text.split(",") if t.strip()]
    try:
        values = tuple(float(t) for t in parts)
    except ValueError:
        checks.add(f"{flag} {text!r}: give comma-separated numbers, e.g. 0.1,0.25,0.5,1.0")
        return ()
    if not values:
        checks.add(f"{flag}: give at least one value, e.g. 0.1,0.25,0.5,1.0")
    elif len(set(values)) != len(values):
        checks.add(f"{flag} {text!r}: values must be distinct")
    return values


def check_lowdata(checks: Checks, args, profile: str, grid: bool = False) -> tuple[tuple[float, ...], tuple[str, ...]]:  # noqa: ANN001
    """Training fractions in (0, 1], known strategies, LoRA rank >= 1 and alpha > 0, partial stages in range;
    knobs of a strategy that is not asked for are errors. Returns (fractions, strategies)."""
    from benchmark.training.finetune import STRATEGIES
    from benchmark.training.profiles import PROFILES

    if grid:
        fractions = _float_list(checks, args.fractions, "--fractions") if args.fractions is not None else (1.0,)
        strategies = tuple(s.strip() for s in args.finetune.split(",") if s.strip()) if args.finetune else ("full",)
        if args.finetune is not None and not strategies:
            checks.add(f"--finetune: give at least one strategy ({', '.join(STRATEGIES)})")
        flag = "--fractions"
    else:
        fractions, strategies, flag = (args.train_fraction,), (args.finetune,), "--train-fraction"
    for value in fractions:
        if not 0.0 < value <= 1.0:
            checks.add(f"{flag} {value:g}: a training fraction must be in (0, 1] (e.g. 0.1 for 10% of the cases)")
    for name in strategies:
        if name not in STRATEGIES:
            checks.add(f"--finetune {name!r}: unknown strategy; valid: {', '.join(STRATEGIES)}")
    checks.at_least(args.subset_seed, "--subset-seed", 0)
    if args.lora_rank is not None:
        checks.at_least(args.lora_rank, "--lora-rank")
    if args.lora_alpha is not None and not args.lora_alpha > 0:
        checks.add(f"--lora-alpha must be > 0, got {args.lora_alpha:g}")
    if (args.lora_rank is not None or args.lora_alpha is not None) and "lora" not in strategies:
        checks.add("--lora-rank/--lora-alpha need --finetune lora")
    if args.partial_stages is not None:
        checks.at_least(args.partial_stages, "--partial-stages")
        if "partial" not in strategies:
            checks.add("--partial-stages needs --finetune partial")
        stages = PROFILES.get(profile).n_stages if profile in PROFILES else None
        if stages is not None and args.partial_stages > stages:
            checks.add(f"--partial-stages {args.partial_stages}: profile {profile}'s encoder has {stages} stages")
    return fractions, strategies


def lowdata_config(args) -> dict:  # noqa: ANN001
    """ExperimentConfig/SuiteConfig keywords of the knobs (defaults where not given)."""
    return {
        "subset_seed": args.subset_seed,
        "lora_rank": 8 if args.lora_rank is None else args.lora_rank,
        "lora_alpha": 16.0 if args.lora_alpha is None else args.lora_alpha,
        "partial_stages": 1 if args.partial_stages is None else args.partial_stages,
    }
