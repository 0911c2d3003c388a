"""Model registry: versions, safe loading, gates, champion vs challenger, audit chain, CLI."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mlops_jupyter as mj
from mlops_jupyter.errors import (
    AuditTampered,
    InvalidInput,
    ModelNotFound,
    RegistryError,
    UnsafeModel,
)
from tests.conftest import overwrite_artifact, remove_artifact


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    good.fit(X_train, y_train)
    good2 = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000))
    good2.fit(X_train, y_train)
    bad = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X_train, y_train)
    return {
        "X_train": X_train,
        "X_test": X_test,
        "y_train": y_train,
        "y_test": y_test,
        "good": good,
        "good2": good2,
        "bad": bad,
    }


def _register(store: Any, model: Any, data: dict[str, Any], name: str = "bc") -> dict[str, Any]:
    return mj.register_model(
        model,
        name,
        eval_data=(data["X_test"], data["y_test"]),
        train_data=data["X_train"],
        store=store,
        by="ann",
    )


def _no_lineage_policy(store: Any, name: str = "bc", **kw: Any) -> None:
    mj.set_policy(name, lineage=False, store=store, **kw)


# -- register and load ------------------------------------------------------------------------


def test_register_stores_skops_file_metrics_card_and_eval_snapshot(store, data) -> None:
    from sklearn.metrics import accuracy_score, roc_auc_score

    row = _register(store, data["good"], data)
    assert (row["name"], row["version"], row["format"]) == ("bc", 1, "skops")
    expected_acc = accuracy_score(data["y_test"], data["good"].predict(data["X_test"]))
    expected_auc = roc_auc_score(data["y_test"], data["good"].predict_proba(data["X_test"])[:, 1])
    assert row["metrics"]["accuracy"] == pytest.approx(expected_acc, abs=1e-6)
    assert row["metrics"]["auc"] == pytest.approx(expected_auc, abs=1e-6)
    assert row["card"]["params"]["memory"] is None
    assert "scikit-learn" in row["card"]["environment"]["packages"]
    assert row["card"]["evaluation_data"]["rows"] == len(data["X_test"])
    ev = store.find_eval_dataset(row["eval_fingerprint"])
    assert ev["n_rows"] == len(data["X_test"]) and ev["target_column"]
    second = _register(store, data["bad"], data)
    assert second["version"] == 2
    assert second["untrusted_types"] == ["sklearn.tree._tree.Tree"]
    assert "# Model card: bc v1" in mj.models("bc", store=store).card(1)

    loaded = mj.load_model("bc", version=1, store=store)
    assert (loaded.predict(data["X_test"]) == data["good"].predict(data["X_test"])).all()
    tree = mj.load_model("bc", store=store)  # the latest is the tree: its Tree type is allowed
    assert (tree.predict(data["X_test"]) == data["bad"].predict(data["X_test"])).all()


@pytest.mark.parametrize(
    "estimator",
    [
        "DecisionTreeClassifier",
        "RandomForestClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
    ],
)
def test_users_own_tree_models_load_back_by_default(store, data, estimator) -> None:
    import sklearn.ensemble
    import sklearn.tree

    cls = getattr(sklearn.tree, estimator, None) or getattr(sklearn.ensemble, estimator)
    kwargs = {"max_iter": 5} if estimator.startswith("Hist") else {}
    if estimator in ("RandomForestClassifier", "GradientBoostingClassifier"):
        kwargs = {"n_estimators": 5}
    model = cls(random_state=0, **kwargs).fit(data["X_train"], data["y_train"])
    mj.register_model(model, "cancer", eval_data=(data["X_test"], data["y_test"]), store=store)
    mj.set_policy("cancer", drift=False, lineage=False, store=store)
    assert mj.promote("cancer", 1, "production", store=store).moved
    loaded = mj.load_model("cancer", alias="production", store=store)  # no trusted= argument
    assert (loaded.predict(data["X_test"]) == model.predict(data["X_test"])).all()


def double(x: Any) -> Any:
    return x * 2


def test_load_refuses_types_outside_the_allow_list_and_names_them(store, data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    model = make_pipeline(FunctionTransformer(double), StandardScaler(), LogisticRegression())
    model.fit(data["X_train"], data["y_train"])
    _register(store, model, data)
    with pytest.raises(UnsafeModel) as err:
        mj.load_model("bc", version=1, store=store)
    assert "tests.test_registry.double" in str(err.value)
    assert "trusted=['tests.test_registry.double']" in str(err.value)
    loaded = mj.load_model("bc", version=1, trusted=["tests.test_registry.double"], store=store)
    assert (loaded.predict(data["X_test"]) == model.predict(data["X_test"])).all()


def test_allow_list_trusts_classes_only_never_functions() -> None:
    from mlops_jupyter.registry.trust import is_allowed

    assert is_allowed("sklearn.tree._tree.Tree")
    assert is_allowed("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor")
    assert is_allowed("sklearn.model_selection._split.StratifiedKFold")
    assert is_allowed("numpy.float64") and is_allowed("numpy.dtype")
    for name in (
        "numpy.testing._private.utils.runstring",  # exec() of its argument
        "sklearn.metrics._classification.accuracy_score",
        "os.system",
        "builtins.eval",
        "sklearn.utils._testing",  # a module
        "sklearn.tree._tree.NoSuchType",
    ):
        assert not is_allowed(name), name


def _empty_dict(node_id: int) -> dict[str, Any]:
    """A skops DictNode of nothing (ids node_id and node_id + 1)."""
    keys = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode"}
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": {},
        "key_types": {**keys, "content": [], "__id__": node_id + 1},
        "__id__": node_id,
    }


def _skops_file(schema: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("schema.json", json.dumps({**schema, "protocol": 2, "_skops_version": "0.16.0"}))
    return buf.getvalue()


def _str_node(text: str, node_id: int) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(text),
        "is_json": True,
        "__id__": node_id,
    }


def _call_skops(module: str, name: str, args: list[dict[str, Any]]) -> bytes:
    """A skops file whose loading calls ``module.name(*args)`` (skops' LossNode does)."""
    return _skops_file(
        {
            "__class__": name,
            "__module__": module,
            "__loader__": "LossNode",
            "__reduce__": {
                "args": {
                    "__class__": "tuple",
                    "__module__": "builtins",
                    "__loader__": "TupleNode",
                    "content": args,
                    "__id__": 90,
                }
            },
            "content": _empty_dict(91),
            "__id__": 99,
        }
    )


def _malicious_skops(marker: Path) -> bytes:
    """A skops file whose schema calls os.system('touch MARKER') when loaded with trust."""
    return _call_skops("os", "system", [_str_node(f"touch {marker}", 1)])


def _plant(store: Any, payload: bytes, fmt: str, name: str = "evil", **kw: Any) -> None:
    """A version whose registry rows and audit records are all consistent, as a writer of the
    store folder could make them: only what is loaded, not where it came from, can stop it."""
    import hashlib

    digest = store.put_artifact(payload)
    store.create_model_version(
        name,
        model_fingerprint="f" * 32,
        class_name="LogisticRegression",
        task="classification",
        artifact_hash=digest,
        format=fmt,
        audit=lambda v: {"action": "register", "who": "mallory", "name": name, "to_version": v},
        details={"artifact_sha256": hashlib.sha256(payload).hexdigest()},
        **kw,
    )


def test_malicious_skops_payload_is_refused_and_never_runs(store, tmp_path) -> None:
    marker = tmp_path / "PWNED"
    _plant(store, _malicious_skops(marker), "skops")
    with pytest.raises(UnsafeModel) as err:
        mj.load_model("evil", version=1, store=store)
    assert "os.system" in str(err.value)
    assert not marker.exists()


def _runstring_skops(marker: Path) -> bytes:
    """A skops file whose schema calls numpy.testing._private.utils.runstring(code, {}), which
    exec()s the code: what an attacker with write access to the store folder could plant."""
    code = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"
    args = [_str_node(code, 1), _empty_dict(2)]
    return _call_skops("numpy.testing._private.utils", "runstring", args)


def test_runstring_payload_never_runs_through_the_promotion_gates(store, store_file, data) -> None:
    """The attack of the review: a crafted skops file whose type list (in the store, which the
    attacker writes) names numpy's runstring; `mlops-jupyter promote` loaded it and ran it."""
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    marker = Path.cwd() / "PWNED"
    _register(store, data["good"], data)
    _no_lineage_policy(store)
    assert mj.promote("bc", 1, "production", store=store).moved
    runstring = "numpy.testing._private.utils.runstring"
    _plant(
        store,
        _runstring_skops(marker),
        "skops",
        name="bc",
        untrusted_types=[runstring],
        eval_fingerprint=store.get_model_version("bc", 1)["eval_fingerprint"],
    )
    result = CliRunner().invoke(
        cli, ["--store", str(store_file), "promote", "bc", "2", "--to", "production"]
    )
    assert not marker.exists()
    assert result.exit_code == 1, result.output
    assert runstring in result.output and "alias not moved" in result.output
    assert mj.models("bc", store=store).aliases == {"production": 1}
    with pytest.raises(UnsafeModel, match=runstring):
        mj.load_model("bc", version=2, trusted=None, store=store)
    assert not marker.exists()


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def test_pickle_model_file_needs_explicit_opt_in(store, tmp_path) -> None:
    import pickle

    marker = tmp_path / "PWNED"
    _plant(store, pickle.dumps(_Payload(marker)), "pickle")
    with pytest.raises(UnsafeModel, match="allow_pickle=True"):
        mj.load_model("evil", store=store)
    assert not marker.exists()
    with pytest.warns(UserWarning, match="arbitrary code"):
        mj.load_model("evil", store=store, allow_pickle=True)
    assert marker.exists()  # opting in really runs pickle code: hence the refusal by default


def test_swapped_model_file_is_refused(store, data, tmp_path) -> None:
    row = _register(store, data["good"], data)
    marker = tmp_path / "PWNED"
    overwrite_artifact(store, row["artifact_hash"], _malicious_skops(marker))
    with pytest.raises(UnsafeModel, match="changed after it was registered"):
        mj.load_model("bc", version=1, trusted=["os.system"], store=store)
    assert not marker.exists()


def test_swapped_model_file_is_reported_by_models_and_audit_verify(store, store_file, data) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    _register(store, data["good"], data)
    row = _register(store, data["good2"], data)
    runner = CliRunner()
    ok = runner.invoke(cli, ["--store", str(store_file), "models", "bc"])
    assert ok.exit_code == 0 and "Warning" not in ok.output
    overwrite_artifact(store, row["artifact_hash"], b"not the registered model")
    listing = runner.invoke(cli, ["--store", str(store_file), "models"])
    assert "v2 changed" in listing.output  # the files column, and a warning line
    assert "not the registered ones (v2 changed)" in listing.output
    versions = runner.invoke(cli, ["--store", str(store_file), "models", "bc"])
    assert "changed" in versions.output and "Warning" in versions.output
    assert mj.models("bc", store=store).versions["file"].tolist() == ["ok", "changed"]
    audit = runner.invoke(cli, ["--store", str(store_file), "audit", "verify"])
    assert audit.exit_code == 1
    assert "the model file of 'bc' v2 was changed after registration" in audit.output


def test_unknown_names_and_versions_say_how_to_fix(store, data) -> None:
    with pytest.raises(ModelNotFound, match="%mlops models"):
        mj.load_model("nope", store=store)
    _register(store, data["good"], data)
    with pytest.raises(ModelNotFound, match="no version 7"):
        mj.load_model("bc", version=7, store=store)
    with pytest.raises(RegistryError, match="holds the alias 'production'"):
        mj.load_model("bc", alias="production", store=store)
    with pytest.raises(InvalidInput):
        mj.register_model(object(), "bc", store=store)


# -- stats ------------------------------------------------------------------------------------


def test_vectorised_metrics_match_scikit_learn() -> None:
    from sklearn.metrics import f1_score, r2_score, roc_auc_score

    from mlops_jupyter.registry.stats import metric_rows

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    score = np.round(rng.random(300) + 0.3 * y, 2)  # rounding makes ties
    pred = (score > 0.6).astype(int)
    assert metric_rows("auc", y, pred, score) == pytest.approx(roc_auc_score(y, score))
    assert metric_rows("f1", y, pred) == pytest.approx(f1_score(y, pred))
    yr = rng.normal(size=300)
    pr = yr + rng.normal(scale=0.5, size=300)
    assert metric_rows("r2", yr, pr) == pytest.approx(r2_score(yr, pr))
    idx = rng.integers(0, 300, size=(5, 300))
    rows = metric_rows("auc", y[idx], pred[idx], score[idx])
    assert rows == pytest.approx([roc_auc_score(y[i], score[i]) for i in idx])


def test_paired_bootstrap_and_mcnemar_on_known_counts() -> None:
    from scipy.stats import binomtest

    from mlops_jupyter.registry.stats import mcnemar, paired_bootstrap

    y = np.zeros(200, dtype=int)
    a = y.copy()
    b = y.copy()
    a[:4] = 1  # candidate wrong on 4 rows
    b[10:30] = 1  # champion wrong on 20 other rows
    test = mcnemar(y, a, b)
    assert (test.candidate_only, test.champion_only, test.method) == (20, 4, "exact")
    assert test.p_value == pytest.approx(binomtest(20, 24, 0.5).pvalue)
    boot = paired_bootstrap("accuracy", y, (a, None), (b, None), n_resamples=1000)
    assert boot.difference == pytest.approx(0.08)
    assert 0 < boot.ci_low < 0.08 < boot.ci_high
    assert boot.samples.shape == (1000,)
    same = paired_bootstrap("accuracy", y, (a, None), (a, None))
    assert same.ci_low == same.ci_high == 0.0


# -- gates, promotion, rollback ---------------------------------------------------------------


def test_gates_pass_for_good_model_and_fail_for_bad_challenger(store, data) -> None:
    _register(store, data["good"], data)
    _register(store, data["bad"], data)
    _no_lineage_policy(store, metrics={"auc": ">= 0.9"})
    with pytest.raises(InvalidInput, match="not a number"):
        mj.promote("bc", "first", "production", store=store)
    first = mj.promote("bc", 1, "production", store=store)
    assert first.passed and first.moved
    gates = first.gates.set_index("gate")
    assert gates.loc["metric:auc", "verdict"] == "pass"
    assert gates.loc["champion_vs_challenger", "verdict"] == "skipped"
    assert gates.loc["drift", "verdict"] == "pass"  # random split: no drift

    second = mj.promote("bc", 2, "production", store=store)
    assert not second.passed and not second.moved
    gates = second.gates.set_index("gate")
    assert gates.loc["metric:auc", "verdict"] == "fail"  # depth-1 tree: auc ~0.9 is missed
    assert gates.loc["champion_vs_challenger", "verdict"] == "fail"
    assert second.bootstrap.difference < 0 and second.bootstrap.ci_high < 0
    table = second.comparison.set_index("role")
    assert table.loc["champion", "version"] == 1 and table.loc["challenger", "version"] == 2
    assert table.loc["challenger", "auc"] == pytest.approx(second.gates.iloc[0]["figure"])
    assert table.loc["champion", "accuracy"] > table.loc["challenger", "accuracy"]
    assert mj.models("bc", store=store).aliases == {"production": 1}
    actions = [r["action"] for r in store.list_audit_records("bc")]
    assert actions == ["register", "register", "set_policy", "promote", "promote_failed"]
    recorded = json.loads(store.list_audit_records("bc")[-1]["gates"])
    assert recorded["passed"] is False and recorded["bootstrap"]["metric"] == "accuracy"
    assert "<table" in second.to_html() and "mlops-bad" in second.to_html()


def test_champion_vs_challenger_better_mode_needs_significance(store, data) -> None:
    _register(store, data["bad"], data)
    _register(store, data["good"], data)
    _register(store, data["good2"], data)
    _no_lineage_policy(store, compare={"mode": "better", "margin": 0.0})
    assert mj.promote("bc", 1, "champion", store=store).moved
    better = mj.promote("bc", 2, "champion", store=store)
    gates = better.gates.set_index("gate")
    assert better.passed, better.gates.to_string()
    assert gates.loc["mcnemar", "verdict"] == "pass"
    assert better.mcnemar.p_value < 0.05
    assert better.mcnemar.candidate_only > better.mcnemar.champion_only
    assert better.bootstrap.ci_low > 0
    # two near-identical models: not significantly better, so "better" fails ...
    tie = mj.promote("bc", 3, "champion", store=store)
    assert not tie.passed
    assert tie.gates.set_index("gate").loc["champion_vs_challenger", "verdict"] == "fail"
    # ... but "not worse within 0.05" passes
    _no_lineage_policy(store, compare={"mode": "not_worse", "margin": 0.05})
    assert mj.promote("bc", 3, "champion", store=store).passed


def test_lineage_gate_fails_without_captured_code(store, data) -> None:
    _register(store, data["good"], data)
    result = mj.promote("bc", 1, "staging", store=store)
    assert not result.passed
    row = result.gates.set_index("gate").loc["lineage"]
    assert row["verdict"] == "fail" and "code unknown" in row["detail"]


def test_drift_gate_fails_when_evaluation_data_drifted(store, data) -> None:
    shifted = data["X_test"] * 1.5
    mj.register_model(
        data["good"],
        "bc",
        eval_data=(shifted, data["y_test"]),
        train_data=data["X_train"],
        store=store,
    )
    _no_lineage_policy(store)
    result = mj.promote("bc", 1, "production", store=store)
    row = result.gates.set_index("gate").loc["drift"]
    assert row["verdict"] == "fail" and not result.passed


def test_force_needs_a_reason_and_is_recorded(store, data) -> None:
    _register(store, data["good"], data)
    _register(store, data["bad"], data)
    _no_lineage_policy(store)
    mj.promote("bc", 1, "production", store=store)
    with pytest.raises(InvalidInput, match="needs a reason"):
        mj.promote("bc", 2, "production", force=True, store=store)
    forced = mj.promote(
        "bc", "latest", "production", force=True, reason="hotfix", by="bob", store=store
    )
    assert forced.moved and forced.forced and not forced.passed
    last = store.list_audit_records("bc")[-1]
    assert (last["action"], last["forced"], last["who"], last["reason"]) == (
        "promote",
        1,
        "bob",
        "hotfix",
    )
    assert json.loads(last["details"])["overridden"] == forced.failed_gates()
    assert "champion_vs_challenger" in forced.failed_gates()
    with pytest.raises(RegistryError, match="already holds"):
        mj.promote("bc", 2, "production", store=store)


def test_gates_fail_closed_without_evaluation_data(store, store_file, data) -> None:
    """The review's case: no stored evaluation rows, and a worse model (0.958) took the alias
    from a better one (0.966) because the comparison was 'skipped'."""
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    mj.register_model(data["good"], "bc", metrics={"accuracy": 0.966}, store=store)
    mj.register_model(data["bad"], "bc", metrics={"accuracy": 0.958}, store=store)
    _no_lineage_policy(store, drift=False)
    assert mj.promote("bc", 1, "production", store=store).moved  # no holder: nothing to compare
    result = mj.promote("bc", 2, "production", store=store)
    assert not result.moved and result.failed_gates() == ["champion_vs_challenger"]
    assert "missing: stored evaluation data" in result.summary()
    out = CliRunner().invoke(
        cli, ["--store", str(store_file), "promote", "bc", "2", "--to", "production"]
    )
    assert out.exit_code == 1 and "Traceback" not in out.output
    last_line = out.output.strip().splitlines()[-1]
    assert last_line.startswith(
        "bc v2 -> production: gates failed (champion_vs_challenger: missing"
    )
    assert mj.models("bc", store=store).aliases == {"production": 1}


def test_gates_fail_closed_when_the_champion_cannot_be_loaded(store, data) -> None:
    _register(store, data["good"], data)
    _register(store, data["good2"], data)
    _no_lineage_policy(store, compare={"margin": 0.5})
    assert mj.promote("bc", 1, "production", store=store).moved
    remove_artifact(store, store.get_model_version("bc", 1)["artifact_hash"])
    result = mj.promote("bc", 2, "production", store=store)
    assert not result.moved
    assert (
        "missing: a loadable champion"
        in result.gates.set_index("gate").loc["champion_vs_challenger", "detail"]
    )


def test_drift_gate_fails_closed_without_training_features(store, data) -> None:
    mj.register_model(data["good"], "bc", eval_data=(data["X_test"], data["y_test"]), store=store)
    mj.set_policy("bc", lineage=False, store=store)
    result = mj.promote("bc", 1, "production", store=store)
    assert not result.moved and result.failed_gates() == ["drift"]
    assert "set_policy(drift=False)" in result.summary()


def test_rollback_and_alias_history_by_date(store, data) -> None:
    for _ in range(3):
        _register(store, data["good"], data)
    _no_lineage_policy(store, compare={"margin": 0.5})
    with pytest.raises(RegistryError, match="nothing to roll back"):
        mj.rollback("bc", "production", store=store)
    mj.promote("bc", 1, "production", store=store)
    with pytest.raises(RegistryError, match="no previous holder"):
        mj.rollback("bc", "production", store=store)
    t1 = datetime.now(UTC)
    mj.promote("bc", 2, "production", store=store)
    t2 = datetime.now(UTC)
    mj.promote("bc", 3, "production", store=store)
    t3 = datetime.now(UTC)
    done = mj.rollback("bc", "production", reason="latency", store=store)
    assert (done["from_version"], done["to_version"]) == (3, 2)
    done = mj.rollback("bc", "production", store=store)
    assert (done["from_version"], done["to_version"]) == (2, 1)
    view = mj.models("bc", store=store)
    assert view.holder("production") == 1
    assert view.holder("production", at=t1) == 1
    assert view.holder("production", at=t2) == 2
    assert view.holder("production", at=t3) == 3
    assert view.holder("production", at=t1 - timedelta(days=1)) is None
    assert view.holder("production", at=t1.date().isoformat()) == 1  # end of that day
    actions = ["promote", "promote", "promote", "rollback", "rollback"]
    assert list(view.history["action"]) == actions
    assert view.history["end_at"].isna().sum() == 1
    assert mj.audit_verify(store=store).ok


def test_policy_validation(store, data) -> None:
    _register(store, data["good"], data)
    with pytest.raises(InvalidInput, match="operator and a number"):
        mj.set_policy("bc", metrics={"auc": "at least 0.8"}, store=store)
    with pytest.raises(InvalidInput, match="not_worse"):
        mj.set_policy("bc", compare={"mode": "sometimes"}, store=store)
    with pytest.raises(InvalidInput, match="Unknown compare settings"):
        mj.set_policy("bc", compare={"alpha": 0.1}, store=store)
    policy = mj.set_policy("bc", metrics={"auc": 0.8}, store=store)
    assert policy["metrics"] == {"auc": ">= 0.8"}


# -- audit chain ------------------------------------------------------------------------------


def _promoted_store(store: Any, data: dict[str, Any]) -> None:
    _register(store, data["good"], data)
    _register(store, data["good2"], data)
    _no_lineage_policy(store, compare={"margin": 0.5})
    mj.promote("bc", 1, "production", store=store)
    mj.promote("bc", 2, "production", reason="newer", store=store)


def test_concurrent_writers_keep_one_unbroken_chain(store_file, data) -> None:
    """Several connections append at once: BEGIN IMMEDIATE serialises them into one chain."""
    import threading

    from mlops_jupyter.store import open_store

    errors: list[BaseException] = []

    def writer(i: int) -> None:
        own = open_store(store_file, shared=False)
        try:
            for j in range(20):
                mj.set_policy(f"m{i}", metrics={"auc": f">= 0.{j + 10}"}, by=f"w{i}", store=own)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    first = open_store(store_file, shared=False)  # migrate and register once up front
    for i in range(4):
        _register(first, data["good"], data, name=f"m{i}")
    first.close()
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check = open_store(store_file, shared=False)
    try:
        report = mj.audit_verify(store=check)
        assert report.ok and report.n_records == 84
    finally:
        check.close()


def test_triggers_refuse_updates_and_deletes(store, data) -> None:
    _promoted_store(store, data)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("UPDATE audit_records SET who = 'eve' WHERE id = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM audit_records WHERE id = 1")


def _tamper(path: Path, sql: str) -> None:
    """An attacker with write access to the database: drops the triggers, edits the trail."""
    _raw_sql(path, "DROP TRIGGER audit_records_no_update", "DROP TRIGGER audit_records_no_delete", sql)


def _raw_sql(path: Path, *statements: str) -> None:
    from mlops_jupyter.store import open_store

    other = open_store(path, shared=False)  # another connection, as an attacker's would be
    try:
        with other.write():
            for sql in statements:
                other.conn.execute(sql)
    finally:
        other.close()


def test_edited_audit_row_is_detected(store, store_file, data) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    _promoted_store(store, data)
    ok = CliRunner().invoke(cli, ["--store", str(store_file), "audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "intact: 5 records" in ok.output
    _tamper(store_file, "UPDATE audit_records SET reason = 'routine' WHERE id = 5")
    bad = CliRunner().invoke(cli, ["--store", str(store_file), "audit", "verify"])
    assert bad.exit_code == 1
    assert "broken at record 5" in bad.output and "edited" in bad.output


def test_deleted_audit_rows_are_detected(store, store_file, data) -> None:
    _promoted_store(store, data)
    _tamper(store_file, "DELETE FROM audit_records WHERE id = 3")
    report = mj.audit_verify(store=store)
    assert not report.ok and report.broken_id == 4
    assert "mlops-bad" in report.to_html()
    with pytest.raises(AuditTampered, match="broken at record 4"):
        report.check()


def test_deleted_last_audit_row_is_detected_by_head_and_alias_replay(
    store, store_file, data
) -> None:
    _promoted_store(store, data)
    _tamper(store_file, "DELETE FROM audit_records WHERE id = 5")
    report = mj.audit_verify(store=store)
    assert not report.ok
    assert "cut from its end" in report.problem
    assert any("audit trail says 1" in p for p in report.problems)


def test_edited_alias_history_is_detected(store, store_file, data) -> None:
    _promoted_store(store, data)

    def edit(sql: str) -> str | None:
        _raw_sql(store_file, sql)
        return mj.audit_verify(store=store).problem

    # "production was v2 all along": the range no longer matches its audit record
    assert "no matching audit record" in edit("UPDATE alias_history SET version = 2 WHERE id = 1")
    assert edit("UPDATE alias_history SET version = 1 WHERE id = 1") is None
    # stretching v1's range over v2's
    problem = edit("UPDATE alias_history SET end_at = '2100-01-01' WHERE id = 1")
    assert "not when the next holder took over" in problem


# -- CLI --------------------------------------------------------------------------------------


def test_cli_models_promote_rollback_exit_codes(store, store_file, data) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    _register(store, data["good"], data)
    _register(store, data["bad"], data)
    _no_lineage_policy(store)
    runner = CliRunner()
    base = ["--store", str(store_file)]
    listing = runner.invoke(cli, [*base, "models"])
    assert listing.exit_code == 0 and "bc" in listing.output
    ok = runner.invoke(cli, [*base, "promote", "bc", "1", "--to", "production", "--by", "ci"])
    assert ok.exit_code == 0, ok.output
    assert "alias moved" in ok.output
    failed = runner.invoke(cli, [*base, "promote", "bc", "2", "--to", "production"])
    assert failed.exit_code == 1
    assert "champion_vs_challenger" in failed.output and "alias not moved" in failed.output
    forced = runner.invoke(
        cli, [*base, "promote", "bc", "2", "--to", "production", "--force", "--reason", "test"]
    )
    assert forced.exit_code == 0 and "(forced)" in forced.output
    detail = runner.invoke(cli, [*base, "models", "bc"])
    assert "production=v2" in detail.output
    back = runner.invoke(cli, [*base, "rollback", "bc", "production"])
    assert back.exit_code == 0 and "v2 -> v1" in back.output
    held = runner.invoke(
        cli, [*base, "models", "bc", "--alias", "production", "--at", "2001-01-01"]
    )
    assert held.exit_code == 0 and held.output.strip() == "production: nobody"
    held = runner.invoke(cli, [*base, "models", "bc", "--alias", "production"])
    assert held.output.strip() == "production: v1"
    history = runner.invoke(cli, [*base, "models", "bc", "--history"])
    assert history.output.count("production") == 3 and "rollback" in history.output
    unknown = runner.invoke(cli, [*base, "promote", "nope", "1", "--to", "production"])
    assert unknown.exit_code == 2 and "No registered model named 'nope'" in unknown.output
    assert "Traceback" not in unknown.output
    listed = runner.invoke(cli, [*base, "audit", "list", "bc"])
    assert "promote_failed" in listed.output


def test_cli_audit_verify_on_a_store_without_registry(tmp_path) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli
    from mlops_jupyter.store import open_store

    open_store(tmp_path / "s.db", shared=False).close()  # a store with no registry rows
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "s.db"), "audit", "verify"])
    assert result.exit_code == 0 and "0 records" in result.output


