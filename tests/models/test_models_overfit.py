"""Each detector overfits one synthetic volume: the loss falls by >= 80 % and the object is found (IoU >= 0.5)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from models import build_detector, default_config
from models.box_ops import box_iou

# (steps, learning rate) per family. The ResEnc variants share everything but the encoder with the plain ones and
# are heavier on CPU, so they run with ``pytest -m slow``.
SETTINGS = {"retina_unet": (40, 3e-3), "deformable_detr": (100, 5e-4)}


def _synthetic_volume() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    image = torch.randn(1, 1, 32, 32, 32, generator=g) * 0.1
    box = torch.tensor([[9.0, 11.0, 7.0, 21.0, 23.0, 17.0]])  # voxels 9..20, 11..22, 7..16
    image[0, 0, 9:21, 11:23, 7:17] += 1.0
    return image, box


@pytest.mark.parametrize(
    "name",
    [
        "retina_unet",
        "deformable_detr",
        pytest.param("resenc_retina_unet", marks=pytest.mark.slow),
        pytest.param("resenc_deformable_detr", marks=pytest.mark.slow),
    ],
)
def test_detector_overfits_single_volume(name):
    torch.manual_seed(0)
    cfg = default_config(name, width_multiplier=0.125, n_stages=4)
    if "detr" in name:
        cfg = dataclasses.replace(cfg, num_queries=30)
    model = build_detector(name, cfg)
    image, box = _synthetic_volume()
    targets = [{"boxes": box, "labels": torch.tensor([0])}]
    steps, lr = SETTINGS[name.removeprefix("resenc_")]
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    first = None
    for _ in range(steps):
        loss = model.compute_loss(image, targets)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        first = loss.item() if first is None else first
    with torch.no_grad():
        final = model.compute_loss(image, targets)["loss"].item()
    assert final <= 0.2 * first, (first, final)
    pred = model.eval().predict(image)[0]
    assert pred["boxes"].shape[0] > 0
    assert pred["labels"][0].item() == 0
    assert box_iou(pred["boxes"][:1], box).item() >= 0.5
