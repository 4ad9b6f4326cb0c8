"""The suite runner: every (dataset, architecture, pre-training) experiment of a suite into one results store.

``benchmark run --suite dev`` runs the synthetic twins S01-S05 by default (``--real`` uses converted datasets),
writes each finished experiment's test match table and metrics into the store that ``benchmark analyze``
reads (docs/analysis.md), and skips experiments already in the store, so an interrupted suite resumes.

Each experiment is one :class:`~benchmark.core.run_key.RunKey` (dataset, architecture, pre-training, profile,
fold, seed, options). The same key names the experiment's run folder (shared with ``benchmark train``) and its
store entry, so a rerun with another profile or seed into the same store runs new experiments and keeps the old
ones, and a finished ``benchmark train`` run is picked up instead of being trained again.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from benchmark.core.run_key import RunKey


@dataclass(frozen=True)
class SuiteConfig:
    """A grid of experiments; ``store`` is the results folder, ``runs`` holds checkpoints and predictions."""

    suite: str = "dev"
    architectures: tuple[str, ...] = ("retina_unet", "deformable_detr")
    pretraining: tuple[str, ...] = ("default", "fixed")
    profile: str = "cpu"
    store: str = "results"
    runs: str = "runs"
    real: bool = False
    seed: int = 0  # training seed of every experiment (unless ``seeds``) and seed of the bootstrap
    seeds: tuple[int, ...] = ()  # training seeds (each experiment once per seed); empty: (seed,)
    data_root: str | None = None
    workers: int = 1
    device: str = "auto"
    force: bool = False
    analyze: bool = True
    replicates: int = 1000
    progress: bool = True
    classical: bool = True  # add the classical reference row (no learning) per dataset (benchmark.classical)


@dataclass
class SuiteResult:
    store: Path
    ran: list[RunKey] = field(default_factory=list)
    skipped: list[RunKey] = field(default_factory=list)
    unfinished: list[RunKey] = field(default_factory=list)
    analysis_files: list[Path] = field(default_factory=list)
    analysis_dir: Path | None = None
    scores: dict[RunKey, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    references: list[RunKey] = field(default_factory=list)  # classical reference rows written or found


def suite_grid(cfg: SuiteConfig) -> list[tuple[str, str, str]]:
    """(dataset id, architecture, pre-training) triples, validated against the registries.

    Combinations the paper does not run (Table 3: a self-supervised setting on a plain encoder) are left out.
    """
    from benchmark.datasets import resolve_suite
    from models.registry import ARCHITECTURES
    from pretraining.registry import PRETRAINING, applicable

    specs = resolve_suite(cfg.suite)
    for name in cfg.architectures:
        ARCHITECTURES.get(name)
    for name in cfg.pretraining:
        PRETRAINING.get(name)
    ids = [s.twin_id if not cfg.real else s.id for s in specs]
    grid = itertools.product(ids, cfg.architectures, cfg.pretraining)
    return [(d, a, p) for d, a, p in grid if applicable(PRETRAINING.get(p), a)]


def training_seeds(cfg: SuiteConfig) -> tuple[int, ...]:
    seeds = tuple(cfg.seeds) or (cfg.seed,)
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds must be distinct integers >= 0, got {','.join(map(str, seeds))}")
    return seeds


def _experiment_config(cfg: SuiteConfig, dataset: str, arch: str, pre: str, seed: int):  # noqa: ANN202
    from benchmark.experiment import ExperimentConfig

    return ExperimentConfig(
        dataset=dataset,
        architecture=arch,
        profile=cfg.profile,
        pretraining=pre,
        seed=seed,
        data_root=cfg.data_root,
        runs=cfg.runs,
        workers=cfg.workers,
        device=cfg.device,
        progress=cfg.progress,
    )


@dataclass
class SuitePlan:
    """What the runner will do: every experiment with its key, and the ones already in the store."""

    cells: list[tuple[tuple[str, str, str, int], RunKey]]  # ((dataset, architecture, pretraining, seed), key)
    done: set[RunKey]
    estimates: dict[RunKey, float | None]
    twin_seconds: float

    @property
    def todo(self) -> list[tuple[tuple[str, str, str, int], RunKey]]:
        return [(t, k) for t, k in self.cells if k not in self.done]

    def estimated_seconds(self) -> float | None:
        values = [self.estimates[k] for _, k in self.todo]
        if any(v is None for v in values):
            return None
        return float(sum(values)) + self.twin_seconds  # type: ignore[arg-type]


def plan_suite(cfg: SuiteConfig) -> SuitePlan:
    """Keys, skip decisions and time estimates of the suite, without generating data or training."""
    from analysis.store import has_run
    from benchmark.estimates import estimate_experiment_seconds, estimate_twin_seconds
    from benchmark.experiment import default_data_root, scale_of_profile

    cells = [
        ((*t, seed), _experiment_config(cfg, *t, seed).run_key())
        for t in suite_grid(cfg)
        for seed in training_seeds(cfg)
    ]
    done = set() if cfg.force else {k for _, k in cells if has_run(cfg.store, k)}
    estimates = {k: estimate_experiment_seconds(cfg.profile, k.architecture, cfg.device) for _, k in cells}
    twin_seconds = 0.0
    if not cfg.real:
        data_root = Path(cfg.data_root) if cfg.data_root else default_data_root()
        scale = scale_of_profile(cfg.profile)
        missing = {k.dataset for _, k in cells if k not in done}
        present = {p.name.split("_")[0] for p in (data_root / "synthetic" / scale).glob("S0*") if p.is_dir()}
        twin_seconds = estimate_twin_seconds(scale) * len(missing - present)
    return SuitePlan(cells, done, estimates, twin_seconds)


def _say(out: TextIO | None, text: str) -> None:
    if out is None:
        return
    from tqdm import tqdm

    tqdm.write(text, file=out)


def _scores_line(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {100 * value:.1f}" for name, value in metrics.items())


def run_suite(cfg: SuiteConfig, out: TextIO | None = sys.stdout) -> SuiteResult:
    """Run (or resume) every experiment of the suite and, when all finished, analyse the store.

    ``out`` receives the plan, one line per finished or skipped experiment and the summary (``None``: silent).
    """
    from tqdm import tqdm

    from analysis.store import init_store, write_run
    from benchmark import experiment as experiment_module
    from benchmark.estimates import format_duration

    if cfg.replicates < 1:
        raise ValueError(f"--replicates must be >= 1, got {cfg.replicates}")
    init_store(cfg.store)  # a bad store location fails now, not after hours of training
    plan = plan_suite(cfg)
    result = SuiteResult(Path(cfg.store))
    start = time.perf_counter()
    estimate = plan.estimated_seconds()
    _say(
        out,
        f"plan: {len(plan.cells)} experiment(s) ({len(plan.todo)} to run, {len(plan.done)} already in the store), "
        f"profile {cfg.profile}, seed(s) {','.join(map(str, training_seeds(cfg)))}; results -> {cfg.store}, "
        f"run folders -> {cfg.runs}; "
        f"estimated time {format_duration(estimate)}",
    )
    for _, key in plan.cells:
        if key in plan.done:
            result.skipped.append(key)
            _say(out, f"skip {key}: already in the store (--force reruns it)")
    if cfg.classical:
        result.references = run_references(cfg, sorted({k.dataset for _, k in plan.cells}), out)
    spent_estimated, spent_actual = 0.0, 0.0
    remaining = list(plan.todo)
    bar = tqdm(
        total=len(remaining),
        desc="suite",
        unit="exp",
        disable=not cfg.progress or not remaining,
        file=out if out is not None else sys.stderr,
        bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed} elapsed, {postfix}",
    )

    def eta() -> str:
        left = [plan.estimates[k] for _, k in remaining]
        if any(v is None for v in left):
            return "ETA unknown (no estimate for this profile)"
        ratio = spent_actual / spent_estimated if spent_estimated > 0 else 1.0
        return f"ETA {format_duration(sum(left) * ratio)}"  # type: ignore[arg-type]

    try:
        while remaining:
            (dataset, arch, pre, seed), key = remaining[0]
            bar.set_description(f"{dataset} {arch} {pre}" + (f" seed {seed}" if len(training_seeds(cfg)) > 1 else ""))
            bar.set_postfix_str(eta())
            t0 = time.perf_counter()
            experiment = experiment_module.run_experiment(_experiment_config(cfg, dataset, arch, pre, seed))
            took = time.perf_counter() - t0
            remaining.pop(0)
            if plan.estimates[key] is not None:
                spent_estimated += float(plan.estimates[key])  # type: ignore[arg-type]
                spent_actual += took
            bar.update(1)
            if not experiment.finished:
                result.unfinished.append(key)
                _say(out, f"unfinished {key}: training stopped early; rerun to resume ({experiment.run_dir})")
                continue
            write_run(
                cfg.store,
                key,
                experiment.match_table,
                provenance=experiment.provenance,
                extra={"protocol_metrics": experiment.metrics, "run_dir": str(experiment.run_dir)},
            )
            result.ran.append(key)
            result.scores[key] = dict(experiment.metrics)
            _say(out, f"done {key} in {format_duration(took)}: test {_scores_line(experiment.metrics)}")
    finally:
        bar.close()
    if cfg.analyze and not result.unfinished:
        from analysis.report import run_analysis
        from analysis.store import open_store

        # ranked on the smallest training seed; every seed of the store enters the seed-spread table
        store = open_store(cfg.store, profile=cfg.profile, seed=min(training_seeds(cfg)))
        _, result.analysis_files = run_analysis(store, n_replicates=cfg.replicates, seed=cfg.seed)
        result.analysis_dir = store.analysis_dir
    result.seconds = time.perf_counter() - start
    _say(out, summary_text(result))
    return result


def classical_config(cfg: SuiteConfig, dataset: str):  # noqa: ANN201 - ClassicalConfig
    """The classical reference run of ``dataset`` beside this suite's runs (same profile, smallest seed)."""
    from benchmark.classical.baseline import ClassicalConfig

    return ClassicalConfig(
        dataset=dataset,
        profile=cfg.profile,
        seed=min(training_seeds(cfg)),
        data_root=cfg.data_root,
        runs=cfg.runs,
        store=cfg.store,
        workers=cfg.workers,
        progress=cfg.progress,
    )


