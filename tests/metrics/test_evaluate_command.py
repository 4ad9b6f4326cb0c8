"""``benchmark evaluate`` and :func:`load_ground_truth` on a tiny prepared dataset written in the test."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from benchmark.commands import evaluate as evaluate_command
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, Splits, write_case, write_dataset_files
from benchmark.metrics import load_ground_truth

SHAPE = (8, 10, 12)


def _case(case_id: str, rng: np.random.Generator) -> Case:
    inst = np.zeros(SHAPE, np.int16)
    inst[1:3, 1:4, 1:5] = 1  # class 0, box (1, 1, 1, 3, 4, 5)
    inst[5:7, 5:8, 6:10] = 2  # class 1, box (5, 5, 6, 7, 8, 10)
    geometry = Geometry(SHAPE, (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    return Case(case_id, rng.normal(size=(1, *SHAPE)).astype(np.float32), geometry, inst, {1: 0, 2: 1})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared")
    rng = np.random.default_rng(0)
    splits = Splits(train=["t0"], val=[], test=["c0", "c1", "c2"])
    for split in ("train", "test"):
        for cid in splits.get(split):
            write_case(root, _case(cid, rng), split)
    write_dataset_files(root, DatasetMeta("tiny", "T01", ["CT"], ["benign", "malignant"]), splits)
    return root


def _write_predictions(path, cases, dataset_id="T01"):
    path.write_text(json.dumps({"format_version": 1, "dataset": dataset_id, "cases": cases}))
    return path


def _run(dataset, predictions, *extra):
    parser = argparse.ArgumentParser()
    evaluate_command.add_arguments(parser)
    args = parser.parse_args(["--dataset", str(dataset), "--predictions", str(predictions), *extra])
    return evaluate_command.run(args)


def test_load_ground_truth_boxes_instances(dataset):
    gt = load_ground_truth(dataset, ["c0", "t0"])
    assert list(gt) == ["c0", "t0"]
    np.testing.assert_array_equal(gt["c0"].boxes, [[1, 1, 1, 3, 4, 5], [5, 5, 6, 7, 8, 10]])
    assert gt["c0"].labels.tolist() == [0, 1]


def test_evaluate_perfect_and_partial(dataset, tmp_path, capsys):
    perfect = {"boxes": [[1, 1, 1, 3, 4, 5], [5, 5, 6, 7, 8, 10]], "scores": [0.9, 0.8], "labels": [0, 1]}
    miss = {"boxes": [[0, 0, 0, 1, 1, 1]], "scores": [0.95], "labels": [0]}
    preds = _write_predictions(tmp_path / "p.json", {"c0": perfect, "c1": perfect, "c2": miss})
    out = tmp_path / "results.json"
    per_case = tmp_path / "per_case.csv"
    assert _run(dataset, preds, "--out", str(out), "--per-case", str(per_case)) == 0
    printed = capsys.readouterr().out
    assert "map@0.1" in printed and "froc@0.1" in printed and "3 cases, 6 objects" in printed
    results = json.loads(out.read_text())
    assert results["split"] == "test" and results["num_cases"] == 3
    ap = results["metrics"]["map@0.1"]
    # malignant: 2 of 3 found at precision 1 -> recall thresholds 0..0.66 reached: 67 of 101 points
    assert ap["details"]["per_class"]["malignant"] == pytest.approx(67 / 101)
    # benign: the miss (0.95) comes first, then two hits: precision envelope 2/3 up to recall 2/3, then 0
    assert ap["details"]["per_class"]["benign"] == pytest.approx((2 / 3) * 67 / 101)
    assert 0 < results["metrics"]["froc@0.1"]["value"] < 1
    assert per_case.read_text().splitlines()[0].startswith("matching,image_id,class,n_gt,tp,fp")


def test_evaluate_errors(dataset, tmp_path):
    empty = {"boxes": [], "scores": [], "labels": []}
    preds = _write_predictions(tmp_path / "p.json", {"c0": empty})
    with pytest.raises(ValueError, match="no predictions"):
        _run(dataset, preds)
    assert _run(dataset, preds, "--allow-missing", "--protocol", "map@0.1") == 0
    with pytest.raises(ValueError, match="Did you mean"):
        _run(dataset, preds, "--allow-missing", "--protocol", "mAP@0.2")
    with pytest.raises(ValueError, match="Valid splits"):
        _run(dataset, preds, "--split", "tset")
    other = _write_predictions(tmp_path / "o.json", {"c0": empty, "c1": empty, "c2": empty}, dataset_id="D07")
    with pytest.raises(ValueError, match="is for dataset 'D07'"):
        _run(dataset, other)
