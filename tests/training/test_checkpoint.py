"""Checkpoints are read with ``torch.load(weights_only=True)`` and an explicit allow-list, never unpickled."""

import os
import random

import numpy as np
import pytest
import torch

from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.training.trainer import CHECKPOINT, FINAL, TrainConfig, Trainer, train


def read_checkpoint(path):
    from benchmark.training.checkpoint import read_checkpoint as read  # imported here: the old code lacked it

    return read(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run stopped after its first epoch: ``checkpoint_last.pt`` exists, the run is not finished."""
    root = tmp_path_factory.mktemp("ckpt")
    pre = write_synthetic_preprocessed(root / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)
    cfg = TrainConfig(str(pre), str(root / "run"), profile="tiny", progress=False, max_steps=3)
    result = train(cfg)
    assert result.steps == 3 and not result.finished
    return cfg


class _Payload:
    """Unpickling this would run ``os.mkdir(marker)``: what a hostile checkpoint does."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_checkpoints_hold_only_tensors_and_plain_data(run):
    path = os.path.join(run.out_dir, CHECKPOINT)
    payload = torch.load(path, weights_only=True)  # no allow-list needed at all for what the trainer writes
    assert set(payload) >= {"model", "optimizer", "scaler", "loader", "state", "schedule", "rng", "config"}
    assert payload["state"]["step"] == 3 and read_checkpoint(path)["state"]["step"] == 3
    assert payload["geometry"]["patch_size"] == [32, 32, 32]


def test_rng_state_round_trip_is_plain_data():
    from benchmark.training.checkpoint import rng_state, set_rng_state

    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    state = rng_state()
    expected = (random.random(), np.random.random(), torch.rand(1).item(), np.random.standard_normal())
    random.random(), np.random.random(), torch.rand(1), np.random.standard_normal()
    set_rng_state(state)
    assert (random.random(), np.random.random(), torch.rand(1).item(), np.random.standard_normal()) == expected


def test_legacy_checkpoint_with_numpy_rng_state_loads_through_the_allow_list(run, tmp_path):
    payload = read_checkpoint(os.path.join(run.out_dir, CHECKPOINT))
    np.random.seed(7)
    random.seed(7)
    payload["rng"] = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    legacy = tmp_path / "legacy.pt"
    torch.save(payload, legacy)  # what the trainer wrote before its RNG states became plain data
    from benchmark.training.checkpoint import SAFE_GLOBALS

    with pytest.raises(Exception, match="numpy"):
        torch.load(legacy, weights_only=True)  # numpy arrays need the allow-list
    assert any(g is np.ndarray for g in SAFE_GLOBALS)
    assert read_checkpoint(legacy)["rng"]["numpy"][0] == "MT19937"
    expected = np.random.random()
    trainer = Trainer(run)
    trainer.load_checkpoint(legacy)  # restores the legacy numpy state
    assert trainer.state.step == 3
    assert np.random.random() == expected


def test_pickled_arbitrary_object_is_refused_with_a_clear_message(run, tmp_path):
    marker = tmp_path / "code-ran"
    payload = {"model": {"w": torch.zeros(1)}, "config": {"seed": 0}, "extra": _Payload(str(marker))}
    hostile = tmp_path / "run" / CHECKPOINT
    hostile.parent.mkdir()
    torch.save(payload, hostile)
    cfg = TrainConfig(run.preprocessed, str(tmp_path / "run"), profile="tiny", progress=False, max_steps=1)
    with pytest.raises(ValueError, match="refusing to load"):  # resuming from it is refused
        train(cfg)
    assert not marker.exists()  # and nothing in it ran
    with pytest.raises(ValueError, match=r"refusing to load .*global (posix|os|nt)\.mkdir") as err:
        read_checkpoint(hostile)
    assert str(hostile) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()


def test_final_model_loads_with_weights_only(run, tmp_path):
    cfg = TrainConfig(run.preprocessed, str(tmp_path / "done"), profile="tiny", progress=False)
    assert train(cfg).finished
    final = read_checkpoint(tmp_path / "done" / FINAL)
    assert final["geometry"]["patch_size"] == [32, 32, 32] and "model" in final
    assert torch.load(tmp_path / "done" / FINAL, weights_only=True).keys() == final.keys()


def test_resume_refuses_a_checkpoint_trained_on_another_patch(run, tmp_path):
    payload = read_checkpoint(os.path.join(run.out_dir, CHECKPOINT))
    payload["geometry"]["patch_size"] = [16, 40, 40]  # e.g. written before the dataset was re-planned
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(ValueError, match=r"patch_size=\[16, 40, 40\], not \[32, 32, 32\]"):
        Trainer(run).load_checkpoint(other)
