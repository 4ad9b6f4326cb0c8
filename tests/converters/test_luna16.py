"""LUNA16 converter on a fake official download of ten tiny subsets (no real data needed)."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from benchmark.cli import main
from benchmark.converters import CONVERTERS
from benchmark.converters.luna16 import case_id_from_uid, uid_from_case_id
from benchmark.converters.spheres import rasterise_spheres
from benchmark.core.conventions import Geometry, box_centers, voxel_to_world
from benchmark.data.format import PreparedDataset

ORIGIN = (-150.0, -160.0, -300.0)
SPACING = (0.7, 0.7, 1.25)  # x, y, z


def _fake_luna(root, scans_per_subset=1):
    rows, uids = [], []
    rng = np.random.default_rng(0)
    for k in range(10):
        (root / f"subset{k}").mkdir(parents=True)
        for j in range(scans_per_subset):
            uid = f"1.3.6.1.4.1.14519.5.2.1.6279.6001.{k}{j}"
            img = sitk.GetImageFromArray(rng.normal(-500, 50, size=(24, 40, 40)).astype(np.int16))
            img.SetSpacing(SPACING)
            img.SetOrigin(ORIGIN)
            sitk.WriteImage(img, str(root / f"subset{k}" / f"{uid}.mhd"))
            uids.append(uid)
            if k % 2 == 0:  # half the scans have two nodules, half none
                rows.append([uid, ORIGIN[0] + 10.0, ORIGIN[1] + 12.0, ORIGIN[2] + 10.0, 6.0])
                rows.append([uid, ORIGIN[0] + 20.0, ORIGIN[1] + 20.0, ORIGIN[2] + 20.0, 0.5])  # sub-voxel nodule
    pd.DataFrame(rows, columns=["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]).to_csv(
        root / "annotations.csv", index=False
    )
    pd.DataFrame(
        [[uids[0], 0.0, 0.0, 0.0, -1]], columns=["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]
    ).to_csv(root / "annotations_excluded.csv", index=False)
    return uids


def test_convert_fake_luna16(tmp_path, capsys):
    uids = _fake_luna(tmp_path / "src")
    out = tmp_path / "D06"
    assert main(["convert", "LUNA16", "--source", str(tmp_path / "src"), "--out", str(out), "--fold", "3"]) == 0
    assert "OK:" in capsys.readouterr().out
    ds = PreparedDataset(out)
    assert len(ds.splits.folds) == 10
    assert ds.splits.test == [case_id_from_uid(uids[3])] and ds.splits.val == [case_id_from_uid(uids[2])]
    assert len(ds.splits.train) == 8
    assert (out / "official" / "annotations_excluded.csv").is_file()
    case = ds.load_case(case_id_from_uid(uids[0]))
    boxes, labels = case.boxes()
    assert len(boxes) == 2 and set(labels) == {0}  # the sub-voxel nodule is kept as one voxel
    centre_world = voxel_to_world(box_centers(boxes[:1]), case.geometry)[0]
    np.testing.assert_allclose(centre_world, [ORIGIN[0] + 10.0, ORIGIN[1] + 12.0, ORIGIN[2] + 10.0], atol=0.7)
    assert case.boxes()[0].shape == (2, 6)
    assert ds.load_case(case_id_from_uid(uids[1])).boxes()[0].shape == (0, 6)
    assert uid_from_case_id(case_id_from_uid(uids[5])) == uids[5]


def test_missing_subset_is_a_clear_error(tmp_path, capsys):
    _fake_luna(tmp_path / "src")
    for p in (tmp_path / "src" / "subset7").iterdir():
        p.unlink()
    assert main(["convert", "D06", "--source", str(tmp_path / "src"), "--out", str(tmp_path / "o")]) == 1
    assert "missing or empty: subset7" in capsys.readouterr().err


def test_no_converter_lists_valid_ones():
    with pytest.raises(ValueError, match="Valid names: D01, D02, D03, D04, D05, D06, D07, D08"):
        CONVERTERS.get("D09")


def test_sphere_volume_and_direction():
    g = Geometry((40, 40, 40), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0), (0, 1, 0, -1, 0, 0, 0, 0, 1))
    centre = voxel_to_world(np.array([[20.0, 20.0, 20.0]]), g)
    inst = rasterise_spheres(centre, np.array([10.0]), g)
    volume = np.count_nonzero(inst) * 0.125
    assert volume == pytest.approx(4 / 3 * np.pi * 5**3, rel=0.05)
    with pytest.raises(ValueError, match="outside the image"):
        rasterise_spheres(np.array([[1000.0, 0, 0]]), np.array([5.0]), g)


def test_evaluate_uses_the_official_findings(tmp_path, capsys):
    import json

    uids = _fake_luna(tmp_path / "src")
    out = tmp_path / "D06"
    assert main(["convert", "D06", "--source", str(tmp_path / "src"), "--out", str(out), "--fold", "0"]) == 0
    test_case = case_id_from_uid(uids[0])  # fold 0 tests on subset 0: the scan with two nodules
    centre = [ORIGIN[0] + 10.0, ORIGIN[1] + 12.0, ORIGIN[2] + 10.0]
    preds = {
        "format_version": 1,
        "dataset": "D06",
        "cases": {
            test_case: {"boxes": [[5, 14, 11, 12, 20, 17]], "scores": [0.9], "labels": [0], "centers_world": [centre]}
        },
    }
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    argv = [
        "evaluate",
        "--dataset",
        str(out),
        "--predictions",
        str(tmp_path / "pred.json"),
        "--protocol",
        "luna16",
        "--out",
        str(tmp_path / "res.json"),
    ]
    assert main(argv) == 0, capsys.readouterr().err
    text = (tmp_path / "res.json").read_text()
    assert "luna16_annotations" in text  # scored against the official CSVs, not the boxes
    assert '"luna16"' in text


def test_scheme_9_0_1_trains_on_nine_subsets(tmp_path, capsys):
    uids = _fake_luna(tmp_path / "src")
    out = tmp_path / "D06"
    argv = ["convert", "LUNA16", "--source", str(tmp_path / "src"), "--out", str(out), "--scheme", "9-0-1"]
    assert main(argv + ["--fold", "4"]) == 0, capsys.readouterr().err
    ds = PreparedDataset(out)
    assert ds.splits.val == [] and ds.splits.test == [case_id_from_uid(uids[4])] and len(ds.splits.train) == 9
    for k, fold in enumerate(ds.splits.folds):
        assert fold["test"] == [case_id_from_uid(uids[k])] and fold["val"] == [] and len(fold["train"]) == 9
    assert sorted(c for f in ds.splits.folds for c in f["test"]) == sorted(map(case_id_from_uid, uids))
    assert ds.meta.provenance["scheme"] == "9-0-1"
    # the same folder cannot silently switch to another official split
    assert main(argv[:-2] + ["--scheme", "8-1-1", "--fold", "4"]) == 1
    assert "another official split" in capsys.readouterr().err


def test_unknown_series_in_annotations_is_a_clear_error(tmp_path, capsys):
    _fake_luna(tmp_path / "src")
    with open(tmp_path / "src" / "annotations.csv", "a") as f:
        f.write("1.2.3.999,0,0,0,5\n")
    assert main(["convert", "D06", "--source", str(tmp_path / "src"), "--out", str(tmp_path / "o")]) == 1
    assert "series 1.2.3.999 is in no subset folder" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_pooled_cpm_scores_all_folds_at_once():
    from benchmark.metrics.protocols.luna16 import luna16_froc, luna16_pooled_froc

    ann = pd.DataFrame(
        [["a", 0.0, 0.0, 0.0, 6.0], ["b", 0.0, 0.0, 0.0, 6.0], ["c", 0.0, 0.0, 0.0, 6.0]],
        columns=["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"],
    )
    cand = [
        pd.DataFrame(
            [["a", 0.0, 0.0, 0.0, 0.9], ["a", 50.0, 0, 0, 0.8]],
            columns=["seriesuid", "coordX", "coordY", "coordZ", "probability"],
        ),
        pd.DataFrame(
            [["b", 0.5, 0.0, 0.0, 0.3], ["c", 60.0, 0, 0, 0.95]],
            columns=["seriesuid", "coordX", "coordY", "coordZ", "probability"],
        ),
    ]
    pooled = luna16_pooled_froc(cand, [["a"], ["b", "c"]], ann)
    direct = luna16_froc(pd.concat(cand), ann, ["a", "b", "c"])
    assert pooled.score == pytest.approx(direct.score)
    per_fold_mean = np.mean([luna16_froc(cand[0], ann, ["a"]).score, luna16_froc(cand[1], ann, ["b", "c"]).score])
    assert pooled.score != pytest.approx(per_fold_mean)  # pooling is not the mean of the fold CPMs
    with pytest.raises(ValueError, match="folds must be disjoint"):
        luna16_pooled_froc(cand, [["a", "b"], ["b", "c"]], ann)
    with pytest.raises(ValueError, match="outside its test list"):
        luna16_pooled_froc(cand, [["a"], ["b"]], ann)
