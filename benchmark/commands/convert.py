"""Convert a real dataset from its official download layout into the canonical prepared format.

detbench never downloads data: download the dataset from its official source, then point --source at it.
Before writing anything the converter checks the source layout, the annotation tables and the header of
every source image (a wrong folder, a missing or truncated file, an unreadable DICOM or an inconsistent
annotation is an error naming it, and nothing is written); converted cases are written atomically and
skipped on a rerun, so an interrupted conversion resumes. The result is validated at the end.
"""

from __future__ import annotations

import argparse

NAME = "convert"
HELP = "convert an official dataset download into the prepared format"


def _dataset_help() -> str:
    from benchmark.datasets import DATASETS

    names = ", ".join(f"{d} {spec.name}" for d, spec in DATASETS.items())
    return f"dataset id or name: {names}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help=_dataset_help())
    parser.add_argument("--source", required=True, help="folder of the official download (layouts: README)")
    parser.add_argument("--out", required=True, help="output folder of the prepared dataset")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="convert again cases that already exist")
    parser.add_argument("--fold", type=int, default=None, help="LUNA16 only: fold used as the official split (0..9)")
    parser.add_argument(
        "--scheme",
        default=None,
        choices=("8-1-1", "9-0-1"),
        help="LUNA16 only: 8-1-1 (train 8, validate 1, test 1 subsets; default) or 9-0-1 (train 9, test 1)",
    )


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks

    checks = Checks()
    checks.at_least(args.workers, "--workers")
    source = checks.input_dir(args.source, "--source", "the folder of the official download")
    out = checks.output_dir(args.out, "--out")
    checks.not_inside(out, source, "--out", "the --source folder")

    from benchmark.converters import CONVERTERS
    from benchmark.datasets import get_dataset

    spec = checks.lookup(get_dataset, args.dataset)
    converter = None
    if spec is not None:
        converter = CONVERTERS.get(spec.id)
        for flag, value in (("fold", args.fold), ("scheme", args.scheme)):
            if value is not None and flag not in converter.options:
                what = "folds" if flag == "fold" else "schemes"
                checks.add(f"--{flag} applies to LUNA16 only; the {spec.name} converter has no {what} to choose from")
        if args.fold is not None and "fold" in converter.options:
            checks.in_range(args.fold, "--fold", 0, 9)
    checks.raise_if_any()

    from benchmark.converters.template import run_converter

    options = {k: v for k, v in (("fold", args.fold), ("scheme", args.scheme)) if v is not None}
    result = run_converter(converter, source, out, workers=args.workers, overwrite=args.overwrite, **options)
    print(
        f"converted {result.written} of {result.cases} case(s) ({result.cases - result.written} already complete) "
        f"in {result.seconds:.1f} s"
    )
    print(result.report.summary())
    return 0 if result.report.ok else 1
