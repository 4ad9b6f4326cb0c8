"""Provenance attached to every result: resolved config, seed, versions, git hash, dataset and split versions."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from benchmark import __version__

_REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def git_revision(root: Path = _REPO_ROOT) -> str:
    """The commit hash of the source tree (``+dirty`` when it has uncommitted changes), or ``unknown``."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def short_revision(revision: str) -> str:
    """``1a2b3c4d5e6f`` or ``1a2b3c4d5e6f+dirty``: the first 12 hex digits of a :func:`git_revision` value."""
    return revision[:12] + ("+dirty" if revision.endswith("+dirty") and len(revision) > 12 else "")


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):  # numpy / torch scalars
        return obj.item()
    return obj


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The processor's name (``model name`` of ``/proc/cpuinfo`` on Linux, else :func:`platform.processor`); read
    once per process, as every result of a runner records it."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _compute_environment(torch: Any) -> dict[str, str]:
    """What decides the floating-point rounding of a run besides the code: the CPU, the kernels torch picks for
    it (its vector ISA), the thread count, and the GPU when one is used.

    Runs of one revision are bitwise reproducible on one machine, not across machines: another CPU model or
    instruction set makes oneDNN choose other kernels, and at a laptop budget that moves single test scores
    by points (README.md). Recording these lets a user tell such a difference from a change of code.
    """
    env = {"cpu": cpu_model(), "cpu_count": str(os.cpu_count() or 0)}
    try:
        env["torch_cpu_capability"] = str(torch.backends.cpu.get_cpu_capability())
        env["torch_threads"] = str(torch.get_num_threads())
        if torch.cuda.is_available():
            env["cuda"] = str(torch.version.cuda)
            env["gpu"] = torch.cuda.get_device_name(torch.cuda.current_device())
    except (AttributeError, RuntimeError):  # an old torch or a broken CUDA setup: the versions still count
        pass
    return env


def environment() -> dict[str, str]:
    """Versions of the interpreter and the numerical stack, and the hardware the numbers were computed on."""
    env = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("numpy", "scipy", "pandas", "torch", "SimpleITK"):
        try:
            module = __import__(name)
            env[name] = str(getattr(module, "__version__", getattr(module, "Version", lambda: "?")))
        except ImportError:
            continue
        if name == "torch":
            env.update(_compute_environment(module))
    return env


def collect_provenance(
    config: Any = None,
    seed: int | None = None,
    dataset: dict | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A JSON-ready provenance record; ``dataset`` should hold the dataset id, its version and split version."""
    return {
        "detbench_version": __version__,
        "git_revision": git_revision(),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "config": _jsonable(config),
        "dataset": _jsonable(dataset or {}),
        "environment": environment(),
        **{k: _jsonable(v) for k, v in extra.items()},
    }


def dataset_provenance(root: str | Path) -> dict[str, Any]:
    """Dataset id, name, version, split version and the dataset's own provenance from a prepared dataset."""
    from benchmark.data.format import PreparedDataset

    ds = PreparedDataset(root)
    return {
        "root": str(Path(root).resolve()),
        "dataset_id": ds.meta.dataset_id,
        "name": ds.meta.name,
        "version": ds.meta.version,
        "splits_version": ds.splits.version,
        "source": ds.meta.provenance,
    }
