"""The classical reference detector: detection, grid search on validation, the reference row end to end."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from analysis.store import has_run, index_store, open_store
from benchmark.classical.baseline import ClassicalConfig, run_classical
from benchmark.classical.detector import ClassicalParams, components, detect
from benchmark.classical.tuning import Grid, band_edges, tune
from benchmark.metrics import load_predictions, map_from_matches, match_detections


def _blobs(rng: np.random.Generator, n_cases: int = 4) -> tuple[dict, dict]:
    """Cases with bright cubes (the objects), one large bright slab (a mimic) and noise."""
    images, gt = {}, {}
    for i in range(n_cases):
        x = rng.normal(0.0, 0.3, size=(1, 20, 24, 24)).astype(np.float32)
        boxes = []
        for k in range(2):
            z, y = 3 + 8 * k, 3 + 9 * k
            x[0, z : z + 3, y : y + 3, 4 : 4 + 3] = 5.0 + i
            boxes.append([z, y, 4, z + 3, y + 3, 7])
        x[0, :, 18:, 14:] = 9.0  # a large bright structure that is not an object
        images[f"c{i}"] = x
        gt[f"c{i}"] = (np.asarray(boxes, float), np.zeros(2, np.int64))
    return images, gt


def test_components_give_voxel_frame_boxes_sizes_and_means():
    x = np.zeros((6, 7, 8), np.float32)
    x[1:3, 2:5, 3:4] = 2.0
    x[5, 6, 7] = 4.0
    comps = components(x, 1.0, math.inf)
    order = np.argsort(comps.voxels)
    assert comps.boxes[order].tolist() == [[5, 6, 7, 6, 7, 8], [1, 2, 3, 3, 5, 4]]
    assert comps.voxels[order].tolist() == [1, 6]
    assert comps.mean[order].tolist() == [4.0, 2.0]
    assert comps.compactness[order].tolist() == [1.0, 1.0]


def test_detect_filters_by_size_and_reports_every_class():
    images, gt = _blobs(np.random.default_rng(0), 1)
    params = ClassicalParams(low=3.0, high=math.inf, min_voxels=5, max_voxels=100, score="mean")
    boxes, scores, labels = detect(images["c0"], params, n_classes=2)
    assert sorted(map(tuple, boxes[labels == 0].tolist())) == sorted(map(tuple, gt["c0"][0].tolist()))
    assert labels.tolist() == [0, 0, 1, 1] and np.array_equal(boxes[:2], boxes[2:])
    wide = ClassicalParams(low=3.0, high=math.inf, min_voxels=5, max_voxels=None)
    assert len(detect(images["c0"], wide)[0]) == 3  # the slab is kept without an upper size limit


def test_tuning_picks_the_best_grid_point_on_validation():
    images, gt = _blobs(np.random.default_rng(1))
    grid = Grid(edges=(1.0, 8.5), sigmas=(0.0, 1.0), min_voxels=(1, 8), max_voxels=(64, None),
                scores=("size", "mean"))
    result = tune(images, gt, ["lesion"], grid)
    # every grid point scored again independently, through detect() on the raw images
    edges = [-math.inf, 1.0, 8.5, math.inf]
    values = {}
    for sigma, (low, high), mn, mx, score in itertools.product(
        grid.sigmas, itertools.combinations(edges, 2), grid.min_voxels, grid.max_voxels, grid.scores
    ):
        if math.isinf(low) and math.isinf(high):
            continue
        p = ClassicalParams(low, high, mn, mx, score, sigma, 0)
        preds = {c: detect(im, p) for c, im in images.items()}
        values[p] = map_from_matches(match_detections(preds, gt, ["lesion"])).map
    assert result.n_points == len(values) == grid.size(1)
    assert result.val_map == pytest.approx(max(values.values()))
    assert values[result.params] == pytest.approx(result.val_map)
    assert result.val_map > 0.9  # the objects are separable from the slab by size: the grid finds it
    assert result.top[0][0] == pytest.approx(result.val_map)
    assert len(values) > 50 and min(values.values()) < 0.5  # and most grid points are worse
    assert result.params.high == 8.5 or result.params.max_voxels == 64  # the slab is cut by intensity or size


def test_band_edges_are_percentiles_of_the_pooled_validation_voxels():
    images = [np.arange(100, dtype=np.float32).reshape(1, 1, 10, 10), np.full((1, 1, 10, 10), 50.0, np.float32)]
    edges = band_edges(images, 0, (25.0, 50.0, 75.0))
    pooled = np.concatenate([im.ravel() for im in images])
    # equal percentiles (50 and 75 both fall on the constant image) give one edge
    assert edges == [-math.inf, *np.unique(np.percentile(pooled, [25, 50, 75])).tolist(), math.inf]
    assert len(edges) == 4


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from benchmark.synthetic.generate import generate_twin

    root = tmp_path_factory.mktemp("twins")
    return generate_twin("S06", root / "synthetic" / "tiny", scale="tiny", progress=False), root


def test_reference_row_end_to_end(tiny_twin, tmp_path):
    twin, data_root = tiny_twin
    cfg = ClassicalConfig(
        dataset="S06", profile="tiny", data_root=str(data_root), runs=str(tmp_path / "runs"),
        store=str(tmp_path / "store"), progress=False,
    )
    result = run_classical(cfg)
    assert str(result.key) == "S06/classical__none/tiny_official_seed0"
    assert result.run_dir == tmp_path / "runs" / "S06" / "classical__none" / "tiny_official_seed0"
    # the predictions pass the validator of benchmark evaluate
    from benchmark.data.format import PreparedDataset

    ds = PreparedDataset(twin)
    preds = load_predictions(result.predictions_file, case_ids=ds.splits.test, num_classes=len(ds.meta.classes))
    assert set(preds.cases) == set(ds.splits.test) and preds.dataset == "S06"
    assert all(c.centers_world is not None for c in preds.cases.values())
    # scored by the dataset's protocols; provenance carries the tuned parameters and the validation score
    assert set(result.metrics) == {"map@0.1", "froc@0.1", "luna16"}
    record = json.loads(result.result_file.read_text())
    assert record["reference"] is True
    assert record["provenance"]["classical"]["params"] == result.params
    assert record["validation_map@0.1"] == pytest.approx(result.validation_map)
    assert record["provenance"]["dataset"]["source"]["kind"] == "synthetic_twin"
    # the store row
    assert has_run(tmp_path / "store", result.key)
    row = index_store(tmp_path / "store").iloc[0]
    assert (row["architecture"], row["pretraining"], row["profile"]) == ("classical", "none", "tiny")
    assert row["map@0.1"] == pytest.approx(result.metrics["map@0.1"])
    stored = json.loads((result.store_dir / "result.json").read_text())
    assert stored["classical"]["params"] == result.params and stored["reference"] is True


def test_reference_row_stands_beside_every_training_seed(tmp_path):
    from analysis.synthetic_store import build_synthetic_store

    store = tmp_path / "store"
    build_synthetic_store(store, models=[("classical", "none")], seed=0)
    build_synthetic_store(store, models=[("retina_unet", "default"), ("retina_unet", "fixed")], seed=1)
    build_synthetic_store(store, models=[("retina_unet", "default"), ("retina_unet", "fixed")], seed=2)
    for seed in (None, 1, 2):
        opened = open_store(store, seed=seed)
        assert ("classical", "none") in opened.models()
        assert opened.selection["seeds"] == ([1] if seed is None else [seed])
        assert "classical" not in set(opened.seed_runs["architecture"])  # deterministic: no seed spread


def test_analysis_shows_the_reference_row_labelled(tmp_path):
    from analysis.report import run_analysis
    from analysis.synthetic_store import build_synthetic_store

    store = build_synthetic_store(
        tmp_path / "store", models=[("retina_unet", "default"), ("retina_unet", "fixed"), ("classical", "none")]
    )
    result, files = run_analysis(store, n_replicates=30)
    assert result.references == [("classical", "none")]
    assert ("classical", "none") in set(map(tuple, result.aggregated[["architecture", "pretraining"]].values))
    out = result.store / "analysis" / "synthetic_seed0"
    table = (out / "tables" / "table3.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| Classical (reference) | no learning |"))
    assert "**" not in row and "<ins>" not in row  # a reference row never takes the models' highlights
    assert "Reference rows" in (out / "README.md").read_text()
    assert json.loads((out / "summary.json").read_text())["reference_models"] == [["classical", "none"]]
    assert (out / "figures" / "fig2_ranking_overview_map.png").is_file()
