"""Export without kernels: slicing, parameters, reproducibility status, bundle files, errors."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner
from IPython.core.error import UsageError

from mlops_jupyter.errors import InputChanged, InvalidInput
from mlops_jupyter.export import export, reproducibility
from mlops_jupyter.export.parameterize import (
    comment_out,
    inject_parameters,
    literal_assignments,
    strip_magics,
)
from mlops_jupyter.export.slice import code_names, slice_executions


def run(shell: Any, code: str) -> None:
    result = shell.run_cell(code, store_history=True)
    assert result.success, result.error_in_exec


def _ex(i: int, code: str, reads: list[str] = (), writes: list[str] = (), **kw: Any) -> dict:
    return {"id": i, "code": code, "reads": list(reads), "writes": list(writes), **kw}


# -- slicing -----------------------------------------------------------------------------------


def test_code_names_sees_mutations_and_statement_order() -> None:
    cn = code_names(
        "df = pd.read_csv('a.csv')\ndf['z'] = df.x * 2\nmodel.fit(X, y)\ndf.head()\n"
        "total = [v for v in range(3)]\ndef f(a):\n    return a + b\n%mlops param lr=0.1"
    )
    assert "df" not in cn.reads  # bound by the cell before it was read
    assert {"pd", "model", "X", "y", "b"} <= cn.reads
    assert {"a", "v"}.isdisjoint(cn.reads)  # locals of a function / comprehension
    assert {"df", "total", "f"} <= cn.writes and "v" not in cn.writes
    assert "model" in cn.mutates and "df" not in cn.mutates  # df: made by this very cell
    assert code_names("df['z'] = 1\ndf.dropna(inplace=True)\ndf.describe()").mutates == {"df"}
    assert code_names("df.describe()\nnp.random.seed(0)").seeds == {"np"}


def test_slice_keeps_only_what_feeds_the_result_in_execution_order() -> None:
    executions = [
        _ex(1, "import numpy as np", writes=["np"]),
        _ex(2, "x = np.arange(10)", ["np"], ["x"]),
        _ex(3, "lr = 0.1", writes=["lr"]),
        _ex(4, "x.mean()", ["x"]),  # exploratory
        _ex(5, "plt_data = x * 3", ["x"], ["plt_data"]),  # feeds nothing
        _ex(6, "x[0] = 5", ["x"]),  # mutation: needed
        _ex(7, "score = (x * lr).sum()", ["x", "lr"], ["score"]),
        _ex(8, "lr = 0.5", writes=["lr"]),  # after the result: not used
        _ex(9, "boom()", status="error"),
    ]
    result = slice_executions(executions, {7: ["metric:score"]})
    assert [e["id"] for e in result.kept] == [1, 2, 3, 6, 7]
    assert result.suppliers[7] == {"x": 6, "lr": 3}
    assert result.suppliers[6] == {"x": 2}
    assert not result.unresolved


def test_slice_uses_the_last_writer_before_the_read() -> None:
    executions = [
        _ex(1, "a = 1", writes=["a"]),
        _ex(2, "a = 2", writes=["a"]),
        _ex(3, "b = a + 1", ["a"], ["b"]),
        _ex(4, "a = 3", writes=["a"]),
        _ex(5, "res = b * 10 + c", ["b", "c"], ["res"]),
    ]
    result = slice_executions(executions, {5: ["metric:res"]})
    assert [e["id"] for e in result.kept] == [2, 3, 5]
    assert result.unresolved == frozenset({"c"})


def test_a_cell_that_wrote_a_file_read_later_is_kept() -> None:
    executions = [
        _ex(1, "import pandas as pd", writes=["pd"]),
        _ex(2, "raw = pd.DataFrame({'a': [1, 2]})", ["pd"], ["raw"]),
        _ex(3, "raw.to_csv('./clean.csv', index=False)", ["raw"]),
        _ex(4, "raw.to_csv('other.csv')", ["raw"]),  # feeds nothing
        _ex(5, "df = pd.read_csv('clean.csv')\ntotal = df.a.sum()", ["pd"], ["df", "total"]),
    ]
    result = slice_executions(executions, {5: ["metric:total"]})
    assert [e["id"] for e in result.kept] == [1, 2, 3, 5]
    assert result.suppliers[5]["file:clean.csv"] == 3
    assert not result.unresolved


# -- parameters --------------------------------------------------------------------------------


def test_literal_param_assignments_become_comments_and_injection_checks_keys() -> None:
    code = "%mlops experiment churn\nlr = 0.1\ndepth: int = 3\nname = make()\n%mlops param a=1"
    found = literal_assignments(code)
    assert {k: v[0] for k, v in found.items()} == {"lr": 0.1, "depth": 3}
    out = comment_out(strip_magics(code), {"lr": literal_assignments(strip_magics(code))["lr"]})
    assert "%mlops experiment" not in out and "%mlops param a=1" in out
    assert "# lr = 0.1" in out and "depth: int = 3" in out

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("lr = 0.1\ndepth = 3", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(lr)"),
    ]
    inject_parameters(nb, {"lr": 0.5})
    assert nb.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "lr = 0.5" in nb.cells[1].source
    with pytest.raises(InvalidInput, match=r"Unknown param 'lrr'.*params are depth, lr"):
        inject_parameters(nb, {"lrr": 1})


# -- from a real shell: export and reproducibility ---------------------------------------------


def _train_csv(path: Path) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=120), "y": rng.integers(0, 2, 120)})
    frame.assign(x2=lambda d: d.x + d.y).to_csv(path, index=False)


CELLS = {
    "imports": "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score",
    "param": "C = 0.01",
    "data": "df = pd.read_csv('train.csv')\nX, y = df[['x', 'x2']], df['y']",
    "look": "df.describe()",
    "fit": "model = LogisticRegression(C=C).fit(X, y)",
    "score": "accuracy = accuracy_score(y, model.predict(X))",
}


def _run_cells(shell: Any, order: list[tuple[str, str | None]]) -> str:
    for cell_id, override in order:
        result = shell.run_cell(override or CELLS[cell_id], store_history=True, cell_id=cell_id)
        assert result.success, result.error_in_exec
    from mlops_jupyter.capture.session import get_session

    run_id = get_session().run_id
    assert run_id
    return run_id


def test_out_of_order_run_is_stale_and_exports_the_code_that_ran(shell: Any, workdir: Path) -> None:
    _train_csv(workdir / "train.csv")
    run_id = _run_cells(
        shell,
        [
            ("imports", None),
            ("data", None),
            ("param", None),
            ("look", None),
            ("fit", None),
            ("param", "C = 100.0"),  # edited and re-run after the model was fitted
            ("score", None),
        ],
    )
    from mlops_jupyter.store import open_store

    store = open_store()
    status = reproducibility(store, run_id)
    assert status.status == "stale"
    assert any("edited and re-run" in r for r in status.reasons)
    # shown where the user looks: `%mlops` status and the comparison table
    line = dict(shell.run_line_magic("mlops", "").lines())["reproducibility"]
    assert line.startswith("stale: ") and "edited and re-run" in line
    from mlops_jupyter.analysis.compare import compare

    table = compare(store=store).runs.set_index("run_id")
    assert table.loc[run_id, "reproducibility"] == "stale"

    with pytest.warns(UserWarning, match="The run is stale"):
        bundle = export(run_id, to=workdir / "bundle", store=store)
    nb = nbformat.read(workdir / "bundle" / "run.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[0] == "%load_ext mlops_jupyter"
    params_cell = nb.cells[2]
    assert params_cell.metadata["tags"] == ["parameters"]
    assert params_cell.source == "C = 0.01"  # the value the model was trained with
    assert [c for c in code if "describe" in c] == []  # exploratory cell left out
    body = code[2:]
    assert body[0].startswith("import pandas") and body[1].startswith("df = pd.read_csv")
    assert body[2].startswith("model = ") and body[3].startswith("accuracy = ")
    manifest = json.loads((workdir / "bundle" / "manifest.json").read_text())
    assert manifest["parameters"] == {"C": 0.01}
    assert manifest["params"]["C"] == 100.0  # the params table kept the last value logged
    assert manifest["metrics"]["accuracy"]["value"] == store.latest_metrics(run_id)["accuracy"]
    assert manifest["metrics"]["accuracy"]["rel_tol"] == 1e-6
    assert manifest["inputs"] == [
        {
            "path": "train.csv",
            "hash": manifest["inputs"][0]["hash"],
            "size": (workdir / "train.csv").stat().st_size,
            "copied": True,
        }
    ]
    assert (workdir / "bundle" / "data" / "train.csv").read_bytes() == (
        workdir / "train.csv"
    ).read_bytes()
    assert {"X", "y"} <= set(manifest["datasets"])
    reqs = (workdir / "bundle" / "requirements.txt").read_text().splitlines()
    assert any(r.startswith("scikit-learn==") for r in reqs)
    assert any(r.startswith("pandas==") for r in reqs)
    assert manifest["reproducibility"]["status"] == "stale"
    assert bundle.manifest == manifest and "Run bundle" in bundle._repr_html_()

    with pytest.warns(UserWarning):
        export(run_id, to=workdir / "everything", all=True, store=store)
    nb = nbformat.read(workdir / "everything" / "run.ipynb", as_version=4)
    assert any("describe" in c.source for c in nb.cells)  # --all keeps exploratory cells


def test_a_param_assigned_in_two_kept_cells_stays_in_the_code() -> None:
    from mlops_jupyter.export.bundle import _choose_parameters

    codes = ["lr = 0.1\nx = 1", "y = x * lr", "lr = 0.2\nz = y * lr", "depth = 3"]
    parameters, assigners, skipped = _choose_parameters(codes, {"lr": 0.2, "depth": 3, "n": 5})
    assert parameters == {"depth": 3} and skipped == ["lr"]
    assert assigners["depth"][0] == 3


def test_in_order_run_is_reproducible_and_notebook_edits_make_it_stale(
    shell: Any, workdir: Path
) -> None:
    _train_csv(workdir / "train.csv")
    order = ["imports", "param", "data", "look", "fit", "score"]
    run_id = _run_cells(shell, [(c, None) for c in order])
    from mlops_jupyter.store import open_store

    store = open_store()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELLS[c], id=c) for c in order]
    assert reproducibility(store, run_id, notebook=nb).status == "reproducible"
    from mlops_jupyter.export.repro import table_statuses

    assert table_statuses(store, [run_id]) == {run_id: "reproducible"}
    assert table_statuses(store, [run_id], limit=0) == {run_id: None}  # not checked

    nb.cells[2].source = "df = pd.read_csv('other.csv')"  # edited since it ran
    nb.cells.pop(1)  # the param cell was deleted
    status = reproducibility(store, run_id, notebook=nb)
    assert status.status == "stale"
    assert any("edited in the notebook" in r for r in status.reasons)
    assert any("deleted" in r for r in status.reasons)

    # reading a name from a cell below: out of order
    nb2 = nbformat.v4.new_notebook()
    nb2.cells = [nbformat.v4.new_code_cell(CELLS[c], id=c) for c in order]
    nb2.cells.insert(5, nb2.cells.pop(1))  # the param cell now sits below the fit
    status = reproducibility(store, run_id, notebook=nb2)
    assert any("read `C`" in r and "below it" in r for r in status.reasons)

    # a headless verify settles it, either way
    store.record_verification(run_id, reproduced=False, summary="accuracy moved", details=[])
    assert table_statuses(store, [run_id], limit=0) == {run_id: "stale"}  # the verdict decides
    store.record_verification(run_id, reproduced=True, summary="ok", details=[])
    assert table_statuses(store, [run_id]) == {run_id: "reproducible"}
    assert reproducibility(store, run_id).reasons[0].startswith("verified by a headless re-run")


def test_magic_export_errors_are_one_line(shell: Any, workdir: Path) -> None:
    with pytest.raises(UsageError, match="the following arguments are required: --to"):
        shell.run_line_magic("mlops", "export")
    (workdir / "notes").mkdir()
    (workdir / "notes" / "keep.txt").write_text("mine")
    run(shell, "a = 1")
    with pytest.raises(UsageError, match="already holds files that are not a bundle"):
        shell.run_line_magic("mlops", "export --to notes")
    assert (workdir / "notes" / "keep.txt").read_text() == "mine"
    result = shell.run_cell("%mlops export --to notes", store_history=True)
    assert isinstance(result.error_in_exec, UsageError)


def test_magic_export_writes_a_bundle(shell: Any, workdir: Path, capsys: Any) -> None:
    _train_csv(workdir / "train.csv")
    _run_cells(shell, [(c, None) for c in ["imports", "param", "data", "fit", "score"]])
    bundle = shell.run_line_magic("mlops", "export --to out")
    assert (workdir / "out" / "manifest.json").is_file()
    assert bundle.manifest["parameters"] == {"C": 0.01}


def test_cli_export_from_notebook_without_run_and_verify_input_changed(workdir: Path) -> None:
    from mlops_jupyter.cli import cli

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext mlops_jupyter"),
        nbformat.v4.new_code_cell("%mlops experiment demo\nx = 1"),
        nbformat.v4.new_code_cell("y = x + 1"),
    ]
    nbformat.write(nb, workdir / "plain.ipynb")
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "plain.ipynb", "--to", "b"])
    assert result.exit_code == 0, result.output
    assert "No captured run of plain.ipynb" in result.output
    cells = nbformat.read(workdir / "b" / "run.ipynb", as_version=4).cells
    assert [c.source for c in cells[3:]] == ["x = 1", "y = x + 1"]

    # a bundle whose input changed fails before any kernel starts, exit code 2
    manifest = json.loads((workdir / "b" / "manifest.json").read_text())
    (workdir / "b" / "data").mkdir(exist_ok=True)
    (workdir / "b" / "data" / "in.csv").write_text("a\n1\n")
    manifest["inputs"] = [{"path": "in.csv", "hash": "0" * 32, "size": 4, "copied": True}]
    manifest["data_root"] = "data"
    (workdir / "b" / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(cli, ["verify", "b"])
    assert result.exit_code == 2
    assert "The bundle's input data changed: in.csv changed" in result.output
    assert "Traceback" not in result.output
    from mlops_jupyter.export import run_bundle

    with pytest.raises(InputChanged, match="Restore the files"):
        run_bundle(workdir / "b")

    result = runner.invoke(cli, ["run", "b", "--grid", "lr"])
    assert result.exit_code == 2 and "Expected --grid KEY=V1,V2" in result.output
    result = runner.invoke(cli, ["export", "nope", "--to", "c"])
    assert result.exit_code == 2 and "No run with id 'nope'" in result.output


def test_data_root_follows_the_relative_paths_the_code_used() -> None:
    from mlops_jupyter.export.inputs import _root_from_literals

    rows = [{"source_path": "/proj/data/train.csv"}]
    assert _root_from_literals(rows, ["df = pd.read_csv('data/train.csv')"]) == Path("/proj")
    assert _root_from_literals(rows, ["df = pd.read_csv('./train.csv')"]) == Path("/proj/data")
    assert _root_from_literals(rows, ["df = pd.read_csv(path)"]) is None


# -- bad input: one line, and the user's files stay as they were ---------------------------------


def _plain_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, path)


def _plain_bundle(workdir: Path) -> Path:
    """``workdir/b``: a bundle of ``plain.ipynb`` (no captured run)."""
    _plain_notebook(workdir / "plain.ipynb")
    with pytest.warns(UserWarning, match="No captured run"):
        return export("plain.ipynb", to=workdir / "b").path


def _one_line_exit_2(result: Any, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_export_never_overwrites_a_folder_that_is_not_a_bundle(workdir: Path) -> None:
    from mlops_jupyter.cli import cli

    _plain_notebook(workdir / "plain.ipynb")
    mine = workdir / "mine"
    mine.mkdir()
    (mine / "manifest.json").write_text('{"mine": 1}')  # any file called manifest.json
    (mine / "run.ipynb").write_text("my notebook")
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "plain.ipynb", "--to", "mine"])
    _one_line_exit_2(result, "mine already holds files that are not a bundle")
    assert (mine / "manifest.json").read_text() == '{"mine": 1}'
    assert (mine / "run.ipynb").read_text() == "my notebook"
    assert sorted(p.name for p in mine.iterdir()) == ["manifest.json", "run.ipynb"]

    # a bundle of ours is exported again in place
    assert runner.invoke(cli, ["export", "plain.ipynb", "--to", "b"]).exit_code == 0
    assert runner.invoke(cli, ["export", "plain.ipynb", "--to", "b"]).exit_code == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json", "its manifest.json cannot be read (Expecting value"),
        ("[1, 2]", "its manifest.json holds a JSON list, not an object"),
        ('{"format": "other/1"}', "its manifest.json has format 'other/1'"),
    ],
)
def test_run_and_verify_refuse_a_folder_whose_manifest_is_not_ours(
    workdir: Path, content: str, problem: str
) -> None:
    from mlops_jupyter.cli import cli

    _plain_notebook(workdir / "plain.ipynb")
    runner = CliRunner()
    assert runner.invoke(cli, ["export", "plain.ipynb", "--to", "b"]).exit_code == 0
    (workdir / "b" / "manifest.json").write_text(content)
    for command in ("run", "verify"):
        result = runner.invoke(cli, [command, "b"])
        _one_line_exit_2(result, "b is not an mlops-jupyter bundle: " + problem)
        assert "Re-export it with `mlops-jupyter export RUN_ID --to DIR`." in result.output
    assert list((workdir / "b" / "runs").glob("*")) == []  # no kernel started


def test_a_corrupt_notebook_is_one_line(workdir: Path) -> None:
    from mlops_jupyter.cli import cli
    from mlops_jupyter.export import run_bundle

    (workdir / "bad.ipynb").write_text("garbage")
    result = CliRunner().invoke(cli, ["export", "bad.ipynb", "--to", "d"])
    _one_line_exit_2(result, "bad.ipynb is not a readable notebook (Notebook does not appear")
    assert not (workdir / "d").exists()

    _plain_bundle(workdir)
    (workdir / "b" / "run.ipynb").write_text('{"cells": 5}')
    with pytest.raises(InvalidInput, match=r"run.ipynb is not a readable notebook .*Re-export"):
        run_bundle(workdir / "b", progress=False)


def test_an_unwritable_bundle_folder_is_one_line(shell: Any, workdir: Path) -> None:
    from mlops_jupyter.cli import cli
    from mlops_jupyter.errors import ExportError
    from mlops_jupyter.export import run_bundle

    _plain_notebook(workdir / "plain.ipynb")
    (workdir / "afile").write_text("not a folder")
    message = "Cannot write the bundle to afile/b: Not a directory. Choose another folder"
    result = CliRunner().invoke(cli, ["export", "plain.ipynb", "--to", "afile/b"])
    _one_line_exit_2(result, message)
    with pytest.raises(ExportError, match=message):
        export("plain.ipynb", to="afile/b")
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("mlops", "export plain.ipynb --to afile/b")
    assert (workdir / "afile").read_text() == "not a folder"

    # a bundle that cannot hold its executed notebooks fails before a kernel starts
    _plain_bundle(workdir)
    (workdir / "b" / "runs").write_text("in the way")
    with pytest.raises(ExportError, match=r"Cannot write into the bundle .*b: File exists"):
        run_bundle(workdir / "b", progress=False)


def test_wrong_argument_types_say_how_to_call(workdir: Path) -> None:
    from mlops_jupyter.cli import cli
    from mlops_jupyter.export import run_bundle, sweep, verify

    _plain_bundle(workdir)
    with pytest.raises(InvalidInput, match=r"got 5 \(int\)\. Example: mj.verify\('bundle'\)"):
        verify(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"to= must be a folder path .*got 5 \(int\)"):
        export("plain.ipynb", to=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"run must be a run id or a notebook path"):
        export(5, to="c")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"params must be a dict .*params=\{'lr': 0.1\}"):
        run_bundle(workdir / "b", params=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"grid must map each param to a list of values"):
        sweep(workdir / "b", {"lr": 0.1})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match=r"rel_tol must be a number >= 0, got -1"):
        export("plain.ipynb", to="c", rel_tol=-1)
    result = CliRunner().invoke(cli, ["verify", "b", "--abs-tol", "-1"])
    _one_line_exit_2(result, "abs_tol must be a number >= 0, got -1.0")
    assert not (workdir / "c").exists() and not (workdir / "b" / "runs").exists()


def test_bundle_header_keeps_a_run_name_inert() -> None:
    import mistune

    from mlops_jupyter.export.bundle import _notebook

    evil = "x` <img src=x onerror=alert(1)> `"
    nb = _notebook({"name": evil, "id": "r1"}, {}, [])
    rendered = mistune.html(nb.cells[0].source)
    assert "<img" not in rendered and "&lt;img" in rendered


def _run_without_ids(shell: Any, order: list[str]) -> str:
    for name in order:
        result = shell.run_cell(CELLS[name], store_history=True)  # no cell_id: plain IPython
        assert result.success, result.error_in_exec
    from mlops_jupyter.capture.session import get_session

    run_id = get_session().run_id
    assert run_id
    return run_id


def test_without_cell_ids_an_out_of_order_run_is_never_reproducible(
    shell: Any, workdir: Path
) -> None:
    """The review's case: plain IPython, nbclient and papermill send no cell ids, and an
    out-of-order run was reported reproducible."""
    _train_csv(workdir / "train.csv")
    order = ["imports", "data", "param", "fit", "score"]
    nb_order = ["imports", "data", "fit", "score", "param"]  # the param cell sits at the end
    run_id = _run_without_ids(shell, order)
    from mlops_jupyter.store import open_store

    store = open_store()
    assert reproducibility(store, run_id).status == "unknown"  # no notebook: order unknown
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELLS[c]) for c in nb_order]
    status = reproducibility(store, run_id, notebook=nb)  # matched to the notebook by code
    assert status.status == "stale"
    assert any("read `C`" in r and "below it" in r for r in status.reasons)
    in_order = nbformat.v4.new_notebook()
    in_order.cells = [nbformat.v4.new_code_cell(CELLS[c]) for c in order]
    assert reproducibility(store, run_id, notebook=in_order).status == "reproducible"
    in_order.cells[3].source = "model = LogisticRegression(C=C, max_iter=5).fit(X, y)"
    assert reproducibility(store, run_id, notebook=in_order).status == "stale"  # edited


def test_a_headless_run_without_cell_ids_is_ordered_by_execution() -> None:
    from mlops_jupyter.export.repro import assess

    session = [
        {"id": 1, "cell_id": None, "code": "a = 1", "code_hash": "h1", "execution_count": 1},
        {"id": 2, "cell_id": None, "code": "b = a", "code_hash": "h2", "execution_count": 2},
    ]
    suppliers = {2: {"a": 1}}
    assert assess(session, session, suppliers, None, in_order=True).status == "reproducible"
    assert assess(session, session, suppliers, None).status == "unknown"


SEARCH = {
    "data": "import pandas as pd\nfrom sklearn.datasets import load_iris\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.model_selection import GridSearchCV\n"
    "X, y = load_iris(return_X_y=True, as_frame=True)",
    "search": "search = GridSearchCV(LogisticRegression(max_iter=500), {'C': GRID}, cv=3)\n"
    "search.fit(X, y)\nbest = search.best_estimator_\ndf = pd.DataFrame(search.cv_results_)",
}


def _search_run(shell: Any, grid: str, run_name: str) -> str:
    import mlops_jupyter as mj

    mj.start_run(run_name)
    for cell_id, code in (("grid", f"GRID = {grid}"), *SEARCH.items()):
        result = shell.run_cell(code, store_history=True, cell_id=cell_id)
        assert result.success, result.error_in_exec
    return mj.active_run().id


def test_verify_ignores_timings_and_compares_the_selected_model(shell: Any, workdir: Path) -> None:
    """Review: cv_results_' timing columns made the data 'changed' on every re-run (false
    alarm); a search that selected another model was 'reproduced' (only data was compared)."""
    from mlops_jupyter.export.execute import BundleRun
    from mlops_jupyter.export.verify import compare
    from mlops_jupyter.store import open_store

    source = _search_run(shell, "[0.01, 1.0]", "source")
    store = open_store()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = export(source, to=workdir / "bundle", store=store)
    manifest = bundle.manifest
    assert "fingerprint_without_timing" in manifest["datasets"]["df"]
    assert manifest["models"]["search.best_estimator_"]["params"]["C"] == 1.0
    assert not any("fit_time" in k or "score_time" in k for k in manifest["metrics"])

    same = _search_run(shell, "[0.01, 1.0]", "same")  # timings differ, results do not
    ok, rows = compare(manifest, BundleRun(workdir, same, {}, None), store)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("dataset", "df")]["status"] == "ok", rows
    assert ok, [r for r in rows if r["status"] != "ok"]

    other = _search_run(shell, "[0.01, 0.02]", "other")  # another model won
    ok, rows = compare(manifest, BundleRun(workdir, other, {}, None), store)
    model = {(r["kind"], r["name"]): r for r in rows}[("model", "search.best_estimator_")]
    assert not ok and model["status"] == "changed" and "C=0.02" in model["difference"]
