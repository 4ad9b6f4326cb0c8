"""The suite runner: every (dataset, architecture, pre-training) experiment of a suite into one results store.

``benchmark run --suite dev`` runs the synthetic twins S01-S05 by default (``--real`` uses converted datasets),
writes each finished experiment's test match table and metrics into the store that ``benchmark analyze``
reads (docs/analysis.md), and skips experiments already in the store, so an interrupted suite resumes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path


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
    seed: int = 0
    data_root: str | None = None
    workers: int = 1
    device: str = "auto"
    force: bool = False
    analyze: bool = True
    replicates: int = 1000
    progress: bool = True


@dataclass
class SuiteResult:
    store: Path
    ran: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    unfinished: list[tuple[str, str, str]] = field(default_factory=list)
    analysis_files: list[Path] = field(default_factory=list)


def suite_grid(cfg: SuiteConfig) -> list[tuple[str, str, str]]:
    """(dataset id, architecture, pre-training) triples, validated against the registries."""
    from benchmark.datasets import resolve_suite
    from models.registry import ARCHITECTURES
    from pretraining.registry import PRETRAINING

    specs = resolve_suite(cfg.suite)
    for name in cfg.architectures:
        ARCHITECTURES.get(name)
    for name in cfg.pretraining:
        PRETRAINING.get(name)
    ids = [s.twin_id if not cfg.real else s.id for s in specs]
    return list(itertools.product(ids, cfg.architectures, cfg.pretraining))


def run_suite(cfg: SuiteConfig) -> SuiteResult:
    """Run (or resume) every experiment of the suite and, when all finished, analyse the store."""
    from tqdm import tqdm

    from analysis.store import RESULT_FILE, run_dir, write_run
    from benchmark.experiment import ExperimentConfig, run_experiment

    grid = suite_grid(cfg)
    result = SuiteResult(Path(cfg.store))
    for dataset, arch, pre in tqdm(grid, desc="suite", unit="experiment", disable=not cfg.progress):
        key = (dataset, arch, pre)
        if not cfg.force and (run_dir(cfg.store, dataset, arch, pre) / RESULT_FILE).is_file():
            result.skipped.append(key)
            continue
        experiment = run_experiment(
            ExperimentConfig(
                dataset=dataset,
                architecture=arch,
                profile=cfg.profile,
                pretraining=pre,
                seed=cfg.seed,
                data_root=cfg.data_root,
                out=str(Path(cfg.runs) / dataset / f"{arch}__{pre}" / f"{cfg.profile}_seed{cfg.seed}"),
                workers=cfg.workers,
                device=cfg.device,
                progress=cfg.progress,
            )
        )
        if not experiment.finished:
            result.unfinished.append(key)
            continue
        write_run(
            cfg.store,
            dataset,
            arch,
            pre,
            experiment.match_table,
            provenance=experiment.provenance,
            extra={"protocol_metrics": experiment.metrics, "run_dir": str(experiment.run_dir)},
        )
        result.ran.append(key)
    if cfg.analyze and not result.unfinished:
        from analysis.report import run_analysis

        _, result.analysis_files = run_analysis(cfg.store, n_replicates=cfg.replicates, seed=cfg.seed)
    return result
