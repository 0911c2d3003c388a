"""Monitoring (#17) without a bundle: policies, batch validation, measured and estimated
performance with its trust, triggers, proposals, the CLI's exit codes, %mlops monitor and the
panel. Real store files, a real shell; the bundle re-run is in test_monitor_loop.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from IPython.core.error import UsageError

import mlops_jupyter as mj
from mlops_jupyter.errors import InvalidInput, MlopsError, RegistryError

FEATURES = ["x0", "x1", "x2"]


def batch(n: int, seed: int, shift: float = 0.0, concept: float = 0.0) -> pd.DataFrame:
    """The label follows x0 + x1; ``shift`` moves x0 (covariate shift, same concept) and
    ``concept`` moves the boundary (concept drift: same features, other labels)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=FEATURES)
    X["x0"] += shift
    y = (X.x0 + X.x1 + 0.3 * rng.normal(size=n) > concept).astype(int)
    return X.assign(label=y)


@pytest.fixture
def champion(store: Any) -> Any:
    from sklearn.linear_model import LogisticRegression

    b0 = batch(3000, 0)
    model = LogisticRegression().fit(b0[FEATURES].iloc[:2000], b0.label.iloc[:2000])
    mj.register_model(
        model,
        "churn",
        eval_data=(b0[FEATURES].iloc[2000:], b0.label.iloc[2000:]),
        train_data=b0[FEATURES].iloc[:2000],
        store=store,
    )
    mj.promote("churn", 1, "production", reason="first", force=True, store=store)
    return store


def test_a_batch_like_the_training_data_is_healthy(champion: Any) -> None:
    r = mj.monitor("churn", batch(1000, 1), labels="label", store=champion)
    assert r.status == "healthy" and r.exit_code == 0
    assert r.metrics["accuracy"] > 0.9 and r.reference_metrics["accuracy"] > 0.9
    assert {t.trigger for t in r.triggers} == {"drift", "metric_drop"}
    assert not r.fired and r.drift is not None and not r.drift.drifted
    row = champion.list_monitor_batches("churn")[-1]
    assert row["status"] == "healthy" and row["batch_fingerprint"] == r.fingerprint
    assert row["drift_report_id"] == r.drift.id
    audit = champion.list_audit_records("churn")[-1]
    assert audit["action"] == "monitor"
    assert json.loads(audit["details"])["batch_fingerprint"] == r.fingerprint
    # the second batch is checked against the stored profile, not the training rows
    again = mj.monitor("churn", batch(1000, 2), store=champion)
    assert "stored profile" in " ".join(again.drift.notes)


def test_the_estimate_holds_under_covariate_shift_and_fails_under_concept_drift(
    champion: Any,
) -> None:
    shifted = batch(2000, 3, shift=1.0)
    labelled = mj.monitor("churn", shifted, labels="label", store=champion)
    est = labelled.estimate
    assert est.trust == "trusted" and abs(est.error) < 0.05, est
    no_labels = mj.monitor("churn", shifted.drop(columns="label"), store=champion)
    assert no_labels.estimate.trust == "trusted" and not no_labels.metrics
    assert "estimated_drop" in {t.trigger for t in no_labels.triggers}

    drifted = batch(2000, 4, concept=1.5)  # same features, other labels
    checked = mj.monitor("churn", drifted, labels="label", store=champion)
    assert checked.estimate.trust == "untrusted"
    assert checked.estimate.value - checked.metrics["accuracy"] > 0.1  # CBPE is fooled
    assert "metric_drop" in checked.fired
    blind = mj.monitor("churn", drifted.drop(columns="label"), store=champion)
    assert blind.estimate.trust == "untrusted" and blind.fired == ["estimate_untrusted"]
    assert "send labels" in blind.estimate.reason
    assert blind.exit_code == 1 and "no labels to train on" in " ".join(blind.actions)


