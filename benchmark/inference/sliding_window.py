"""Sliding-window prediction of a whole volume with optional mirroring test-time augmentation.

Windows overlap by ``overlap`` (nnDetection: 0.5); each window's boxes are shifted into the volume frame and
weighted by how central they lie in their window; boxes of all windows and views are merged by
:func:`~benchmark.inference.consolidation.consolidate`. With one window and no mirroring nothing is merged:
the result is exactly the detector's own prediction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.inference.consolidation import consolidate, to_numpy
from benchmark.inference.tiling import centre_weight, tile_grid


@dataclass(frozen=True)
class InferenceConfig:
    """Sliding-window settings; ``mirror_axes`` lists the array axes (0=z, 1=y, 2=x) mirrored for TTA."""

    patch_size: tuple[int, int, int] = (128, 128, 128)
    overlap: float = 0.5
    mirror_axes: tuple[int, ...] = ()
    consolidation: str = "wbc"
    consolidation_iou: float = 0.1
    batch_size: int = 1
    max_detections: int = 300

    def __post_init__(self) -> None:
        if any(a not in (0, 1, 2) for a in self.mirror_axes):
            raise ValueError(f"mirror_axes must be a subset of (0, 1, 2) (z, y, x), got {self.mirror_axes}")


def mirror_views(axes: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every subset of ``axes`` (the identity first): 8 views for all three axes, as nnDetection."""
    return [c for r in range(len(axes) + 1) for c in itertools.combinations(sorted(axes), r)]


def _flip_boxes(boxes: torch.Tensor, axes: tuple[int, ...], shape: tuple[int, ...]) -> torch.Tensor:
    out = boxes.clone()
    for a in axes:
        out[:, a], out[:, a + 3] = shape[a] - boxes[:, a + 3], shape[a] - boxes[:, a]
    return out


@torch.no_grad()
def _memory_format_of(model: torch.nn.Module) -> torch.memory_format:
    """Channels-last-3d when the model's first 5-D weight is stored so (a ``channels_last`` training profile):
    feeding windows in the same layout keeps oneDNN from converting every convolution's input."""
    for p in model.parameters():
        if p.dim() == 5:
            channels_last = p.is_contiguous(memory_format=torch.channels_last_3d) and not p.is_contiguous()
            return torch.channels_last_3d if channels_last else torch.contiguous_format
    return torch.contiguous_format


def predict_volume(model: torch.nn.Module, image: torch.Tensor, config: InferenceConfig) -> dict[str, np.ndarray]:
    """Boxes, scores and labels for a whole ``(C, z, y, x)`` volume, in its voxel frame."""
    if image.ndim != 4:
        raise ValueError(f"image must be (C, z, y, x), got shape {tuple(image.shape)}")
    model.eval()
    shape = tuple(int(s) for s in image.shape[1:])
    patch = tuple(int(p) for p in config.patch_size)
    padded_shape = tuple(max(s, p) for s, p in zip(shape, patch, strict=True))
    if padded_shape != shape:  # pad at the far end so voxel coordinates stay unchanged
        pad = [0, padded_shape[2] - shape[2], 0, padded_shape[1] - shape[1], 0, padded_shape[0] - shape[0]]
        image = torch.nn.functional.pad(image, pad, value=float(image.min()))
    tiles = tile_grid(padded_shape, patch, config.overlap)
    views = mirror_views(config.mirror_axes)
    jobs = [(t, v) for v in range(len(views)) for t in tiles]
    device = next(model.parameters()).device
    memory_format = _memory_format_of(model)
    found: dict[str, list] = {"boxes": [], "scores": [], "labels": [], "weights": [], "views": []}
    for start in range(0, len(jobs), config.batch_size):
        chunk = jobs[start : start + config.batch_size]
        crops = []
        for (z, y, x), v in chunk:
            crop = image[:, z : z + patch[0], y : y + patch[1], x : x + patch[2]]
            crops.append(torch.flip(crop, dims=[a + 1 for a in views[v]]) if views[v] else crop)
        detections = model.predict(torch.stack(crops).to(device).contiguous(memory_format=memory_format))
        for ((z, y, x), v), det in zip(chunk, detections, strict=True):
            boxes = _flip_boxes(det["boxes"].float().cpu(), views[v], patch) if views[v] else det["boxes"].float().cpu()
            centres = to_numpy((boxes[:, :3] + boxes[:, 3:]) / 2)
            found["weights"].append(centre_weight(centres, patch))
            found["boxes"].append(to_numpy(boxes) + np.array([z, y, x, z, y, x], dtype=np.float64))
            found["scores"].append(to_numpy(det["scores"]))
            found["labels"].append(to_numpy(det["labels"]).astype(np.int64))
            found["views"].append(np.full(len(boxes), v, dtype=np.int64))
    cat = {k: np.concatenate(v) if v else np.zeros((0, 6) if k == "boxes" else 0) for k, v in found.items()}
    if len(jobs) > 1:
        boxes, scores, labels = consolidate(
            cat["boxes"],
            cat["scores"],
            cat["labels"],
            cat["weights"],
            config.consolidation,
            config.consolidation_iou,
            expected_views=len(views),
            view_ids=cat["views"],
        )
    else:
        boxes, scores, labels = cat["boxes"], cat["scores"], cat["labels"]
    boxes = np.clip(boxes, 0, np.array(shape * 2, dtype=np.float64))
    keep = np.argsort(-scores, kind="stable")[: config.max_detections]
    return {"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep].astype(np.int64)}
