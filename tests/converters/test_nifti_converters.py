"""MSD Pancreas, KiTS21 and RibFrac converters on tiny fake downloads in their official layouts."""

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from benchmark.cli import main
from benchmark.converters.common import instances_from_semantic, seeded_split
from benchmark.data.format import PreparedDataset
from benchmark.datasets import get_dataset


def _write(path, array, spacing=(0.8, 0.8, 2.5)):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))


def _semantic(rng, labels):
    sem = np.zeros((10, 16, 16), np.uint8)
    sem[1:9, 2:14, 2:14] = 1  # organ
    for k, lab in enumerate(labels):
        z = 2 + 3 * k
        sem[z : z + 2, 4:7, 4 + 4 * k : 7 + 4 * k] = lab
    return sem


def test_instances_from_semantic_components():
    sem = np.zeros((5, 5, 5), np.uint8)
    sem[0, 0, 0:2] = 2
    sem[4, 4, 4] = 2
    sem[2, 2, 2] = 3
    inst, classes = instances_from_semantic(sem, {3: 0, 2: 1})
    assert sorted(classes.values()) == [0, 1, 1] and inst.max() == 3
    assert classes[int(inst[2, 2, 2])] == 0


def test_seeded_split_is_reproducible_and_proportional():
    ids = [f"c{i:03d}" for i in range(281)]
    s = seeded_split(ids, get_dataset("D01").splits, 3)
    assert (len(s.train), len(s.val), len(s.test)) == (156, 40, 85)
    assert s == seeded_split(list(reversed(ids)), get_dataset("D01").splits, 3)
    s.check()
    with pytest.raises(ValueError, match="too few cases"):
        seeded_split(ids[:2], get_dataset("D01").splits, 0)


def test_msd_pancreas(tmp_path, capsys):
    rng = np.random.default_rng(0)
    src = tmp_path / "Task07_Pancreas"
    for i in range(7):
        _write(src / "imagesTr" / f"pancreas_{i:03d}.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32))
        _write(src / "labelsTr" / f"pancreas_{i:03d}.nii.gz", _semantic(rng, [2] * (i % 3)))
    out = tmp_path / "D01"
    assert main(["convert", "D01", "--source", str(src), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    counts = sorted(len(ds.load_case(c).classes) for c in ds.case_ids())
    assert counts == sorted([i % 3 for i in range(7)])
    first = ds.splits.to_json()
    # a stored split is reused, never regenerated
    assert main(["convert", "D01", "--source", str(src), "--out", str(out)]) == 0
    assert PreparedDataset(out).splits.to_json() == first


def test_kits21(tmp_path, capsys):
    rng = np.random.default_rng(1)
    for i in range(6):
        case = tmp_path / "kits21" / "data" / f"case_{i:05d}"
        _write(case / "imaging.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32), (0.78, 0.78, 0.78))
        _write(case / "aggregated_MAJ_seg.nii.gz", _semantic(rng, [2, 3]), (0.78, 0.78, 0.78))
    out = tmp_path / "D03"
    assert main(["convert", "KiTS21", "--source", str(tmp_path / "kits21"), "--out", str(out)]) == 0, (
        capsys.readouterr()
    )
    case = PreparedDataset(out).load_case("case_00000")
    assert sorted(case.classes.values()) == [0, 1]  # one cyst, one tumour


def test_ribfrac(tmp_path, capsys):
    rng = np.random.default_rng(2)
    src = tmp_path / "ribfrac"
    rows = []
    for i in range(1, 9):
        folder = "ribfrac-val-images" if i > 6 else "Part1/ribfrac-train-images"
        inst = np.zeros((10, 16, 16), np.uint8)
        inst[2:4, 2:5, 2:5] = 1
        inst[6:8, 8:11, 8:11] = 2
        _write(src / folder / f"RibFrac{i}-image.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32))
        _write(src / folder.replace("images", "labels") / f"RibFrac{i}-label.nii.gz", inst)
        rows += [[f"RibFrac{i}", 0, 0], [f"RibFrac{i}", 1, 1], [f"RibFrac{i}", 2, -1 if i == 1 else 3]]
    pd.DataFrame(rows, columns=["public_id", "label_id", "label_code"]).to_csv(
        src / "ribfrac-train-info.csv", index=False
    )
    out = tmp_path / "D02"
    assert main(["convert", "RibFrac", "--source", str(src), "--out", str(out)]) == 0, capsys.readouterr()
    ds = PreparedDataset(out)
    assert ds.splits.test == ["RibFrac7", "RibFrac8"]
    assert len(ds.splits.train) + len(ds.splits.val) == 6 and ds.splits.val
    assert ds.load_case("RibFrac1").classes == {1: 0}  # the ignored (-1) fracture is removed
    assert ds.load_case("RibFrac2").classes == {1: 0, 2: 0}
    assert ds.meta.provenance["ignored_instances_removed"] == 1


def test_ribfrac_missing_label_and_kits_missing_segmentation_are_clear_errors(tmp_path, capsys):
    rng = np.random.default_rng(3)
    src = tmp_path / "ribfrac"
    _write(src / "ribfrac-val-images" / "RibFrac9-image.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32))
    assert main(["convert", "D02", "--source", str(src), "--out", str(tmp_path / "o2")]) == 1
    assert "no RibFracN-label.nii.gz for ['RibFrac9']" in capsys.readouterr().err
    kits = tmp_path / "kits21" / "data" / "case_00000"
    _write(kits / "imaging.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32))
    assert main(["convert", "D03", "--source", str(tmp_path / "kits21"), "--out", str(tmp_path / "o3")]) == 1
    assert "no aggregated_MAJ_seg.nii.gz for ['case_00000']" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()
