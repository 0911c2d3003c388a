"""Benchmark (#15): a 16-combination sweep of one bundle on local processes and on a Dask
LocalCluster, same machine, same run: wall time and time per combination.

A small notebook (a logistic regression on iris, one param cell) is executed and captured in a
real kernel, exported into a bundle, then swept over a 4 x 4 grid of ``C`` and ``max_iter``:
``mlops-jupyter run --grid ... --jobs 2`` (spawned local processes) and ``--executor dask``
(a LocalCluster of 2 single-threaded worker processes, its start-up included). Each
combination starts a fresh kernel, which dominates; the Dask overhead per combination is the
difference of the two walls divided by 16. Every combination must land in the store as a
finished child run.

    .venv/bin/python bench/sweep_dask.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402
from click.testing import CliRunner  # noqa: E402

CELLS = [
    "%load_ext mlops_jupyter",
    "from sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression",
    "C = 1.0\nmax_iter = 100",
    "X, y = load_iris(return_X_y=True)",
    "model = LogisticRegression(C=C, max_iter=max_iter).fit(X, y)",
    "accuracy = model.score(X, y)",
]
GRID = ["--grid", "C=0.01,0.1,1,10", "--grid", "max_iter=50,100,200,400"]


def make_bundle(work: Path) -> Path:
    from nbclient import NotebookClient

    from mlops_jupyter.cli import cli

    path = work / "iris.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nbformat.write(nb, path)
    env = {**os.environ, "JPY_SESSION_NAME": str(path)}
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})  # fmt: skip
    with client.setup_kernel(env=env):
        for i, cell in enumerate(nb.cells):
            client.execute_cell(cell, i)
    nbformat.write(nb, path)
    out = CliRunner().invoke(cli, ["export", str(path), "--to", str(work / "bundle")])
    assert out.exit_code == 0, out.output
    return work / "bundle"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from mlops_jupyter.cli import cli
    from mlops_jupyter.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MLOPS_JUPYTER_STORE"] = str(work / ".mlops" / "lineage.db")
        os.chdir(work)
        bundle = make_bundle(work)
        walls = {}
        for name, extra in (
            ("local processes", []),
            ("Dask LocalCluster", ["--executor", "dask"]),
        ):
            start = time.perf_counter()
            out = CliRunner().invoke(
                cli, ["run", str(bundle), *GRID, "--jobs", str(args.jobs), *extra]
            )
            walls[name] = time.perf_counter() - start
            assert out.exit_code == 0, out.output
            print(
                f"{name:18s}: 16 combinations in {walls[name]:6.1f} s "
                f"({walls[name] / 16:.2f} s each, {args.jobs} at a time)"
            )
        store = open_store(shared=False)
        children = [r for r in store.list_runs() if r["source"] == "headless"]
        finished = sum(r["status"] == "finished" for r in children)
        store.close()
        overhead = (walls["Dask LocalCluster"] - walls["local processes"]) / 16
        print(f"child runs in the store: {len(children)} ({finished} finished), goal 32")
        print(f"Dask overhead per combination: {overhead:+.2f} s (cluster start-up included)")


if __name__ == "__main__":
    main()
