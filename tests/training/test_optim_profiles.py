import pytest
import torch

from benchmark.training.optim import (
    DETR_OPTIMIZER,
    RETINA_UNET_OPTIMIZER,
    OptimizerConfig,
    build_optimizer,
    set_encoder_trainable,
    set_lr,
)
from benchmark.training.profiles import PROFILES


class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 3), torch.nn.InstanceNorm3d(2, affine=True))
        self.head = torch.nn.Linear(2, 1)


def test_optimizers_of_the_study():
    net = _Net()
    sgd = build_optimizer(net, RETINA_UNET_OPTIMIZER)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    assert [g["weight_decay"] for g in sgd.param_groups] == [3e-5, 0.0]
    n_decay = sum(p.numel() for p in sgd.param_groups[0]["params"])
    assert n_decay == 2 * 27 + 2  # conv and linear weights; biases and norm parameters go without decay
    adam = build_optimizer(net, DETR_OPTIMIZER)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["amsgrad"] and adam.defaults["eps"] == 1e-4
    set_lr(adam, 0.5)
    assert all(g["lr"] == 0.5 for g in adam.param_groups)
    with pytest.raises(ValueError, match="Valid optimizers: sgd, adam"):
        OptimizerConfig(name="lamb", lr=1.0)


def test_encoder_freeze():
    net = _Net()
    set_encoder_trainable(net, False)
    assert not any(p.requires_grad for p in net.encoder.parameters())
    assert all(p.requires_grad for p in net.head.parameters())
    set_encoder_trainable(net, True)
    assert all(p.requires_grad for p in net.parameters())
    with pytest.raises(ValueError, match="no 'encoder'"):
        set_encoder_trainable(torch.nn.Linear(1, 1), False)


def test_profiles():
    paper = PROFILES.get("paper")
    assert paper.iterations_per_epoch == 2500 and paper.batch_size == 4 and paper.val_batches == 100
    assert (
        paper.epochs("retina_unet") == 50
        and paper.epochs("deformable_detr") == 100
        and paper.patch_size == (128, 128, 128)
    )
    assert PROFILES.names() == ["paper", "cpu", "tiny"]
    with pytest.raises(ValueError, match="Did you mean 'cpu'"):
        PROFILES.get("cpus")


def test_laptop_knobs_leave_paper_and_tiny_alone_and_cpu_overrides_are_real_fields():
    """The issue-10 knobs: only ``cpu`` departs from the paper's sampling, optimiser and memory layout, and its
    overrides name real config fields (``dataclasses.replace`` would raise on a typo)."""
    import dataclasses

    from models.config import RetinaUNetConfig

    for name in ("paper", "tiny"):
        p = PROFILES.get(name)
        assert p.foreground_fraction == pytest.approx(1 / 3)
        assert p.retina_unet_overrides == () and p.retina_unet_optimizer == ()
        assert not p.channels_last and p.num_threads is None
    cpu = PROFILES.get("cpu")
    retina = dataclasses.replace(RetinaUNetConfig(), **dict(cpu.retina_unet_overrides))
    assert retina.anchor_sampling == "all"
    optimizer = dataclasses.replace(RETINA_UNET_OPTIMIZER, **dict(cpu.retina_unet_optimizer))
    assert optimizer.name == "adam" and optimizer.lr == pytest.approx(1e-3)
    assert cpu.channels_last and cpu.num_threads == 1 and cpu.total_iterations("retina_unet") == 400


def test_detr_knobs_reach_the_model_and_the_optimiser_also_after_a_restart(tmp_path, monkeypatch):
    """``detr_overrides`` / ``detr_optimizer`` change Deformable DETR only; the paper profile keeps neither."""
    import dataclasses

    from benchmark.loading.synthetic import write_synthetic_preprocessed
    from benchmark.training import profiles
    from benchmark.training.trainer import TrainConfig, Trainer

    assert PROFILES.get("paper").detr_overrides == () and PROFILES.get("paper").detr_optimizer == ()
    pre = write_synthetic_preprocessed(tmp_path / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)
    tiny = dataclasses.replace(
        PROFILES.get("tiny"), detr_overrides=(("num_queries", 17),), detr_optimizer=(("lr", 7e-4),)
    )
    monkeypatch.setitem(profiles.PROFILES._items, "tiny", tiny)
    detr = Trainer(TrainConfig(str(pre), str(tmp_path / "d"), architecture="deformable_detr", profile="tiny",
                               device="cpu", progress=False))
    assert detr.model.config.num_queries == 17 and detr.schedule.target_lr == pytest.approx(7e-4)
    assert detr.optimizer_config().lr == pytest.approx(7e-4)
    detr.state.step = detr.schedule.total_iterations
    detr.state.history = [{}, {}]
    detr.state.first_val_loss, detr.state.best_val_loss = 1.0, 1.0
    assert detr._maybe_restart(1.0)
    assert all(g["lr"] == pytest.approx(7e-4) for g in detr.optimizer.param_groups)  # the rebuilt optimiser
    retina = Trainer(TrainConfig(str(pre), str(tmp_path / "r"), profile="tiny", device="cpu", progress=False))
    assert retina.optimizer_config() == RETINA_UNET_OPTIMIZER
