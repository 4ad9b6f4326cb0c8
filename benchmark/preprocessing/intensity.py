"""Intensity normalisation: CT foreground statistics over the training cases, and per-case z-score for MRI.

CT (paper, appendix C.1): clip to the 0.5/99.5 percentiles of *foreground* intensities, then z-score with
the mean and standard deviation of the clipped foreground samples. Foreground = voxels inside annotated
instances of the training cases (as nnU-Net; object-free cases contribute nothing); only if no training case
has an instance, body voxels (``> BODY_THRESHOLD_HU``, everything denser than lung/air) are used instead.
Up to ``samples_per_case`` voxels of each kind are drawn per case with an explicit numpy Generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.preprocessing.plan import ChannelNormalization

BODY_THRESHOLD_HU = -500.0
CT_PERCENTILES = (0.5, 99.5)
DEFAULT_SAMPLES_PER_CASE = 10_000


def is_ct(modality: str) -> bool:
    """A channel is normalised as CT when its modality name starts with ``CT`` (``CT``, ``CTA``; any case)."""
    return modality.strip().upper().startswith("CT")


def _subsample(values: np.ndarray, rng: np.random.Generator, max_samples: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return rng.choice(values, size=max_samples, replace=False) if values.size > max_samples else values


def foreground_samples(
    channel: np.ndarray, instances: np.ndarray | None, rng: np.random.Generator, max_samples: int
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``max_samples`` intensities inside instances, and up to ``max_samples`` inside the body."""
    inside = channel[instances > 0] if instances is not None else np.zeros(0)
    return _subsample(inside, rng, max_samples), _subsample(channel[channel > BODY_THRESHOLD_HU], rng, max_samples)


def ct_normalization(
    instance_samples: Sequence[np.ndarray], body_samples: Sequence[np.ndarray]
) -> ChannelNormalization:
    """CT statistics from pooled instance samples (body samples if there are none): percentiles, clipped mean/std."""
    pooled, source = _pool(instance_samples), "instances"
    if pooled.size == 0:
        pooled, source = _pool(body_samples), "body"
    if pooled.size == 0:
        raise ValueError(
            "no foreground voxels in the training cases (no instances and nothing above "
            f"{BODY_THRESHOLD_HU} HU): cannot compute CT normalisation statistics"
        )
    lower, upper = np.percentile(pooled, CT_PERCENTILES)
    clipped = np.clip(pooled, lower, upper)
    return ChannelNormalization(
        scheme="ct",
        lower=float(lower),
        upper=float(upper),
        mean=float(clipped.mean()),
        std=float(clipped.std()),
        num_samples=int(pooled.size),
        foreground=source,
    )


def _pool(samples: Sequence[np.ndarray]) -> np.ndarray:
    parts = [np.asarray(s, dtype=np.float64).ravel() for s in samples]
    return np.concatenate(parts) if parts else np.zeros(0)


def normalize_image(image: np.ndarray, normalization: Sequence[ChannelNormalization]) -> np.ndarray:
    """Normalise a ``(C, z, y, x)`` image channel by channel (float32 out)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 4 or image.shape[0] != len(normalization):
        raise ValueError(f"image must be (C, z, y, x) with C={len(normalization)}, got shape {image.shape}")
    out = np.empty_like(image, dtype=np.float32)
    for c, norm in enumerate(normalization):
        x = image[c]
        if norm.scheme == "ct":
            x = np.clip(x, norm.lower, norm.upper)
            mean, std = float(norm.mean), float(norm.std)
        elif norm.scheme == "zscore_per_case":
            mean, std = float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64))
        else:
            raise ValueError(f"Unknown normalisation scheme {norm.scheme!r}. Valid schemes: ct, zscore_per_case")
        out[c] = (x - mean) / max(std, 1e-8)
    return out


def clip_after_resampling(image: np.ndarray, normalization: Sequence[ChannelNormalization]) -> np.ndarray:
    """Clip CT channels of a normalised, resampled image to their normalised clip range (in place).

    Cubic splines overshoot at sharp edges (e.g. clipped air next to a dense object); clipping again keeps
    every CT value inside the range the percentiles define. Z-scored (MRI) channels have no range to keep.
    """
    for c, norm in enumerate(normalization):
        if norm.scheme == "ct":
            std = max(float(norm.std), 1e-8)
            lo, hi = (norm.lower - norm.mean) / std, (norm.upper - norm.mean) / std
            np.clip(image[c], lo, hi, out=image[c])
    return image
