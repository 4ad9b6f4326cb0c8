"""Figures render headless and are written as PNG and PDF."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import figures
from analysis.bootstrap import bootstrap_store
from analysis.ranking import baseline_deltas
from analysis.store import open_store


@pytest.fixture(scope="module")
def boot(tiny_store):
    result = bootstrap_store(open_store(tiny_store), n_replicates=30, seed=0)
    return result, baseline_deltas(result.full, result.replicates)


def test_figures_are_written_as_png_and_pdf(boot, tmp_path):
    result, deltas = boot
    made = {
        "fig2": figures.ranking_overview_figure(result.replicates, deltas, "map@0.1"),
        "fig3": figures.per_dataset_figure(result.replicates, deltas, "froc@0.1"),
        "blob": figures.blob_figure(result.replicates, "map@0.1"),
        "blob_s03": figures.blob_figure(result.replicates, "map@0.1", dataset="S03"),
    }
    for name, fig in made.items():
        paths = figures.save_figure(fig, tmp_path / name)
        assert [p.suffix for p in paths] == [".png", ".pdf"]
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:4] == b"%PDF"
    # one rank panel and one delta panel per dataset in Fig. 3; 1 + 2 panels in Fig. 2
    assert len(made["fig3"].axes) == 2 * 3 and len(made["fig2"].axes) == 3
    labels = [t.get_text() for t in made["fig2"].axes[0].get_yticklabels()]
    assert "RetUNet · MAE" in labels and "ResEnc-DefDETR · VoCo" in labels


def test_figure_errors(boot, tmp_path):
    result, deltas = boot
    with pytest.raises(ValueError, match="no replicates"):
        figures.per_dataset_figure(result.replicates, deltas, "auc")
    with pytest.raises(ValueError, match="png, pdf"):
        figures.save_figure(figures.blob_figure(result.replicates), tmp_path / "x", formats=("svg",))


def _cut_off(fig) -> list[str]:
    """Texts of ``fig`` (titles, axis labels, drawn tick labels) that reach outside the figure after drawing."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    inside = lambda e: (e.x0 >= box.x0 - 0.5 and e.y0 >= box.y0 - 0.5  # noqa: E731
                        and e.x1 <= box.x1 + 0.5 and e.y1 <= box.y1 + 0.5)
    bad = []
    for ax in fig.axes:
        texts = [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        for t in texts:
            if t.get_text() and t.get_visible() and not inside(t.get_window_extent(renderer)):
                bad.append(t.get_text())
        if not inside(ax.get_tightbbox(renderer)):  # everything the axes draws, tick labels included
            bad.append(f"axes {ax.get_title(loc='left') or ax.get_title()!r}")
    return bad


@pytest.fixture(scope="module", params=[1, 2, 3], ids=lambda n: f"{n}_models")
def few_models(request, tmp_path_factory):
    from analysis.synthetic_store import build_synthetic_store

    models = (("retina_unet", "default"), ("resenc_deformable_detr", "default"), ("retina_unet", "mae"))
    root = build_synthetic_store(tmp_path_factory.mktemp("few") / "store", ("S01", "S03"), models[: request.param],
                                 n_images=12)
    result = bootstrap_store(open_store(root), n_replicates=10, seed=0)
    return request.param, result.replicates, baseline_deltas(result.full, result.replicates)


def test_titles_and_labels_are_inside_the_figure_with_few_models(few_models):
    n, replicates, deltas = few_models
    made = {
        "blob": figures.blob_figure(replicates, "map@0.1"),
        "blob_s01": figures.blob_figure(replicates, "froc@0.1", dataset="S01"),
        "fig2": figures.ranking_overview_figure(replicates, deltas, "map@0.1"),
        "fig3": figures.per_dataset_figure(replicates, deltas, "froc@0.1"),
    }
    for name, fig in made.items():
        assert len(fig.axes[0].get_yticklabels()) == n
        assert _cut_off(fig) == [], name
    assert made["blob"].axes[0].get_title() == "Consensus rank across datasets (mAP@0.1)"


def test_delta_bars_draw_an_interval_that_excludes_the_full_data_delta(boot):
    """A percentile interval of the replicates need not contain the full-data delta (small test sets)."""
    result, deltas = boot
    shifted = deltas.copy()
    row = shifted.index[(shifted["dataset"] == "mean") & shifted["ci_low"].notna()][0]
    shifted.loc[row, ["ci_low", "ci_high"]] = shifted.loc[row, "delta"] + np.array([0.01, 0.02])
    fig = figures.ranking_overview_figure(result.replicates, shifted, "map@0.1")
    segments = [c for ax in fig.axes[1:] for c in ax.collections if c.get_segments()]
    lows = sorted(round(float(seg[0][0]), 6) for c in segments for seg in c.get_segments())
    assert round(float(shifted.loc[row, "ci_low"]) * 100, 6) in lows


def test_delta_panel_says_so_when_the_store_has_no_baseline_runs(boot):
    """A store without the baseline's runs (e.g. `--pretraining fixed` only) gets a note, not an empty panel."""
    result, _ = boot
    no_baseline = baseline_deltas(result.full, result.replicates, "no_such_pretraining")
    fig = figures.ranking_overview_figure(result.replicates, no_baseline, "map@0.1")
    texts = [t.get_text() for ax in fig.axes[1:] for t in ax.texts]
    assert len(texts) == 2 and all("no baseline runs" in t for t in texts)
    with_baseline = figures.ranking_overview_figure(result.replicates, boot[1], "map@0.1")
    assert not [t for ax in with_baseline.axes[1:] for t in ax.texts]
