"""Preprocessing of new scans: the whole path is training's own, the slab path agrees with it to float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.conventions import Geometry
from benchmark.inference.folder import boxes_to_input_frame, world_bounds
from benchmark.inference.scan_preprocessing import preprocess_scan
from benchmark.preprocessing.intensity import clip_after_resampling, normalize_image
from benchmark.preprocessing.plan import ChannelNormalization, Plan
from benchmark.preprocessing.resampling import resample_image, resampled_shape

CT = ChannelNormalization("ct", lower=-900.0, upper=400.0, mean=-200.0, std=300.0)
MR = ChannelNormalization("zscore_per_case")


def _plan(norms, spacing=(1.0, 1.0, 1.0), order=3, dtype="float32") -> Plan:
    return Plan("fixed", "t", "T01", spacing, (16, 16, 16), tuple(norms), "x", image_order=order, image_dtype=dtype)


def _training(channels, geometry, plan) -> np.ndarray:
    """What benchmark.preprocessing.pipeline.preprocess_case stores, read back as float32."""
    image = np.stack([np.asarray(c, np.float32) for c in channels])
    shape = resampled_shape(geometry.shape, geometry.spacing, plan.target_spacing)
    out = resample_image(normalize_image(image, plan.normalization), shape, plan.image_order)
    return clip_after_resampling(out, plan.normalization).astype(plan.image_dtype).astype(np.float32)


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("spacing", [(2.5, 0.8, 0.7), (1.0, 1.0, 1.0), (0.6, 1.7, 1.0)])
def test_whole_path_is_bit_identical_and_slabs_agree(order, spacing):
    rng = np.random.default_rng(0)
    shape = (37, 21, 19)
    ct = rng.normal(-300, 400, size=shape).astype(np.int16)  # int16 input, as a DICOM series reads
    mr = rng.gamma(2.0, 50.0, size=shape).astype(np.float32)
    geometry = Geometry(shape, tuple(spacing[::-1]), (1.0, 2.0, 3.0))
    plan = _plan([CT, MR], order=order)
    expected = _training([ct, mr], geometry, plan)
    whole, new_geometry = preprocess_scan([ct, mr], geometry, plan)
    assert whole.dtype == np.float32 and np.array_equal(whole, expected)
    assert new_geometry.shape == expected.shape[1:]
    # force the slab path with slabs of ~2 input slices
    slabs, _ = preprocess_scan([ct, mr], geometry, plan, whole_voxels=0, slab_voxels=2 * shape[1] * shape[2])
    np.testing.assert_allclose(slabs, expected, rtol=0, atol=2e-5)
    assert not np.shares_memory(slabs, ct)


def test_float16_storage_is_reproduced():
    rng = np.random.default_rng(1)
    shape = (12, 10, 9)
    ct = rng.normal(-300, 400, size=shape).astype(np.float32)
    geometry = Geometry(shape, (0.9, 0.9, 2.0), (0.0, 0.0, 0.0))
    plan = _plan([CT], dtype="float16")
    out, _ = preprocess_scan([ct], geometry, plan)
    assert np.array_equal(out, _training([ct], geometry, plan))


def test_channel_count_is_checked():
    geometry = Geometry((4, 4, 4), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="1 channel"):
        preprocess_scan([np.zeros((4, 4, 4))], geometry, _plan([CT, MR]))


def test_boxes_map_back_to_the_input_frame_and_world():
    # resampled 2x finer on z: a box of the resampled frame is half as long in input voxels
    boxes = boxes_to_input_frame(np.array([[2.0, 1.0, 1.0, 6.0, 3.0, 5.0]]), (10, 4, 8), (20, 4, 8))
    np.testing.assert_allclose(boxes, [[1.0, 1.0, 1.0, 3.0, 3.0, 5.0]])
    # a flipped x axis: world bounds are still minima first
    geometry = Geometry((10, 4, 8), (2.0, 1.0, 3.0), (100.0, 0.0, -5.0), (-1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0))
    bounds = world_bounds(boxes, geometry)
    # x voxel 1..5 -> itk index 0.5..4.5 -> x = 100 - 2 * index
    np.testing.assert_allclose(bounds, [[91.0, 0.5, -3.5, 99.0, 2.5, 2.5]])
