"""Figures render headless and are written as PNG and PDF."""

from __future__ import annotations

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
