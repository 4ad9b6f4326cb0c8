"""A tiny synthetic results store (fake predictions matched by the real matcher) for tests, notebooks and demos.

Ground truth and predictions are drawn with seeded numpy Generators; each model gets a "skill" from made-up
architecture and pre-training effects plus per-dataset noise, so rankings vary across datasets as in real
studies. Nothing here is a result: it only exercises the analysis end to end.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analysis.store import ModelKey, write_run
from benchmark.core.run_key import RunKey
from benchmark.metrics.matching import MatchTable, match_detections

__all__ = [
    "DEFAULT_DATASETS",
    "DEFAULT_MODELS",
    "build_synthetic_store",
    "synthetic_match_table",
]

SYNTHETIC_PROFILE = "synthetic"  # the profile recorded for runs of a synthetic store (no training happened)
DEFAULT_DATASETS = ("S01", "S03", "S06")
DEFAULT_MODELS: tuple[ModelKey, ...] = (
    ("retina_unet", "default"),
    ("retina_unet", "fixed"),
    ("retina_unet", "mt"),
    ("resenc_deformable_detr", "default"),
    ("resenc_deformable_detr", "fixed"),
    ("resenc_deformable_detr", "voco"),
    ("resenc_deformable_detr", "mae"),
)
# Made-up effects that shape the synthetic rankings (not results).
_ARCH_EFFECT = {
    "retina_unet": 0.0,
    "deformable_detr": -0.01,
    "resenc_retina_unet": 0.02,
    "resenc_deformable_detr": 0.03,
}
_PRETRAIN_EFFECT = {
    "default": 0.0,
    "fixed": 0.03,
    "mt": 0.05,
    "voco": -0.02,
    "mae": 0.08,
    "s3d": 0.07,
    "mg": 0.07,
}
_SHAPE = 64


def _key(*parts: object) -> int:
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def _class_names(dataset: str) -> tuple[str, ...]:
    try:
        from benchmark.datasets import get_dataset

        return tuple(get_dataset(dataset).classes)
    except ValueError:
        return ("lesion",)


def _ground_truth(n_images: int, n_classes: int, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    gt = {}
    for i in range(n_images):
        k = int(rng.poisson(1.6))
        centre = rng.uniform(10, _SHAPE - 10, size=(k, 3))
        half = rng.uniform(2, 6, size=(k, 3))
        gt[f"case_{i:04d}"] = (np.concatenate([centre - half, centre + half], axis=1), rng.integers(0, n_classes, k))
    return gt


def _predictions(
    gt: dict[str, tuple[np.ndarray, np.ndarray]], skill: float, n_classes: int, fp_per_image: float,
    rng: np.random.Generator,
    learned: bool = True,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    p_detect = float(np.clip(0.6 + 2.0 * skill, 0.05, 0.98)) if learned else 0.0  # not learned: only false positives
    preds = {}
    for case, (boxes, labels) in gt.items():
        hit = rng.random(len(labels)) < p_detect
        size = boxes[hit, 3:] - boxes[hit, :3]
        shift = rng.normal(0, 0.15, size=size.shape) * size
        tp_boxes = np.concatenate([boxes[hit, :3] + shift, boxes[hit, 3:] + shift], axis=1)
        tp_scores = rng.beta(2 + 8 * max(skill + 0.1, 0.0), 2, size=int(hit.sum()))
        n_fp = int(rng.poisson(fp_per_image * (1.0 - min(max(skill, 0.0), 0.5))))
        centre = rng.uniform(6, _SHAPE - 6, size=(n_fp, 3))
        half = rng.uniform(2, 5, size=(n_fp, 3))
        fp_boxes = np.concatenate([centre - half, centre + half], axis=1)
        preds[case] = (
            np.concatenate([tp_boxes, fp_boxes]).reshape(-1, 6),
            np.concatenate([tp_scores, rng.beta(1.2, 4, size=n_fp)]),
            np.concatenate([labels[hit], rng.integers(0, n_classes, n_fp)]).astype(np.int64),
        )
    return preds


def synthetic_match_table(
    dataset: str, model: ModelKey, n_images: int = 30, seed: int = 0, fp_per_image: float = 6.0, learned: bool = True
) -> MatchTable:
    """The match table of one synthetic model on one synthetic dataset (same ground truth for every model).

    ``learned=False`` gives a model that detects nothing (false positives only: mAP 0), as an untrained one."""
    classes = _class_names(dataset)
    gt = _ground_truth(n_images, len(classes), np.random.default_rng([seed, _key(dataset)]))
    arch, pre = model
    effect = _ARCH_EFFECT.get(arch, 0.0) + _PRETRAIN_EFFECT.get(pre, 0.02)
    rng = np.random.default_rng([seed, _key(dataset, arch, pre)])
    skill = effect + rng.normal(0, 0.04)  # per-dataset variation of each model
    preds = _predictions(gt, skill, len(classes), fp_per_image, rng, learned)
    return match_detections(preds, gt, classes, iou_threshold=0.1)


def build_synthetic_store(
    root: str | Path,
    datasets: Sequence[str] = DEFAULT_DATASETS,
    models: Sequence[ModelKey] = DEFAULT_MODELS,
    n_images: int = 30,
    seed: int = 0,
    fp_per_image: float = 6.0,
    unlearned: Sequence[str] = (),
) -> Path:
    """Write a synthetic results store with every model on every dataset; returns ``root``.

    On the datasets in ``unlearned`` no model detects anything (as after a few steps of the ``tiny`` profile);
    reference rows (the classical baseline) keep their made-up skill there, since they learn nothing anyway."""
    from analysis.store import is_reference
    from benchmark import __version__
    from benchmark.provenance import git_revision

    if not datasets or not models:
        raise ValueError("a synthetic store needs at least one dataset and one model")
    # light provenance (no torch import); the runner records the full benchmark.provenance.collect_provenance()
    base = {
        "detbench_version": __version__,
        "git_revision": git_revision(),
        "seed": seed,
        "generator": "analysis.synthetic_store.build_synthetic_store",
        "note": "made-up predictions on made-up ground truth, matched by the real matcher; no model was trained",
        "config": {"n_images": n_images, "fp_per_image": fp_per_image},
    }
    for dataset in datasets:
        for arch, pre in models:
            learned = dataset not in set(unlearned) or is_reference(arch)
            table = synthetic_match_table(
                dataset, (arch, pre), n_images=n_images, seed=seed, fp_per_image=fp_per_image, learned=learned
            )
            prov = {**base, "dataset": {"dataset_id": dataset, "synthetic": True}}
            key = RunKey(dataset, arch, pre, profile=SYNTHETIC_PROFILE, seed=seed)
            write_run(root, key, table, provenance=prov, extra={"synthetic": True})
    return Path(root)
