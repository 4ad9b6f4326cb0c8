"""Sliding-window inference, consolidation and post-processing on CPU."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from benchmark.core.conventions import boxes_from_instances
from benchmark.inference.consolidation import consolidate
from benchmark.inference.postprocessing import PostprocessingParams, apply_postprocessing, tune_postprocessing
from benchmark.inference.sliding_window import InferenceConfig, mirror_views, predict_volume
from benchmark.inference.tiling import centre_weight, tile_grid, tile_starts


class BlobDetector(torch.nn.Module):
    """A parameter-free stand-in detector: connected components of voxels > 0.5, score = their mean value."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    @torch.no_grad()
    def predict(self, images):
        out = []
        for img in images:
            arr = img[0].numpy()
            comps, _ = ndimage.label(arr > 0.5)
            boxes = boxes_from_instances(comps)
            ids = sorted(boxes)
            out.append(
                {
                    "boxes": torch.tensor(np.array([boxes[i] for i in ids]).reshape(-1, 6), dtype=torch.float32),
                    "scores": torch.tensor([float(arr[comps == i].mean()) for i in ids], dtype=torch.float32),
                    "labels": torch.zeros(len(ids), dtype=torch.long),
                }
            )
        return out


def test_tile_starts_cover_and_overlap():
    for size, patch in [(100, 32), (32, 32), (20, 32), (65, 64)]:
        starts = tile_starts(size, patch, 0.5)
        assert starts[0] == 0 and starts[-1] == max(size - patch, 0)
        assert all(b - a <= patch // 2 for a, b in zip(starts, starts[1:], strict=False))
    assert len(tile_grid((100, 32, 20), (32, 32, 32), 0.5)) == len(tile_starts(100, 32, 0.5))
    with pytest.raises(ValueError, match="overlap"):
        tile_starts(10, 4, 1.0)


def test_centre_weight():
    w = centre_weight(np.array([[16, 16, 16], [0, 16, 16], [0, 0, 0]]), (32, 32, 32))
    assert w[0] == pytest.approx(1.0) and 0 < w[2] < w[1] < w[0]


def _volume(shape, blobs):
    vol = np.zeros(shape, np.float32)
    for (z, y, x), s, v in blobs:
        vol[z : z + s, y : y + s, x : x + s] = v
    return torch.from_numpy(vol)[None]


def test_single_window_equals_direct_forward():
    image = _volume((32, 32, 32), [((4, 5, 6), 4, 0.9), ((20, 20, 20), 3, 0.7)])
    model = BlobDetector()
    direct = model.predict(image[None])[0]
    for mirror in [
        (),
    ]:
        got = predict_volume(model, image, InferenceConfig(patch_size=(32, 32, 32), mirror_axes=mirror))
        order = np.argsort(-direct["scores"].numpy(), kind="stable")
        np.testing.assert_array_equal(got["boxes"], direct["boxes"].numpy()[order])
        np.testing.assert_array_equal(got["scores"], direct["scores"].numpy()[order])


def test_real_detector_single_window_equals_direct_forward():
    from models import registry

    torch.manual_seed(0)
    name = "retina_unet"
    model = registry.build_detector(name, registry.default_config(name, width_multiplier=0.125, n_stages=3)).eval()
    image = torch.randn(1, 16, 16, 16)
    direct = model.predict(image[None])[0]
    got = predict_volume(model, image, InferenceConfig(patch_size=(16, 16, 16)))
    order = torch.argsort(direct["scores"], descending=True, stable=True)
    np.testing.assert_allclose(got["scores"], direct["scores"][order].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got["boxes"], direct["boxes"][order].numpy(), rtol=1e-6, atol=1e-5)


def test_object_seen_by_several_windows_is_merged():
    image = _volume((64, 48, 48), [((28, 20, 20), 6, 0.9)])
    got = predict_volume(BlobDetector(), image, InferenceConfig(patch_size=(32, 32, 32), overlap=0.5))
    assert len(got["boxes"]) == 1
    np.testing.assert_allclose(got["boxes"][0], [28, 20, 20, 34, 26, 26], atol=0.01)  # WBC: cut views weigh little
    assert got["scores"][0] == pytest.approx(0.9)


def test_mirroring_is_consistent():
    assert len(mirror_views((0, 1, 2))) == 8 and mirror_views(()) == [()]
    image = _volume((32, 32, 32), [((3, 5, 7), 4, 0.8)])
    got = predict_volume(BlobDetector(), image, InferenceConfig(patch_size=(32, 32, 32), mirror_axes=(0, 1, 2)))
    assert len(got["boxes"]) == 1
    np.testing.assert_allclose(got["boxes"][0], [3, 5, 7, 7, 9, 11])
    assert got["scores"][0] == pytest.approx(0.8)


def test_volume_smaller_than_patch_is_padded():
    image = _volume((10, 12, 14), [((2, 2, 2), 3, 0.9)])
    got = predict_volume(BlobDetector(), image, InferenceConfig(patch_size=(16, 16, 16)))
    np.testing.assert_allclose(got["boxes"], [[2, 2, 2, 5, 5, 5]])


def test_consolidate_nms_and_wbc():
    boxes = np.array([[0, 0, 0, 10, 10, 10], [1, 1, 1, 11, 11, 11], [50, 50, 50, 60, 60, 60]], float)
    scores, labels = np.array([0.9, 0.5, 0.4]), np.array([0, 0, 0])
    b, s, _ = consolidate(boxes, scores, labels, np.ones(3), "nms", 0.5)
    np.testing.assert_allclose(b, boxes[[0, 2]]) and np.testing.assert_allclose(s, [0.9, 0.4])
    b, s, _ = consolidate(boxes, scores, labels, np.ones(3), "wbc", 0.5, expected_views=2, view_ids=np.array([0, 1, 0]))
    np.testing.assert_allclose(b[0], (boxes[0] * 0.9 + boxes[1] * 0.5) / 1.4)
    assert s[0] == pytest.approx((0.9 + 0.5) / 2)  # weighted mean score, both views contributed
    assert s[1] == pytest.approx(0.4 / 2)  # seen in one of two views
    # different classes never merge
    b, _, lab = consolidate(boxes[:2], scores[:2], np.array([0, 1]), np.ones(2), "nms", 0.1)
    assert len(b) == 2 and sorted(lab) == [0, 1]
    with pytest.raises(ValueError, match="Valid: nms, wbc"):
        consolidate(boxes, scores, labels, np.ones(3), "soft")


def test_postprocessing_tuning_removes_low_scored_false_positives(tmp_path):
    gt = {"a": (np.array([[0, 0, 0, 4, 4, 4]], float), np.array([0])), "b": (np.zeros((0, 6)), np.zeros(0, int))}
    preds = {
        "a": {
            "boxes": np.array([[0, 0, 0, 4, 4, 4], [10, 10, 10, 10.5, 11, 11]]),
            "scores": np.array([0.6, 0.9]),
            "labels": np.array([0, 0]),
        },
        "b": {"boxes": np.array([[5, 5, 5, 9, 9, 9]]), "scores": np.array([0.25]), "labels": np.array([0])},
    }
    params, best = tune_postprocessing(preds, gt, ["nodule"])
    assert best == pytest.approx(1.0)
    # the tiny box is removed by size; the FP ranked below the TP costs no AP, so no score threshold is needed
    assert params == PostprocessingParams(score_threshold=0.0, min_size=1.0, nms_iou=1.0)
    params.save(tmp_path / "pp.json")
    assert PostprocessingParams.load(tmp_path / "pp.json") == params
    filtered = apply_postprocessing(preds["a"], PostprocessingParams(score_threshold=0.7))
    assert len(filtered["scores"]) == 1
    with pytest.raises(ValueError, match="Valid: score_threshold"):
        tune_postprocessing(preds, gt, ["nodule"], grid={"temperature": (1.0,)})
