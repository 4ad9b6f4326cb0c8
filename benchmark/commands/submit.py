"""Submit a new method's predictions on a dataset's test split to its leaderboards.

The prediction file is untrusted: it is validated strictly (every problem reported at once with its case and
row: schema and types, case ids exactly the test split, finite scores in [0, 1], boxes well-formed and inside
the image, labels among the dataset's classes, size caps) and never unpickled or executed; JSON, CSV or a zip
holding one of them (see leaderboards/README.md). It is then scored with every protocol board of the dataset
against the ground truth of the prepared dataset (``--dataset``: its folder, or an id found under
``--data-root``), bootstrapped with the replicates of ``benchmark analyze`` and ranked against the board's
evaluated entries, whose match tables are kept next to their entries (``<board>/tables/<slug>.npz``). One
entry per board is written atomically; nothing is written when validation fails. A method name already on a
board is refused unless ``--replace``.
"""

from __future__ import annotations

import argparse

from benchmark.commands.leaderboard import add_boards_argument

NAME = "submit"
HELP = "validate, score and rank an untrusted prediction file (JSON/CSV/zip) on a dataset's leaderboards"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="prepared dataset folder, or an id (D06, S06)")
    parser.add_argument("--predictions", required=True, help="prediction file: .json, .csv or a .zip holding one")
    parser.add_argument("--method", required=True, help="method name shown on the boards (its entry file is its slug)")
    parser.add_argument("--description", default="", help="one paragraph on the method")
    parser.add_argument("--architecture", default=None, help="detector architecture (optional)")
    parser.add_argument("--pretraining", default=None, help="pre-training (optional)")
    parser.add_argument("--replace", action="store_true", help="overwrite an existing entry of the same method name")
    add_boards_argument(parser)
    parser.add_argument("--data-root", default=None, help="data folder for ids (default: $DETBENCH_DATA or ./data)")
    parser.add_argument("--scale", default=None, help="scale of a twin id's folder (default: the one generated)")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default 1000, as analyze)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0, as analyze)")


def _dataset_folder(checks, dataset: str, data_root, scale: str | None):  # noqa: ANN001, ANN202
    from pathlib import Path

    path = Path(dataset)
    if (path / "dataset.json").is_file():
        return path
    if path.is_dir() or "/" in dataset or "\\" in dataset:
        checks.add(f"--dataset {dataset}: not a prepared dataset folder (no dataset.json)")
        return None
    from benchmark.datasets import get_dataset

    spec = checks.lookup(get_dataset, dataset, "--dataset")
    if spec is None:
        return None
    if not dataset.strip().upper().startswith("S"):
        folder = data_root / "prepared" / spec.id
        if not (folder / "dataset.json").is_file():
            checks.add(f"--dataset {dataset}: {spec.id} is not prepared under {folder}; pass the prepared folder")
            return None
        return folder
    from benchmark.synthetic.twins import get_twin

    twin = get_twin(spec.twin_id)
    found = sorted(p.parent.parent for p in (data_root / "synthetic").glob(f"*/{twin.dir_name}/dataset.json"))
    if scale is not None:
        found = [p for p in found if p.name == scale]
    if len(found) != 1:
        which = ", ".join(p.name for p in found) or "none"
        checks.add(
            f"--dataset {dataset}: need exactly one generated twin under {data_root / 'synthetic'} "
            f"(scales found: {which}); pass --scale or the twin's folder"
        )
        return None
    return found[0] / twin.dir_name


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.experiment import default_data_root

    checks = Checks()
    checks.at_least(args.replicates, "--replicates")
    checks.at_least(args.seed, "--seed", 0)
    boards_dir = checks.input_dir(args.boards, "--boards", "a boards folder (run `benchmark leaderboard init`)")
    predictions = Path(args.predictions)
    if not predictions.is_file() and not predictions.is_symlink():
        checks.add(f"--predictions {args.predictions}: file not found")
    from leaderboards.schema import MAX_DESCRIPTION_CHARS, MAX_METHOD_CHARS, slugify

    slug = None
    if not args.method.strip() or len(args.method) > MAX_METHOD_CHARS or not args.method.isprintable():
        checks.add(f"--method: give a printable name of 1..{MAX_METHOD_CHARS} characters")
    else:
        try:
            slug = slugify(args.method)
        except ValueError as err:
            checks.add(f"--method: {err}")
    if len(args.description) > MAX_DESCRIPTION_CHARS:
        checks.add(f"--description: at most {MAX_DESCRIPTION_CHARS} characters")
    data_root = Path(args.data_root) if args.data_root else default_data_root()
    folder = _dataset_folder(checks, args.dataset, data_root, args.scale)
    checks.raise_if_any()

    from benchmark.commands.checks import InputErrors
    from leaderboards.submission import MAX_LISTED, SubmissionError
    from leaderboards.submit import prepare_submission, submit

    plan = prepare_submission(folder, boards_dir, args.method.strip(), replace=args.replace)  # names taken: refused
    try:
        result = submit(
            plan, predictions, description=args.description, architecture=args.architecture,
            pretraining=args.pretraining, replace=args.replace, n_replicates=args.replicates, seed=args.seed,
        )
    except SubmissionError as err:  # one `error:` line per problem, each naming the file, case and row
        lines = [f"{err.source}: refused, {len(err.problems)} problem(s), nothing written"]
        lines += [f"{err.source}: {p}" for p in err.problems[:MAX_LISTED]]
        if len(err.problems) > MAX_LISTED:
            lines.append(f"{err.source}: ... and {len(err.problems) - MAX_LISTED} more")
        raise InputErrors(lines) from None
    print(f"{args.method!r} ({slug}) on {plan.dataset_id}: {result.n_detections} detections in {result.n_cases} cases")
    for entry in result.entries:
        ci = "" if entry.ci_low is None else f" [{100 * entry.ci_low:.2f}, {100 * entry.ci_high:.2f}]"
        rank = "" if entry.rank is None else f", rank {entry.rank.mean:.2f} of {entry.rank.n_entries}"
        print(f"  {entry.board_id:<22} {100 * entry.value:6.2f}{ci}{rank}")
    print(f"wrote {len(result.written)} files under {boards_dir}")
    return 0
