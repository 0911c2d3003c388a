"""Sweeps on a real Dask LocalCluster (2 worker processes): `mlops-jupyter run --executor dask`,
`mj.sweep(executor=client.get_executor())`, and a combination whose worker dies.

The bundle is the one tests/test_export_run.py exports (a notebook run out of order in a real
kernel); each combination is a real kernel started inside a Dask worker process.
"""

from __future__ import annotations

import concurrent.futures
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from tests.test_export_run import source  # noqa: F401  (the module fixture: one source run)

pytestmark = pytest.mark.slow
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real LocalCluster of two single-threaded worker processes. A task whose worker dies
    is not retried here (allowed-failures 0), so the test sees the failure at once."""
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        c = distributed.Client(cluster)
        yield c
        c.close()
        cluster.close()


def _bundle(src: dict[str, Any], name: str, *, killer: bool = False) -> Path:
    target = src["work"] / name
    shutil.copytree(src["work"] / "bundle", target)
    if killer:  # C = 666 ends the process that started the kernel: the Dask worker
        nb = nbformat.read(target / "run.ipynb", as_version=4)
        index = next(
            i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])
        )
        nb.cells.insert(
            index + 1,
            nbformat.v4.new_code_cell(
                "import os, signal\nif C == 666: os.kill(os.getppid(), signal.SIGKILL)"
            ),
        )
        nbformat.write(nb, target / "run.ipynb")
    return target


def _children(src: dict[str, Any], bundle: Path) -> list[dict[str, Any]]:
    store = src["store"]
    return [r for r in store.child_runs(src["run"]["id"]) if bundle.name in r["notebook_path"]]


def test_a_dying_worker_fails_its_combination_and_the_sweep_goes_on(
    source: dict[str, Any],  # noqa: F811
    client: Any,
) -> None:
    import mlops_jupyter as mj

    bundle = _bundle(source, "bundle_dask_kill", killer=True)
    result = mj.sweep(
        bundle, {"C": [0.01, 666, 100.0]}, store=source["store"], executor=client.get_executor()
    )
    by_c = {r.params["C"]: r for r in result.runs}
    assert by_c[0.01].ok and by_c[100.0].ok
    assert not by_c[666].ok
    assert by_c[666].error.startswith("The Dask worker running this combination died")
    assert "\n" not in by_c[666].error
    frame = result.to_frame()
    assert frame["params.C"].tolist() == [0.01, 666, 100.0]  # the grid's order
    children = {source["store"].get_params(r["id"])["C"]: r for r in _children(source, bundle)}
    assert all(r["source"] == "headless" for r in children.values())
    assert {c for c, r in children.items() if r["status"] == "finished"} == {0.01, 100.0}
    # the killed one's kernel had begun its run: it is kept, and never shown as finished
    assert children.get(666, {}).get("status") != "finished", children.get(666)


def test_cli_runs_the_grid_on_a_dask_cluster(source: dict[str, Any], client: Any) -> None:  # noqa: F811
    from mlops_jupyter.cli import cli

    bundle = _bundle(source, "bundle_dask_cli")
    address = client.scheduler.address
    result = CliRunner().invoke(
        cli,
        ["run", str(bundle), "--grid", "C=0.01,100", "--executor", "dask", "--scheduler", address],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert f"Starting the sweep on Dask ({address})" in result.output
    children = _children(source, bundle)
    assert sorted(source["store"].get_params(r["id"])["C"] for r in children) == [0.01, 100]
    accuracies = {source["store"].latest_metrics(r["id"])["accuracy"] for r in children}
    assert len(accuracies) == 2  # the same results local processes give (test_export_run)


def test_any_concurrent_futures_executor_is_taken(source: dict[str, Any]) -> None:  # noqa: F811
    import mlops_jupyter as mj

    bundle = _bundle(source, "bundle_threads")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = mj.sweep(bundle, {"C": [0.5]}, store=source["store"], executor=pool)
    assert result.ok, result.to_frame()
    assert len(_children(source, bundle)) == 1


def test_bad_executor_and_unreachable_scheduler_are_one_line(source: dict[str, Any]) -> None:  # noqa: F811
    import mlops_jupyter as mj
    from mlops_jupyter.cli import cli
    from mlops_jupyter.errors import InvalidInput

    bundle = source["work"] / "bundle"
    with pytest.raises(InvalidInput, match=r"concurrent\.futures executor"):
        mj.sweep(bundle, {"C": [0.5]}, store=source["store"], executor="dask")
    result = CliRunner().invoke(
        cli,
        ["run", str(bundle), "--grid", "C=1,2", "--executor", "dask", "--scheduler",
         "tcp://127.0.0.1:1"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output
    assert "Traceback" not in result.output
    lone = CliRunner().invoke(cli, ["run", str(bundle), "--grid", "C=1", "--scheduler", "x"])
    assert lone.exit_code == 2 and "--scheduler needs --executor dask" in lone.output
