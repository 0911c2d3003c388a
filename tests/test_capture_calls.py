"""Capture of real notebook code: metrics wherever computed, sweeps, searches, CV, reports.

Each test runs cells written the way tutorials write them (metrics in ``print``, loops over
hyper-parameters, dicts of scores, ``cross_val_score`` arrays, grid searches) in a real
InteractiveShell with the extension loaded, and asserts what the store holds, value by value.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from mlops_jupyter.capture import artifacts
from mlops_jupyter.capture import session as session_mod
from mlops_jupyter.capture.session import get_session

from .conftest import run

DATA = (
    "import numpy as np\n"
    "from sklearn.datasets import load_iris\n"
    "from sklearn.model_selection import train_test_split\n"
    "X, y = load_iris(return_X_y=True)\n"
    "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1)"
)


pytestmark = pytest.mark.usefixtures("fresh_session")


def _store() -> Any:
    return get_session().store


def _runs() -> list[dict[str, Any]]:
    return _store().list_runs()


def _children(run_id: str) -> list[dict[str, Any]]:
    return [r for r in _runs() if r["parent_run_id"] == run_id]


def test_a_metric_only_printed_is_recorded_with_its_split_model_and_data(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.metrics import accuracy_score\n"
        "clf = LogisticRegression(max_iter=500).fit(X_train, y_train)\n"
        "print(f'train {accuracy_score(y_train, clf.predict(X_train)):.3f}')\n"
        "print(f'test {accuracy_score(y_test, clf.predict(X_test)):.3f}')",
    )
    store, run_id = _store(), get_session().run_id
    clf, ns = shell.user_ns["clf"], shell.user_ns
    metrics = store.latest_metrics(run_id)
    assert metrics["train_accuracy_score"] == clf.score(ns["X_train"], ns["y_train"])
    assert metrics["test_accuracy_score"] == clf.score(ns["X_test"], ns["y_test"])
    origins = store.metric_origins(run_id)
    assert origins["test_accuracy_score"]["producer"] == "accuracy_score"
    assert origins["test_accuracy_score"]["split"] == "test"
    assert origins["train_accuracy_score"]["model_name"] == "clf"
    from mlops_jupyter.capture.fingerprint import fingerprint

    edges = store.edges(node=("metric", f"{run_id}:test_accuracy_score"), relation="evaluated")
    sources = {(e["src_type"], e["src_id"]) for e in edges}
    model_fp = store.list_models(run_id)[0]["fingerprint"]
    assert ("model", model_fp) in sources
    assert ("dataset", fingerprint(ns["X_test"])) in sources
    assert ("dataset", fingerprint(ns["y_test"])) in sources
    assert ("dataset", fingerprint(ns["X_train"])) not in sources


def test_a_loop_over_a_hyper_parameter_is_a_sweep_of_child_runs(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.svm import SVC\n"
        "scores = []\n"
        "for C in [0.01, 1, 100]:\n"
        "    svc = SVC(C=C).fit(X_train, y_train)\n"
        "    scores.append(svc.score(X_test, y_test))",
    )
    parent = get_session().run_id
    children = _children(parent)
    store = _store()
    assert [store.get_params(c["id"])["svc.C"] for c in children] == [0.01, 1, 100]
    got = [store.latest_metrics(c["id"])["test_score"] for c in children]
    assert got == pytest.approx(shell.user_ns["scores"])
    assert all(c["status"] == "finished" for c in children)
    assert [c["name"].split(" · ")[1] for c in children] == ["svc C=0.01", "svc C=1", "svc C=100"]
    inherited = {p["key"]: p["source"] for p in store.list_params(children[0]["id"])}
    assert inherited["train_test_split.test_size"] == "inherited"
    assert store.latest_metrics(parent) == {}  # the sweep's metrics are the children's
    assert len({m["fingerprint"] for c in children for m in store.list_models(c["id"])}) == 3
    from mlops_jupyter.analysis.compare import compare

    best = compare(metric="test_score", store=store).best("test_score")
    assert best["params.svc.C"] in (1, 100)


def test_rescoring_one_configuration_is_a_curve_with_steps(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.linear_model import SGDClassifier\n"
        "sgd = SGDClassifier(random_state=0)\n"
        "for epoch in range(4):\n"
        "    sgd.partial_fit(X_train, y_train, classes=np.unique(y))\n"
        "    print(epoch, sgd.score(X_test, y_test))",
    )
    store, run_id = _store(), get_session().run_id
    assert _children(run_id) == []
    history = store.metric_history(run_id, "test_score")
    assert [h["step"] for h in history] == [0, 1, 2, 3]
    assert history[-1]["value"] == shell.user_ns["sgd"].score(
        shell.user_ns["X_test"], shell.user_ns["y_test"]
    )


def test_grid_search_best_on_the_run_and_every_candidate_a_child(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.model_selection import GridSearchCV\n"
        "from sklearn.svm import SVC\n"
        "grid = GridSearchCV(SVC(), {'C': [0.1, 1, 10], 'kernel': ['rbf', 'linear']}, cv=3)\n"
        "grid.fit(X_train, y_train)\n"
        "print(grid.best_params_, grid.best_score_)",
    )
    store, run_id = _store(), get_session().run_id
    grid = shell.user_ns["grid"]
    assert store.latest_metrics(run_id)["best_score"] == grid.best_score_
    params = store.get_params(run_id)
    assert params["grid.best.C"] == grid.best_params_["C"]
    assert params["grid.cv"] == 3 and params["grid.class"] == "GridSearchCV"
    children = _children(run_id)
    assert len(children) == 6
    results = grid.cv_results_
    for i, child in enumerate(children):
        assert store.get_params(child["id"]) == results["params"][i]
        metrics = store.latest_metrics(child["id"])
        assert metrics["mean_test_score"] == results["mean_test_score"][i]
        assert metrics["rank_test_score"] == results["rank_test_score"][i]
        assert "mean_fit_time" not in metrics
    names = {m["name"] for m in store.list_models(run_id)}
    assert names == {"grid", "grid.best_estimator_"}


def test_thousands_of_candidates_become_child_runs(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.dummy import DummyRegressor\n"
        "from sklearn.model_selection import GridSearchCV\n"
        "wide = GridSearchCV(DummyRegressor(strategy='constant'),\n"
        "                    {'constant': list(np.linspace(0, 2, 2000))}, cv=2).fit(X, y)",
    )
    children = _children(get_session().run_id)
    assert len(children) == 2000
    assert _store().get_params(children[-1]["id"]) == {"constant": 2.0}


def test_cross_validation_arrays_folds_mean_and_std(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.model_selection import cross_val_score, cross_validate\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "tree = DecisionTreeClassifier(max_depth=3, random_state=0)\n"
        "scores = cross_val_score(tree, X, y, cv=5)\n"
        "res = cross_validate(tree, X, y, cv=4, scoring=['accuracy', 'f1_macro'],\n"
        "                     return_train_score=True)",
    )
    store, run_id = _store(), get_session().run_id
    scores, res = shell.user_ns["scores"], shell.user_ns["res"]
    metrics = store.latest_metrics(run_id)
    assert metrics["cv_score.mean"] == pytest.approx(scores.mean())
    assert metrics["cv_score.std"] == pytest.approx(scores.std())
    folds = store.metric_history(run_id, "cv_score.fold")
    assert [f["value"] for f in folds] == pytest.approx(list(scores))
    assert [f["step"] for f in folds] == [0, 1, 2, 3, 4]
    assert metrics["cv_f1_macro.mean"] == pytest.approx(res["test_f1_macro"].mean())
    assert metrics["cv_train_accuracy.mean"] == pytest.approx(res["train_accuracy"].mean())
    params = store.get_params(run_id)
    assert params["tree.max_depth"] == 3 and params["cross_val_score.cv"] == 5


def test_classification_report_text_and_dict_and_named_dict_entries(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.metrics import classification_report, f1_score\n"
        "clf = LogisticRegression(max_iter=500).fit(X_train, y_train)\n"
        "y_pred = clf.predict(X_test)\n"
        "print(classification_report(y_test, y_pred))\n"
        "report = classification_report(y_test, y_pred, output_dict=True)\n"
        "f1 = {}\n"
        "f1['macro'] = f1_score(y_test, y_pred, average='macro')\n"
        "summary = {'weighted': f1_score(y_test, y_pred, average='weighted')}",
    )
    store, run_id = _store(), get_session().run_id
    report = shell.user_ns["report"]
    metrics = store.latest_metrics(run_id)
    assert (
        metrics["test_classification_report.macro_avg.f1_score"] == report["macro avg"]["f1-score"]
    )
    assert metrics["report.1.recall"] == report["1"]["recall"]
    assert metrics["report.accuracy"] == report["accuracy"]
    assert not any(k.endswith("support") for k in metrics)
    assert metrics["f1.macro"] == shell.user_ns["f1"]["macro"]
    assert metrics["weighted"] == shell.user_ns["summary"]["weighted"]


def test_a_changed_estimator_kwarg_starts_a_child_run(shell) -> None:
    run(shell, DATA)
    fit = (
        "from sklearn.linear_model import ElasticNet\n"
        "from sklearn.metrics import r2_score\n"
        "enet = ElasticNet(alpha=0.1, l1_ratio={ratio}).fit(X_train, y_train)\n"
        "print(r2_score(y_test, enet.predict(X_test)))"
    )
    run(shell, fit.format(ratio=0.7))
    first = get_session().run_id
    run(shell, fit.format(ratio=0.7))  # same settings again: same run
    assert get_session().run_id == first
    run(shell, fit.format(ratio=0.5))
    second = get_session().run_id
    store = _store()
    assert second != first and store.get_run(second)["parent_run_id"] == first
    assert store.get_params(first)["enet.l1_ratio"] == 0.7
    assert store.get_params(second)["enet.l1_ratio"] == 0.5
    for run_id in (first, second):
        assert "test_r2_score" in store.latest_metrics(run_id)


def test_two_estimators_keep_their_own_params_and_metrics(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.ensemble import RandomForestClassifier\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "rf = RandomForestClassifier(n_estimators=20, verbose=0, random_state=0).fit(X_train, y_train)",
    )
    run(shell, "print(rf.score(X_test, y_test))")
    run(shell, "lr = LogisticRegression(max_iter=300, verbose=0).fit(X_train, y_train)")
    run(shell, "print(lr.score(X_test, y_test))")
    store, run_id = _store(), get_session().run_id
    params, metrics = store.get_params(run_id), store.latest_metrics(run_id)
    assert params["rf.verbose"] == 0 and params["lr.max_iter"] == 300
    assert metrics["test_score"] == shell.user_ns["rf"].score(
        shell.user_ns["X_test"], shell.user_ns["y_test"]
    )
    assert metrics["lr.test_score"] == shell.user_ns["lr"].score(
        shell.user_ns["X_test"], shell.user_ns["y_test"]
    )
    sources = {p["key"]: p["source"] for p in store.list_params(run_id)}
    assert sources["rf.n_estimators"] == "estimator" and sources["rf.criterion"] == "default"


def test_pipeline_params_in_sklearn_form_and_stable_values(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from scipy.stats import loguniform\n"
        "from sklearn.model_selection import RandomizedSearchCV, KFold\n"
        "from sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import FunctionTransformer, StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(),\n"
        "                     LogisticRegression(max_iter=500))\n"
        "search = RandomizedSearchCV(pipe, {'logisticregression__C': loguniform(1e-2, 1e2)},\n"
        "                            n_iter=4, cv=KFold(3, shuffle=True, random_state=0),\n"
        "                            random_state=0).fit(X_train, y_train)",
    )
    params = _store().get_params(get_session().run_id)
    assert params["search.estimator__logisticregression__C"] == 1.0
    assert params["search.estimator__functiontransformer__func"] == "numpy.log1p"
    assert (
        params["search.param_distributions"] == "{'logisticregression__C': loguniform(0.01, 100.0)}"
    )
    assert params["search.cv.n_splits"] == 3 and params["search.cv.shuffle"] is True
    assert params["search.n_iter"] == 4
    assert not any("0x" in str(v) for v in params.values())


def test_datasets_are_data_not_plots_or_results(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "import pandas as pd\n"
        "from sklearn.model_selection import GridSearchCV\n"
        "from sklearn.neighbors import KNeighborsClassifier\n"
        "knn = GridSearchCV(KNeighborsClassifier(), {'n_neighbors': [1, 5]}, cv=3).fit(X, y)\n"
        "results = pd.DataFrame(knn.cv_results_)\n"
        "xx, yy = np.meshgrid(np.linspace(0, 8, 30), np.linspace(0, 5, 30))\n"
        "grid_pts = np.c_[xx.ravel(), yy.ravel(), xx.ravel(), yy.ravel()]\n"
        "Z = knn.predict(grid_pts).reshape(xx.shape)\n"
        "fig, axes = plt.subplots(1, 2)\n"
        "for ax, y in zip(axes, [np.sin(np.arange(5)), np.cos(np.arange(5))]):\n"
        "    ax.plot(y)",
    )
    names = {d["name"] for d in _store().list_datasets()}
    assert {"X", "y", "X_train", "X_test", "y_train", "y_test"} <= names
    assert not names & {"results", "xx", "yy", "Z", "fig", "axes"}
    assert len(_store().list_datasets("y")) == 1  # the loop's y is not version 2 of the labels


def test_models_of_other_sklearn_api_libraries(shell) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    pytest.importorskip("imblearn")
    del lightgbm
    run(shell, DATA)
    run(
        shell,
        "from lightgbm import LGBMClassifier\n"
        "from imblearn.over_sampling import RandomOverSampler\n"
        "from imblearn.pipeline import make_pipeline as imb_pipeline\n"
        "from sklearn.metrics import balanced_accuracy_score\n"
        "booster = LGBMClassifier(n_estimators=15, num_leaves=7, verbose=-1).fit(X_train, y_train)\n"
        "print(balanced_accuracy_score(y_test, booster.predict(X_test)))\n",
    )
    run(
        shell,
        "from sklearn.linear_model import LogisticRegression\n"
        "imb = imb_pipeline(RandomOverSampler(random_state=0), LogisticRegression(max_iter=400))\n"
        "imb.fit(X_train, y_train)\n"
        "print(imb.score(X_test, y_test))",
    )
    store, run_id = _store(), get_session().run_id
    classes = {m["name"]: m["class_name"].rsplit(".", 1)[1] for m in store.list_models()}
    assert classes == {"booster": "LGBMClassifier", "imb": "Pipeline"}
    params = store.get_params(run_id)
    assert params["booster.num_leaves"] == 7
    assert params["imb.randomoversampler__random_state"] == 0
    metrics = store.latest_metrics(run_id)
    assert "test_balanced_accuracy_score" in metrics and "test_score" in metrics


def test_model_files_are_written_in_the_background(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.ensemble import RandomForestClassifier\n"
        "forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(X, y)",
    )
    assert artifacts.flush(timeout=60)
    model = _store().list_models(get_session().run_id)[0]
    assert model["artifact_hash"]
    import skops.io

    data = _store().read_artifact(model["artifact_hash"])
    loaded = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    assert (
        loaded.predict(shell.user_ns["X"]) == shell.user_ns["forest"].predict(shell.user_ns["X"])
    ).all()


def test_a_cell_waiting_for_background_work_does_not_wait_for_its_own_end(
    shell, monkeypatch
) -> None:
    """Model files and the package scan wait for an idle kernel; a cell that asks for them
    (``mj.runs()``, ``%mlops expect``, a flush) got them only when that wait timed out: 10-30 s
    in "Run all" (found in the example notebooks)."""
    run(shell, DATA)
    run(
        shell,
        "from sklearn.tree import DecisionTreeClassifier\nt = DecisionTreeClassifier().fit(X, y)",
    )
    monkeypatch.setattr(session_mod, "_background", None)  # a lookup that starts in the cell
    run(
        shell,
        "from mlops_jupyter.capture import artifacts\n"
        "from mlops_jupyter.capture.session import background_facts\n"
        "written = artifacts.flush(timeout=10)  # the fit cell's model file\n"
        "known = background_facts().wait(10)",
    )
    assert shell.user_ns["written"] is True and shell.user_ns["known"] is True
    assert _store().list_models(get_session().run_id)[0]["artifact_hash"]


def test_a_model_refitted_before_its_file_is_written_keeps_no_wrong_file(
    shell, monkeypatch
) -> None:
    run(shell, DATA)
    assert artifacts.flush(timeout=60)
    # Hold the writer back until the model has been refitted in place.
    import threading

    gate = threading.Event()
    real = artifacts._write

    def slow(*args: Any) -> None:
        gate.wait(30)
        real(*args)

    monkeypatch.setattr(artifacts, "_write", slow)
    run(
        shell,
        "from sklearn.tree import DecisionTreeClassifier\nt = DecisionTreeClassifier(max_depth=1).fit(X, y)",
    )
    first = _store().list_models(get_session().run_id)[0]["fingerprint"]
    run(shell, "t.set_params(max_depth=3)\nt.fit(X, y)")
    gate.set()
    assert artifacts.flush(timeout=60)
    rows = {m["fingerprint"]: m for m in _store().list_models()}
    assert rows[first]["artifact_hash"] is None  # that state is gone: no file claims it
    assert all(m["artifact_hash"] for fp, m in rows.items() if fp != first)


# -- the wrappers are invisible -----------------------------------------------------------------


def test_wrapped_calls_return_the_same_objects_errors_and_warnings(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "import sklearn.metrics\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression(max_iter=2)",
    )
    from mlops_jupyter.capture.instrument import original_of

    ns = shell.user_ns
    assert (
        original_of(ns["sklearn"].metrics.accuracy_score)
        is not ns["sklearn"].metrics.accuracy_score
    )
    run(shell, "same = clf.fit(X, y) is clf")
    assert ns["same"] is True
    # The warning a user sees points where it would without capture.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(shell, "clf.fit(X, y)")
    ours = [(w.category, str(w.message), w.filename, w.lineno) for w in caught]
    from mlops_jupyter.capture import instrument

    instrument.uninstall()
    try:
        with warnings.catch_warnings(record=True) as plain:
            warnings.simplefilter("always")
            run(shell, "clf.fit(X, y)")
    finally:
        instrument.install()
    assert ours == [(w.category, str(w.message), w.filename, w.lineno) for w in plain]
    assert ours and ours[0][0].__name__ == "ConvergenceWarning"
    # An error inside a wrapped call: same exception, and no frame of ours in the traceback.
    result = run(shell, "sklearn.metrics.accuracy_score([1, 2], [1])", check=False)
    err = result.error_in_exec
    assert isinstance(err, ValueError) and "inconsistent numbers of samples" in str(err)
    tb, files = err.__traceback__, []
    while tb is not None:
        files.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert not any("mlops_jupyter" in f for f in files)


def test_wrapped_functions_pickle_and_run_in_joblib_workers(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "import pickle\n"
        "from sklearn.metrics import accuracy_score, make_scorer\n"
        "from sklearn.model_selection import cross_val_score\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "again = pickle.loads(pickle.dumps(accuracy_score))\n"
        "par = cross_val_score(LogisticRegression(max_iter=300), X, y, cv=3, n_jobs=2,\n"
        "                      scoring=make_scorer(accuracy_score))\n"
        "seq = cross_val_score(LogisticRegression(max_iter=300), X, y, cv=3,\n"
        "                      scoring=make_scorer(accuracy_score))",
    )
    ns = shell.user_ns
    assert ns["again"] is ns["accuracy_score"]
    assert np.allclose(ns["par"], ns["seq"])


def test_a_failure_while_recording_is_one_warning_and_the_cell_runs(shell, monkeypatch) -> None:
    from mlops_jupyter.capture import _warn, events

    run(shell, DATA)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("recorder exploded")

    monkeypatch.setitem(events._HANDLERS, "metric", broken)
    _warn._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run(
            shell,
            "from sklearn.metrics import accuracy_score\n"
            "a = accuracy_score([1, 0, 1], [1, 1, 1])\nb = accuracy_score([1], [1])",
        )
    assert result.success and shell.user_ns["a"] == pytest.approx(2 / 3)
    assert len([w for w in caught if "recorder exploded" in str(w.message)]) == 1
    assert _store().list_executions(get_session().run_id)  # the cell is still recorded


def test_an_estimator_defined_in_the_notebook_is_captured_and_runs_in_workers(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.base import BaseEstimator, ClassifierMixin\n"
        "from sklearn.model_selection import cross_val_score\n"
        "class Majority(ClassifierMixin, BaseEstimator):\n"
        "    def __init__(self, bias=0):\n"
        "        self.bias = bias\n"
        "    def fit(self, X, y):\n"
        "        self.classes_, counts = np.unique(y, return_counts=True)\n"
        "        self.label_ = self.classes_[counts.argmax()]\n"
        "        return self\n"
        "    def predict(self, X):\n"
        "        return np.full(len(X), self.label_)\n",
    )
    run(shell, "maj = Majority(bias=2).fit(X_train, y_train)\nprint(maj.score(X_test, y_test))")
    run(shell, "par = cross_val_score(Majority(), X, y, cv=3, n_jobs=2)")
    store, run_id = _store(), get_session().run_id
    assert store.get_params(run_id)["maj.bias"] == 2
    assert store.latest_metrics(run_id)["test_score"] == shell.user_ns["maj"].score(
        shell.user_ns["X_test"], shell.user_ns["y_test"]
    )
    assert len(shell.user_ns["par"]) == 3  # the class travelled to loky workers and ran there
    assert [m["name"] for m in store.list_models(run_id)] == ["maj"]


def test_capture_class_adds_another_framework(shell, tmp_path, monkeypatch) -> None:
    (tmp_path / "tinyml.py").write_text(
        "class Mean:\n"
        "    def __init__(self, shrink=0.0):\n"
        "        self.shrink = shrink\n"
        "    def get_params(self, deep=True):\n"
        "        return {'shrink': self.shrink}\n"
        "    def fit(self, X, y):\n"
        "        self.mean_ = float(sum(y)) / len(y) * (1 - self.shrink)\n"
        "        return self\n"
        "    def predict(self, X):\n"
        "        return [self.mean_] * len(X)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run(shell, DATA)
    run(
        shell,
        "import mlops_jupyter as mj\nimport tinyml\nmj.capture_class(tinyml.Mean)\n"
        "from sklearn.metrics import mean_absolute_error\n"
        "m = tinyml.Mean(shrink=0.1).fit(X_train, y_train)\n"
        "print(mean_absolute_error(y_test, m.predict(X_test)))",
    )
    store, run_id = _store(), get_session().run_id
    assert store.get_params(run_id)["m.shrink"] == 0.1
    assert store.metric_origins(run_id)["test_mean_absolute_error"]["model_name"] == "m"
    assert [m["class_name"] for m in store.list_models(run_id)] == ["tinyml.Mean"]


@pytest.mark.slow
def test_capture_example_notebook_records_what_its_code_computes(tmp_path) -> None:
    """example_notebooks/capture.ipynb, executed by nbclient: the store holds what it shows."""
    import shutil

    from mlops_jupyter.store import open_store

    from .conftest import EXAMPLES, execute_notebook

    shutil.copy(EXAMPLES / "capture.ipynb", tmp_path)
    store_file = tmp_path / ".mlops" / "lineage.db"
    nb = execute_notebook(
        tmp_path / "capture.ipynb", tmp_path, env={"MLOPS_JUPYTER_STORE": str(store_file)}
    )
    assert not [
        o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    store = open_store(store_file, shared=False)
    runs = store.list_runs("capture-tour")
    (main,) = [r for r in runs if r["parent_run_id"] is None]
    metrics = store.latest_metrics(main["id"])
    printed = next(o["text"] for o in nb.cells[4].outputs if o.get("name") == "stdout")
    assert f"test accuracy: {metrics['test_accuracy_score']:.3f}" in printed
    assert {"cv_score.mean", "cv_score.std", "best_score"} <= set(metrics)
    sweep = [r for r in runs if " · model " in r["name"]]
    cs = sorted(store.get_params(r["id"])["model.logisticregression__C"] for r in sweep)
    assert cs == [0.001, 0.01, 0.1, 1, 10]
    candidates = [r for r in runs if " · search #" in r["name"]]
    assert len(candidates) == 6
    assert all("mean_test_score" in store.latest_metrics(r["id"]) for r in candidates)
    store.close()


def test_a_loop_of_fits_neither_keeps_its_models_alive_nor_stores_them_all(shell) -> None:
    """Capture holds the models a loop fits only weakly (past the few whose files it writes),
    and one setting refitted 60 times in a cell is at most MAX_MODELS models, the last included."""
    from mlops_jupyter.capture.events import MAX_MODELS

    run(shell, DATA)
    run(
        shell,
        "import gc, weakref\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "refs = []\n"
        "for seed in range(60):\n"
        "    rows = np.random.default_rng(seed).choice(len(X), 120, replace=False)\n"
        "    lr = LogisticRegression(max_iter=300).fit(X[rows], y[rows])\n"
        "    refs.append(weakref.ref(lr))\n"
        "del lr\n"
        "gc.collect()\n"
        "alive = sum(r() is not None for r in refs)",
    )
    assert shell.user_ns["alive"] <= MAX_MODELS  # only files still being written hold a model
    assert artifacts.flush(timeout=60)
    models = _store().list_models(get_session().run_id)
    assert 1 <= len(models) <= MAX_MODELS
    assert all(m["artifact_hash"] for m in models)


def test_halving_search_candidates_carry_their_iteration_and_resources(shell) -> None:
    run(shell, DATA)
    run(
        shell,
        "from sklearn.experimental import enable_halving_search_cv  # noqa: F401\n"
        "from sklearn.model_selection import HalvingGridSearchCV\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "halving = HalvingGridSearchCV(DecisionTreeClassifier(random_state=0),\n"
        "                              {'max_depth': [1, 2, 3, 4, 5, 6]}, cv=3, factor=2,\n"
        "                              random_state=0).fit(X, y)",
    )
    store, run_id = _store(), get_session().run_id
    search = shell.user_ns["halving"]
    assert store.latest_metrics(run_id)["best_score"] == search.best_score_
    children = _children(run_id)
    assert len(children) == len(search.cv_results_["params"])
    params = [store.get_params(c["id"]) for c in children]
    assert [p["iter"] for p in params] == list(search.cv_results_["iter"])
    assert [p["n_resources"] for p in params] == list(search.cv_results_["n_resources"])
