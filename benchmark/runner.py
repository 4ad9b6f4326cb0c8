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
    architectures: tuple[str, ...] = ()  # empty: the paper's rows (benchmark.grid.rows); see select_rows
    pretraining: tuple[str, ...] = ()
    profile: str = "cpu"
    store: str = "results"
    runs: str = "runs"
    real: bool = False
    seed: int = 0  # training seed of every experiment (unless ``seeds``) and seed of the bootstrap
    seeds: tuple[int, ...] = ()  # training seeds (each experiment once per seed); empty: (seed,)
    folds: tuple[int, ...] | str = ()  # cross-validation folds (or 'all'); empty: official splits (grid/folds.py)
    data_root: str | None = None
    workers: int = 1
    device: str = "auto"
    force: bool = False
    analyze: bool = True
    replicates: int = 1000
    progress: bool = True
    classical: bool = True  # add the classical reference row (no learning) per dataset (benchmark.classical)
    # the grid (benchmark/grid, docs/grid.md)
    only: tuple[str, ...] = ()  # --only filters: field=value[,field=value]
    exclude: tuple[str, ...] = ()
    executor: str = "local"  # local | slurm
    gpus: tuple[str, ...] = ()  # local: one cell per listed GPU at a time (subprocesses)
    jobs: int = 1  # local on CPU: cells at a time; above 1 each runs in a subprocess (benchmark.grid.executors)
    stale_after: float = 600.0  # seconds without heartbeat after which another runner may take a cell over
    slurm_folder: str | None = None  # submitit's job folder (default STORE/grid/slurm)
    slurm_partition: str | None = None
    slurm_constraint: str | None = None
    slurm_parallelism: int = 64
    # low-data and fine-tuning grid axes (docs/training.md): every cell once per fraction and strategy
    fractions: tuple[float, ...] = ()  # empty: (1.0,)
    finetunes: tuple[str, ...] = ()  # empty: ("full",)
    subset_seed: int = 0
    lora_rank: int = 8
    lora_alpha: float = 16.0
    partial_stages: int = 1


