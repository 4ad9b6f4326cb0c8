"""Grid cells: the runner's unit of work, with their dependencies, and the plan of a suite.

A **fine-tuning cell** is one :class:`~benchmark.core.run_key.RunKey` (dataset, row, profile, fold, seed); a
**pre-training cell** is one (method, encoder, profile), shared by every fine-tuning cell of a row fine-tuned
from that method on that encoder (``mt`` on the plain encoder serves the Retina U-Net and the Deformable DETR
rows). A fine-tuning cell depends on its pre-training cell; executors run dependencies first (SLURM: job
dependencies). :func:`build_plan` computes the cells, the rows skipped because their pre-training setting is
not registered, the skip decisions (already in the store) and the estimates, without touching any image.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.core.run_key import RunKey
from benchmark.grid.rows import PAPER_ROWS, Row

if TYPE_CHECKING:
    from benchmark.runner import SuiteConfig

__all__ = ["FINETUNE", "PRETRAIN", "Cell", "GridPlan", "build_plan", "cell_from_json", "encoder_of"]

FINETUNE = "finetune"


def PAPER_ORDER(row: Row) -> int:  # noqa: N802 - a sort key
    return PAPER_ROWS.index(row) if row in PAPER_ROWS else len(PAPER_ROWS)


PRETRAIN = "pretrain"


@dataclass(frozen=True)
class Cell:
    """One unit of work. ``key`` is set for fine-tuning cells, ``method``/``encoder`` for pre-training cells."""

    kind: str
    id: str
    profile: str
    key: RunKey | None = None
    method: str | None = None
    encoder: str | None = None
    deps: tuple[str, ...] = ()

    @property
    def row(self) -> str:
        """``arch__pretraining`` of a fine-tuning cell, ``pretrain:<method>__<encoder>`` of a pre-training cell."""
        if self.key is not None:
            return f"{self.key.architecture}__{self.key.pretraining}"
        return f"pretrain:{self.method}__{self.encoder}"

    @property
    def dataset(self) -> str:
        return self.key.dataset if self.key is not None else "-"

    @property
    def architecture(self) -> str:
        return self.key.architecture if self.key is not None else f"{self.encoder}_encoder"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "profile": self.profile,
            "key": self.key.to_json() if self.key is not None else None,
            "method": self.method,
            "encoder": self.encoder,
            "deps": list(self.deps),
        }

    def __str__(self) -> str:
        return str(self.key) if self.key is not None else f"pretraining {self.method} ({self.encoder} encoder)"


def cell_from_json(obj: dict[str, Any]) -> Cell:
    key = RunKey.from_json(obj["key"]) if obj.get("key") else None
    return Cell(obj["kind"], obj["id"], obj["profile"], key, obj.get("method"), obj.get("encoder"), tuple(obj["deps"]))


def finetune_id(key: RunKey) -> str:
    """A file-name-safe id of a fine-tuning cell: its run folder with '.' for '/'."""
    return key.folder.as_posix().replace("/", ".")


def pretrain_cell(method: str, encoder: str, profile: str) -> Cell:
    return Cell(PRETRAIN, f"pretrain.{method}__{encoder}.{profile}", profile, method=method, encoder=encoder)


def encoder_of(architecture: str) -> str:
    """``plain`` or ``resenc``: the encoder a pre-training cell trains for ``architecture``."""
    from models.registry import ARCHITECTURES

    return ARCHITECTURES.get(architecture).encoder_kind


@dataclass
class GridPlan:
    """Every cell of a suite in dependency order (pre-training first), and what is known before running."""

    cells: list[Cell]
    skipped_rows: list[tuple[Row, str]] = field(default_factory=list)
    filtered_out: int = 0
    done: set[str] = field(default_factory=set)
    estimates: dict[str, float | None] = field(default_factory=dict)  # local seconds (None: unknown)
    gpu_hours: dict[str, float] = field(default_factory=dict)
    twin_seconds: float = 0.0

    @property
    def finetune(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == FINETUNE]

    @property
    def pretrain(self) -> list[Cell]:
        return [c for c in self.cells if c.kind == PRETRAIN]

    @property
    def todo(self) -> list[Cell]:
        return [c for c in self.cells if c.id not in self.done]

    def by_id(self) -> dict[str, Cell]:
        return {c.id: c for c in self.cells}

    def estimated_seconds(self) -> float | None:
        values = [self.estimates.get(c.id) for c in self.todo]
        if any(v is None for v in values):
            return None
        return float(sum(values)) + self.twin_seconds  # type: ignore[arg-type]

    def total_gpu_hours(self, todo_only: bool = False) -> float:
        cells = self.todo if todo_only else self.cells
        return float(sum(self.gpu_hours.get(c.id, 0.0) for c in cells))


def build_plan(cfg: SuiteConfig, include_unavailable: bool = False) -> GridPlan:
    """The cells of ``cfg`` (rows x datasets x folds x seeds, filtered), their dependencies, skips and estimates.

    ``include_unavailable`` (``--dry-run``) also plans the rows whose pre-training this build lacks, so the
    plan shows the whole study; they stay listed in ``skipped_rows``.
    """
    from benchmark.estimates import estimate_experiment_seconds, estimate_pretraining_seconds, estimate_twin_seconds
    from benchmark.experiment import default_data_root, scale_of_profile
    from benchmark.grid.estimates import finetune_gpu_hours, pretrain_gpu_hours
    from benchmark.grid.filters import parse_filter
    from benchmark.grid.folds import dataset_folds
    from benchmark.grid.records import is_done
    from benchmark.runner import experiment_config, finetune_strategies, suite_rows, training_fractions, training_seeds

    rows, skipped = suite_rows(cfg)
    if include_unavailable:
        rows = sorted([*rows, *(r for r, _ in skipped)], key=PAPER_ORDER)
    datasets = suite_datasets(cfg)
    only = [parse_filter(t, "--only") for t in cfg.only]
    exclude = [parse_filter(t, "--exclude") for t in cfg.exclude]
    pretrain: dict[tuple[str, str], Cell] = {}
    finetune: list[Cell] = []
    # the low-data and strategy axes multiply the cells: fraction x strategy x seed per (dataset, row)
    axes = [(f, s, n) for f in training_fractions(cfg) for s in finetune_strategies(cfg) for n in training_seeds(cfg)]
    filtered = 0
    for dataset in datasets:
        folds = dataset_folds(cfg, dataset)
        for row in rows:
            if (only and not any(f.matches(row.architecture, row.pretraining, dataset) for f in only)) or any(
                f.matches(row.architecture, row.pretraining, dataset) for f in exclude
            ):
                filtered += len(axes) * len(folds)
                continue
            deps: tuple[str, ...] = ()
            if row.needs_pretraining:
                enc = encoder_of(row.architecture)
                dep = pretrain.setdefault((row.pretraining, enc), pretrain_cell(row.pretraining, enc, cfg.profile))
                deps = (dep.id,)
            for fold in folds:
                for fraction, strategy, seed in axes:
                    exp = experiment_config(
                        cfg, dataset, row.architecture, row.pretraining, seed, fraction, strategy, fold=fold
                    )
                    key = exp.run_key()
                    finetune.append(Cell(FINETUNE, finetune_id(key), cfg.profile, key, deps=deps))
    cells = [*pretrain.values(), *finetune]
    plan = GridPlan(cells, skipped, filtered)
    plan.done = set() if cfg.force else {c.id for c in cells if is_done(cfg, c)}
    for c in cells:
        if c.kind == FINETUNE:
            plan.estimates[c.id] = estimate_experiment_seconds(cfg.profile, c.key.architecture, cfg.device)
            plan.gpu_hours[c.id] = finetune_gpu_hours(cfg.profile, c.key.architecture)
        else:
            plan.estimates[c.id] = estimate_pretraining_seconds(cfg.profile, cfg.device)
            plan.gpu_hours[c.id] = pretrain_gpu_hours(cfg.profile)
    if not cfg.real:
        data_root = Path(cfg.data_root) if cfg.data_root else default_data_root()
        missing = {c.key.dataset for c in plan.todo if c.key is not None}
        scale = scale_of_profile(cfg.profile)
        present = {p.name.split("_")[0] for p in (data_root / "synthetic" / scale).glob("S0*") if p.is_dir()}
        plan.twin_seconds = estimate_twin_seconds(scale) * len(missing - present)
    return plan


def suite_datasets(cfg: SuiteConfig) -> list[str]:
    from benchmark.datasets import resolve_suite

    return [s.id if cfg.real else s.twin_id for s in resolve_suite(cfg.suite)]
