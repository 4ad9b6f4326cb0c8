"""The four detectors: registry, paper parameter counts, forward/backward, predictions, shared interface."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from benchmark.core.registry import UnknownNameError
from models import ARCHITECTURES, PAPER_PARAMETERS, Detector, build_detector, default_config
from models.config import DeformableDETRConfig, RetinaUNetConfig

NAMES = ["retina_unet", "deformable_detr", "resenc_retina_unet", "resenc_deformable_detr"]


def _tiny(name: str, **kw) -> Detector:
    torch.manual_seed(0)
    return build_detector(name, default_config(name, width_multiplier=0.125, n_stages=4, **kw))


def _batch(in_channels: int = 1):
    images = torch.randn(2, in_channels, 32, 32, 32)
    targets = [
        {
            "boxes": torch.tensor([[4.0, 6.0, 8.0, 14.0, 20.0, 16.0], [18.0, 18.0, 2.0, 30.0, 26.0, 12.0]]),
            "labels": torch.tensor([0, 0]),
        },
        {"boxes": torch.zeros(0, 6), "labels": torch.zeros(0, dtype=torch.long)},  # an image without objects
    ]
    return images, targets


def test_registry_names_and_unknown_name():
    assert ARCHITECTURES.names() == NAMES
    with pytest.raises(UnknownNameError, match="Did you mean 'retina_unet'"):
        build_detector("retina_unte")
    with pytest.raises(ValueError, match="Valid names"):
        default_config("detr")


def test_config_family_and_encoder_kind_are_checked():
    with pytest.raises(ValueError, match="needs a RetinaUNetConfig"):
        build_detector("retina_unet", DeformableDETRConfig())
    resenc_cfg = default_config("resenc_retina_unet", width_multiplier=0.125, n_stages=4)
    with pytest.raises(ValueError, match="use 'resenc_retina_unet'"):
        build_detector("retina_unet", resenc_cfg)


@pytest.mark.parametrize("name", NAMES)
def test_paper_parameter_counts_within_3_percent(name):
    model = build_detector(name)  # 1 input channel, 1 foreground class, the paper's configuration
    n = model.num_parameters()
    assert abs(n - PAPER_PARAMETERS[name]) / PAPER_PARAMETERS[name] < 0.03, (name, n)
    # pinned exactly, so any architectural drift is noticed
    assert (
        n
        == {
            "retina_unet": 18_970_307,
            "resenc_retina_unet": 95_241_763,
            "deformable_detr": 18_175_313,
            "resenc_deformable_detr": 94_446_769,
        }[name]
    )


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_and_loss_terms(name):
    model = _tiny(name)
    images, targets = _batch()
    losses = model.compute_loss(images, targets)
    assert "loss" in losses and all(torch.isfinite(v) for v in losses.values())
    losses["loss"].backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads[:5])
    assert any(g.abs().sum() > 0 for g in grads if g is not None)
    enc_grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in enc_grads)


@pytest.mark.parametrize("name", NAMES)
def test_predictions_are_well_formed_boxes_inside_the_image(name):
    # a higher prior makes the untrained Retina U-Net emit boxes too
    model = _tiny(name, prior_prob=0.3).eval()
    images, _ = _batch()
    images = images[:, :, :32, :24, :16]  # non-cubic: catches axis-order mistakes
    preds = model.predict(images)
    assert len(preds) == 2
    assert sum(p["boxes"].shape[0] for p in preds) > 0
    for p in preds:
        boxes, scores, labels = p["boxes"], p["scores"], p["labels"]
        assert boxes.ndim == 2 and boxes.shape[1] == 6 and boxes.shape[0] == scores.shape[0] == labels.shape[0]
        assert boxes.dtype == torch.float32 and labels.dtype == torch.long
        assert torch.isfinite(boxes).all()
        assert (boxes[:, 3:] >= boxes[:, :3]).all()
        assert (boxes >= 0).all() and (boxes[:, 3:] <= torch.tensor([32.0, 24.0, 16.0])).all()
        assert ((scores >= 0) & (scores <= 1)).all() and (scores[:-1] >= scores[1:]).all()
        assert ((labels >= 0) & (labels < model.num_classes)).all()


@pytest.mark.parametrize("name", ["retina_unet", "resenc_deformable_detr"])
def test_multi_channel_multi_class_and_frozen_encoder(name):
    model = _tiny(name, in_channels=4, num_classes=3)
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    images, targets = _batch(in_channels=4)
    targets[0]["labels"] = torch.tensor([2, 1])
    model.compute_loss(images, targets)["loss"].backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.detection_parameters()[:3])
    assert model.num_parameters(trainable_only=True) < model.num_parameters()
    with pytest.raises(ValueError, match="labels must be in 0..2"):
        model.compute_loss(images, [targets[0], {"boxes": torch.zeros(1, 6), "labels": torch.tensor([3])}])


@pytest.mark.parametrize(
    "overrides",
    [
        {"regression_loss": "giou", "classification_loss": "bce"},
        {"regression_loss": "smooth_l1", "segmentation_classes": "per_class", "num_classes": 2},
    ],
)
def test_retina_unet_loss_variants(overrides):
    model = _tiny("retina_unet", **overrides)
    images, targets = _batch()
    if overrides.get("num_classes") == 2:
        targets[0]["labels"] = torch.tensor([1, 0])
        assert model.segmenter.out_channels == 3
    losses = model.compute_loss(images, targets)
    assert all(torch.isfinite(v) for v in losses.values()) and losses["regression"] > 0
    losses["loss"].backward()


def test_planned_anchors_enter_the_config():
    from models.retina_unet import with_planned_anchors

    cfg = default_config("retina_unet", width_multiplier=0.125, n_stages=4)
    planned = with_planned_anchors(cfg, [[6.0, 5.0, 3.0], [12.0, 10.0, 6.0], [8.0, 8.0, 4.0]])
    assert planned.anchor_sizes != cfg.anchor_sizes and planned.anchors_per_position == 27
    assert build_detector("retina_unet", planned).anchor_generator.sizes == planned.anchor_sizes


def test_retina_unet_uses_given_segmentation_or_instance_maps():
    model = _tiny("retina_unet")
    images, targets = _batch()
    inst = torch.zeros(32, 32, 32, dtype=torch.long)
    inst[4:14, 6:20, 8:16] = 1
    targets[0]["instances"] = inst
    targets[1]["seg"] = torch.zeros(32, 32, 32, dtype=torch.long)
    target_map = model._segmentation_target(targets[0], (32, 32, 32), torch.device("cpu"))
    assert target_map.max() == 1 and target_map.sum() == 10 * 14 * 8
    boxes_only = {"boxes": targets[0]["boxes"], "labels": targets[0]["labels"]}  # box-shaped fallback
    box_map = model._segmentation_target(boxes_only, (32, 32, 32), torch.device("cpu"))
    assert box_map.sum() == 10 * 14 * 8 + 12 * 8 * 10
    assert torch.isfinite(model.compute_loss(images, targets)["loss"])


def test_input_size_must_fit_the_encoder_stride():
    model = _tiny("deformable_detr")
    with pytest.raises(ValueError, match="divisible by the encoder's total stride 8"):
        model.predict(torch.zeros(1, 1, 32, 24, 28))
    with pytest.raises(ValueError, match="images must be"):
        model.predict(torch.zeros(1, 2, 32, 32, 32))


def test_configs_are_typed_and_frozen():
    cfg = default_config("retina_unet")
    assert isinstance(cfg, RetinaUNetConfig) and cfg.encoder.kind == "plain"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.num_classes = 2  # type: ignore[misc]
    detr = default_config("resenc_deformable_detr")
    assert detr.feature_levels == (2, 3, 4, 5) and detr.hidden_dim == 128
    with pytest.raises(ValueError, match="divisible by num_heads"):
        dataclasses.replace(detr, num_heads=7)


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_gpu_amp_forward_backward(name):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    model = _tiny(name).cuda()
    images, targets = _batch()
    targets = [{k: v.cuda() for k, v in t.items()} for t in targets]
    scaler = torch.amp.GradScaler("cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        losses = model.compute_loss(images.cuda(), targets)
    scaler.scale(losses["loss"]).backward()
    assert torch.isfinite(losses["loss"])
    assert len(model.predict(images.cuda())) == 2


@pytest.mark.parametrize("name", NAMES)
def test_autocast_runs_on_cpu_with_float32_losses(name):
    # bfloat16 autocast on CPU exercises the same mixed-precision paths as fp16 AMP on a GPU
    model = _tiny(name, prior_prob=0.3)
    images, targets = _batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        losses = model.compute_loss(images, targets)
        preds = model.predict(images)
    assert losses["loss"].dtype == torch.float32 and torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert preds[0]["boxes"].dtype == torch.float32


def test_benchmark_script_runs_one_tiny_detector():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "models_bench.py"
    spec = importlib.util.spec_from_file_location("models_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    args = ["--worker", "deformable_detr", "--device", "cuda", "--amp", "--width", "0.125", "--stages", "4"]
    (row,) = bench.main(args + ["--size", "32", "--batch", "1", "--repeats", "1"])
    assert row["detector"] == "deformable_detr" and row["fwd_bwd_s"] > 0
    if not torch.cuda.is_available():  # falls back to CPU and fp32
        assert row["device"] == "cpu" and row["amp"] is False and row["peak_rss_gb"] > 0


@pytest.mark.parametrize("name", NAMES)
def test_planned_anisotropic_topology_trains_and_predicts(name):
    """nnDetection-style per-axis strides and kernels (z pooled later): loss, backward, prediction, anchors."""
    torch.manual_seed(0)
    strides = ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2))
    kernels = ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))
    cfg = default_config(name, width_multiplier=0.125, strides=strides, kernel_sizes=kernels)
    assert cfg.encoder.num_stages == 4 and cfg.encoder.total_stride == (4, 8, 8)
    model = build_detector(name, cfg)
    images, targets = _batch()
    images = images[:, :, :16]  # 16 x 32 x 32: divisible by (4, 8, 8)
    targets[0]["boxes"] = torch.tensor([[2.0, 6.0, 8.0, 10.0, 20.0, 16.0]])
    targets[0]["labels"] = torch.tensor([0])
    loss = model.compute_loss(images, targets)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    model.eval()
    (det, _) = model.predict(images)
    assert det["boxes"].shape[1] == 6 and len(det["boxes"]) == len(det["scores"])
    with pytest.raises(ValueError, match=r"total stride \(4, 8, 8\)"):
        model.predict(torch.zeros(1, 1, 16, 28, 32))
    if hasattr(model, "anchor_generator"):  # Retina U-Net: anchor sizes scale per axis with the level stride
        gen = model.anchor_generator
        first, last = gen.level_sizes(0), gen.level_sizes(len(gen.strides) - 1)
        ratio = torch.tensor(gen.strides[-1], dtype=torch.float32) / torch.tensor(gen.strides[0], dtype=torch.float32)
        torch.testing.assert_close(last, first * ratio)


def test_planned_strides_are_validated():
    with pytest.raises(ValueError, match="either n_stages or planned strides"):
        default_config("retina_unet", n_stages=4, strides=(1, 2, 2, 2))
    with pytest.raises(ValueError, match="1..6 stages"):
        default_config("retina_unet", strides=(1,) + (2,) * 6)
    with pytest.raises(ValueError, match="kernel_sizes need planned strides"):
        default_config("retina_unet", kernel_sizes=((3, 3, 3),) * 6)
    with pytest.raises(ValueError, match="odd"):
        default_config("retina_unet", strides=(1, 2), kernel_sizes=((3, 3, 3), (2, 3, 3)))


def test_retina_unet_all_anchor_focal_loss_is_summed_over_every_anchor_per_positive():
    """``anchor_sampling="all"`` (the cpu profile): the classification loss is the focal loss summed over every
    anchor of the batch divided by the number of ATSS positives, and the default sampler is unchanged."""
    from models.losses import sigmoid_focal_loss
    from models.matching import atss_match

    images, targets = _batch()
    model = _tiny("retina_unet", anchor_sampling="all")
    with pytest.raises(ValueError, match="anchor_sampling"):
        _tiny("retina_unet", anchor_sampling="some")
    torch.manual_seed(1)
    losses = model.compute_loss(images, targets)
    out = model(images)
    logits = torch.cat(out["cls_logits"], dim=1)
    total, num_pos = 0.0, 0
    for i, t in enumerate(targets):
        matched = atss_match(t["boxes"], out["anchors"], model.config.atss_candidates)
        onehot = torch.zeros_like(logits[i])
        onehot[matched >= 0, 0] = 1.0
        total += float(sigmoid_focal_loss(logits[i].detach(), onehot).sum())
        num_pos += int((matched >= 0).sum())
    assert num_pos > 0
    assert float(losses["classification"].detach()) == pytest.approx(total / num_pos, rel=1e-4)
    losses["loss"].backward()
    assert model.classifier.conv_out.weight.grad.abs().sum() > 0
    assert default_config("retina_unet").anchor_sampling == "hard_negative"  # the paper's sampler by default
