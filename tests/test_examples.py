"""The example notebooks run headlessly, top to bottom, without an error, one after the other
in one folder and one store, in either order: each uses its own experiment and names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLES, execute_notebook

NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def test_there_are_examples() -> None:
    assert NOTEBOOKS, "example_notebooks/ must hold at least the quick-start notebook"


def _errors(nb: object) -> list[str]:
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in nb.cells  # type: ignore[attr-defined]
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("order", ["sorted", "reversed"])
def test_examples_run_after_each_other_in_one_store(order: str, tmp_path: Path) -> None:
    work = tmp_path / "nb"
    shutil.copytree(EXAMPLES, work, ignore=shutil.ignore_patterns(".mlops", ".ipynb_checkpoints"))
    store = work / ".mlops" / "lineage.db"
    paths = NOTEBOOKS if order == "sorted" else NOTEBOOKS[::-1]
    executed = {}
    for path in paths:
        nb = execute_notebook(work / path.name, work, env={"MLOPS_JUPYTER_STORE": str(store)})
        assert not _errors(nb), (path.name, _errors(nb))
        executed[path.stem] = nb
    # the quick start ends with the comparison of its two runs: widget, static form, marker
    last = executed["quickstart"].cells[-1]
    assert last.source.startswith("%mlops compare")
    data = last.outputs[-1]["data"]
    assert "application/vnd.mlops-jupyter.panel+json" in data
    assert "Comparison of 2 runs" in data["text/html"]
    from mlops_jupyter.store import open_store

    with open_store(store, shared=False) as s:
        experiments = {e["name"]: e["n_runs"] for e in s.list_experiments()}
    # every notebook records under its own experiment, never "default"
    assert "default" not in experiments, experiments
    assert experiments["quickstart"] >= 2  # parent, child (and the sweep's runs)
    for name in (
        "cancer-models",
        "wine-cleaning",
        "drift-monitoring",
        "registry-demo",
        "loan-quality",
        "churn-monitoring",
    ):
        assert name in experiments, experiments
    # the monitoring loop (#17): three batches, the third retrained by a headless re-run of
    # the bundle and promoted on approval
    with open_store(store, shared=False) as s:
        batches = s.list_monitor_batches("churn-monitor")
        assert [b["status"] for b in batches] == ["healthy", "healthy", "promoted"], batches
        assert s.find_run(batches[-1]["retrain_run_id"])["source"] == "headless"
        assert s.find_alias_holder("churn-monitor", "production") == 2
