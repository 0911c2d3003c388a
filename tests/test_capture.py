"""Automatic capture in a real InteractiveShell: executions, params, metrics, datasets, models."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_jupyter.capture.session import get_session


def run(shell: Any, code: str, *, check: bool = True) -> Any:
    """Run one cell like a notebook would (same as conftest.run)."""
    result = shell.run_cell(code, store_history=True)
    if check and not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec or result.error_before_exec}")
    return result


pytestmark = pytest.mark.usefixtures("fresh_session")


def _store() -> Any:
    return get_session().store


def _executions() -> list[dict[str, Any]]:
    return _store().query("SELECT * FROM executions ORDER BY id")


def test_trivial_cell_is_captured_with_names_and_params(shell) -> None:
    run(shell, "x = 1")
    run(shell, "y = x + 1")
    ex = _executions()
    assert [e["code"] for e in ex] == ["x = 1", "y = x + 1"]
    assert ex[1]["reads"] == '["x"]' and ex[1]["writes"] == '["y"]'
    assert ex[0]["status"] == "ok" and ex[0]["duration_s"] >= 0
    assert ex[0]["code_hash"] != ex[1]["code_hash"]
    assert [e["execution_count"] for e in ex] == [1, 2]
    run_id = get_session().run_id
    assert _store().get_params(run_id) == {"x": 1}
    assert _store().get_run(run_id)["source"] == "interactive"


def test_error_cell_is_recorded_with_summary(shell) -> None:
    result = run(shell, "1 / 0", check=False)
    assert not result.success
    ex = _executions()[-1]
    assert ex["status"] == "error"
    assert ex["error"].startswith("ZeroDivisionError")


def test_params_metrics_and_secrets(shell) -> None:
    run(shell, 'lr = 0.1\ndepth = -3\nkind = "rf"\napi_token = "s3cr3t-value"\n_private = 4')
    run(shell, "accuracy = 0.93\nn_errors = 4\nval_loss = 0.25")
    store, run_id = _store(), get_session().run_id
    assert store.get_params(run_id) == {"lr": 0.1, "depth": -3, "kind": "rf", "n_errors": 4}
    assert store.latest_metrics(run_id) == {"accuracy": 0.93, "val_loss": 0.25}
    codes = " ".join(e["code"] for e in _executions())
    assert "s3cr3t-value" not in codes and "api_token = '***'" in codes


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('api_token = "s3cr3t"\nx = 1', "api_token = '***'\nx = 1"),
        ('os.environ["API_KEY"] = "sk-123"', "os.environ[\"API_KEY\"] = '***'"),
        ('self.api_key: str = "k"', "self.api_key: str = '***'"),
        ('PASSWORD = os.getenv("PW") or "fallback"', "PASSWORD = os.getenv(\"PW\") or '***'"),
        ('db = connect(host="h", password="hunter2")', "db = connect(host=\"h\", password='***')"),
        ('cfg = {"user": "u", "secret": "abc"}', 'cfg = {"user": "u", "secret": \'***\'}'),
        ('token = f"Bearer {x}"', "token = '***'"),
        ("pin_secret = 1234", "pin_secret = '***'"),
        ('key = os.environ["OPENAI_API_KEY"]', 'key = os.environ["OPENAI_API_KEY"]'),
        ('password = """two\nlines"""\nlr = 0.1', "password = '***'\nlr = 0.1"),
        (
            'é = "é"; password = "ünï"; after = "keep"',
            'é = "é"; password = \'***\'; after = "keep"',
        ),
        ("%time api_key = 'zzz'", "%time api_key = '***'"),  # IPython syntax: the fallback
    ],
)
def test_secret_values_are_redacted_in_stored_code(code: str, expected: str) -> None:
    from mlops_jupyter.capture.ast_names import redact

    assert redact(code) == expected


def test_explicit_log_param_in_a_cell_is_tied_to_that_cell(shell) -> None:
    run(shell, "x = 1")
    run(shell, "import mlops_jupyter as mj\nmj.log_param('batch', 64)\nmj.log_metric('acc', 0.5)")
    store, run_id = _store(), get_session().run_id
    cell = _executions()[-1]
    rows = store.query("SELECT key, execution_id, source FROM params WHERE run_id = ?", (run_id,))
    assert {"key": "batch", "execution_id": cell["id"], "source": "explicit"} in rows
    metric = store.query("SELECT execution_id FROM metrics WHERE key = 'acc'")
    assert metric == [{"execution_id": cell["id"]}]


def test_sklearn_metrics_score_model_and_lineage(shell) -> None:
    run(
        shell,
        "import numpy as np\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.metrics import accuracy_score, log_loss\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(200, 3))\n"
        "y = (X[:, 0] > 0).astype(int)",
    )
    run(shell, "C = 0.5\nclf = LogisticRegression(C=C)\nclf.fit(X, y)")
    run(shell, "pred = clf.predict(X)")
    run(shell, "acc = accuracy_score(y, pred)\nll = round(log_loss(y, clf.predict_proba(X)), 4)")
    run(shell, "s = clf.score(X, y)")
    store, run_id = _store(), get_session().run_id
    metrics = store.latest_metrics(run_id)
    assert set(metrics) == {"acc", "ll", "s"}
    assert metrics["acc"] == pytest.approx(shell.user_ns["acc"])
    from mlops_jupyter.capture import artifacts

    assert artifacts.flush(timeout=60)  # model files are written off the cell's critical path
    models = store.list_models(run_id)
    assert len(models) == 1 and models[0]["class_name"].endswith("LogisticRegression")
    assert models[0]["params"]["C"] == 0.5 and models[0]["artifact_hash"]
    sources = {p["key"]: p["source"] for p in store.list_params(run_id)}
    assert sources["C"] == "auto"  # the literal C = 0.5
    assert sources["clf.C"] == "estimator" and sources["clf.max_iter"] == "default"
    from mlops_jupyter.capture.fingerprint import fingerprint

    fp_x, fp_y = fingerprint(shell.user_ns["X"]), fingerprint(shell.user_ns["y"])
    model_fp = models[0]["fingerprint"]
    trained = store.edges(relation="trained_on")
    assert {(e["src_id"], e["dst_id"]) for e in trained} == {(fp_x, model_fp), (fp_y, model_fp)}
    evaluated = store.edges(node=("metric", f"{run_id}:acc"), relation="evaluated")
    sources = {(e["src_type"], e["src_id"]) for e in evaluated}
    assert ("model", model_fp) in sources  # via pred = clf.predict(X)
    assert ("dataset", fp_x) in sources and ("dataset", fp_y) in sources
    # Predictions become data where they flow into a metric (cell 4), not where computed.
    pred_fp = fingerprint(shell.user_ns["pred"])
    versions = store.list_datasets("pred")
    assert len(versions) == 1 and versions[0]["execution_id"] == _executions()[3]["id"]
    read = store.edges(node=("dataset", pred_fp), relation="read")
    assert read and read[0]["dst_type"] == "execution"


def test_datasets_and_read_csv_source(shell, workdir) -> None:
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "x"]}).to_csv(workdir / "data.csv", index=False)
    run(shell, "import pandas as pd\ndf = pd.read_csv('data.csv')")
    run(shell, "df2 = df[df.a > 1]")
    run(shell, "df2.loc[:, 'a'] = 10")  # mutated in place: a new version
    store = _store()
    versions = store.list_datasets("df")
    assert len(versions) == 1
    assert versions[0]["source_path"] == str(workdir / "data.csv")
    from mlops_jupyter.capture.fingerprint import file_hash

    assert versions[0]["source_hash"] == file_hash(str(workdir / "data.csv"))
    assert [v["n_rows"] for v in store.list_datasets("df2")] == [2, 2]
    content = store.resolve_dataset("df@1")
    assert content["schema"] == {"a": "int64", "b": "str"}
    assert content["profile"]["a"]["max"] == 3 and content["profile"]["b"]["top"][0] == ["x", 2]
    files = store.edges(relation="read", node=("file", str(workdir / "data.csv")))
    assert len(files) == 1


def test_child_run_when_a_param_changes_after_results(shell) -> None:
    run(shell, "lr = 0.1\nepochs = 3")
    run(shell, "lr = 0.2")  # nothing computed yet (papermill's injected cell): same run
    first = get_session().run_id
    run(shell, "loss = 0.5")
    run(shell, "lr = 0.3")
    second = get_session().run_id
    run(shell, "loss = 0.4")
    store = _store()
    assert second != first
    child = store.get_run(second)
    assert child["parent_run_id"] == first
    assert store.get_params(first) == {"lr": 0.2, "epochs": 3}
    assert store.get_params(second) == {"lr": 0.3, "epochs": 3}
    sources = {p["key"]: p["source"] for p in store.list_params(second)}
    assert sources == {"lr": "auto", "epochs": "inherited"}
    assert store.latest_metrics(first) == {"loss": 0.5}
    assert store.latest_metrics(second) == {"loss": 0.4}
    run(shell, "lr = 0.3")  # same value again: no new run
    assert get_session().run_id == second


def test_off_on_and_skip_marker(shell) -> None:
    run(shell, "a = 1")
    run(shell, "%mlops off")
    run(shell, "b = 2")
    run(shell, "%mlops on")
    run(shell, "# mlops: skip\nc = 3")
    run(shell, "d = 4")
    assert [e["code"] for e in _executions()] == ["a = 1", "d = 4"]


def test_capture_failure_never_breaks_the_cell(shell, monkeypatch) -> None:
    from mlops_jupyter.capture import detect, hooks

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("capture exploded")

    monkeypatch.setattr(detect, "metrics_of", boom)
    hooks._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r1 = run(shell, "value = 21 * 2\nvalue")
        r2 = run(shell, "value + 1")
    assert r1.success and r1.result == 42
    assert r2.result == 43 and shell.user_ns["value"] == 42
    ours = [w for w in caught if issubclass(w.category, hooks.CaptureWarning)]
    assert len(ours) == 1 and "capture exploded" in str(ours[0].message)
    assert _executions() == []  # nothing half-written


def test_failure_keeps_buffered_metrics(shell, monkeypatch) -> None:
    import mlops_jupyter as mj
    from mlops_jupyter.capture import hooks, write

    run(shell, "import mlops_jupyter as mj")

    def fail_edges(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("edges exploded")

    monkeypatch.setattr(write, "_edges", fail_edges)
    hooks._warned.clear()
    with pytest.warns(hooks.CaptureWarning, match="edges exploded"):
        run(shell, "mj.log_metric('auc', 0.7)")
    assert get_session().pending_metrics and get_session().pending_metrics[0][0] == "auc"
    monkeypatch.undo()
    run(shell, "mj.log_metric('auc', 0.8, step=1)")
    history = _store().metric_history(get_session().run_id, "auc")
    assert [(m["value"], m["step"]) for m in history] == [(0.7, None), (0.8, 1)]
    assert mj.active_run().id == get_session().run_id


def test_read_only_cells_reuse_cached_fingerprints(shell, monkeypatch) -> None:
    from mlops_jupyter.capture import detect

    run(
        shell,
        "from sklearn.datasets import make_regression\n"
        "big, target = make_regression(n_samples=1000, n_features=3, random_state=0)",
    )
    calls: list[int] = []
    real = detect.fingerprint_soon

    def counting(obj: Any) -> Any:
        calls.append(1)
        return real(obj)

    monkeypatch.setattr(detect, "fingerprint_soon", counting)
    run(shell, "total = big.sum()\nm = big.max()")  # reads only: cached
    assert calls == []
    run(shell, "big.sort()")  # a method that may mutate: re-hashed (sorted rows: version 2)
    assert len(calls) == 1
    run(shell, "big[0] = 5.0")  # subscript store: re-hashed, version 3
    assert len(calls) == 2
    assert len(_store().list_datasets("big")) == 3


def test_status_magic_reports_last_cell(shell) -> None:
    run(shell, "lr = 0.1\nauc = 0.9")
    status = shell.run_line_magic("mlops", "")
    text = repr(status)
    assert _store().display in text
    assert "last cell params" in text and "lr" in text and "auc" in text
    html = status._repr_html_()
    assert "<table" in html and "lr" in html
    assert status.run["id"] == get_session().run_id


@pytest.mark.parametrize(
    "line",
    ["bogus", "metric auc=high", "metric", "param", "param nokey", "status extra", "run a b"],
)
def test_bad_magic_arguments_are_one_line(shell, capsys, line: str) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError) as info:
        shell.run_line_magic("mlops", line)
    assert type(info.value) is UsageError
    assert "\n" not in str(info.value)
    shell.run_cell(f"%mlops {line}", store_history=True)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    assert "UsageError" in out.out + out.err


def test_experiment_run_param_metric_magics(shell) -> None:
    run(shell, "%mlops experiment churn")
    first = get_session().run_id
    run(shell, "%mlops param lr=0.1 depth=5 kind=rf")
    run(shell, "%mlops metric auc=0.91 --step 2")
    run(shell, "%mlops run second")
    store = _store()
    assert store.get_run(first)["experiment"] == "churn"
    assert store.get_run(first)["status"] == "finished"
    assert store.get_params(first) == {"lr": 0.1, "depth": 5, "kind": "rf"}
    assert [(m["value"], m["step"]) for m in store.metric_history(first)] == [(0.91, 2)]
    assert store.get_run(get_session().run_id)["name"] == "second"
    frame = shell.run_line_magic("mlops", "runs --experiment churn")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2


def test_fingerprint_is_content_not_identity() -> None:
    from mlops_jupyter.capture.fingerprint import fingerprint, model_fingerprint

    rng = np.random.default_rng(0)
    data = rng.normal(size=(100, 4))
    a = pd.DataFrame(data, columns=list("abcd"))
    b = pd.DataFrame({c: data[:, i].copy() for i, c in enumerate("abcd")})  # other layout
    assert fingerprint(a) == fingerprint(b)
    assert len(fingerprint(a)) == 32
    assert fingerprint(a) != fingerprint(a.rename(columns={"a": "z"}))
    assert fingerprint(a) != fingerprint(a.astype({"a": "float32"}))
    assert fingerprint(a) != fingerprint(a.set_axis(range(1, 101)))
    c = a.copy()
    c.iloc[50, 2] += 1e-9
    assert fingerprint(a) != fingerprint(c)
    s = pd.Series(["x", "yy", None, "zzz"] * 10, dtype="str")
    chunked = pd.concat([s.iloc[:7], s.iloc[7:]], ignore_index=True)
    assert fingerprint(s) == fingerprint(chunked)
    assert fingerprint(s.astype(object)) == fingerprint(s.astype(object).copy())
    assert fingerprint(np.arange(10)[::2]) == fingerprint(np.array([0, 2, 4, 6, 8]))
    assert fingerprint([1, 2]) is None
    from sklearn.linear_model import LinearRegression

    m1 = LinearRegression().fit(data[:, :3], data[:, 3])
    m2 = LinearRegression().fit(data[:, :3], data[:, 3])
    m3 = LinearRegression().fit(data[:, :2], data[:, 3])
    assert model_fingerprint(m1) == model_fingerprint(m2) != model_fingerprint(m3)


def test_profile_structure() -> None:
    from mlops_jupyter.capture.profile import profile

    df = pd.DataFrame(
        {
            "num": [1.0, 2.0, 3.0, None, 5.0],
            "cat": ["a", "b", "a", "a", None],
            "flag": [True, False, True, True, False],
            "when": pd.date_range("2024-01-01", periods=5),
        }
    )
    p = profile(df)
    assert p["num"]["kind"] == "numeric" and p["num"]["nulls"] == 1 and p["num"]["count"] == 4
    assert p["num"]["min"] == 1.0 and p["num"]["max"] == 5.0 and p["num"]["mean"] == 2.75
    assert sum(p["num"]["histogram"]["counts"]) == 4 and len(p["num"]["histogram"]["edges"]) == 11
    assert p["num"]["quantiles"]["0.5"] == 2.5
    assert p["cat"]["kind"] == "categorical" and p["cat"]["top"][0] == ["a", 3]
    assert p["cat"]["distinct"] == 2
    assert p["flag"]["kind"] == "bool"
    assert p["when"]["kind"] == "datetime" and p["when"]["min"].startswith("2024-01-01")
    assert list(profile(np.zeros((3, 2)))) == ["0", "1"]


def test_odd_objects_are_fingerprinted_or_skipped_alone(shell) -> None:
    from mlops_jupyter.capture.fingerprint import fingerprint

    pd.DataFrame({"lists": ["x", "y"], "td": [1, 2], "a": [1, 2]}).to_csv("base.csv", index=False)
    run(shell, "import pandas as pd\nbase = pd.read_csv('base.csv')")
    run(  # derived from a dataset (shares its columns): data too
        shell,
        "odd = base.assign(lists=[[1, 2], [3]], td=pd.to_timedelta([1, 2], unit='s'))\n"
        "fine = base[['a']]",
    )
    names = {d["name"] for d in _store().list_datasets()}
    assert names == {"base", "odd", "fine"}
    assert fingerprint(shell.user_ns["odd"]) != fingerprint(shell.user_ns["odd"].iloc[::-1])


def test_one_failing_dataset_does_not_cost_the_cell(shell, monkeypatch) -> None:
    from mlops_jupyter.capture import _warn, cell

    real = cell.describe_dataset

    def picky(obj: Any, fp: Any = None, **kw: Any) -> Any:
        if getattr(obj, "name", None) == "bad":
            raise ValueError("cannot profile this one")
        return real(obj, fp, **kw)

    monkeypatch.setattr(cell, "describe_dataset", picky)
    _warn._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(
            shell,
            "import pandas as pd\nfrom sklearn.metrics import mean_squared_error\n"
            "s = pd.Series([1, 2], name='bad')\nt = pd.Series([3])\n"
            "mean_squared_error(s, s), mean_squared_error(t, t)",
        )
    assert len(_executions()) == 1
    assert {d["name"] for d in _store().list_datasets()} == {"t"}
    assert any("'s'" in str(w.message) for w in caught)


def test_status_before_any_run_and_unload_stops_capture(workdir) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    try:
        sh.run_line_magic("load_ext", "mlops_jupyter")
        status = sh.run_line_magic("mlops", "status")
        assert status.run is None and "none yet" in repr(status)
        run(sh, "a = 1")
        sh.run_line_magic("unload_ext", "mlops_jupyter")
        run(sh, "b = 2")
        assert [e["code"] for e in _executions()] == ["a = 1"]
    finally:
        sh.history_manager.end_session()
        InteractiveShell.clear_instance()


def test_a_number_too_large_for_a_float_does_not_cost_the_cell(shell) -> None:
    from mlops_jupyter.capture import _warn

    _warn._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(shell, "lr = 0.1\nz = 10**400\nbig_error = 10**400\nacc = 0.5")
    assert not [w for w in caught if "could not" in str(w.message)]
    assert [e["code"].splitlines()[1] for e in _executions()] == ["z = 10**400"]
    store, run_id = _store(), get_session().run_id
    assert store.latest_metrics(run_id) == {"acc": 0.5}
    assert store.get_params(run_id) == {"lr": 0.1}


def test_cells_written_in_the_background_all_reach_the_store_at_exit(tmp_path) -> None:
    """Capture writes a cell's record on the store's writer thread; a process that exits right
    after its last cell still has every record (and the run finished)."""
    import subprocess
    import sys

    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "sh = InteractiveShell.instance()\n"
        "sh.run_line_magic('load_ext', 'mlops_jupyter')\n"
        "for i in range(300):\n"
        "    sh.run_cell(f'acc_{i % 3} = {i} / 300', store_history=True)\n"
    )
    store_file = tmp_path / "lineage.db"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"MLOPS_JUPYTER_STORE": str(store_file), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    from mlops_jupyter.store import open_store

    store = open_store(store_file, shared=False)
    (run_row,) = store.list_runs()
    assert run_row["status"] == "finished"
    assert len(store.list_executions(run_row["id"])) == 300
    assert store.latest_metrics(run_row["id"])["acc_2"] == 299 / 300
    store.close()


def test_the_first_cell_does_not_wait_for_the_environment_scan(workdir, monkeypatch) -> None:
    """The package list and git state are looked up on a thread at %load_ext; a first cell that
    comes before they are known is not held up, and its run gets them once they are."""
    import threading

    from IPython.core.interactiveshell import InteractiveShell

    from mlops_jupyter.capture import session as session_mod

    gate = threading.Event()
    real = session_mod.environment

    def slow_environment():
        gate.wait(30)
        return real()

    monkeypatch.setattr(session_mod, "environment", slow_environment)
    monkeypatch.setattr(session_mod, "_background", None)
    session_mod.reset_session()
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    try:
        sh.run_line_magic("load_ext", "mlops_jupyter")
        run(sh, "x = 1")  # returns although the environment is not known yet
        run_id = get_session().run_id
        assert get_session().store_nowait.find_run(run_id)["environment_id"] is None
        gate.set()
        row = get_session().store.get_run(run_id)  # a read: waits for the facts, then the writes
        env = get_session().store.get_environment(row["environment_id"])
        assert env["packages"]["scikit-learn"]
    finally:
        gate.set()
        sh.run_line_magic("unload_ext", "mlops_jupyter")
        sh.history_manager.end_session()
        InteractiveShell.clear_instance()


def test_runs_know_their_notebook_in_vscode_and_from_the_launching_process(tmp_path) -> None:
    """VS Code sets __vsc_ipynb_file__; papermill and nbconvert name the notebook on their
    command line (the kernel's parent process)."""
    import subprocess
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    from mlops_jupyter.capture.session import notebook_path

    shell = InteractiveShell.instance()
    shell.user_ns["__vsc_ipynb_file__"] = str(tmp_path / "from vscode.ipynb")
    try:
        assert notebook_path() == str(tmp_path / "from vscode.ipynb")
    finally:
        del shell.user_ns["__vsc_ipynb_file__"]
    child = (
        "import os; os.environ.pop('JPY_SESSION_NAME', None)\n"
        "from mlops_jupyter.capture.session import notebook_path; print(notebook_path())"
    )
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    out = subprocess.run(
        [sys.executable, "-c", parent, "--log-output", "report.ipynb", "out.ipynb"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == str(tmp_path / "report.ipynb"), out.stderr


@pytest.mark.slow
def test_a_notebook_with_joblib_workers_ends_its_run_finished(tmp_path) -> None:
    import nbformat

    from mlops_jupyter.store import open_store

    from .conftest import execute_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext mlops_jupyter"),
        nbformat.v4.new_code_cell(
            "from sklearn.datasets import load_breast_cancer\n"
            "from sklearn.model_selection import cross_validate, GridSearchCV\n"
            "from sklearn.svm import SVC\n"
            "X, y = load_breast_cancer(return_X_y=True)\n"
            "cv = cross_validate(SVC(), X, y, cv=5, n_jobs=2)\n"
            "grid = GridSearchCV(SVC(), {'C': [0.1, 1]}, cv=3, n_jobs=2).fit(X, y)"
        ),
    ]
    nbformat.write(nb, tmp_path / "workers.ipynb")
    store_file = tmp_path / "lineage.db"
    execute_notebook(
        tmp_path / "workers.ipynb", tmp_path, env={"MLOPS_JUPYTER_STORE": str(store_file)}
    )
    store = open_store(store_file, shared=False)
    runs = store.list_runs()
    assert runs and {r["status"] for r in runs} == {"finished"}
    store.close()


def test_an_array_whose_size_raises_costs_only_itself(shell) -> None:
    """The review's case: an array-like whose ``.size`` raises lost the whole cell's record."""
    run(
        shell,
        "import pandas as pd\n"
        "class OddFrame(pd.DataFrame):\n"
        "    @property\n"
        "    def size(self):\n"
        "        raise RuntimeError('no size here')\n",
    )
    run(shell, "df_odd = OddFrame({'a': [1.0, 2.0]})\ndf = pd.DataFrame({'b': [3.0]})\nlr = 0.3")
    store, run_id = _store(), get_session().run_id
    assert _executions()[-1]["code"].startswith("df_odd = OddFrame(")
    assert store.get_params(run_id)["lr"] == 0.3
    assert "df" in {d["name"] for d in store.list_datasets()}
