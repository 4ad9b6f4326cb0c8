"""Every registered pre-training method trains on the tiny synthetic corpus (loss decreases), resumes bit for bit,
and the checkpoint it writes transfers; ``benchmark pretrain`` and ``benchmark train --pretraining mae`` end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.cli import main
from pretraining.checkpoint import load_checkpoint, sha256_of, sidecar_path
from pretraining.methods import load_methods
from pretraining.profiles import get_profile
from pretraining.trainer import CHECKPOINT, FINAL, PretrainConfig, PretrainTrainer, pretrain

METHODS = load_methods().names()


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: the shared CI/laptop cores give erratic timings otherwise (results are the same)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One preprocessed tiny corpus (and supervised data, if any) shared by the module's runs."""
    return tmp_path_factory.mktemp("pretrain_cache")


def _cfg(method: str, out: Path, cache: Path, **kw) -> PretrainConfig:  # noqa: ANN003
    return PretrainConfig(method=method, out_dir=str(out), profile="tiny", cache_dir=str(cache), device="cpu",
                          progress=False, **kw)


def _held_out_loss(trainer: PretrainTrainer, batches: list) -> float:  # noqa: ANN001
    """Mean loss over fixed batches with fixed masks/distortions (torch seed), so only the weights differ."""
    torch.manual_seed(123)
    with torch.no_grad():
        return float(np.mean([float(trainer.model.loss(b)["loss"]) for b in batches]))


@pytest.mark.parametrize("method", METHODS)
def test_pretraining_loss_decreases(method: str, tmp_path: Path, cache: Path) -> None:
    """16 steps on the tiny corpus: the loss on fixed held-out batches falls, and the training loss of the last
    steps is below that of the first ones (per-step losses vary with the patch drawn, hence the held-out batches)."""
    profile = replace(get_profile("tiny"), epochs=1, iterations_per_epoch=16)
    trainer = PretrainTrainer(_cfg(method, tmp_path / "run", cache, seed=0), profile=profile)
    rng = np.random.default_rng(99)
    batches = [trainer.source.sample(rng, 2) for _ in range(3)]
    before = _held_out_loss(trainer, batches)
    result = trainer.fit()
    after = _held_out_loss(trainer, batches)
    assert result.finished and result.steps == 16 and len(result.losses) == 16
    assert all(np.isfinite(result.losses))
    assert after < before, (before, after, result.losses)
    assert np.mean(result.losses[-4:]) < np.mean(result.losses[:4]), result.losses


@pytest.mark.parametrize("method", METHODS)
def test_resumed_run_ends_with_the_same_weights(method: str, tmp_path: Path, cache: Path) -> None:
    whole = pretrain(_cfg(method, tmp_path / "whole", cache, seed=3))
    part = pretrain(_cfg(method, tmp_path / "part", cache, seed=3, max_steps=4))  # stops mid-epoch 2
    assert not part.finished and part.steps == 4 and (tmp_path / "part" / CHECKPOINT).is_file()
    assert not (tmp_path / "part" / FINAL).exists()
    resumed = pretrain(_cfg(method, tmp_path / "part", cache, seed=3))
    assert resumed.finished and resumed.losses == whole.losses
    a, b = load_checkpoint(tmp_path / "whole" / FINAL), load_checkpoint(tmp_path / "part" / FINAL)
    assert a.encoder_weights.keys() == b.encoder_weights.keys()
    for key, value in a.encoder_weights.items():
        assert torch.equal(value, b.encoder_weights[key]), key
    for name, stem in a.stems.items():
        assert all(torch.equal(v, b.stems[name][k]) for k, v in stem.items())


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path, cache: Path) -> None:
    pretrain(_cfg("mae", tmp_path / "run", cache, max_steps=1))
    with pytest.raises(ValueError, match="seed=0, not 1"):
        PretrainTrainer(_cfg("mae", tmp_path / "run", cache, seed=1)).fit()


def test_checkpoint_records_everything_and_transfers(tmp_path: Path, cache: Path) -> None:
    from pretraining.transfer import build_detector_for_checkpoint, init_from_pretrained

    result = pretrain(_cfg("mae", tmp_path / "run", cache))
    ck = load_checkpoint(result.checkpoint)
    side = json.loads(sidecar_path(result.checkpoint).read_text())
    assert side["sha256"] == sha256_of(result.checkpoint)
    assert ck.method == "mae" and ck.encoder["kind"] == "resenc" and ck.encoder["width_multiplier"] == 0.125
    assert ck.data["kind"] == "synthetic_corpus" and ck.preprocessing["spacing"] == [1.0, 1.0, 1.0]
    assert ck.preprocessing["patch_size"] == [32, 32, 32] and ck.training["steps"] == 6
    assert ck.training["profile"] == "tiny" and ck.code["git_revision"]
    detector = build_detector_for_checkpoint("resenc_deformable_detr", ck)
    report = init_from_pretrained(detector, ck)
    assert report.stem == "random" and report.transferred and not report.mismatched
    state = detector.state_dict()
    for key in report.transferred:
        assert torch.equal(state[key], ck.encoder_weights[key[len("encoder."):]])


def test_cli_pretrain_tiny(tmp_path: Path, cache: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "mae"
    argv = ["pretrain", "--method", "mae", "--profile", "tiny", "--out", str(out), "--cache", str(cache),
            "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "pre-trained mae (resenc, profile tiny, seed 0): 6 steps" in printed and str(out / FINAL) in printed
    ck = load_checkpoint(out / FINAL)
    assert ck.method == "mae" and (out / "pretraining_log.csv").read_text().count("\n") == 3  # header + 2 epochs
    stamp = (out / FINAL).stat().st_mtime_ns
    assert main(argv) == 1  # a run is there: --resume is needed
    assert "pass --resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0  # finished already: nothing is trained or written again
    assert (out / FINAL).stat().st_mtime_ns == stamp


def test_check_constants_match_the_trainer() -> None:
    from benchmark.commands import pretrain as command

    assert (command.CHECKPOINT_NAME, command.FINAL_NAME) == (CHECKPOINT, FINAL)


@pytest.mark.slow
def test_train_with_pretraining_mae_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DETBENCH_PRETRAINED", raising=False)
    monkeypatch.delenv("DETBENCH_DATA", raising=False)
    argv = ["train", "--dataset", "S06", "--arch", "resenc_deformable_detr", "--pretraining", "mae",
            "--profile", "tiny", "--no-progress", "--device", "cpu"]
    assert main(argv) == 0, capsys.readouterr().err
    cached = tmp_path / "data" / "pretrained" / "mae" / "resenc" / "tiny_seed0" / FINAL
    assert cached.is_file()
    (run,) = (tmp_path / "runs" / "S06" / "resenc_deformable_detr__mae").iterdir()
    report = json.loads((run / "transfer_report.json").read_text())
    assert report["stem"] == "random" and report["counts"]["transferred"] > 0
    assert report["counts"]["missing"] == 0 and report["counts"]["mismatched"] == 0
    assert report["checkpoint"]["method"] == "mae"
    result = json.loads((run / "result.json").read_text())
    assert result["run_key"]["pretraining"] == "mae"
    assert result["provenance"]["pretrained_weights"] == str(cached)
    stamp = cached.stat().st_mtime_ns
    assert main([*argv, "--out", "second", "--max-steps", "1"]) == 0  # reuses the cached pre-training
    assert cached.stat().st_mtime_ns == stamp
    assert (tmp_path / "second" / "transfer_report.json").is_file()
