"""PN9 protocol pinned to SANet's evaluation script.

Expected numbers marked "official" come from running ``evaluationScript/noduleCADEvaluationLUNA16.py`` of
mj129/SANet @ 58d2042 (``maxNumberOfCADMarks=300``; matplotlib calls updated) with scikit-learn 1.9.1 and
numpy 2.4.6 on these inputs: its printed ``fps: r, sensitivity: s`` lines, ``average FROC`` and FROC curve.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.metrics.protocols.pn9 import pn9_froc, pn9_froc_files, pn9_sensitivity_at

DATA = Path(__file__).parent / "data"
CAND = ["pid", "center_x", "center_y", "center_z", "diameter", "probability"]
ANN = ["pid", "center_x", "center_y", "center_z", "diameter"]


def mix_case():
    cands = [
        ["1", 101.0, 100.0, 100.0, 5, 0.9],  # hits A
        ["1", 100.0, 103.0, 100.0, 5, 0.95],  # second hit on A, the best
        ["1", 105.0, 100.0, 100.0, 5, 0.99],  # exactly at the radius: FP
        ["1", 10.0, 10.0, 10.0, 5, 0.7],  # hits B
        ["3", 50.0, 50.0, 50.0, 5, 0.85],
    ]
    cands += [["3", 200.0 + 5 * i, 0.0, 0.0, 5, round(0.01 * (i % 10), 2)] for i in range(30)]
    ann = [["1", 100.0, 100.0, 100.0, 10], ["1", 10.5, 10.0, 10.0, 4], ["2", 30.0, 30.0, 30.0, 6]]
    return pd.DataFrame(cands, columns=CAND), pd.DataFrame(ann, columns=ANN), ["1", "2", "3"]


def cap_case():
    cands = [["7", 1000.0 + 4 * i, 0.0, 0.0, 5, round(0.3 + i * 0.002, 6)] for i in range(298)]
    cands += [
        ["7", 0.0, 0.0, 0.0, 5, 0.2],  # tied with the 301st, first in file order: kept, hits A
        ["7", 500.0, 0.0, 0.0, 5, 0.2 - 5e-9],  # within 1e-8 of the cut: kept as the 300th
        ["7", 100.0, 0.0, 0.0, 5, 0.2],  # tied, beyond 300 in file order: dropped (would hit B)
        ["7", 600.0, 0.0, 0.0, 5, 0.2],
        ["7", 700.0, 0.0, 0.0, 5, 0.1],
    ]
    cands += [["8", 5000.0 + 4 * i, 0.0, 0.0, 5, 0.5] for i in range(300)]
    cands += [["8", 0.0, 0.0, 0.0, 5, 0.5]]  # 301st of 301 tied: dropped (would hit C)
    ann = [["7", 0.0, 0.0, 0.0, 6], ["7", 100.0, 0.0, 0.0, 6], ["8", 0.0, 0.0, 0.0, 6], ["8", 5000.0, 0.0, 0.0, 2]]
    return pd.DataFrame(cands, columns=CAND), pd.DataFrame(ann, columns=ANN), ["7", "8"]


def test_mix_matches_official_script():
    r = pn9_froc(*mix_case())
    # official curve; the vertical step at 2/3 FP/scan is read at its top ("last index" rule)
    np.testing.assert_array_equal(r.fps, [0.0, 1 / 3, 1 / 3, 2 / 3, 2 / 3, 32 / 3])
    np.testing.assert_array_equal(r.sensitivity, [0.0, 0.0, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert r.sensitivities == (1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 2 / 3)  # official printed values
    assert r.score == 0.5714285714285714  # official "average FROC"
    assert (r.n_detected, r.n_false_positives, r.details["double_hits_ignored"]) == (2, 32, 1)


def test_cap_keeps_ties_in_file_order():
    r = pn9_froc(*cap_case())
    # official: TP 2, FP 598, 600 candidates kept; curve below; every rate 0
    np.testing.assert_array_equal(r.fps, [0.0, 0.5, 98.5, 248.5, 298.5, 298.5, 299.0])
    np.testing.assert_array_equal(r.sensitivity, [0.0, 0.0, 0.0, 0.25, 0.25, 0.5, 0.5])
    assert (r.n_detected, r.n_false_positives, r.details["n_candidates"]) == (2, 598, 600)
    assert r.score == 0.0


def test_random_case_matches_official_script():
    case = json.loads((DATA / "pn9_random.json").read_text())
    r = pn9_froc(pd.DataFrame(case["candidates"], columns=CAND), pd.DataFrame(case["annotations"], columns=ANN),
                 case["uids"])  # fmt: skip
    # official printed sensitivities and average FROC (20 scans, 45 nodules, 900 candidates)
    expected = (0.022222222222222223, 0.022222222222222223, 0.08888888888888889, 0.24444444444444444,
                0.3333333333333333, 0.4888888888888889, 0.6222222222222223)  # fmt: skip
    assert r.sensitivities == expected
    assert r.score == 0.26031746031746034
    assert r.fps.size == 98


def test_rate_beyond_the_curve_keeps_the_last_sensitivity():
    cands = pd.DataFrame([["1", 100.0, 100.0, 100.0, 5, 0.9], ["1", 0.0, 0.0, 0.0, 5, 0.5]], columns=CAND)
    ann = pd.DataFrame([["1", 100.0, 100.0, 100.0, 10], ["2", 0.0, 0.0, 0.0, 10]], columns=ANN)
    r = pn9_froc(cands, ann, ["1", "2"])  # the official script raises ValueError (max FP/scan 0.5 < 1)
    assert r.sensitivities == (0.5,) * 7
    assert pn9_sensitivity_at(np.array([0.0, 1.0, 1.0, 3.0]), np.array([0.0, 0.2, 0.4, 0.6]), 0.5) == 0.4


def test_integer_pids_and_files(tmp_path):
    cands, ann, pids = mix_case()
    r = pn9_froc(cands.assign(pid=cands.pid.astype(int)), ann, [1, 2, 3])
    assert r.score == 0.5714285714285714
    cands.to_csv(tmp_path / "res.csv", index=False)
    ann.to_csv(tmp_path / "anno.csv", index=False)
    (tmp_path / "test.txt").write_text("1\n2\n3\n")
    assert pn9_froc_files(tmp_path / "res.csv", tmp_path / "anno.csv", tmp_path / "test.txt").score == r.score
    with pytest.raises(ValueError, match="lacks columns"):
        pn9_froc(cands, ann.drop(columns="diameter"), pids)
