"""``benchmark status STORE``: the grid's state from the store alone (and the run folders its records name).

For every cell of every plan a runner recorded (``STORE/grid/plans``) the state is ``done`` (the store holds
its run, or its pre-training record), ``running`` (a live claim), ``failed`` (a failure record), ``stale`` (a
claim whose owner died or stopped its heartbeat: the next runner takes it over) or ``remaining``. Running
fine-tuning cells show their epoch (the last row of the run folder's ``training_log.csv``) and an ETA from the
time per epoch so far. Works while SLURM jobs elsewhere write to the same store.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchmark.grid import records

__all__ = ["CellStatus", "grid_status", "status_text"]

STATES = ("done", "running", "failed", "stale", "remaining")


@dataclass
class CellStatus:
    cell_id: str
    row: str
    dataset: str
    state: str
    detail: str = ""
    fold: int | None = None  # the fine-tuning cell's cross-validation fold (None: official split)


def _epoch_progress(run_dir: Path, profile: str, architecture: str) -> tuple[int, int] | None:
    """``(epochs done, epochs in the budget)`` from the run folder's training log, ``None`` without one."""
    from benchmark.training.profiles import PROFILES

    log = run_dir / "training_log.csv"
    if not log.is_file():
        return None
    try:
        with open(log, newline="") as fh:
            rows = list(csv.DictReader(fh))
        done = int(rows[-1]["epoch"]) + 1 if rows else 0
        total = PROFILES.get(profile).epochs("deformable_detr" if "detr" in architecture else "retina_unet")
    except (OSError, KeyError, ValueError):
        return None
    return done, total


def _running_detail(claim: dict, cell: dict, now: float) -> str:
    from benchmark.estimates import format_duration

    where = f"{claim.get('host')} pid {claim.get('pid')}"
    elapsed = now - float(claim.get("started", now))
    key = cell.get("key")
    progress = _epoch_progress(Path(claim.get("run_dir", "")), cell["profile"], key["architecture"]) if key else None
    if progress is None:
        return f"{where}, {format_duration(elapsed)} so far, epoch -"
    done, total = progress
    eta = format_duration(elapsed / done * (total - done)) if done else "unknown"
    return f"{where}, epoch {done}/{total}, ETA {eta}"


def grid_status(store: str | Path, now: float | None = None) -> list[CellStatus]:
    """The state of every planned cell of ``store`` (see the module docstring)."""
    from analysis.store import has_run
    from benchmark.core.run_key import RunKey
    from benchmark.grid.locks import claim_is_stale

    now = time.time() if now is None else now
    cells: dict[str, dict] = {}
    for plan_file in sorted((records.grid_dir(store) / "plans").glob("*.json")):
        plan = records.read_json(plan_file) or {}
        for cell in plan.get("cells", []):
            cells.setdefault(cell["id"], cell)
    statuses = []
    for cell_id, cell in cells.items():
        key = RunKey.from_json(cell["key"]) if cell.get("key") else None
        row = f"{key.architecture}__{key.pretraining}" if key else f"pretrain:{cell['method']}__{cell['encoder']}"
        dataset = key.dataset if key else "-"
        claim = records.read_json(records.claim_path(store, cell_id))
        failure = records.read_json(records.failure_path(store, cell_id))
        done = has_run(store, key) if key else records.pretraining_path(store, cell_id).is_file()
        if done:
            state, detail = "done", ""
        elif claim is not None and not claim_is_stale(claim):
            state, detail = "running", _running_detail(claim, cell, now)
        elif claim is not None:
            state, detail = "stale", f"claim of {claim.get('host')} pid {claim.get('pid')} is stale"
        elif failure is not None:
            state = "failed"
            detail = f"{failure.get('error')} (attempts {failure.get('attempts')}, log {failure.get('log')})"
        else:
            state, detail = "remaining", ""
        statuses.append(CellStatus(cell_id, row, dataset, state, detail, key.fold if key else None))
    return statuses


def status_text(store: str | Path, now: float | None = None) -> str:
    """A table of counts per row and dataset, then one line per running, failed or stale cell."""
    statuses = grid_status(store, now)
    if not statuses:
        return f"{store}: no grid plan recorded yet (benchmark run --store {store} records one when it starts)"
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATES, 0))
    folds: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in statuses:
        counts[(s.row, s.dataset)][s.state] += 1
        if s.fold is not None:
            folds[(s.row, s.dataset)].add(s.fold)
    # a folds column only when some cell has a fold ("-": the official split)
    labels = {k: ",".join(map(str, sorted(folds[k]))) if folds[k] else "-" for k in counts} if folds else {}
    width = max(len(r) for r, _ in counts) + 2
    fw = max(7, *(len(v) + 2 for v in labels.values())) if labels else 0
    lines = [f"{'row':<{width}}{'dataset':<9}{'folds' if fw else '':<{fw}}" + "".join(f"{name:>10}" for name in STATES)]
    for (row, dataset), c in sorted(counts.items()):
        lines.append(
            f"{row:<{width}}{dataset:<9}{labels.get((row, dataset), ''):<{fw}}"
            + "".join(f"{c[name]:>10}" for name in STATES)
        )
    total = {name: sum(1 for s in statuses if s.state == name) for name in STATES}
    lines.append(f"{'total':<{width}}{'':<9}{'':<{fw}}" + "".join(f"{total[name]:>10}" for name in STATES))
    for s in statuses:
        if s.state in ("running", "failed", "stale"):
            lines.append(f"{s.state} {s.cell_id}: {s.detail}")
    return "\n".join(lines)
