"""The loop end to end (#17), on generated data, a real store, a real bundle re-run in a kernel.

A model is trained on batch 0 in a notebook executed by nbclient, exported, registered and
promoted. Batch 1 is like batch 0: healthy, exit 0, nothing retrained. Batch 2 is shifted so
the model's accuracy drops: drift and the metric drop are detected, the bundle is re-run on the
batch, the new version beats the champion on the batch's held-out rows and is proposed;
approving promotes it, and the audit trail holds every step with the batch's fingerprint.
Batch 3 is malformed: exit 2 and nothing changed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.slow

FEATURES = ["x0", "x1", "x2", "x3", "x4"]
CELLS = [
    "%load_ext mlops_jupyter\n%mlops experiment churn-loop",
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
    "from sklearn.metrics import accuracy_score\n"
    "from sklearn.model_selection import train_test_split",
    "df = pd.read_csv('train.csv')\nfeatures = ['x0', 'x1', 'x2', 'x3', 'x4']",
    "X_train, X_test, y_train, y_test = train_test_split(\n"
    "    df[features], df['label'], test_size=0.25, random_state=0)",
    "model = LogisticRegression().fit(X_train, y_train)",
    "accuracy = accuracy_score(y_test, model.predict(X_test))",
]
POLICY = """
labels = "label"

[triggers]
drift_share = 0.3
metric = "accuracy"
metric_drop = 0.05

[retrain]
bundle = "bundle"
data = "substitute"
holdout = 0.3

[promotion]
mode = "proposal"
approvers = ["ana"]