# -- rendering --------------------------------------------------------------------------------


def test_static_html_is_escaped(store, data) -> None:
    name = "<script>alert(1)</script>"  # refused as a new name now; older stores may hold one
    row = _register(store, data["good"], data)
    keep = ("model_fingerprint", "class_name", "task", "artifact_hash", "format", "metrics")
    store.create_model_version(name, **{k: row[k] for k in keep})
    html = mj.models(name, store=store)._repr_html_()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<iframe" not in html
    assert "&lt;script&gt;" in mj.models(store=store)._repr_html_()


# -- bad input is refused in one line ---------------------------------------------------------


def test_unfitted_estimator_is_refused(store, data) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    for unfitted in (LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())):
        with pytest.raises(InvalidInput, match=r"not fitted.*Fit it first"):
            mj.register_model(unfitted, "unfit", store=store)
    with pytest.raises(InvalidInput, match=r"fitted model with \.predict"):
        mj.register_model(LogisticRegression, "unfit", store=store)  # the class, not a model
    assert len(mj.models(store=store)) == 0


@pytest.mark.parametrize("name", [5, None, "", "../../etc/x", "a b", "x" * 65, "-lead", "é"])
def test_model_names_and_aliases_are_validated(store, data, name) -> None:
    with pytest.raises(InvalidInput, match="1-64 letters, digits"):
        mj.register_model(data["good"], name, store=store)
    _register(store, data["good"], data)
    with pytest.raises(InvalidInput, match=r"Alias .* is not usable"):
        mj.promote("bc", 1, name, store=store)
    assert list(mj.models(store=store).frame["name"]) == ["bc"]
    assert mj.models("bc", store=store).aliases == {}


