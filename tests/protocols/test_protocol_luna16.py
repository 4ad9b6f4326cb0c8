"""LUNA16 protocol pinned to the official ``noduleCADEvaluationLUNA16.py`` and to a plain-loop reference.

Expected numbers marked "official" come from running the LUNA16 evaluation script (Python 3 copy in
uci-cbcl/NoduleNet @ feffef3, logic identical to wentaozhu/DeepLung @ fe40fc7; only its trailing SANet-style
print block removed, matplotlib calls updated) with scikit-learn 1.9.1 and numpy 2.4.6 on these inputs, with
``maxNumberOfCADMarks=100``; the CPM is ``mean(np.interp(rates, fps, sens))`` on the curve it returns.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.core.conventions import Geometry, world_to_voxel
from benchmark.metrics.protocols.luna16 import (
    LUNA16_RATES,
    candidates_from_boxes,
    luna16_froc,
    luna16_froc_files,
)

DATA = Path(__file__).parent / "data"
CAND = ["seriesuid", "coordX", "coordY", "coordZ", "probability"]
ANN = ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]


def frames(cands, ann, uids, exc):
    """``luna16_froc``'s positional arguments: candidates, annotations, series ids, excluded findings."""
    return pd.DataFrame(cands, columns=CAND), pd.DataFrame(ann, columns=ANN), uids, pd.DataFrame(exc, columns=ANN)


def mix_case():
    cands = [
        ["s1", 1.0, 0.0, 0.0, 0.9],  # hits A
        ["s1", 0.0, 2.0, 0.0, 0.6],  # second hit on A: neither TP nor FP
        ["s1", 5.0, 0.0, 0.0, 0.95],  # exactly at the radius: FP (strict <)
        ["s1", 52.0, 50.0, 50.0, 0.97],  # on an irrelevant finding (diameter -1 -> 10 mm): ignored
        ["s1", 100.0, 0.0, 0.0, 0.3],
        ["s2", 40.0, 40.0, 40.0, 0.8],
        ["s2", 41.0, 40.0, 40.0, 0.8],  # tied FP
        ["s5", 1.0, 0.0, 0.0, 0.5],  # hits nodules D and G and an irrelevant finding: TP for both
        ["s5", 30.0, 0.0, 0.0, 0.7],
        ["zz", 0.0, 0.0, 0.0, 0.99],  # scan not in the evaluated list
    ]
    ann = [
        ["s1", 0.0, 0.0, 0.0, 10.0],
        ["s2", 10.0, 10.0, 10.0, 6.0],
        ["s3", 0.0, 0.0, 0.0, 4.0],  # scan without candidates
        ["s5", 0.0, 0.0, 0.0, 8.0],
        ["s5", 2.0, 0.0, 0.0, 8.0],
        ["zz", 0.0, 0.0, 0.0, 8.0],
    ]
    exc = [["s1", 50.0, 50.0, 50.0, -1], ["s5", 1.0, 0.0, 0.0, -1]]
    return frames(cands, ann, ["s1", "s2", "s3", "s4", "s5"], exc)


def cap_case():
    cands = [["t1", 200.0 + 3.0 * (98 - i), 0.0, 0.0, round(0.5 + i * 0.001, 6)] for i in range(99)]
    cands += [["t1", 0.1 * i, 0.0, 0.0, 0.2] for i in range(4)]  # tied with the 101st: all dropped
    cands += [["t2", 0.01 * i, 0.0, 0.0, 0.5] for i in range(101)]  # 101 tied: the whole scan is dropped
    cands += [["t3", 0.0, 0.0, 0.0, 0.4], ["t3", 90.0, 0.0, 0.0, 0.45]]
    ann = [
        ["t1", 0.0, 0.0, 0.0, 6.0],
        ["t1", 200.0, 0.0, 0.0, 4.0],
        ["t2", 0.0, 0.0, 0.0, 6.0],
        ["t3", 0.0, 0.0, 0.0, 6.0],
    ]
    return frames(cands, ann, ["t1", "t2", "t3"], [])


def random_case():
    case = json.loads((DATA / "luna16_random.json").read_text())
    return frames(case["candidates"], case["annotations"], case["uids"], case["excluded"])


def test_mix_matches_official_script():
    r = luna16_froc(*mix_case())
    # official: froc curve, interpolated sensitivities, CADAnalysis.txt counts
    np.testing.assert_array_equal(r.fps, [0.0, 0.2, 0.2, 0.6, 0.8, 0.8, 1.0])
    np.testing.assert_array_equal(r.sensitivity, [0.0, 0.0, 0.2, 0.2, 0.2, 0.6, 0.6])
    assert r.sensitivities == (0.0, 0.2, 0.2, 0.6, 0.6, 0.6, 0.6)
    assert r.score == 0.4
    assert (r.n_lesions, r.n_detected, r.n_false_positives) == (5, 3, 5)
    assert r.details["n_candidates"] == 9
    assert r.details["ignored_on_excluded"] == 1
    assert r.details["double_hits_ignored"] == 1


