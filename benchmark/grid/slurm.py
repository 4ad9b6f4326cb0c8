"""The SLURM executor: job arrays with per-cell resources and dependencies, through submitit.

submitit (a dependency of detbench) is used because it submits a Python function as a SLURM job array and
brings its result back, with the same code path on a laptop (``cluster="local"``, real subprocesses), so the
cluster path is tested without a cluster. Each array holds cells of one kind and architecture (and whether
they need a pre-training cell); fine-tuning arrays that need pre-trained encoders depend on the pre-training
tasks they use (``afterok``). Every task runs :func:`benchmark.grid.worker.run_job_cells`, i.e. the same
:func:`benchmark.grid.execute.run_cell_job` as the local executors, so a task whose cell another runner holds
or finished does nothing.

Resources (:func:`resources_for`): one GPU per fine-tuning cell with the GPU memory the paper reports per
architecture (appendix C: ~10 GB Retina U-Net, ~12 GB ResEnc-Retina U-Net, ~11 GB Deformable DETR, ~15 GB
ResEnc-Deformable DETR; from :data:`models.registry.ARCHITECTURES`), wall time from the iteration budget
(:mod:`benchmark.grid.estimates`) x1.5 and at least one hour; pre-training cells get the paper's four GPUs.
SLURM cannot request GPU memory directly: it is written into each script and, with ``--slurm-constraint``,
sites can map it to a GPU type. ``--executor slurm --dry-run`` writes the ``sbatch`` scripts and a
``submit.sh`` that chains them with ``--dependency=afterok:<array job>`` (a whole-array dependency), without
submitting anything.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.grid.cells import FINETUNE, Cell, GridPlan
from benchmark.runner import SuiteConfig

__all__ = ["ArrayGroup", "Resources", "group_cells", "resources_for", "submit_slurm", "write_slurm_scripts"]

TIME_SAFETY = 1.5
MIN_HOURS = 1.0
CPUS_PER_TASK = 8  # nnDetection-style data loading workers
HOST_MEM_GB = 48


@dataclass(frozen=True)
class Resources:
    gpus: int
    gpu_memory_gb: float
    cpus: int
    mem_gb: int
    hours: float

    @property
    def time(self) -> str:
        minutes = int(math.ceil(self.hours * 60))
        return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def resources_for(cell: Cell, gpu_hours: float) -> Resources:
    """The SLURM request of one cell (see the module docstring)."""
    from benchmark.grid.estimates import PRETRAIN_GPUS
    from models.registry import ARCHITECTURES

    if cell.kind == FINETUNE:
        memory = ARCHITECTURES.get(cell.key.architecture).paper_memory_gb
        return Resources(1, memory, CPUS_PER_TASK, HOST_MEM_GB, max(MIN_HOURS, gpu_hours * TIME_SAFETY))
    hours = max(MIN_HOURS, gpu_hours / PRETRAIN_GPUS * TIME_SAFETY)
    return Resources(PRETRAIN_GPUS, 40.0, CPUS_PER_TASK * PRETRAIN_GPUS, HOST_MEM_GB * 2, hours)


@dataclass
class ArrayGroup:
    name: str
    cells: list[Cell]
    resources: Resources
    after: list[str]  # names of groups this one depends on


def group_cells(plan: GridPlan) -> list[ArrayGroup]:
    """Job arrays of the plan's remaining cells: pre-training first, then fine-tuning per architecture."""
    groups: dict[str, ArrayGroup] = {}
    todo = plan.todo
    for cell in todo:
        if cell.kind == FINETUNE:
            name = f"finetune_{cell.key.architecture}" + ("_pretrained" if cell.deps else "")
        else:
            name = "pretrain"
        res = resources_for(cell, plan.gpu_hours.get(cell.id, 0.0))
        group = groups.setdefault(name, ArrayGroup(name, [], res, []))
        group.cells.append(cell)
        if res.hours > group.resources.hours:
            group.resources = res
        if cell.deps and any(d in {c.id for c in todo} for d in cell.deps) and "pretrain" not in group.after:
            group.after.append("pretrain")
    order = sorted(groups.values(), key=lambda g: (g.name != "pretrain", g.name))
    return order


def _parameters(group: ArrayGroup, cfg: SuiteConfig, cluster: str) -> dict[str, Any]:
    r = group.resources
    params: dict[str, Any] = {
        "name": f"detbench-{group.name}",
        "timeout_min": int(math.ceil(r.hours * 60)),
        "cpus_per_task": r.cpus if cluster == "slurm" else 1,
        "mem_gb": r.mem_gb,
        "tasks_per_node": 1,
    }
    if cluster == "slurm":
        params["gpus_per_node"] = r.gpus
        params["slurm_array_parallelism"] = cfg.slurm_parallelism
        if cfg.slurm_partition:
            params["slurm_partition"] = cfg.slurm_partition
        if cfg.slurm_constraint:
            params["slurm_constraint"] = cfg.slurm_constraint
    return params


