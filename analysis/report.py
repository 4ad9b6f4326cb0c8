"""The whole analysis of a results store: bootstrap, rankings, tables, figures, written into ``STORE/analysis``.

:func:`analyze` computes everything in memory (:class:`Analysis`); :func:`write_analysis` writes it;
:func:`run_analysis` does both (this is ``benchmark analyze STORE``). Models that miss a dataset are left out
with a warning, because mean ranks across datasets need every model on every dataset.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import ranking
from analysis.bootstrap import METRICS, BootstrapResult, bootstrap_store
from analysis.store import ModelKey, ResultsStore, open_store
from analysis.tables import compare_with_reported, comparison_table, format_table, reported_table, table2, table3
from benchmark.core.atomic import atomic_write_json, atomic_write_text

__all__ = ["Analysis", "analyze", "complete_models", "run_analysis", "summarize", "write_analysis"]


@dataclass
class Analysis:
    """Everything the analysis computes (tidy frames; tables as frames)."""

    store: Path
    bootstrap: BootstrapResult
    models: list[ModelKey]
    dropped: list[ModelKey]
    aggregated: pd.DataFrame
    rank_distribution: pd.DataFrame
    replicate_mean_ranks: pd.DataFrame
    deltas: pd.DataFrame
    stability: pd.DataFrame
    stability_summary: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    comparison: pd.DataFrame
    baseline: str
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def full(self) -> pd.DataFrame:
        return self.bootstrap.full

    @property
    def replicates(self) -> pd.DataFrame:
        return self.bootstrap.replicates


def complete_models(store: ResultsStore) -> tuple[list[ModelKey], list[ModelKey]]:
    """``(kept, dropped)``: models with a run on every dataset of the store, and the others."""
    datasets = store.datasets
    have = {d: set(store.models(d)) for d in datasets}
    everything = store.models()
    kept = [m for m in everything if all(m in have[d] for d in datasets)]
    return kept, [m for m in everything if m not in kept]


def analyze(
    store: ResultsStore | str | Path,
    n_replicates: int = 1000,
    seed: int = 0,
    baseline: str = "default",
    metrics: Sequence[str] = METRICS,
) -> Analysis:
    """Bootstrap every dataset of ``store`` and derive ranks, deltas, stability and the tables."""
    if n_replicates < 1:
        raise ValueError(f"n_replicates must be >= 1, got {n_replicates}")
    store = store if isinstance(store, ResultsStore) else open_store(store)
    kept, dropped = complete_models(store)
    if dropped:
        warnings.warn(
            f"left out {len(dropped)} model(s) without a run on every dataset: "
            + ", ".join(f"{a}__{p}" for a, p in dropped),
            stacklevel=2,
        )
    if not kept:
        raise ValueError("no model has a run on every dataset of the store")
    t0 = time.perf_counter()
    boot = bootstrap_store(store, n_replicates, seed, metrics, models=kept)
    result = summarize(boot, baseline, store=Path(store.root), dropped=dropped)
    result.timings["bootstrap_s"] = time.perf_counter() - t0 - result.timings["rankings_tables_s"]
    return result


def summarize(
    boot: BootstrapResult, baseline: str = "default", store: Path | None = None, dropped: Sequence[ModelKey] = ()
) -> Analysis:
    """Ranks, deltas, stability and tables from a bootstrap (every model must be on every dataset)."""
    t0 = time.perf_counter()
    full, rep = boot.full, boot.replicates
    metrics = list(dict.fromkeys(full["metric"]))
    tables = {"table3": table3(full, rep)}
    for metric in metrics:
        tables[f"table2_{metric.split('@')[0]}"] = table2(full, rep, metric)
    tables["reported_table3"] = reported_table()
    tables["comparison_table"] = comparison_table(full, metrics=metrics)
    stability = ranking.ranking_stability(rep, full)
    per_replicate = ranking.replicate_mean_ranks(rep)
    result = Analysis(
        store=Path(store) if store is not None else Path("."),
        bootstrap=boot,
        models=sorted(set(zip(full["architecture"], full["pretraining"], strict=True))),
        dropped=list(dropped),
        aggregated=ranking.aggregate_ranks(rep, full, per_replicate),
        rank_distribution=ranking.rank_distribution(rep),
        replicate_mean_ranks=per_replicate,
        deltas=ranking.baseline_deltas(full, rep, baseline),
        stability=stability,
        stability_summary=ranking.stability_summary(stability),
        tables=tables,
        comparison=compare_with_reported(full),
        baseline=baseline,
    )
    result.timings["rankings_tables_s"] = time.perf_counter() - t0
    return result


def _figures(result: Analysis, folder: Path, formats: Sequence[str]) -> list[Path]:
    from analysis import figures

    paths: list[Path] = []
    metrics = list(result.full["metric"].unique())
    for metric in metrics:
        short = metric.split("@")[0]
        figs = {
            f"fig2_ranking_overview_{short}": figures.ranking_overview_figure(
                result.replicates, result.deltas, metric, delta_metrics=metrics, baseline=result.baseline
            ),
            f"fig3_per_dataset_{short}": figures.per_dataset_figure(result.replicates, result.deltas, metric),
            f"blob_consensus_{short}": figures.blob_figure(result.replicates, metric),
        }
        for name, fig in figs.items():
            paths += figures.save_figure(fig, folder / name, formats)
    return paths


def write_analysis(
    result: Analysis, out_dir: str | Path, figures: bool = True, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Write the frames (CSV, large ones gzipped), tables (markdown + LaTeX), figures and ``summary.json``."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def csv(frame: pd.DataFrame, name: str, **kw: Any) -> None:
        path = out / name
        frame.to_csv(path, index=False, float_format="%.10g", **kw)
        written.append(path)

    t0 = time.perf_counter()
    csv(result.full, "full_metrics.csv")
    fast_gzip = {"method": "gzip", "compresslevel": 1}
    csv(result.replicates, "bootstrap_replicates.csv.gz", compression=fast_gzip)
    csv(result.rank_distribution, "rank_distribution.csv")
    csv(result.replicate_mean_ranks, "replicate_mean_ranks.csv.gz", compression=fast_gzip)
    csv(result.aggregated, "aggregated_ranks.csv")
    csv(result.deltas, "baseline_deltas.csv")
    csv(result.stability, "ranking_stability.csv.gz", compression=fast_gzip)
    csv(result.stability_summary, "ranking_stability_summary.csv")
    csv(result.comparison, "comparison_with_reported.csv")
    counts_path = out / "bootstrap_counts.npz"
    np.savez_compressed(
        counts_path,
        **{f"{d}__counts": c for d, (_, c) in result.bootstrap.counts.items()},
        **{f"{d}__image_ids": np.asarray(ids, dtype=str) for d, (ids, _) in result.bootstrap.counts.items()},
    )
    written.append(counts_path)
    for name, table in result.tables.items():
        for fmt, ext in (("markdown", "md"), ("latex", "tex")):
            path = out / "tables" / f"{name}.{ext}"
            atomic_write_text(path, format_table(table, fmt))
            written.append(path)
    if figures:
        written += _figures(result, out / "figures", formats)
    result.timings["write_s"] = time.perf_counter() - t0
    summary = _summary(result, [p.relative_to(out).as_posix() for p in written])
    atomic_write_json(out / "summary.json", summary, indent=2, default=str)
    written.append(out / "summary.json")
    return written


def _summary(result: Analysis, files: list[str]) -> dict[str, Any]:
    from benchmark import __version__
    from benchmark.provenance import git_revision

    agg = result.aggregated
    best = {m: agg[agg["metric"] == m].iloc[0][["architecture", "pretraining", "mean_rank"]].to_dict()
            for m in agg["metric"].unique()}
    return {
        "store": str(result.store),
        "detbench_version": __version__,
        "git_revision": git_revision(),
        "n_replicates": result.bootstrap.n_replicates,
        "seed": result.bootstrap.seed,
        "tie_rule": ranking.TIE_RULE,
        "baseline": result.baseline,
        "datasets": sorted(result.full["dataset"].unique()),
        "models": [list(m) for m in result.models],
        "dropped_models": [list(m) for m in result.dropped],
        "best_mean_rank": best,
        "timings_s": result.timings,
        "files": files,
    }


def run_analysis(
    store: str | Path | ResultsStore,
    out_dir: str | Path | None = None,
    n_replicates: int = 1000,
    seed: int = 0,
    baseline: str = "default",
    figures: bool = True,
    profile: str | None = None,
    run_seed: int | None = None,
) -> tuple[Analysis, list[Path]]:
    """``benchmark analyze``: analyse ``store`` and write everything into ``out_dir``.

    ``profile`` and ``run_seed`` select the runs when the store holds several profiles or training seeds; the
    default ``out_dir`` is ``STORE/analysis/<profile>_seed<seed>`` (:func:`analysis.store.analysis_dir`).
    """
    opened = store if isinstance(store, ResultsStore) else open_store(store, profile=profile, seed=run_seed)
    result = analyze(opened, n_replicates=n_replicates, seed=seed, baseline=baseline)
    out = Path(out_dir) if out_dir is not None else opened.analysis_dir
    return result, write_analysis(result, out, figures=figures)
