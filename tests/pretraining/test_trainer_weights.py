"""Fine-tuning from pre-trained weights: the encoder is built as the checkpoint describes (not as the profile),
weights are in place before the trainer records its initial state (a DETR restart resets to them), the run
folder gets transfer_report.json, the encoder is frozen first, and resume stays exact."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
import torch
from pretrain_cases import randomise

from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.training.trainer import FINAL, TrainConfig, Trainer, train
from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.checkpoint import PretrainedCheckpoint, save_checkpoint
from pretraining.transfer import REPORT_FILE


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    return write_synthetic_preprocessed(root / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)


def _checkpoint(tmp_path, kind: str) -> tuple[str, dict]:
    config = EncoderConfig(kind=kind, width_multiplier=0.25, n_stages=4)  # the tiny profile builds 0.125
    enc = build_encoder(config)
    randomise(enc, seed=11)
    weights = {k: v.clone() for k, v in enc.state_dict().items()}
    path = save_checkpoint(tmp_path / f"{kind}.pt", PretrainedCheckpoint("mae", asdict(config), weights))
    return str(path), weights


def _cfg(preprocessed, out, **kw):
    return TrainConfig(str(preprocessed), str(out), profile="tiny", progress=False, **kw)


def _assert_encoder_is(state: dict, weights: dict, skip_prefix: str) -> None:
    for key, value in weights.items():
        if not key.startswith(skip_prefix):
            assert torch.equal(state[f"encoder.{key}"], value), key


def test_weights_are_loaded_before_the_initial_state_and_restart_returns_to_them(preprocessed, tmp_path):
    path, weights = _checkpoint(tmp_path, "plain")
    trainer = Trainer(_cfg(preprocessed, tmp_path / "run", architecture="deformable_detr", weights=path))
    assert trainer.model.encoder.config.stage_features == (8, 16, 32, 64)  # the checkpoint's, not tiny's 4..32
    stem = "stages.0.0.convs.0."  # SSL default: random stem
    _assert_encoder_is(trainer.initial_weights, weights, stem)
    report = json.loads((tmp_path / "run" / REPORT_FILE).read_text())
    assert report["stem"] == "random" and report["missing"] == [] and report["mismatched"] == []
    assert report["counts"]["transferred"] == len(weights) - 8 and trainer.transfer_report is not None
    trainer.schedule = replace(trainer.schedule, total_iterations=100)  # tiny's 6 steps freeze 5% = 0 of them
    trainer._apply_schedule(0)  # appendix C: the encoder is frozen for the first 5%
    assert not any(p.requires_grad for p in trainer.model.encoder.parameters())
    trainer._apply_schedule(5)
    assert all(p.requires_grad for p in trainer.model.encoder.parameters())
    with torch.no_grad():  # pretend training moved the weights
        for p in trainer.model.parameters():
            p.add_(1.0)
    trainer.state.step = trainer.schedule.total_iterations // 2
    trainer.state.first_val_loss, trainer.state.best_val_loss = 1.0, 0.99
    trainer.state.history = [{"val_loss": 1.0}, {"val_loss": 0.99}]
    assert trainer._maybe_restart(0.99)
    _assert_encoder_is(trainer.model.state_dict(), weights, stem)


def test_resume_with_weights_is_exact(preprocessed, tmp_path):
    path, weights = _checkpoint(tmp_path, "plain")
    full = train(_cfg(preprocessed, tmp_path / "full", weights=path, stem="transfer:encoder"))
    first = train(_cfg(preprocessed, tmp_path / "cut", weights=path, stem="transfer:encoder", max_steps=4))
    second = train(_cfg(preprocessed, tmp_path / "cut", weights=path, stem="transfer:encoder"))
    assert full.finished and not first.finished and second.finished
    a = torch.load(tmp_path / "full" / FINAL, weights_only=False)["model"]
    b = torch.load(tmp_path / "cut" / FINAL, weights_only=False)["model"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert json.loads((tmp_path / "cut" / "train_config.json").read_text())["weights"] == path


def test_weights_that_do_not_fit_the_architecture_fail_clearly(preprocessed, tmp_path):
    path, _ = _checkpoint(tmp_path, "resenc")
    with pytest.raises(ValueError, match="holds a 'resenc' encoder"):
        Trainer(_cfg(preprocessed, tmp_path / "run", architecture="retina_unet", weights=path))
