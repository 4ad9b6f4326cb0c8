"""Duke Breast Cancer MRI converter on a tiny fake TCIA download: four dynamic phases and the box table."""

import numpy as np
import pandas as pd
import pytest
from dicom_trees import write_series

from benchmark.cli import main
from benchmark.data.format import PreparedDataset

SHAPE = (5, 12, 14)
SERIES = [  # (series number, description, intensity); the folders are written in another order
    (7, "ax dyn 4th pass", 500.0),
    (2, "ax t1", 900.0),
    (4, "ax dyn 1st pass", 200.0),
    (3, "ax dyn pre", 100.0),
    (6, "ax dyn 3rd pass", 400.0),
    (5, "ax dyn 2nd pass", 300.0),
]
BOX = [3, 6, 4, 9, 1, 2]  # start/end row, start/end column, start/end slice (1-based, inclusive)


def _fake_duke(root, n=5, series=SERIES):
    rows = []
    for i in range(n):
        patient = f"Breast_MRI_{i + 1:03d}"
        study = root / "Duke-Breast-Cancer-MRI" / patient / "01-01-1990-NA-MRI BREAST-12345"
        for number, description, value in series:
            origin = (-80.0, -60.0, -20.0) if "pre" in description else (-79.7, -60.0, -20.0)  # posts: shifted grid
            write_series(study / f"{number}.000000-{description}-{i}", np.full(SHAPE, value), patient=patient,
                         series_uid=f"1.2.{i}.{number}", description=description, series_number=number,
                         spacing=(0.7, 0.7, 1.0), origin=origin, modality="MR", descending_instances=True)  # fmt: skip
        rows.append([patient, *BOX])
    cols = ["Patient ID", "Start Row", "End Row", "Start Column", "End Column", "Start Slice", "End Slice"]
    pd.DataFrame(rows, columns=cols).to_csv(root / "Annotation_Boxes.csv", index=False)


def test_convert_fake_duke_channels_grid_and_boxes(tmp_path, capsys):
    _fake_duke(tmp_path / "src")
    out = tmp_path / "D05"
    assert main(["convert", "D05", "--source", str(tmp_path / "src"), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    # 5 patients in the 509/128/274 proportions: test round(5*274/911) = 2, val round(5*128/911) = 1, train 2
    assert (len(ds.splits.train), len(ds.splits.val), len(ds.splits.test)) == (2, 1, 2)
    assert ds.meta.modalities == ["T1_pre", "T1_post1", "T1_post2", "T1_post3"] and ds.meta.annotation == "boxes"
    case = ds.load_case("Breast_MRI_001")
    assert case.image.shape == (4, *SHAPE)
    # channel order pre, post 1, 2, 3 (by Series Number, not folder order); posts resampled onto the pre grid
    assert case.image[:, 2, 6, 6].tolist() == [100.0, 200.0, 300.0, 400.0]
    assert case.geometry.origin_xyz == pytest.approx((-80.0, -60.0, -20.0))
    boxes, labels = case.boxes()
    # rows 3..6 -> y 2..5, columns 4..9 -> x 3..8; slices 1..2 by Instance Number = the two highest array z
    assert boxes.tolist() == [[3, 2, 3, 5, 6, 9]] and labels.tolist() == [0]


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing_phase", "needs 4 dynamic series"),
        ("no_table", "missing Annotation_Boxes.csv"),
        ("box_too_big", "exceeds the pre-contrast series"),
        ("unreadable", "unreadable DICOM"),
        ("pre_not_first", "pre-contrast series is not the first"),
    ],
)
def test_malformed_download_is_one_clear_error(tmp_path, capsys, breakage, message):
    src = tmp_path / "src"
    series = SERIES
    if breakage == "missing_phase":
        series = [s for s in SERIES if s[1] not in ("ax dyn 3rd pass", "ax dyn 4th pass")]
    elif breakage == "pre_not_first":
        series = [
            (3, "ax dyn 1st pass", 1.0),
            (4, "ax dyn pre", 1.0),
            (5, "ax dyn 2nd pass", 1.0),
            (6, "ax dyn 3rd", 1.0),
        ]
    _fake_duke(src, n=5, series=series)
    if breakage == "no_table":
        (src / "Annotation_Boxes.csv").unlink()
    elif breakage == "box_too_big":
        table = pd.read_csv(src / "Annotation_Boxes.csv")
        table.loc[1, "End Slice"] = 9
        table.to_csv(src / "Annotation_Boxes.csv", index=False)
    elif breakage == "unreadable":
        next(src.rglob("*.dcm")).write_bytes(b"DICM" * 10)
    out = tmp_path / "out"
    code = main(["convert", "Duke Breast MRI", "--source", str(src), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err, err
    assert not out.exists()
