"""Differentiable torch box operations for ``(z1, y1, x1, z2, y2, x2)`` boxes in the voxel frame.

Pairwise IoU and GIoU are those of :mod:`benchmark.core.boxes`, which take numpy arrays or torch tensors
(gradients flow through the tensor path); the rest keeps gradients for the losses and runs on any device.
:func:`nms` is :func:`benchmark.core.boxes.nms`, the same implementation inference merges windows with.
``center_size`` boxes are ``(cz, cy, cx, dz, dy, dx)``. Zero-volume boxes
never produce NaN: an empty union gives IoU 0 and an empty enclosing box gives GIoU equal to IoU.
"""

from __future__ import annotations

import torch
from torch import Tensor

from benchmark.core.boxes import box_giou as generalized_box_iou
from benchmark.core.boxes import box_iou
from benchmark.core.boxes import nms as _core_nms

__all__ = [
    "batched_nms",
    "box_iou",
    "box_volume",
    "center_size_to_corners",
    "clip_boxes",
    "corners_to_center_size",
    "elementwise_giou",
    "generalized_box_iou",
    "nms",
]

_EPS = 1e-7


def box_volume(boxes: Tensor) -> Tensor:
    """Volume ``[N]`` of ``[N, 6]`` boxes (inverted extents count as zero)."""
    ext = (boxes[..., 3:] - boxes[..., :3]).clamp(min=0)
    return ext.prod(-1)


def elementwise_giou(a: Tensor, b: Tensor) -> Tensor:
    """Generalised IoU ``[N]`` of matching rows of two ``[N, 6]`` box sets."""
    lo = torch.maximum(a[:, :3], b[:, :3])
    hi = torch.minimum(a[:, 3:], b[:, 3:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    union = box_volume(a) + box_volume(b) - inter
    iou = torch.where(union > 0, inter / union.clamp(min=_EPS), torch.zeros_like(inter))
    enc = (torch.maximum(a[:, 3:], b[:, 3:]) - torch.minimum(a[:, :3], b[:, :3])).clamp(min=0).prod(-1)
    return iou - torch.where(enc > 0, (enc - union) / enc.clamp(min=_EPS), torch.zeros_like(iou))


def center_size_to_corners(boxes: Tensor) -> Tensor:
    """``(cz, cy, cx, dz, dy, dx)`` -> ``(z1, y1, x1, z2, y2, x2)``."""
    c, s = boxes[..., :3], boxes[..., 3:]
    return torch.cat([c - 0.5 * s, c + 0.5 * s], dim=-1)


def corners_to_center_size(boxes: Tensor) -> Tensor:
    """``(z1, y1, x1, z2, y2, x2)`` -> ``(cz, cy, cx, dz, dy, dx)``."""
    lo, hi = boxes[..., :3], boxes[..., 3:]
    return torch.cat([(lo + hi) * 0.5, hi - lo], dim=-1)


def clip_boxes(boxes: Tensor, shape: tuple[int, int, int] | torch.Size) -> Tensor:
    """Clip boxes to the image ``[0, shape]`` per axis (array order ``(z, y, x)``)."""
    upper = torch.as_tensor(tuple(shape), dtype=boxes.dtype, device=boxes.device)
    lo = torch.minimum(boxes[..., :3].clamp(min=0), upper)
    hi = torch.minimum(boxes[..., 3:].clamp(min=0), upper)
    return torch.cat([lo, torch.maximum(hi, lo)], dim=-1)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression; indices of kept boxes by descending score, on the boxes' device.

    The project's one implementation, :func:`benchmark.core.boxes.nms_clusters`: a box is suppressed when its
    IoU with a better kept box is strictly greater than ``iou_threshold`` (torchvision / nnDetection rule).
    It runs on the CPU in float64 (one row of IoUs per kept box), whatever the device of ``boxes``.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    return torch.as_tensor(_core_nms(boxes, scores, iou_threshold), dtype=torch.long, device=boxes.device)


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """Per-class :func:`nms` (suppression when IoU > ``iou_threshold``): boxes of different labels never
    suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    # shift every class into its own region of space so one NMS pass handles all classes
    span = boxes.max() - boxes.min() + 1
    shifted = boxes + (labels.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)