def test_set_policy_refuses_an_unknown_model_and_names_the_known_ones(store, data) -> None:
    with pytest.raises(ModelNotFound, match="none is registered yet"):
        mj.set_policy("nope", store=store)
    _register(store, data["good"], data)
    with pytest.raises(
        ModelNotFound, match=r"No registered model named 'nope' \(registered: 'bc'\)"
    ):
        mj.set_policy("nope", store=store)
    assert list(mj.models(store=store).frame["name"]) == ["bc"]
    assert store.find_model_policy("nope") is None
    assert [r["action"] for r in store.list_audit_records()] == ["register"]


def test_models_listing_counts_are_integers(store, data) -> None:
    _register(store, data["good"], data)
    _register(store, data["good2"], data)
    # a name without versions, as set_policy left in older stores, is not listed
    store.set_model_policy("phantom", {}, audit={"action": "set_policy", "who": "x", "name": "x"})
    frame = mj.models(store=store).frame
    assert list(frame["name"]) == ["bc"]
    assert frame["latest_version"].tolist() == [2] and str(frame["latest_version"].dtype) == "int64"
    # (the time stamps left out: "...:52.014674" holds a "2.0" too)
    shown = re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+", "<time>", repr(mj.models(store=store)))
    assert "<time>" in shown and "2.0" not in shown
    with pytest.raises(ModelNotFound):
        mj.models("phantom", store=store)


