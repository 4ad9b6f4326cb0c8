"""Anchors for Retina U-Net: per-level 3D anchor grids, anchor planning from training boxes, box coder.

Anchors follow nnDetection: every position of a detection level carries the Cartesian product of three
per-axis sizes (27 anchors); a level with stride ``s`` uses the base sizes times ``s / s_first``, per axis
when the strides differ per axis (nnDetection scales each axis by its own stride). Anchor centres sit at
voxel-frame position ``(i + 0.5) * s`` of feature index ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["AnchorGenerator", "BoxCoder", "plan_anchor_sizes"]


def _per_axis(stride: int | Sequence[int]) -> tuple[int, int, int]:
    """A level's stride ``(z, y, x)``; an int is the same on every axis."""
    t = (int(stride),) * 3 if isinstance(stride, int | np.integer) else tuple(int(s) for s in stride)
    if len(t) != 3:
        raise ValueError(f"a stride is an int or 3 ints (z, y, x), got {stride!r}")
    return t  # type: ignore[return-value]


class AnchorGenerator:
    """Anchor grid for a list of feature maps; anchors are ordered (z, y, x, anchor) per level."""

    def __init__(self, sizes: Sequence[Sequence[float]], strides: Sequence[int | Sequence[int]]) -> None:
        if len(sizes) != 3:
            raise ValueError("sizes must hold three per-axis size lists (z, y, x)")
        self.sizes = tuple(tuple(float(s) for s in axis) for axis in sizes)
        self.strides = tuple(_per_axis(s) for s in strides)  # (z, y, x) per level
        grid = torch.cartesian_prod(*(torch.tensor(a, dtype=torch.float32) for a in self.sizes))
        self._base = grid.reshape(-1, 3)  # [A, 3] sizes at the first level
        # anchors per (feature shapes, device): training asks for the same grid every step
        self._cache: dict[tuple[tuple[tuple[int, ...], ...], str], list[Tensor]] = {}

    @property
    def num_anchors_per_position(self) -> int:
        return self._base.shape[0]

    def level_sizes(self, level: int) -> Tensor:
        """Anchor sizes ``[A, 3]`` of detection level ``level`` (index into ``strides``)."""
        ratio = [s / f for s, f in zip(self.strides[level], self.strides[0], strict=True)]
        return self._base * torch.tensor(ratio, dtype=torch.float32)

    def __call__(self, shapes: Sequence[Sequence[int]], device: torch.device | None = None) -> list[Tensor]:
        """Anchors ``[D*H*W*A, 6]`` per level for feature maps of spatial ``shapes``.

        The grids are computed once per ``(shapes, device)`` and then returned from a cache (the same tensors
        every call: callers must not modify them in place).
        """
        key = (tuple(tuple(int(n) for n in shape) for shape in shapes), str(torch.device(device or "cpu")))
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= 16:  # inference on many window shapes: keep the cache small
                self._cache.clear()
            cached = self._cache[key] = self._grids(shapes, device)
        return list(cached)

    def _grids(self, shapes: Sequence[Sequence[int]], device: torch.device | None) -> list[Tensor]:
        out = []
        for level, shape in enumerate(shapes):
            stride = self.strides[level]
            axes = [
                (torch.arange(n, dtype=torch.float32, device=device) + 0.5) * st
                for n, st in zip(shape, stride, strict=True)
            ]
            centres = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 1, 3)
            half = self.level_sizes(level).to(device)[None] / 2
            out.append(torch.cat([centres - half, centres + half], dim=-1).reshape(-1, 6))
        return out


class BoxCoder:
    """Encode boxes as centre offsets / log size ratios relative to anchors, and decode them back."""

    def __init__(self, weights: Sequence[float] = (1.0,) * 6, clip: float = math.log(1000.0 / 16)) -> None:
        self.weights = tuple(float(w) for w in weights)
        self.clip = clip

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        w = torch.tensor(self.weights, dtype=boxes.dtype, device=boxes.device)
        a_ctr, a_size = (anchors[:, :3] + anchors[:, 3:]) / 2, anchors[:, 3:] - anchors[:, :3]
        b_ctr, b_size = (boxes[:, :3] + boxes[:, 3:]) / 2, boxes[:, 3:] - boxes[:, :3]
        offsets = (b_ctr - a_ctr) / a_size
        scales = torch.log(b_size.clamp(min=1e-6) / a_size)
        return torch.cat([offsets, scales], dim=1) * w

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        w = torch.tensor(self.weights, dtype=deltas.dtype, device=deltas.device)
        deltas = deltas / w
        a_ctr, a_size = (anchors[:, :3] + anchors[:, 3:]) / 2, anchors[:, 3:] - anchors[:, :3]
        ctr = a_ctr + deltas[:, :3] * a_size
        size = a_size * torch.exp(deltas[:, 3:].clamp(max=self.clip))
        return torch.cat([ctr - size / 2, ctr + size / 2], dim=1)


def _mean_best_iou(box_sizes: np.ndarray, anchor_sizes: np.ndarray) -> float:
    """Mean over boxes of the best IoU with any anchor, both centred at the same point."""
    inter = np.minimum(box_sizes[:, None, :], anchor_sizes[None]).prod(-1)
    union = box_sizes.prod(-1)[:, None] + anchor_sizes.prod(-1)[None] - inter
    return float((inter / union).max(1).mean())


def plan_anchor_sizes(
    box_sizes: np.ndarray,
    level_strides: Sequence[int | Sequence[int]],
    per_axis: int = 3,
    n_candidates: int = 48,
    sweeps: int = 3,
    max_boxes: int = 2000,
    seed: int = 0,
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Per-axis base anchor sizes that maximise the mean best IoU of the training boxes.

    ``box_sizes`` ``[N, 3]`` are box extents in voxels (array order); ``level_strides`` are the strides of
    the detection levels (ints, or ``(z, y, x)`` each). Coordinate ascent over a log-spaced grid, as a
    light-weight version of nnDetection's anchor planning. Returns ``(z sizes, y sizes, x sizes)`` for the
    first detection level.
    """
    sizes = np.asarray(box_sizes, dtype=np.float64).reshape(-1, 3)
    if len(sizes) == 0 or np.any(sizes <= 0):
        raise ValueError("box_sizes must be a non-empty [N, 3] array of positive extents")
    if len(sizes) > max_boxes:
        sizes = sizes[np.random.default_rng(seed).choice(len(sizes), max_boxes, replace=False)]
    strides = np.asarray([_per_axis(s) for s in level_strides], dtype=np.float64)  # [L, 3]
    scales = strides / strides[0]
    lo, hi = max(sizes.min() / scales.max(), 0.5), max(sizes.max(), 1.0)
    grid = np.geomspace(lo, hi, n_candidates)
    current = [list(np.quantile(sizes[:, ax], np.linspace(0.15, 0.85, per_axis))) for ax in range(3)]

    def all_anchors(cur: list[list[float]]) -> np.ndarray:
        base = np.stack(np.meshgrid(*cur, indexing="ij"), -1).reshape(-1, 3)
        return np.concatenate([base * s for s in scales])

    best = _mean_best_iou(sizes, all_anchors(current))
    for _ in range(sweeps):
        improved = False
        for ax in range(3):
            for k in range(per_axis):
                for value in grid:
                    trial = [list(a) for a in current]
                    trial[ax][k] = float(value)
                    score = _mean_best_iou(sizes, all_anchors(trial))
                    if score > best + 1e-9:
                        best, current, improved = score, trial, True
        if not improved:
            break
    return tuple(tuple(sorted(round(v, 3) for v in axis)) for axis in current)  # type: ignore[return-value]