def run_references(cfg: SuiteConfig, datasets: list[str], out: TextIO | None) -> list[RunKey]:
    """The classical reference row of every dataset of the suite (seconds per twin; skipped when in the store)."""
    from analysis.store import has_run
    from benchmark.classical.baseline import run_classical

    keys = []
    for dataset in datasets:
        ccfg = classical_config(cfg, dataset)
        key = ccfg.run_key()
        keys.append(key)
        if has_run(cfg.store, key) and not cfg.force:
            _say(out, f"skip {key}: classical reference row already in the store")
            continue
        done = run_classical(ccfg)
        _say(
            out,
            f"reference {key} (classical, no learning) in {done.seconds:.0f} s: test {_scores_line(done.metrics)} "
            f"(validation map@0.1 {100 * done.validation_map:.1f})",
        )
    return keys


def summary_text(result: SuiteResult) -> str:
    """The end-of-suite summary: counts, time, where results and the analysis are."""
    from benchmark.estimates import format_duration

    lines = [
        f"summary: {len(result.ran)} experiment(s) run, {len(result.skipped)} skipped (already in {result.store}), "
        f"{len(result.unfinished)} unfinished, in {format_duration(result.seconds)}"
    ]
    if result.unfinished:
        names = ", ".join(str(k) for k in result.unfinished)
        lines.append(f"unfinished (rerun the same command to resume): {names}")
    if result.analysis_dir is not None:
        lines.append(f"analysis: {len(result.analysis_files)} files in {result.analysis_dir}")
    elif result.unfinished:
        lines.append("analysis: not run while experiments are unfinished")
    return "\n".join(lines)
