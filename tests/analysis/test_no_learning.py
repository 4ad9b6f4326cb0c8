"""The "no model learned" rule: the report and the ranking figures say so instead of drawing a tie at rank 1."""

from __future__ import annotations

import json

import pandas as pd

from analysis.figures import blob_figure, ranking_overview_figure
from analysis.learning import NO_LEARNING_MAP, learning_verdict
from analysis.report import run_analysis
from analysis.synthetic_store import build_synthetic_store

MODELS = [("retina_unet", "default"), ("retina_unet", "fixed"), ("classical", "none")]


def _texts(fig) -> list[str]:  # noqa: ANN001
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_verdict_tolerance_and_references():
    rows = [("S01", "retina_unet", "default", 0.009), ("S01", "retina_unet", "fixed", 0.0),
            ("S01", "classical", "none", 0.6), ("S02", "retina_unet", "default", 0.011),
            ("S02", "retina_unet", "fixed", 0.0), ("S02", "classical", "none", 0.0)]
    full = pd.DataFrame(rows, columns=["dataset", "architecture", "pretraining", "value"]).assign(metric="map@0.1")
    verdict = learning_verdict(full, "tiny")
    assert NO_LEARNING_MAP == 0.01
    assert verdict.datasets == ("S01",) and not verdict.everywhere  # the classical 0.6 does not count
    assert verdict.message == "no model learned on S01: profile tiny"
    everywhere = learning_verdict(full[full["dataset"] == "S01"], "tiny")
    assert everywhere.everywhere and everywhere.message == "no model learned: profile tiny"


def test_report_and_figures_say_no_model_learned(tmp_path):
    store = build_synthetic_store(tmp_path / "store", models=MODELS, unlearned=("S01", "S03", "S06"))
    result, _ = run_analysis(store, n_replicates=30, statistics=False)
    out = tmp_path / "store" / "analysis" / "synthetic_seed0"
    assert result.learning.everywhere
    readme = (out / "README.md").read_text()
    assert "**no model learned: profile synthetic**" in readme.splitlines()[2]
    summary = json.loads((out / "summary.json").read_text())["no_model_learned"]
    assert summary["message"] == "no model learned: profile synthetic" and summary["datasets"] == ["S01", "S03", "S06"]
    fig = ranking_overview_figure(result.replicates, result.deltas, note=result.learning.message)
    assert "no model learned: profile synthetic" in _texts(fig)
    assert not any(ax.patches or ax.lines for ax in fig.axes)  # no boxes, no tie drawn
    assert "no model learned: profile synthetic" in _texts(blob_figure(result.replicates, note=result.learning.message))
    # without the note the same frames draw a ranking (every learned model tied near rank 1)
    drawn = ranking_overview_figure(result.replicates, result.deltas)
    assert any(ax.patches for ax in drawn.axes) and "no model learned: profile synthetic" not in _texts(drawn)


def test_models_that_learned_get_no_verdict(tmp_path):
    store = build_synthetic_store(tmp_path / "store", models=MODELS, unlearned=("S03",))
    result, _ = run_analysis(store, n_replicates=30, statistics=False)
    assert result.learning.datasets == ("S03",) and not result.learning.everywhere
    readme = (tmp_path / "store" / "analysis" / "synthetic_seed0" / "README.md").read_text()
    assert "no model learned on S03: profile synthetic" in readme
    learned = build_synthetic_store(tmp_path / "other", models=MODELS)
    result, _ = run_analysis(learned, n_replicates=30, statistics=False)
    assert result.learning.message == "" and "no model learned" not in (
        tmp_path / "other" / "analysis" / "synthetic_seed0" / "README.md"
    ).read_text()
