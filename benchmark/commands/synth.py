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

    from benchmark.commands.checks import Checks

    out = args.out if args.out is not None else default_out()
    checks = Checks()
    checks.at_least(args.seed, "--seed", 0)
    checks.at_least(args.workers, "--workers")
    checks.at_least(args.corpus_cases, "--corpus-cases")
    if args.corpus_cases is not None and not (args.corpus or args.corpus_only):
        checks.add("--corpus-cases sets the size of the pre-training corpus: add --corpus or --corpus-only")
    if checks.output_dir(out, "--out") is not None and (Path(out) / "dataset.json").is_file():
        checks.add(f"--out {out}: is a prepared dataset; --out is the folder holding the twins (e.g. data/synthetic)")

    from benchmark.synthetic.generate import generate_pretraining_corpus, generate_suite, output_problems
    from benchmark.synthetic.twins import resolve_twins

    twins = [] if args.corpus_only else checks.lookup(resolve_twins, args.suite, "--suite") or []
    if not checks.problems:  # folders holding another run (or not written by the generator) are refused
        corpus = args.corpus or args.corpus_only
        for problem in output_problems(twins, out, args.scale, args.seed, args.overwrite, corpus, args.corpus_cases):
            checks.add(problem)
    checks.raise_if_any()

    progress = not args.no_progress and sys.stderr.isatty()
    start = time.perf_counter()
    roots: list[Path] = []
    if not args.corpus_only:
        roots += generate_suite(
            twins,
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
