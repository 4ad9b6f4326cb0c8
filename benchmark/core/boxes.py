"""Vectorised 3D box operations (volume, IoU, GIoU, greedy NMS) for ``(z1, y1, x1, z2, y2, x2)`` boxes.

All functions take ``[N, 6]`` and ``[M, 6]`` arrays (numpy, or torch tensors, which stay torch) and return
``[N, M]`` matrices or ``[N]`` vectors of the same kind. Zero-volume boxes never produce NaN: an IoU whose
union is empty is 0, and a GIoU whose enclosing box is empty equals its IoU. Boxes are not checked for
``z2 >= z1``; an inverted extent counts as zero (validate inputs with :mod:`benchmark.metrics.predictions`).

:func:`nms_clusters` is the one greedy non-maximum suppression of the project: the detectors' per-class NMS
(:func:`models.box_ops.batched_nms`) and the merging of sliding windows and mirrored views
(:mod:`benchmark.inference.consolidation`) both call it, so both follow the same threshold rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_boxes", "box_giou", "box_iou", "box_volume", "nms", "nms_clusters", "pairwise_iou"]


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def as_boxes(boxes: Any, name: str = "boxes") -> Any:
    """``boxes`` as a float ``[N, 6]`` array (torch tensors stay tensors); ValueError on other shapes."""
    if _is_torch(boxes):
        b = boxes if boxes.is_floating_point() else boxes.double()
        if b.numel() == 0:
            b = b.reshape(0, 6)
    else:
        b = np.asarray(boxes, dtype=np.float64)
        if b.size == 0:
            b = b.reshape(0, 6)
    if b.ndim != 2 or b.shape[1] != 6:
        raise ValueError(f"{name} must have shape [N, 6] (z1, y1, x1, z2, y2, x2), got {tuple(b.shape)}")
    return b


def _clip0(x: Any) -> Any:
    return x.clamp(min=0) if _is_torch(x) else np.maximum(x, 0.0)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if _is_torch(cond):
        import torch

        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def _safe_div(num: Any, den: Any) -> Any:
    """``num / den`` with 0 wherever ``den`` is 0 (no NaN, no warning)."""
    positive = den > 0
    return _where(positive, num / _where(positive, den, den * 0 + 1), num * 0)


def box_volume(boxes: Any) -> Any:
    """Volumes ``[N]`` of ``[N, 6]`` boxes (inverted extents count as 0)."""
    b = as_boxes(boxes)
    return _clip0(b[:, 3:] - b[:, :3]).prod(-1)


def _pairwise(a: Any, b: Any) -> tuple[Any, Any, Any, Any]:
    """Intersection volume, union volume, and the enclosing box's min and max corners, all ``[N, M, ...]``."""
    if _is_torch(a) != _is_torch(b):
        raise ValueError("both box sets must be numpy arrays or both torch tensors")
    maximum, minimum = np.maximum, np.minimum
    if _is_torch(a):
        import torch

        maximum, minimum = torch.maximum, torch.minimum
    lo_a, hi_a = a[:, None, :3], a[:, None, 3:]
    lo_b, hi_b = b[None, :, :3], b[None, :, 3:]
    inter = _clip0(minimum(hi_a, hi_b) - maximum(lo_a, lo_b)).prod(-1)
    union = box_volume(a)[:, None] + box_volume(b)[None, :] - inter
    return inter, union, minimum(lo_a, lo_b), maximum(hi_a, hi_b)


def box_iou(boxes1: Any, boxes2: Any) -> Any:
    """Intersection over union ``[N, M]`` of two box sets; 0 where the union is empty."""
    a, b = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    inter, union, _, _ = _pairwise(a, b)
    return _safe_div(inter, union)


def box_giou(boxes1: Any, boxes2: Any) -> Any:
    """Generalised IoU ``[N, M]`` in ``[-1, 1]`` (Rezatofighi et al., CVPR 2019): ``IoU - (C - U) / C``.

    ``C`` is the volume of the smallest box enclosing both; where ``C`` is 0 the GIoU equals the IoU (0).
    """
    a, b = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    inter, union, lo, hi = _pairwise(a, b)
    enclosing = _clip0(hi - lo).prod(-1)
    return _safe_div(inter, union) - _safe_div(enclosing - union, enclosing)


def pairwise_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Row-wise IoU ``[P]`` of two aligned ``[P, 6]`` numpy box arrays (``boxes1[i]`` with ``boxes2[i]``)."""
    a, b = as_boxes(boxes1, "boxes1"), as_boxes(boxes2, "boxes2")
    if a.shape != b.shape:
        raise ValueError(f"aligned box arrays must have equal shapes, got {a.shape} and {b.shape}")
    inter = np.ones(len(a))
    vol_a = np.ones(len(a))
    vol_b = np.ones(len(a))
    for k in range(3):  # explicit per-axis products: numpy's prod over a length-3 axis is slow
        inter *= np.maximum(np.minimum(a[:, k + 3], b[:, k + 3]) - np.maximum(a[:, k], b[:, k]), 0.0)
        vol_a *= np.maximum(a[:, k + 3] - a[:, k], 0.0)
        vol_b *= np.maximum(b[:, k + 3] - b[:, k], 0.0)
    return _safe_div(inter, vol_a + vol_b - inter)


def nms_clusters(boxes: Any, scores: Any, iou_threshold: float) -> list[np.ndarray]:
    """Greedy non-maximum suppression that also returns what each kept box suppressed.

    Boxes are visited by descending score (ties: the lower index first). Each box not yet suppressed is kept
    and suppresses every not yet suppressed box whose IoU with it is **strictly greater** than
    ``iou_threshold``; a box at exactly the threshold survives. This is the rule of ``torchvision.ops.nms``
    ("discards all overlapping boxes with IoU > iou_threshold") and of nnDetection's 3D NMS and weighted box
    clustering (``nndet/core/boxes/nms.py``, ``wbc.py``: boxes with IoU <= threshold stay in the pool), so
    ``iou_threshold=1.0`` suppresses nothing, not even exact duplicates (an IoU is at most 1).

    Returns one index array per kept box, in the order the boxes were kept: the kept box first, then the
    boxes it suppressed (by descending score). ``[c[0] for c in clusters]`` are the NMS survivors; weighted
    box clustering averages each whole cluster. Inputs are numpy arrays or torch tensors (read as float64 on
    the CPU, so every caller gets bit-identical IoUs); the cost is kept boxes x candidates, not candidates
    squared, because each kept box is compared with the remaining candidates only.
    """
    b = np.asarray(_numpy(as_boxes(boxes)), dtype=np.float64)
    s = np.asarray(_numpy(scores), dtype=np.float64).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"got {len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable")
    ordered = b[order]
    free = np.ones(len(order), dtype=bool)
    clusters = []
    for i in range(len(order)):
        if not free[i]:
            continue
        free[i] = False
        rest = np.flatnonzero(free)
        members = rest[box_iou(ordered[i : i + 1], ordered[rest])[0] > iou_threshold] if len(rest) else rest
        free[members] = False
        clusters.append(order[np.concatenate([[i], members]).astype(np.int64)])
    return clusters


def nms(boxes: Any, scores: Any, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by :func:`nms_clusters` (suppression when IoU > ``iou_threshold``), by score."""
    return np.asarray([c[0] for c in nms_clusters(boxes, scores, iou_threshold)], dtype=np.int64)


def _numpy(x: Any) -> Any:
    """A torch tensor as a CPU numpy array (detached); anything else unchanged."""
    return x.detach().cpu().double().numpy() if _is_torch(x) else x
