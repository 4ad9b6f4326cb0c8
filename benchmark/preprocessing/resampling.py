"""Resampling of images and instance maps to a target spacing, in detbench's voxel frame.

The resampled grid covers exactly the same field of view as the original: ``new_shape = round(shape *
spacing / target_spacing)`` and the real spacing is ``spacing * shape / new_shape`` (within half a voxel of
the target over the whole image). Voxel-frame coordinates therefore map by a per-axis scale:
``p_original = p_resampled * shape / new_shape`` (see :mod:`benchmark.preprocessing.mapping`).

* Images: cubic B-spline (``order=3``, as nnU-Net/nnDetection do in-plane; smoother than linear for
  upsampling thick slices) or linear, with ``scipy.ndimage.zoom(grid_mode=True)``, whose pixel-extent
  alignment is exactly this voxel frame. Images are normalised before resampling, so spline overshoot
  stays small relative to the clipped range.
* Instance maps: nearest neighbour (each new voxel takes the instance of the old voxel containing its
  centre). It cannot merge or invent instances, and every box edge lands within half a target voxel of the
  original edge for objects at least one target voxel long (per-instance linear interpolation with a 0.5
  threshold shifts the edges of thin objects and is slower). An instance that vanishes (too small for the
  new grid) is kept as the single new voxel containing its centre of mass (if that is the last voxel of
  another instance: the nearest voxel that is not) and a warning is returned -- nothing is dropped
  silently, no instance is created.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.core.conventions import Geometry, voxel_to_world


def resampled_shape(
    shape: Sequence[int], spacing: Sequence[float], target_spacing: Sequence[float]
) -> tuple[int, int, int]:
    """Shape ``(z, y, x)`` of the grid with ``target_spacing`` over the same field of view (at least 1)."""
    return tuple(max(1, int(round(n * s / t))) for n, s, t in zip(shape, spacing, target_spacing, strict=True))  # type: ignore


def resampled_geometry(geometry: Geometry, new_shape: Sequence[int]) -> Geometry:
    """Geometry of the resampled grid: same field of view and direction, spacing ``spacing * shape / new_shape``."""
    factor = np.asarray(geometry.shape, dtype=np.float64) / np.asarray(new_shape, dtype=np.float64)  # (z, y, x)
    spacing_zyx = np.asarray(geometry.spacing) * factor
    origin = voxel_to_world(0.5 * factor[None, :], geometry)[0]  # centre of new voxel 0, in the old frame
    return Geometry(
        shape=tuple(int(n) for n in new_shape),  # type: ignore[arg-type]
        spacing_xyz=tuple(float(s) for s in spacing_zyx[::-1]),  # type: ignore[arg-type]
        origin_xyz=tuple(float(o) for o in origin),  # type: ignore[arg-type]
        direction=geometry.direction,
    )


def resample_image(image: np.ndarray, new_shape: Sequence[int], order: int = 3) -> np.ndarray:
    """Resample a ``(C, z, y, x)`` image to ``new_shape`` with a spline of ``order`` (float32 out)."""
    from scipy import ndimage

    image = np.asarray(image)
    if image.ndim != 4:
        raise ValueError(f"image must be (C, z, y, x), got shape {image.shape}")
    if order not in (0, 1, 3):
        raise ValueError(f"order must be one of (0, 1, 3), got {order}")
    new_shape = tuple(int(n) for n in new_shape)
    if tuple(image.shape[1:]) == new_shape:
        return image.astype(np.float32, copy=True)
    zoom = np.asarray(new_shape, dtype=np.float64) / np.asarray(image.shape[1:], dtype=np.float64)
    out = np.empty((image.shape[0], *new_shape), dtype=np.float32)
    for c in range(image.shape[0]):
        res = ndimage.zoom(image[c].astype(np.float32), zoom, order=order, mode="nearest", grid_mode=True)
        if res.shape != new_shape:  # scipy rounds the output shape itself; guard against a mismatch
            raise RuntimeError(f"scipy zoom produced {res.shape}, expected {new_shape}")
        out[c] = res
    return out


def instance_boxes(instances: np.ndarray) -> dict[int, np.ndarray]:
    """Box of every instance id > 0 (same result as ``conventions.boxes_from_instances``, one fast pass)."""
    from scipy import ndimage

    arr = np.asarray(instances)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"instance map must be an integer array, got {arr.dtype}")
    if arr.min(initial=0) < 0:
        raise ValueError("instance map must not contain negative ids")
    slices = ndimage.find_objects(arr) if arr.any() else []
    return {
        i + 1: np.array([s.start for s in sl] + [s.stop for s in sl], dtype=np.float64)
        for i, sl in enumerate(slices)
        if sl is not None
    }


def nearest_indices(old_len: int, new_len: int) -> np.ndarray:
    """Old voxel containing the centre of each new voxel: ``floor((j + 0.5) * old_len / new_len)``."""
    return np.minimum(np.floor((np.arange(new_len) + 0.5) * (old_len / new_len)).astype(np.int64), old_len - 1)


def _nearest_free_voxel(
    out: np.ndarray, counts: np.ndarray, point: np.ndarray, max_radius: int = 8
) -> tuple[int, ...] | None:
    """Voxel closest to ``point`` (voxel frame) that is background or not the last voxel of its instance."""
    for radius in range(1, max_radius + 1):
        lo = np.maximum(np.floor(point).astype(np.int64) - radius, 0)
        hi = np.minimum(np.floor(point).astype(np.int64) + radius + 1, out.shape)
        owners = out[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))].astype(np.int64)
        free = np.argwhere((owners == 0) | (counts[owners] > 1))
        if len(free):
            dist = np.sum((free + lo + 0.5 - point) ** 2, axis=1)
            return tuple(int(v) for v in free[int(np.argmin(dist))] + lo)
    return None


def resample_instances(
    instances: np.ndarray,
    new_shape: Sequence[int],
    classes: dict[int, int] | None = None,
    spacing: Sequence[float] | None = None,
    target_spacing: Sequence[float] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Resample an instance map (nearest neighbour + rescue of vanished instances); returns it and warnings.

    ``classes``, ``spacing`` and ``target_spacing`` only enrich the warning messages.
    """
    instances = np.asarray(instances)
    new_shape = tuple(int(n) for n in new_shape)
    dtype = np.int16 if instances.max(initial=0) < np.iinfo(np.int16).max else np.int32
    if tuple(instances.shape) == new_shape:
        return instances.astype(dtype, copy=True), []
    factor = np.asarray(instances.shape, dtype=np.float64) / np.asarray(new_shape, dtype=np.float64)
    boxes = instance_boxes(instances)
    iz, iy, ix = (nearest_indices(o, n) for o, n in zip(instances.shape, new_shape, strict=True))
    out = instances[iz][:, iy][:, :, ix].astype(dtype)
    warnings: list[str] = []
    vanished = sorted(set(boxes) - set(instance_boxes(out)))
    if not vanished:
        return out, warnings
    counts = np.bincount(out.ravel(), minlength=max(boxes) + 1)
    for inst_id in vanished:
        box = boxes[inst_id]
        lo, hi = box[:3].astype(np.int64), box[3:].astype(np.int64)
        voxels = np.argwhere(instances[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] == inst_id) + lo
        centre = voxels.mean(axis=0) + 0.5  # centre of mass, old voxel frame
        voxel = tuple(int(v) for v in np.minimum(np.floor(centre / factor), np.asarray(new_shape) - 1))
        how = "the voxel containing its centre"
        if out[voxel] != 0 and counts[out[voxel]] == 1:  # never take the last voxel of another instance
            voxel, how = _nearest_free_voxel(out, counts, centre / factor), "the nearest voxel not needed by another"
        what = f"instance {inst_id}" + (f" (class {classes[inst_id]})" if classes and inst_id in classes else "")
        where = ""
        if spacing is not None and target_spacing is not None:
            where = f" from spacing {tuple(round(float(s), 3) for s in spacing)} mm"
            where += f" to {tuple(round(float(s), 3) for s in target_spacing)} mm"
        if voxel is None:
            warnings.append(f"{what} ({len(voxels)} voxels) vanished after resampling{where} and could not be kept")
            continue
        counts[out[voxel]] -= 1
        out[voxel] = inst_id
        counts[inst_id] = 1
        warnings.append(
            f"{what} ({len(voxels)} voxels) vanished after resampling{where}; kept as a single voxel at "
            f"{voxel} (z, y, x), {how}"
        )
    return out, warnings
