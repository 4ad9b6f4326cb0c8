"""Round trips of the prepared-dataset reader/writer, including world coordinates on rotated images."""

import json

import numpy as np
import pytest
from builders import ROTATED, make_case, write_tiny_dataset

from benchmark.core.conventions import Geometry, voxel_to_world, world_to_voxel
from benchmark.data.format import (
    DatasetFormatError,
    DatasetMeta,
    PreparedDataset,
    Splits,
    image_path,
    label_json_path,
    write_case,
)


def test_round_trip_anisotropic_rotated(tmp_path):
    root = write_tiny_dataset(tmp_path / "ds", channels=2)
    ds = PreparedDataset(root)
    rng = np.random.default_rng(0)
    expected = make_case("c_000", rng, channels=2)
    case = ds.load_case("c_000")
    np.testing.assert_array_equal(case.image, expected.image)
    np.testing.assert_array_equal(case.instances, expected.instances)
    assert case.classes == {1: 0, 2: 1}
    assert case.geometry.same_as(expected.geometry)
    assert case.geometry.direction == pytest.approx(ROTATED)
    assert case.geometry.spacing == pytest.approx((2.5, 0.8, 0.7))
    assert image_path(root, "c_004", 1, "test").is_file()  # test cases live in imagesTs
    assert json.loads(label_json_path(root, "c_000", "train").read_text()) == {"instances": {"1": 0, "2": 1}}


def test_boxes_world_round_trip_after_reading(tmp_path):
    root = write_tiny_dataset(tmp_path / "ds")
    case = PreparedDataset(root).load_case("c_001")
    boxes, labels = case.boxes()
    np.testing.assert_array_equal(boxes, [[1, 1, 1, 3, 4, 5], [5, 5, 6, 7, 8, 10]])
    np.testing.assert_array_equal(labels, [0, 1])
    corners = boxes[:, :3]
    world = voxel_to_world(corners, case.geometry)
    np.testing.assert_allclose(world_to_voxel(world, case.geometry), corners, atol=1e-5)
    # rotation (0 1 0 / -1 0 0 / 0 0 1): moving one voxel along array x moves world by -spacing_x along y
    step = voxel_to_world(np.array([[0, 0, 1.5]]), case.geometry) - voxel_to_world(
        np.array([[0, 0, 0.5]]), case.geometry
    )
    np.testing.assert_allclose(step, [[0.0, -0.7, 0.0]], atol=1e-6)


def test_meta_json_round_trip():
    meta = DatasetMeta("x", "S05", ["T1", "T1c", "T2", "FLAIR"], ["tumour"], "boxes", {"seed": 3})
    again = DatasetMeta.from_json(json.loads(json.dumps(meta.to_json())))
    assert again == meta


def test_splits_round_trip_and_folds():
    s = Splits(["a", "b", "c"], ["d"], ["e"], folds=[{"train": ["a", "b"], "val": ["c"]}])
    again = Splits.from_json(json.loads(json.dumps(s.to_json())))
    assert again == s
    assert again.fold(0)["val"] == ["c"]
    with pytest.raises(DatasetFormatError, match="fold 3 does not exist"):
        again.fold(3)
    assert again.split_of("e") == "test"


@pytest.mark.parametrize(
    "splits, message",
    [
        (Splits([], ["a"], ["b"]), "split 'train' is empty"),
        (Splits(["a"], [], ["a"]), "in both split 'train' and split 'test'"),
        (Splits(["a", "a"], [], ["b"]), "more than once"),
        (Splits(["a", "b"], [], ["c"], folds=[{"train": ["a"], "val": ["a"]}]), "both train and val"),
        (Splits(["a", "b"], [], ["c"], folds=[{"train": ["a"], "val": [], "test": ["a"]}]), "both train and test"),
        (Splits(["a", "b"], [], ["c"], folds=[{"train": ["a"], "val": [], "test": ["z"]}]), "not in the dataset"),
        (Splits(["a", "b"], [], ["c"], folds=[{"train": ["a"], "val": ["b"], "extra": []}]), "optionally"),
        (Splits(["a", "b"], [], ["c"], folds=[{"train": ["a"], "val": ["c"]}]), "not in the official"),
    ],
)
def test_bad_splits_are_hard_errors(splits, message):
    with pytest.raises(DatasetFormatError, match=message):
        splits.check()


def test_write_case_rejects_bad_shapes(tmp_path):
    rng = np.random.default_rng(0)
    case = make_case("c", rng)
    case.image = case.image[0]
    with pytest.raises(ValueError, match=r"\(C, z, y, x\)"):
        write_case(tmp_path, case, "train")
    with pytest.raises(ValueError, match="Valid splits"):
        write_case(tmp_path, make_case("c", rng), "training")


def test_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(DatasetFormatError, match="not a directory"):
        PreparedDataset(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    with pytest.raises(DatasetFormatError, match="dataset.json: file is missing"):
        PreparedDataset(tmp_path / "d")


def test_geometry_dict():
    g = Geometry((1, 2, 3), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    assert g.to_dict()["shape"] == [1, 2, 3]
