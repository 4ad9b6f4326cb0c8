"""Array, box and coordinate conventions (benchmark.core.conventions), checked against SimpleITK itself."""

import numpy as np
import pytest
import SimpleITK as sitk
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.core.conventions import (
    Geometry,
    box_centers,
    boxes_from_instances,
    from_nndetection_boxes,
    to_nndetection_boxes,
    voxel_to_world,
    world_to_voxel,
)


def rotation(axis_angles):
    a, b, c = axis_angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return tuple((rz @ ry @ rx).ravel())


GEOMS = [
    Geometry((20, 30, 40), (0.7, 0.7, 1.25), (-100.0, 50.0, 300.0)),
    Geometry((5, 6, 7), (0.46, 0.46, 0.4), (1.0, 2.0, 3.0), (0, 1, 0, -1, 0, 0, 0, 0, 1)),
    Geometry((9, 8, 7), (0.8, 0.9, 2.5), (3.0, -4.0, 5.0), rotation((0.3, -0.7, 1.1))),
]


@pytest.mark.parametrize("geometry", GEOMS)
def test_voxel_centre_matches_sitk(geometry):
    img = sitk.Image(list(geometry.shape[::-1]), sitk.sitkUInt8)
    geometry.apply_to_sitk(img)
    for idx_zyx in [(0, 0, 0), (1, 2, 3), (geometry.shape[0] - 1, 0, geometry.shape[2] - 1)]:
        expected = img.TransformIndexToPhysicalPoint([int(v) for v in idx_zyx[::-1]])
        got = voxel_to_world(np.array(idx_zyx) + 0.5, geometry)[0]
        np.testing.assert_allclose(got, expected, atol=1e-9)
        # continuous: the voxel-frame point p maps like the ITK continuous index p - 0.5
        p = np.array(idx_zyx) + np.array([0.25, 0.5, 0.9])
        exp = img.TransformContinuousIndexToPhysicalPoint((p - 0.5)[::-1].tolist())
        np.testing.assert_allclose(voxel_to_world(p, geometry)[0], exp, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(
    pts=st.lists(st.tuples(*[st.floats(-50, 50)] * 3), min_size=1, max_size=10),
    angles=st.tuples(*[st.floats(-3.1, 3.1)] * 3),
    spacing=st.tuples(*[st.floats(0.1, 5.0)] * 3),
)
def test_world_voxel_round_trip(pts, angles, spacing):
    g = Geometry((10, 10, 10), spacing, (12.5, -3.0, 100.0), rotation(angles))
    p = np.array(pts)
    np.testing.assert_allclose(world_to_voxel(voxel_to_world(p, g), g), p, atol=1e-7)


def test_spacing_array_order():
    g = Geometry((10, 20, 30), (0.7, 0.8, 2.5), (0, 0, 0))
    assert g.spacing == (2.5, 0.8, 0.7)


def test_boxes_from_instances_half_open():
    inst = np.zeros((6, 7, 8), np.int32)
    inst[1:3, 2:5, 3:8] = 4
    inst[5, 0, 0] = 2
    boxes = boxes_from_instances(inst)
    np.testing.assert_array_equal(boxes[4], [1, 2, 3, 3, 5, 8])
    np.testing.assert_array_equal(boxes[2], [5, 0, 0, 6, 1, 1])
    np.testing.assert_allclose(box_centers(boxes[4]), [[2.0, 3.5, 5.5]])
    assert boxes_from_instances(np.zeros((2, 2, 2))) == {}


def test_nndetection_box_conversion():
    b = np.array([[1.0, 2.0, 3.0, 3.0, 5.0, 8.0]])
    nnd = to_nndetection_boxes(b)
    # nnDetection: (x1, y1, x2, y2, z1, z2) over array axes 0, 1, 2 with (lo - 1, hi + 1)
    np.testing.assert_array_equal(nnd, [[0, 1, 3, 5, 2, 8]])
    np.testing.assert_array_equal(from_nndetection_boxes(nnd), b)


def test_geometry_rejects_bad_input():
    with pytest.raises(ValueError, match="spacing must be positive"):
        Geometry((1, 1, 1), (0, 1, 1), (0, 0, 0))
    with pytest.raises(ValueError, match="9 entries"):
        Geometry((1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 0, 0))