def test_a_regressor_gets_no_estimate_and_says_why(store: Any) -> None:
    from sklearn.linear_model import Ridge

    b = batch(500, 0)
    model = Ridge().fit(b[FEATURES], b.x0 * 2)
    mj.register_model(model, "price", eval_data=(b[FEATURES], b.x0 * 2), store=store)
    mj.promote("price", 1, "production", reason="first", force=True, store=store)
    r = mj.monitor("price", batch(300, 1), store=store)
    assert r.estimate.value is None and "regression" in r.estimate.reason
    assert r.metric == "r2" and r.drift is not None  # features from feature_names_in_


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda b: b.drop(columns="x1"), "lacks the model's feature columns x1"),
        (lambda b: b.iloc[:0], "has no rows"),
        (lambda b: b.assign(x0="n/a"), "cannot score the batch"),
        (lambda b: b.drop(columns="label"), "has no label column 'label'"),
        (lambda b: b.assign(label=np.where(b.index < 5, np.nan, b.label)), "5 missing values"),
    ],
)
def test_a_malformed_batch_is_refused_and_nothing_is_stored(
    champion: Any, make: Any, message: str
) -> None:
    before = (len(champion.list_monitor_batches()), len(champion.list_audit_records()))
    before += (len(champion.list_drift_reports()),)
    with pytest.raises(InvalidInput, match=message):
        mj.monitor("churn", make(batch(200, 5)), labels="label", store=champion)
    after = (len(champion.list_monitor_batches()), len(champion.list_audit_records()))
    assert before == (*after, len(champion.list_drift_reports()))


