"""The evaluation notebook runs top to bottom (when the corpus is beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "evaluate_corpus.ipynb"


@pytest.mark.corpus
def test_notebook_runs_top_to_bottom():
    if not (CORPUS / "labels.csv").is_file():
        pytest.skip("the shared corpus is not beside this checkout")
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    outputs = [
        o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "ROC AUC with a sent-log:" in text
