"""Assigning ground truth to predictions: ATSS anchor matching, hard negative sampling, Hungarian matching."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from models.box_ops import box_iou

__all__ = ["atss_match", "hungarian_match", "sample_hard_negatives"]


def atss_match(gt_boxes: Tensor, anchors_per_level: Sequence[Tensor], num_candidates: int = 4) -> Tensor:
    """Adaptive training sample selection (Zhang et al. 2020), nnDetection's Retina U-Net matcher.

    Per ground-truth box, the ``num_candidates`` anchors closest to its centre on every level are candidates;
    those whose IoU reaches the candidates' mean + std become positives. An anchor positive for several
    boxes takes the one with the highest IoU. Returns the matched box index per anchor, ``-1`` for none.
    """
    anchors = torch.cat(list(anchors_per_level))
    matched = torch.full((anchors.shape[0],), -1, dtype=torch.long, device=anchors.device)
    if gt_boxes.numel() == 0:
        return matched
    iou = box_iou(gt_boxes, anchors)  # [G, N]
    gt_ctr = (gt_boxes[:, :3] + gt_boxes[:, 3:]) / 2
    candidates, start = [], 0
    for level_anchors in anchors_per_level:
        ctr = (level_anchors[:, :3] + level_anchors[:, 3:]) / 2
        dist = torch.cdist(gt_ctr, ctr)
        k = min(num_candidates, level_anchors.shape[0])
        candidates.append(dist.topk(k, dim=1, largest=False).indices + start)
        start += level_anchors.shape[0]
    cand = torch.cat(candidates, dim=1)  # [G, K]
    cand_iou = iou.gather(1, cand)
    std = cand_iou.std(1, keepdim=True) if cand.shape[1] > 1 else torch.zeros_like(cand_iou[:, :1])
    threshold = cand_iou.mean(1, keepdim=True) + std
    positive = (cand_iou >= threshold) & (cand_iou > 0)
    # IoU of each anchor with each box restricted to positive candidates
    restricted = torch.full_like(iou, -1.0)
    gt_idx = torch.arange(gt_boxes.shape[0], device=anchors.device)[:, None].expand_as(cand)
    restricted[gt_idx[positive], cand[positive]] = iou[gt_idx[positive], cand[positive]]
    best_iou, best_gt = restricted.max(0)
    matched[best_iou >= 0] = best_gt[best_iou >= 0]
    return matched


def sample_hard_negatives(
    matched: Tensor,
    scores: Tensor,
    batch_size: int = 32,
    positive_fraction: float = 0.33,
    pool_size: int = 20,
    min_negatives: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """nnDetection's hard negative sampler for one image: (positive indices, negative indices).

    Up to ``batch_size * positive_fraction`` positives are drawn at random; negatives keep the
    positive:negative ratio (at least ``min_negatives``) and are drawn at random from the
    ``pool_size`` times as many highest-scoring background anchors.
    """
    device = matched.device
    pos = torch.nonzero(matched >= 0).flatten()
    neg = torch.nonzero(matched < 0).flatten()
    num_pos = min(pos.numel(), int(batch_size * positive_fraction))
    pos = pos[torch.randperm(pos.numel(), generator=generator)[:num_pos].to(device)]
    num_neg = max(min_negatives, int(num_pos * (1 - positive_fraction) / positive_fraction))
    num_neg = min(num_neg, neg.numel())
    pool = min(neg.numel(), num_neg * pool_size)
    hardest = neg[scores[neg].topk(pool).indices] if pool > 0 else neg[:0]
    neg = hardest[torch.randperm(hardest.numel(), generator=generator)[:num_neg].to(device)]
    return pos, neg


@torch.no_grad()
def hungarian_match(cost: Tensor) -> tuple[Tensor, Tensor]:
    """Optimal one-to-one assignment for a ``[num_predictions, num_targets]`` cost matrix.

    Returns (prediction indices, target indices) as long tensors on the cost's device.
    """
    if cost.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=cost.device)
        return empty, empty
    c = cost.detach().float().cpu().numpy()
    c = np.nan_to_num(c, nan=1e6, posinf=1e6, neginf=-1e6)
    rows, cols = linear_sum_assignment(c)
    return (
        torch.as_tensor(rows, dtype=torch.long, device=cost.device),
        torch.as_tensor(cols, dtype=torch.long, device=cost.device),
    )
