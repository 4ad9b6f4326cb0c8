"""The LUNA16 10-fold aggregate CPM from a tiny store: per-run tables, pooling, incomplete folds, the twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.luna16_pooled import pooled_cpm, write_pooled_cpm
from analysis.store import index_store, open_store, write_run
from analysis.synthetic_store import synthetic_match_table
from benchmark.core.conventions import Geometry
from benchmark.core.run_key import RunKey
from benchmark.metrics import CaseGroundTruth, CasePrediction, EvaluationInput, get_metric
from benchmark.metrics.protocols.luna16 import luna16_froc
from benchmark.metrics.protocols.luna16_tables import LUNA16_FOLDER, luna16_tables, write_luna16_tables

GEOMETRY = Geometry((20, 20, 20), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))


def _inputs(case_ids: list[str], seed: int) -> EvaluationInput:
    """Each scan: one nodule (+ one ignored object on the first), a hit of random score and two false positives."""
    rng = np.random.default_rng(seed)
    gts, preds = {}, {}
    for i, case_id in enumerate(case_ids):
        boxes = [[4, 4, 4, 10, 10, 10]] + ([[14, 14, 14, 18, 18, 18]] if i == 0 else [])
        ignore = np.array([False, True][: len(boxes)])
        gts[case_id] = CaseGroundTruth(np.array(boxes, float), np.zeros(len(boxes)), ignore)
        pred_boxes = np.array([[5, 5, 5, 9, 9, 9], [0, 0, 15, 3, 3, 18], [15, 0, 0, 18, 3, 3]], float)
        preds[case_id] = CasePrediction(pred_boxes, rng.uniform(0.05, 0.95, 3), np.zeros(3, dtype=np.int64))
    geometries = dict.fromkeys(case_ids, GEOMETRY)
    return EvaluationInput(preds, gts, ("nodule",), "D06", geometries=geometries)


def _write_fold(store, dataset: str, fold: int, scans: list[str], pre: str = "default", seed: int = 0):  # noqa: ANN001, ANN202
    key = RunKey.make(dataset, "retina_unet", pre, "tiny", fold=fold, seed=0)
    tables = luna16_tables(_inputs(scans, seed))
    run_dir = store / "work" / key.folder
    write_luna16_tables(run_dir, tables, fold=fold, splits_version=f"luna16-8-1-1-fold{fold}")
    table = synthetic_match_table(dataset, key.model, n_images=6, seed=0)
    write_run(store, key, table, attachments=[run_dir / LUNA16_FOLDER])
    return tables


def test_run_tables_reproduce_the_protocol_score():
    inputs = _inputs(["a", "b", "c"], 1)
    tables = luna16_tables(inputs)
    protocol = get_metric("luna16")
    expected = protocol.score(protocol.match(inputs)).value
    got = luna16_froc(tables.candidates, tables.annotations, tables.seriesuids, tables.annotations_excluded).score
    assert got == pytest.approx(expected, abs=1e-12) and 0 < got < 1
    assert len(tables.annotations_excluded) == 1 and tables.info["annotation_source"] == "ground_truth_boxes"


def test_pooled_cpm_of_ten_folds_incomplete_folds_and_the_twin(tmp_path):
    store = tmp_path / "store"
    folds = [[f"scan{k}_{i}" for i in range(3)] for k in range(10)]
    written = [_write_fold(store, "D06", k, folds[k], seed=k) for k in range(10)]
    for k in (0, 1, 2):  # another model with three folds only
        _write_fold(store, "D06", k, folds[k], pre="fixed", seed=20 + k)
    shared = [f"twin_{i}" for i in range(4)]
    for k in (0, 1):  # the twin: its folds share one test split
        _write_fold(store, "S06", k, shared, seed=30 + k)
    frame = pooled_cpm(index_store(store)).set_index(["dataset", "pretraining"])

    pooled = frame.loc[("D06", "default")]
    cands = pd.concat([t.candidates for t in written], ignore_index=True)
    ann = pd.concat([t.annotations for t in written], ignore_index=True)
    exc = pd.concat([t.annotations_excluded for t in written], ignore_index=True)
    expected = luna16_froc(cands, ann, [u for f in folds for u in f], exc).score
    assert pooled["status"] == "pooled" and pooled["n_scans"] == 30 and pooled["scheme"] == "8-1-1"
    assert pooled["cpm"] == pytest.approx(expected, abs=1e-12)
    per_fold = [luna16_froc(t.candidates, t.annotations, t.seriesuids, t.annotations_excluded).score for t in written]
    assert not np.isclose(pooled["cpm"], np.mean(per_fold))  # pooling is not averaging the folds' CPMs

    partial = frame.loc[("D06", "fixed")]
    assert partial["status"] == "incomplete" and np.isnan(partial["cpm"]) and "3,4,5,6,7,8,9 missing" in partial["note"]
    twin = frame.loc[("S06", "default")]
    assert twin["status"] == "shared test split" and np.isnan(twin["cpm"]) and "same 4 scans" in twin["note"]

    paths = write_pooled_cpm(index_store(store), tmp_path / "out")
    assert [p.name for p in paths] == ["luna16_pooled_cpm.csv", "luna16_pooled_cpm.md"]
    assert "| D06 | retina_unet | default |" in paths[1].read_text() and "incomplete" in paths[1].read_text()


def test_fold_selection(tmp_path):
    store = tmp_path / "store"
    for k in (0, 1):
        _write_fold(store, "D06", k, [f"s{k}_{i}" for i in range(3)], seed=k)
    with pytest.raises(ValueError, match="--fold"):
        open_store(store)
    selected = open_store(store, fold=1)
    assert list(selected.runs["fold"]) == [1] and selected.analysis_dir.name.endswith("_fold1")
    with pytest.raises(ValueError, match="no runs of fold7"):
        open_store(store, fold=7)