def test_cap_drops_every_candidate_tied_with_the_101st():
    r = luna16_froc(*cap_case())
    # official: fps [0, 0, 33, 33], sens [0, .25, .25, .5], CPM 0.25; TP 2, FP 99, 101 candidates kept
    np.testing.assert_array_equal(r.fps, [0.0, 0.0, 33.0, 33.0])
    np.testing.assert_array_equal(r.sensitivity, [0.0, 0.25, 0.25, 0.5])
    assert r.score == 0.25
    assert (r.n_detected, r.n_false_positives, r.details["n_candidates"]) == (2, 99, 101)
    uncapped = luna16_froc(*cap_case(), max_candidates=None)
    assert uncapped.n_detected == 4


def test_no_false_positive_gives_flat_zero_fp_curve():
    r = luna16_froc(
        *frames(
            [["a", 0.0, 0.0, 0.0, 0.9], ["b", 0.0, 0.0, 0.0, 0.4]],
            [["a", 0.0, 0.0, 0.0, 6.0], ["b", 0.0, 0.0, 0.0, 6.0], ["b", 50.0, 0.0, 0.0, 6.0]],
            ["a", "b", "c"],
            [],
        )
    )
    # official: fps [0, 0, 0], sens [0, 1/3, 2/3], every rate 2/3
    np.testing.assert_array_equal(r.fps, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(r.sensitivity, [0.0, 1 / 3, 2 / 3])
    assert r.score == 2 / 3


def test_random_case_matches_official_script():
    r = luna16_froc(*random_case())
    # official (25 scans, 40 nodules, 60 irrelevant findings, 700 candidates with 2-digit probabilities)
    assert r.sensitivities == (0.009375000000000007, 0.080625, 0.09625, 0.15, 0.15, 0.2388888888888889, 0.625)
    assert r.score == 0.19287698412698415
    assert r.fps.size == 93
    assert (r.n_detected, r.n_false_positives) == (34, 541)
    assert (r.details["ignored_on_excluded"], r.details["double_hits_ignored"]) == (39, 86)


def test_bootstrap_matches_official_script_with_the_same_draws():
    r = luna16_froc(*random_case(), n_bootstraps=50, rng=np.random.default_rng(7))
    # official: computeFROC_bootstrap with np.random.randint replaced by default_rng(7).integers, 50 samples;
    # grid indices 0, 999, ..., 9990 of linspace(0.125, 8, 10000)
    idx = np.arange(0, 10000, 999)
    mean = [0.03490927815437317, 0.12992951273918152, 0.1379464864730835, 0.15374809503555298, 0.20022010803222656,
            0.23908627033233643, 0.3365156054496765, 0.4486253261566162, 0.5104649662971497, 0.5748101472854614,
            0.6045736074447632]  # fmt: skip
    lower = [0.0, 0.04752914234995842, 0.0476190485060215, 0.0497514046728611, 0.11627907305955887,
             0.1463414579629898, 0.1860465109348297, 0.23076923191547394, 0.31918779015541077, 0.3589743673801422,
             0.4146341383457184]  # fmt: skip
    upper = [0.12950082123279572, 0.23076923191547394, 0.23076923191547394, 0.23076923191547394,
             0.31111112236976624, 0.4000000059604645, 0.5, 0.6163695454597473, 0.6666666865348816,
             0.7179487347602844, 0.7446808218955994]  # fmt: skip
    b = r.bootstrap
    np.testing.assert_allclose(b.mean[idx], mean, atol=1e-6)  # the script averages in float32
    np.testing.assert_array_equal(b.lower[idx], lower)
    np.testing.assert_array_equal(b.upper[idx], upper)
    assert b.rate_lower[3] <= b.rate_mean[3] <= b.rate_upper[3]
    assert b.score_lower <= b.score_mean <= b.score_upper
    again = luna16_froc(*random_case(), n_bootstraps=50, rng=7)
    assert again.bootstrap.score_mean == b.score_mean


def test_deviations_where_the_script_fails():
    cands, ann, uids, exc = mix_case()
    empty = luna16_froc(cands.iloc[:0], ann, uids, exc)  # the script crashes in roc_curve
    assert empty.score == 0.0 and empty.n_false_positives == 0
    far = pd.DataFrame([["s1", 300.0, 0.0, 0.0, 0.5], ["s2", 300.0, 0.0, 0.0, 0.7]], columns=CAND)
    nohit = luna16_froc(far, ann, uids, exc)  # the script returns NaN sensitivities
    assert nohit.sensitivities == (0.0,) * 7
    with pytest.raises(ValueError, match="no included nodule"):
        luna16_froc(cands, ann.iloc[:0], uids, exc)


def test_input_validation():
    cands, ann, uids, exc = mix_case()
    with pytest.raises(ValueError, match="lacks columns"):
        luna16_froc(cands.drop(columns="probability"), ann, uids, exc)
    with pytest.raises(ValueError, match="duplicates"):
        luna16_froc(cands, ann, [*uids, "s1"], exc)
    with pytest.raises(ValueError, match="max_candidates"):
        luna16_froc(cands, ann, uids, exc, max_candidates=0)
    with pytest.raises(ValueError, match="rng"):
        luna16_froc(cands, ann, uids, exc, n_bootstraps=5)
    with pytest.raises(ValueError, match="finite"):
        luna16_froc(cands.assign(probability=np.nan), ann, uids, exc)


def _reference_cpm(cands, ann, exc, uids, cap=100):
    """A plain per-scan loop written from the protocol text, with its own FROC construction."""
    best, fps, n_nodules = [], [], 0
    for uid in uids:
        c = cands[cands.seriesuid == uid]
        if len(c) > cap:
            thr = sorted(c.probability, reverse=True)[cap]
            c = c[c.probability > thr]
        findings = [(r, True) for r in ann[ann.seriesuid == uid].itertuples()]
        findings += [(r, False) for r in exc[exc.seriesuid == uid].itertuples()]
        used = set()
        for f, included in findings:
            r2 = ((f.diameter_mm if f.diameter_mm >= 0 else 10.0) / 2) ** 2
            hits = [k for k in c.itertuples() if (f.coordX - k.coordX) ** 2 + (f.coordY - k.coordY) ** 2
                    + (f.coordZ - k.coordZ) ** 2 < r2]  # fmt: skip
            used.update(k.Index for k in hits)
            if included:
                n_nodules += 1
                best.append(max((k.probability for k in hits), default=-np.inf))
        fps += [k.probability for k in c.itertuples() if k.Index not in used]
    best, fps = np.array(best), np.array(fps)
    levels = np.unique(np.r_[best[np.isfinite(best)], fps])[::-1]
    x = np.r_[0.0, [(fps >= t).sum() / len(uids) for t in levels]]
    y = np.r_[0.0, [(best >= t).sum() / n_nodules for t in levels]]
    return float(np.mean(np.interp(LUNA16_RATES, x, y)))


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_equals_plain_loop(seed):
    rng = np.random.default_rng(seed)
    uids = [f"u{i}" for i in range(6)]
    ann = pd.DataFrame(
        [[uids[rng.integers(6)], *rng.uniform(-30, 30, 3), rng.uniform(3, 15)] for _ in range(10)], columns=ANN
    )
    exc = pd.DataFrame([[uids[rng.integers(6)], *rng.uniform(-30, 30, 3), -1.0] for _ in range(8)], columns=ANN)
    rows = []
    for _ in range(int(rng.integers(0, 160))):
        src = ann if rng.random() < 0.5 else exc
        f = src.iloc[rng.integers(len(src))]
        near = rng.random() < 0.4
        xyz = np.array([f.coordX, f.coordY, f.coordZ]) + rng.normal(0, 3, 3) if near else rng.uniform(-30, 30, 3)
        rows.append([f.seriesuid if near else uids[rng.integers(6)], *xyz, round(float(rng.random()), 1)])
    cands = pd.DataFrame(rows, columns=CAND)
    got = luna16_froc(cands, ann, uids, exc, max_candidates=20).score
    assert got == pytest.approx(_reference_cpm(cands, ann, exc, uids, cap=20), abs=1e-12)


def test_files_and_candidates_from_boxes(tmp_path):
    geometry = Geometry((40, 50, 60), (0.7, 0.7, 1.25), (-100.0, -50.0, -300.0))
    centre = world_to_voxel(np.array([[-90.0, -40.0, -280.0]]), geometry)[0]
    boxes = np.array([[*(centre - 2), *(centre + 2)], [1, 1, 1, 3, 3, 3]])
    cands = candidates_from_boxes("scan.1", boxes, [0.8, 0.3], geometry)
    np.testing.assert_allclose(cands.loc[0, ["coordX", "coordY", "coordZ"]].to_numpy(float), [-90, -40, -280])
    cands.to_csv(tmp_path / "results.csv", index=False)
    pd.DataFrame([["scan.1", -90.0, -40.0, -280.0, 5.0]], columns=ANN).to_csv(tmp_path / "ann.csv", index=False)
    pd.DataFrame(columns=ANN).to_csv(tmp_path / "exc.csv", index=False)
    (tmp_path / "uids.csv").write_text("scan.1\nscan.2\n")
    r = luna16_froc_files(tmp_path / "results.csv", tmp_path / "ann.csv", tmp_path / "exc.csv", tmp_path / "uids.csv")
    assert (r.n_scans, r.n_detected, r.n_false_positives) == (2, 1, 1)
    assert r.score == 1.0
