"""The notebooks in ``notebooks/`` run from top to bottom (their cells
assert the claims their text makes), executed with nbclient in a fresh
kernel whose working directory is ``notebooks/``. The committed copies keep
their outputs, so that the pictures show when browsing; this test runs them
again and fails on any error."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="optional dependency; the test extra installs it and test_optional_dependencies.py fails where that extra is incomplete")
nbclient = pytest.importorskip("nbclient", reason="optional dependency; the test extra installs it and test_optional_dependencies.py fails where that extra is incomplete")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
