"""The interface shared by every detector: the training loop calls ``compute_loss``, inference ``predict``.

Targets are one dict per image: ``boxes`` ``[N, 6]`` float ``(z1, y1, x1, z2, y2, x2)`` in the voxel frame of
the input patch, ``labels`` ``[N]`` long foreground class indices in ``0..num_classes-1``; Retina U-Net
also reads an optional ``seg`` ``[Z, Y, X]`` class map (0 background, ``k + 1`` for class ``k``) or
``instances`` ``[Z, Y, X]`` map (id ``i + 1`` is box ``i``). Predictions are one dict per image with
``boxes`` ``[K, 6]``, ``scores`` ``[K]`` and ``labels`` ``[K]`` in the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import torch
from torch import Tensor, nn

__all__ = ["Detection", "Detector", "Target", "check_images", "check_targets"]


class Target(TypedDict, total=False):
    boxes: Tensor
    labels: Tensor
    seg: Tensor
    instances: Tensor


class Detection(TypedDict):
    boxes: Tensor
    scores: Tensor
    labels: Tensor


class Detector(nn.Module):
    """Base class: an ``encoder`` (frozen or not by the fine-tuning loop) plus a detection-specific part."""

    encoder: nn.Module
    num_classes: int

    def compute_loss(self, images: Tensor, targets: list[Target]) -> dict[str, Tensor]:
        """Loss terms for a batch; ``"loss"`` is the total the optimiser minimises."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, images: Tensor) -> list[Detection]:
        """Boxes, scores and labels per image in the voxel frame of ``images``."""
        raise NotImplementedError

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of (unique) parameters, optionally only those with ``requires_grad``."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def detection_parameters(self) -> list[nn.Parameter]:
        """Parameters outside the encoder (decoder, heads, transformer): the warm-up phase trains these."""
        encoder_ids = {id(p) for p in self.encoder.parameters()}
        return [p for p in self.parameters() if id(p) not in encoder_ids]


def check_images(images: Tensor, in_channels: int, divisor: int | Sequence[int]) -> None:
    """ValueError unless ``images`` is ``[B, in_channels, Z, Y, X]`` with spatial sizes divisible by ``divisor``
    (an int, or one per axis ``(z, y, x)``)."""
    if images.ndim != 5 or images.shape[1] != in_channels:
        raise ValueError(f"images must be [B, {in_channels}, Z, Y, X], got shape {tuple(images.shape)}")
    per_axis = (divisor,) * 3 if isinstance(divisor, int) else tuple(int(d) for d in divisor)
    if any(n % d for n, d in zip(images.shape[2:], per_axis, strict=True)):
        shown = per_axis[0] if len(set(per_axis)) == 1 else per_axis
        raise ValueError(
            f"spatial size {tuple(images.shape[2:])} must be divisible by the encoder's total stride {shown}"
        )


def check_targets(images: Tensor, targets: list[Target], num_classes: int) -> None:
    """ValueError on malformed targets (wrong count, shapes, label range)."""
    if images.ndim != 5:
        raise ValueError(f"images must be [B, C, Z, Y, X], got shape {tuple(images.shape)}")
    if len(targets) != images.shape[0]:
        raise ValueError(f"got {len(targets)} targets for a batch of {images.shape[0]} images")
    for i, t in enumerate(targets):
        if "boxes" not in t or "labels" not in t:
            raise ValueError(f"target {i} needs 'boxes' and 'labels'; got keys {sorted(t)}")
        boxes, labels = t["boxes"], t["labels"]
        if boxes.ndim != 2 or boxes.shape[1] != 6:
            raise ValueError(f"target {i} boxes must be [N, 6] (z1, y1, x1, z2, y2, x2), got {tuple(boxes.shape)}")
        if labels.shape != (boxes.shape[0],):
            raise ValueError(f"target {i} labels must be [N] matching boxes, got {tuple(labels.shape)}")
        if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"target {i} labels must be in 0..{num_classes - 1}, got {labels.tolist()}")