def submit_slurm(cfg: SuiteConfig, plan: GridPlan, folder: Path, cluster: str = "slurm", wait: bool = False) -> dict:
    """Submit the plan's remaining cells as job arrays; ``cluster='local'`` runs them as local subprocesses.

    Returns ``{group name: [job ids]}``; with ``wait`` (always for ``local``, which has no job dependencies,
    so pre-training finishes before fine-tuning is submitted) also ``"outcomes"``: every task's outcome.
    """
    import submitit

    from benchmark.grid.worker import job_record, run_job_cells

    by_id = plan.by_id()
    submitted: dict[str, Any] = {}
    jobs_of: dict[str, list] = {}
    results: dict[str, dict] = {}  # job id -> outcome

    def collect(jobs: list) -> None:
        for j in jobs:
            if j.job_id not in results:
                results[j.job_id] = j.result()

    for group in group_cells(plan):
        executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=cluster)
        params = _parameters(group, cfg, cluster)
        deps = [j for name in group.after for j in jobs_of.get(name, [])]
        if deps and cluster == "slurm":
            params["slurm_additional_parameters"] = {"dependency": "afterok:" + ":".join(j.job_id for j in deps)}
        elif deps:
            collect(deps)  # no scheduler dependencies off SLURM: wait for the pre-training tasks first
        executor.update_parameters(**params)
        job = job_record(cfg, group.cells, by_id)
        jobs = executor.map_array(run_job_cells, [job] * len(group.cells), list(range(len(group.cells))))
        jobs_of[group.name] = jobs
        submitted[group.name] = [j.job_id for j in jobs]
    if wait or cluster != "slurm":
        for jobs in jobs_of.values():
            collect(jobs)
        submitted["outcomes"] = list(results.values())
    return submitted


def write_slurm_scripts(cfg: SuiteConfig, plan: GridPlan, folder: Path, workdir: Path | None = None) -> list[Path]:
    """Write one ``sbatch`` array script per group, their job files and ``submit.sh``; submit nothing."""
    from benchmark.core.atomic import atomic_write_text
    from benchmark.grid.worker import job_record

    folder = Path(folder)
    (folder / "jobs").mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    by_id = plan.by_id()
    workdir = (workdir or Path.cwd()).resolve()
    python = shlex.quote(sys.executable)
    written: list[Path] = []
    submit = [
        "#!/bin/bash",
        "# Submits the detbench grid; written by `benchmark run --executor slurm --dry-run`.",
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
    ]
    for i, group in enumerate(group_cells(plan)):
        r = group.resources
        job_file = (folder / "jobs" / f"{group.name}.json").resolve()
        job_file.write_text(json.dumps(job_record(cfg, group.cells, by_id), indent=1))
        n = len(group.cells)
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name=detbench-{group.name}",
            f"#SBATCH --array=0-{n - 1}%{min(n, cfg.slurm_parallelism)}",
            f"#SBATCH --gres=gpu:{r.gpus}",
            f"#SBATCH --cpus-per-task={r.cpus}",
            f"#SBATCH --mem={r.mem_gb}G",
            f"#SBATCH --time={r.time}",
            f"#SBATCH --output={(folder / 'logs').resolve()}/%x_%A_%a.out",
        ]
        if cfg.slurm_partition:
            lines.append(f"#SBATCH --partition={cfg.slurm_partition}")
        if cfg.slurm_constraint:
            lines.append(f"#SBATCH --constraint={cfg.slurm_constraint}")
        lines += [
            f"# GPU memory needed: {r.gpu_memory_gb:g} GB per GPU (paper, appendix C); {n} cell(s):",
            *[f"#   {j}: {c}" for j, c in enumerate(group.cells)],
            f"cd {shlex.quote(str(workdir))}",
            f'exec {python} -m benchmark.grid.worker {shlex.quote(str(job_file))} "$SLURM_ARRAY_TASK_ID"',
            "",
        ]
        script = folder / f"{i:02d}_{group.name}.sbatch"
        atomic_write_text(script, "\n".join(lines))
        written.append(script)
        var = group.name.upper()
        dep = ":".join(f"${{{g.upper()}}}" for g in group.after)
        flag = f"--dependency=afterok:{dep} " if dep else ""
        submit.append(f"{var}=$(sbatch --parsable {flag}{script.name})")
        submit.append(f'echo "{group.name}: job ${{{var}}} ({n} task(s))"')
    submit_file = folder / "submit.sh"
    atomic_write_text(submit_file, "\n".join(submit) + "\n")
    submit_file.chmod(0o755)
    return [*written, submit_file]
