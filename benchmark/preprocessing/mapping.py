"""Map boxes and points between the preprocessed voxel frame, the original voxel frame and the world.

Resampling keeps the field of view (see :mod:`benchmark.preprocessing.resampling`), so the two voxel frames
differ by a per-axis scale ``original_shape / resampled_shape``; world coordinates then follow from the
original geometry (or, identically, from the resampled geometry of the preprocessed frame).
"""

from __future__ import annotations

import numpy as np

from benchmark.core.conventions import voxel_to_world
from benchmark.preprocessing.store import PreprocessedCaseMeta


def _meta(case_meta: PreprocessedCaseMeta | dict) -> PreprocessedCaseMeta:
    return case_meta if isinstance(case_meta, PreprocessedCaseMeta) else PreprocessedCaseMeta.from_json(case_meta)


def scale_to_original(case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """Original voxels per preprocessed voxel, per axis ``(z, y, x)``."""
    meta = _meta(case_meta)
    return np.asarray(meta.original_geometry.shape, np.float64) / np.asarray(meta.resampled_geometry.shape, np.float64)


def preprocessed_to_original_boxes(boxes: np.ndarray, case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """``[N, 6]`` boxes in the preprocessed voxel frame -> the original image's voxel frame."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return b * np.tile(scale_to_original(case_meta), 2)


def original_to_preprocessed_boxes(boxes: np.ndarray, case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """Inverse of :func:`preprocessed_to_original_boxes`."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return b / np.tile(scale_to_original(case_meta), 2)


def preprocessed_to_original_points(points_zyx: np.ndarray, case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """``[N, 3]`` voxel-frame points of the preprocessed array -> the original voxel frame."""
    return np.asarray(points_zyx, dtype=np.float64).reshape(-1, 3) * scale_to_original(case_meta)


def preprocessed_to_world(points_zyx: np.ndarray, case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """``[N, 3]`` voxel-frame points of the preprocessed array -> world millimetres ``(x, y, z)``."""
    meta = _meta(case_meta)
    return voxel_to_world(preprocessed_to_original_points(points_zyx, meta), meta.original_geometry)


def preprocessed_boxes_to_world(boxes: np.ndarray, case_meta: PreprocessedCaseMeta | dict) -> np.ndarray:
    """World coordinates ``[N, 2, 3]`` (x, y, z) of the two corners ``(z1, y1, x1)`` and ``(z2, y2, x2)``.

    With a non-identity direction the corners are not world minima/maxima; use the centres
    (:func:`preprocessed_to_world` of the box centres) for point-based protocols such as LUNA16's FROC.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    corners = np.concatenate([b[:, :3], b[:, 3:]], axis=0)
    world = preprocessed_to_world(corners, case_meta)
    return np.stack([world[: len(b)], world[len(b) :]], axis=1)
