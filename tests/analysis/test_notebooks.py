"""The notebooks execute on tiny synthetic stores and are stored without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("reproduce_analysis.ipynb", "compare_with_reported.ipynb")
PAPER = "paper_tables_and_figures.ipynb"


@pytest.mark.parametrize("name", (*NAMES, PAPER, "low_data_regimes.ipynb"))
def test_notebook_is_stored_without_outputs(name):
    nb = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def _execute(name, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    return nb


def _text(cell) -> str:
    """Everything a code cell displayed (streams, text/plain and text/markdown)."""
    parts = []
    for o in cell.outputs:
        if o.output_type == "stream":
            parts.append(o.text)
        elif "data" in o:
            parts += [o.data.get("text/plain", ""), o.data.get("text/markdown", "")]
    return "\n".join(parts)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("DETBENCH_REPLICATES", "30")
    monkeypatch.setenv("DETBENCH_OUT", str(tmp_path / "analysis"))
    if name == "reproduce_analysis.ipynb":
        monkeypatch.setenv("DETBENCH_STORE", str(tiny_store))
    else:
        monkeypatch.delenv("DETBENCH_STORE", raising=False)  # the notebook builds its own store with a new method
    nb = _execute(name, tmp_path)
    shown = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    # both stores hold synthetic twins only: nothing is put beside the paper's real-data results
    assert "not applicable: synthetic twins are not comparable with the paper's real-data results" in shown
    assert "(new)" not in shown and "comparison_table" not in shown
    if name == "reproduce_analysis.ipynb":
        assert (tmp_path / "analysis" / "tables" / "table3.md").is_file()
        assert (tmp_path / "analysis" / "figures" / "fig2_ranking_overview_map.png").is_file()
        assert not (tmp_path / "analysis" / "comparison_with_reported.csv").exists()
        assert "| S01 | synthetic twin | D01 |" in shown  # the README: what the store holds


def test_compare_notebook_compares_real_datasets_only(mixed_store, tmp_path, monkeypatch):
    """A store with a real D01 and twins S01, S03: the comparison shows D01 and never a twin."""
    monkeypatch.setenv("DETBENCH_REPLICATES", "20")
    monkeypatch.setenv("DETBENCH_STORE", str(mixed_store))
    monkeypatch.setenv("DETBENCH_NEW_MODELS", "retina_unet__mae")
    nb = _execute("compare_with_reported.ipynb", tmp_path)
    (table_cell,) = [c for c in nb.cells if c.cell_type == "code" and "comparison_table(full" in c.source]
    table = _text(table_cell)
    assert "(new)" in table and "D01" in table and "S01" not in table and "S03" not in table
    (ranks_cell,) = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("rows = []")]
    ranks = _text(ranks_cell)
    assert "retina_unet__mae" in ranks and "D01" in ranks and "S0" not in ranks


def _execute_on_store(name, store, tmp_path, monkeypatch):
    """Check that the store path sits in the first cell, run the notebook on ``store`` (20 replicates) and
    return it with everything its code cells displayed."""
    first = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"][0]
    assert first["cell_type"] == "code" and "STORE =" in "".join(first["source"])
    monkeypatch.setenv("DETBENCH_STORE", str(store))
    monkeypatch.setenv("DETBENCH_REPLICATES", "20")
    nb = _execute(name, tmp_path)
    return nb, "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")


def test_paper_notebook_reproduces_tables_and_figures(tiny_store, tmp_path, monkeypatch):
    """Store path in the first cell (overridden by DETBENCH_STORE); Table 2/3 layouts, Fig. 2/3 and the
    challengeR-style statistics are shown inline."""
    nb, shown = _execute_on_store(PAPER, tiny_store, tmp_path, monkeypatch)
    assert "**map@0.1**" in shown and "**froc@0.1**" in shown  # both Table 2 layouts
    assert "Mean Rank" in shown and "rank_then_aggregate" in shown
    pngs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 2 + 1 + 4  # Fig. 2 per metric, Fig. 3, four challengeR figures


LOWDATA = "low_data_regimes.ipynb"


def _pngs(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_lowdata_notebook_shows_curves_gains_and_label_efficiency(fraction_store, tmp_path, monkeypatch):
    """A store of 2 datasets x 2 ResEnc detectors x {fixed, mae} x 4 fractions: the learning-curve and gain
    figures, and the three tables with the pre-trained rows; the store path sits in the first cell."""
    nb, shown = _execute_on_store(LOWDATA, fraction_store, tmp_path, monkeypatch)
    assert "training fractions 0.1, 0.25, 0.5, 1" in shown and "one training fraction only" not in shown
    assert _pngs(nb) == 2  # the learning curves and the gain per fraction
    assert "Learning curves (value: mean over the training seeds; 95% band over test images and seeds" in shown
    assert "Does pre-training help more at low fractions?" in shown
    assert "| S01 | resenc_deformable_detr__mae | froc@0.1 | 0.25 |" in shown and "| mean | resenc_retina_unet" in shown
    assert "Gain of pre-training over `fixed`" in shown
    assert "| S06 | resenc_retina_unet | mae | map@0.1 | 0.1 |" in shown
    (efficiency_cell,) = [c for c in nb.cells if c.cell_type == "code" and "efficiency_markdown" in c.source]
    efficiency = _text(efficiency_cell)
    for arch in ("resenc_retina_unet", "resenc_deformable_detr"):
        for dataset in ("S01", "S06", "mean"):
            assert f"| {dataset} | {arch} | mae | map@0.1 |" in efficiency
    assert "| fixed |" not in efficiency  # the scratch model is the target, not a row


def test_lowdata_notebook_says_so_on_one_fraction(one_fraction_store, tmp_path, monkeypatch):
    """Full-data runs only: a plain message in every section, no figure, no error."""
    monkeypatch.setenv("DETBENCH_STORE", str(one_fraction_store))
    monkeypatch.setenv("DETBENCH_REPLICATES", "5")
    nb = _execute(LOWDATA, tmp_path)
    message = "This store holds runs of one training fraction only (1): there is no learning curve"
    sections = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("if ")]
    assert len(sections) == 3 and all(message in _text(c) for c in sections)
    assert _pngs(nb) == 0 and "--fractions 0.1,0.25,0.5,1.0" in _text(sections[0])
