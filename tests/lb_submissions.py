"""Helpers of the leaderboard tests: noisy predictions near the ground truth, their match tables, JSON files."""

from __future__ import annotations

import json

import numpy as np

STORE_MODELS = (("retina_unet", "default"), ("retina_unet", "mae"), ("resenc_retina_unet", "voco"))


def noisy_predictions(dataset_root, case_ids, seed: int) -> dict:
    """Detections near the ground-truth boxes (some missed) plus false positives, inside each image."""
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import load_ground_truth

    rng = np.random.default_rng(seed)
    dataset = PreparedDataset(dataset_root)
    gt = load_ground_truth(dataset.root, case_ids)
    cases = {}
    for cid in case_ids:
        shape = np.asarray(dataset.load_geometry(cid).shape, float)
        boxes, scores, labels = [], [], []
        for box, label in zip(gt[cid].boxes, gt[cid].labels, strict=True):
            if rng.random() < 0.25:
                continue
            jitter = rng.normal(0, 0.6, 6)
            b = np.clip(np.asarray(box, float) + jitter, 0, np.concatenate([shape, shape]))
            if np.all(b[:3] < b[3:]):
                boxes.append(b.tolist())
                scores.append(float(rng.uniform(0.3, 1.0)))
                labels.append(int(label))
        for _ in range(3):
            lo = rng.uniform(0, shape - 3)
            boxes.append([*lo.tolist(), *(lo + 2).tolist()])
            scores.append(float(rng.uniform(0.0, 0.7)))
            labels.append(0)
        cases[cid] = {"boxes": boxes, "scores": scores, "labels": labels}
    return {"format_version": 1, "dataset": dataset.meta.dataset_id, "cases": cases}


def match_table_of(dataset_root, prediction_obj):
    """The IoU-0.1 match table of a prediction object on the dataset's test split (as benchmark evaluate)."""
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import EvaluationInput, get_metric, load_ground_truth, parse_predictions

    dataset = PreparedDataset(dataset_root)
    ids = dataset.case_ids("test")
    preds = parse_predictions(prediction_obj, ids, len(dataset.meta.classes))
    inputs = EvaluationInput(preds.cases, load_ground_truth(dataset.root, ids), tuple(dataset.meta.classes), "S06")
    return get_metric("map@0.1").match(inputs)


def write_json(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)
