"""The fine-tuning loop on CPU: a tiny run, exact resume after an interruption, the DETR restart rule."""

import csv

import pytest
import torch

from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.training.checkpoint import read_checkpoint
from benchmark.training.trainer import CHECKPOINT, FINAL, TrainConfig, Trainer, resolve_device, train


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    return write_synthetic_preprocessed(root / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)


def _cfg(preprocessed, out, **kw):
    return TrainConfig(str(preprocessed), str(out), profile="tiny", progress=False, **kw)


@pytest.mark.parametrize("architecture", ["retina_unet", "deformable_detr"])
def test_run_logs_and_resumes_exactly_after_an_interruption(preprocessed, tmp_path, architecture):
    full = train(_cfg(preprocessed, tmp_path / "full", architecture=architecture))
    assert full.finished and full.steps == 6
    rows = list(csv.DictReader(open(tmp_path / "full" / "training_log.csv")))
    assert [int(r["step"]) for r in rows] == [3, 6] and all(float(r["val_loss"]) > 0 for r in rows)
    assert (tmp_path / "full" / CHECKPOINT).is_file()
    first = train(_cfg(preprocessed, tmp_path / "cut", architecture=architecture, max_steps=4))  # killed mid-epoch
    assert not first.finished and first.steps == 4
    second = train(_cfg(preprocessed, tmp_path / "cut", architecture=architecture))  # resumes from step 3
    assert second.finished and full.finished
    a = read_checkpoint(tmp_path / "full" / FINAL)["model"]
    b = read_checkpoint(tmp_path / "cut" / FINAL)["model"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert "resumed from" in (tmp_path / "cut" / "events.log").read_text()


def test_resume_refuses_another_run(preprocessed, tmp_path):
    train(_cfg(preprocessed, tmp_path / "run", max_steps=3))
    with pytest.raises(ValueError, match="belongs to a run with seed=0"):
        train(_cfg(preprocessed, tmp_path / "run", seed=1))


def test_encoder_frozen_at_the_start(preprocessed, tmp_path):
    trainer = Trainer(_cfg(preprocessed, tmp_path / "run"))
    trainer.schedule = trainer.schedule.__class__(total_iterations=100, target_lr=0.01, warmup_iterations=2)
    trainer._apply_schedule(0)
    assert not any(p.requires_grad for p in trainer.model.encoder.parameters())
    trainer._apply_schedule(5)
    assert all(p.requires_grad for p in trainer.model.encoder.parameters())


def test_detr_restart_rule(preprocessed, tmp_path):
    trainer = Trainer(_cfg(preprocessed, tmp_path / "run", architecture="deformable_detr"))
    trainer.state.step = trainer.schedule.total_iterations // 2
    trainer.state.first_val_loss, trainer.state.best_val_loss = 1.0, 1.0
    trainer.state.history = [{"val_loss": 1.0}]
    assert not trainer._maybe_restart(1.0)  # one validation says nothing about progress yet
    trainer.state.best_val_loss = 0.99  # improved only 1% < 5%
    trainer.state.history.append({"val_loss": 0.99})
    assert trainer._maybe_restart(0.99)
    assert trainer.state.restarted and trainer.schedule.freeze_iterations == 0
    assert trainer.schedule.target_lr == pytest.approx(1e-4)
    assert "restart at step" in (tmp_path / "run" / "events.log").read_text()
    assert not trainer._maybe_restart(0.99)  # restarts once


def test_detr_no_restart_when_improving(preprocessed, tmp_path):
    trainer = Trainer(_cfg(preprocessed, tmp_path / "run", architecture="deformable_detr"))
    trainer.state.step = trainer.schedule.total_iterations // 2
    trainer.state.first_val_loss, trainer.state.best_val_loss = 1.0, 0.8
    trainer.state.history = [{"val_loss": 1.0}, {"val_loss": 0.8}]
    assert not trainer._maybe_restart(0.8) and not trainer.state.restarted


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="Valid: auto, cpu, cuda"):
        TrainConfig("a", "b", device="tpu")


@pytest.mark.parametrize("profile", ["cpu", "tiny"])
def test_resenc_detectors_have_the_profiles_blocks_per_stage(preprocessed, tmp_path, profile):
    """The laptop profiles may train a shallower ResEnc (``resenc_blocks``); the plain encoder is unaffected."""
    from benchmark.training.profiles import PROFILES
    from models.config import EncoderConfig

    p = PROFILES.get(profile)
    want = EncoderConfig(kind="resenc", n_stages=p.n_stages).with_leading_blocks(p.resenc_blocks).stage_blocks
    for arch in ("resenc_retina_unet", "resenc_deformable_detr"):
        trainer = Trainer(TrainConfig(str(preprocessed), str(tmp_path / arch), architecture=arch, profile=profile,
                                      device="cpu", progress=False))
        assert trainer.model.config.encoder.stage_blocks == want
    plain = Trainer(TrainConfig(str(preprocessed), str(tmp_path / "plain"), profile=profile, device="cpu",
                                progress=False))
    assert plain.model.config.encoder.stage_blocks == (2,) * p.n_stages
