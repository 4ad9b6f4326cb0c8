"""preprocess_dataset: instances and classes kept, coordinates round-trip, fingerprints, resumability."""

import json
import os

import numpy as np
import pytest

from benchmark.core.conventions import boxes_from_instances, voxel_to_world
from benchmark.data.format import PreparedDataset, image_path
from benchmark.preprocessing import (
    StaleOutputError,
    open_case_arrays,
    plan_preprocessing,
    preprocess_dataset,
    preprocessed_boxes_to_world,
    preprocessed_to_original_boxes,
    preprocessed_to_world,
    read_case_meta,
)
from benchmark.preprocessing.fingerprint import case_fingerprint, case_source_signature


@pytest.fixture
def done(ct_dataset, tmp_path):
    plan = plan_preprocessing(ct_dataset, "fixed")
    out = tmp_path / "out"
    report = preprocess_dataset(ct_dataset, out, plan, progress=False)
    return ct_dataset, out, plan, report


def test_every_instance_and_class_is_kept(done):
    root, out, plan, report = done
    ds = PreparedDataset(root)
    assert sorted(report.processed) == sorted(ds.case_ids()) and not report.skipped
    for case_id in ds.case_ids():
        case = ds.load_case(case_id)
        meta = read_case_meta(out, case_id)
        image, seg = open_case_arrays(out, case_id)
        assert image.dtype == np.float32 and image.shape == (1, *meta.resampled_geometry.shape)
        assert seg.shape == meta.resampled_geometry.shape
        assert meta.classes == case.classes  # every instance, with its class
        assert set(np.unique(seg)) - {0} == set(case.classes)
        found = boxes_from_instances(np.asarray(seg))
        assert {k: list(v) for k, v in found.items()} == meta.boxes
    # the 5 x 0.6 x 0.6 mm speck cannot survive 1 mm voxels by itself: kept, and reported per case
    assert set(report.warnings) == set(ds.case_ids())
    assert all(any(w.startswith("instance 2 (class 1)") for w in ws) for ws in report.warnings.values())
    assert read_case_meta(out, "tr_0").warnings == report.warnings["tr_0"]
    saved = json.loads((out / "preprocess_report.json").read_text())
    assert saved["processed"] == 7 and saved["cases"][0]["warnings"]


def test_boxes_map_back_to_original_voxels_and_world(done):
    root, out, plan, _ = done
    ds = PreparedDataset(root)
    for case_id in ds.case_ids():
        case = ds.load_case(case_id)
        meta = read_case_meta(out, case_id)
        original = boxes_from_instances(case.instances)
        half_new_voxel = 0.5 * np.asarray(case.geometry.shape) / np.asarray(meta.resampled_geometry.shape)
        rescued = {int(w.split()[1]) for w in meta.warnings if "vanished" in w}
        for inst_id, box in meta.boxes.items():
            back = preprocessed_to_original_boxes(np.array([box]), meta)[0]
            orig = original[inst_id]
            centre_err = np.abs((back[:3] + back[3:]) / 2 - (orig[:3] + orig[3:]) / 2)
            assert np.all(centre_err <= half_new_voxel + 1e-6), (case_id, inst_id)
            if inst_id not in rescued:  # edges of axes at least one preprocessed voxel long: within half a voxel
                long_axes = np.tile((orig[3:] - orig[:3]) >= 2 * half_new_voxel, 2)
                assert np.all((np.abs(back - orig) <= np.tile(half_new_voxel, 2) + 1e-6)[long_axes]), (case_id, inst_id)
            # world: through the original geometry == through the resampled geometry
            corners = np.array([box[:3], box[3:]])
            np.testing.assert_allclose(
                preprocessed_to_world(corners, meta), voxel_to_world(corners, meta.resampled_geometry), atol=1e-6
            )
            np.testing.assert_allclose(
                preprocessed_boxes_to_world(np.array([box]), meta)[0],
                voxel_to_world(np.array([back[:3], back[3:]]), case.geometry),
                atol=1e-6,
            )


def test_second_run_skips_everything(done):
    root, out, plan, first = done
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.b2nd")}
    assert len(before) == 14
    second = preprocess_dataset(root, out, plan, progress=False)
    assert second.processed == [] and sorted(second.skipped) == sorted(first.processed)
    assert second.warnings == first.warnings  # warnings of skipped cases are still reported
    assert before == {p.name: p.stat().st_mtime_ns for p in out.glob("*.b2nd")}


def test_interrupted_case_is_rebuilt(done):
    root, out, plan, _ = done
    (out / "te_1.json").unlink()  # as if killed before the metadata was written
    report = preprocess_dataset(root, out, plan, progress=False)
    assert report.processed == ["te_1"]


def test_changed_plan_changes_fingerprint_and_is_never_reused(done):
    root, out, plan, _ = done
    other = plan_preprocessing(root, "default")
    assert other.digest() != plan.digest()
    ds = PreparedDataset(root)
    sig = case_source_signature(ds, "tr_0")
    assert case_fingerprint(other.digest(), sig) != case_fingerprint(plan.digest(), sig)
    with pytest.raises(StaleOutputError, match="overwrite=True"):
        preprocess_dataset(root, out, other, progress=False)
    report = preprocess_dataset(root, out, other, overwrite=True, progress=False)
    assert len(report.processed) == 7
    assert read_case_meta(out, "tr_0").resampled_geometry.spacing == pytest.approx(other.target_spacing, rel=0.05)


def test_changed_source_file_makes_that_case_stale(done):
    root, out, plan, _ = done
    path = image_path(root, "te_0", 0, "test")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(StaleOutputError, match="te_0"):
        preprocess_dataset(root, out, plan, progress=False)
    report = preprocess_dataset(root, out, plan, overwrite=True, progress=False)
    assert report.processed == ["te_0"]


def test_plan_of_another_dataset_version_is_refused(done):
    root, out, plan, _ = done
    path = image_path(root, "tr_1", 0, "train")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(ValueError, match="run plan_preprocessing again"):
        preprocess_dataset(root, out, plan, progress=False)


def test_parallel_workers_give_identical_outputs(ct_dataset, tmp_path):
    plan = plan_preprocessing(ct_dataset, "fixed")
    preprocess_dataset(ct_dataset, tmp_path / "a", plan, splits=("train",), progress=False)
    preprocess_dataset(ct_dataset, tmp_path / "b", plan, workers=2, splits=("train",), progress=False)
    for case_id in ("tr_0", "tr_3"):
        pairs = zip(open_case_arrays(tmp_path / "a", case_id), open_case_arrays(tmp_path / "b", case_id), strict=True)
        for a, b in pairs:
            np.testing.assert_array_equal(a[:], b[:])


def test_ct_normalisation_applied(done):
    root, out, plan, _ = done
    norm = plan.normalization[0]
    image = open_case_arrays(out, "tr_0")[0][:]
    lo, hi = (norm.lower - norm.mean) / norm.std, (norm.upper - norm.mean) / norm.std
    inside = image[(image > lo + 0.5) & (image < hi - 0.5)]
    assert inside.size > 0
    assert image.min() >= lo - 1e-5 and image.max() <= hi + 1e-5  # clipped, also after cubic resampling


def test_float16_storage(ct_dataset, tmp_path):
    plan = plan_preprocessing(ct_dataset, "fixed", image_dtype="float16")
    preprocess_dataset(ct_dataset, tmp_path / "h", plan, splits=("val",), progress=False)
    assert open_case_arrays(tmp_path / "h", "va_0")[0].dtype == np.float16
