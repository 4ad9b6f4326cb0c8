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
from analysis.challenge import ChallengeResult, challenge_statistics
from analysis.contents import StoreContents, describe_store
from analysis.learning import LearningVerdict, learning_verdict
from analysis.reported_results import reported_provenance
from analysis.seeds import seed_spread
from analysis.store import ModelKey, ResultsStore, is_reference, open_store
from analysis.tables import (
    comparable_datasets,
    compare_with_reported,
    comparison_table,
    format_table,
    reported_table,
    table2,
    table3,
)
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
    comparison: pd.DataFrame | None  # None: nothing comparable with the reported results (comparison_note says why)
    baseline: str
    timings: dict[str, float] = field(default_factory=dict)
    contents: StoreContents | None = None  # what the store holds, from the runs' result.json (None: not read)
    comparison_note: str = ""
    seed_spread: pd.DataFrame | None = None  # value, bootstrap interval and seed-to-seed spread (analysis.seeds)
    training_seeds: list[int] = field(default_factory=list)  # every training seed of the selection
    learning: LearningVerdict = field(default_factory=LearningVerdict)  # "no model learned" (analysis.learning)
    challenge: ChallengeResult | None = None  # challengeR-style tests, rankings, robustness (analysis.challenge)

    @property
    def references(self) -> list[ModelKey]:
        """Reference rows among the analysed models (the classical baseline): shown, ranked, not study models."""
        return [m for m in self.models if is_reference(m[0])]

    @property
    def compared_datasets(self) -> dict[str, str]:
        """Store dataset -> the paper's dataset, of the datasets compared with the reported results."""
        if self.comparison is None:
            return {}
        return comparable_datasets(self.full, self.real_datasets)

    @property
    def real_datasets(self) -> list[str] | None:
        """The analysed datasets that hold real data (None: decided by id, the provenance was not read)."""
        return _real_datasets(self.full, self.contents)

    @property
    def full(self) -> pd.DataFrame:
        return self.bootstrap.full

    @property
    def replicates(self) -> pd.DataFrame:
        return self.bootstrap.replicates


def _real_datasets(full: pd.DataFrame, contents: StoreContents | None) -> list[str] | None:
    if contents is None:
        return None
    real = set(contents.real_datasets)
    return [d for d in sorted(full["dataset"].unique()) if d in real]


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
    contents = describe_store(store)
    t0 = time.perf_counter()
    boot = bootstrap_store(store, n_replicates, seed, metrics, models=kept)
    result = summarize(boot, baseline, store=Path(store.root), dropped=dropped, contents=contents)
    result.timings["bootstrap_s"] = time.perf_counter() - t0 - result.timings["rankings_tables_s"]
    kept_set = set(kept)
    seed_runs = store.seed_runs
    if seed_runs is not None:
        pairs = zip(seed_runs["architecture"], seed_runs["pretraining"], strict=True)
        seed_runs = seed_runs[[m in kept_set for m in pairs]]
    result.seed_spread = seed_spread(seed_runs, result.full, result.replicates)
    result.training_seeds = list(store.selection.get("all_seeds") or store.selection.get("seeds") or [])
    result.learning = learning_verdict(result.full, store.selection.get("profile"))
    return result


def summarize(
    boot: BootstrapResult,
    baseline: str = "default",
    store: Path | None = None,
    dropped: Sequence[ModelKey] = (),
    contents: StoreContents | None = None,
) -> Analysis:
    """Ranks, deltas, stability and tables from a bootstrap (every model must be on every dataset).

    The comparison with the paper's reported results covers only the real datasets (``contents``, from the
    runs' provenance; without it, every dataset whose id is not a synthetic twin id); a store of synthetic
    twins gets none (``comparison`` is None, ``comparison_note`` says why).
    """
    t0 = time.perf_counter()
    full, rep = boot.full, boot.replicates
    metrics = list(dict.fromkeys(full["metric"]))
    tables = {"table3": table3(full, rep)}
    for metric in metrics:
        tables[f"table2_{metric.split('@')[0]}"] = table2(full, rep, metric)
    tables["reported_table3"] = reported_table()
    real = _real_datasets(full, contents)
    comparison: pd.DataFrame | None = compare_with_reported(full, datasets=real)
    note = comparison.attrs.get("not_applicable", "")
    if note:
        comparison = None
    else:
        tables["comparison_table"] = comparison_table(full, metrics=metrics, datasets=real)
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
        comparison=comparison,
        baseline=baseline,
        contents=contents,
        comparison_note=note,
        learning=learning_verdict(full, contents.profiles[0] if contents is not None and contents.profiles else None),
    )
    t1 = time.perf_counter()
    result.challenge = challenge_statistics(full, rep)
    result.timings["challenge_s"] = time.perf_counter() - t1  # part of rankings_tables_s
    result.timings["rankings_tables_s"] = time.perf_counter() - t0
    return result


