"""%mlops register / models / promote / rollback in a real shell, and the registry panel."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

import mlops_jupyter as mj


def run(shell: Any, code: str) -> Any:
    """Run one cell like a notebook would (same as conftest.run)."""
    result = shell.run_cell(code, store_history=True)
    if not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec or result.error_before_exec}")
    return result


SETUP = [
    "from sklearn.datasets import load_breast_cancer\n"
    "from sklearn.model_selection import train_test_split\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "from sklearn.tree import DecisionTreeClassifier\n"
    "from sklearn.metrics import accuracy_score",
    "X, y = load_breast_cancer(return_X_y=True, as_frame=True)",
    "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)",
    "clf = LogisticRegression(max_iter=3000).fit(X_train, y_train)",
    "y_pred = clf.predict(X_test)",
    "accuracy = accuracy_score(y_test, y_pred)",
    "tree = DecisionTreeClassifier(max_depth=1).fit(X_train, y_train)",
    "tree_accuracy = accuracy_score(y_test, tree.predict(X_test))",
]


def _one_line_error(shell: Any, capsys: pytest.CaptureFixture[str], line: str) -> str:
    result = shell.run_cell(line, store_history=True)
    assert isinstance(result.error_in_exec, UsageError)
    assert type(result.error_in_exec) is UsageError
    out = capsys.readouterr()
    shown = (out.out + out.err).strip()
    assert "Traceback" not in shown
    assert len(shown.splitlines()) == 1, shown
    return shown


@pytest.fixture
def trained(shell: Any) -> Any:
    for cell in SETUP:
        run(shell, cell)
    return shell


def test_register_finds_run_training_and_evaluation_data_from_lineage(
    trained: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from sklearn.metrics import accuracy_score

    shell = trained
    capsys.readouterr()
    run(shell, "%mlops register clf --name bc")
    assert "Registered bc v1" in capsys.readouterr().out
    run(shell, "%mlops register tree --name bc")
    store = mj.open_store()
    v1, v2 = store.list_model_versions("bc")
    ns = shell.user_ns
    assert v1["run_id"] is not None and v1["run_id"] == v2["run_id"]
    assert {d["name"] for d in v1["training_datasets"]} >= {"X_train"}
    assert v1["card"]["evaluation_data"]["variables"] == ["X_test", "y_test"]
    assert v2["card"]["evaluation_data"]["variables"] == ["X_test", "y_test"]
    assert v1["metrics"]["accuracy"] == pytest.approx(ns["accuracy"])
    expected = accuracy_score(ns["y_test"], ns["tree"].predict(ns["X_test"]))
    assert v2["metrics"]["accuracy"] == pytest.approx(expected)
    assert store.count_run_executions(v1["run_id"]) >= len(SETUP)

    # the captured lineage makes the lineage gate pass, the tree fails the champion gate
    result = shell.run_line_magic("mlops", "promote bc 1 --to production --by ann")
    assert result.passed and result.moved, result.gates.to_string()
    assert result.gates.set_index("gate").loc["lineage", "verdict"] == "pass"
    failed = shell.run_line_magic("mlops", "promote bc 2 --to production")
    assert not failed.moved
    assert failed.gates.set_index("gate").loc["champion_vs_challenger", "verdict"] == "fail"
    forced = shell.run_line_magic("mlops", 'promote bc 2 --to production --force --reason "demo"')
    assert forced.moved and forced.forced
    capsys.readouterr()
    run(shell, "%mlops rollback bc production")
    assert "v2 -> v1" in capsys.readouterr().out
    run(shell, "%mlops models bc --alias production --at 2000-01-01")
    assert "nobody" in capsys.readouterr().out
    history = shell.run_line_magic("mlops", "models bc --history")
    assert history.data.count("rollback") == 1
    assert mj.audit_verify().ok


def test_magic_errors_are_one_line(trained: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell = trained
    capsys.readouterr()
    assert "No variable named 'nothing'" in _one_line_error(
        shell, capsys, "%mlops register nothing --name bc"
    )
    assert "--name" in _one_line_error(shell, capsys, "%mlops register clf")
    assert "No registered model named 'nope'" in _one_line_error(
        shell, capsys, "%mlops promote nope 1 --to production"
    )
    assert "--to" in _one_line_error(shell, capsys, "%mlops promote bc 1")
    run(shell, "%mlops register clf --name bc")
    capsys.readouterr()
    assert "needs a reason" in _one_line_error(
        shell, capsys, "%mlops promote bc 1 --to production --force"
    )
    assert "nothing to roll back" in _one_line_error(shell, capsys, "%mlops rollback bc production")
    assert "Cannot read the date" in _one_line_error(
        shell, capsys, "%mlops models bc --at yesterday"
    )


def test_panel_promote_is_disabled_until_gates_pass(trained: Any) -> None:
    from mlops_jupyter.magics.registry import _panel

    shell = trained
    run(shell, "%mlops register clf --name bc")
    run(shell, "%mlops register tree --name bc --eval X_test y_test --train X_train --by ann")
    tree = mj.open_store().get_model_version("bc", 2)
    assert tree["created_by"] == "ann" and tree["train_fingerprint"]
    assert tree["card"]["evaluation_data"]["rows"] == len(shell.user_ns["X_test"])
    run(shell, "%mlops promote bc 1 --to production")
    panel = _panel(mj.models("bc"))
    w = panel.mlops
    assert w["promote"].disabled
    w["version"].value = 2
    w["alias"].value = "production"
    w["check"].click()
    assert "champion_vs_challenger" in w["output"].value
    assert "<img" in w["output"].value  # the bootstrap plot
    assert w["promote"].disabled  # gates fail: promote stays disabled
    w["promote"].click()
    assert mj.models("bc").aliases == {"production": 1}
    w["alias"].value = "staging"  # no holder: no champion gate, lineage known
    w["check"].click()
    assert not w["promote"].disabled, w["output"].value
    w["reason"].value = "try the tree in staging"
    w["promote"].click()
    assert mj.models("bc").aliases == {"production": 1, "staging": 2}
    assert "staging" in w["header"].value
    assert mj.open_store().list_audit_records("bc")[-1]["reason"] == "try the tree in staging"
    w["alias"].value = "staging"
    w["version"].value = 2
    w["check"].click()  # already holds: the error is shown, never raised
    assert "already holds" in w["output"].value


def test_unfitted_model_is_refused_and_never_takes_another_models_metrics(
    trained: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = trained
    run(shell, "u = LogisticRegression()")
    capsys.readouterr()
    assert "Fit it first" in _one_line_error(shell, capsys, "%mlops register u --name unfit")
    with pytest.raises(mj.errors.ModelNotFound):
        mj.models("unfit")


def test_custom_model_with_predict_registers_as_task_other(
    trained: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = trained
    run(shell, "class Always:\n    def predict(self, X):\n        return [0] * len(X)\n")
    run(shell, "c = Always()")
    capsys.readouterr()
    run(shell, "%mlops register c --name custom")
    assert "Registered custom v1 (Always" in capsys.readouterr().out
    row = mj.open_store().get_model_version("custom", 1)
    # lineage knows nothing of c: the run's metrics (clf's, tree's) are not c's
    assert row["task"] == "other" and row["metrics"] == {}
    run(shell, "%mlops register c --name custom --eval X_test y_test")
    assert mj.open_store().get_model_version("custom", 2)["eval_fingerprint"]
    loaded = mj.load_model("custom", trusted=["__main__.Always"])
    assert list(loaded.predict([[1], [2]])) == [0, 0]
