"""Convert a real dataset from its official download layout into the canonical prepared format.

detbench never downloads data: download the dataset from its official source, then point --source at it.
Before writing anything the converter checks the source layout and the header and size of every source image
(a truncated or unreadable file is an error naming it); converted cases are written atomically and skipped on
a rerun, so an interrupted conversion resumes.
"""

from __future__ import annotations

import argparse
import inspect

NAME = "convert"
HELP = "convert an official dataset download into the prepared format"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="dataset id or name with a converter (e.g. D06 or LUNA16)")
    parser.add_argument("--source", required=True, help="folder of the official download")
    parser.add_argument("--out", required=True, help="output folder of the prepared dataset")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="convert again cases that already exist")
    parser.add_argument("--fold", type=int, default=None, help="fold used as the official split (LUNA16: 0..9)")


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
    convert = None
    if spec is not None and spec.id not in CONVERTERS:
        have = ", ".join(f"{d} ({get_dataset(d).name})" for d in sorted(CONVERTERS.names()))
        checks.add(f"no converter for {spec.id} ({spec.name}) yet; converters exist for {have}")
    elif spec is not None:
        convert = CONVERTERS.get(spec.id)
        if args.fold is not None and "fold" not in inspect.signature(convert).parameters:
            checks.add(f"the {spec.name} converter has no folds; drop --fold")
    checks.raise_if_any()

    from benchmark.data.validate import validate_dataset

    kwargs = {"workers": args.workers, "overwrite": args.overwrite}
    if args.fold is not None:
        kwargs["fold"] = args.fold
    out = convert(source, out, **kwargs)  # checks the source layout and every source file before writing
    report = validate_dataset(out)
    print(report.summary())
    return 0 if report.ok else 1
