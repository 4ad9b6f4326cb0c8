"""The converter template: lookup-table instances, box instances, hold-outs, resumption, one-line errors."""

import json
from dataclasses import replace

import numpy as np
import pytest
import SimpleITK as sitk

from benchmark.cli import main
from benchmark.converters import CONVERTERS, msd_pancreas
from benchmark.converters.common import holdout, instances_from_boxes, overlapping_boxes, relabel, seeded_folds
from benchmark.converters.template import run_converter
from benchmark.data.format import PreparedDataset
from benchmark.datasets import DATASETS


def test_every_registered_dataset_has_a_converter_spec_named_by_the_registry():
    for dataset_id, spec in CONVERTERS.items():
        assert spec.dataset_id == dataset_id and spec.dataset.id == dataset_id
        assert spec.dataset is DATASETS.get(dataset_id)


def test_relabel_keeps_listed_ids_in_order():
    inst = np.array([[[0, 3, 3, 7, 9]]])
    out, classes = relabel(inst, {3: 0, 9: 1})
    assert out.tolist() == [[[0, 1, 1, 0, 2]]] and classes == {1: 0, 2: 1}


def test_instances_from_boxes_clips_and_drops_overlaps():
    boxes = np.array([[0, 0, 0, 2, 2, 2], [1, 1, 1, 3, 3, 3], [3, 4, 5, 3, 9, 9]])
    inst, classes, dropped = instances_from_boxes((4, 5, 6), boxes, [0, 0, 1])
    assert dropped == [1] == overlapping_boxes(boxes)  # the second box overlaps the first
    assert classes == {1: 0, 2: 1}
    assert np.count_nonzero(inst == 1) == 8 and np.argwhere(inst == 2).tolist() == [[3, 4, 5]]
    free, classes, dropped = instances_from_boxes((4, 5, 6), boxes, [0, 0, 1], overlap="free")
    assert dropped == [] and classes == {1: 0, 2: 0, 3: 1}
    assert np.count_nonzero(free == 2) == 7  # the shared voxel stays with the first box


def test_holdout_and_folds():
    ids = [f"c{i}" for i in range(6707)]
    train, val = holdout(ids, 6037, 670, 1)
    assert (len(train), len(val)) == (6037, 670) and not set(train) & set(val)
    assert holdout(ids[:10], 6037, 670, 1)[1] and len(holdout(ids[:10], 6037, 670, 1)[1]) == 1  # round(10*0.0999)
    folds = seeded_folds(ids[:11], 5, 0)
    assert sorted(v for f in folds for v in f["val"]) == sorted(ids[:11])
    assert all(not set(f["train"]) & set(f["val"]) for f in folds)


def _msd_tree(root, n=7):
    rng = np.random.default_rng(0)
    for i in range(n):
        for folder, arr in (
            ("imagesTr", rng.normal(size=(6, 8, 8)).astype(np.float32)),
            ("labelsTr", (np.arange(6 * 8 * 8).reshape(6, 8, 8) % 97 == 0).astype(np.uint8) * 2),
        ):
            (root / folder).mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(sitk.GetImageFromArray(arr), str(root / folder / f"pancreas_{i:03d}.nii.gz"))


def test_interrupted_run_resumes(tmp_path):
    src, out = tmp_path / "Task07_Pancreas", tmp_path / "out"
    _msd_tree(src)
    calls = []
    real = msd_pancreas.load_case

    def failing(case):
        calls.append(case.case_id)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the fourth case
        return real(case)

    spec = CONVERTERS.get("D01")
    with pytest.raises(KeyboardInterrupt):
        run_converter(replace(spec, load_case=failing), src, out)
    assert not (out / "dataset.json").exists()
    done = sorted(p.name for p in out.rglob("*.json"))
    assert len(done) == 3  # three complete cases, marked by their label JSON
    # an interrupted write leaves a temporary file; a half case has images but no label JSON
    (out / "imagesTr" / ".pancreas_000_0000.1234abcd.tmp.nii.gz").write_bytes(b"partial")
    result = run_converter(spec, src, out)
    assert result.cases == 7 and result.written == 4 and result.report.ok
    assert not list(out.rglob(".*.tmp*"))
    again = run_converter(spec, src, out)
    assert again.written == 0 and again.report.ok


def test_stored_seeded_split_is_reused(tmp_path):
    src, out = tmp_path / "Task07_Pancreas", tmp_path / "out"
    _msd_tree(src)
    assert main(["convert", "D01", "--source", str(src), "--out", str(out)]) == 0
    stored = json.loads((out / "splits.json").read_text())
    assert main(["convert", "D01", "--source", str(src), "--out", str(out)]) == 0
    assert json.loads((out / "splits.json").read_text()) == stored
    meta = PreparedDataset(out).meta
    assert (meta.name, meta.classes, meta.modalities) == ("MSD Pancreas", ["tumour"], ["CT"])  # from the registry


def test_option_of_another_dataset_is_refused(tmp_path, capsys):
    src = tmp_path / "Task07_Pancreas"
    _msd_tree(src)
    assert main(["convert", "D01", "--source", str(src), "--out", str(tmp_path / "o"), "--scheme", "9-0-1"]) == 1
    assert "--scheme applies to LUNA16 only; the MSD Pancreas converter has no schemes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_help_lists_all_eight_datasets(capsys):
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for dataset_id, spec in DATASETS.items():
        assert f"{dataset_id} {spec.name}" in text