def _figures(result: Analysis, folder: Path, formats: Sequence[str]) -> list[Path]:
    from analysis import figures

    paths: list[Path] = []
    metrics = list(result.full["metric"].unique())
    verdict = result.learning
    note = verdict.message if verdict.everywhere else ""  # a tie of zeros is not drawn as a ranking
    detail = verdict.explanation() if note else ""
    notes = {d: verdict.dataset_message(d) for d in verdict.datasets}
    for metric in metrics:
        short = metric.split("@")[0]
        figs = {
            f"fig2_ranking_overview_{short}": figures.ranking_overview_figure(
                result.replicates, result.deltas, metric, delta_metrics=metrics, baseline=result.baseline,
                note=note, note_detail=detail,
            ),
            f"fig3_per_dataset_{short}": figures.per_dataset_figure(result.replicates, result.deltas, metric,
                                                                    notes=notes),
            f"blob_consensus_{short}": figures.blob_figure(result.replicates, metric, note=note, note_detail=detail),
        }
        for name, fig in figs.items():
            paths += figures.save_figure(fig, folder / name, formats)
    return paths


def write_analysis(
    result: Analysis, out_dir: str | Path, figures: bool = True, formats: Sequence[str] = ("png", "pdf"),
    statistics: bool = True,
) -> list[Path]:
    """Write the frames (CSV, large ones gzipped), tables (markdown + LaTeX), figures and ``summary.json``.

    With ``figures`` and ``statistics``, also ``statistics.html`` (:mod:`analysis.challenge_report`)."""
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
    if result.seed_spread is not None:
        csv(result.seed_spread, "seed_spread.csv")
        path = out / "tables" / "seed_spread.md"
        atomic_write_text(path, seed_spread_markdown(result.seed_spread, result.training_seeds))
        written.append(path)
    if result.comparison is not None:
        csv(result.comparison, "comparison_with_reported.csv")
    else:  # a comparison left by an earlier analysis into this folder would contradict this one
        for stale in (out / "comparison_with_reported.csv", *(out / "tables").glob("comparison_table.*")):
            stale.unlink(missing_ok=True)
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
            atomic_write_text(path, format_table(table, fmt, caption=table_caption(result, name)))
            written.append(path)
    if result.challenge is not None:
        csv(result.challenge.tests, "challenge_tests.csv.gz", compression=fast_gzip)
        csv(result.challenge.rankings, "challenge_rankings.csv")
        csv(result.challenge.agreement, "challenge_method_agreement.csv")
        csv(result.challenge.robustness, "challenge_robustness.csv.gz", compression=fast_gzip)
        csv(result.challenge.robustness_summary(), "challenge_robustness_summary.csv")
    if figures:
        written += _figures(result, out / "figures", formats)
        if statistics and result.challenge is not None:
            from analysis.challenge_report import write_statistics_html

            t1 = time.perf_counter()
            written.append(write_statistics_html(out / "statistics.html", result.challenge, result.replicates,
                                                 title=f"Statistics of {result.store}",
                                                 description=" ".join(
                                                     p for p in (result.learning.message, data_description(result))
                                                     if p)))
            result.timings["statistics_html_s"] = time.perf_counter() - t1
    result.timings["write_s"] = time.perf_counter() - t0
    files = [p.relative_to(out).as_posix() for p in written] + ["README.md", "summary.json"]
    atomic_write_text(out / "README.md", readme(result, files))
    written.append(out / "README.md")
    summary = _summary(result, files)
    atomic_write_json(out / "summary.json", summary, indent=2, default=str)
    written.append(out / "summary.json")
    return written


# -- what the report says about the data -----------------------------------------------------------------
def _n_test_images(result: Analysis) -> dict[str, int]:
    """Test images per analysed dataset (the bootstrap's resampled images)."""
    return {d: len(ids) for d, (ids, _) in sorted(result.bootstrap.counts.items())}


def _dataset_labels(result: Analysis) -> list[str]:
    """``S01 (synthetic twin of D01, scale tiny; 20 test images)`` per analysed dataset."""
    n = _n_test_images(result)
    described = result.contents.datasets if result.contents is not None else {}
    labels = []
    for d in sorted(result.full["dataset"].unique()):
        what = described[d].label if d in described else f"{d} (kind not read from provenance)"
        labels.append(f"{what[:-1]}; {n.get(d, '?')} test images)")
    return labels


