"""The one function every executor runs for a cell: :func:`run_cell_job`.

It skips a cell already done, refuses one whose dependencies are not done, claims it (:mod:`.locks`), runs
it (fine-tuning through :func:`benchmark.experiment.run_experiment`, which resumes from the run folder's last
checkpoint; pre-training through :mod:`.pretrain`), writes the store entry or the failure record with its log
path, and releases the claim. Exceptions never escape: a failing cell does not stop the others.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.grid.cells import FINETUNE, Cell
from benchmark.runner import SuiteConfig

__all__ = ["BLOCKED", "BUSY", "DONE", "FAILED", "SKIPPED", "UNFINISHED", "Outcome", "run_cell_job"]

DONE, SKIPPED, BUSY, BLOCKED, FAILED, UNFINISHED = "done", "skipped", "busy", "blocked", "failed", "unfinished"


@dataclass
class Outcome:
    """What happened to one cell in this process."""

    cell_id: str
    status: str
    message: str = ""
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    log: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_dir_of(cfg: SuiteConfig, cell: Cell) -> Path:
    from benchmark.runner import experiment_config_for_key

    if cell.kind == FINETUNE:
        return experiment_config_for_key(cfg, cell.key).run_dir()
    return Path(cfg.runs) / "pretraining" / f"{cell.method}__{cell.encoder}" / cell.profile


def run_cell_job(cfg: SuiteConfig, cell: Cell, deps: tuple[Cell, ...] = ()) -> Outcome:
    """Run ``cell`` of ``cfg`` once, safely alongside other runners (see the module docstring)."""
    from benchmark.grid import records
    from benchmark.grid.locks import claim_cell

    if not cfg.force and records.is_done(cfg, cell):
        return Outcome(cell.id, SKIPPED, "already in the store")
    missing = [d.id for d in deps if not records.is_done(cfg, d)]
    if missing:
        return Outcome(cell.id, BLOCKED, f"waiting for {', '.join(missing)}")
    log = records.log_path(cfg.store, cell.id)
    run_dir = run_dir_of(cfg, cell)
    info = {"run_dir": str(run_dir.resolve()), "log": str(log), "kind": cell.kind, "row": cell.row}
    claim = claim_cell(cfg.store, cell.id, info, stale_after=cfg.stale_after)
    if claim is None:
        return Outcome(cell.id, BUSY, "claimed by another runner")
    with claim:
        if not cfg.force and records.is_done(cfg, cell):  # finished by another runner meanwhile
            return Outcome(cell.id, SKIPPED, "finished by another runner")
        t0 = time.perf_counter()
        try:
            outcome = _execute(cfg, cell, run_dir)
        except Exception as err:  # noqa: BLE001 - recorded, and the grid goes on
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {cell.id} failed\n{traceback.format_exc()}\n")
            text = f"{type(err).__name__}: {err}"
            records.record_failure(cfg.store, cell, text, log)
            return Outcome(cell.id, FAILED, text, time.perf_counter() - t0, log=str(log))
        outcome.seconds = time.perf_counter() - t0
        if outcome.status == DONE:
            records.clear_failure(cfg.store, cell.id)
        return outcome


def _execute(cfg: SuiteConfig, cell: Cell, run_dir: Path) -> Outcome:
    from benchmark.core.atomic import atomic_write_json
    from benchmark.grid import records

    if cell.kind != FINETUNE:
        from benchmark.grid.pretrain import run_pretraining_cell

        checkpoint = run_pretraining_cell(
            cell.method, cell.encoder, cell.profile, cfg.data_root, cfg.device, cfg.progress
        )
        record = {"cell": cell.to_json(), "checkpoint": str(checkpoint), "run_dir": str(run_dir), "time": time.time()}
        atomic_write_json(records.pretraining_path(cfg.store, cell.id), record, indent=2)
        return Outcome(cell.id, DONE, f"checkpoint {checkpoint}")

    from analysis.store import write_run
    from benchmark import experiment as experiment_module
    from benchmark.metrics.protocols.luna16_tables import LUNA16_FOLDER
    from benchmark.runner import experiment_config_for_key

    k = cell.key
    experiment = experiment_module.run_experiment(experiment_config_for_key(cfg, k))
    if not experiment.finished:
        return Outcome(cell.id, UNFINISHED, f"training stopped early; rerun to resume ({experiment.run_dir})")
    write_run(
        cfg.store,
        k,
        experiment.match_table,
        provenance=experiment.provenance,
        extra={"protocol_metrics": experiment.metrics, "run_dir": str(experiment.run_dir)},
        attachments=[p for p in (experiment.run_dir / LUNA16_FOLDER,) if p.is_dir()],
    )
    return Outcome(cell.id, DONE, "", metrics=dict(experiment.metrics))
