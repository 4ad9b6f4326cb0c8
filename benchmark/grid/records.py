"""The grid's records inside a results store, read by runners, cluster jobs and ``benchmark status``.

::

    STORE/grid/
      plans/<hash>.json        every plan a runner started (cells, dependencies, skipped rows, run folders)
      claims/<cell>.json       the cell is running: host, pid, start, heartbeat, run folder, log
      claims/<cell>.lock       filelock guarding the claim's check-and-set
      failed/<cell>.json       the cell's last failure: error, log path, attempts (removed when it succeeds)
      pretraining/<cell>.json  a finished pre-training cell and its checkpoint
      logs/<cell>.log          the cell's log (traceback of a failure; a subprocess's whole output)

A fine-tuning cell is done when the store holds its run (:func:`analysis.store.has_run`).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.core.atomic import atomic_write_json

if TYPE_CHECKING:
    from benchmark.grid.cells import Cell, GridPlan
    from benchmark.runner import SuiteConfig

GRID_DIR = "grid"


def grid_dir(store: str | Path) -> Path:
    return Path(store) / GRID_DIR


def claim_path(store: str | Path, cell_id: str) -> Path:
    return grid_dir(store) / "claims" / f"{cell_id}.json"


def failure_path(store: str | Path, cell_id: str) -> Path:
    return grid_dir(store) / "failed" / f"{cell_id}.json"


def pretraining_path(store: str | Path, cell_id: str) -> Path:
    return grid_dir(store) / "pretraining" / f"{cell_id}.json"


def log_path(store: str | Path, cell_id: str) -> Path:
    return grid_dir(store) / "logs" / f"{cell_id}.log"


def read_json(path: Path) -> dict[str, Any] | None:
    """A record, or ``None`` when absent or unreadable (a record is always written atomically)."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_done(cfg: SuiteConfig, cell: Cell) -> bool:
    from analysis.store import has_run
    from benchmark.grid.cells import FINETUNE

    if cell.kind == FINETUNE:
        return has_run(cfg.store, cell.key)
    return pretraining_path(cfg.store, cell.id).is_file()


def record_failure(store: str | Path, cell: Cell, error: str, log: Path) -> Path:
    path = failure_path(store, cell.id)
    previous = read_json(path) or {}
    record = {
        "cell": cell.to_json(),
        "error": error,
        "log": str(log),
        "attempts": int(previous.get("attempts", 0)) + 1,
        "time": time.time(),
    }
    return atomic_write_json(path, record, indent=2)


def clear_failure(store: str | Path, cell_id: str) -> None:
    failure_path(store, cell_id).unlink(missing_ok=True)


def write_plan(cfg: SuiteConfig, plan: GridPlan) -> Path:
    """Record the plan in the store (one file per distinct plan), so ``benchmark status`` knows every cell."""
    from benchmark.runner import training_seeds

    record = {
        "profile": cfg.profile,
        "suite": cfg.suite,
        "seeds": list(training_seeds(cfg)),
        "runs": str(Path(cfg.runs).resolve()),
        "cells": [c.to_json() for c in plan.cells],
        "skipped_rows": [{"row": str(r), "reason": why} for r, why in plan.skipped_rows],
        "gpu_hours": plan.gpu_hours,
    }
    text = json.dumps(record["cells"], sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return atomic_write_json(grid_dir(cfg.store) / "plans" / f"{digest}.json", record, indent=1)
