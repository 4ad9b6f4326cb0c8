"""benchmark train's default run folder, and derived folders keyed by everything that changes their content."""

from __future__ import annotations

import json

import pytest

from benchmark.cli import main
from benchmark.experiment import ExperimentConfig, preprocess, preprocessed_dir


def test_train_without_out_writes_the_run_keys_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--dataset", "S06", "--profile", "tiny", "--data-root", "data", "--no-progress"]
    assert main(argv) == 0
    folder = tmp_path / "runs" / "S06" / "retina_unet__fixed" / "tiny_official_seed0"
    record = json.loads((folder / "result.json").read_text())
    assert record["run_key"]["profile"] == "tiny" and record["run_key"]["pretraining"] == "fixed"
    assert record["provenance"]["run_key"] == record["run_key"]
    # benchmark run finds the finished training in the shared run folder and files it into the store
    run = ["run", "--suite", "S06", "--archs", "retina_unet", "--pretraining", "fixed", "--profile", "tiny",
           "--data-root", "data", "--replicates", "5", "--no-progress"]
    assert main(run) == 0
    stored = tmp_path / "results" / "runs" / "S06" / "retina_unet__fixed" / "tiny_official_seed0" / "result.json"
    assert json.loads(stored.read_text())["run_dir"] == str(folder.relative_to(tmp_path))


def test_run_key_needs_no_data(tmp_path):
    cfg = ExperimentConfig(dataset="S03", architecture="deformable_detr", profile="tiny", pretraining="default",
                           seed=2, fold=1, data_root=str(tmp_path))
    assert cfg.run_key().folder.as_posix() == "S03/deformable_detr__default/tiny_fold1_seed2"
    assert not any(tmp_path.iterdir())  # nothing generated
    assert ExperimentConfig(dataset="S03", mirror_tta=True).run_key().variant != ""
    with pytest.raises(ValueError, match="Unknown dataset"):
        ExperimentConfig(dataset="X99").run_key()


def test_twins_of_two_scales_never_share_preprocessed_folders(tmp_path):
    from benchmark.synthetic.generate import generate_twin

    tiny = generate_twin("S06", tmp_path / "synthetic" / "tiny", scale="tiny", progress=False)
    other_seed = generate_twin("S06", tmp_path / "synthetic" / "tiny-seed1", scale="tiny", seed=1, progress=False)
    a = preprocessed_dir(tiny, tmp_path, "fixed", None)
    b = preprocessed_dir(other_seed, tmp_path, "fixed", None)
    assert a.parent.name == "S06-tiny-seed0" and b.parent.name == "S06-tiny-seed1"
    assert preprocessed_dir(tiny, tmp_path, "default", 2).name == "default_fold2"
    # a twin of another scale than the profile's gets its own run identity too
    cfg = ExperimentConfig(dataset=str(other_seed), profile="tiny")
    assert cfg.run_key().options == (("data", "tiny-seed1"),)
    assert ExperimentConfig(dataset=str(tiny), profile="tiny").run_key().options == ()
    assert ExperimentConfig(dataset=str(tiny), profile="cpu").run_key().options == (("data", "tiny-seed0"),)
    out = preprocess(tiny, tmp_path, "fixed", None, 1, False)
    assert out == a and (a / "plans.json").is_file()
