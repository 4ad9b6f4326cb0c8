"""CTA-A converter on a tiny fake release in the GLIA-Net case-table layout."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from benchmark.cli import main
from benchmark.data.format import PreparedDataset


def _write(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.46, 0.46, 0.4))
    sitk.WriteImage(img, str(path))


def _fake_cta(root, subsets=("train",) * 7 + ("test",) * 2 + ("external_test",) * 2):
    rng = np.random.default_rng(0)
    rows = []
    for i, subset in enumerate(subsets):
        cid = f"P{i:03d}"
        seg = np.zeros((8, 10, 10), np.uint8)
        for k in range(i % 3):  # 0, 1 or 2 aneurysms
            seg[1 + 4 * k : 3 + 4 * k, 2:4, 2:4] = 1
        _write(root / "cta_img" / f"{cid}.nii.gz", rng.normal(100, 20, size=(8, 10, 10)).astype(np.int16))
        _write(root / "ane_seg" / f"{cid}.nii.gz", seg)
        rows.append([subset, cid, f"hos_{i % 2}", f"cta_img/{cid}.nii.gz", f"ane_seg/{cid}.nii.gz"])
    cols = ["subset", "id", "hospital", "cta_img_file", "aneurysm_seg_file"]
    pd.DataFrame(rows, columns=cols).to_csv(root / "aneurysm_seg.csv", index=False)


def test_convert_fake_cta_a_keeps_the_external_cohort_apart(tmp_path, capsys):
    _fake_cta(tmp_path / "src")
    out = tmp_path / "D08"
    assert main(["convert", "D08", "--source", str(tmp_path / "src"), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    assert ds.splits.test == ["P007", "P008"] and ds.splits.external_test == ["P009", "P010"]
    # 7 pool cases -> val = round(7 * 238 / 1186) = 1
    assert (len(ds.splits.train), len(ds.splits.val)) == (6, 1)
    external = set(ds.splits.external_test)
    assert len(ds.splits.folds) == 5 and all(not external & (set(f["train"]) | set(f["val"])) for f in ds.splits.folds)
    assert (out / "imagesTs" / "P009_0000.nii.gz").is_file()
    assert {c: len(ds.load_case(c).classes) for c in ("P000", "P001", "P002")} == {"P000": 0, "P001": 1, "P002": 2}


@pytest.mark.parametrize(
    "breakage, message",
    [("subset", "unknown subset value"), ("seg", "file is missing"), ("columns", "expected one case table")],
)
def test_malformed_release_is_one_clear_error(tmp_path, capsys, breakage, message):
    src = tmp_path / "src"
    _fake_cta(src, subsets=("train",) * 3 + ("test",))
    table = pd.read_csv(src / "aneurysm_seg.csv")
    if breakage == "subset":
        table.loc[0, "subset"] = "holdout"
    elif breakage == "seg":
        (src / "ane_seg" / "P001.nii.gz").unlink()
    else:
        table = table.rename(columns={"aneurysm_seg_file": "mask"})
    table.to_csv(src / "aneurysm_seg.csv" if breakage != "columns" else src / "cases.csv", index=False)
    if breakage == "columns":
        (src / "aneurysm_seg.csv").unlink()
    assert main(["convert", "CTA-A", "--source", str(src), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
