"""Analyse a results store: 1,000-replicate bootstrap rankings, aggregated ranks, tables and figures.

Reads the runs of ``STORE/runs/`` (see docs/analysis.md), one per dataset and model (``--profile``,
``--run-seed`` and ``--fold`` choose when the store holds several), and writes CSV frames, the paper-style tables
(markdown and LaTeX), PNG/PDF figures, the challengeR-style statistics (``challenge_*`` CSVs,
``statistics.html``) and ``summary.json`` into ``STORE/analysis/<profile>_seed<seed>[_foldK]``.
A store with LUNA16 fold runs also gets ``luna16_pooled_cpm.csv``/``.md``: the 10-fold aggregate CPM of every
D06 model with all ten folds (a note for incomplete folds; the twin S06's folds share one test split and are
not pooled).
"""

from __future__ import annotations

import argparse

NAME = "analyze"
HELP = "bootstrap rankings, tables and figures of a results store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="results store folder (written by benchmark run)")
    parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates per dataset (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    parser.add_argument("--out", default=None, help="output folder (default: STORE/analysis/<profile>_seed<seed>)")
    parser.add_argument("--profile", default=None, help="analyse the runs of this training profile (needed if several)")
    parser.add_argument("--run-seed", type=int, default=None, help="analyse the runs of this training seed")
    parser.add_argument(
        "--fold", default=None, help="analyse the runs of this cross-validation fold K (or 'official': the split)"
    )
    parser.add_argument(
        "--baseline", default=None, help="pre-training the deltas refer to, one in the store (default: default)"
    )
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG/PDF figures and statistics.html")


def run(args: argparse.Namespace) -> int:
    import difflib
    import time
    from pathlib import Path

    from benchmark.commands.checks import Checks

    checks = Checks()
    checks.at_least(args.replicates, "--replicates")
    checks.at_least(args.run_seed, "--run-seed", 0)
    fold = args.fold
    if fold is not None and fold != "official":
        if not fold.isdigit():
            checks.add(f"--fold {fold!r}: give a fold number K >= 0 or 'official'")
        else:
            fold = int(fold)
    store_dir = checks.input_dir(args.store, "STORE", "a results store folder (with runs/)")
    checks.output_dir(args.out, "--out")
    checks.raise_if_any()

    from analysis.report import run_analysis
    from analysis.store import open_store

    start = time.perf_counter()
    store = open_store(store_dir, profile=args.profile, seed=args.run_seed, fold=fold)  # names an unreadable run record
    out = Path(args.out) if args.out else store.analysis_dir
    if not args.out:
        checks.output_dir(out, "the default --out")
    settings = sorted(set(store.runs["pretraining"]))
    if args.baseline is not None and args.baseline not in settings:  # the default may be absent: NaN deltas
        close = difflib.get_close_matches(args.baseline, settings, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        checks.add(
            f"--baseline {args.baseline!r} is not a pre-training setting of {store.root}.{hint} "
            f"Settings there: {', '.join(settings)}"
        )
    checks.raise_if_any()
    result, written = run_analysis(  # reads every match table before it writes
        store,
        out_dir=out,
        n_replicates=args.replicates,
        seed=args.seed,
        baseline=args.baseline or "default",
        figures=not args.no_figures,
    )
    from analysis.lowdata import has_lowdata, write_lowdata

    run_seed = args.run_seed  # None: the learning curves average every training seed of the store
    if has_lowdata(store_dir, store.selection.get("profile"), run_seed):  # runs of several training fractions
        lowdata = write_lowdata(
            store_dir, out / "lowdata", n_replicates=args.replicates, seed=args.seed,
            profile=store.selection.get("profile"), run_seed=run_seed, figures=not args.no_figures,
        )
        written = [*written, *lowdata]
        print(f"data efficiency (learning curves, label efficiency): {out / 'lowdata' / 'lowdata.md'}")
    datasets = result.full["dataset"].nunique()
    print(
        f"analysed {len(result.models)} models x {datasets} datasets, {args.replicates} replicates "
        f"in {time.perf_counter() - start:.1f} s; wrote {len(written)} files to {out}"
    )
    top = result.aggregated.groupby("metric").head(3)
    print(top[["metric", "architecture", "pretraining", "mean_rank"]].to_string(index=False))
    return 0
