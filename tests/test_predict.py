"""``benchmark predict``: new scans (MHA, NIfTI, DICOM series) through a run folder, refusals one by one.

The fast tests use a run folder built by hand (an untrained tiny detector and a plan written with
:func:`write_predictor`); the slow test trains a tiny model with ``benchmark train`` on a 7-case CT dataset
written in the test and checks that predicting a test image written as MHA gives the test-split prediction of
the training pipeline (:func:`benchmark.inference.predict.predict_preprocessed`), and that the same image
written as an int16 DICOM series (rescale slope 0.1) gives exactly the prediction of the series' own voxels
written as MHA, those voxels differing from the original only by the int16 rounding (<= 0.05 HU).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from benchmark.cli import main
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, Splits, write_case, write_dataset_files
from benchmark.inference.bundle import PREDICTOR_FILE, load_model, load_predictor, write_predictor
from benchmark.inference.folder import world_bounds
from benchmark.inference.postprocessing import PostprocessingParams
from benchmark.inference.sliding_window import InferenceConfig
from benchmark.metrics import load_predictions
from benchmark.preprocessing.plan import ChannelNormalization, Plan

CT = ChannelNormalization("ct", lower=-1000.0, upper=400.0, mean=-300.0, std=300.0)


def write_dicom_series(image: sitk.Image, folder: Path, modality: str = "CT", slope: float = 0.1) -> None:
    """Write ``image`` as a DICOM series of int16 slices with rescale slope ``slope`` (GDCM converts the floats)."""
    folder.mkdir(parents=True, exist_ok=True)
    image = sitk.Cast(image, sitk.sitkFloat64)
    uid = "1.2.826.0.1.3680043.2.1125." + str(abs(hash((str(folder), modality))) % 10**12)
    d = image.GetDirection()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(image.GetDepth()):
        slice_k = image[:, :, k]
        tags = {
            "0008|0060": modality,
            "0020|000d": uid,
            "0020|000e": uid + ".1",
            "0020|0013": str(k + 1),
            "0020|0032": "\\".join(map(str, image.TransformIndexToPhysicalPoint((0, 0, k)))),
            "0020|0037": "\\".join(map(str, (d[0], d[3], d[6], d[1], d[4], d[7]))),
            "0028|1053": str(slope),
            "0028|1052": "0",
            "0028|0100": "16",
            "0028|0101": "16",
            "0028|0102": "15",
            "0028|0103": "1",
        }
        for tag, value in tags.items():
            slice_k.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice_{k:03d}.dcm"))
        writer.Execute(slice_k)


def _image(shape_zyx, spacing_xyz, seed: int = 0, channels: int = 1) -> sitk.Image:
    rng = np.random.default_rng(seed)
    arr = rng.normal(-400, 200, size=(*shape_zyx, channels)).astype(np.float32)
    arr[6:10, 8:12, 8:12] = 100.0  # a dense blob
    img = sitk.GetImageFromArray(arr[..., 0] if channels == 1 else arr, isVector=channels > 1)
    img.SetSpacing(spacing_xyz)
    img.SetOrigin((-10.0, 20.0, 5.0))
    return img


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory) -> Path:
    """A run folder with an untrained tiny Retina U-Net that outputs boxes (score threshold 0)."""
    from models.registry import build_detector, default_config

    run = tmp_path_factory.mktemp("hand_run")
    config = default_config(
        "retina_unet", width_multiplier=0.125, n_stages=3, score_threshold=0.0, max_detections=5
    )
    torch.manual_seed(0)
    model = build_detector("retina_unet", config)
    torch.save({"model": model.state_dict()}, run / "model_final.pt")
    plan = Plan("fixed", "t", "T01", (1.0, 1.0, 1.0), (16, 16, 16), (CT,), "x", modalities=("CT",), classes=("a",))
    inference = InferenceConfig(patch_size=(16, 16, 16), overlap=0.25, max_detections=10)
    write_predictor(run, "retina_unet", config, plan, inference, PostprocessingParams(), "T01", ["a"], "tiny")
    return run


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("scans")
    sitk.WriteImage(_image((16, 20, 20), (1.2, 1.2, 1.5)), str(root / "good.mha"))
    sitk.WriteImage(_image((16, 20, 20), (1.0, 1.0, 1.0), 1), str(root / "nifti.nii.gz"))
    sitk.WriteImage(_image((16, 20, 20), (1.0, 1.0, 1.0), 2), str(root / "two_0000.nrrd"))
    sitk.WriteImage(_image((16, 20, 20), (1.0, 1.0, 1.0), 3), str(root / "two_0001.nrrd"))
    sitk.WriteImage(_image((4, 20, 20), (1.0, 1.0, 12.0), 4), str(root / "thick.mha"))
    sitk.WriteImage(_image((16, 20, 20), (1.0, 1.0, 1.0), 5, channels=2), str(root / "vector.mha"))
    write_dicom_series(_image((16, 20, 20), (1.0, 1.0, 1.25), 6), root / "series" / "ct")
    write_dicom_series(_image((16, 20, 20), (1.0, 1.0, 1.25), 7), root / "series" / "mr", modality="MR")
    return root


def test_folder_predicts_the_fitting_scans_and_refuses_the_others(hand_run, scans, tmp_path, capsys):
    out = tmp_path / "preds.json"
    code = main(["predict", "--model", str(hand_run), "--input", str(scans), "--out", str(out), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 3, stdout
    obj = json.loads(out.read_text())
    refused = obj["metadata"]["refused"]
    assert refused == {
        "two": "2 channel(s), the model expects 1 (CT)",
        "vector": "2 channel(s), the model expects 1 (CT)",
        "thick": "spacing (12.0, 1.0, 1.0) mm (z, y, x) is more than 8x off the model's (1.0, 1.0, 1.0) mm",
        "series_mr": "DICOM modality MR, the model was trained on CT",
    }
    assert "refused thick: spacing" in stdout and "predicted 3 case(s), refused 4" in stdout
    predictions = load_predictions(out)  # the file passes the format's validation
    assert predictions.dataset == "T01" and sorted(predictions.cases) == ["good", "nifti", "series_ct"]
    for case_id, case in predictions.cases.items():
        meta = obj["metadata"]["images"][case_id]
        geometry = Geometry(**{k: tuple(v) for k, v in meta["geometry"].items()})
        assert 0 < len(case) <= 10
        assert np.all(case.boxes[:, 3:] <= np.array(geometry.shape) + 1e-9)  # the input image's voxel frame
        np.testing.assert_allclose(case.boxes_world, world_bounds(case.boxes, geometry))
        assert np.all(case.boxes_world[:, 3:] >= case.boxes_world[:, :3])
    assert obj["metadata"]["images"]["series_ct"]["kind"] == "dicom"
    assert obj["metadata"]["images"]["good"]["geometry"]["shape"] == [16, 20, 20]


def test_one_file_and_tta(hand_run, scans, tmp_path, capsys):
    out = tmp_path / "one.json"
    argv = ["predict", "--model", str(hand_run), "--input", str(scans / "good.mha"), "--out", str(out)]
    assert main([*argv, "--no-progress", "--tta"]) == 0
    obj = json.loads(out.read_text())
    assert list(obj["cases"]) == ["good"] and obj["metadata"]["tta"] is True and obj["metadata"]["refused"] == {}


def test_old_run_without_predictor_file_gets_a_clear_error(hand_run, scans, tmp_path, capsys):
    old = tmp_path / "old_run"
    shutil.copytree(hand_run, old)
    (old / PREDICTOR_FILE).unlink()
    (old / "train_config.json").write_text("{}")
    code = main(["predict", "--model", str(old), "--input", str(scans), "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert code == 1 and "has no predictor.json" in err and "--no-resume" in err
    assert not (tmp_path / "p.json").exists()


def test_replaced_weights_are_refused(hand_run, scans, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(hand_run, run)
    payload = torch.load(run / "model_final.pt", weights_only=True)
    payload["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in payload["model"].items()}
    torch.save(payload, run / "model_final.pt")
    code = main(["predict", "--model", str(run), "--input", str(scans / "good.mha"), "--out", str(tmp_path / "p.json")])
    assert code == 1 and "SHA-256 differs" in capsys.readouterr().err


def test_model_config_round_trips(hand_run):
    predictor = load_predictor(hand_run)
    model = load_model(hand_run, predictor)
    assert model.config.score_threshold == 0.0 and model.config.encoder.num_stages == 3
    assert isinstance(model.config.anchor_sizes, tuple) and predictor.plan_obj().target_spacing == (1.0, 1.0, 1.0)


# -- the whole chain with a trained model ----------------------------------------------------------------------
def _ct_case(case_id: str, rng: np.random.Generator) -> Case:
    """A 20 x 24 x 24 CT-like case (air-ish background, one dense 'nodule'), rotated in-plane, 1 x 0.9 x 1.5 mm."""
    shape = (20, 24, 24)
    geometry = Geometry(shape, (0.9, 1.0, 1.5), (-30.5, 12.25, -80.0), (0.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    image = rng.normal(-700.0, 60.0, size=(1, *shape)).astype(np.float32)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    centre = rng.integers(6, 14, size=3)
    blob = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= 9
    image[0][blob] = rng.normal(40.0, 20.0, size=int(blob.sum()))
    return Case(case_id, image, geometry, blob.astype(np.int16), {1: 0})


def _tiny_ct_dataset(root: Path) -> Path:
    """A prepared CT dataset of 7 tiny cases (4 train, 1 val, 2 test) in the detbench format."""
    rng = np.random.default_rng(3)
    splits = Splits(train=["c0", "c1", "c2", "c3"], val=["c4"], test=["c5", "c6"])
    for name in ("train", "val", "test"):
        for case_id in splits.get(name):
            write_case(root, _ct_case(case_id, rng), name)
    write_dataset_files(root, DatasetMeta("tiny ct", "D06", ["CT"], ["nodule"]), splits)
    return root


def _world(case) -> np.ndarray:  # noqa: ANN001 - a CasePredictions
    return np.c_[case.centers_world, case.boxes_world]


@pytest.mark.slow
def test_trained_run_predicts_its_test_images_from_mha_and_dicom(tmp_path):
    """MHA: the test-split prediction exactly; DICOM: exactly the prediction of its own (rounded) voxels."""
    from benchmark.inference.predict import predict_preprocessed, to_prepared_frame
    from benchmark.inference.scans import discover_scans, read_scan
    from benchmark.loading.data import PreprocessedData

    prepared, run = _tiny_ct_dataset(tmp_path / "prepared"), tmp_path / "run"
    argv = ["train", "--dataset", str(prepared), "--arch", "retina_unet", "--profile", "tiny", "--out", str(run),
            "--data-root", str(tmp_path / "data"), "--no-progress"]
    assert main(argv) == 0
    assert (run / "protocol_luna16" / "candidates.csv").is_file()  # a LUNA16 (D06) run: its tables for pooling
    # the tiny model's scores stay below its 0.05 threshold: lower it so that there are boxes to compare
    obj = json.loads((run / PREDICTOR_FILE).read_text())
    obj["model_config"].update(score_threshold=0.0, max_detections=20)
    (run / PREDICTOR_FILE).write_text(json.dumps(obj))
    predictor = load_predictor(run)
    data = PreprocessedData(json.loads((run / "train_config.json").read_text())["preprocessed"])
    case_id = data.case_ids("test")[0]
    reference = to_prepared_frame(
        predict_preprocessed(load_model(run, predictor), data, [case_id], predictor.inference_config()),
        data,
        predictor.postprocessing_params(),
    )[case_id]
    assert len(reference) >= 5

    scans = tmp_path / "scans"
    scans.mkdir()
    image = sitk.ReadImage(str(prepared / "imagesTs" / f"{case_id}_0000.nii.gz"))
    sitk.WriteImage(image, str(scans / "original.mha"))
    write_dicom_series(image, scans / "dicom", slope=0.1)
    (series,) = [s for s in discover_scans(scans) if s.kind == "dicom"]
    dicom_image = read_scan(series).images[0]  # the voxels `benchmark predict` reads from the series
    sitk.WriteImage(dicom_image, str(scans / "dicom_voxels.mha"))
    # the series holds the original image up to its storage: int16 values x 0.1, so rounded by <= 0.05 HU
    read_back, written = Geometry.from_sitk(dicom_image), Geometry.from_sitk(image)
    assert read_back.shape == written.shape
    for field in ("spacing_xyz", "origin_xyz", "direction"):  # DICOM stores decimal strings
        np.testing.assert_allclose(getattr(read_back, field), getattr(written, field), atol=1e-6)
    rounding = np.abs(sitk.GetArrayFromImage(dicom_image).astype(np.float64) - sitk.GetArrayFromImage(image))
    assert 0.0 < rounding.max() <= 0.05 + 1e-4

    out = tmp_path / "predictions.json"
    argv = ["predict", "--model", str(run), "--input", str(scans), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    cases = load_predictions(out).cases
    assert sorted(cases) == ["dicom", "dicom_voxels", "original"]
    original, dicom, dicom_voxels = cases["original"], cases["dicom"], cases["dicom_voxels"]
    # the same voxels as the test split: the same boxes, scores and world boxes (mm) as the training pipeline's
    geometry = data.meta(case_id).original_geometry
    np.testing.assert_allclose(original.boxes, reference.boxes, atol=1e-6)
    np.testing.assert_allclose(original.scores, reference.scores, atol=1e-6)
    np.testing.assert_allclose(original.centers_world, reference.centers_world, atol=1e-6)
    np.testing.assert_allclose(original.boxes_world, world_bounds(reference.boxes, geometry), atol=1e-6)
    # the DICOM series: exactly the prediction of its own voxels written as MHA
    np.testing.assert_array_equal(dicom.boxes, dicom_voxels.boxes)
    np.testing.assert_array_equal(dicom.scores, dicom_voxels.scores)
    np.testing.assert_allclose(_world(dicom), _world(dicom_voxels), atol=1e-9)
