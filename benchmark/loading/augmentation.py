"""Augmentation settings and their random draws: spatial (one transform per patch) and intensity.

Defaults follow nnU-Net/nnDetection (batchgenerators): rotation +-30 deg (p 0.2), isotropic scaling 0.7-1.4
(p 0.2), mirroring (p 0.5 per axis), elastic deformation off; Gaussian noise (p 0.1), Gaussian blur (p 0.2),
brightness (p 0.15), contrast (p 0.15), gamma (p 0.3). Rotations are applied in millimetres (voxel spacing
taken into account); with strongly anisotropic voxels (ratio > ``anisotropy_threshold``) only in-plane
rotation is drawn, as nnU-Net does. Intensity transforms work on torch tensors on any device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class SpatialAugmentation:
    """Probabilities and ranges of the spatial transform drawn for each patch."""

    p_rotation: float = 0.2
    rotation_deg: float = 30.0
    p_scale: float = 0.2
    scale_range: tuple[float, float] = (0.7, 1.4)  # > 1 zooms in (objects look larger)
    p_mirror: float = 0.5  # per axis in mirror_axes
    mirror_axes: tuple[int, ...] = (0, 1, 2)
    p_elastic: float = 0.0  # elastic deformation is off by default
    elastic_magnitude: float = 3.0  # voxels (standard deviation of the control-point displacements)
    elastic_control_points: int = 4  # per axis
    anisotropy_threshold: float = 3.0


@dataclass(frozen=True)
class IntensityAugmentation:
    """Probabilities and ranges of the intensity transforms (applied per patch, in this order)."""

    p_noise: float = 0.1
    noise_variance: tuple[float, float] = (0.0, 0.1)
    p_blur: float = 0.2
    blur_sigma: tuple[float, float] = (0.5, 1.0)  # voxels
    p_brightness: float = 0.15
    brightness_range: tuple[float, float] = (0.75, 1.25)
    p_contrast: float = 0.15
    contrast_range: tuple[float, float] = (0.75, 1.25)
    p_gamma: float = 0.3
    gamma_range: tuple[float, float] = (0.7, 1.5)


@dataclass(frozen=True)
class AugmentationConfig:
    """Spatial and intensity augmentation; ``enabled=False`` gives plain crops."""

    spatial: SpatialAugmentation = field(default_factory=SpatialAugmentation)
    intensity: IntensityAugmentation = field(default_factory=IntensityAugmentation)
    enabled: bool = True

    @classmethod
    def none(cls) -> AugmentationConfig:
        return cls(enabled=False)


def _rotation(axis: int, angle: float) -> np.ndarray:
    """Rotation matrix about array axis ``axis`` (0=z, 1=y, 2=x) in (z, y, x) coordinates."""
    a, b = [i for i in range(3) if i != axis]
    r = np.eye(3)
    c, s = math.cos(angle), math.sin(angle)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def sample_spatial_transform(
    rng: np.random.Generator, cfg: SpatialAugmentation, spacing: Sequence[float] = (1.0, 1.0, 1.0)
) -> np.ndarray:
    """Draw the 3x3 matrix that maps output-voxel offsets to source-voxel offsets (rotation, scale, mirror)."""
    spacing = np.asarray(spacing, dtype=np.float64)
    rot = np.eye(3)
    if rng.random() < cfg.p_rotation:
        limit = math.radians(cfg.rotation_deg)
        if spacing.max() / spacing.min() > cfg.anisotropy_threshold:
            axes = [int(np.argmax(spacing))]  # in-plane only: rotate about the coarse axis
        else:
            axes = [0, 1, 2]
        for axis in axes:
            rot = _rotation(axis, rng.uniform(-limit, limit)) @ rot
    zoom = rng.uniform(*cfg.scale_range) if rng.random() < cfg.p_scale else 1.0
    mirror = np.ones(3)
    for axis in cfg.mirror_axes:
        if rng.random() < cfg.p_mirror:
            mirror[axis] = -1.0
    # output offset (voxels) -> mm -> rotate and zoom -> source voxels
    return np.diag(1.0 / spacing) @ rot @ np.diag(spacing) @ np.diag(mirror) / zoom


def sample_displacement(
    rng: np.random.Generator, cfg: SpatialAugmentation, patch_size: Sequence[int]
) -> torch.Tensor | None:
    """Smooth elastic displacement ``[3, z, y, x]`` in source voxels, or ``None`` (the default: no elastic)."""
    if not rng.random() < cfg.p_elastic:
        return None
    k = max(2, int(cfg.elastic_control_points))
    coarse = rng.normal(0.0, cfg.elastic_magnitude, size=(1, 3, k, k, k)).astype(np.float32)
    field_ = torch.nn.functional.interpolate(
        torch.from_numpy(coarse), size=tuple(int(p) for p in patch_size), mode="trilinear", align_corners=True
    )
    return field_[0]


def _mean_std(x: torch.Tensor) -> tuple[float, float]:
    """Mean and std in float64, computed by numpy on CPU (thread-count independent, hence reproducible)."""
    if x.device.type == "cpu":
        a = x.numpy()
        return float(a.mean(dtype=np.float64)), float(a.std(dtype=np.float64))
    return float(x.double().mean()), float(x.double().std(unbiased=False))


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a ``(z, y, x)`` tensor (edges replicated), as a sum of shifted copies."""
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    weights = (weights / weights.sum()).tolist()
    out = x
    for dim in range(3):
        n = out.shape[dim]
        idx = torch.arange(n, device=x.device)
        acc = torch.zeros_like(out)
        for w, off in zip(weights, range(-radius, radius + 1), strict=True):
            acc += w * out.index_select(dim, (idx + off).clamp(0, n - 1))
        out = acc
    return out


def apply_intensity_augmentation(
    image: torch.Tensor, rng: np.random.Generator, generator: torch.Generator, cfg: IntensityAugmentation
) -> torch.Tensor:
    """Noise, blur, brightness, contrast and gamma on a ``(C, z, y, x)`` float tensor (each with its probability)."""
    x = image.clone()
    if rng.random() < cfg.p_noise:
        std = math.sqrt(rng.uniform(*cfg.noise_variance))
        x += std * torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if rng.random() < cfg.p_blur:
        for c in range(x.shape[0]):
            if rng.random() < 0.5:
                x[c] = gaussian_blur(x[c], rng.uniform(*cfg.blur_sigma))
    if rng.random() < cfg.p_brightness:
        x *= rng.uniform(*cfg.brightness_range)
    if rng.random() < cfg.p_contrast:
        for c in range(x.shape[0]):
            factor = rng.uniform(*cfg.contrast_range)
            mean, _ = _mean_std(x[c])
            lo, hi = float(x[c].min()), float(x[c].max())
            x[c] = ((x[c] - mean) * factor + mean).clamp(lo, hi)  # contrast change, range preserved
    if rng.random() < cfg.p_gamma:
        for c in range(x.shape[0]):
            gamma = rng.uniform(*cfg.gamma_range)
            mean, std = _mean_std(x[c])
            lo, hi = float(x[c].min()), float(x[c].max())
            y = ((x[c] - lo) / max(hi - lo, 1e-7)).pow(gamma) * (hi - lo) + lo
            new_mean, new_std = _mean_std(y)
            x[c] = (y - new_mean) / max(new_std, 1e-7) * std + mean  # statistics retained
    return x
