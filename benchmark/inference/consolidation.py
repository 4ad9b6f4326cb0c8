"""Merging the boxes of overlapping windows and mirrored views: per-class NMS or weighted box clustering.

Both methods use the project's one greedy NMS, :func:`benchmark.core.boxes.nms_clusters` (ranking: score x
window weight; a box joins the best remaining box's cluster when their IoU is strictly greater than
``iou_threshold``, nnDetection's rule). Weighted box clustering follows the idea of Jaeger et al. (Retina
U-Net, 2018) as used by nnDetection: each cluster's coordinates are the average weighted by score x window
weight; the cluster score is the weighted mean score, scaled down when fewer views than expected
contributed (a box seen in one of eight mirrored views is less certain).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.core.boxes import nms_clusters

CONSOLIDATION_METHODS = ("nms", "wbc")


def consolidate(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    method: str = "wbc",
    iou_threshold: float = 0.1,
    expected_views: int = 1,
    view_ids: np.ndarray | None = None,
    max_candidates: int | None = 5000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge candidate boxes of all windows/views into one set (per class); returns boxes, scores, labels.

    ``view_ids`` names the test-time view (mirroring) of each candidate; WBC scales a cluster's score by the
    share of the ``expected_views`` views that contributed to it. Only the ``max_candidates`` best candidates
    (score x window weight) take part, which bounds the cost on uncertain models.
    """
    views = np.zeros(len(boxes), dtype=np.int64) if view_ids is None else np.asarray(view_ids)
    if max_candidates is not None and len(boxes) > max_candidates:  # the best candidates decide the clusters
        top = np.argsort(-(scores * weights), kind="stable")[:max_candidates]
        boxes, scores, labels, weights, views = boxes[top], scores[top], labels[top], weights[top], views[top]
    if method not in CONSOLIDATION_METHODS:
        raise ValueError(f"Unknown consolidation {method!r}. Valid: {', '.join(CONSOLIDATION_METHODS)}")
    out_b, out_s, out_l = [], [], []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        b, s, w, v = boxes[idx], scores[idx], weights[idx], views[idx]
        for members in nms_clusters(b, s * w, iou_threshold):
            if method == "nms":
                out_b.append(b[members[0]])
                out_s.append(s[members[0]])
            else:
                sw = s[members] * w[members]
                out_b.append((b[members] * sw[:, None]).sum(0) / max(sw.sum(), 1e-12))
                n_views = min(len(np.unique(v[members])), expected_views)
                out_s.append(sw.sum() / max(w[members].sum(), 1e-12) * n_views / expected_views)
            out_l.append(cls)
    if not out_b:
        return np.zeros((0, 6)), np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.argsort(-np.asarray(out_s), kind="stable")
    return np.asarray(out_b)[order], np.asarray(out_s)[order], np.asarray(out_l, dtype=np.int64)[order]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