@dataclass
class SuiteResult:
    store: Path
    ran: list[RunKey] = field(default_factory=list)
    skipped: list[RunKey] = field(default_factory=list)
    unfinished: list[RunKey] = field(default_factory=list)
    failed: list[tuple[str, str, str | None]] = field(default_factory=list)  # (cell, error, log path)
    remaining: list[tuple[str, str]] = field(default_factory=list)  # (cell, why): claimed elsewhere, blocked
    pretrained: list[str] = field(default_factory=list)
    skipped_rows: list[tuple[str, str]] = field(default_factory=list)
    analysis_files: list[Path] = field(default_factory=list)
    analysis_dir: Path | None = None
    scores: dict[RunKey, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    references: list[RunKey] = field(default_factory=list)  # classical reference rows written or found


def suite_rows(cfg: SuiteConfig):  # noqa: ANN201 - (list[Row], list[tuple[Row, str]])
    """The model rows of ``cfg`` (validated) and the rows skipped because their pre-training is not registered."""
    from benchmark.grid.rows import available_rows, select_rows
    from models.registry import ARCHITECTURES
    from pretraining.registry import PRETRAINING

    for name in cfg.architectures:
        ARCHITECTURES.get(name)
    for name in cfg.pretraining:
        PRETRAINING.get(name)
    return available_rows(select_rows(tuple(cfg.architectures), tuple(cfg.pretraining)))


def suite_grid(cfg: SuiteConfig) -> list[tuple[str, str, str]]:
    """(dataset id, architecture, pre-training) triples of the runnable rows, validated against the registries."""
    from benchmark.grid.cells import suite_datasets

    rows, _ = suite_rows(cfg)
    return [(d, r.architecture, r.pretraining) for d in suite_datasets(cfg) for r in rows]


def training_seeds(cfg: SuiteConfig) -> tuple[int, ...]:
    seeds = tuple(cfg.seeds) or (cfg.seed,)
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds must be distinct integers >= 0, got {','.join(map(str, seeds))}")
    return seeds


def training_fractions(cfg: SuiteConfig) -> tuple[float, ...]:
    return tuple(cfg.fractions) or (1.0,)


def finetune_strategies(cfg: SuiteConfig) -> tuple[str, ...]:
    return tuple(cfg.finetunes) or ("full",)


def experiment_config(  # noqa: ANN201
    cfg: SuiteConfig,
    dataset: str,
    arch: str,
    pre: str,
    seed: int,
    fraction: float = 1.0,
    finetune: str = "full",
    fold: int | None = None,
):
    """The ExperimentConfig of one cell; ``fraction`` and ``finetune`` are its low-data and strategy axes, ``fold``
    its cross-validation fold (``None``: the official split)."""
    from benchmark.experiment import ExperimentConfig

    return ExperimentConfig(
        dataset=dataset,
        architecture=arch,
        profile=cfg.profile,
        pretraining=pre,
        seed=seed,
        fold=fold,
        data_root=cfg.data_root,
        runs=cfg.runs,
        workers=cfg.workers,
        device=cfg.device,
        progress=cfg.progress,
        train_fraction=fraction,
        subset_seed=cfg.subset_seed,
        finetune=finetune,
        lora_rank=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        partial_stages=cfg.partial_stages,
    )


def experiment_config_for_key(cfg: SuiteConfig, key: RunKey):  # noqa: ANN201
    """The ExperimentConfig of a fine-tuning cell's key: its fraction and strategy are read from the options."""
    options = dict(key.options)
    return experiment_config(
        cfg,
        key.dataset,
        key.architecture,
        key.pretraining,
        key.seed,
        float(options.get("fraction", 1.0)),
        options.get("finetune", "full"),
        fold=key.fold,
    )


_experiment_config = experiment_config


def plan_suite(cfg: SuiteConfig):  # noqa: ANN201 - benchmark.grid.cells.GridPlan
    """Cells, dependencies, skip decisions and estimates of the suite, without generating data or training."""
    from benchmark.grid.cells import build_plan

    return build_plan(cfg)


def parallel_cells(cfg: SuiteConfig) -> int:
    """How many cells the executor runs at a time: one per GPU with ``--gpus``, else ``--jobs``."""
    return len(cfg.gpus) if cfg.gpus else max(1, cfg.jobs)


def parallel_text(cfg: SuiteConfig) -> str:
    """``on GPUs 0,1`` / ``2 cells at a time on CPU`` / ``''`` (one cell at a time, in this process)."""
    if cfg.executor != "local":
        return ""
    if cfg.gpus:
        return f"on GPUs {','.join(cfg.gpus)}"
    return f"{cfg.jobs} cells at a time on CPU" if cfg.jobs > 1 else ""


def wall_seconds(cfg: SuiteConfig, seconds: float | None, cells: int) -> float | None:
    """The wall time of ``seconds`` of one-at-a-time work run ``parallel_cells`` at a time on this machine.

    Divided by the cells that can run at once: no more than there are cells, and on CPU no more than the cores
    (a --jobs above the core count shares them). Dependencies (pre-training first) make it a lower bound.
    """
    if seconds is None:
        return None
    if cfg.executor != "local":
        return seconds
    from benchmark.grid.executors import usable_cores

    width = parallel_cells(cfg) if cfg.gpus else min(parallel_cells(cfg), usable_cores())
    return seconds / max(1, min(width, cells))


def _say(out: TextIO | None, text: str) -> None:
    if out is None:
        return
    from tqdm import tqdm

    tqdm.write(text, file=out)


def _scores_line(metrics: dict[str, float]) -> str:
    return ", ".join(f"{name} {100 * value:.1f}" for name, value in metrics.items())


def run_suite(cfg: SuiteConfig, out: TextIO | None = sys.stdout) -> SuiteResult:
    """Run (or resume) every cell of the suite and, when all finished, analyse the store.

    ``out`` receives the plan, one line per finished, skipped or failed cell and the summary (``None``: silent).
    A failing cell is recorded (``STORE/grid/failed``, with its log) and the others go on; cells claimed by
    another runner are left to it. The executor is ``cfg.executor`` (benchmark.grid.executors).
    """
    from analysis.store import init_store
    from benchmark.estimates import format_duration
    from benchmark.grid.records import write_plan

    if cfg.replicates < 1:
        raise ValueError(f"--replicates must be >= 1, got {cfg.replicates}")
    init_store(cfg.store)  # a bad store location fails now, not after hours of training
    plan = plan_suite(cfg)
    write_plan(cfg, plan)
    result = SuiteResult(Path(cfg.store))
    result.skipped_rows = [(str(r), why) for r, why in plan.skipped_rows]
    start = time.perf_counter()
    n_ft = len(plan.finetune)
    todo_ft = len([c for c in plan.todo if c.key is not None])
    pre = f", {len(plan.pretrain)} pre-training cell(s)" if plan.pretrain else ""
    parallel = parallel_text(cfg)
    _say(
        out,
        f"plan: {n_ft} experiment(s) ({todo_ft} to run, {n_ft - todo_ft} already in the store){pre}, "
        f"profile {cfg.profile}, seed(s) {','.join(map(str, training_seeds(cfg)))}; results -> {cfg.store}, "
        f"run folders -> {cfg.runs}; "
        f"estimated time {format_duration(wall_seconds(cfg, plan.estimated_seconds(), len(plan.todo)))}"
        + (f" ({parallel})" if parallel else ""),
    )
    for row, why in plan.skipped_rows:
        _say(out, f"skip row {row}: {why}")
    for cell in plan.cells:
        if cell.id in plan.done and cell.key is not None:
            result.skipped.append(cell.key)
            _say(out, f"skip {cell.key}: already in the store (--force reruns it)")
    if cfg.classical and cfg.executor != "slurm":
        result.references = run_references(cfg, sorted({c.key.dataset for c in plan.finetune}), out)
    if cfg.executor == "slurm":
        _run_slurm(cfg, plan, result, out)
    elif cfg.gpus:
        from benchmark.grid.executors import run_gpu_pool

        run_gpu_pool(cfg, plan, tuple(cfg.gpus), lambda cell, o: _record(result, cell, o, out))
    elif cfg.jobs > 1:
        from benchmark.grid.executors import cpu_threads, run_cpu_pool
        from benchmark.grid.records import log_path

        threads = cpu_threads(cfg.profile)
        _say(
            out,
            f"running {cfg.jobs} cells at a time on CPU, each in a subprocess with {threads} thread(s); "
            f"their output goes to {log_path(cfg.store, 'CELL').parent}",
        )
        run_cpu_pool(cfg, plan, cfg.jobs, lambda cell, o: _record(result, cell, o, out))
    else:
        _run_sequential(cfg, plan, result, out)
    finished = not result.unfinished and not result.failed and not result.remaining
    full_data = 1.0 in training_fractions(cfg) and "full" in finetune_strategies(cfg)
    if cfg.analyze and finished and cfg.executor != "slurm" and not full_data:
        _say(out, "no analysis: the rankings need full-data, full fine-tuning cells (add 1.0 to --fractions, full "
                  "to --finetune); benchmark analyze STORE writes the data-efficiency report")
    if cfg.analyze and finished and cfg.executor != "slurm" and full_data:
        from analysis.report import run_analysis
        from analysis.store import open_store
        from benchmark.grid.locks import shared_lock
        from benchmark.grid.records import grid_dir

        # ranked on the smallest training seed; every seed of the store enters the seed-spread table
        with shared_lock(grid_dir(cfg.store), "analysis"):  # two runners finishing together write it in turn
            store = open_store(cfg.store, profile=cfg.profile, seed=min(training_seeds(cfg)))
            _, result.analysis_files = run_analysis(store, n_replicates=cfg.replicates, seed=cfg.seed)
            if len(training_fractions(cfg)) > 1:  # the data-efficiency report (analysis.lowdata)
                from analysis.lowdata import has_lowdata, write_lowdata

                # the curves average every training seed of the store (two-level bootstrap: images and seeds)
                if has_lowdata(cfg.store, cfg.profile):
                    result.analysis_files += write_lowdata(
                        cfg.store, store.analysis_dir / "lowdata", cfg.replicates, cfg.seed, cfg.profile
                    )
        result.analysis_dir = store.analysis_dir
    result.seconds = time.perf_counter() - start
    _say(out, summary_text(result))
    return result


def _record(result: SuiteResult, cell, outcome, out: TextIO | None) -> None:  # noqa: ANN001
    """Sort one cell's outcome into the result and tell it."""
    from benchmark.estimates import format_duration
    from benchmark.grid import execute as ex

    if outcome.status == ex.DONE:
        if cell.key is None:
            result.pretrained.append(cell.id)
            _say(out, f"done {cell} in {format_duration(outcome.seconds)}: {outcome.message}")
        else:
            result.ran.append(cell.key)
            result.scores[cell.key] = dict(outcome.metrics)
            took = format_duration(outcome.seconds)
            _say(out, f"done {cell.key} in {took}: test {_scores_line(outcome.metrics)}")
    elif outcome.status == ex.SKIPPED:
        if cell.key is not None and cell.key not in result.skipped:
            result.skipped.append(cell.key)
        _say(out, f"skip {cell}: {outcome.message}")
    elif outcome.status == ex.UNFINISHED:
        result.unfinished.append(cell.key)
        _say(out, f"unfinished {cell.key}: {outcome.message}")
    elif outcome.status == ex.FAILED:
        result.failed.append((cell.id, outcome.message, outcome.log))
        _say(out, f"FAILED {cell}: {outcome.message} (log: {outcome.log})")
    else:  # busy, blocked
        result.remaining.append((cell.id, outcome.message))
        _say(out, f"{outcome.status} {cell}: {outcome.message}")


def _run_sequential(cfg: SuiteConfig, plan, result: SuiteResult, out: TextIO | None) -> None:  # noqa: ANN001
    """The local executor with a progress bar whose ETA learns from the cells finished so far."""
    from tqdm import tqdm

    from benchmark.estimates import format_duration
    from benchmark.grid.executors import run_local

    remaining = list(plan.todo)
    spent = {"estimated": 0.0, "actual": 0.0}
    bar = tqdm(
        total=len(remaining),
        desc="suite",
        unit="exp",
        disable=not cfg.progress or not remaining,
        file=out if out is not None else sys.stderr,
        bar_format="{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed} elapsed, {postfix}",
    )

    def eta() -> str:
        left = [plan.estimates.get(c.id) for c in remaining]
        if any(v is None for v in left):
            return "ETA unknown (no estimate for this profile)"
        ratio = spent["actual"] / spent["estimated"] if spent["estimated"] > 0 else 1.0
        return f"ETA {format_duration(sum(left) * ratio)}"  # type: ignore[arg-type]

    def before(cell) -> None:  # noqa: ANN001
        k = cell.key
        name = str(cell) if k is None else f"{k.dataset} {k.architecture} {k.pretraining}"
        bar.set_description(name + (f" seed {k.seed}" if k is not None and len(training_seeds(cfg)) > 1 else ""))
        bar.set_postfix_str(eta())

    def report(cell, outcome) -> None:  # noqa: ANN001
        remaining.remove(cell)
        estimate = plan.estimates.get(cell.id)
        if estimate is not None and outcome.status == "done":
            spent["estimated"] += float(estimate)
            spent["actual"] += outcome.seconds
        bar.update(1)
        _record(result, cell, outcome, out)

    try:
        run_local(cfg, plan, report, before)
    finally:
        bar.close()


def _run_slurm(cfg: SuiteConfig, plan, result: SuiteResult, out: TextIO | None) -> None:  # noqa: ANN001
    """Submit the remaining cells as SLURM job arrays (submitit) and return; ``benchmark status`` follows them."""
    from benchmark.grid.records import grid_dir
    from benchmark.grid.slurm import submit_slurm

    folder = Path(cfg.slurm_folder) if cfg.slurm_folder else grid_dir(cfg.store) / "slurm"
    submitted = submit_slurm(cfg, plan, folder)
    for name, ids in submitted.items():
        _say(out, f"submitted {name}: {len(ids)} task(s), job {ids[0].split('_')[0] if ids else '-'}")
        result.remaining.extend((f"{name}[{i}]", "submitted to SLURM") for i in range(len(ids)))
    _say(out, f"follow them with: benchmark status {cfg.store}")


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
    """The classical reference row of every dataset of the suite (under a minute per small twin; skipped when in
    the store)."""
    from analysis.store import has_run
    from benchmark.classical.baseline import run_classical
    from benchmark.grid.locks import shared_lock

    keys = []
    for dataset in datasets:
        ccfg = classical_config(cfg, dataset)
        key = ccfg.run_key()
        keys.append(key)
        # a concurrent runner on the same store may be running this reference: wait for it, then look again
        with shared_lock(cfg.store, "classical-" + str(key).replace("/", "__")):
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
    """The end-of-suite summary: done / failed / remaining counts, time, where results and the analysis are."""
    from benchmark.estimates import format_duration

    lines = [
        f"summary: {len(result.ran)} experiment(s) run, {len(result.skipped)} skipped (already in {result.store}), "
        f"{len(result.failed)} failed, {len(result.remaining)} remaining, {len(result.unfinished)} unfinished, "
        f"in {format_duration(result.seconds)}"
    ]
    if result.pretrained:
        lines.append(f"pre-training cells done: {', '.join(result.pretrained)}")
    if result.skipped_rows:
        lines.append(f"rows not run: {', '.join(f'{r} ({why})' for r, why in result.skipped_rows)}")
    for cell, error, log in result.failed:
        lines.append(f"failed {cell}: {error}" + (f" (log: {log})" if log else ""))
    for cell, why in result.remaining:
        lines.append(f"remaining {cell}: {why}")
    if result.unfinished:
        names = ", ".join(str(k) for k in result.unfinished)
        lines.append(f"unfinished (rerun the same command to resume): {names}")
    if result.analysis_dir is not None:
        lines.append(f"analysis: {len(result.analysis_files)} files in {result.analysis_dir}")
    elif result.unfinished or result.failed or result.remaining:
        lines.append("analysis: not run until every cell is done (rerun the same command)")
    return "\n".join(lines)
