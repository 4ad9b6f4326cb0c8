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


def test_several_training_seeds_are_averaged_and_their_spread_enters_the_bands(tmp_path, fraction_runs):
    """Mean over seeds, seed sd beside it; the two-level bootstrap (images and seeds) reduces to the image
    bootstrap when every seed predicted the same, and widens the band when the seeds differ."""
    from analysis.lowdata import bootstrap_fractions, learning_curves, lowdata_runs

    keys = ["dataset", "architecture", "pretraining", "metric", "fraction"]
    root = fraction_runs(tmp_path / "seeds", datasets=("S01",), seeds=(0, 1, 2), seed_effect=3.0)
    runs = lowdata_runs(root, "cpu")
    assert sorted(set(runs["seed"])) == [0, 1, 2] and set(lowdata_runs(root, "cpu", seed=1)["seed"]) == {1}
    full, rep = bootstrap_fractions(runs, 200, 0)
    curves = learning_curves(full, rep).set_index(keys)
    singles = [bootstrap_fractions(runs[runs["seed"] == k], 200, 0) for k in (0, 1, 2)]
    per_seed = np.stack([learning_curves(*s).set_index(keys)["value"].reindex(curves.index).to_numpy()
                         for s in singles])
    np.testing.assert_allclose(curves["value"], per_seed.mean(axis=0))
    np.testing.assert_allclose(curves["seed_sd"], per_seed.std(axis=0, ddof=1))
    assert (curves["n_seeds"] == 3).all()
    assert (per_seed.std(axis=0) > 0).all()  # the seeds really differ
    # the same test-image draws for every seed: their mean replicate by replicate is the image-only bootstrap of
    # the seed mean; resampling the seeds as well adds the seed spread to it
    image_only = pd.concat([s[1] for s in singles]).groupby([*keys, "replicate"])["value"].mean()
    spread_image_only = image_only.groupby(keys).std().reindex(curves.index)
    spread_two_level = rep.groupby(keys)["value"].std().reindex(curves.index)
    assert (spread_two_level > spread_image_only).all()

    same = fraction_runs(tmp_path / "same", datasets=("S01",), seeds=(0, 1, 2), seed_effect=0.0)
    runs = lowdata_runs(same, "cpu")
    three = learning_curves(*bootstrap_fractions(runs, 200, 0)).set_index(keys)
    one = learning_curves(*bootstrap_fractions(runs[runs["seed"] == 0], 200, 0)).set_index(keys).reindex(three.index)
    for column in ("value", "lo", "hi"):
        np.testing.assert_allclose(three[column], one[column])
    assert np.isnan(one["seed_sd"]).all() and (one["n_seeds"] == 1).all()
    report = write_lowdata(same, tmp_path / "out", n_replicates=20, figures=False)[-1]
    assert "| seeds | seed sd |" in report.read_text(encoding="utf-8")


def _frames(gain_low, gain_full, spread):
    """full / replicate frames of one dataset and architecture: fixed at 0.5 everywhere, mae shifted by the gains;
    replicate r moves mae's low-fraction value by ``spread * (r - 4.5)``."""
    full, rep = [], []
    for fraction, gain in ((0.1, gain_low), (1.0, gain_full)):
        for pre, value in (("fixed", 0.5), ("mae", 0.5 + gain)):
            key = {"dataset": "S01", "architecture": "a", "pretraining": pre, "fraction": fraction, "metric": "map@0.1"}
            full.append({**key, "value": value})
            for r in range(10):
                shift = spread * (r - 4.5) if (pre == "mae" and fraction == 0.1) else 0.0
                rep.append({**key, "replicate": r, "value": value + shift})
    return pd.DataFrame(full), pd.DataFrame(rep)


@pytest.mark.parametrize(
    ("gain_low", "gain_full", "spread", "verdict"),
    [(0.20, 0.05, 0.01, "more at low fractions"), (0.0, 0.10, 0.01, "less at low fractions"),
     (0.10, 0.05, 0.05, "not resolved")],
)
def test_low_fraction_contrast_says_whether_pretraining_helps_more_with_few_labels(gain_low, gain_full, spread,
                                                                                     verdict):
    from analysis.lowdata import contrast_markdown, low_fraction_contrast

    contrast = low_fraction_contrast(*_frames(gain_low, gain_full, spread))
    assert len(contrast) == 1
    row = contrast.iloc[0]
    assert row["difference"] == pytest.approx(gain_low - gain_full) and row["low_fraction"] == 0.1
    diffs = gain_low - gain_full + spread * (np.arange(10) - 4.5)
    assert (row["lo"], row["hi"]) == pytest.approx((np.percentile(diffs, 2.5), np.percentile(diffs, 97.5)))
    assert row["verdict"] == verdict and f"**{verdict}**" in contrast_markdown(contrast)


def test_the_report_leads_with_the_low_fraction_verdicts(tmp_path, fraction_runs):
    root = fraction_runs(tmp_path / "store")
    write_lowdata(root, tmp_path / "out", n_replicates=20, figures=False)
    contrast = pd.read_csv(tmp_path / "out" / "low_fraction_contrast.csv")
    assert len(contrast) == 3 * 2 and set(contrast["low_fraction"]) == {0.1}  # S01, S06, mean x two metrics
    assert contrast["verdict"].isin(["more at low fractions", "less at low fractions", "not resolved"]).all()
    text = (tmp_path / "out" / "lowdata.md").read_text(encoding="utf-8")
    assert text.index("Does pre-training help more at low fractions?") < text.index("Learning curves")