def data_description(result: Analysis) -> str:
    """One sentence on the analysed data: datasets (kind, twin scale, test images), models, profiles, seeds."""
    c = result.contents
    runs = "" if c is None else (f"; profile(s) {', '.join(map(str, c.profiles))}, "
                                 f"seed(s) {', '.join(map(str, c.seeds))} (from the runs' provenance)")
    return (f"Datasets: {', '.join(_dataset_labels(result))}; {len(result.models)} models; "
            f"{result.bootstrap.n_replicates} bootstrap replicates (seed {result.bootstrap.seed}){runs}.")


def _twin_warning(result: Analysis) -> str:
    twins = [] if result.contents is None else [d for d in result.contents.twin_datasets
                                                  if d in set(result.full["dataset"])]
    if not twins:
        return ""
    return (f"Synthetic twins ({', '.join(twins)}): procedurally generated data; their numbers are not comparable "
            "with the paper's real-data results.")


def table_caption(result: Analysis, name: str) -> str:
    """What a written table shows and on which data (markdown paragraph above the table, LaTeX caption)."""
    if name == "reported_table3":
        return (f"The seed paper's reported Table 3 ({reported_provenance()['citation']}): real datasets, "
                "as printed; not computed from this store.")
    if name == "comparison_table":
        compared = ", ".join(f"{d} as {p}" if d != p else d for d, p in result.compared_datasets.items())
        return (f"Reported Table 3 rows beside this store's runs (marked (new)) on its real datasets only "
                f"({compared}); Point Rank = mean over datasets of the rank by value among all rows. "
                f"{data_description(result)}")
    layout = ("Table 3 layout (mAP@0.1 and FROC@0.1 in percent, test split; Mean Rank over bootstrap replicates)"
              if name == "table3" else
              f"Table 2 layout ({name.split('_', 1)[-1]}; Mean Rank within each architecture)")
    return " ".join(p for p in (f"{layout}, computed from this store.", data_description(result),
                                _twin_warning(result)) if p)


def comparison_status(result: Analysis) -> dict[str, Any]:
    """``{"status": "compared" | "not applicable", "datasets": {store id: paper id}, "note": ...}``."""
    if result.comparison is None:
        return {"status": "not applicable", "datasets": {}, "note": result.comparison_note}
    left_out = sorted(set(result.full["dataset"].unique()) - set(result.compared_datasets))
    note = "only real datasets of the paper are compared"
    if left_out:
        note += f"; not compared: {', '.join(left_out)}"
    return {"status": "compared", "datasets": result.compared_datasets, "note": note}


