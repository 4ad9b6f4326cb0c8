"""A cell killed mid-training is taken over (its claim is stale) and resumes from its checkpoint (slow: trains)."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analysis.store import has_run
from benchmark.grid import records
from benchmark.grid.cells import build_plan
from benchmark.grid.worker import job_record
from benchmark.runner import run_suite
from benchmark.training import profiles
from tests.grid.helpers import suite

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_killed_cell_resumes_from_its_checkpoint(tmp_path):
    cfg = suite(tmp_path, pretraining=("fixed",))
    plan = build_plan(cfg)
    (cell,) = plan.cells
    job = tmp_path / "job.json"
    job.write_text(json.dumps(job_record(cfg, [cell], plan.by_id())))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "benchmark.grid.worker", str(job)], env=env, start_new_session=True)
    run_dir = tmp_path / "runs" / cell.key.folder
    deadline = time.time() + 600
    while not (run_dir / "checkpoint_last.pt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the cell ended before its first checkpoint"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert records.claim_path(cfg.store, cell.id).is_file()  # the dead owner's claim is still there
    assert not has_run(cfg.store, cell.key)
    result = run_suite(cfg, out=None)
    assert result.ran == [cell.key] and has_run(cfg.store, cell.key)
    events = (run_dir / "events.log").read_text()
    assert "resumed from" in events  # not trained from scratch
    epochs = profiles.TINY.epochs("retina_unet")
    with open(run_dir / "training_log.csv", newline="") as fh:
        logged = {int(row["epoch"]) for row in csv.DictReader(fh)}
    assert logged == set(range(epochs))  # the run went on from its checkpoint to the end of the budget
