"""Preprocess a new scan exactly as training did, in bounded memory.

Training (:func:`benchmark.preprocessing.pipeline.preprocess_case`) normalises the whole image
(:func:`~benchmark.preprocessing.intensity.normalize_image`), resamples it to the plan's spacing
(:func:`~benchmark.preprocessing.resampling.resample_image`), clips CT channels again
(:func:`~benchmark.preprocessing.intensity.clip_after_resampling`) and stores ``plan.image_dtype``, which the
loader reads back as float32. :func:`preprocess_scan` does the same:

* A channel of at most ``whole_voxels`` voxels goes through those very functions: the result is bit for bit
  the array training would have stored.
* A larger channel is processed in slabs along z, so no full-resolution float32 (or float64) copy exists: each
  output slab reads its input slab plus a margin, converts it to float32, normalises it (CT: clip and z-score,
  pointwise, exactly as training) and resamples it with the same cubic B-spline of SciPy
  (``ndimage.affine_transform`` with a diagonal matrix, i.e. ``zoom``'s grid-mode coordinates shifted by the
  slab's offset). The spline prefilter is a recursive filter along the whole axis whose influence decays as
  ``|sqrt(3) - 2|^d`` over ``d`` voxels; a margin of :data:`SPLINE_MARGIN` voxels makes the slab result
  equal the whole-image one to ~1e-9 of the value range, below float32 rounding. Per-case z-score statistics
  (MRI) are accumulated slab by slab in float64.

Memory of the slab path: the input image in its own dtype (e.g. int16, as SimpleITK read it), the output at the
plan's spacing (float32) and one slab's float64 spline coefficients (``slab_voxels`` bounds it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from benchmark.core.conventions import Geometry
from benchmark.preprocessing.intensity import clip_after_resampling, normalize_image
from benchmark.preprocessing.plan import ChannelNormalization, Plan
from benchmark.preprocessing.resampling import resample_image, resampled_geometry, resampled_shape

SPLINE_MARGIN = 16  # input voxels beyond a slab's spline support (0.268^16 ~ 7e-10)
WHOLE_VOXELS = 256**3 // 2  # channels up to this size are preprocessed whole (bit-identical to training)
SLAB_VOXELS = 24 * 512 * 512  # input voxels per slab (plus margins) on the slab path


def _zscore_stats(channel: np.ndarray, step: int) -> tuple[float, float]:
    """Mean and standard deviation of a channel in float64, accumulated over z-slabs of ``step`` slices."""
    n = channel.size
    total = sum(float(np.sum(channel[z : z + step], dtype=np.float64)) for z in range(0, channel.shape[0], step))
    mean = total / n
    sq = sum(
        float(np.sum((channel[z : z + step].astype(np.float64) - mean) ** 2))
        for z in range(0, channel.shape[0], step)
    )
    return mean, math.sqrt(sq / n)


def _normalise_slab(x: np.ndarray, norm: ChannelNormalization, stats: tuple[float, float] | None) -> np.ndarray:
    """``normalize_image`` of one float32 slab, in place (same float32 operations, so the same values)."""
    if norm.scheme == "ct":
        np.clip(x, norm.lower, norm.upper, out=x)
        mean, std = float(norm.mean), float(norm.std)
    else:
        mean, std = stats  # type: ignore[misc]
    np.subtract(x, mean, out=x)
    np.divide(x, max(std, 1e-8), out=x)
    return x


def _resample_slabs(
    channel: np.ndarray,
    new_shape: tuple[int, int, int],
    order: int,
    prepare: Callable[[np.ndarray], np.ndarray],
    out: np.ndarray,
    slab_voxels: int,
) -> None:
    """Write the resampled, prepared ``channel`` into ``out`` (float32, ``new_shape``) one z-slab at a time."""
    from scipy import ndimage

    shape = channel.shape
    factor = np.asarray(shape, np.float64) / np.asarray(new_shape, np.float64)  # input voxels per output voxel
    plane = shape[1] * shape[2]
    in_per_slab = max(1, slab_voxels // plane)
    out_per_slab = max(1, int(in_per_slab / factor[0]))
    margin = (SPLINE_MARGIN + 3) if order > 1 else 2
    for o0 in range(0, new_shape[0], out_per_slab):
        o1 = min(new_shape[0], o0 + out_per_slab)
        first = (o0 + 0.5) * factor[0] - 0.5  # grid-mode input coordinate of the slab's first output voxel
        last = (o1 - 0.5) * factor[0] - 0.5
        a = max(0, int(math.floor(first)) - margin)
        b = min(shape[0], int(math.ceil(last)) + margin + 1)
        slab = prepare(np.asarray(channel[a:b], dtype=np.float32).copy())
        offset = np.array([first - a, 0.5 * factor[1] - 0.5, 0.5 * factor[2] - 0.5])
        out[o0:o1] = ndimage.affine_transform(
            slab, factor, offset=offset, output_shape=(o1 - o0, *new_shape[1:]), output=np.float32,
            order=order, mode="nearest",
        )


def preprocess_scan(
    channels: Sequence[np.ndarray],
    geometry: Geometry,
    plan: Plan,
    whole_voxels: int = WHOLE_VOXELS,
    slab_voxels: int = SLAB_VOXELS,
) -> tuple[np.ndarray, Geometry]:
    """``(C, z, y, x)`` float32 image at the plan's spacing, as the training loader would read it, and its geometry.

    ``channels`` are ``(z, y, x)`` arrays of any dtype (e.g. views of SimpleITK buffers); they are not modified.
    """
    if len(channels) != plan.num_channels:
        raise ValueError(f"{len(channels)} channel(s), the plan expects {plan.num_channels}")
    shape = tuple(int(s) for s in geometry.shape)
    new_shape = resampled_shape(shape, geometry.spacing, plan.target_spacing)
    out = np.empty((len(channels), *new_shape), dtype=np.float32)
    for c, (channel, norm) in enumerate(zip(channels, plan.normalization, strict=True)):
        if tuple(channel.shape) != shape:
            raise ValueError(f"channel {c} has shape {tuple(channel.shape)}, channel 0 has {shape}")
        if channel.size <= whole_voxels:
            image = normalize_image(np.asarray(channel, dtype=np.float32)[None], [norm])
            image = resample_image(image, new_shape, plan.image_order)
            out[c] = clip_after_resampling(image, [norm])[0]
        else:
            step = max(1, slab_voxels // (shape[1] * shape[2]))
            stats = _zscore_stats(channel, step) if norm.scheme == "zscore_per_case" else None

            def prepare(x: np.ndarray, norm: ChannelNormalization = norm, stats=stats) -> np.ndarray:  # noqa: ANN001
                return _normalise_slab(x, norm, stats)

            if new_shape == shape:
                for z in range(0, shape[0], step):
                    out[c, z : z + step] = prepare(np.asarray(channel[z : z + step], dtype=np.float32).copy())
            else:
                _resample_slabs(channel, new_shape, plan.image_order, prepare, out[c], slab_voxels)
            clip_after_resampling(out[c : c + 1], [norm])
        if plan.image_dtype != "float32":  # training stores image_dtype; the loader reads it back as float32
            out[c] = out[c].astype(plan.image_dtype).astype(np.float32)
    return out, resampled_geometry(geometry, new_shape)
