"""The suite runner: grid validation, store writing, skipping finished experiments, and a real tiny run (slow)."""

import json

import numpy as np
import pytest

import benchmark.experiment as experiment
from analysis.store import open_store
from benchmark.cli import main
from benchmark.metrics import match_detections
from benchmark.runner import SuiteConfig, run_suite, suite_grid


def test_grid_uses_twins_and_validates_names():
    grid = suite_grid(SuiteConfig(suite="test", architectures=("retina_unet",), pretraining=("default", "fixed")))
    assert [g[0] for g in grid] == ["S06", "S06", "S07", "S07", "S08", "S08"]
    assert suite_grid(SuiteConfig(suite="D06", real=True, architectures=("retina_unet",), pretraining=("fixed",))) == [
        ("D06", "retina_unet", "fixed")
    ]
    with pytest.raises(ValueError, match="Did you mean 'retina_unet'"):
        suite_grid(SuiteConfig(architectures=("retina_unte",)))
    with pytest.raises(ValueError, match="Valid names: custom, default, fixed"):
        suite_grid(SuiteConfig(pretraining=("mea",)))


def _fake_experiment(calls):
    """Stands in for the expensive training: a deterministic match table per (dataset, arch, pretraining)."""

    def run(cfg):
        calls.append((cfg.dataset, cfg.architecture, cfg.pretraining))
        rng = np.random.default_rng(len(cfg.architecture) + len(cfg.pretraining))
        gt = {f"c{i}": (np.array([[0, 0, 0, 4, 4, 4.0]]), np.array([0])) for i in range(6)}
        preds = {
            c: (np.array([[0, 0, 0, 4, 4, 4.0], [9, 9, 9, 12, 12, 12]]), rng.random(2), np.array([0, 0])) for c in gt
        }
        table = match_detections(preds, gt, ["nodule"])
        return experiment.ExperimentResult(
            cfg.run_dir(), True, {"map@0.1": 0.5}, None, table, {"seed": cfg.seed}, cfg.run_key()
        )

    return run


def _suite(tmp_path, **kw):
    base = dict(
        suite="S06",
        architectures=("retina_unet",),
        store=str(tmp_path / "store"),
        runs=str(tmp_path / "runs"),
        replicates=20,
        progress=False,
        data_root=str(tmp_path / "data"),
        pretraining=("default", "fixed"),  # the two baselines (the default is the paper's rows: also mt)
        classical=False,  # the fake experiments' ground truth is not the twin's: no reference row beside them
    )
    return SuiteConfig(**{**base, **kw})


def test_store_written_and_finished_experiments_skipped(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _fake_experiment(calls))
    cfg = _suite(tmp_path)
    first = run_suite(cfg, out=None)
    assert [k.model for k in first.ran] == [("retina_unet", "default"), ("retina_unet", "fixed")]
    assert len(open_store(tmp_path / "store").tables("S06")) == 2
    assert (tmp_path / "store" / "analysis" / "cpu_seed0" / "summary.json").is_file()
    again = run_suite(cfg, out=None)
    assert again.ran == [] and len(again.skipped) == 2 and len(calls) == 2
    result = json.loads(next((tmp_path / "store" / "runs").rglob("result.json")).read_text())
    assert result["provenance"] == {"seed": 0} and result["run_key"]["profile"] == "cpu"


def test_other_profile_or_seed_into_the_same_store_runs_new_experiments(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _fake_experiment(calls))
    run_suite(_suite(tmp_path, profile="tiny"), out=None)
    cpu = run_suite(_suite(tmp_path, profile="cpu"), out=None)
    seed1 = run_suite(_suite(tmp_path, profile="cpu", seed=1), out=None)
    assert len(cpu.ran) == 2 and cpu.skipped == [] and len(seed1.ran) == 2 and len(calls) == 6
    leaves = sorted(p.parent.name for p in (tmp_path / "store" / "runs").rglob("result.json"))
    assert leaves == ["cpu_official_seed0"] * 2 + ["cpu_official_seed1"] * 2 + ["tiny_official_seed0"] * 2
    analyses = sorted(p.name for p in (tmp_path / "store" / "analysis").iterdir())
    assert analyses == ["cpu_seed0", "cpu_seed1", "tiny_seed0"]
    assert len(open_store(tmp_path / "store", profile="cpu", seed=1).runs) == 2


