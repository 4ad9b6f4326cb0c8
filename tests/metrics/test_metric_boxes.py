"""3D IoU / GIoU: hand-computed values, symmetry and range, degenerate boxes, torch inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from benchmark.metrics import box_giou, box_iou, box_volume

coords = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


def _boxes(n: int):
    """Strategy for ``[n, 6]`` valid boxes (possibly zero-volume)."""
    return arrays(np.float64, (n, 6), elements=coords).map(
        lambda a: np.concatenate([np.minimum(a[:, :3], a[:, 3:]), np.maximum(a[:, :3], a[:, 3:])], axis=1)
    )


@settings(max_examples=100, deadline=None)
@given(a=st.integers(0, 5).flatmap(_boxes), b=st.integers(0, 5).flatmap(_boxes))
def test_iou_symmetric_and_in_unit_interval(a, b):
    iou = box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    assert np.all(np.isfinite(iou))
    assert np.all((iou >= 0) & (iou <= 1 + 1e-12))
    np.testing.assert_allclose(iou, box_iou(b, a).T, atol=1e-12)
    giou = box_giou(a, b)
    assert np.all(np.isfinite(giou))
    assert np.all((giou >= -1 - 1e-12) & (giou <= iou + 1e-12))
    np.testing.assert_allclose(giou, box_giou(b, a).T, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(a=st.integers(1, 5).flatmap(_boxes))
def test_iou_of_a_box_with_itself_is_one(a):
    iou = np.diag(box_iou(a, a))
    positive = box_volume(a) > 0
    np.testing.assert_allclose(iou[positive], 1.0)
    np.testing.assert_allclose(np.diag(box_giou(a, a))[positive], 1.0)


def test_hand_computed_iou_and_giou():
    a = np.array([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0]])  # volume 8
    b = np.array([[1.0, 1.0, 1.0, 3.0, 3.0, 3.0]])  # volume 8, overlap 1
    assert box_iou(a, b)[0, 0] == pytest.approx(1 / 15)
    # enclosing box [0, 3]^3 has volume 27: GIoU = 1/15 - (27 - 15) / 27
    assert box_giou(a, b)[0, 0] == pytest.approx(1 / 15 - 12 / 27)
    c = np.array([[0.0, 0.0, 4.0, 2.0, 2.0, 6.0]])  # disjoint along x: union 16, enclosing 2 * 2 * 6 = 24
    assert box_iou(a, c)[0, 0] == 0.0
    assert box_giou(a, c)[0, 0] == pytest.approx(-8 / 24)
    # anisotropic boxes: order (z1, y1, x1, z2, y2, x2)
    d = np.array([[0.0, 0.0, 0.0, 1.0, 2.0, 4.0]])  # 1 x 2 x 4 = 8
    # overlap 1 x 1 x 2 = 2; union 14; enclosing 1 x 3 x 6 = 18
    e = np.array([[0.0, 1.0, 2.0, 1.0, 3.0, 6.0]])
    assert box_iou(d, e)[0, 0] == pytest.approx(2 / 14)
    assert box_giou(d, e)[0, 0] == pytest.approx(2 / 14 - 4 / 18)


def test_degenerate_boxes_give_no_nan():
    point = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    flat = np.array([[0.0, 0.0, 0.0, 0.0, 2.0, 2.0]])
    full = np.array([[0.0, 0.0, 0.0, 2.0, 2.0, 2.0]])
    for x in (point, flat):
        for y in (point, flat, full):
            assert box_iou(x, y)[0, 0] == 0.0
            assert np.isfinite(box_giou(x, y)[0, 0])
    assert box_giou(point, point)[0, 0] == 0.0  # empty union and enclosing box
    assert box_volume(np.array([[0.0, 0.0, 0.0, -1.0, 2.0, 2.0]]))[0] == 0.0  # inverted extent counts as 0


def test_empty_and_bad_shapes():
    assert box_iou(np.zeros((0, 6)), np.ones((3, 6))).shape == (0, 3)
    assert box_iou([], []).shape == (0, 0)
    with pytest.raises(ValueError, match=r"\[N, 6\]"):
        box_iou(np.zeros((2, 4)), np.zeros((2, 6)))


def test_torch_inputs_stay_torch_and_agree():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    lo = rng.uniform(0, 5, (4, 3))
    a = np.concatenate([lo, lo + rng.uniform(0, 3, (4, 3))], 1)
    lo = rng.uniform(0, 5, (3, 3))
    b = np.concatenate([lo, lo + rng.uniform(0, 3, (3, 3))], 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for fn in (box_iou, box_giou):
        out = fn(ta, tb)
        assert isinstance(out, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), fn(a, b), atol=1e-12)
    with pytest.raises(ValueError, match="both"):
        box_iou(ta, b)
