"""Retina U-Net building blocks: anchors, anchor planning, box coder, ATSS, sampling, U-FPN, box targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.anchors import AnchorGenerator, BoxCoder, _mean_best_iou, plan_anchor_sizes
from models.config import EncoderConfig, RetinaUNetConfig
from models.matching import atss_match, sample_hard_negatives
from models.retina_unet import UFPN, boxes_to_segmentation


def test_anchor_grid_layout_and_level_scaling():
    gen = AnchorGenerator(((2.0, 4.0), (2.0,), (3.0,)), strides=(4, 8))
    assert gen.num_anchors_per_position == 2
    level0, level1 = gen([(2, 1, 1), (1, 1, 1)])
    assert level0.shape == (4, 6) and level1.shape == (2, 6)
    # position (z=0) first with both anchors, centre at (0.5 * 4, 0.5 * 4, 0.5 * 4)
    torch.testing.assert_close(level0[0], torch.tensor([1.0, 1.0, 0.5, 3.0, 3.0, 3.5]))
    torch.testing.assert_close(level0[1], torch.tensor([0.0, 1.0, 0.5, 4.0, 3.0, 3.5]))
    # second position along z: centre z = 1.5 * 4 = 6
    torch.testing.assert_close(level0[2, [0, 3]], torch.tensor([5.0, 7.0]))
    # the stride-8 level doubles the sizes, centre at 4
    torch.testing.assert_close(level1[1], torch.tensor([0.0, 2.0, 1.0, 8.0, 6.0, 7.0]))


def test_anchor_grids_are_cached_per_shape_and_equal_fresh_ones():
    """Repeated calls return the cached grids, bitwise equal to a fresh generator's; new shapes get new grids."""
    sizes, strides = ((2.0, 4.0), (2.0, 3.0), (3.0,)), (4, 8)
    gen = AnchorGenerator(sizes, strides)
    first = gen([(2, 3, 1), (1, 2, 1)])
    again = gen([(2, 3, 1), (1, 2, 1)])
    assert all(a is b for a, b in zip(first, again, strict=True))
    fresh = AnchorGenerator(sizes, strides)([(2, 3, 1), (1, 2, 1)])
    assert all(torch.equal(a, b) for a, b in zip(first, fresh, strict=True))
    other = gen([(1, 1, 1), (1, 1, 1)])
    assert other[0].shape == (1 * 4, 6) and torch.equal(other[0], AnchorGenerator(sizes, strides)([(1, 1, 1)])[0])
    assert gen([(2, 3, 1), (1, 2, 1)])[0] is first[0]


def test_box_coder_roundtrip():
    coder = BoxCoder((1.0, 1.0, 1.0, 2.0, 2.0, 2.0))
    anchors = torch.tensor([[0.0, 0, 0, 8, 8, 8], [10.0, 4, 2, 14, 20, 6]])
    boxes = torch.tensor([[1.0, 2, 0.5, 9, 7, 10], [11.0, 3, 2, 13, 25, 9]])
    deltas = coder.encode(boxes, anchors)
    torch.testing.assert_close(coder.decode(deltas, anchors), boxes, atol=1e-5, rtol=1e-5)
    assert coder.encode(anchors, anchors).abs().max() < 1e-6


def test_anchor_planning_improves_fit():
    rng = np.random.default_rng(0)
    sizes = np.concatenate([rng.uniform(4, 7, (50, 3)), rng.uniform(18, 30, (50, 3)) * [1, 1, 0.5]])
    planned = plan_anchor_sizes(sizes, level_strides=(4, 8, 16, 32))
    assert len(planned) == 3 and all(len(a) == 3 for a in planned)
    scales = np.array([1, 2, 4, 8])[:, None]

    def score(axes):
        base = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        return _mean_best_iou(sizes, np.concatenate([base * s for s in scales]))

    default = RetinaUNetConfig().anchor_sizes
    assert score(planned) > score(default)
    assert score(planned) > 0.7
    with pytest.raises(ValueError):
        plan_anchor_sizes(np.zeros((0, 3)), (4, 8))