def test_several_seeds_give_the_noise_floor_beside_the_bootstrap(tmp_path, monkeypatch):
    import pandas as pd

    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _fake_experiment(calls))
    result = run_suite(_suite(tmp_path, seeds=(0, 1, 2)), out=None)
    assert sorted((k.pretraining, k.seed) for k in result.ran) == [
        ("default", 0), ("default", 1), ("default", 2), ("fixed", 0), ("fixed", 1), ("fixed", 2)
    ]
    spread = pd.read_csv(result.analysis_dir / "seed_spread.csv")
    assert result.analysis_dir.name == "cpu_seed0"  # ranked on the smallest seed
    assert set(spread["n_seeds"]) == {3} and set(spread["seeds"]) == {"0,1,2"}
    assert {"boot_ci_low", "boot_ci_high", "seed_mean", "seed_sd"} <= set(spread.columns)
    assert (result.analysis_dir / "tables" / "seed_spread.md").read_text().count("| S06 |") == 4
    summary = json.loads((result.analysis_dir / "summary.json").read_text())
    assert summary["training_seeds"] == [0, 1, 2]
    with pytest.raises(ValueError, match="distinct"):
        run_suite(_suite(tmp_path, seeds=(1, 1)), out=None)


def test_train_prints_the_seed_spread():
    from benchmark.commands.train import seed_spread_text

    text = seed_spread_text({0: {"map@0.1": 0.5}, 1: {"map@0.1": 0.7}, 2: {"map@0.1": 0.6}})
    assert "seeds 0, 1, 2" in text and "mean  60.00  sd 10.00  range 50.00-70.00" in text


def test_runner_tells_the_plan_each_result_and_a_summary(tmp_path, monkeypatch):
    import io

    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _fake_experiment(calls))
    out = io.StringIO()
    run_suite(_suite(tmp_path, progress=True), out=out)
    text = out.getvalue()
    assert "plan: 2 experiment(s) (2 to run, 0 already in the store), profile cpu, seed(s) 0" in text
    from benchmark.estimates import estimate_experiment_seconds, estimate_twin_seconds, format_duration

    one = estimate_experiment_seconds("cpu", "retina_unet")
    assert f"estimated time {format_duration(2 * one + estimate_twin_seconds('small'))}" in text  # + twin generation
    assert "S06 retina_unet default" in text  # the bar names the running experiment
    assert any(f"ETA {format_duration(s)}" in text for s in (2 * one, one))  # an ETA before the first one ends
    assert "ETA ?" not in text and "?" not in text.split("plan:")[1].split("\n")[0]
    assert "done S06/retina_unet__default/cpu_official_seed0" in text and "map@0.1 50.0" in text
    assert "summary: 2 experiment(s) run, 0 skipped" in text and "analysis:" in text
    again = io.StringIO()
    run_suite(_suite(tmp_path), out=again)
    assert "skip S06/retina_unet__fixed/cpu_official_seed0: already in the store" in again.getvalue()


def test_bad_store_and_replicates_fail_before_any_training(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(experiment, "run_experiment", _fake_experiment(calls))
    with pytest.raises(ValueError, match="replicates"):
        run_suite(_suite(tmp_path, replicates=-5), out=None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        run_suite(_suite(tmp_path, store=str(tmp_path / "file")), out=None)
    assert calls == []


def test_tiny_suite_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [
        "run",
        "--suite",
        "S06",
        "--archs",
        "retina_unet",
        "--pretraining",
        "default,fixed",
        "--profile",
        "tiny",
        "--replicates",
        "20",
        "--data-root",
        str(tmp_path / "data"),
        "--no-progress",
    ]
    assert main(argv) == 0
    store = open_store(tmp_path / "results")
    # the two trained models and the classical reference row (default on), paired on the same test images
    assert set(store.tables("S06")) == {("retina_unet", "default"), ("retina_unet", "fixed"), ("classical", "none")}
    assert (tmp_path / "results" / "analysis" / "tiny_seed0" / "tables").is_dir()
    table3 = (tmp_path / "results" / "analysis" / "tiny_seed0" / "tables" / "table3.md").read_text()
    assert "| Classical (reference) | no learning |" in table3
    # the runner's run folders are the ones benchmark train uses
    assert (tmp_path / "runs" / "S06" / "retina_unet__fixed" / "tiny_official_seed0" / "result.json").is_file()


def test_stored_plan_is_reused_until_the_dataset_changes(tmp_path, monkeypatch):
    import benchmark.preprocessing.planning as planning
    from benchmark.experiment import preprocess
    from benchmark.synthetic.generate import generate_twin

    root = generate_twin("S06", tmp_path / "synthetic", scale="tiny", progress=False)
    out = preprocess(root, tmp_path, "fixed", None, 1, False)
    calls = []
    original = planning.plan_preprocessing
    monkeypatch.setattr(planning, "plan_preprocessing", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert preprocess(root, tmp_path, "fixed", None, 1, False) == out and calls == []
    (root / "dataset.json").write_text((root / "dataset.json").read_text().replace('"version": "1"', '"version": "2"'))
    with pytest.raises(ValueError, match="--overwrite-preprocessing"):  # stale outputs are never reused silently
        preprocess(root, tmp_path, "fixed", None, 1, False)
    assert calls == [1]
    preprocess(root, tmp_path, "fixed", None, 1, False, overwrite=True)