def test_promotion_refuses_a_missing_model_file_even_when_forced(store, data) -> None:
    from mlops_jupyter.errors import ArtifactNotFound

    _register(store, data["good"], data)
    second = _register(store, data["good2"], data)
    _no_lineage_policy(store)
    mj.promote("bc", 1, "production", store=store)
    remove_artifact(store, second["artifact_hash"])
    with pytest.raises(ArtifactNotFound, match=r"version 2 is missing.*cannot be promoted"):
        mj.promote("bc", 2, "production", force=True, reason="hotfix", store=store)
    assert mj.models("bc", store=store).aliases == {"production": 1}
    assert [r["action"] for r in store.list_audit_records("bc")][-1] == "promote"
    assert len(store.list_audit_records("bc")) == 4  # 2 registers, policy, 1 promotion


def test_rollback_refuses_a_missing_previous_model_file(store, data) -> None:
    from mlops_jupyter.errors import ArtifactNotFound

    first = _register(store, data["good"], data)
    _register(store, data["good2"], data)
    _no_lineage_policy(store, compare={"margin": 0.5})
    mj.promote("bc", 1, "production", store=store)
    mj.promote("bc", 2, "production", store=store)
    remove_artifact(store, first["artifact_hash"])
    with pytest.raises(ArtifactNotFound, match="version 1 is missing"):
        mj.rollback("bc", "production", store=store)
    assert mj.models("bc", store=store).aliases == {"production": 2}


