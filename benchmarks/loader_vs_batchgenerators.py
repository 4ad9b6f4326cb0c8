"""detbench's patch augmentation vs batchgeneratorsv2 doing the same transforms, side by side, on one core.

Both pipelines turn the same case into augmented ``P^3`` patches (image trilinear, instance map nearest):

* **detbench** (``benchmark.loading``): :func:`sample_spatial_transform` (rotation, isotropic scaling and
  mirroring folded into one affine matrix), :func:`extract_patch` (one ``grid_sample`` from the case array),
  :func:`apply_intensity_augmentation` (noise, blur, brightness, contrast, gamma);
* **batchgeneratorsv2** (nnU-Net v2's augmentation library, PyPI ``batchgeneratorsv2``): the case region the
  patch can reach (``ceil(P * 1.5)`` per axis around the same centre, cropped from the case as nnU-Net's data
  loader does) -> ``SpatialTransform`` (rotation, scaling, elastic off) -> ``GaussianNoiseTransform`` ->
  ``GaussianBlurTransform`` -> ``MultiplicativeBrightnessTransform`` -> ``ContrastTransform`` ->
  ``GammaTransform`` -> ``MirrorTransform``, each wrapped in ``RandomTransform`` with detbench's probability.

Two settings: ``default`` (detbench's nnU-Net-like probabilities for both) and ``every transform`` (every
probability 1, mirroring 0.5 per axis, so both do all the work every time). Both run on one thread
(``torch.set_num_threads(1)``); per patch the CPU milliseconds of this process (what the work costs, little
affected by other jobs on a shared machine) and the wall milliseconds are printed, each the median over
``repeats`` runs of ``patches`` patches (same patch centres for both, the two taking turns), after one untimed
patch; the ratio is batchgeneratorsv2 / detbench of the CPU times (> 1: detbench is faster). Remaining
differences (also printed) are in :data:`DIFFERENCES`. batchgeneratorsv2's transforms are used through their
public classes; nothing is copied.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from benchmark.loading.augmentation import (
    AugmentationConfig,
    IntensityAugmentation,
    SpatialAugmentation,
    apply_intensity_augmentation,
    sample_spatial_transform,
)
from benchmark.loading.patches import crop_padded, extract_patch

__all__ = ["DIFFERENCES", "batchgenerators_available", "compare", "print_comparison"]

DIFFERENCES = (
    "scaling: detbench draws one isotropic factor in 0.7-1.4 (> 1 zooms in); batchgeneratorsv2 0.7-1.4 with "
    "scales synchronised across axes (its > 1 zooms out), the same range read the other way round",
    "brightness, contrast and gamma factors: detbench uniform in the range; batchgeneratorsv2's BGContrast picks "
    "the part below or above 1 with probability 1/2 each, then uniform (same range, other distribution)",
    "mirroring: detbench folds it into the affine matrix (one resampling); batchgeneratorsv2 flips after "
    "resampling (torch.flip of image and segmentation)",
    "input: detbench samples from the whole case array (reads only the part the patch reaches); batchgeneratorsv2 "
    "gets the ceil(1.5 P)^3 region around the centre as a torch tensor (the crop is timed with it)",
    "blur: both one sigma per channel for all axes (batchgeneratorsv2 synchronize_axes=True), each channel "
    "with probability 0.5; detbench sums shifted copies, batchgeneratorsv2 convolves with separable kernels",
    "detbench also draws rotation in millimetres with the anisotropy rule (in-plane only above ratio 3); the "
    "benchmark cases are isotropic, so both rotate about all three axes by +-30 degrees",
)


def batchgenerators_available() -> str:
    """'' when batchgeneratorsv2 imports, else why not (one line)."""
    try:
        import batchgeneratorsv2.transforms.noise.gaussian_blur  # noqa: F401 - imports scikit-image
        import batchgeneratorsv2.transforms.spatial.spatial  # noqa: F401
    except ImportError as err:
        return (f"batchgeneratorsv2 is not importable ({err}); install it with `pip install --no-deps "
                "batchgeneratorsv2 batchgenerators scikit-image` (or `pip install -e .[bench]`)")
    return ""


def _bg_pipeline(aug: AugmentationConfig, patch: int):  # noqa: ANN202 - ComposeTransforms
    from batchgeneratorsv2.transforms.intensity.brightness import MultiplicativeBrightnessTransform
    from batchgeneratorsv2.transforms.intensity.contrast import BGContrast, ContrastTransform
    from batchgeneratorsv2.transforms.intensity.gamma import GammaTransform
    from batchgeneratorsv2.transforms.intensity.gaussian_noise import GaussianNoiseTransform
    from batchgeneratorsv2.transforms.noise.gaussian_blur import GaussianBlurTransform
    from batchgeneratorsv2.transforms.spatial.mirroring import MirrorTransform
    from batchgeneratorsv2.transforms.spatial.spatial import SpatialTransform
    from batchgeneratorsv2.transforms.utils.compose import ComposeTransforms
    from batchgeneratorsv2.transforms.utils.random import RandomTransform

    s, i = aug.spatial, aug.intensity
    angle = math.radians(s.rotation_deg)
    transforms = [
        SpatialTransform(
            (patch,) * 3, patch_center_dist_from_border=0, random_crop=False, p_elastic_deform=0.0,
            p_rotation=s.p_rotation, rotation=(-angle, angle), p_scaling=s.p_scale, scaling=s.scale_range,
            p_synchronize_scaling_across_axes=1.0, bg_style_seg_sampling=False, mode_seg="nearest",
        ),
        RandomTransform(GaussianNoiseTransform(noise_variance=i.noise_variance, p_per_channel=1.0,
                                               synchronize_channels=True), apply_probability=i.p_noise),
        RandomTransform(GaussianBlurTransform(blur_sigma=i.blur_sigma, synchronize_channels=False,
                                              synchronize_axes=True, p_per_channel=0.5), apply_probability=i.p_blur),
        RandomTransform(MultiplicativeBrightnessTransform(multiplier_range=BGContrast(i.brightness_range),
                                                          synchronize_channels=True, p_per_channel=1.0),
                        apply_probability=i.p_brightness),
        RandomTransform(ContrastTransform(contrast_range=BGContrast(i.contrast_range), preserve_range=True,
                                          synchronize_channels=False, p_per_channel=1.0),
                        apply_probability=i.p_contrast),
        RandomTransform(GammaTransform(gamma=BGContrast(i.gamma_range), p_invert_image=0.0,
                                       synchronize_channels=False, p_per_channel=1.0, p_retain_stats=1.0),
                        apply_probability=i.p_gamma),
    ]
    if s.mirror_axes and s.p_mirror > 0:
        transforms.append(MirrorTransform(allowed_axes=tuple(s.mirror_axes)))  # 0.5 per axis, its fixed rule
    return ComposeTransforms(transforms)


SETTINGS = {
    "default": AugmentationConfig(),
    "every transform": AugmentationConfig(
        SpatialAugmentation(p_rotation=1.0, p_scale=1.0, p_mirror=0.5),
        IntensityAugmentation(p_noise=1.0, p_blur=1.0, p_brightness=1.0, p_contrast=1.0, p_gamma=1.0),
    ),
}


def _centres(shape: Sequence[int], patch: int, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    half = patch / 2.0
    return [np.array([rng.uniform(half, max(half, s - half)) for s in shape]).round() for _ in range(n)]


def _detbench_patch(image, seg, centre, aug: AugmentationConfig, patch: int, rng) -> None:  # noqa: ANN001
    matrix = sample_spatial_transform(rng, aug.spatial)
    img, _ = extract_patch(image, seg, centre, matrix, (patch,) * 3)
    gen = torch.Generator().manual_seed(int(rng.integers(2**63)))
    apply_intensity_augmentation(img, rng, gen, aug.intensity)


def _bg_patch(image, seg, centre, pipeline, patch: int) -> None:  # noqa: ANN001
    region = int(math.ceil(1.5 * patch))
    lo = np.floor(centre - region / 2.0).astype(np.int64)
    img = torch.from_numpy(crop_padded(image, lo, (region,) * 3, np.float32))
    sg = torch.from_numpy(crop_padded(seg, lo, (region,) * 3, np.int16)[None])
    pipeline(image=img, segmentation=sg)


def compare(
    image: np.ndarray, seg: np.ndarray, patch: int = 128, patches: int = 8, repeats: int = 3, seed: int = 0
) -> dict[str, dict[str, tuple[float, float]]]:
    """Setting -> library (``detbench``, ``bgv2``) -> (CPU ms, wall ms) per patch, medians of ``repeats``."""
    torch.set_num_threads(1)
    out = {}
    centres = _centres(seg.shape, patch, patches + 1, seed)
    for name, aug in SETTINGS.items():
        pipeline = _bg_pipeline(aug, patch)
        times: dict[str, list[tuple[float, float]]] = {"detbench": [], "bgv2": []}
        for r in range(repeats):
            torch.manual_seed(seed + r)
            np.random.seed(seed + r)  # batchgeneratorsv2 draws from numpy's and torch's global generators
            rng = np.random.default_rng(seed + r)
            order = ("detbench", "bgv2") if r % 2 == 0 else ("bgv2", "detbench")  # take turns on a shared machine
            for lib in order:
                for k, c in enumerate(centres):  # the first patch is an untimed warm-up
                    if k == 1:
                        start, cpu = time.perf_counter(), time.process_time()
                    if lib == "detbench":
                        _detbench_patch(image, seg, c, aug, patch, rng)
                    else:
                        _bg_patch(image, seg, c, pipeline, patch)
                times[lib].append(
                    (1e3 * (time.process_time() - cpu) / patches, 1e3 * (time.perf_counter() - start) / patches)
                )
        out[name] = {
            lib: (float(np.median([c for c, _ in t])), float(np.median([w for _, w in t]))) for lib, t in times.items()
        }
    return out


def print_comparison(image: np.ndarray, seg: np.ndarray, patch: int = 128, patches: int = 8, repeats: int = 3) -> None:
    """The side-by-side table (or why it cannot be made)."""
    print(f"\n[vs batchgeneratorsv2] one augmented {patch}^3 patch (image + instance map), 1 thread, median of "
          f"{repeats} x {patches} patches")
    why = batchgenerators_available()
    if why:
        print(f"not measured: {why}")
        return
    from importlib.metadata import version

    print(f"batchgeneratorsv2 {version('batchgeneratorsv2')}, torch {torch.__version__}, case {tuple(image.shape)}")
    results = compare(image, seg, patch, patches, repeats)
    print(f"{'setting':18s} {'detbench CPU ms':>16s} {'bgv2 CPU ms':>12s} {'ratio bgv2/detbench':>20s}"
          f" {'detbench wall ms':>17s} {'bgv2 wall ms':>13s}")
    for name, r in results.items():
        (ours, ours_wall), (theirs, theirs_wall) = r["detbench"], r["bgv2"]
        print(f"{name:18s} {ours:16.1f} {theirs:12.1f} {theirs / ours:19.2f}x {ours_wall:17.1f} {theirs_wall:13.1f}")
    print("differences that remain:")
    for d in DIFFERENCES:
        print(f"  - {d}")