def test_atss_matches_anchors_around_the_object():
    gen = AnchorGenerator(((4.0, 8.0), (4.0, 8.0), (4.0, 8.0)), strides=(4, 8))
    anchors = gen([(8, 8, 8), (4, 4, 4)])
    gt = torch.tensor([[8.0, 8.0, 8.0, 16.0, 16.0, 16.0], [20.0, 20.0, 20.0, 24.0, 24.0, 24.0]])
    matched = atss_match(gt, anchors, num_candidates=4)
    allanchors = torch.cat(anchors)
    assert (matched == 0).any() and (matched == 1).any()
    for g in (0, 1):
        centres = (allanchors[matched == g, :3] + allanchors[matched == g, 3:]) / 2
        gt_ctr = (gt[g, :3] + gt[g, 3:]) / 2
        assert (centres - gt_ctr).abs().max() <= 8
    assert (atss_match(torch.zeros(0, 6), anchors) == -1).all()


def test_hard_negative_sampler_ratio_and_hardness():
    matched = torch.full((1000,), -1)
    matched[:20] = 0
    scores = torch.zeros(1000)
    scores[500:510] = 5.0  # the hardest negatives
    pos, neg = sample_hard_negatives(matched, scores, batch_size=32, positive_fraction=0.33, pool_size=1)
    assert pos.numel() == 10 and (matched[pos] >= 0).all()
    assert neg.numel() == 20 and (matched[neg] < 0).all()
    assert set(range(500, 510)) <= set(neg.tolist())
    pos, neg = sample_hard_negatives(torch.full((50,), -1), torch.zeros(50), min_negatives=1)
    assert pos.numel() == 0 and neg.numel() == 1


def test_ufpn_channels_and_resolutions():
    enc = EncoderConfig(width_multiplier=0.25)
    fpn = UFPN(enc.stage_features, enc.stage_strides, channels=32, first_detection_level=2, min_channels=4)
    assert fpn.out_channels == (8, 16, 32, 32, 32, 32)
    levels = zip(enc.stage_features, enc.cumulative_strides, strict=True)
    feats = [torch.randn(1, c, 32 // s, 32 // s, 32 // s) for c, s in levels]
    outs = fpn(feats)
    assert [tuple(o.shape[1:3]) for o in outs] == [(8, 32), (16, 16), (32, 8), (32, 4), (32, 2), (32, 1)]


def test_ufpn_channels_last_is_bitwise_the_plain_merge():
    """The channels-last UFPN (merged levels made channels-last) equals the plain merge, values and gradients."""
    torch.manual_seed(0)
    fpn = UFPN((8, 16, 32), (1, 2, 2), channels=16, first_detection_level=1).to(memory_format=torch.channels_last_3d)
    shapes = [(2, 8, 16, 16, 16), (2, 16, 8, 8, 8), (2, 32, 4, 4, 4)]
    feats = [torch.randn(s).contiguous(memory_format=torch.channels_last_3d) for s in shapes]

    def plain(features):
        merged = [None] * len(features)
        x = fpn.lateral[-1](features[-1])
        merged[-1] = x
        for level in range(len(features) - 2, -1, -1):
            x = fpn.lateral[level](features[level]) + fpn.up[level](x)
            merged[level] = x
        return [conv(m) for conv, m in zip(fpn.out, merged, strict=True)]

    def run(forward):
        fpn.zero_grad()
        inputs = [f.clone().requires_grad_(True) for f in feats]
        outs = forward(inputs)
        sum((o * o).sum() for o in outs).backward()
        return [o.detach() for o in outs], [i.grad for i in inputs], [p.grad.clone() for p in fpn.parameters()]

    new, old = run(fpn), run(plain)
    for a, b in zip(new, old, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_box_shaped_segmentation_targets():
    seg = boxes_to_segmentation(torch.tensor([[1.0, 2.0, 0.0, 3.0, 5.0, 2.0]]), torch.tensor([2]), (4, 6, 3))
    assert seg.sum().item() == 3 * (2 * 3 * 2)
    assert seg[1:3, 2:5, 0:2].eq(3).all()
    assert seg[0].eq(0).all() and seg[:, :, 2].eq(0).all()


def test_config_validation_messages():
    with pytest.raises(ValueError, match="'focal', 'bce'"):
        RetinaUNetConfig(classification_loss="softmax")
    with pytest.raises(ValueError, match="detection_levels"):
        RetinaUNetConfig(detection_levels=(2, 6))
    assert RetinaUNetConfig().resolved_detection_levels == (2, 3, 4, 5)
    assert RetinaUNetConfig().anchors_per_position == 27
