"""The dependency-free core: what it imports, what imports it, and the atomic writes everyone uses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from benchmark.core.atomic import atomic_open, atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def _modules_after_import(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_imports_only_stdlib_and_numpy():
    loaded = _modules_after_import(
        "import benchmark.core.registry, benchmark.core.conventions, benchmark.core.boxes, benchmark.core.atomic"
    )
    project = {m for m in loaded if m.split(".")[0] in {"benchmark", "models", "pretraining", "analysis"}}
    assert project <= {"benchmark", "benchmark.core", *(f"benchmark.core.{n}" for n in
                                                         ("registry", "conventions", "boxes", "atomic"))}
    for heavy in ("torch", "pandas", "scipy", "SimpleITK"):
        assert heavy not in loaded


@pytest.mark.parametrize("package", ["models", "pretraining.registry"])
def test_models_and_pretraining_never_import_metrics_or_pandas(package):
    loaded = _modules_after_import(f"import {package}")
    assert not [m for m in loaded if m.startswith(("benchmark.metrics", "analysis", "pandas"))]


def test_atomic_write_replaces_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "sub" / "result.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as fh:
        fh.write("half of the new")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_concurrent_atomic_writers_use_distinct_temporaries(tmp_path):
    target = tmp_path / "shared.json"
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for _ in range(20):
                atomic_write_json(target, {"writer": k, "pad": "x" * 10_000})
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert json.loads(target.read_text())["writer"] in range(4)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]


def test_atomic_open_refuses_append(tmp_path):
    with pytest.raises(ValueError, match="whole files"), atomic_open(tmp_path / "a", "a"):
        pass
