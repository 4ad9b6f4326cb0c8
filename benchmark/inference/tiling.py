"""Tile positions of a sliding window over a volume, and the centre weighting of boxes inside a tile."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def tile_starts(size: int, patch: int, overlap: float) -> list[int]:
    """Start offsets along one axis so that windows of ``patch`` cover ``[0, size)`` with at least ``overlap``.

    Windows are spread evenly between 0 and ``size - patch`` (nnU-Net's rule); a volume smaller than the
    patch gets one window at 0 (the volume is padded to the patch).
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    if patch < 1:
        raise ValueError(f"patch size must be >= 1, got {patch}")
    if size <= patch:
        return [0]
    step = max(1, int(patch * (1.0 - overlap)))
    n = math.ceil((size - patch) / step) + 1
    return [int(round(v)) for v in np.linspace(0, size - patch, n)]


def tile_grid(shape: Sequence[int], patch: Sequence[int], overlap: float) -> list[tuple[int, int, int]]:
    """All tile start corners ``(z, y, x)`` over a volume of ``shape``."""
    starts = [tile_starts(int(s), int(p), overlap) for s, p in zip(shape, patch, strict=True)]
    return [(a, b, c) for a in starts[0] for b in starts[1] for c in starts[2]]


def centre_weight(centres: np.ndarray, patch: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """Gaussian weight of box centres (tile frame): 1 at the tile centre, falling towards the borders.

    sigma is ``sigma_scale`` times the patch size per axis, as nnU-Net's importance map; boxes predicted near a
    tile border, where the network saw little context, count less when windows are merged.
    """
    p = np.asarray(patch, dtype=np.float64)
    d = (np.asarray(centres, dtype=np.float64).reshape(-1, 3) - p / 2.0) / (sigma_scale * p)
    return np.exp(-0.5 * np.sum(d**2, axis=1))
