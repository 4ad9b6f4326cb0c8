"""Choose the sliding-window size on the validation split, together with the post-processing.

nnDetection predicts with windows of the training patch. On the laptop profiles the patch (32^3) is smaller
than many objects (the S01 twin's tumours: median 30 mm, up to 65 mm at 1 mm spacing), so every window sees
only a part of such an object and the merged predictions hold fragments that rank above the whole object: on
S01, Retina U-Net reached test mAP@0.1 0.35 with 32^3 windows and 0.84 with 64^3 windows of the same model.
Larger windows are not better everywhere (instance normalisation sees other statistics; on the S06 twin, with
objects of 7-20 voxels, 64^3 windows gave 0.19 instead of 0.31), so the window is a choice made on validation
data, like the post-processing thresholds: each candidate size (the training patch times each of the profile's
``inference_patch_scales``) predicts the validation cases, the post-processing is tuned for it, and the size
with the best validation mAP@0.1 wins (ties: the smaller window, which is also cheaper). The test split is
never looked at. The chosen window is what ``predictor.json`` records, so ``benchmark predict`` uses it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from benchmark.inference.postprocessing import PostprocessingParams, tune_postprocessing
from benchmark.inference.sliding_window import InferenceConfig


@dataclass(frozen=True)
class WindowChoice:
    """The chosen inference settings and post-processing, with the validation score of every candidate."""

    inference: InferenceConfig
    params: PostprocessingParams
    val_map: float
    candidates: tuple[dict, ...]

    def record(self) -> dict:
        """Plain data for ``result.json``."""
        return {
            "rule": "largest validation mAP@0.1 over the candidate window sizes (ties: the smaller window)",
            "patch_size": [int(p) for p in self.inference.patch_size],
            "candidates": [dict(c) for c in self.candidates],
        }


def candidate_patches(patch: Sequence[int], scales: Sequence[float], stride: Sequence[int]) -> list[tuple[int, ...]]:
    """The training ``patch`` times each scale, every axis rounded down to a multiple of the network's total
    ``stride`` (at least the patch itself); duplicates dropped, in the order of ``scales``."""
    out: list[tuple[int, ...]] = []
    for scale in scales:
        if scale < 1.0:
            raise ValueError(f"window scales must be >= 1, got {scale}")
        size = tuple(max(int(p), int(p * scale) // int(s) * int(s)) for p, s in zip(patch, stride, strict=True))
        if size not in out:
            out.append(size)
    return out


def select_window(
    predict: Callable[[InferenceConfig], Mapping[str, dict]],
    ground_truth: Mapping,
    classes: Sequence[str],
    base: InferenceConfig,
    patches: Sequence[tuple[int, ...]],
) -> WindowChoice:
    """Predict the validation cases with each window in ``patches`` (``predict(config)``), tune the
    post-processing per window and keep the best; ``base`` gives every other inference setting."""
    if not patches:
        raise ValueError("no candidate window sizes")
    best: WindowChoice | None = None
    candidates = []
    for patch in patches:
        config = replace(base, patch_size=tuple(int(p) for p in patch))
        params, val_map = tune_postprocessing(predict(config), ground_truth, classes)
        candidates.append({"patch_size": [int(p) for p in patch], "validation_map@0.1": float(val_map)})
        if best is None or val_map > best.val_map:
            best = WindowChoice(config, params, float(val_map), ())
    assert best is not None
    return replace(best, candidates=tuple(candidates))
