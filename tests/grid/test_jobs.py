"""``benchmark run --jobs N``: N cells at a time on CPU, each in a worker subprocess (the GPU pool's machinery).

The pool runs real subprocesses; their training is the stand-in of :mod:`tests.grid.fake_worker`, so a grid of
four cells (one pre-training, three fine-tuning) takes seconds. The slow test trains a tiny grid for real.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import benchmark.experiment as experiment
import benchmark.grid.pretrain as grid_pretrain
from analysis.store import index_store
from benchmark.cli import main
from benchmark.grid import executors, records
from benchmark.grid.status import grid_status
from benchmark.runner import run_suite, summary_text, wall_seconds
from pretraining.registry import PRETRAINING, PretrainingSpec
from tests.grid import fake_worker
from tests.grid.helpers import suite

REPO = Path(__file__).resolve().parents[2]
KEY_COLUMNS = ["dataset", "architecture", "pretraining", "profile", "fold", "seed"]


def _calls(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        kind, name, pid, start, end, threads = line.split()
        rows.append(
            {"kind": kind, "name": name, "pid": int(pid), "start": float(start), "end": float(end), "threads": threads}
        )
    return rows


@pytest.fixture
def fake_pool(tmp_path, monkeypatch):  # noqa: ANN201 - the calls file of the stand-in worker
    """Pool subprocesses run :mod:`tests.grid.fake_worker` from this checkout; ``zz`` is registered here too."""
    monkeypatch.setitem(PRETRAINING._items, "zz", PretrainingSpec("zz", "ZZ", "fixed", "pretrained", method="mae"))
    monkeypatch.setattr(executors, "WORKER", "tests.grid.fake_worker")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("DETBENCH_TEST_SLEEP", "1")
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("DETBENCH_TEST_CALLS", str(calls))
    return calls


def _index(store: str) -> list[tuple]:
    frame = index_store(store)
    return sorted(tuple(str(v) for v in row) for row in frame[KEY_COLUMNS].itertuples(index=False))


def test_jobs_2_runs_every_cell_once_concurrently_and_matches_jobs_1(tmp_path, monkeypatch, fake_pool):
    grid = dict(suite="S06", pretraining=("default", "fixed", "zz"))
    two = suite(tmp_path / "two", jobs=2, **grid)
    result = run_suite(two, out=None)
    assert result.failed == [] and result.remaining == [] and result.unfinished == []
    assert result.pretrained == ["pretrain.zz__plain.tiny"]
    calls = _calls(fake_pool)
    names = [c["name"] for c in calls]
    assert sorted(names) == sorted(
        ["zz__plain", "S06/retina_unet__default", "S06/retina_unet__fixed", "S06/retina_unet__zz"]
    )  # every cell exactly once
    assert len({c["pid"] for c in calls}) == 4 and os.getpid() not in {c["pid"] for c in calls}  # subprocesses
    assert {c["threads"] for c in calls} == {"1"}  # tiny leaves num_threads open: one thread per worker
    first, second = sorted(calls, key=lambda c: c["start"])[:2]
    assert second["start"] < first["end"]  # two cells ran at the same time
    (pre,) = [c for c in calls if c["kind"] == "pretrain"]
    (after,) = [c for c in calls if c["name"] == "S06/retina_unet__zz"]
    assert after["start"] >= pre["end"]  # the fine-tuning cell waited for its pre-training cell
    assert {s.state for s in grid_status(two.store)} == {"done"}
    assert not list((records.grid_dir(two.store) / "claims").glob("*.json"))  # every claim released

    # the same grid one cell at a time, in this process: the same cells in the store
    monkeypatch.setenv("DETBENCH_TEST_SLEEP", "0")
    monkeypatch.setenv("DETBENCH_TEST_CALLS", str(tmp_path / "calls_one.txt"))
    monkeypatch.setattr(experiment, "run_experiment", fake_worker.fake_experiment)
    monkeypatch.setattr(grid_pretrain, "run_pretraining_cell", fake_worker.fake_pretraining)
    one = suite(tmp_path / "one", **grid)
    single = run_suite(one, out=None)
    assert {c["pid"] for c in _calls(tmp_path / "calls_one.txt")} == {os.getpid()}  # jobs 1: in this process
    assert sorted(map(str, single.ran)) == sorted(map(str, result.ran)) and len(result.ran) == 3
    assert _index(one.store) == _index(two.store)


def test_a_failing_cell_in_the_pool_is_recorded_and_the_others_finish(tmp_path, monkeypatch, fake_pool):
    monkeypatch.setenv("DETBENCH_TEST_FAIL", "S06/retina_unet__default")
    cfg = suite(tmp_path, suite="S06", jobs=2)
    result = run_suite(cfg, out=None)
    (failed,) = result.failed
    assert failed[0] == "S06.retina_unet__default.tiny_official_seed0" and "boom in" in failed[1]
    assert "RuntimeError: boom" in Path(failed[2]).read_text(encoding="utf-8")  # the worker's log
    assert [str(k) for k in result.ran] == ["S06/retina_unet__fixed/tiny_official_seed0"]
    assert records.failure_path(cfg.store, failed[0]).is_file()
    assert "1 experiment(s) run, 0 skipped" in summary_text(result) and "1 failed, 0 remaining" in summary_text(result)


def test_wall_time_estimate_is_divided_by_the_cells_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "usable_cores", lambda: 2)
    assert wall_seconds(suite(tmp_path, jobs=2), 100.0, 10) == 50.0
    assert wall_seconds(suite(tmp_path, jobs=4), 100.0, 10) == 50.0  # no more than the cores
    assert wall_seconds(suite(tmp_path, jobs=2), 100.0, 1) == 100.0  # no more than the cells
    assert wall_seconds(suite(tmp_path), 100.0, 10) == 100.0
    assert wall_seconds(suite(tmp_path, jobs=2), None, 10) is None


def test_dry_run_shows_the_parallelism_and_warns_above_the_core_count(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(executors, "usable_cores", lambda: 1)
    argv = ["run", "--suite", "S06", "--profile", "tiny", "--store", str(tmp_path / "s"), "--dry-run"]
    assert main([*argv, "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    assert "warning: --jobs 2 is more than the 1 usable CPU core(s)" in captured.err
    assert "executor local, 2 cells at a time on CPU" in captured.out
    assert "estimated time on this machine (2 cells at a time on CPU): " in captured.out
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err and "cells at a time" not in captured.out
    assert "estimated time on this machine (one cell at a time): " in captured.out


def test_default_jobs_fill_the_cores_for_a_profile_that_pins_its_threads(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(executors, "usable_cores", lambda: 2)
    monkeypatch.setattr(executors, "available_memory", lambda: 64 * 1024**3)
    assert executors.default_jobs("cpu", "auto", "local", ()) == 2  # the cpu profile: one thread per cell
    assert executors.default_jobs("cpu", "cpu", "local", ()) == 2
    monkeypatch.setattr(executors, "usable_cores", lambda: 16)
    assert executors.default_jobs("cpu", "auto", "local", ()) == 16
    monkeypatch.setattr(executors, "available_memory", lambda: 5 * 1024**3)  # room for two cells only
    assert executors.default_jobs("cpu", "auto", "local", ()) == 2
    monkeypatch.setattr(executors, "available_memory", lambda: 1024**3)
    assert executors.default_jobs("cpu", "auto", "local", ()) == 1  # never fewer than one
    monkeypatch.setattr(executors, "available_memory", lambda: None)  # unreadable: the cores decide
    assert executors.default_jobs("cpu", "auto", "local", ()) == 16
    # one at a time: torch's own threads (tiny, paper), SLURM, a GPU list, a CUDA device or one found by auto
    assert executors.default_jobs("tiny", "auto", "local", ()) == 1
    assert executors.default_jobs("paper", "cpu", "local", ()) == 1
    assert executors.default_jobs("cpu", "auto", "slurm", ()) == 1
    assert executors.default_jobs("cpu", "auto", "local", ("0", "1")) == 1
    assert executors.default_jobs("cpu", "cuda", "local", ()) == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert executors.default_jobs("cpu", "auto", "local", ()) == 1


def test_dry_run_without_jobs_uses_both_cores_of_a_two_core_laptop(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(executors, "usable_cores", lambda: 2)
    monkeypatch.setattr(executors, "available_memory", lambda: 24 * 1024**3)
    argv = ["run", "--suite", "S06", "--profile", "cpu", "--store", str(tmp_path / "s"), "--dry-run"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "executor local, 2 cells at a time on CPU" in captured.out
    assert "estimated time on this machine (2 cells at a time on CPU): " in captured.out
    assert main([*argv, "--jobs", "1"]) == 0  # an explicit --jobs wins
    assert "estimated time on this machine (one cell at a time): " in capsys.readouterr().out


def test_available_memory_reads_a_positive_number_or_none():
    memory = executors.available_memory()
    assert memory is None or memory > 0
    assert executors.usable_cores() >= 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--jobs", "0"], "--jobs must be >= 1, got 0"),
        (["--jobs", "-2"], "--jobs must be >= 1, got -2"),
        (["--jobs", "2", "--gpus", "0,1"], "--jobs with --gpus: the GPU list sets the parallelism"),
        (["--jobs", "2", "--executor", "slurm"], "--jobs is for --executor local"),
        (["--jobs", "2", "--device", "cuda"], "--jobs runs cells on CPU; for GPUs give --gpus 0,1"),
    ],
)
def test_bad_jobs_are_one_line_errors_before_any_work(extra, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--suite", "S06", "--profile", "tiny", *extra]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing generated, preprocessed or written


@pytest.mark.slow
def test_tiny_grid_with_jobs_2_trains_the_same_cells_as_jobs_1(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    grid = dict(suite="S06", pretraining=("default", "fixed"), data_root=str(tmp_path / "data"))
    two = run_suite(suite(tmp_path / "two", jobs=2, **grid), out=None)
    assert two.failed == [] and two.remaining == [] and len(two.ran) == 2
    one = run_suite(suite(tmp_path / "one", **grid), out=None)  # the twin is there: generated once, above
    assert sorted(map(str, one.ran)) == sorted(map(str, two.ran))
    assert _index(str(tmp_path / "one" / "store")) == _index(str(tmp_path / "two" / "store"))
    assert {s.state for s in grid_status(tmp_path / "two" / "store")} == {"done"}
