"""Write deterministic synthetic twins (S01-S08) as prepared datasets, and optionally the unlabelled
pre-training corpus. Same --seed, same arrays; existing cases are skipped unless --overwrite (resumable).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

NAME = "synth"
HELP = "write synthetic twins S01-S08 (and the pre-training corpus) as prepared datasets"
DATA_ENV = "DETBENCH_DATA"


def default_out() -> Path:
    """``$DETBENCH_DATA/synthetic`` when the variable is set, else ``./data/synthetic``."""
    root = os.environ.get(DATA_ENV)
    return Path(root) / "synthetic" if root else Path("data") / "synthetic"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--suite", default="all", help="dev, test, all, or comma-separated ids like S06,D01 (default: all)"
    )
    parser.add_argument(
        "--scale",
        default="small",
        choices=("tiny", "small", "full"),
        help="tiny: seconds, for tests; small: the CPU default; full: real case counts and spacing",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: ${DATA_ENV}/synthetic if set, else ./data/synthetic)",
    )
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes (default: 1)")
    parser.add_argument("--overwrite", action="store_true", help="regenerate cases that already exist")
    parser.add_argument("--corpus", action="store_true", help="also write the unlabelled pre-training corpus")
    parser.add_argument("--corpus-only", action="store_true", help="write only the pre-training corpus")
    parser.add_argument("--corpus-cases", type=int, default=None, help="corpus size (default: set by --scale)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from benchmark.synthetic.generate import generate_pretraining_corpus, generate_suite

    out = args.out if args.out is not None else default_out()
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    progress = not args.no_progress and sys.stderr.isatty()
    start = time.perf_counter()
    roots: list[Path] = []
    if not args.corpus_only:
        roots += generate_suite(
            args.suite,
            out,
            args.scale,
            args.seed,
            args.workers,
            args.overwrite,
            corpus=args.corpus and args.corpus_cases is None,
            progress=progress,
        )
    if args.corpus_only or (args.corpus and args.corpus_cases is not None):
        roots.append(
            generate_pretraining_corpus(
                out, args.scale, args.seed, args.workers, args.overwrite, cases=args.corpus_cases, progress=progress
            )
        )
    for root in roots:
        print(root)
    print(
        f"wrote {len(roots)} folder(s) at scale {args.scale} (seed {args.seed}) in {time.perf_counter() - start:.1f} s"
    )
    return 0
