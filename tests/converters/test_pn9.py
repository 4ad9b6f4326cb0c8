"""PN9 converter on a tiny fake release: split lists, box tables in voxel coordinates, volumes."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from benchmark.cli import main
from benchmark.converters.pn9 import COLUMNS
from benchmark.data.format import PreparedDataset

SHAPE = (12, 16, 20)  # z, y, x


def _row(pid, x0, x1, y0, y1, z0, z1, nid=0, cls="3-10SN"):
    return [pid, cls, x0, x1, y0, y1, z0, z1, nid, (x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2,
            max(x1 - x0, y1 - y0), x1 - x0, y1 - y0]  # fmt: skip


def _fake_pn9(root, n_train=10, n_test=3, npy=False):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pids = list(range(n_train + n_test))
    (root / "train.txt").write_text("\n".join(str(p) for p in pids[:n_train]) + "\n")
    (root / "test.txt").write_text("\n".join(f"{p:04d}" for p in pids[n_train:]) + "\n")  # padded ids
    for pid in pids:
        arr = rng.normal(-600, 40, size=SHAPE).astype(np.int16)
        if npy and pid % 2:
            np.save(root / f"{pid}_clean.npy", arr)
        else:
            img = sitk.GetImageFromArray(arr)
            img.SetSpacing((1.0, 1.0, 1.0))
            sitk.WriteImage(img, str(root / f"{pid}.nii.gz"))
    train_rows = [_row(0, 3, 7, 2, 5, 4, 4), _row(0, 10, 14, 9, 12, 6, 9, nid=1, cls="CN")]
    train_rows += [_row(2, 2, 6, 2, 6, 2, 6), _row(2, 5, 9, 5, 9, 5, 9, nid=1)]  # two overlapping nodules
    test_rows = [_row(pids[n_train], 0, 19, 0, 15, 0, 11)]  # the whole volume: bounds are inclusive
    pd.DataFrame(train_rows, columns=COLUMNS).to_csv(root / "train_anno_center.csv", index=False)
    pd.DataFrame(test_rows, columns=COLUMNS).to_csv(root / "test_anno_center.csv", index=False)
    return pids


def test_convert_fake_pn9(tmp_path, capsys):
    pids = _fake_pn9(tmp_path / "PN9", npy=True)
    out = tmp_path / "D07"
    assert main(["convert", "PN9", "--source", str(tmp_path / "PN9"), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    # 10 training scans -> val = round(10 * 670 / 6707) = 1 (the paper's proportion), test = the official list
    assert (len(ds.splits.train), len(ds.splits.val), len(ds.splits.test)) == (9, 1, 3)
    assert ds.splits.test == [f"pn9_{p}" for p in pids[10:]]
    assert len(ds.splits.folds) == 5 and sorted(v for f in ds.splits.folds for v in f["val"]) == sorted(
        ds.splits.train + ds.splits.val
    )
    assert ds.meta.classes == ["nodule"]
    case = ds.load_case("pn9_0")
    boxes, labels = case.boxes()
    # a one-slice nodule (zmin == zmax == 4) covers slice 4 only; x 3..7 and y 2..5 inclusive
    assert boxes.tolist() == [[4, 2, 3, 5, 6, 8], [6, 9, 10, 10, 13, 15]] and labels.tolist() == [0, 0]
    assert np.argwhere(case.instances == 1).min(axis=0).tolist() == [4, 2, 3]
    assert np.argwhere(case.instances == 1).max(axis=0).tolist() == [4, 5, 7]
    whole = ds.load_case(f"pn9_{pids[10]}")
    assert np.count_nonzero(whole.instances == 1) == np.prod(SHAPE)
    npy_case = ds.load_case("pn9_1")  # from 1_clean.npy: 1 mm spacing
    assert npy_case.geometry.spacing == (1.0, 1.0, 1.0) and npy_case.image.shape == (1, *SHAPE)
    assert (out / "official" / "test_anno_center.csv").is_file()
    # overlapping nodules: both kept, the later one on its free voxels, its box still its own
    assert ds.load_case("pn9_2").boxes()[0].tolist() == [[2, 2, 2, 7, 7, 7], [5, 5, 5, 10, 10, 10]]
    assert ds.meta.provenance["nodules_overlapping_an_earlier_box"] == {"pn9_2": [1]}


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("no_test_list", "missing test.txt"),
        ("box_outside", "lies outside the volume"),
        ("bad_centre", "inconsistent box"),
        ("missing_volume", "no volume"),
        ("unlisted", "is in no split list"),
        ("corrupt_volume", "unreadable or corrupt image"),
    ],
)
def test_malformed_release_is_one_clear_error(tmp_path, capsys, breakage, message):
    src = tmp_path / "PN9"
    _fake_pn9(src)
    table = src / "train_anno_center.csv"
    if breakage == "no_test_list":
        (src / "test.txt").unlink()
    elif breakage == "box_outside":
        pd.DataFrame([_row(1, 3, 25, 2, 5, 4, 4)], columns=COLUMNS).to_csv(table, index=False)
    elif breakage == "bad_centre":
        df = pd.read_csv(table)
        df.loc[0, "center_x"] = 12.0
        df.to_csv(table, index=False)
    elif breakage == "missing_volume":
        (src / "3.nii.gz").unlink()
    elif breakage == "unlisted":
        pd.DataFrame([_row(99, 3, 5, 2, 5, 4, 4)], columns=COLUMNS).to_csv(table, index=False)
    elif breakage == "corrupt_volume":
        (src / "2.nii.gz").write_bytes(b"not a nifti at all")
    out = tmp_path / "out"
    assert main(["convert", "D07", "--source", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()
