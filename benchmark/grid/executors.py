"""Executors: who runs the cells of a plan. All of them end in :func:`benchmark.grid.execute.run_cell_job`.

* ``local`` (default): one cell after the other in this process.
* ``local`` with ``--gpus 0,1``: one cell per GPU at a time, each in a subprocess
  (``python -m benchmark.grid.worker``) with ``CUDA_VISIBLE_DEVICES`` set to its GPU and its output in the
  cell's log; a cell starts once its dependencies are done.
* ``slurm``: :mod:`benchmark.grid.slurm` (submitit job arrays with dependencies).

Cells claimed by another runner are left to it (reported as remaining); cells whose dependency failed are
reported as blocked. ``report`` receives every :class:`~benchmark.grid.execute.Outcome` as it happens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmark.grid.cells import Cell, GridPlan
from benchmark.grid.execute import BLOCKED, FAILED, Outcome, run_cell_job
from benchmark.runner import SuiteConfig

__all__ = ["run_gpu_pool", "run_local"]

Report = Callable[[Cell, Outcome], None]


def run_local(cfg: SuiteConfig, plan: GridPlan, report: Report, before: Callable[[Cell], None] | None = None) -> None:
    """Run the plan's remaining cells in order in this process."""
    by_id = plan.by_id()
    for cell in plan.todo:
        if before is not None:
            before(cell)
        report(cell, run_cell_job(cfg, cell, tuple(by_id[d] for d in cell.deps)))


def run_gpu_pool(cfg: SuiteConfig, plan: GridPlan, gpus: tuple[str, ...], report: Report, poll: float = 1.0) -> None:
    """One worker subprocess per GPU at a time; dependencies first; every outcome reported."""
    from benchmark.grid import records
    from benchmark.grid.worker import job_record

    by_id = plan.by_id()
    jobs_dir = records.grid_dir(cfg.store) / "jobs" / f"local-{os.getpid()}-{int(time.time())}"
    results = jobs_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    pending = list(plan.todo)
    outcome_of: dict[str, str] = {c.id: "done" for c in plan.cells if c.id in plan.done}
    running: dict[str, tuple[subprocess.Popen, Cell]] = {}
    free = list(gpus)
    while pending or running:
        for gpu, (proc, cell) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[gpu]
            free.append(gpu)
            found = records.read_json(results / f"{cell.id}.json")
            outcome = (
                Outcome(**found)
                if found
                else Outcome(
                    cell.id,
                    FAILED,
                    f"worker exited with code {proc.returncode}",
                    log=str(records.log_path(cfg.store, cell.id)),
                )
            )
            if found is None:
                records.record_failure(cfg.store, cell, outcome.message, Path(outcome.log or ""))
            outcome_of[cell.id] = outcome.status
            report(cell, outcome)
        for cell in list(pending):
            if not free:
                break
            states = [outcome_of.get(d) for d in cell.deps]
            if any(s is not None and s != "done" and s != "skipped" for s in states):
                pending.remove(cell)
                outcome_of[cell.id] = BLOCKED
                report(cell, Outcome(cell.id, BLOCKED, f"dependency not done: {', '.join(cell.deps)}"))
                continue
            if any(s is None for s in states):
                continue  # dependency still queued or running
            pending.remove(cell)
            gpu = free.pop(0)
            job = jobs_dir / f"{cell.id}.json"
            job.write_text(json.dumps(job_record(cfg, [cell], by_id, results)))
            log = records.log_path(cfg.store, cell.id)
            log.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
            with open(log, "a") as fh:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "benchmark.grid.worker", str(job)],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            running[gpu] = (proc, cell)
        if running:
            time.sleep(poll)
