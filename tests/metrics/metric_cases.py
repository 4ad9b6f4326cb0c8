"""Random detection problems for the metric tests (explicit numpy Generators; no files, no ../shared)."""

from __future__ import annotations

import numpy as np


def random_boxes(
    rng: np.random.Generator, n: int, grid: int = 12, max_size: int = 6, integer: bool = False
) -> np.ndarray:
    """``n`` boxes in a small volume so that overlaps are common; ``integer`` makes exact IoU ties likely."""
    if integer:
        lo = rng.integers(0, grid // 2, size=(n, 3)).astype(np.float64)
        size = rng.integers(1, max_size // 2 + 1, size=(n, 3))
    else:
        lo = rng.uniform(0, grid, size=(n, 3))
        size = rng.uniform(0.5, max_size, size=(n, 3))
    return np.concatenate([lo, lo + size], axis=1)


def random_problem(
    seed: int,
    n_images: int = 5,
    n_classes: int = 2,
    max_gt: int = 4,
    max_det: int = 8,
    ignore_frac: float = 0.0,
    tied_scores: bool = False,
    integer: bool = False,
) -> tuple[dict, dict]:
    """``(predictions, ground_truth)`` as ``case -> (boxes, scores, labels)`` and ``(boxes, labels, ignore)``.

    Detections are jittered copies of objects (likely hits) plus random boxes (likely misses). Scores are
    distinct unless ``tied_scores`` (then rounded to one decimal). ``integer`` puts every box on the voxel
    grid, which makes equal IoUs (ties between objects) and duplicate objects common.
    """
    rng = np.random.default_rng(seed)
    preds, gt = {}, {}
    for i in range(n_images):
        g = int(rng.integers(0, max_gt + 1))
        g_boxes = random_boxes(rng, g, integer=integer)
        if integer and g > 1 and rng.random() < 0.5:
            g_boxes[-1] = g_boxes[0]  # a duplicated object: every detection on it ties between the two
        g_labels = rng.integers(0, n_classes, g)
        ignore = rng.random(g) < ignore_frac
        n_hit = int(rng.integers(0, g + 1))
        src = rng.integers(0, max(g, 1), n_hit)
        hits = g_boxes[src] + rng.normal(0, 0.7, size=(n_hit, 6)) if g else np.zeros((0, 6))
        hits = np.round(hits) if integer else hits
        hits = np.concatenate([np.minimum(hits[:, :3], hits[:, 3:]), np.maximum(hits[:, :3], hits[:, 3:])], 1)
        hit_labels = np.where(
            rng.random(n_hit) < 0.85, g_labels[src] if g else 0, rng.integers(0, n_classes, n_hit)
        )
        n_miss = int(rng.integers(0, max_det + 1))
        boxes = np.concatenate([hits, random_boxes(rng, n_miss, integer=integer)])
        labels = np.concatenate([hit_labels, rng.integers(0, n_classes, n_miss)]).astype(np.int64)
        scores = rng.random(len(boxes))
        if tied_scores:
            scores = np.round(scores, 1)
        perm = rng.permutation(len(boxes))
        preds[f"case_{i:03d}"] = (boxes[perm], scores[perm], labels[perm])
        gt[f"case_{i:03d}"] = (g_boxes, g_labels, ignore)
    return preds, gt


def stress_problem(seed: int) -> tuple[dict, dict, int]:
    """``(predictions, ground_truth, n_classes)`` built to hit every corner of the evaluators at once.

    Scores rounded to 1 or 2 decimals (ties inside and across images, also at the 100-per-class cut-off)
    or continuous; integer boxes with duplicated objects (ties between objects' IoUs) or continuous boxes;
    images without ground truth; ignored objects; and in about half of the problems one image with 101-180
    detections of one class, so that only its best 100 count.
    """
    rng = np.random.default_rng([seed, 9])
    n_classes = int(rng.integers(1, 4))
    decimals = [1, 2, None][seed % 3]
    integer = bool(rng.random() < 0.6)
    preds, gt = random_problem(
        int(rng.integers(2**31)),
        n_images=int(rng.integers(1, 8)),
        n_classes=n_classes,
        max_gt=int(rng.integers(1, 25)),
        max_det=int(rng.integers(2, 30)),
        ignore_frac=float(rng.choice([0.0, 0.2])),
        integer=integer,
    )
    ids = list(gt)
    if len(ids) > 1:  # an image without ground truth (its detections are all FPs)
        gt[ids[int(rng.integers(len(ids)))]] = (np.zeros((0, 6)), np.zeros(0, np.int64), np.zeros(0, bool))
    if rng.random() < 0.5:  # one image with more than 100 detections of one class
        cid = ids[int(rng.integers(len(ids)))]
        boxes, scores, labels = preds[cid]
        n_extra = int(rng.integers(101, 181))
        g_boxes = gt[cid][0]
        near = g_boxes[rng.integers(0, len(g_boxes), n_extra)] if len(g_boxes) else random_boxes(rng, n_extra)
        extra = near + rng.integers(-1, 2, size=(n_extra, 6))
        lo = np.minimum(extra[:, :3], extra[:, 3:])
        extra = np.concatenate([lo, np.maximum(np.maximum(extra[:, :3], extra[:, 3:]), lo + 1)], axis=1)
        preds[cid] = (
            np.concatenate([boxes, extra]),
            np.concatenate([scores, rng.random(n_extra)]),
            np.concatenate([labels, np.full(n_extra, int(rng.integers(n_classes)), np.int64)]),
        )
    if seed % 4 == 3:  # round object counts (10, 20, 25, ...): recalls hit k/100 exactly, where the rules differ
        _round_counts(rng, preds, gt, n_classes)
    if decimals is not None:
        preds = {c: (b, np.round(s, decimals), lab) for c, (b, s, lab) in preds.items()}
    return preds, gt, n_classes


def _round_counts(rng: np.random.Generator, preds: dict, gt: dict, n_classes: int) -> None:
    """Replace the problem's class-0 objects by a round number of disjoint ones, each found with p = 0.8."""
    ids = list(gt)
    total = int(rng.choice([10, 20, 25, 40, 50, 100]))
    per_image = rng.multinomial(total, np.ones(len(ids)) / len(ids))
    for cid, n in zip(ids, per_image, strict=True):
        lo = np.stack([np.zeros(n), np.zeros(n), 10.0 * np.arange(n)], axis=1)
        objects = np.concatenate([lo, lo + 4], axis=1)
        g_boxes, g_labels, g_ignore = gt[cid]
        keep = g_labels != 0
        gt[cid] = (
            np.concatenate([g_boxes[keep], objects]),
            np.concatenate([g_labels[keep], np.zeros(n, np.int64)]),
            np.concatenate([g_ignore[keep], np.zeros(n, bool)]),
        )
        found = objects[rng.random(n) < 0.8] + rng.integers(0, 2, size=(1, 6))
        boxes, scores, labels = preds[cid]
        preds[cid] = (
            np.concatenate([boxes, found]),
            np.concatenate([scores, rng.random(len(found))]),
            np.concatenate([labels, np.zeros(len(found), np.int64)]),
        )


def reference_module(name: str):
    """Import a reference library module for a comparison test: skip if it is missing, but **fail** when the
    environment variable ``DETBENCH_REQUIRE_REFERENCES=1`` is set (as CI does), so a broken install cannot turn
    the comparison into a silent skip."""
    import importlib
    import os

    import pytest

    try:
        return importlib.import_module(name)
    except ImportError as err:
        if os.environ.get("DETBENCH_REQUIRE_REFERENCES") == "1":
            pytest.fail(f"reference library module {name!r} is required (DETBENCH_REQUIRE_REFERENCES=1): {err}")
        pytest.skip(f"reference library module {name!r} not installed")