def test_cli_unknown_model_names_are_one_line_errors(store, store_file, data) -> None:
    from click.testing import CliRunner

    from mlops_jupyter.cli import cli

    _register(store, data["good"], data)
    base = ["--store", str(store_file)]
    for args in (["audit", "list", "nope"], ["models", "nope"], ["rollback", "nope", "prod"]):
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 2, (args, result.output)
        assert "No registered model named 'nope' (registered: 'bc')" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert CliRunner().invoke(cli, [*base, "audit", "list", "bc"]).exit_code == 0


def test_model_card_markdown_keeps_user_data_inert(store) -> None:
    """Rendered as Markdown (Jupyter passes raw HTML through), names from the user must not
    become tags or links: the review's <img onerror=...> ran in the notebook."""
    import mistune
    from sklearn.dummy import DummyClassifier

    evil = "<img src=x onerror=alert(1)>"
    model = DummyClassifier(strategy="constant", constant=evil).fit([[0], [1]], [evil, "b"])
    run_id = store.create_run("exp", name=f"run {evil} [x](javascript:alert(2))")["id"]
    mj.register_model(model, "bc", metrics={evil: 0.9}, run=run_id, store=store)
    card = mj.models("bc", store=store).card()
    rendered = mistune.html(card)
    assert "<img" not in rendered and "<a " not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered  # shown, as text