[gates]
metrics = { accuracy = ">= 0.8" }
compare = { metric = "accuracy", mode = "better", margin = 0.0 }
"""


def batch(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Five features; the label follows x0 + x1. ``shift`` moves x0 and x1 and the boundary
    with them: a model fitted on unshifted data calls most shifted rows positive."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=FEATURES)
    X[["x0", "x1"]] += shift
    score = (X.x0 - shift) + (X.x1 - shift) + 0.3 * rng.normal(size=n)
    return X.assign(label=(score > 0).astype(int))


def _cli() -> Any:
    from mlops_jupyter.cli import cli

    return cli


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from nbclient import NotebookClient

    from mlops_jupyter.export.execute import send_cell_ids
    from mlops_jupyter.registry import promote, register_model
    from mlops_jupyter.registry.files import load_bytes
    from mlops_jupyter.store import close_all, open_store

    work = tmp_path_factory.mktemp("monitor_loop")
    batch(2000, 0).to_csv(work / "train.csv", index=False)
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
        send_cell_ids(client)
        for index in range(len(nb.cells)):
            client.execute_cell(nb.cells[index], index)
        # model files are written between cells by a background thread: wait for them before
        # the kernel is shut down (as run_bundle's last cell does)
        flush = nbformat.v4.new_code_cell(
            "# mlops: skip\nfrom mlops_jupyter.capture import artifacts\nartifacts.flush(timeout=120)"
        )
        nb.cells.append(flush)
        client.execute_cell(flush, len(nb.cells) - 1)
        nb.cells.pop()
    nbformat.write(nb, path)

    store = open_store(store_file)
    run = store.latest_runs_of_notebook([str(path)])[0]
    result = CliRunner().invoke(_cli(), ["export", str(path), "--to", str(work / "bundle")])
    assert result.exit_code == 0, result.output
    # the data scientist registers the notebook's model and puts it in production
    row = next(r for r in store.list_models(run["id"]) if r["name"] == "model")
    model = load_bytes(store.read_artifact(row["artifact_hash"]), "skops", what="model")
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(work / "train.csv")
    X_train, X_test, _, y_test = train_test_split(
        df[FEATURES], df["label"], test_size=0.25, random_state=0
    )
    register_model(
        model, "churn", run=run["id"], eval_data=(X_test, y_test), train_data=X_train, store=store
    )
    assert promote("churn", 1, "production", reason="first model", store=store).moved
    (work / "policy.toml").write_text(POLICY)
    batch(1000, 1).to_csv(work / "batch1.csv", index=False)
    batch(1000, 2, shift=1.5).to_csv(work / "batch2.csv", index=False)
    malformed = batch(300, 3).drop(columns=["x3"])
    malformed["x1"] = "n/a"
    malformed.to_csv(work / "batch3.csv", index=False)
    yield {"work": work, "store": store}
    close_all()
    mp.undo()


def _monitor(work: Path, name: str, *extra: str) -> Any:
    args = ["monitor", "--model", "churn", "--batch", str(work / name), "--policy"]
    args += [str(work / "policy.toml"), "--json", *extra]
    return CliRunner().invoke(_cli(), args, catch_exceptions=False)


def _counts(store: Any) -> tuple[int, int, int, int]:
    return (
        len(store.list_monitor_batches("churn")),
        len(store.list_audit_records()),
        len(store.list_model_versions("churn")),
        len(store.list_proposals()),
    )


def test_batch1_like_batch0_is_healthy_and_nothing_is_retrained(loop: dict[str, Any]) -> None:
    work, store = loop["work"], loop["store"]
    result = _monitor(work, "batch1.csv")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "healthy" and out["retrained_version"] is None
    assert out["labelled"] and out["metrics"]["accuracy"] > 0.9
    assert not any(t["fired"] for t in out["triggers"])
    assert [t["trigger"] for t in out["triggers"]][:2] == ["drift", "metric_drop"]
    assert len(store.list_model_versions("churn")) == 1
    # without labels: an estimate, checked against batch 1's labels just now
    unlabelled = pd.read_csv(work / "batch1.csv").drop(columns="label")
    unlabelled.to_csv(work / "batch1_nolabels.csv", index=False)
    again = _monitor(work, "batch1_nolabels.csv")
    assert again.exit_code == 0, again.output
    est = json.loads(again.output)["estimate"]
    assert est["trust"] == "trusted" and abs(est["value"] - out["metrics"]["accuracy"]) < 0.05


def test_batch2_shifted_is_retrained_proposed_and_approved(loop: dict[str, Any]) -> None:
    work, store = loop["work"], loop["store"]
    before = _counts(store)
    result = _monitor(work, "batch2.csv")
    assert result.exit_code == 1, result.output
    out = json.loads(result.output)
    fired = {t["trigger"] for t in out["triggers"] if t["fired"]}
    assert {"drift", "metric_drop"} <= fired, out["triggers"]
    assert out["metrics"]["accuracy"] < 0.8
    assert out["status"] == "proposed" and out["retrained_version"] == 2
    assert out["promotion"]["passed"], out["promotion"]
    gates = {g["gate"]: g["verdict"] for g in out["promotion"]["gates"]}
    assert gates["champion_vs_challenger"] == "pass" and gates["lineage"] == "pass"
    v2 = store.get_model_version("churn", 2)
    assert v2["run_id"] == out["retrain_run_id"]
    assert store.find_run(v2["run_id"])["source"] == "headless"
    assert v2["metrics"]["accuracy"] > 0.9  # on the held-out rows of batch 2
    assert store.find_alias_holder("churn", "production") == 1  # proposed, not moved
    assert _counts(store)[2:] == (before[2] + 1, before[3] + 1)
    # the bundle ran on the batch: its retrain data root holds batch 2's training rows
    roots = sorted((work / "bundle" / "retrains").iterdir())
    trained = pd.read_csv(roots[-1] / "train.csv")
    assert len(trained) == 700 and set(trained.columns) == {*FEATURES, "label"}

    listed = CliRunner().invoke(_cli(), ["proposals"])
    assert listed.exit_code == 0 and "churn" in listed.output
    proposal = store.list_proposals("churn", "open")[0]
    refused = CliRunner().invoke(
        _cli(), ["approve", str(proposal["id"]), "--reason", "x", "--by", "bob"]
    )
    assert refused.exit_code == 2 and "bob may not approve" in refused.output
    approved = CliRunner().invoke(
        _cli(), ["approve", str(proposal["id"]), "--reason", "beats v1 on batch 2", "--by", "ana"]
    )
    assert approved.exit_code == 0, approved.output
    assert store.find_alias_holder("churn", "production") == 2
    assert store.get_proposal(proposal["id"])["status"] == "approved"

    fp = out["fingerprint"]
    trail = [r for r in store.list_audit_records("churn") if r["id"] > before[1]]
    actions = [r["action"] for r in trail]
    assert actions == ["monitor", "register", "retrain", "propose", "promote"], actions
    for r in trail:
        if r["action"] != "register":  # register records vouch for the files, as before
            assert json.loads(r["details"])["batch_fingerprint"] == fp, r
    from mlops_jupyter.registry import audit_verify

    assert audit_verify(store=store).ok
    history = CliRunner().invoke(_cli(), ["monitor", "--model", "churn", "--history"])
    assert history.exit_code == 0 and "promoted" in history.output  # approved since
    batches = store.list_monitor_batches("churn")
    assert batches[-1]["status"] == "promoted" and batches[-1]["retrained_version"] == 2


def test_batch3_malformed_exits_2_and_changes_nothing(loop: dict[str, Any]) -> None:
    work, store = loop["work"], loop["store"]
    before = _counts(store)
    result = CliRunner().invoke(
        _cli(),
        [
            "monitor",
            "--model",
            "churn",
            "--batch",
            str(work / "batch3.csv"),
            "--policy",
            str(work / "policy.toml"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "x3" in result.output
    assert _counts(store) == before


def test_policy_auto_promotes_a_retrain_that_passes_the_gates(loop: dict[str, Any]) -> None:
    """After batch 2, v2 holds production; customers shift back, so v2 drops, and with
    ``mode = "auto"`` the retrained v3 takes the alias with no proposal."""
    work, store = loop["work"], loop["store"]
    assert store.find_alias_holder("churn", "production") == 2
    auto = work / "auto.toml"
    auto.write_text(POLICY.replace('mode = "proposal"', 'mode = "auto"'))
    batch(1000, 4).to_csv(work / "batch4.csv", index=False)
    n_proposals = len(store.list_proposals())
    result = CliRunner().invoke(
        _cli(),
        [
            "monitor",
            "--model",
            "churn",
            "--batch",
            str(work / "batch4.csv"),
            "--policy",
            str(auto),
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 1, result.output
    out = json.loads(result.output)
    assert out["version"] == 2 and out["status"] == "promoted", out["actions"]
    assert out["retrained_version"] == 3 and out["promotion"]["moved"]
    assert store.find_alias_holder("churn", "production") == 3
    assert len(store.list_proposals()) == n_proposals
    last = store.list_audit_records("churn")[-1]
    assert last["action"] == "promote" and last["to_version"] == 3
    assert json.loads(last["details"])["batch_fingerprint"] == out["fingerprint"]


def test_a_changed_bundle_is_proposed_against_the_champion(loop: dict[str, Any]) -> None:
    """Code updates count too: the bundle's training cell changes, `propose` re-runs it on its
    own data, registers the model and gates it on the champion's evaluation rows."""
    work, store = loop["work"], loop["store"]
    champion = store.find_alias_holder("churn", "production")
    path = work / "bundle" / "run.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "LogisticRegression().fit" in c.source]
    assert len(cells) == 1
    cells[0].source = cells[0].source.replace("LogisticRegression()", "LogisticRegression(C=0.5)")
    nbformat.write(nb, path)
    policy = work / "code.toml"
    policy.write_text(
        POLICY.replace('mode = "better", margin = 0.0', 'mode = "not_worse", margin = 0.05')
    )
    result = CliRunner().invoke(
        _cli(),
        [
            "propose",
            "--model",
            "churn",
            "--bundle",
            str(work / "bundle"),
            "--policy",
            str(policy),
            "--json",
            "--by",
            "ci",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "proposed" and out["champion"] == champion
    new = store.get_model_version("churn", out["version"])
    assert new["run_id"] == out["run_id"] and new["card"]["params"]["C"] == 0.5
    # compared on the champion's own evaluation rows
    assert new["eval_fingerprint"] == store.get_model_version("churn", champion)["eval_fingerprint"]
    actions = [r["action"] for r in store.list_audit_records("churn")[-3:]]
    assert actions == ["register", "code_update", "propose"]
    assert store.find_alias_holder("churn", "production") == champion  # proposed only
    proposal = store.get_proposal(out["proposal_id"])
    assert proposal["status"] == "open" and proposal["approvers"] == ["ana"]


def test_the_suite_follows_the_model_not_a_name_other_data_used(loop: dict[str, Any]) -> None:
    """After retrains the holder's data tests are still the suite drafted from the first
    version's training data; a suite of the same name drafted from other data is not used."""
    store = loop["store"]
    from mlops_jupyter.monitoring.checks import find_suite

    holder = store.get_model_version("churn", store.find_alias_holder("churn", "production"))
    assert holder["version"] > 1
    suite, note = find_suite(store, holder, None)
    assert suite is not None and suite.name == "X_train" and note is None
    foreign = {**holder, "name": "other", "version": 1, "run_id": None}
    foreign["training_datasets"] = [{"name": "X_train", "version": 9, "fingerprint": "f" * 32}]
    store.record_dataset_content("f" * 32, kind="dataframe", n_rows=3, n_cols=1)
    store.record_dataset_version("X_train", "f" * 32)
    store.create_model_version(
        "other", model_fingerprint="m" * 32, class_name="X", task="classification",
        artifact_hash=store.put_artifact(b"x"), format="skops",
        training_datasets=foreign["training_datasets"],
    )  # fmt: skip
    suite, note = find_suite(store, foreign, None)
    assert suite is None and "drafted from other data" in (note or "")
