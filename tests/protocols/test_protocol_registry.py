"""The protocols in the metric registry: same numbers as the direct functions, bootstrap weights = resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.core.conventions import Geometry, world_to_voxel
from benchmark.metrics.ground_truth import CaseGroundTruth
from benchmark.metrics.predictions import CasePrediction
from benchmark.metrics.protocols import PROTOCOLS, get_protocol
from benchmark.metrics.protocols.cta_a import cta_a_froc
from benchmark.metrics.protocols.luna16 import luna16_froc
from benchmark.metrics.protocols.pn9 import pn9_froc
from benchmark.metrics.protocols.ribfrac import ribfrac_case, ribfrac_froc
from benchmark.metrics.registry import EvaluationInput, Metric, evaluate, get_metric

CAND = ["seriesuid", "coordX", "coordY", "coordZ", "probability"]
ANN = ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]


def _world_case(rng, uids, n_nod=8, n_exc=5, n_cand=60):
    ann = pd.DataFrame([[uids[rng.integers(len(uids))], *rng.uniform(-40, 40, 3), rng.uniform(4, 12)]
                        for _ in range(n_nod)], columns=ANN)  # fmt: skip
    exc = pd.DataFrame([[uids[rng.integers(len(uids))], *rng.uniform(-40, 40, 3), -1.0] for _ in range(n_exc)],
                       columns=ANN)  # fmt: skip
    rows = []
    for _ in range(n_cand):
        f = ann.iloc[rng.integers(len(ann))]
        near = rng.random() < 0.4
        xyz = np.array([f.coordX, f.coordY, f.coordZ]) + rng.normal(0, 2, 3) if near else rng.uniform(-40, 40, 3)
        rows.append([f.seriesuid if near else uids[rng.integers(len(uids))], *xyz, round(float(rng.random()), 2)])
    return pd.DataFrame(rows, columns=CAND), ann, exc


def _predictions(cands, uids, centres=True):
    out = {}
    for uid in uids:
        c = cands[cands.seriesuid == uid]
        n = len(c)
        xyz = c[["coordX", "coordY", "coordZ"]].to_numpy(float)
        out[uid] = CasePrediction(np.tile([0.0, 0, 0, 1, 1, 1], (n, 1)), c.probability.to_numpy(float),
                                  np.zeros(n, int), centers_world=xyz if centres else None)  # fmt: skip
    return out


def _empty_gt(uids):
    return {u: CaseGroundTruth(np.zeros((0, 6)), np.zeros(0, int)) for u in uids}


def test_registered_and_structural():
    for name in ("luna16", "pn9", "cta_a", "ribfrac"):
        assert isinstance(get_metric(name), Metric)
        assert callable(get_protocol(name)) and name in PROTOCOLS
    with pytest.raises(ValueError, match="valid: cta_a, luna16, pn9, ribfrac"):
        get_protocol("luna")


def test_luna16_metric_equals_function_and_weights_equal_resampling():
    rng = np.random.default_rng(4)
    uids = [f"s{i}" for i in range(5)]
    cands, ann, exc = _world_case(rng, uids)
    inputs = EvaluationInput(
        predictions=_predictions(cands, uids), ground_truth=_empty_gt(uids), class_names=("nodule",),
        extra={"luna16_annotations": ann, "luna16_annotations_excluded": exc},
    )  # fmt: skip
    metric = get_metric("luna16")
    table = metric.match(inputs)
    direct = luna16_froc(cands, ann, uids, exc)
    assert metric.score(table).value == direct.score
    assert evaluate(["luna16"], inputs)["luna16"].value == direct.score
    assert metric.score(table, np.ones(5)).value == direct.score

    weights = np.array([2.0, 0.0, 1.0, 1.0, 1.0])  # s0 twice, s1 dropped
    dup = lambda f: pd.concat([f, f[f.seriesuid == "s0"].assign(seriesuid="s0b")], ignore_index=True)  # noqa: E731
    resampled = luna16_froc(dup(cands), dup(ann), ["s0", "s0b", "s2", "s3", "s4"], dup(exc))
    assert metric.score(table, weights).value == pytest.approx(resampled.score, abs=1e-15)


def test_luna16_metric_from_boxes_and_geometry():
    geometry = Geometry((60, 80, 80), (0.7, 0.7, 1.25), (-50.0, -60.0, -40.0))
    rng = np.random.default_rng(1)
    uids = ["a", "b"]
    cands, ann, _ = _world_case(rng, uids, n_exc=0)
    ann = ann.assign(coordZ=ann.coordZ.clip(-30, 30))
    gt = {}
    for uid in uids:
        a = ann[ann.seriesuid == uid]
        centre = world_to_voxel(a[["coordX", "coordY", "coordZ"]].to_numpy(float), geometry)
        half = (a.diameter_mm.to_numpy()[:, None] / 2) / np.asarray(geometry.spacing)[None, :]
        gt[uid] = CaseGroundTruth(np.hstack([centre - half, centre + half]), np.zeros(len(a), int))
    inputs = EvaluationInput(_predictions(cands, uids), gt, ("nodule",), geometries={u: geometry for u in uids})
    result = get_metric("luna16").score(get_metric("luna16").match(inputs))
    assert result.details["annotation_source"] == "ground_truth_boxes"
    assert result.value == pytest.approx(luna16_froc(cands, ann, uids).score, abs=1e-12)


def test_pn9_metric_equals_function():
    rng = np.random.default_rng(2)
    pids = ["1", "2", "3"]
    cands, ann, _ = _world_case(rng, pids, n_exc=0, n_cand=90)
    gt, preds = {}, {}
    for pid in pids:
        a = ann[ann.seriesuid == pid]
        centre = a[["coordZ", "coordY", "coordX"]].to_numpy(float)  # voxel frame (z, y, x)
        half = np.c_[np.full(len(a), 1.0), a.diameter_mm / 2, a.diameter_mm / 2]
        gt[pid] = CaseGroundTruth(np.hstack([centre - half, centre + half]), np.zeros(len(a), int))
        c = cands[cands.seriesuid == pid]
        cz = c[["coordZ", "coordY", "coordX"]].to_numpy(float)
        preds[pid] = CasePrediction(np.hstack([cz - 1, cz + 1]), c.probability.to_numpy(float), np.zeros(len(c), int))
    table = get_metric("pn9").match(EvaluationInput(preds, gt, ("nodule",)))
    pn9_c = cands.rename(columns={"seriesuid": "pid", "coordX": "center_x", "coordY": "center_y", "coordZ": "center_z"})
    pn9_a = ann.rename(columns={"seriesuid": "pid", "coordX": "center_x", "coordY": "center_y", "coordZ": "center_z",
                                "diameter_mm": "diameter"})  # fmt: skip
    assert get_metric("pn9").score(table).value == pn9_froc(pn9_c, pn9_a, pids).score


def test_cta_a_and_ribfrac_metrics_equal_functions():
    rng = np.random.default_rng(3)
    ids = [f"c{i}" for i in range(6)]
    gt, preds, cases = {}, {}, []
    for cid in ids:
        lo = rng.uniform(0, 50, (int(rng.integers(0, 3)), 3))
        g = np.hstack([lo, lo + rng.uniform(4, 10, lo.shape)])
        plo = np.vstack([g[:, :3] + rng.normal(0, 1, g[:, :3].shape), rng.uniform(0, 50, (2, 3))])
        p = np.hstack([plo, plo + rng.uniform(4, 10, plo.shape)])
        s = rng.random(len(p)).round(2)
        gt[cid] = CaseGroundTruth(g, np.zeros(len(g), int))
        preds[cid] = CasePrediction(p, s, np.zeros(len(p), int))
        cases.append((p, s, g))
    inputs = EvaluationInput(preds, gt, ("lesion",), extra={"test_set": "external"})
    cta = get_metric("cta_a").score(get_metric("cta_a").match(inputs))
    assert cta.value == cta_a_froc(cases).score and cta.details["test_set"] == "external"
    rib = get_metric("ribfrac").score(get_metric("ribfrac").match(inputs))
    assert rib.details["iou_source"] == "boxes"

    maps = {}
    for cid in ids:
        g, p = np.zeros((12, 12, 12), int), np.zeros((12, 12, 12), int)
        k = int(rng.integers(0, 3))
        for j in range(k):
            g[2 + 4 * j : 5 + 4 * j, 2:6, 2:6] = j + 1
            p[2 + 4 * j : 5 + 4 * j, 3:7, 2:6] = j + 1
        maps[cid] = ribfrac_case(g, p, rng.random(k).round(2))
    with_masks = EvaluationInput(preds, gt, ("fracture",), extra={"ribfrac_cases": maps})
    rib = get_metric("ribfrac").score(get_metric("ribfrac").match(with_masks))
    assert rib.details["iou_source"] == "masks"
    if sum(c.n_gt for c in maps.values()):
        assert rib.value == ribfrac_froc(list(maps.values())).score
