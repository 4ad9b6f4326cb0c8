"""Entry point of a cell run in its own process: ``python -m benchmark.grid.worker JOB.json [INDEX]``.

A job file holds the suite configuration and a list of cells (with their dependencies); ``INDEX`` picks one
(a SLURM array task passes ``$SLURM_ARRAY_TASK_ID``; default 0). The outcome is printed as one JSON line and,
when the job names a ``results`` folder, written there as ``<cell>.json``. Local GPU subprocesses and the
``sbatch`` scripts of ``--executor slurm --dry-run`` run cells through this module; submitit jobs call
:func:`run_job_cells` directly. All of them end in :func:`benchmark.grid.execute.run_cell_job`.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from benchmark.core.atomic import atomic_write_json
from benchmark.grid.cells import Cell, cell_from_json
from benchmark.runner import SuiteConfig

__all__ = ["code_change_note", "config_from_json", "config_to_json", "job_record", "main", "run_job_cells"]


def config_to_json(cfg: SuiteConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_json(obj: dict[str, Any]) -> SuiteConfig:
    fields = {f.name: f for f in dataclasses.fields(SuiteConfig)}
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in obj.items() if k in fields}
    return SuiteConfig(**values)


def job_record(cfg: SuiteConfig, cells: list[Cell], by_id: dict[str, Cell], results: Path | None = None) -> dict:
    """A job file's content: the config, the cells and each cell's dependency cells, and the code revision of the
    process that wrote it (the worker says when it runs other code, see :func:`code_change_note`)."""
    from benchmark.provenance import git_revision

    return {
        "config": config_to_json(cfg),
        "code_revision": git_revision(),
        "cells": [{"cell": c.to_json(), "deps": [by_id[d].to_json() for d in c.deps if d in by_id]} for c in cells],
        "results": str(results) if results else None,
    }


def code_change_note(expected: str | None, current: str) -> str:
    """A warning when this worker runs other code than the runner that planned the job, else ``""``.

    A cell subprocess imports the package from disk when it starts, so a ``git pull`` or a commit in the working
    tree during a long grid run gives later cells other code than earlier ones; their results then differ by
    about a training seed's worth (docs/training.md, "Reruns"). The run goes on (the code may be a harmless
    fix); the cell's log and ``result.json`` provenance say which revision ran, and the report names the
    revisions of a store when there are several.
    """
    from benchmark.provenance import short_revision

    if not expected or expected == current or "unknown" in (expected, current):
        return ""
    return (f"warning: this cell runs code revision {short_revision(current)}, the runner that planned it ran "
            f"{short_revision(expected)}: the code changed under the grid run, so its cells may mix revisions")


def run_job_cells(job: dict, index: int) -> dict:
    """Run cell ``index`` of ``job`` (a :func:`job_record`); the outcome as JSON."""
    from benchmark.grid.execute import run_cell_job
    from benchmark.provenance import git_revision

    note = code_change_note(job.get("code_revision"), git_revision())
    if note:
        print(note, file=sys.stderr, flush=True)
    cfg = config_from_json(job["config"])
    entry = job["cells"][index]
    outcome = run_cell_job(cfg, cell_from_json(entry["cell"]), tuple(cell_from_json(d) for d in entry["deps"]))
    result = outcome.to_json()
    if job.get("results"):
        atomic_write_json(Path(job["results"]) / f"{outcome.cell_id}.json", result, indent=2)
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or len(argv) > 2:
        print("usage: python -m benchmark.grid.worker JOB.json [INDEX]", file=sys.stderr)
        return 2
    job = json.loads(Path(argv[0]).read_text())
    index = int(argv[1]) if len(argv) > 1 else 0
    result = run_job_cells(job, index)
    print(json.dumps(result), flush=True)
    return 1 if result["status"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
