"""Data-efficiency analysis on a tiny synthetic store: curves with bands, gains, label efficiency, no mixing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.lowdata import _crossing, has_lowdata, write_lowdata
from analysis.store import open_store


def test_crossing_interpolates_and_reports_not_reached():
    f = np.array([0.1, 0.5, 1.0])
    assert _crossing(f, np.array([0.2, 0.4, 0.6]), 0.3) == pytest.approx(0.3)
    assert _crossing(f, np.array([0.5, 0.6, 0.7]), 0.3) == pytest.approx(0.1)
    assert _crossing(f, np.array([0.1, 0.2, 0.25]), 0.3) == float("inf")


def test_lowdata_report_and_the_rankings_keep_full_data_only(tmp_path, fraction_runs):
    root = fraction_runs(tmp_path / "store")
    assert has_lowdata(root)
    store = open_store(root)  # the main analysis: one run per model, the full-data ones
    assert len(store.runs) == 4 and (store.runs["options"] == "{}").all()
    written = write_lowdata(root, tmp_path / "out", n_replicates=20, figures=True)
    assert {p.name for p in written} >= {"learning_curves.csv", "gain.csv", "label_efficiency.csv", "lowdata.md",
                                          "learning_curves.png"}
    curves = pd.read_csv(tmp_path / "out" / "learning_curves.csv")
    assert set(curves["fraction"]) == {0.1, 0.5, 1.0} and set(curves["dataset"]) == {"S01", "S06", "mean"}
    assert ((curves["lo"] <= curves["value"] + 1e-9) & (curves["value"] <= curves["hi"] + 1e-9)).mean() > 0.8
    gains = pd.read_csv(tmp_path / "out" / "gain.csv")
    assert set(gains["pretraining"]) == {"mae"} and len(gains) == 3 * 3 * 2  # datasets+mean x fractions x metrics
    efficiency = pd.read_csv(tmp_path / "out" / "label_efficiency.csv")
    assert len(efficiency) == 3 * 2 and efficiency["reached_share"].between(0, 1).all()
    assert "Label efficiency" in (tmp_path / "out" / "lowdata.md").read_text()


def test_a_store_of_one_fraction_has_no_lowdata_report(tmp_path, fraction_runs):
    root = fraction_runs(tmp_path / "store", fractions=(1.0,))
    assert not has_lowdata(root)
    with pytest.raises(ValueError, match="several training fractions"):
        write_lowdata(root, tmp_path / "out", n_replicates=5)


def test_scratch_only_curves_have_empty_gain_and_efficiency_tables(tmp_path, fraction_runs):
    root = fraction_runs(tmp_path / "store", models=(("resenc_retina_unet", "fixed"),))
    write_lowdata(root, tmp_path / "out", n_replicates=5, figures=False)
    assert pd.read_csv(tmp_path / "out" / "gain.csv").empty
    assert len(pd.read_csv(tmp_path / "out" / "learning_curves.csv")) == 3 * 3 * 2
