"""Bundles re-run in real kernels: a notebook executed out of order, verify, -p, a grid sweep.

One notebook is executed out of order by nbclient (one kernel); each test then runs a copy of
its bundle. Kernel start-ups are slow, so the count of executions is kept small.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext mlops_jupyter",
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score",
    "C = 0.01",
    "df = pd.read_csv('train.csv')\nX, y = df[['x', 'x2']], df['y']",
    "df.describe()",
    "model = LogisticRegression(C=C).fit(X, y)",
    "accuracy = accuracy_score(y, model.predict(X))",
]
# The order a person ran them in: data before the param, then the param cell edited and
# re-run after the model was fitted, then the score.
ORDER = [0, 1, 3, 2, 4, 5, ("edit", 2, "C = 100.0"), 6]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A notebook run out of order in a real kernel, its store and its exported bundle."""
    import numpy as np
    import pandas as pd
    from nbclient import NotebookClient

    from mlops_jupyter.export.execute import send_cell_ids
    from mlops_jupyter.store import close_all, open_store

    work = tmp_path_factory.mktemp("export_run")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=150), "y": rng.integers(0, 2, 150)})
    frame.assign(x2=lambda d: d.x + d.y).to_csv(work / "train.csv", index=False)
    path = work / "train.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in CELLS]
    nbformat.write(nb, path)

    store_file = work / ".mlops" / "lineage.db"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLOPS_JUPYTER_STORE", str(store_file))
    mp.chdir(work)
    env = {**os.environ, "JPY_SESSION_NAME": str(path)}
    for key in ("MLOPS_JUPYTER_SOURCE", "MLOPS_JUPYTER_PARENT_RUN", "MLOPS_JUPYTER_EXPERIMENT"):
        env.pop(key, None)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    )
    with client.setup_kernel(env=env):
        send_cell_ids(client)  # as JupyterLab does; nbclient leaves cell ids out
        for step in ORDER:
            if isinstance(step, tuple):
                _, index, code = step
                nb.cells[index].source = code
            else:
                index = step
            client.execute_cell(nb.cells[index], index)
    nbformat.write(nb, path)  # saved as the person left it

    store = open_store(store_file)
    run = store.latest_runs_of_notebook([str(path)])[0]
    result = CliRunner().invoke(_cli(), ["export", str(path), "--to", str(work / "bundle")])
    assert result.exit_code == 0, result.output
    yield {"work": work, "store": store, "run": run, "export_output": result.output}
    close_all()
    mp.undo()


def _cli() -> Any:
    from mlops_jupyter.cli import cli

    return cli


def _copy(source: dict[str, Any], name: str) -> Path:
    target = source["work"] / name
    shutil.copytree(source["work"] / "bundle", target)
    return target


def test_out_of_order_notebook_exports_the_slice_that_ran(source: dict[str, Any]) -> None:
    work, run = source["work"], source["run"]
    assert "reproducibility: stale" in source["export_output"]
    assert "edited and re-run" in source["export_output"]
    nb = nbformat.read(work / "bundle" / "run.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[:2] == ["%load_ext mlops_jupyter", "C = 0.01"]
    # the executed order (data before the param), without the exploratory describe()
    assert code[2:] == [CELLS[1], CELLS[3], CELLS[5], CELLS[6]]
    manifest = json.loads((work / "bundle" / "manifest.json").read_text())
    assert manifest["source"]["run_id"] == run["id"]
    assert manifest["metrics"]["accuracy"]["value"] == pytest.approx(
        source["store"].latest_metrics(run["id"])["accuracy"]
    )


def test_verify_reproduces_the_metric_and_settles_the_status(source: dict[str, Any]) -> None:
    from mlops_jupyter.export import reproducibility

    bundle = _copy(source, "bundle_verify")
    result = CliRunner().invoke(_cli(), ["verify", str(bundle)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Reproduced:" in result.output
    assert "accuracy" in result.output
    store, run = source["store"], source["run"]
    reruns = store.child_runs(run["id"])
    assert reruns and reruns[-1]["source"] == "headless"
    rerun = reruns[-1]["id"]
    assert store.latest_metrics(rerun)["accuracy"] == pytest.approx(
        store.latest_metrics(run["id"])["accuracy"], rel=1e-9
    )
    assert (bundle / "runs" / f"{rerun}.ipynb").is_file()
    status = reproducibility(store, run["id"])
    assert status.status == "reproducible" and "verified" in status.reasons[0]


def test_verify_fails_when_a_metric_moved_beyond_tolerance(source: dict[str, Any]) -> None:
    bundle = _copy(source, "bundle_moved")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["metrics"]["accuracy"]["value"] += 0.01
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(_cli(), ["verify", str(bundle)], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert "Not reproduced: 1 of" in result.output and "metric accuracy moved" in result.output


def test_param_override_changes_the_result(source: dict[str, Any]) -> None:
    from mlops_jupyter.export import run_bundle

    bundle = _copy(source, "bundle_p")
    store, run = source["store"], source["run"]
    result = run_bundle(bundle, {"C": 100.0}, store=store, progress=False)
    assert store.get_params(result.run_id)["C"] == 100.0
    assert store.get_run(result.run_id)["parent_run_id"] == run["id"]
    original = store.latest_metrics(run["id"])["accuracy"]
    assert result.metrics["accuracy"] != pytest.approx(original)


def test_grid_sweep_runs_each_combination(source: dict[str, Any]) -> None:
    bundle = _copy(source, "bundle_grid")
    result = CliRunner().invoke(
        _cli(),
        ["run", str(bundle), "--grid", "C=0.01,100", "--jobs", "2"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    store = source["store"]
    runs = [r for r in store.child_runs(source["run"]["id"]) if "bundle_grid" in r["notebook_path"]]
    assert len(runs) == 2
    values = sorted(store.get_params(r["id"])["C"] for r in runs)
    assert values == [0.01, 100]
    accuracies = {store.latest_metrics(r["id"])["accuracy"] for r in runs}
    assert len(accuracies) == 2
    assert len(list((bundle / "runs").glob("*.ipynb"))) == 2


def test_a_failing_cell_is_named(source: dict[str, Any]) -> None:
    from mlops_jupyter.errors import ExportError
    from mlops_jupyter.export import run_bundle

    bundle = _copy(source, "bundle_fail")
    nb = nbformat.read(bundle / "run.ipynb", as_version=4)
    nb.cells[-1].source = "accuracy = 1 / 0"
    nbformat.write(nb, bundle / "run.ipynb")
    with pytest.raises(ExportError, match=r"Cell 7 of run.ipynb failed: ZeroDivisionError"):
        run_bundle(bundle, store=source["store"], progress=False)