def test_policy_files_are_checked_with_one_line_errors(tmp_path: Path) -> None:
    from mlops_jupyter.monitoring import load_policy

    good = tmp_path / "policy.toml"
    good.write_text('[retrain]\nbundle = "b"\ndata = "append"\n[promotion]\nmode = "auto"\n')
    policy = load_policy(good)
    assert policy["retrain"]["bundle"] == str(tmp_path / "b")  # relative to the file
    assert policy["retrain"]["data"] == "append" and policy["promotion"]["mode"] == "auto"
    assert policy["triggers"]["drift_share"] == 0.5 and policy["alias"] == "production"
    cases = {
        "bad.toml": ("[triggers]\nmetric_drop = 'a lot'\n", "metric_drop must be a number"),
        "typo.toml": ("[retrain]\ndata = 'replace'\n", "'substitute' or 'append'"),
        "unknown.toml": ("retrian = 1\n", "Unknown policy settings"),
        "broken.toml": ("[triggers\n", "Fix the TOML"),
        "policy.json": ("{}", "neither .toml nor .yaml"),
        "gates.toml": ("[gates]\ncompare = { mode = 'sometimes' }\n", "Unknown compare mode"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InvalidInput, match=message) as info:
            load_policy(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidInput, match="No policy file"):
        load_policy(tmp_path / "missing.toml")


def test_yaml_policies_read_when_pyyaml_is_there(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    from mlops_jupyter.monitoring import load_policy

    path = tmp_path / "policy.yaml"
    path.write_text("triggers:\n  drift_share: 0.25\npromotion:\n  approvers: ana\n")
    policy = load_policy(path)
    assert policy["triggers"]["drift_share"] == 0.25
    assert policy["promotion"]["approvers"] == ["ana"]


def test_no_holder_or_unknown_model_is_bad_input(store: Any) -> None:
    with pytest.raises(MlopsError, match="No registered model named 'nope'"):
        mj.monitor("nope", batch(10, 0), store=store)
    from sklearn.linear_model import LogisticRegression

    b = batch(200, 0)
    mj.register_model(LogisticRegression().fit(b[FEATURES], b.label), "idle", store=store)
    with pytest.raises(RegistryError, match="Promote one first"):
        mj.monitor("idle", b, store=store)


def test_cli_exit_codes_and_json(champion: Any, workdir: Path) -> None:
    from mlops_jupyter.cli import cli

    batch(800, 6).to_csv(workdir / "ok.csv", index=False)
    batch(800, 7, concept=2.0).to_csv(workdir / "bad.csv", index=False)
    batch(50, 8).drop(columns="x2").to_csv(workdir / "broken.csv", index=False)
    runner = CliRunner()
    base = ["monitor", "--model", "churn", "--labels", "label", "--batch"]
    ok = runner.invoke(cli, [*base, str(workdir / "ok.csv"), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["status"] == "healthy"
    bad = runner.invoke(cli, [*base, str(workdir / "bad.csv")])
    assert bad.exit_code == 1, bad.output
    assert "action needed; fired: metric_drop" in bad.output
    assert "no bundle to retrain with" in bad.output
    for args in (
        [*base, str(workdir / "broken.csv")],
        [*base, str(workdir / "missing.csv")],
        [*base, str(workdir / "ok.csv"), "--policy", str(workdir / "missing.toml")],
        [*base, str(workdir / "ok.csv"), "--bundle", str(workdir / "no-bundle")],
        ["monitor", "--model", "churn"],
        ["approve", "99", "--reason", "x"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith("Error: ") and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    history = runner.invoke(cli, ["monitor", "--model", "churn", "--history", "--json"])
    assert history.exit_code == 0
    assert [b["status"] for b in json.loads(history.output)["batches"]] == [
        "healthy",
        "action_needed",
    ]


def test_proposals_are_approved_only_by_approvers_and_rejected_with_a_reason(
    champion: Any,
) -> None:
    from sklearn.linear_model import LogisticRegression

    from mlops_jupyter.cli import cli

    b = batch(1000, 9)
    mj.register_model(
        LogisticRegression(C=0.5).fit(b[FEATURES], b.label),
        "churn",
        eval_data=(b[FEATURES], b.label),
        store=champion,
    )
    audit = {"action": "propose", "who": "loop", "name": "churn", "to_version": 2}
    row = {"model_name": "churn", "alias": "production", "version": 2, "from_version": 1}
    first = champion.create_proposal({**row, "approvers": ["ana"]}, audit=audit)
    second = champion.create_proposal({**row, "approvers": ["ana"]}, audit=audit)
    assert champion.get_proposal(first["id"])["status"] == "superseded"
    assert list(mj.proposals(store=champion).frame["id"]) == [second["id"]]
    with pytest.raises(RegistryError, match="bob may not approve"):
        mj.approve(second["id"], "looks good", by="bob", store=champion)
    with pytest.raises(InvalidInput, match="say why"):
        mj.reject(second["id"], " ", by="ana", store=champion)
    closed = mj.reject(second["id"], "not this week", by="ana", store=champion)
    assert closed["status"] == "rejected" and closed["decided_by"] == "ana"
    assert champion.list_audit_records("churn")[-1]["action"] == "reject"
    result = CliRunner().invoke(
        cli, ["--store", champion.location, "approve", str(second["id"]), "--reason", "x"]
    )
    assert result.exit_code == 2 and "is rejected, not open" in result.output
    assert champion.find_alias_holder("churn", "production") == 1
    assert mj.audit_verify(store=champion).ok


SHELL_CELLS = [
    "import numpy as np, pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score",
    "rng = np.random.default_rng(0)\n"
    "train = pd.DataFrame(rng.normal(size=(1500, 3)), columns=['x0', 'x1', 'x2'])\n"
    "train['label'] = (train.x0 + train.x1 > 0).astype(int)\n"
    "features = ['x0', 'x1', 'x2']",
    "X_train, X_test = train[features][:1000], train[features][1000:]\n"
    "y_train, y_test = train.label[:1000], train.label[1000:]",
    "clf = LogisticRegression().fit(X_train, y_train)",
    "accuracy = accuracy_score(y_test, clf.predict(X_test))",
    "%mlops register clf --name shop --eval X_test y_test --train X_train",
    "%mlops promote shop 1 --to production --reason first",
]


def test_magic_monitor_checks_a_variable_with_the_drafted_data_tests(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from .conftest import run

    for cell in SHELL_CELLS:
        run(shell, cell)
    run(shell, "batch = X_test.assign(x2=X_test.x2 * 10)")
    result = shell.run_line_magic("mlops", "monitor --model shop --batch batch")
    assert result.batch == "batch" and result.data_tests is not None
    assert not result.data_tests.passed and "data_tests" in result.fired
    assert "x2 between" in result.data_tests.summary()
    # a range rule failing is drift, which retraining adapts to; nulls the model cannot score
    # make the batch bad input, nothing stored, with what the data tests say
    run(shell, "holes = X_test.assign(x2=np.where(X_test.index % 2 == 0, np.nan, X_test.x2))")
    n = len(mj.open_store().list_monitor_batches("shop"))
    with pytest.raises(UsageError, match=r"cannot score .* Data tests failed: .*x2 not null"):
        shell.run_line_magic("mlops", "monitor --model shop --batch holes")
    assert len(mj.open_store().list_monitor_batches("shop")) == n
    html = result.to_html()
    assert "Monitor: shop on batch" in html and "data_tests" in html
    history = shell.run_line_magic("mlops", "monitor --model shop --history")
    page = history.to_html()
    assert "Monitoring of shop" in page and "<svg" in page and "<script" not in page
    capsys.readouterr()
    bad = shell.run_cell("%mlops monitor --model shop --batch nothing-here.csv")
    assert type(bad.error_in_exec) is UsageError
    shown = capsys.readouterr()
    assert "Traceback" not in shown.out + shown.err
    assert "No batch file nothing-here.csv" in str(bad.error_in_exec)


def test_history_panel_marks_retrains_and_promotions() -> None:
    from mlops_jupyter.display.monitor import history_html
    from mlops_jupyter.monitoring import MonitorHistory
    from mlops_jupyter.monitoring.proposals import BATCH_COLUMNS, PROPOSAL_COLUMNS

    rows = []
    for i, (status, retrained) in enumerate(
        [("healthy", None), ("promoted", 2), ("healthy", None)]
    ):
        row = dict.fromkeys(BATCH_COLUMNS)
        row.update(
            id=i + 1,
            created_at=f"2026-01-0{i + 1}T00:00:00",
            batch=f"b{i}<x>",
            status=status,
            drift_share=0.1 * i,
            drift_threshold=0.5,
            drifted=False,
            measured=0.9 - 0.1 * i,
            reference=0.9,
            estimate=0.88,
            estimate_trust="trusted",
            retrained_version=retrained,
            data_tests_passed=i != 1,
        )
        rows.append(row)
    view = MonitorHistory(
        model="m",
        batches=pd.DataFrame(rows, columns=BATCH_COLUMNS),
        proposals=pd.DataFrame([], columns=PROPOSAL_COLUMNS),
        moves=pd.DataFrame(),
        metric="accuracy",
    )
    page = history_html(view)
    assert page.count('stroke="#d97a00"') == 1 and page.count('stroke="#1b7f3b"') == 1
    assert "b0&lt;x&gt;" in page and "<x>" not in page  # user data escaped
    assert "1 retrained, 1 promoted" in page and "&#10007;" in page


def test_the_scheduled_workflow_monitors_new_batches_in_order(champion: Any, workdir: Path) -> None:
    """The copy-ready cron workflow's monitoring step, run by bash on real batches."""
    import os
    import subprocess
    import sys

    yaml = pytest.importorskip("yaml")
    from .conftest import ROOT

    workflow = yaml.safe_load((ROOT / ".github/workflows/monitor.example.yml").read_text())
    steps = {s.get("name"): s for s in workflow["jobs"]["monitor"]["steps"]}
    script = steps["Monitor each new batch"]["run"]
    incoming = workdir / "incoming"
    incoming.mkdir()
    batch(500, 11).to_csv(incoming / "2026-01-01.csv", index=False)
    batch(500, 12).drop(columns="x1").to_csv(incoming / "2026-01-02.csv", index=False)
    (workdir / "policy.toml").write_text('labels = "label"\n')
    state = workdir / "state"
    state.mkdir()
    (state / "processed.txt").write_text("2025-12-31.csv\n")
    summary, output = workdir / "summary.md", workdir / "output.txt"
    env = {
        **os.environ,
        "MODEL": "churn",
        "POLICY": str(workdir / "policy.toml"),
        "STATE": str(state),
        "MLOPS_JUPYTER_STORE": champion.location,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=workdir, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert output.read_text().strip() == "worst=2"
    lines = summary.read_text()
    assert "`2026-01-01.csv` (exit 0): churn v1 (production) on 2026-01-01.csv: healthy" in lines
    assert "`2026-01-02.csv` (exit 2): bad input" in lines
    # the bad batch stays to be fixed and sent again; the good one is not monitored twice
    assert (state / "processed.txt").read_text().split() == ["2025-12-31.csv", "2026-01-01.csv"]
    assert [b["batch_name"] for b in champion.list_monitor_batches("churn")] == ["2026-01-01.csv"]
