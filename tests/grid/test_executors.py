"""Executors with real subprocesses: submitit's local executor (the SLURM code path) and the local GPU pool."""

import json
from pathlib import Path

import pytest

from analysis.store import has_run, write_run
from benchmark.grid import records
from benchmark.grid.cells import build_plan
from benchmark.grid.slurm import submit_slurm
from benchmark.runner import experiment_config, run_suite
from pretraining.registry import PRETRAINING, PretrainingSpec
from tests.grid.helpers import fake_result, suite


def _real_d06(tmp_path: Path, **kw):  # noqa: ANN003 - D06 is not converted here: its cells fail in seconds
    return suite(tmp_path, suite="D06", real=True, **kw)


def test_submitit_local_runs_cells_in_subprocesses_with_dependencies(tmp_path, monkeypatch):
    # a setting only this process registers: the worker subprocesses do not know it
    monkeypatch.setitem(PRETRAINING._items, "zz", PretrainingSpec("zz", "ZZ", "fixed", "pretrained", method="mae"))
    cfg = _real_d06(tmp_path, pretraining=("default", "fixed", "zz"))
    done = experiment_config(cfg, "D06", "retina_unet", "fixed", 0)
    write_run(cfg.store, done.run_key(), fake_result(done).match_table)  # finished before: left alone
    plan = build_plan(cfg)
    assert [c.id for c in plan.pretrain] == ["pretrain.zz__plain.tiny"]
    submitted = submit_slurm(cfg, plan, tmp_path / "jobs", cluster="local")
    assert len(submitted["pretrain"]) == 1 and len(submitted["finetune_retina_unet"]) == 1
    by_cell = {o["cell_id"]: o for o in submitted["outcomes"]}
    # the subprocess does not have the test's registration: the hook's clear error, never a fake pre-training
    assert by_cell["pretrain.zz__plain.tiny"]["status"] == "failed"
    assert "pre-training 'zz' not available in this build" in by_cell["pretrain.zz__plain.tiny"]["message"]
    assert by_cell["D06.retina_unet__zz.tiny_official_seed0"]["status"] == "blocked"  # after its pre-training
    default = by_cell["D06.retina_unet__default.tiny_official_seed0"]
    assert default["status"] == "failed" and "is not prepared under" in default["message"]
    failure = json.loads(records.failure_path(cfg.store, default["cell_id"]).read_text())
    assert Path(failure["log"]).is_file() and "FileNotFoundError" in Path(failure["log"]).read_text()
    assert "D06.retina_unet__fixed.tiny_official_seed0" not in by_cell  # already done: not submitted


def test_gpu_pool_runs_one_subprocess_per_gpu_and_records_failures(tmp_path, capsys):
    cfg = _real_d06(tmp_path, gpus=("0", "1"), architectures=("retina_unet", "deformable_detr"), pretraining=("fixed",))
    result = run_suite(cfg, out=None)
    assert sorted(c for c, _, _ in result.failed) == [
        "D06.deformable_detr__fixed.tiny_official_seed0",
        "D06.retina_unet__fixed.tiny_official_seed0",
    ]
    for _cell, error, log in result.failed:
        assert "FileNotFoundError" in error and "is not prepared under" in Path(log).read_text()
    assert result.ran == [] and result.analysis_dir is None


@pytest.mark.slow
def test_tiny_grid_through_submitit_trains_for_real(tmp_path):
    cfg = suite(tmp_path, pretraining=("fixed",))
    plan = build_plan(cfg)
    submitted = submit_slurm(cfg, plan, tmp_path / "jobs", cluster="local")
    (outcome,) = submitted["outcomes"]
    assert outcome["status"] == "done" and outcome["metrics"]["map@0.1"] >= 0
    assert has_run(cfg.store, plan.cells[0].key)
    assert not list((records.grid_dir(cfg.store) / "claims").glob("*.json"))
    again = submit_slurm(cfg, build_plan(cfg), tmp_path / "jobs", cluster="local")
    assert again == {"outcomes": []}  # nothing left to submit
