"""The example notebooks run headlessly, top to bottom, without an error, one after the other
in one folder and one store, in either order: each uses its own experiment and names."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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
def test_examples_run_after_each_other_in_one_store(
    order: str, tmp_path: Path, pg_server: Any
) -> None:
    work = tmp_path / "nb"
    shutil.copytree(
        EXAMPLES, work, ignore=shutil.ignore_patterns(".mlops", ".ipynb_checkpoints", "*.db")
    )
    store = work / ".mlops" / "lineage.db"
    paths = NOTEBOOKS if order == "sorted" else NOTEBOOKS[::-1]
    # team_store.ipynb pushes into the session's PostgreSQL server in one order, and into the
    # SQLite file it falls back to without a server in the other
    team = pg_server.store_url() if order == "sorted" else str(work / "team-store.db")
    env = {"MLOPS_JUPYTER_STORE": str(store)}
    executed = {}
    for path in paths:
        extra = {"MLOPS_JUPYTER_TEAM_STORE": team} if order == "sorted" else {}
        nb = execute_notebook(work / path.name, work, env={**env, **extra})
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
        "team-demo",
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
    # the team store holds the pushed run; the second push and the round trip added nothing
    pushes = [
        "".join(o.get("text", "") for o in c.get("outputs", []))
        for c in executed["team_store"].cells
        if c.cell_type == "code" and "cli(" in c.source
    ]
    first, again, round_trip = pushes
    told = _text(executed["team_store"], 1)
    assert ("Team store: PostgreSQL" if order == "sorted" else "stands in") in told
    assert "1 runs" in first and "nothing new" in again, pushes
    assert round_trip.count("nothing new") == 1, round_trip  # the pull copied, the push did not
    with open_store(team, shared=False) as t:
        assert [r["name"] for r in t.list_runs()] == ["run-1"]
        assert t.list_experiments()[0]["name"] == "team-demo"


def _text(nb: Any, index: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].get("outputs", []))
