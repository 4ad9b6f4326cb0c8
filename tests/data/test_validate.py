"""The validator rejects each kind of broken prepared dataset with the case id and the problem, no traceback."""

import json

import numpy as np
import pytest
import SimpleITK as sitk
from builders import write_tiny_dataset

from benchmark.cli import main
from benchmark.data.format import image_path, label_json_path, label_path
from benchmark.data.validate import validate_dataset


def _rewrite(path, fn):
    img = sitk.ReadImage(str(path))
    new = fn(img)
    sitk.WriteImage(new, str(path))


def _with_array(img, arr):
    out = sitk.GetImageFromArray(arr)
    out.CopyInformation(img)
    return out


def missing_channel(root):
    image_path(root, "c_001", 0, "train").unlink()
    return "c_001", "missing channel 0"


def missing_label(root):
    label_path(root, "c_002", "train").unlink()
    return "c_002", "missing label map"


def missing_label_json(root):
    label_json_path(root, "c_003", "val").unlink()
    return "c_003", "c_003.json: file is missing"


def size_mismatch(root):
    _rewrite(label_path(root, "c_000", "train"), lambda img: sitk.Image([3, 3, 3], img.GetPixelID()))
    return "c_000", "label/image geometry mismatch (size"


def spacing_mismatch(root):
    def f(img):
        img.SetSpacing([1.0, 1.0, 1.0])
        return img

    _rewrite(label_path(root, "c_000", "train"), f)
    return "c_000", "geometry mismatch (spacing"


def origin_mismatch(root):
    def f(img):
        img.SetOrigin([0.0, 0.0, 0.0])
        return img

    _rewrite(label_path(root, "c_004", "test"), f)
    return "c_004", "geometry mismatch (origin"


def direction_mismatch(root):
    def f(img):
        img.SetDirection([1, 0, 0, 0, 1, 0, 0, 0, 1])
        return img

    _rewrite(label_path(root, "c_005", "test"), f)
    return "c_005", "geometry mismatch (direction"


def instance_without_class(root):
    label_json_path(root, "c_001", "train").write_text(json.dumps({"instances": {"1": 0}}))
    return "c_001", "instance id(s) [2] in the label map have no class"


def class_out_of_range(root):
    label_json_path(root, "c_002", "train").write_text(json.dumps({"instances": {"1": 0, "2": 5}}))
    return "c_002", "class index out of range for instance(s) [2]"


def listed_instance_without_voxels(root):
    label_json_path(root, "c_002", "train").write_text(json.dumps({"instances": {"1": 0, "2": 1, "3": 0}}))
    return "c_002", "instance id(s) [3] listed in the label JSON have no voxels"


def nan_voxels(root):
    def f(img):
        arr = sitk.GetArrayFromImage(img)
        arr[0, 0, :3] = np.nan
        arr[1, 1, 1] = np.inf
        return _with_array(img, arr)

    _rewrite(image_path(root, "c_003", 0, "val"), f)
    return "c_003", "channel 0 has 4 NaN/inf voxel(s)"


def corrupt_file(root):
    image_path(root, "c_004", 0, "test").write_bytes(b"\x1f\x8b not really a nifti")
    return "c_004", "unreadable or corrupt image"


def split_id_missing(root):
    s = json.loads((root / "splits.json").read_text())
    s["test"].append("c_999")
    (root / "splits.json").write_text(json.dumps(s))
    return "c_999", "listed in split 'test' but has no image in imagesTs/"


def split_overlap(root):
    s = json.loads((root / "splits.json").read_text())
    s["val"].append("c_000")
    (root / "splits.json").write_text(json.dumps(s))
    return "(dataset)", "case 'c_000' is in both split 'train' and split 'val'"


def empty_dataset(root):
    (root / "splits.json").write_text(json.dumps({"train": [], "val": [], "test": []}))
    return "(dataset)", "empty dataset"


def unparsable_dataset_json(root):
    (root / "dataset.json").write_text("{name: oops")
    return "(dataset)", "dataset.json: not valid JSON"


def case_in_no_split(root):
    s = json.loads((root / "splits.json").read_text())
    s["train"].remove("c_002")
    (root / "splits.json").write_text(json.dumps(s))
    return "c_002", "the case is in no split"


def not_box_shaped(root):
    meta = json.loads((root / "dataset.json").read_text())
    meta["annotation"] = "boxes"
    (root / "dataset.json").write_text(json.dumps(meta))
    return "c_000", "instance 1 is not box-shaped"


def wrong_label_values(root):
    def f(img):
        arr = sitk.GetArrayFromImage(img).astype(np.float32)
        arr[0, 0, 0] = 0.5
        return _with_array(img, arr)

    _rewrite(label_path(root, "c_001", "train"), f)
    return "c_001", "non-negative integer instance ids"


CORRUPTIONS = [
    missing_channel,
    missing_label,
    missing_label_json,
    size_mismatch,
    spacing_mismatch,
    origin_mismatch,
    direction_mismatch,
    instance_without_class,
    class_out_of_range,
    listed_instance_without_voxels,
    nan_voxels,
    corrupt_file,
    split_id_missing,
    split_overlap,
    empty_dataset,
    unparsable_dataset_json,
    case_in_no_split,
    not_box_shaped,
    wrong_label_values,
]


def test_valid_dataset_passes(tmp_path, capsys):
    root = write_tiny_dataset(tmp_path / "ok")
    assert validate_dataset(root).ok
    assert main(["validate-dataset", str(root)]) == 0
    assert "OK:" in capsys.readouterr().out


def test_valid_multichannel_box_dataset_passes(tmp_path):
    root = write_tiny_dataset(tmp_path / "ok", channels=4, annotation="boxes")
    report = validate_dataset(root)
    assert report.ok, report.summary()


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda f: f.__name__)
def test_bad_dataset_rejected(tmp_path, capsys, corrupt):
    root = write_tiny_dataset(tmp_path / "bad")
    case_id, message = corrupt(root)
    report = validate_dataset(root)
    assert not report.ok
    assert any(p.case_id == case_id and message in p.message for p in report.problems), report.summary()
    assert main(["validate-dataset", "--no-progress", str(root)]) == 1
    out, err = capsys.readouterr()
    assert f"{case_id}: " in out and message in out
    assert "Traceback" not in out + err


def test_every_problem_reported_not_just_the_first(tmp_path):
    root = write_tiny_dataset(tmp_path / "bad")
    missing_channel(root)
    class_out_of_range(root)
    nan_voxels(root)
    cases = {p.case_id for p in validate_dataset(root).problems}
    assert {"c_001", "c_002", "c_003"} <= cases


def test_not_a_directory(tmp_path, capsys):
    assert main(["validate-dataset", str(tmp_path / "nope")]) == 1
    assert "is not a directory" in capsys.readouterr().out
