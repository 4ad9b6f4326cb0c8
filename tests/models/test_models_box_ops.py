"""Torch box operations: IoU / GIoU against hand-computed values, conversions, clipping, NMS."""

from __future__ import annotations

import pytest
import torch

from models.box_ops import (
    batched_nms,
    box_iou,
    box_volume,
    center_size_to_corners,
    clip_boxes,
    corners_to_center_size,
    elementwise_giou,
    generalized_box_iou,
    nms,
)


def test_giou_hand_computed_overlapping_cubes():
    # two 2x2x2 cubes shifted by 1 on every axis: intersection 1, union 8 + 8 - 1 = 15, enclosing 3^3 = 27
    a = torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 1.0, 3.0, 3.0, 3.0]])
    expected = 1 / 15 - (27 - 15) / 27
    assert box_iou(a, b).item() == pytest.approx(1 / 15)
    assert generalized_box_iou(a, b).item() == pytest.approx(expected)
    assert elementwise_giou(a, b).item() == pytest.approx(expected)


def test_giou_hand_computed_disjoint_and_anisotropic():
    # disjoint along z: union 2, enclosing 3 -> GIoU = 0 - 1/3
    a = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 0.0, 3.0, 1.0, 1.0]])
    assert generalized_box_iou(a, b).item() == pytest.approx(-1 / 3)
    # anisotropic boxes: (z 0-4, y 0-2, x 0-1) vs (z 2-6, y 0-2, x 0-1): inter 4, union 12, enclosing 12
    a = torch.tensor([[0.0, 0.0, 0.0, 4.0, 2.0, 1.0]])
    b = torch.tensor([[2.0, 0.0, 0.0, 6.0, 2.0, 1.0]])
    assert box_iou(a, b).item() == pytest.approx(4 / 12)
    assert generalized_box_iou(a, b).item() == pytest.approx(4 / 12)


def test_identical_and_degenerate_boxes():
    a = torch.tensor([[1.0, 2.0, 3.0, 4.0, 6.0, 8.0]])
    assert box_iou(a, a).item() == pytest.approx(1.0)
    assert generalized_box_iou(a, a).item() == pytest.approx(1.0)
    flat = torch.tensor([[1.0, 1.0, 1.0, 1.0, 3.0, 3.0]])
    assert torch.isfinite(generalized_box_iou(flat, flat)).all()
    assert box_iou(flat, flat).item() == 0.0
    assert box_volume(torch.tensor([[2.0, 0, 0, 1, 1, 1]])).item() == 0.0


def test_pairwise_matches_elementwise_and_is_differentiable():
    g = torch.Generator().manual_seed(0)
    lo = torch.rand(5, 3, generator=g) * 10
    a = torch.cat([lo, lo + torch.rand(5, 3, generator=g) * 5 + 0.1], 1).requires_grad_()
    b = a.detach().flip(0) + 0.5
    pair = generalized_box_iou(a, b)
    torch.testing.assert_close(pair.diagonal(), elementwise_giou(a, b))
    (1 - elementwise_giou(a, b)).sum().backward()
    assert a.grad is not None and torch.isfinite(a.grad).all()


def test_center_size_roundtrip_and_clip():
    boxes = torch.tensor([[1.0, 2.0, 3.0, 5.0, 8.0, 4.0]])
    cs = corners_to_center_size(boxes)
    torch.testing.assert_close(cs, torch.tensor([[3.0, 5.0, 3.5, 4.0, 6.0, 1.0]]))
    torch.testing.assert_close(center_size_to_corners(cs), boxes)
    clipped = clip_boxes(torch.tensor([[-2.0, 1.0, 3.0, 40.0, 5.0, 70.0]]), (32, 16, 64))
    torch.testing.assert_close(clipped, torch.tensor([[0.0, 1.0, 3.0, 32.0, 5.0, 64.0]]))


def test_nms_and_per_class_nms():
    boxes = torch.tensor(
        [[0.0, 0, 0, 10, 10, 10], [1.0, 0, 0, 11, 10, 10], [20.0, 20, 20, 30, 30, 30], [0.0, 0, 0, 10, 10, 10]]
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    labels = torch.tensor([0, 0, 0, 1])
    assert sorted(batched_nms(boxes, scores, labels, 0.5).tolist()) == [0, 2, 3]
    assert nms(torch.zeros(0, 6), torch.zeros(0), 0.5).numel() == 0
