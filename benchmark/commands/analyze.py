"""Analyse a results store: 1,000-replicate bootstrap rankings, aggregated ranks, tables and figures.

Reads ``STORE/runs/<dataset>/<architecture>__<pretraining>/`` (see docs/analysis.md) and writes CSV frames,
the paper-style tables (markdown and LaTeX), PNG/PDF figures and ``summary.json`` into ``STORE/analysis``.
"""

from __future__ import annotations

import argparse

NAME = "analyze"
HELP = "bootstrap rankings, tables and figures of a results store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="results store folder (with runs/<dataset>/<arch>__<pretraining>/)")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates per dataset (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    parser.add_argument("--out", default=None, help="output folder (default: STORE/analysis)")
    parser.add_argument("--baseline", default="default", help="pre-training the deltas refer to (default: default)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures")


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from benchmark.commands.checks import Checks

    checks = Checks()
    checks.at_least(args.replicates, "--replicates")
    store = checks.input_dir(args.store, "STORE", "a results store folder (with runs/)")
    out = Path(args.out) if args.out else Path(args.store) / "analysis"
    if args.out or store is not None:
        checks.output_dir(out, "--out" if args.out else "the default --out")
    checks.raise_if_any()

    from analysis.report import run_analysis

    start = time.perf_counter()
    result, written = run_analysis(  # reads and checks the whole store (and --baseline) before it writes
        store,
        out_dir=out,
        n_replicates=args.replicates,
        seed=args.seed,
        baseline=args.baseline,
        figures=not args.no_figures,
    )
    datasets = result.full["dataset"].nunique()
    print(
        f"analysed {len(result.models)} models x {datasets} datasets, {args.replicates} replicates "
        f"in {time.perf_counter() - start:.1f} s; wrote {len(written)} files to {out}"
    )
    top = result.aggregated.groupby("metric").head(3)
    print(top[["metric", "architecture", "pretraining", "mean_rank"]].to_string(index=False))
    return 0
