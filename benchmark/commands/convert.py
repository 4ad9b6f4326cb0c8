"""Convert a real dataset from its official download layout into the canonical prepared format.

detbench never downloads data: download the dataset from its official source, then point --source at it.
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
    from benchmark.converters import CONVERTERS
    from benchmark.data.validate import validate_dataset
    from benchmark.datasets import get_dataset

    spec = get_dataset(args.dataset)
    convert = CONVERTERS.get(spec.id)
    kwargs = {"workers": args.workers, "overwrite": args.overwrite}
    if args.fold is not None:
        if "fold" not in inspect.signature(convert).parameters:
            raise ValueError(f"the {spec.name} converter has no folds; drop --fold")
        kwargs["fold"] = args.fold
    out = convert(args.source, args.out, **kwargs)
    report = validate_dataset(out)
    print(report.summary())
    return 0 if report.ok else 1
