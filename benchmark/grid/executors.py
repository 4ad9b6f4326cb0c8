"""Executors: who runs the cells of a plan. All of them end in :func:`benchmark.grid.execute.run_cell_job`.

* ``local`` (default): one cell after the other in this process.
* ``local`` with ``--gpus 0,1`` or ``--jobs N``: a pool of slots (:func:`run_pool`), one cell per slot at a
  time, each in a subprocess (``python -m benchmark.grid.worker``) with its output in the cell's log; a cell
  starts once its dependencies are done. A GPU slot sets ``CUDA_VISIBLE_DEVICES`` to its GPU; a CPU slot hides
  the GPUs and sets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` to the profile's
  ``num_threads`` (or 1), so N workers use N cores rather than N times every core.
* ``slurm``: :mod:`benchmark.grid.slurm` (submitit job arrays with dependencies).

Cells claimed by another runner are left to it (reported as remaining); cells whose dependency failed are
reported as blocked. ``report`` receives every :class:`~benchmark.grid.execute.Outcome` as it happens.
Shared preparation (a twin's generation, a dataset's preprocessing, a pre-training checkpoint) is under
:func:`benchmark.grid.locks.shared_lock` inside the cell code, so two slots needing it wait for each other.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmark.grid.cells import Cell, GridPlan
from benchmark.grid.execute import BLOCKED, FAILED, Outcome, run_cell_job
from benchmark.runner import SuiteConfig

__all__ = ["Slot", "cpu_slots", "cpu_threads", "gpu_slots", "run_cpu_pool", "run_gpu_pool", "run_local", "run_pool"]

Report = Callable[[Cell, Outcome], None]
#: The module a pool's subprocesses run (``python -m WORKER JOB.json``); the tests put a stand-in here.
WORKER = "benchmark.grid.worker"


def run_local(cfg: SuiteConfig, plan: GridPlan, report: Report, before: Callable[[Cell], None] | None = None) -> None:
    """Run the plan's remaining cells in order in this process."""
    by_id = plan.by_id()
    for cell in plan.todo:
        if before is not None:
            before(cell)
        report(cell, run_cell_job(cfg, cell, tuple(by_id[d] for d in cell.deps)))


@dataclass(frozen=True)
class Slot:
    """One place a pool runs a cell: its name in messages and the environment its worker subprocess gets."""

    name: str
    env: tuple[tuple[str, str], ...] = ()


def gpu_slots(gpus: tuple[str, ...]) -> list[Slot]:
    """One slot per GPU id: the worker sees only that GPU."""
    return [Slot(f"GPU {g}", (("CUDA_VISIBLE_DEVICES", g),)) for g in gpus]


def cpu_threads(profile: str) -> int:
    """Threads per CPU worker: the profile's ``num_threads`` (``cpu``: 1), or 1 when the profile leaves it open."""
    from benchmark.training.profiles import PROFILES

    return PROFILES.get(profile).num_threads or 1


#: memory a `cpu`-profile cell may need at its peak (a `small` twin cell stays below 1 GiB resident; 2 GiB leaves room)
CELL_MEMORY_BYTES = 2 * 1024**3


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one, e.g. under SLURM or taskset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory available now (:func:`benchmark.loading.data.available_memory`), ``None`` when unknown."""
    from benchmark.loading.data import available_memory as memory_now

    return memory_now() or None


def default_jobs(profile: str, device: str, executor: str, gpus: tuple[str, ...]) -> int:
    """``benchmark run``'s ``--jobs`` when none is given: how many cells fit on this machine's CPU at a time.

    A profile that pins its threads (``cpu``: one) leaves the other cores idle when cells run one at a time, so
    on CPU the default runs ``cores // threads`` cells at once (2 on a two-core laptop), no more than the
    available memory holds at :data:`CELL_MEMORY_BYTES` each. One cell at a time for SLURM (every cell is its own
    job), ``--gpus`` (the GPU list sets the parallelism), a CUDA device, and profiles that leave torch its own
    thread count (``paper``, ``tiny``: one process already uses every core).
    """
    from benchmark.training.profiles import PROFILES

    threads = PROFILES.get(profile).num_threads
    if executor != "local" or gpus or device == "cuda" or threads is None:
        return 1
    if device == "auto":
        import torch

        if torch.cuda.is_available():
            return 1
    jobs = usable_cores() // threads
    memory = available_memory()
    if memory is not None:
        jobs = min(jobs, memory // CELL_MEMORY_BYTES)
    return max(1, jobs)


def cpu_slots(jobs: int, threads: int = 1) -> list[Slot]:
    """``jobs`` CPU slots: no GPU visible, and ``threads`` threads for OpenMP, MKL and OpenBLAS (hence torch)."""
    env = (
        ("CUDA_VISIBLE_DEVICES", ""),
        ("OMP_NUM_THREADS", str(threads)),
        ("MKL_NUM_THREADS", str(threads)),
        ("OPENBLAS_NUM_THREADS", str(threads)),
    )
    return [Slot(f"CPU {i}", env) for i in range(jobs)]


def run_gpu_pool(cfg: SuiteConfig, plan: GridPlan, gpus: tuple[str, ...], report: Report, poll: float = 1.0) -> None:
    """One worker subprocess per GPU at a time (:func:`run_pool` over :func:`gpu_slots`)."""
    run_pool(cfg, plan, gpu_slots(gpus), report, poll)


def run_cpu_pool(cfg: SuiteConfig, plan: GridPlan, jobs: int, report: Report, poll: float = 1.0) -> None:
    """Up to ``jobs`` worker subprocesses on CPU at a time (:func:`run_pool` over :func:`cpu_slots`)."""
    run_pool(cfg, plan, cpu_slots(jobs, cpu_threads(cfg.profile)), report, poll)


def run_pool(
    cfg: SuiteConfig,
    plan: GridPlan,
    slots: list[Slot],
    report: Report,
    poll: float = 1.0,
    worker: str | None = None,
) -> None:
    """One worker subprocess per slot at a time; dependencies first; every outcome reported.

    ``worker`` is the module the subprocesses run (default :data:`WORKER`, ``python -m WORKER JOB.json``).
    """
    from benchmark.grid import records
    from benchmark.grid.worker import job_record

    if not slots:
        raise ValueError("a pool needs at least one slot")
    by_id = plan.by_id()
    jobs_dir = records.grid_dir(cfg.store) / "jobs" / f"local-{os.getpid()}-{int(time.time())}"
    results = jobs_dir / "results"
    results.mkdir(parents=True, exist_ok=True)
    pending = list(plan.todo)
    outcome_of: dict[str, str] = {c.id: "done" for c in plan.cells if c.id in plan.done}
    running: dict[int, tuple[subprocess.Popen, Cell]] = {}  # slot index -> its worker and cell
    free = list(range(len(slots)))
    while pending or running:
        for index, (proc, cell) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[index]
            free.append(index)
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
        free.sort()
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
            index = free.pop(0)
            job = jobs_dir / f"{cell.id}.json"
            job.write_text(json.dumps(job_record(cfg, [cell], by_id, results)))
            log = records.log_path(cfg.store, cell.id)
            log.parent.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, **dict(slots[index].env)}
            with open(log, "a") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {cell.id} on {slots[index].name}\n")
                fh.flush()
                proc = subprocess.Popen(
                    [sys.executable, "-m", worker or WORKER, str(job)],
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            running[index] = (proc, cell)
        if running:
            time.sleep(poll)
