"""Predict the cases of a preprocessed split and map the boxes back to the prepared images' voxel and world frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from benchmark.core.conventions import box_centers
from benchmark.inference.postprocessing import PostprocessingParams, apply_postprocessing
from benchmark.inference.sliding_window import InferenceConfig, predict_volume


def predict_preprocessed(
    model: torch.nn.Module,
    data,  # noqa: ANN001 - benchmark.loading.data.PreprocessedData
    case_ids: Sequence[str],
    config: InferenceConfig,
    progress: bool = False,
) -> dict[str, dict[str, np.ndarray]]:
    """Whole-volume predictions of ``case_ids`` in the preprocessed voxel frame."""
    from tqdm import tqdm

    device = next(model.parameters()).device
    out = {}
    for case_id in tqdm(case_ids, desc="predict", unit="case", disable=not progress):
        image, _ = data.arrays(case_id)
        out[case_id] = predict_volume(model, torch.from_numpy(np.array(image, dtype=np.float32)).to(device), config)
    return out


def to_prepared_frame(
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    data,  # noqa: ANN001 - PreprocessedData
    params: PostprocessingParams | None = None,
) -> dict:
    """``CasePrediction`` per case in the prepared image's voxel frame, with world centres (after ``params``)."""
    from benchmark.metrics import CasePrediction
    from benchmark.preprocessing.mapping import preprocessed_to_original_boxes, preprocessed_to_world

    out = {}
    for case_id, pred in predictions.items():
        if params is not None:
            pred = apply_postprocessing(pred, params)
        meta = data.meta(case_id)
        boxes = pred["boxes"].reshape(-1, 6)
        out[case_id] = CasePrediction(
            boxes=preprocessed_to_original_boxes(boxes, meta),
            scores=np.asarray(pred["scores"], np.float64),
            labels=np.asarray(pred["labels"], np.int64),
            centers_world=preprocessed_to_world(box_centers(boxes), meta).reshape(-1, 3),
        )
    return out
