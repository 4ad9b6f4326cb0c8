"""A dataset without a validation split (LUNA16's 9-0-1 scheme) keeps the training post-processing defaults."""

from __future__ import annotations

import json
from dataclasses import asdict

from benchmark.cli import main
from benchmark.experiment import ExperimentConfig, run_experiment
from benchmark.inference.postprocessing import PostprocessingParams


def test_run_without_validation_split_uses_postprocessing_defaults(tmp_path):
    assert main(["synth", "--suite", "S06", "--scale", "tiny", "--out", str(tmp_path / "twins")]) == 0
    (prepared,) = (tmp_path / "twins").iterdir()
    splits_file = prepared / "splits.json"
    splits = json.loads(splits_file.read_text())
    splits["train"] = sorted(splits["train"] + splits["val"])
    splits["val"] = []  # the 9-0-1 scheme: train on nine subsets, test on one, no validation set
    splits_file.write_text(json.dumps(splits))

    cfg = ExperimentConfig(
        dataset=str(prepared), profile="tiny", data_root=str(tmp_path / "data"), out=str(tmp_path / "run"),
        progress=False, device="cpu",
    )
    run_experiment(cfg)
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["postprocessing_source"] == "defaults (no validation split)"
    assert record["validation_map@0.1"] is None
    assert record["postprocessing"] == asdict(PostprocessingParams())
