"""Every example notebook runs headlessly, top to bottom, without an error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLES, execute_notebook

NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_examples() -> None:
    assert NOTEBOOKS, "example_notebooks/ must hold at least the quick-start notebook"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_example_notebook_runs(path: Path, tmp_path: Path) -> None:
    work = tmp_path / "nb"
    shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns(".mlops", ".ipynb_checkpoints"))
    nb = execute_notebook(
        work / path.name, work, env={"MLOPS_JUPYTER_STORE": str(work / ".mlops" / "lineage.db")}
    )
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors
    assert (work / ".mlops" / "lineage.db").exists()
