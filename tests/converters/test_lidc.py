"""LIDC-IDRI converter on a tiny fake TCIA download: DICOM series written with SimpleITK plus readers' XML."""

import numpy as np
import pytest
from dicom_trees import write_series

from benchmark.cli import main
from benchmark.converters.lidc import MALIGNANT_ABOVE
from benchmark.data.format import PreparedDataset

SHAPE = (6, 24, 24)
NS = "http://www.nih.gov"


def _square(x0, y0, size):
    """A closed outline of a size x size pixel square (its border pixels, as LIDC edge maps list them)."""
    x1, y1 = x0 + size - 1, y0 + size - 1
    pts = [(x, y0) for x in range(x0, x1 + 1)] + [(x1, y) for y in range(y0 + 1, y1 + 1)]
    pts += [(x, y1) for x in range(x1 - 1, x0 - 1, -1)] + [(x0, y) for y in range(y1 - 1, y0, -1)]
    return pts


def _roi(sop, z, points, inclusion=True):
    edges = "".join(f"<edgeMap><xCoord>{x}</xCoord><yCoord>{y}</yCoord></edgeMap>" for x, y in points)
    return (f"<roi><imageZposition>{z}</imageZposition><imageSOP_UID>{sop}</imageSOP_UID>"
            f"<inclusion>{'TRUE' if inclusion else 'FALSE'}</inclusion>{edges}</roi>")  # fmt: skip


def _nodule(nid, malignancy, rois):
    chars = f"<characteristics><subtlety>3</subtlety><malignancy>{malignancy}</malignancy></characteristics>"
    return f"<unblindedReadNodule><noduleID>{nid}</noduleID>{chars}{''.join(rois)}</unblindedReadNodule>"


def _small(sop, z):  # a nodule < 3 mm: one point, no characteristics
    return f"<unblindedReadNodule><noduleID>s</noduleID>{_roi(sop, z, [(20, 20)])}</unblindedReadNodule>"


def _xml(series_uid, sessions):
    body = "".join(f"<readingSession><servicingRadiologistID>r{i}</servicingRadiologistID>{s}</readingSession>"
                   for i, s in enumerate(sessions))  # fmt: skip
    header = f"<ResponseHeader><SeriesInstanceUid>{series_uid}</SeriesInstanceUid></ResponseHeader>"
    return f'<?xml version="1.0" encoding="UTF-8"?><LidcReadMessage xmlns="{NS}">{header}{body}</LidcReadMessage>'


def _fake_lidc(root, n=5):
    rng = np.random.default_rng(0)
    uids = []
    for i in range(n):
        patient = f"LIDC-IDRI-{i + 1:04d}"
        uid = f"1.3.6.1.4.1.14519.5.2.1.6279.6001.{i + 1}"
        folder = root / "LIDC-IDRI" / patient / "01-01-2000-NA-30178" / f"3000566.000000-NA-{i}"
        sops = write_series(folder, rng.normal(-700, 30, size=SHAPE), patient=patient, series_uid=uid,
                            reverse_files=i % 2 == 1)  # fmt: skip
        z = [-50.0 + 2.5 * k for k in range(SHAPE[0])]
        sessions = ["", "", ""]
        if i == 0:
            # nodule A: readers 1 and 2, ratings 4 and 5 -> malignant; slices 1-2, overlapping squares
            sessions[0] += _nodule("A1", 4, [_roi(sops[k], z[k], _square(3, 3, 4)) for k in (1, 2)])
            sessions[1] += _nodule("A2", 5, [_roi(sops[k], z[k], _square(4, 4, 4)) for k in (1, 2, 3)])
            # nodule B: three readers, ratings 2, 3, 3 -> median 3 -> benign; consensus = the 3x3 square
            sessions[0] += _nodule("B1", 2, [_roi(sops[4], z[4], _square(14, 14, 3))])
            sessions[1] += _nodule("B2", 3, [_roi(sops[4], z[4], _square(14, 14, 3))])
            sessions[2] += _nodule("B3", 3, [_roi(sops[4], z[4], _square(13, 13, 6))])
            sessions[2] += _small(sops[0], z[0]) + "<nonNodule><nonNoduleID>n</nonNoduleID></nonNodule>"
        (folder / "069.xml").write_text(_xml(uid, sessions))
        uids.append(uid)
    return uids


def test_convert_fake_lidc_clusters_marks_and_classes(tmp_path, capsys):
    _fake_lidc(tmp_path / "src")
    out = tmp_path / "D04"
    assert main(["convert", "LIDC", "--source", str(tmp_path / "src"), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    # 5 scans in the 690/173/155 proportions: test round(5*155/1018) = 1, val round(5*173/1018) = 1, train 3
    assert (len(ds.splits.train), len(ds.splits.val), len(ds.splits.test)) == (3, 1, 1)
    assert ds.meta.classes == ["benign", "malignant"]
    case = ds.load_case("LIDC-IDRI-0001")
    assert len(case.classes) == 2  # five marks of two nodules; the < 3 mm mark and the non-nodule are skipped
    boxes, labels = case.boxes()
    by_z = {int(b[0]): (b.tolist(), int(c)) for b, c in zip(boxes, labels, strict=True)}
    malignant, benign = ds.meta.classes.index("malignant"), ds.meta.classes.index("benign")
    # A: two marks, consensus level 1 of 2 = the union of 4x4 squares at x,y 3..6 and 4..7 on slices 1..3
    assert by_z[1] == ([1, 3, 3, 4, 8, 8], malignant)
    # B: three marks, consensus 2 of 3 = the 3x3 square at 14..16 on slice 4; median rating 3 -> benign
    assert by_z[4] == ([4, 14, 14, 5, 17, 17], benign)
    assert MALIGNANT_ABOVE == 3
    assert all(len(ds.load_case(c).classes) == 0 for c in ds.case_ids() if c != "LIDC-IDRI-0001")


def _break(src, breakage):
    xml = next((src / "LIDC-IDRI" / "LIDC-IDRI-0001").rglob("*.xml"))
    if breakage == "unknown_series":
        xml.write_text(xml.read_text().replace(".6001.1<", ".6001.99<"))
    elif breakage == "slice_not_in_series":
        text = xml.read_text()
        xml.write_text(text.replace("<imageSOP_UID>1.3.6.1.4.1.14519.5.2.1.6279.6001.1.5<", "<imageSOP_UID>9.9<")
                       .replace("<imageZposition>-40.0<", "<imageZposition>999.0<"))  # fmt: skip
    elif breakage == "unreadable_dicom":
        next(xml.parent.glob("*.dcm")).write_bytes(b"\0" * 200)
    elif breakage == "no_xml":
        xml.unlink()
    elif breakage == "wrong_folder":
        for p in src.rglob("*.xml"):
            p.unlink()


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("unknown_series", "not in the download"),
        ("slice_not_in_series", "outline on a slice not in the series"),
        ("unreadable_dicom", "unreadable DICOM"),
        ("no_xml", "CT series without readers' XML"),
        ("wrong_folder", "no readers' XML"),
    ],
)
def test_malformed_download_is_one_clear_error(tmp_path, capsys, breakage, message):
    src = tmp_path / "src"
    _fake_lidc(src, n=5)
    _break(src, breakage)
    out = tmp_path / "out"
    code = main(["convert", "D04", "--source", str(src), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "Traceback" not in err, err
    assert not out.exists()
