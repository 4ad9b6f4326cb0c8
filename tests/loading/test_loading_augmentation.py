"""Augmentation keeps boxes consistent with the transformed instance maps; intensity transforms are seeded."""

import numpy as np
import pytest
import torch

from benchmark.core.conventions import boxes_from_instances
from benchmark.loading import (
    AugmentationConfig,
    IntensityAugmentation,
    LoaderConfig,
    PreprocessedData,
    SpatialAugmentation,
    apply_intensity_augmentation,
    sample_patch,
    sample_spatial_transform,
    write_synthetic_preprocessed,
)

STRONG = AugmentationConfig(
    SpatialAugmentation(p_rotation=1.0, p_scale=1.0, p_mirror=0.5, p_elastic=0.5),
    IntensityAugmentation(p_noise=1.0, p_blur=1.0, p_brightness=1.0, p_contrast=1.0, p_gamma=1.0),
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_synthetic_preprocessed(tmp_path_factory.mktemp("syn"), num_cases=3, shape=(28, 32, 36), seed=1)
    return PreprocessedData(root)


def test_boxes_follow_the_transformed_instance_map(data):
    config = LoaderConfig(patch_size=(20, 20, 20), augmentation=STRONG)
    rng = np.random.default_rng(0)
    seen_objects = 0
    for k in range(24):
        case_id = data.case_ids()[k % 3]
        sample = sample_patch(data, case_id, config, rng, foreground=k % 2 == 0)
        inst = sample["instances"].numpy()
        found = boxes_from_instances(inst)
        assert sorted(found) == list(range(1, len(sample["boxes"]) + 1))  # ids 1..N, instance i + 1 is box i
        for i, box in enumerate(sample["boxes"].numpy()):
            np.testing.assert_array_equal(found[i + 1], box)
        assert sample["labels"].shape == (len(sample["boxes"]),)
        assert set(sample["labels"].tolist()) <= set(data.meta(case_id).classes.values())
        assert sample["image"].shape == (1, 20, 20, 20) and torch.isfinite(sample["image"]).all()
        seen_objects += len(sample["boxes"])
    assert seen_objects > 0


def test_cut_instances_keep_their_visible_part(data):
    config = LoaderConfig(patch_size=(16, 16, 16), augmentation=AugmentationConfig.none())
    case_id = data.case_ids()[0]
    image, seg = data.arrays(case_id)
    rng = np.random.default_rng(3)
    for _ in range(12):
        sample = sample_patch(data, case_id, config, rng, foreground=True)
        boxes = sample["boxes"].numpy()
        assert len(boxes) >= 1
        assert (boxes[:, :3] >= 0).all() and (boxes[:, 3:] <= 16).all()
        assert set(np.unique(sample["instances"].numpy())) == set(range(len(boxes) + 1))


def test_without_augmentation_a_patch_is_a_plain_crop(data):
    config = LoaderConfig(patch_size=(8, 8, 8), augmentation=AugmentationConfig.none())
    case_id = data.case_ids()[1]
    image, seg = data.arrays(case_id)
    sample = sample_patch(data, case_id, config, np.random.default_rng(5), foreground=False)
    img = sample["image"].numpy()
    hits = [
        (z, y, x)
        for z in range(image.shape[1] - 7)
        for y in range(image.shape[2] - 7)
        for x in range(image.shape[3] - 7)
        if image[0, z, y, x] == img[0, 0, 0, 0]
    ]
    assert len(hits) == 1
    z, y, x = hits[0]
    np.testing.assert_array_equal(img, image[:, z : z + 8, y : y + 8, x : x + 8])


def test_intensity_augmentation_is_seeded_and_active():
    x = torch.randn(1, 12, 12, 12, generator=torch.Generator().manual_seed(0))
    cfg = STRONG.intensity

    def run(seed):
        rng = np.random.default_rng(seed)
        return apply_intensity_augmentation(x, rng, torch.Generator().manual_seed(int(rng.integers(2**63))), cfg)

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))
    assert not torch.equal(run(1), x)


def test_anisotropic_spacing_rotates_in_plane_only():
    rng = np.random.default_rng(0)
    cfg = SpatialAugmentation(p_rotation=1.0, p_scale=0.0, p_mirror=0.0)
    for _ in range(10):
        m = sample_spatial_transform(rng, cfg, spacing=(5.0, 0.7, 0.7))
        np.testing.assert_allclose(m[0], [1, 0, 0], atol=1e-12)  # the 5 mm axis is never mixed in
        np.testing.assert_allclose(m[:, 0], [1, 0, 0], atol=1e-12)
