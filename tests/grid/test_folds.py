"""``benchmark run --folds``: cells x folds where the dataset has folds, the plan's notes, status and reruns."""

from __future__ import annotations

import pytest

import benchmark.experiment as experiment
from analysis.store import index_store
from benchmark.cli import main
from benchmark.grid.cells import build_plan
from benchmark.grid.folds import dataset_fold_count, dataset_folds, parse_folds
from benchmark.grid.status import status_text
from benchmark.runner import run_suite
from tests.grid.helpers import fake_result, suite


def test_parse_folds():
    assert parse_folds(None) == () and parse_folds("all") == "all" and parse_folds("2, 0") == (2, 0)
    for bad in ("x", "1,1", "-1", ","):
        with pytest.raises(ValueError, match="--folds"):
            parse_folds(bad)


def test_plan_has_one_cell_per_fold_where_the_dataset_has_folds(tmp_path):
    cfg = suite(tmp_path, suite="S01,S06", pretraining=("fixed",), folds=(0, 1))
    plan = build_plan(cfg)
    keys = [(c.key.dataset, c.key.fold) for c in plan.finetune]
    assert keys == [("S01", None), ("S06", 0), ("S06", 1)]  # S01 has no folds: its official split once
    assert len(plan.estimates) == len(plan.cells) and all(plan.estimates[c.id] is not None for c in plan.cells)
    n = dataset_fold_count(cfg, "S06")
    assert n >= 2 and dataset_folds(suite(tmp_path, folds="all"), "S06") == tuple(range(n))
    real = suite(tmp_path, real=True, folds="all")
    assert dataset_folds(real, "D06") == tuple(range(10)) and dataset_folds(real, "D01") == (None,)
    assert dataset_folds(suite(tmp_path), "S06") == (None,)  # no --folds: the official split


def test_dry_run_prints_folds_and_notes(tmp_path, capsys):
    argv = ["run", "--suite", "S01,S06", "--archs", "retina_unet", "--pretraining", "fixed", "--profile", "tiny",
            "--folds", "0,1,99", "--dry-run", "--store", str(tmp_path / "st"), "--runs", str(tmp_path / "rn"),
            "--data-root", str(tmp_path / "data")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "folds: S01 official; S06 0,1" in out
    assert "note: S01: no cross-validation folds; runs its official split once" in out
    assert "no fold 99; runs folds 0,1" in out and "3 fine-tuning cell(s)" in out
    assert "S06/retina_unet__fixed/tiny_fold1_seed0" in out
    assert main(["run", "--suite", "S06", "--folds", "one", "--dry-run", "--store", str(tmp_path / "st")]) == 1
    assert "error: --folds 'one'" in capsys.readouterr().err


def test_fold_cells_run_once_each_and_status_shows_them(tmp_path, monkeypatch):
    calls = []

    def run(cfg):  # noqa: ANN001, ANN202 - the fake experiment records the fold it was given
        calls.append((cfg.dataset, cfg.fold))
        return fake_result(cfg)

    monkeypatch.setattr(experiment, "run_experiment", run)
    cfg = suite(tmp_path, suite="S06", pretraining=("fixed",), folds=(0, 2))
    first = run_suite(cfg, out=None)
    assert sorted(calls) == [("S06", 0), ("S06", 2)] and not first.failed
    runs = index_store(cfg.store)
    assert sorted(runs["fold"].tolist()) == [0, 2]
    text = status_text(cfg.store)
    assert "folds" in text.splitlines()[0] and "0,2" in text
    again = run_suite(suite(tmp_path, suite="S06", pretraining=("fixed",), folds=(0, 1, 2)), out=None)
    assert sorted(calls) == [("S06", 0), ("S06", 1), ("S06", 2)] and len(again.skipped) == 2
