"""Post-processing of whole-volume predictions and its tuning on the validation split.

Parameters (minimum score, minimum box edge, final per-class NMS IoU) are chosen on validation predictions
one at a time over a small grid (nnDetection sweeps its post-processing parameters the same way), by mAP@0.1,
and saved with the model so the test split is never looked at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from benchmark.core.atomic import atomic_write_json
from benchmark.inference.consolidation import consolidate

PredictionDict = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class PostprocessingParams:
    score_threshold: float = 0.0
    min_size: float = 0.0  # minimum box edge in voxels
    nms_iou: float = 1.0  # 1.0 disables the final NMS

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, asdict(self), indent=2)

    @classmethod
    def load(cls, path: str | Path) -> PostprocessingParams:
        try:
            return cls(**json.loads(Path(path).read_text()))
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: not a post-processing parameter file ({err})") from None


DEFAULT_GRID: dict[str, tuple[float, ...]] = {
    "score_threshold": (0.0, 0.05, 0.1, 0.2, 0.3),
    "min_size": (0.0, 1.0, 2.0, 3.0),
    "nms_iou": (1.0, 0.5, 0.3, 0.1),
}


def apply_postprocessing(pred: PredictionDict, params: PostprocessingParams) -> dict[str, np.ndarray]:
    """Filter one case's predictions by score and size, then (optionally) per-class NMS."""
    boxes, scores, labels = (np.asarray(pred[k]) for k in ("boxes", "scores", "labels"))
    sizes = boxes[:, 3:] - boxes[:, :3] if len(boxes) else np.zeros((0, 3))
    keep = (scores >= params.score_threshold) & np.all(sizes >= params.min_size, axis=1)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if params.nms_iou < 1.0 and len(boxes):
        boxes, scores, labels = consolidate(
            boxes, scores, labels, np.ones(len(boxes)), method="nms", iou_threshold=params.nms_iou
        )
    return {"boxes": boxes.reshape(-1, 6), "scores": scores, "labels": labels.astype(np.int64)}


def _score(predictions: Mapping[str, PredictionDict], ground_truth: Mapping, classes: Sequence[str]) -> float:
    from benchmark.metrics import map_from_matches, match_detections

    preds = {c: (p["boxes"], p["scores"], p["labels"]) for c, p in predictions.items()}
    value = map_from_matches(match_detections(preds, ground_truth, classes, 0.1)).map
    return -1.0 if np.isnan(value) else value


def tune_postprocessing(
    predictions: Mapping[str, PredictionDict],
    ground_truth: Mapping,
    classes: Sequence[str],
    grid: Mapping[str, Sequence[float]] = DEFAULT_GRID,
) -> tuple[PostprocessingParams, float]:
    """Coordinate search: sweep each parameter in turn, keep the best value (ties keep the earlier); mAP@0.1."""
    unknown = set(grid) - set(DEFAULT_GRID)
    if unknown:
        raise ValueError(f"Unknown post-processing parameter(s) {sorted(unknown)}. Valid: {', '.join(DEFAULT_GRID)}")
    params = PostprocessingParams()
    best = _score({c: apply_postprocessing(p, params) for c, p in predictions.items()}, ground_truth, classes)
    for name, values in grid.items():
        for value in values:
            candidate = replace(params, **{name: float(value)})
            score = _score(
                {c: apply_postprocessing(p, candidate) for c, p in predictions.items()}, ground_truth, classes
            )
            if score > best + 1e-12:
                params, best = candidate, score
    return params, best
