"""Predict new scans with a trained run folder: the API behind ``benchmark predict``.

For each case found under the input (:mod:`benchmark.inference.scans`): read it, refuse it with a reason when
it does not fit the model (:func:`refusal`), preprocess it as training did
(:mod:`benchmark.inference.scan_preprocessing`), run the run's sliding-window inference (optionally with
mirror TTA), apply the post-processing tuned on validation, and map the boxes back to the input image's voxel
frame and to world millimetres. Cases are independent: a refused or unreadable case is reported and the
others are still predicted. The result is one prediction file (docs/predictions-format.md) whose metadata
names the model, the refused cases and every input's geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry, voxel_to_world
from benchmark.inference.bundle import Predictor

MAX_SPACING_RATIO = 8.0  # a scan whose spacing differs more than this factor from the model's is refused


@dataclass
class PredictReport:
    """What :func:`predict_scans` did: the predicted cases, the refused ones with their reason, the file."""

    out: Path
    predicted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def refusal(scan, predictor: Predictor, max_ratio: float = MAX_SPACING_RATIO) -> str | None:  # noqa: ANN001
    """Why a read :class:`~benchmark.inference.scans.Scan` does not fit the model, or ``None``."""
    from benchmark.preprocessing.intensity import is_ct

    plan = predictor.plan
    expected = len(plan["normalization"])
    modalities = list(plan.get("modalities") or [])
    dims = {int(img.GetDimension()) for img in scan.images}
    if dims != {3}:
        return f"a {'/'.join(map(str, sorted(dims)))}-D image; the model needs 3-D scans"
    if scan.num_channels != expected:
        names = f" ({', '.join(modalities)})" if modalities else ""
        return f"{scan.num_channels} channel(s), the model expects {expected}{names}"
    geometries = [Geometry.from_sitk(img) for img in scan.images]
    if any(not g.same_as(geometries[0]) for g in geometries[1:]):
        return "its channel files differ in size, spacing, origin or direction"
    if scan.modality and modalities and len(modalities) == 1 and is_ct(scan.modality) != is_ct(modalities[0]):
        return f"DICOM modality {scan.modality}, the model was trained on {modalities[0]}"
    target = np.asarray(plan["target_spacing"], np.float64)
    spacing = np.asarray(geometries[0].spacing, np.float64)
    ratio = spacing / target
    if np.any(ratio > max_ratio) or np.any(ratio < 1.0 / max_ratio):
        return (
            f"spacing {tuple(round(float(s), 3) for s in spacing)} mm (z, y, x) is more than {max_ratio:g}x off the "
            f"model's {tuple(round(float(s), 3) for s in target)} mm"
        )
    return None


def boxes_to_input_frame(boxes: np.ndarray, shape: tuple[int, ...], new_shape: tuple[int, ...]) -> np.ndarray:
    """Boxes of the resampled frame -> the input image's voxel frame (resampling keeps the field of view)."""
    scale = np.asarray(shape, np.float64) / np.asarray(new_shape, np.float64)
    return np.asarray(boxes, np.float64).reshape(-1, 6) * np.tile(scale, 2)


def world_bounds(boxes: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Axis-aligned world bounds ``(x1, y1, z1, x2, y2, z2)`` mm of voxel boxes: min/max over their 8 corners."""
    b = np.asarray(boxes, np.float64).reshape(-1, 6)
    if not len(b):
        return np.zeros((0, 6))
    picks = [(z, y, x) for z in (0, 3) for y in (1, 4) for x in (2, 5)]
    pts = np.stack([b[:, list(p)] for p in picks], axis=1).reshape(-1, 3)
    world = voxel_to_world(pts, geometry).reshape(len(b), 8, 3)
    return np.concatenate([world.min(axis=1), world.max(axis=1)], axis=1)


def predict_scans(
    run_dir: str | Path,
    inputs: str | Path,
    out: str | Path,
    tta: bool = False,
    device: str = "auto",
    progress: bool = True,
) -> PredictReport:
    """Predict every case under ``inputs`` with the run at ``run_dir``; write the prediction file ``out``."""
    import torch
    from tqdm import tqdm

    from benchmark.core.conventions import box_centers
    from benchmark.inference.bundle import load_model, load_predictor
    from benchmark.inference.postprocessing import apply_postprocessing
    from benchmark.inference.scan_preprocessing import preprocess_scan
    from benchmark.inference.scans import discover_scans, read_scan
    from benchmark.inference.sliding_window import predict_volume
    from benchmark.metrics import CasePrediction, PredictionSet, save_predictions
    from benchmark.training.trainer import resolve_device

    predictor = load_predictor(run_dir)
    sources = discover_scans(inputs)
    plan = predictor.plan_obj()
    config = predictor.inference_config(tta=True if tta else None)
    params = predictor.postprocessing_params()
    torch_device = resolve_device(device)
    model = load_model(run_dir, predictor, str(torch_device))
    report = PredictReport(Path(out))
    cases: dict[str, CasePrediction] = {}
    images: dict[str, dict] = {}
    for source in tqdm(sources, desc="predict", unit="case", disable=not progress):
        try:
            scan = read_scan(source)
        except RuntimeError as err:  # SimpleITK's reading errors
            report.refused[source.case_id] = f"unreadable: {str(err).strip().splitlines()[-1]}"
            continue
        reason = refusal(scan, predictor)
        if reason is not None:
            report.refused[source.case_id] = reason
            continue
        geometry = scan.geometry
        image, resampled = preprocess_scan([scan.channel(c) for c in range(scan.num_channels)], geometry, plan)
        del scan  # the input voxels are no longer needed
        pred = predict_volume(model, torch.from_numpy(image).to(torch_device), config)
        del image
        pred = apply_postprocessing(pred, params)
        boxes = boxes_to_input_frame(pred["boxes"], geometry.shape, resampled.shape)
        cases[source.case_id] = CasePrediction(
            boxes=boxes,
            scores=np.asarray(pred["scores"], np.float64),
            labels=np.asarray(pred["labels"], np.int64),
            centers_world=voxel_to_world(box_centers(boxes), geometry).reshape(-1, 3),
            boxes_world=world_bounds(boxes, geometry),
        )
        images[source.case_id] = {"source": source.location, "kind": source.kind, "geometry": geometry.to_dict()}
        report.predicted.append(source.case_id)
    metadata = {
        "model": str(run_dir),
        "architecture": predictor.architecture,
        "tta": bool(config.mirror_axes),
        "frame": "input images (benchmark predict)",
        "images": images,
        "refused": dict(report.refused),
    }
    save_predictions(out, PredictionSet(predictor.dataset_id, cases, metadata=metadata))
    return report
