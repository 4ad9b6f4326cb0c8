"""Running cells: faults and resume, claims with stale recovery, the live status, and two runners on one store."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import benchmark.experiment as experiment
from analysis.store import index_store, open_store
from benchmark.cli import main
from benchmark.grid import records
from benchmark.grid.locks import claim_cell, claim_is_stale
from benchmark.grid.status import grid_status, status_text
from benchmark.runner import run_suite
from tests.grid.helpers import fake_result, suite

REPO = Path(__file__).resolve().parents[2]


def _flaky(calls, fail_once=(), interrupt_once=()):
    """The fake experiment; cells named in ``fail_once`` raise once, ``interrupt_once`` are interrupted once."""
    failed = set()

    def run(cfg):
        name = f"{cfg.dataset}/{cfg.architecture}__{cfg.pretraining}"
        calls.append(name)
        if name in fail_once and name not in failed:
            failed.add(name)
            raise RuntimeError(f"boom in {name}")
        if name in interrupt_once and name not in failed:
            failed.add(name)
            raise KeyboardInterrupt
        return fake_result(cfg)

    return run


def test_failing_cell_is_recorded_and_the_others_continue(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _flaky(calls, fail_once={"S06/retina_unet__default"}))
    cfg = suite(tmp_path, suite="S06,S07", analyze=True)
    first = run_suite(cfg, out=None)
    assert [c for c, _, _ in first.failed] == ["S06.retina_unet__default.tiny_official_seed0"]
    assert len(first.ran) == 3 and first.analysis_dir is None  # no analysis while a cell failed
    record = json.loads(records.failure_path(cfg.store, first.failed[0][0]).read_text())
    assert record["error"] == "RuntimeError: boom in S06/retina_unet__default" and record["attempts"] == 1
    assert "Traceback" in Path(record["log"]).read_text() and record["log"] == first.failed[0][2]
    text = status_text(cfg.store)
    assert "failed S06.retina_unet__default.tiny_official_seed0: RuntimeError: boom" in text
    again = run_suite(cfg, out=None)
    assert [k.model for k in again.ran] == [("retina_unet", "default")] and len(again.skipped) == 3
    assert again.failed == [] and again.analysis_dir is not None
    assert not records.failure_path(cfg.store, first.failed[0][0]).exists()  # cleared on success
    assert calls.count("S06/retina_unet__default") == 2 and len(calls) == 5  # every other cell ran once
    assert {s.state for s in grid_status(cfg.store)} == {"done"}


def test_interrupted_grid_resumes_without_redoing_finished_cells(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _flaky(calls, interrupt_once={"S07/retina_unet__default"}))
    cfg = suite(tmp_path, suite="S06,S07")
    with pytest.raises(KeyboardInterrupt):
        run_suite(cfg, out=None)
    assert calls == ["S06/retina_unet__default", "S06/retina_unet__fixed", "S07/retina_unet__default"]
    assert not list((records.grid_dir(cfg.store) / "claims").glob("*.json"))  # the claim died with the cell
    states = {s.cell_id: s.state for s in grid_status(cfg.store)}
    assert sorted(states.values()) == ["done", "done", "remaining", "remaining"]
    again = run_suite(cfg, out=None)
    assert len(again.ran) == 2 and len(again.skipped) == 2
    assert calls.count("S06/retina_unet__default") == 1 and calls.count("S07/retina_unet__fixed") == 1
    assert len(index_store(cfg.store)) == 4


def test_claims_are_exclusive_and_stale_ones_are_taken_over(tmp_path):
    store = tmp_path / "store"
    claim = claim_cell(store, "cell-a", {"run_dir": "x"}, heartbeat=0.2)
    assert claim is not None and claim_cell(store, "cell-a") is None  # held by a live process
    time.sleep(0.5)
    beat = json.loads(records.claim_path(store, "cell-a").read_text())
    assert beat["heartbeat"] > beat["started"]  # the heartbeat thread refreshes it
    claim.release()
    assert not records.claim_path(store, "cell-a").exists()
    # a dead process on this host
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    path = records.claim_path(store, "cell-b")
    path.parent.mkdir(parents=True, exist_ok=True)
    old = {"host": socket.gethostname(), "pid": int(dead.stdout), "heartbeat": time.time(), "token": "t"}
    path.write_text(json.dumps(old))
    assert claim_is_stale(old)
    taken = claim_cell(store, "cell-b")
    assert taken is not None and taken.record["took_over"] == "t"
    taken.release()
    # another host that stopped its heartbeat
    silent = {"host": "elsewhere", "pid": 1, "heartbeat": time.time() - 3600, "token": "u"}
    assert claim_is_stale(silent, stale_after=600) and not claim_is_stale({**silent, "heartbeat": time.time()})


def test_status_shows_running_cells_with_epoch_and_eta(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _flaky(calls))
    cfg = suite(tmp_path, suite="S06,S07", only=("dataset=S06",))
    run_suite(cfg, out=None)
    running_cfg = suite(tmp_path, suite="S07")
    from benchmark.grid.cells import build_plan

    plan = build_plan(running_cfg)
    records.write_plan(running_cfg, plan)
    cell = plan.cells[0]
    run_dir = tmp_path / "somewhere"
    run_dir.mkdir()
    (run_dir / "training_log.csv").write_text("epoch,step,train_loss\n0,3,1.0\n")
    claim = claim_cell(cfg.store, cell.id, {"run_dir": str(run_dir)})
    try:
        assert main(["status", cfg.store]) == 0
    finally:
        claim.release()
    out = capsys.readouterr().out
    lines = {line.split()[0] + " " + line.split()[1]: line.split()[2:] for line in out.splitlines()[1:3]}
    assert lines["retina_unet__default S06"] == ["1", "0", "0", "0", "0"]
    assert lines["retina_unet__default S07"] == ["0", "1", "0", "0", "0"]
    assert f"running {cell.id}: {socket.gethostname()} pid {os.getpid()}, epoch 1/2, ETA" in out
    (total,) = [line.split()[1:] for line in out.splitlines() if line.startswith("total")]
    assert total == ["2", "1", "0", "0", "1"]  # done, running, failed, stale, remaining


def _runner_script(tmp_path: Path, name: str) -> str:
    return f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
import benchmark.experiment as experiment
from tests.grid.helpers import fake_result, suite
from benchmark.runner import run_suite
from pathlib import Path

def slow(cfg):
    with open({str(tmp_path / "calls.txt")!r}, 'a') as fh:
        fh.write(f"{name} {{cfg.dataset}}/{{cfg.architecture}}__{{cfg.pretraining}}\\n")
    time.sleep(1.5)
    return fake_result(cfg)

experiment.run_experiment = slow
result = run_suite(suite(Path({str(tmp_path)!r}), suite="S06,S07,S08"), out=None)
print(len(result.ran), len(result.remaining), len(result.skipped))
"""


def test_two_runners_on_one_store_take_different_cells(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _runner_script(tmp_path, n)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in ("a", "b")
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    calls = (tmp_path / "calls.txt").read_text().split("\n")[:-1]
    cells = [c.split()[1] for c in calls]
    assert len(cells) == len(set(cells)) == 6  # six cells, each run exactly once
    assert {c.split()[0] for c in calls} == {"a", "b"}  # both runners worked
    store = open_store(tmp_path / "store", profile="tiny")
    assert sorted(store.datasets) == ["S06", "S07", "S08"] and len(index_store(tmp_path / "store")) == 6
    assert {s.state for s in grid_status(tmp_path / "store")} == {"done"}