def readme(result: Analysis, files: Sequence[str] = ()) -> str:
    """``README.md`` of the analysis folder: what the store holds and what was (not) compared."""
    lines = [f"# Analysis of `{result.store}`", ""]
    if result.learning.message:
        lines += [f"**{result.learning.message}**: {result.learning.explanation()}. "
                  + ("The ranking figures say so instead of drawing a tie."
                     if result.learning.everywhere else "Those datasets' figure panels say so."), ""]
    warning = _twin_warning(result)
    if warning:
        lines += [f"**{warning}** No comparison with the paper's reported numbers is made for them.", ""]
    lines += ["## What the store holds", ""]
    c = result.contents
    if c is None:
        lines += ["The runs' provenance was not read (analysis built from a bootstrap result).", ""]
    else:
        frame = c.to_frame()
        header = list(frame.columns)
        lines += ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
        lines += ["", "Kind (real or synthetic twin), twin scale and generator come from each run's `result.json` "
                  "provenance (the dataset id decides only where the provenance is silent); profile, seed and fold "
                  "from its experiment config (`unknown`: not recorded; fold `None`: the official split). "
                  f"Profiles: {', '.join(map(str, c.profiles))}; seeds: {', '.join(map(str, c.seeds))}; "
                  f"folds: {', '.join(map(str, c.folds))}.", ""]
        for note in (c.revision_note(), c.machine_note()):
            if note:
                lines += [f"**{note}**", ""]
    lines += [f"Models analysed ({len(result.models)}): "
              + ", ".join(f"`{a}__{p}`" for a, p in result.models) + "."]
    if result.references:
        lines += ["", "Reference rows (not models of the study, labelled `(reference)` in tables and figures, "
                  "ranked beside the models): " + ", ".join(f"`{a}__{p}`" for a, p in result.references)
                  + ": the classical baseline, an intensity threshold + 3D connected components detector tuned on "
                  "the validation split, no learning (`benchmark baseline`; docs/training.md)."]
    if result.dropped:
        lines += ["", "Left out (no run on every dataset): " + ", ".join(f"`{a}__{p}`" for a, p in result.dropped)]
    n = _n_test_images(result)
    lines += ["", "## Analysis", "",
              f"Test images per dataset: {', '.join(f'{d} {k}' for d, k in n.items())}. "
              f"{result.bootstrap.n_replicates} image-level bootstrap replicates per dataset (seed "
              f"{result.bootstrap.seed}), tie rule `{ranking.TIE_RULE}`, baseline `{result.baseline}`.", "",
              "## Comparison with the paper's reported results", ""]
    status = comparison_status(result)
    if status["status"] == "compared":
        lines.append(f"Compared on {', '.join(f'{d} (as {p})' for d, p in status['datasets'].items())}: "
                     f"`comparison_with_reported.csv`, `tables/comparison_table.md`; {status['note']}. The paper's "
                     "values are on its own test splits; check that this store's splits are the same.")
    else:
        lines.append(f"{status['note'][:1].upper()}{status['note'][1:]}. No comparison table is written; "
                     "`tables/reported_table3.md` shows the paper's numbers on their own.")
    if files:
        lines += ["", "## Files", "", *[f"- `{f}`" for f in files]]
    return "\n".join(lines) + "\n"


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
        "recall_rule": result.bootstrap.recall_rule,
        "training_seeds": result.training_seeds,
        "baseline": result.baseline,
        "datasets": sorted(result.full["dataset"].unique()),
        "n_test_images": _n_test_images(result),
        "store_contents": result.contents.to_dict() if result.contents is not None else None,
        "comparison_with_reported": comparison_status(result),
        "models": [list(m) for m in result.models],
        "reference_models": [list(m) for m in result.references],
        "no_model_learned": result.learning.to_dict(),
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
    fold: int | str | None = None,
    statistics: bool = True,
) -> tuple[Analysis, list[Path]]:
    """``benchmark analyze``: analyse ``store`` and write everything into ``out_dir``.

    ``profile``, ``run_seed`` and ``fold`` select the runs when the store holds several profiles, training seeds
    or folds; the default ``out_dir`` is ``STORE/analysis/<profile>_seed<seed>[_fold<K>]``
    (:func:`analysis.store.analysis_dir`). A store with LUNA16 fold runs also gets the pooled 10-fold CPM table
    (:mod:`analysis.luna16_pooled`), computed from every fold of the store whatever ``fold`` selects.
    """
    from analysis.luna16_pooled import write_pooled_cpm

    opened = (
        store if isinstance(store, ResultsStore) else open_store(store, profile=profile, seed=run_seed, fold=fold)
    )
    result = analyze(opened, n_replicates=n_replicates, seed=seed, baseline=baseline)
    out = Path(out_dir) if out_dir is not None else opened.analysis_dir
    written = write_analysis(result, out, figures=figures, statistics=statistics)
    all_runs = opened.all_runs if opened.all_runs is not None else opened.runs
    profiles = {opened.selection.get("profile")} - {None}
    return result, written + write_pooled_cpm(all_runs, out, profiles=profiles)


def seed_spread_markdown(spread: pd.DataFrame, seeds: Sequence[int]) -> str:
    """The noise-floor table: value and 95% bootstrap interval beside the spread over training seeds (in %)."""
    lines = [
        f"Seed-to-seed spread over the training seeds {', '.join(map(str, seeds)) or 'of the store'} beside the "
        "95% bootstrap interval of the ranked run (values in %). A difference between models smaller than the "
        "seed spread is training noise, not an effect.",
        "",
        "| dataset | architecture | pretraining | metric | value | bootstrap 95% | seeds | seed mean | seed sd | "
        "seed range |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def pct(v: float) -> str:
        return "n/a" if v != v else f"{100 * v:.1f}"

    for r in spread.itertuples(index=False):
        n = 0 if r.n_seeds != r.n_seeds else int(r.n_seeds)
        lines.append(
            f"| {r.dataset} | {r.architecture} | {r.pretraining} | {r.metric} | {pct(r.value)} | "
            f"{pct(r.boot_ci_low)}-{pct(r.boot_ci_high)} | {n} | {pct(r.seed_mean)} | {pct(r.seed_sd)} | "
            f"{pct(r.seed_min)}-{pct(r.seed_max)} |"
        )
    return "\n".join(lines) + "\n"
