"""benchmark train --weights: end to end on a tiny twin, with its own run identity and the transfer report."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from benchmark.cli import main
from benchmark.experiment import ExperimentConfig
from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.checkpoint import PretrainedCheckpoint, save_checkpoint


def _tiny_resenc_checkpoint(path):
    config = EncoderConfig(kind="resenc", width_multiplier=0.125, n_stages=4)
    torch.manual_seed(7)
    encoder = build_encoder(config)
    weights = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    return save_checkpoint(path, PretrainedCheckpoint("mae", asdict(config), weights, data={"corpus": "test"})), weights


def test_train_with_weights_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ckpt, weights = _tiny_resenc_checkpoint(tmp_path / "enc.pt")
    argv = ["train", "--dataset", "S06", "--arch", "resenc_deformable_detr", "--profile", "tiny",
            "--weights", str(ckpt), "--data-root", "data", "--no-progress"]
    assert main(argv) == 0
    (folder,) = (tmp_path / "runs" / "S06" / "resenc_deformable_detr__custom").iterdir()
    assert folder.name.startswith("tiny_official_seed0_")  # the weights' hash is part of the identity
    report = json.loads((folder / "transfer_report.json").read_text())
    assert report["missing"] == [] and report["mismatched"] == [] and report["transferred"]
    record = json.loads((folder / "result.json").read_text())
    assert record["run_key"]["pretraining"] == "custom" and "weights" in record["run_key"]["options"]


def test_weights_change_the_run_identity(tmp_path):
    a, _ = _tiny_resenc_checkpoint(tmp_path / "a.pt")
    cfg = ExperimentConfig(dataset="S06", architecture="resenc_retina_unet", pretraining="custom", weights=str(a))
    other = ExperimentConfig(dataset="S06", architecture="resenc_retina_unet", pretraining="custom",
                             weights=str(a), stem="replicate")
    assert cfg.run_key() != other.run_key() and cfg.run_key().variant


def test_random_init_settings_refuse_weights(tmp_path):
    from benchmark.experiment import run_experiment

    a, _ = _tiny_resenc_checkpoint(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="cannot take --weights"):
        run_experiment(ExperimentConfig(dataset="S06", pretraining="fixed", weights=str(a), data_root=str(tmp_path)))
