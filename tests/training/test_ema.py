"""Weight averaging (profile ``weight_ema``): the update formula, frozen tensors untouched, resume, final weights."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.training import profiles
from benchmark.training.checkpoint import read_checkpoint
from benchmark.training.ema import WeightAverage
from benchmark.training.trainer import CHECKPOINT, FINAL, TrainConfig, train


def test_update_follows_the_warmed_up_decay():
    net = nn.Linear(3, 2)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    ema = WeightAverage(net, decay=0.9)
    expected = {k: v.clone() for k, v in start.items()}
    for t in range(30):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(0.1 * (t + 1))
        d = min(0.9, (1 + t) / (10 + t))
        for k, v in net.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v
        ema.update(net)
    for k in expected:
        torch.testing.assert_close(ema.average[k], expected[k])
        assert not torch.allclose(ema.average[k], net.state_dict()[k])  # an average, not the last weights


def test_a_tensor_that_never_changes_stays_bitwise_equal():
    net = nn.Linear(5, 4)
    frozen = net.weight.detach().clone()
    ema = WeightAverage(net, decay=0.99)
    for _ in range(50):
        with torch.no_grad():
            net.bias.add_(0.37)
        ema.update(net)
    assert torch.equal(ema.average["weight"], frozen)


def test_decay_is_checked():
    with pytest.raises(ValueError, match=r"in \(0, 1\)"):
        WeightAverage(nn.Linear(1, 1), decay=1.0)
    with pytest.raises(ValueError, match="weight_ema"):
        replace(profiles.PROFILES.get("tiny"), weight_ema=0.0)


@pytest.fixture()
def ema_profile(monkeypatch):
    monkeypatch.setitem(profiles.PROFILES._items, "tiny", replace(profiles.PROFILES.get("tiny"), weight_ema=0.8))


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    return write_synthetic_preprocessed(root / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)


def _cfg(preprocessed, out, **kw):
    return TrainConfig(str(preprocessed), str(out), profile="tiny", progress=False, device="cpu", **kw)


def test_the_final_model_is_the_average_and_a_resumed_run_gives_the_same(ema_profile, preprocessed, tmp_path):
    full = train(_cfg(preprocessed, tmp_path / "full"))
    assert full.finished
    final = read_checkpoint(tmp_path / "full" / FINAL)["model"]
    last = read_checkpoint(tmp_path / "full" / CHECKPOINT)
    assert last["ema"]["updates"] == full.steps
    for key, value in last["ema"]["average"].items():
        assert torch.equal(final[key], value), key  # model_final.pt holds the averaged weights ...
    assert any(not torch.equal(last["model"][k], final[k]) for k in final)  # ... not the last ones
    train(_cfg(preprocessed, tmp_path / "cut", max_steps=4))  # killed mid-epoch: resumes from step 3
    train(_cfg(preprocessed, tmp_path / "cut"))
    resumed = read_checkpoint(tmp_path / "cut" / FINAL)["model"]
    for key in final:
        assert torch.equal(final[key], resumed[key]), key


def test_without_weight_ema_checkpoints_carry_no_average(preprocessed, tmp_path):
    train(_cfg(preprocessed, tmp_path / "plain"))
    assert read_checkpoint(tmp_path / "plain" / CHECKPOINT)["ema"] is None
