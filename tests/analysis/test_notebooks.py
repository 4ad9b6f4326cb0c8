"""The two notebooks execute on a tiny synthetic store and are stored without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("reproduce_analysis.ipynb", "compare_with_reported.ipynb")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    nb = json.loads((NOTEBOOKS / name).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, tiny_store, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("DETBENCH_REPLICATES", "30")
    monkeypatch.setenv("DETBENCH_OUT", str(tmp_path / "analysis"))
    if name == "reproduce_analysis.ipynb":
        monkeypatch.setenv("DETBENCH_STORE", str(tiny_store))
    else:
        monkeypatch.delenv("DETBENCH_STORE", raising=False)  # the notebook builds its own store with a new method
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if name == "reproduce_analysis.ipynb":
        assert (tmp_path / "analysis" / "tables" / "table3.md").is_file()
        assert (tmp_path / "analysis" / "figures" / "fig2_ranking_overview_map.png").is_file()
