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
