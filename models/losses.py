"""Losses shared by the detectors: sigmoid focal loss, soft Dice and Dice + cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["dice_ce_loss", "sigmoid_focal_loss", "soft_dice_loss"]


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25, gamma: float = 2.0) -> Tensor:
    """Element-wise binary focal loss (Lin et al.) on logits; ``alpha < 0`` disables class weighting."""
    logits, targets = logits.float(), targets.float()
    prob = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = prob * targets + (1 - prob) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss


def soft_dice_loss(logits: Tensor, target: Tensor, batch_dice: bool = True, smooth: float = 1e-5) -> Tensor:
    """1 - soft Dice over the foreground channels of softmax(``logits``) ``[B, C, ...]``; ``target`` ``[B, ...]``.

    ``batch_dice`` pools the batch into one volume per class (nnU-Net's batch Dice).
    """
    probs = logits.float().softmax(1)
    onehot = F.one_hot(target.long(), probs.shape[1]).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, probs.ndim)) if batch_dice else tuple(range(2, probs.ndim))
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + smooth) / (denom + smooth)
    return 1 - dice[..., 1:].mean()


def dice_ce_loss(logits: Tensor, target: Tensor, ce_weight: float = 0.5, dice_weight: float = 0.5) -> Tensor:
    """nnDetection's segmentation loss: ``ce_weight`` * cross-entropy + ``dice_weight`` * batch soft Dice."""
    ce = F.cross_entropy(logits.float(), target.long())
    return ce_weight * ce + dice_weight * soft_dice_loss(logits, target)


def smooth_l1(x: Tensor, beta: float) -> Tensor:
    """Element-wise smooth L1 (Huber with slope 1) of a difference ``x``."""
    ax = x.abs()
    return torch.where(ax < beta, 0.5 * ax * ax / beta, ax - 0.5 * beta) if beta > 0 else ax
