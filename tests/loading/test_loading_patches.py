"""Patch extraction: zero padding, the crop fast path equals the sampling grid, grid axes are right."""

import numpy as np
import pytest
import torch

from benchmark.loading.patches import crop_padded, extract_patch, relabel_patch


@pytest.fixture
def volume():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(2, 20, 22, 24)).astype(np.float32)
    inst = np.zeros((20, 22, 24), np.int16)
    inst[3:8, 4:9, 5:12] = 4
    inst[12:18, 10:20, 2:6] = 9
    return image, inst


def test_crop_padded_pads_with_zeros(volume):
    image, _ = volume
    out = crop_padded(image, (-2, 18, 20), (6, 6, 6), np.float32)
    assert out.shape == (2, 6, 6, 6)
    np.testing.assert_array_equal(out[:, 2:, :4, :4], image[:, :4, 18:22, 20:24])
    assert not out[:, :2].any() and not out[:, :, 4:].any() and not out[:, :, :, 4:].any()
    assert not crop_padded(image, (30, 0, 0), (4, 4, 4), np.float32).any()


@pytest.mark.parametrize("mirror", [(1, 1, 1), (-1, 1, -1)])
def test_crop_path_equals_sampling_grid(volume, mirror):
    image, inst = volume
    matrix = np.diag(np.asarray(mirror, dtype=np.float64))
    centre = np.array([9.0, 10.0, 11.0])
    fast_img, fast_inst = extract_patch(image, inst, centre, matrix, (12, 14, 16))
    zero = torch.zeros(3, 12, 14, 16)  # forces the grid_sample path with the same transform
    grid_img, grid_inst = extract_patch(image, inst, centre, matrix, (12, 14, 16), displacement=zero)
    torch.testing.assert_close(fast_img, grid_img, atol=1e-5, rtol=0)
    assert torch.equal(fast_inst, grid_inst)
    if mirror == (1, 1, 1):
        np.testing.assert_array_equal(fast_inst.numpy(), inst[3:15, 3:17, 3:19])


def test_rotation_grid_matches_numpy_nearest_lookup(volume):
    image, inst = volume
    matrix = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # 90 degrees in the (y, x) plane
    centre = np.array([10.0, 11.0, 12.0])
    size = (10, 12, 12)
    _, got = extract_patch(image, inst, centre, matrix, size)
    p = np.stack(np.meshgrid(*[np.arange(n) + 0.5 - n / 2 for n in size], indexing="ij"), axis=-1)
    q = np.floor(centre + p @ matrix.T).astype(int)
    inside = np.all((q >= 0) & (q < inst.shape), axis=-1)
    expected = np.zeros(size, np.int64)
    expected[inside] = inst[tuple(q[inside].T)]
    np.testing.assert_array_equal(got.numpy(), expected)


def test_relabel_patch_numbers_instances_in_box_order():
    patch = torch.zeros(6, 6, 6, dtype=torch.int64)
    patch[0:2, 0:3, 1:2] = 9
    patch[3:6, 4:6, 0:6] = 4
    relabelled, boxes, labels = relabel_patch(patch, {4: 1, 9: 0, 11: 1})
    assert relabelled.dtype == torch.int32 and set(relabelled.unique().tolist()) == {0, 1, 2}
    assert boxes.tolist() == [[3, 4, 0, 6, 6, 6], [0, 0, 1, 2, 3, 2]]  # id 4 -> 1, id 9 -> 2
    assert labels.tolist() == [1, 0] and labels.dtype == torch.int64
