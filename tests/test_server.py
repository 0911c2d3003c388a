"""The REST API of the jupyter_server extension, against a real server (pytest-jupyter).

Every route runs on both backends (an SQLite file and the team store on the session's real
PostgreSQL server); the tests about the file itself (missing, not a store, replaced, an old
file read byte for byte) are SQLite only.

The pytest-jupyter fixtures are imported into this module only (not registered as a global
plugin), so their autouse fixtures do not touch the rest of the suite.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from mlops_jupyter.store import open_store

FP_RAW = "a" * 32
FP_CLEAN = "b" * 32
FP_MODEL = "c" * 32


def _seed(path: Path) -> dict[str, Any]:
    """Two runs of one experiment: load -> clean -> fit, with params, metrics, a model."""
    s = open_store(path, shared=False)
    try:
        ids = {}
        for i, (c, acc) in enumerate([(0.1, 0.91), (1.0, 0.95)]):
            run = s.create_run("churn", notebook_path="work/train.ipynb")
            rid = ids[f"run{i}"] = run["id"]
            e1 = s.add_execution(
                rid,
                code="df = load()",
                code_hash="h1",
                started_at="2026-01-01T00:00:00",
                duration_s=0.1,
                status="ok",
                execution_count=1,
                cell_id=f"cell-load-{i}",
                writes=["df"],
            )
            e2 = s.add_execution(
                rid,
                code="clf = fit(df, C)\nacc = score()",
                code_hash="h2",
                started_at="2026-01-01T00:00:01",
                duration_s=0.2,
                status="ok",
                execution_count=2,
                cell_id=f"cell-fit-{i}",
                reads=["df"],
                writes=["clf"],
            )
            ids[f"fit{i}"] = e2
            s.log_params(rid, {"C": c, "solver": "lbfgs"}, execution_id=e2)
            s.log_metrics(rid, [("accuracy", acc, None, None)], execution_id=e2)
            for fp, n in ((FP_RAW, 100), (FP_CLEAN, 90)):
                s.record_dataset_content(fp, kind="dataframe", n_rows=n, n_cols=3)
            s.record_dataset_version("raw", FP_RAW, run_id=rid, execution_id=e1)
            s.record_dataset_version("clean", FP_CLEAN, run_id=rid, execution_id=e1)
            model_fp = FP_MODEL if i == 0 else "d" * 32
            s.record_model(
                model_fp,
                class_name="LogisticRegression",
                name="clf",
                run_id=rid,
                execution_id=e2,
            )
            s.add_edges(
                [
                    ("dataset", FP_RAW, "read", "execution", str(e1)),
                    ("execution", str(e1), "wrote", "dataset", FP_CLEAN),
                    ("dataset", FP_CLEAN, "read", "execution", str(e2)),
                    ("execution", str(e2), "wrote", "model", model_fp),
                    ("model", model_fp, "trained_on", "dataset", FP_CLEAN),
                    ("execution", str(e2), "evaluated", "metric", f"{rid}:accuracy"),
                ],
                run_id=rid,
                execution_id=e2,
            )
            s.end_run(rid)
        return ids
    finally:
        s.close()


@pytest.fixture
def seeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: Any, backend: str
) -> dict[str, Any]:
    path = tmp_path / "store" / "lineage.db" if backend == "sqlite" else store_location
    monkeypatch.setenv("MLOPS_JUPYTER_STORE", str(path))
    if backend != "sqlite":
        monkeypatch.setenv("MLOPS_JUPYTER_ARTIFACTS", str(tmp_path / "shared-artifacts"))
    ids = _seed(path)
    yield {**ids, "path": path}
    from mlops_jupyter.store import close_all

    close_all()


@pytest.fixture
def jp_server_config(seeded: dict[str, Any]) -> Any:
    from traitlets.config import Config

    return Config({"ServerApp": {"jpserver_extensions": {"mlops_jupyter": True}}})


@pytest.fixture
def get(jp_fetch: Any, jp_asyncio_loop: Any) -> Any:
    """GET a route under /mlops-jupyter/ and decode the JSON (synchronously)."""

    def fetch(*parts: str, params: Any = None, **kw: Any) -> Any:
        response = jp_asyncio_loop.run_until_complete(
            jp_fetch("mlops-jupyter", *parts, params=params, **kw)
        )
        return json.loads(response.body)

    return fetch


def _error(get: Any, *parts: str, **kw: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as info:
        get(*parts, **kw)
    return info.value.code, json.loads(info.value.response.body or b"{}")


def test_status_names_the_store(get: Any, seeded: dict[str, Any]) -> None:
    body = get("status")
    if isinstance(seeded["path"], Path):
        assert body["store"] == str(seeded["path"].resolve())
    else:  # the team store's URL (a password would be masked)
        assert body["store"] == seeded["path"]
    assert body["exists"] is True
    assert body["schema_version"] >= 1
    assert body["marker"] == get("status")["marker"]


def test_status_marker_moves_on_write(get: Any, seeded: dict[str, Any]) -> None:
    before = get("status")["marker"]
    s = open_store(seeded["path"], shared=False)
    s.log_metrics(seeded["run0"], [("loss", 0.5, None, None)])
    s.close()
    assert get("status")["marker"] != before


def test_experiments_and_runs(get: Any, seeded: dict[str, Any]) -> None:
    [exp] = get("experiments")
    assert (exp["name"], exp["n_runs"]) == ("churn", 2)
    runs = get("runs", params={"experiment": "churn"})
    assert [r["id"] for r in runs] == [seeded["run1"], seeded["run0"]]  # newest first
    assert runs[0]["params"] == {"C": 1.0, "solver": "lbfgs"}
    assert runs[0]["metrics"] == {"accuracy": 0.95}
    assert get("runs") == runs


def test_run_detail_has_cells_and_lineage(get: Any, seeded: dict[str, Any]) -> None:
    body = get("runs", seeded["run0"])
    assert body["run"]["id"] == seeded["run0"]
    assert {p["key"]: p["value"] for p in body["params"]} == {"C": 0.1, "solver": "lbfgs"}
    assert body["metrics"] == {"accuracy": 0.91}
    fit = body["executions"][1]
    assert (fit["n_params"], fit["n_metrics"], fit["n_models"]) == (2, 1, 1)
    assert [d["name"] for d in body["datasets"]] == ["clean", "raw"]
    assert body["lineage"] == get("runs", seeded["run0"], "lineage")


def test_run_lineage_columns(get: Any, seeded: dict[str, Any]) -> None:
    graph = get("runs", seeded["run0"], "lineage")
    by_type = {}
    for node in graph["nodes"]:
        by_type.setdefault(node["type"], []).append(node)
    assert sorted(n["label"] for n in by_type["dataset"]) == ["clean v1", "raw v1"]
    assert [n["column"] for n in by_type["execution"]] == [1, 1]
    assert by_type["model"][0]["label"] == "clf: LogisticRegression"
    # metrics are nodes, labelled with their latest value; every node has a full title
    assert [(n["label"], n["column"]) for n in by_type["metric"]] == [("accuracy = 0.91", 3)]
    assert all(n["title"] for n in graph["nodes"])
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in graph["edges"])
    assert {
        "source": f"execution:{seeded['fit0']}",
        "target": f"model:{FP_MODEL}",
        "relation": "wrote",
    } in graph["edges"]


def test_executions_by_cell_and_notebook(get: Any, seeded: dict[str, Any]) -> None:
    [fit] = get("executions", params={"cell_id": "cell-fit-0"})
    assert fit["id"] == seeded["fit0"]
    assert (fit["n_params"], fit["n_metrics"], fit["n_models"]) == (2, 1, 1)
    both = get("executions", params=[("cell_id", "cell-fit-0"), ("cell_id", "cell-load-1")])
    assert [e["cell_id"] for e in both] == ["cell-fit-0", "cell-load-1"]
    by_nb = get("executions", params={"notebook": "work/train.ipynb"})
    assert len(by_nb) == 4
    graph = get("executions", str(seeded["fit0"]), "lineage")
    assert {n["type"] for n in graph["nodes"]} == {"dataset", "execution", "model", "metric"}


def test_datasets_models_drift(get: Any) -> None:
    datasets = get("datasets")
    assert [(d["name"], len(d["versions"])) for d in datasets] == [("clean", 1), ("raw", 1)]
    assert datasets[1]["versions"][0]["n_rows"] == 100
    models = get("models")
    assert [m["fingerprint"] for m in models["captured"]] == [FP_MODEL, "d" * 32]
    assert isinstance(models["registered"], list)
    assert isinstance(get("drift"), list)
    raw = get("datasets", "raw")
    assert [v["version"] for v in raw["versions"]] == [1]
    assert "Dataset raw" in raw["html"] and "<script" not in raw["html"]
    code, body = _error(get, "datasets", "nope")
    assert code == 404 and body["error"] == "DatasetNotFound"
    code, body = _error(get, "drift", "nope")
    assert code == 404 and "No drift report with id 'nope'" in body["message"]


def test_compare_returns_the_static_panel(get: Any, seeded: dict[str, Any]) -> None:
    pytest.importorskip("mlops_jupyter.analysis.compare")
    pytest.importorskip("mlops_jupyter.display.compare")
    body = get("compare", params={"runs": f"{seeded['run0']},{seeded['run1']}"})
    assert body["runs"] == [seeded["run0"], seeded["run1"]]
    assert "accuracy" in body["html"] and "<script" not in body["html"]


def test_errors_are_json_4xx(get: Any) -> None:
    code, body = _error(get, "runs", "nope")
    assert code == 404 and body["error"] == "RunNotFound"
    assert "%mlops runs" in body["message"]
    code, body = _error(get, "runs", params={"experiment": "missing"})
    assert code == 404 and body["error"] == "ExperimentNotFound"
    code, body = _error(get, "compare", params={"runs": "only-one"})
    assert code == 400 and body["error"] == "InvalidInput"
    code, body = _error(get, "executions")
    assert code == 400 and "cell_id" in body["message"]
    code, body = _error(get, "executions", "x1", "lineage")
    assert code == 400
    for huge in ("9" * 30, "-1", str(2**63)):  # SQLite cannot bind it: was a 500
        code, body = _error(get, "executions", huge, "lineage")
        assert (code, body["error"]) == (400, "InvalidInput"), huge


@pytest.mark.parametrize(
    "route", ["status", "experiments", "runs", "datasets", "models", "drift", "executions"]
)
def test_no_token_is_forbidden(get: Any, route: str) -> None:
    code, _ = _error(get, route, headers={"Authorization": ""})
    assert code == 403


def test_injection_looking_values_are_harmless(get: Any, seeded: dict[str, Any]) -> None:
    evil = "x' OR '1'='1"
    assert _error(get, "runs", params={"experiment": evil})[0] == 404
    assert _error(get, "runs", "1' OR 1=1 --")[0] == 404
    assert get("executions", params={"cell_id": evil}) == []
    assert get("executions", params={"notebook": "'; DROP TABLE runs; --"}) == []
    assert len(get("runs")) == 2  # nothing was dropped


@pytest.mark.sqlite_only  # about the file itself
def test_missing_store_reads_as_empty(
    get: Any,
    seeded: dict[str, Any],
    jp_serverapp: Any,
) -> None:
    jp_serverapp.web_app.settings["mlops_jupyter_store"] = str(seeded["path"].parent / "none.db")
    assert get("runs") == [] and get("experiments") == []
    assert get("status")["exists"] is False
    assert _error(get, "runs", "abc")[0] == 404
    assert not (seeded["path"].parent / "none.db").exists()  # reading never creates a store


def test_models_show_registry_versions_aliases_audit(get: Any, seeded: dict[str, Any]) -> None:
    s = open_store(seeded["path"], shared=False)
    if not hasattr(s, "create_model_version"):
        s.close()
        pytest.skip("the registry's store tables have not landed")
    artifact = s.put_artifact(b"model bytes")
    s.create_model_version(
        "churn-model",
        model_fingerprint=FP_MODEL,
        class_name="LogisticRegression",
        task="classification",
        artifact_hash=artifact,
        format="skops",
        run_id=seeded["run0"],
        audit=lambda v: {
            "action": "register",
            "who": "ann",
            "name": "churn-model",
            "to_version": v,
        },
    )
    s.move_alias(
        "churn-model",
        "production",
        1,
        action="promote",
        audit={
            "action": "promote",
            "who": "ann",
            "name": "churn-model",
            "to_version": 1,
            "alias": "production",
            "reason": "best auc",
        },
    )
    s.close()
    [model] = get("models")["registered"]
    assert model["name"] == "churn-model"
    assert model["aliases"] == {"production": 1}
    assert [v["version"] for v in model["versions"]] == [1]
    assert [a["action"] for a in model["audit"]] == ["register", "promote"]
    assert model["alias_history"][0]["reason"] == "best auc"
    graph = get("runs", seeded["run0"], "lineage")
    assert {
        "source": f"model:{FP_MODEL}",
        "target": "model_version:churn-model@1",
        "relation": "registered",
    } in graph["edges"]
    assert [n["column"] for n in graph["nodes"] if n["type"] == "model_version"] == [3]


def test_drift_reports_filtered_by_model(get: Any, seeded: dict[str, Any]) -> None:
    s = open_store(seeded["path"], shared=False)
    if not hasattr(s, "record_drift_report"):
        s.close()
        pytest.skip("the drift store tables have not landed")
    for model, n_drifted in (("churn-model", 2), (None, 0)):
        s.record_drift_report(
            {
                "reference_fingerprint": FP_RAW,
                "reference_name": "raw",
                "current_fingerprint": FP_CLEAN,
                "current_name": "clean",
                "model_name": model,
                "n_columns": 3,
                "n_drifted": n_drifted,
                "share": n_drifted / 3,
                "drift_share": 0.5,
                "drifted": int(n_drifted > 1),
            },
            [],
        )
    s.close()
    reports = get("drift")
    assert [r["n_drifted"] for r in reports] == [2, 0]
    [only] = get("drift", params={"model": "churn-model"})
    assert (only["model_name"], only["current_name"]) == ("churn-model", "clean")
    assert get("drift", params={"model": "x' OR '1'='1"}) == []


def test_monitor_returns_batches_proposals_and_the_panel(get: Any, seeded: dict[str, Any]) -> None:
    s = open_store(seeded["path"], shared=False)
    artifact = s.put_artifact(b"model bytes")
    s.create_model_version(
        "churn-model",
        model_fingerprint=FP_MODEL,
        class_name="LogisticRegression",
        task="classification",
        artifact_hash=artifact,
        format="skops",
    )
    for i, status in enumerate(["healthy", "proposed"]):
        s.record_monitor_batch(
            {
                "model_name": "churn-model",
                "alias": "production",
                "version": 1,
                "batch_name": f"week{i}.csv",
                "batch_fingerprint": f"{i}" * 32,
                "n_rows": 100,
                "labelled": True,
                "drift_share": 0.2 * i,
                "drift_threshold": 0.5,
                "drifted": False,
                "metrics": {"accuracy": 0.9 - 0.2 * i},
                "reference_metrics": {"accuracy": 0.9},
                "triggers": [],
                "status": status,
                "retrained_version": 2 if i else None,
            }
        )
    s.close()
    body = get("monitor", "churn-model")
    assert [b["status"] for b in body["batches"]] == ["healthy", "proposed"]
    assert body["batches"][1]["measured"] == pytest.approx(0.7)
    assert body["proposals"] == [] and "Monitoring of churn-model" in body["html"]
    assert "<svg" in body["html"] and "<script" not in body["html"]
    code, err = _error(get, "monitor", "nope")
    assert code == 404 and err["error"] == "ModelNotFound"


@pytest.mark.sqlite_only  # about the file itself
def test_a_file_that_is_not_a_store_is_a_json_error(
    get: Any, seeded: dict[str, Any], jp_serverapp: Any
) -> None:
    junk = seeded["path"].parent / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    jp_serverapp.web_app.settings["mlops_jupyter_store"] = str(junk)
    for route in ("status", "runs"):
        code, body = _error(get, route)
        assert (code, body["error"]) == (400, "StoreError")
        assert "MLOPS_JUPYTER_STORE" in body["message"]


def make_old(path: Path) -> int:
    """Turn a store into one written before the last core migration; its schema version."""
    import sqlite3

    from mlops_jupyter.store.schema import expected_version

    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm003_record_run_process'")
    conn.execute("ALTER TABLE runs DROP COLUMN pid")
    conn.execute("ALTER TABLE runs DROP COLUMN process")
    conn.execute(f"PRAGMA user_version = {expected_version() - 1}")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return expected_version() - 1


@pytest.mark.sqlite_only  # about the file itself
def test_an_old_store_is_read_never_upgraded(get: Any, seeded: dict[str, Any]) -> None:
    from mlops_jupyter.store import close_all

    close_all()
    old = make_old(seeded["path"])
    before = seeded["path"].read_bytes()
    assert len(get("runs")) == 2 and get("status")["upgrade_pending"] is True
    assert get("runs", seeded["run0"])["run"]["id"] == seeded["run0"]
    assert get("status")["schema_version"] == old
    assert seeded["path"].read_bytes() == before  # not one byte written


@pytest.mark.sqlite_only  # about the file itself
def test_a_store_replaced_under_the_server_is_reopened(get: Any, seeded: dict[str, Any]) -> None:
    from mlops_jupyter.store.base import StoreReplacedWarning

    assert len(get("runs")) == 2
    fresh = seeded["path"].parent / "fresh.db"
    s = open_store(fresh, shared=False)
    s.create_run("other")
    s.close()
    fresh.replace(seeded["path"])  # e.g. restored from a backup while the server runs
    with pytest.warns(StoreReplacedWarning, match="replaced while it was open"):
        runs = get("runs")
    assert [r["experiment"] for r in runs] == ["other"]
