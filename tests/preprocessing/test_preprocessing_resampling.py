"""Resampling: geometry of the resampled grid, image interpolation alignment, instances never lost or created."""

import numpy as np
import pytest
from builders import ROTATED
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.core.conventions import Geometry, boxes_from_instances, voxel_to_world
from benchmark.preprocessing.resampling import (
    resample_image,
    resample_instances,
    resampled_geometry,
    resampled_shape,
)


def test_resampled_geometry_keeps_world_coordinates():
    geometry = Geometry((7, 13, 11), (0.6, 0.7, 4.0), (3.0, -2.0, 50.0), ROTATED)
    new_shape = resampled_shape(geometry.shape, geometry.spacing, (1.0, 1.0, 1.0))
    assert new_shape == (28, 9, 7)
    new = resampled_geometry(geometry, new_shape)
    points = np.random.default_rng(0).uniform(0, 1, size=(20, 3)) * new_shape
    factor = np.asarray(geometry.shape) / np.asarray(new_shape)
    np.testing.assert_allclose(voxel_to_world(points, new), voxel_to_world(points * factor, geometry), atol=1e-9)
    assert new.spacing == pytest.approx(np.asarray(geometry.spacing) * factor)


def test_image_resampling_is_aligned_with_the_voxel_frame():
    ramp = np.broadcast_to(np.arange(12, dtype=np.float32)[None, None, :], (4, 5, 12))[None]
    out = resample_image(ramp, (4, 5, 30), order=1)
    # new voxel j has its centre at old index coordinate (j + 0.5) * 12 / 30 - 0.5 (value of a linear ramp)
    expected = np.clip((np.arange(30) + 0.5) * 12 / 30 - 0.5, 0, 11)
    np.testing.assert_allclose(out[0, 2, 2], expected, atol=1e-5)
    cubic = resample_image(ramp, (4, 5, 30), order=3)
    np.testing.assert_allclose(cubic[0, 2, 2, 6:-6], expected[6:-6], atol=1e-2)


@pytest.mark.parametrize("seed", range(6))
def test_tiny_objects_on_anisotropic_grids_are_kept(seed):
    rng = np.random.default_rng(seed)
    shape = (5, 40, 40)
    inst = np.zeros(shape, np.int16)
    n = 0
    for _ in range(25):  # many tiny objects, some adjacent
        z, y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1] - 2), rng.integers(0, shape[2] - 2)
        size = rng.integers(1, 3, size=2)
        if inst[z, y : y + size[0], x : x + size[1]].any():
            continue
        n += 1
        inst[z, y : y + size[0], x : x + size[1]] = n
    spacing = (5.0, 0.4, 0.4)
    target = (1.0, 1.5, 1.5) if seed % 2 else (2.0, 2.0, 2.0)
    new_shape = resampled_shape(shape, spacing, target)
    out, warnings = resample_instances(inst, new_shape, {i: i % 2 for i in range(1, n + 1)}, spacing, target)
    assert out.shape == new_shape
    assert set(np.unique(out)) - {0} == set(range(1, n + 1))  # none lost, none created
    assert warnings and all("vanished after resampling" in w and "kept as a single voxel" in w for w in warnings)


def test_vanished_instance_is_kept_at_its_centre_with_a_warning():
    inst = np.zeros((4, 16, 16), np.int16)
    inst[:, 2:10, 2:10] = 1
    inst[1, 13, 13] = 2  # falls between the centres of the 4x coarser grid
    out, warnings = resample_instances(inst, (4, 4, 4), {1: 0, 2: 1})
    assert (out == 2).sum() == 1 and out[1, 3, 3] == 2
    assert len(warnings) == 1 and warnings[0].startswith("instance 2 (class 1)")
    assert boxes_from_instances(out)[1].tolist() == [0, 0, 0, 4, 2, 2]  # edges [0.5, 2.5) +- half a voxel


def test_identity_resampling_is_exact():
    inst = np.zeros((3, 4, 5), np.int32)
    inst[1, 1:3, 2:4] = 7
    out, warnings = resample_instances(inst, inst.shape)
    np.testing.assert_array_equal(out, inst)
    assert out.dtype == np.int16 and not warnings


@settings(max_examples=60, deadline=None)
@given(
    old=st.tuples(*[st.integers(4, 30)] * 3),
    new=st.tuples(*[st.integers(2, 40)] * 3),
    lo_frac=st.tuples(*[st.floats(0, 0.9)] * 3),
    len_frac=st.tuples(*[st.floats(0, 1)] * 3),
)
def test_box_edges_within_half_a_target_voxel(old, new, lo_frac, len_frac):
    lo = [int(f * (n - 1)) for f, n in zip(lo_frac, old, strict=True)]
    hi = [a + 1 + int(f * (n - a - 1)) for a, f, n in zip(lo, len_frac, old, strict=True)]
    inst = np.zeros(old, np.int16)
    inst[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    out, warnings = resample_instances(inst, new)
    box = boxes_from_instances(out)[1]
    scale = np.asarray(new) / np.asarray(old)  # new voxels per old voxel
    true_lo, true_hi = np.asarray(lo) * scale, np.asarray(hi) * scale
    centre_err = np.abs((box[:3] + box[3:]) / 2 - (true_lo + true_hi) / 2)
    assert np.all(centre_err <= 0.5 + 1e-9)
    if not warnings:
        long_enough = true_hi - true_lo >= 1
        assert np.all(np.abs(box[:3] - true_lo)[long_enough] <= 0.5 + 1e-9)
        assert np.all(np.abs(box[3:] - true_hi)[long_enough] <= 0.5 + 1e-9)
