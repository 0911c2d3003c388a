"""The team store (#15): upgrades under a lock, actors, shared artifacts, push and pull, bad
URLs and credentials as one line, read-only SQL. On both backends where the feature exists on
both; against the real PostgreSQL server of the session (tests/pgserver.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mlops_jupyter as mj
from mlops_jupyter.cli import cli
from mlops_jupyter.errors import StoreError, StoreWriteError
from mlops_jupyter.store import open_store
from mlops_jupyter.store.base import SqlDb
from mlops_jupyter.store.schema import MIGRATION_SETS, expected_version

from .conftest import store_exists

# The migrations a store made by the code before #15 has (what `main` released then).
RELEASED_BEFORE_15 = {
    "mlops_jupyter.core": ["m001_create_core", "m002_create_metric_origins", "m003_record_run_process"],
    "mlops_jupyter.compare": [
        "m001_create_summaries", "m002_add_default_params", "m003_add_summary_versions",
    ],
    "mlops_jupyter.drift": ["m001_create_drift"],
    "mlops_jupyter.datadiff": ["m001_create_dataset_diffs"],
    "mlops_jupyter.registry": ["m001_create_registry", "m002_audit_integrity"],
    "mlops_jupyter.export": ["m001_create_verifications"],
    "mlops_jupyter.expectations": ["m001_create_suites_and_checks"],
    "mlops_jupyter.tags": ["m001_create_dataset_tags"],
    "mlops_jupyter.resources": ["m001_create_execution_resources"],
}  # fmt: skip


def _old_store(location: Any) -> None:
    """A store exactly as the code before #15 created it, holding a run with a metric."""
    if isinstance(location, Path):
        location.parent.mkdir(parents=True, exist_ok=True)
        conn: Any = sqlite3.connect(location, isolation_level=None)
    else:
        from mlops_jupyter.store.pg import PgConnection

        conn = PgConnection(location)
        conn.create_schema()
    db = SqlDb(conn)
    conn.execute("BEGIN")
    n = 0
    for migrations in MIGRATION_SETS:
        for m in migrations._migrations:
            if m.name not in RELEASED_BEFORE_15.get(migrations.name, []):
                continue
            if n == 0:
                db.executescript(
                    """CREATE TABLE _sqlite_migrations (id INTEGER PRIMARY KEY,
                       migration_set TEXT, name TEXT, applied_at TEXT);"""
                )
            m.fn(db)
            conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES (?, ?, 'then')",
                (migrations.name, m.name),
            )
            n += 1
    if isinstance(location, Path):
        conn.execute(f"PRAGMA user_version = {n}")
    else:
        conn.refresh_schema()
    conn.execute("INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'old', 't0')")
    conn.execute(
        "INSERT INTO runs (id, experiment_id, name, started_at) VALUES ('r1', 'e1', 'run-1', 't0')"
    )
    conn.execute(
        "INSERT INTO metrics (run_id, key, step, value, logged_at) VALUES ('r1', 'auc', 0, 0.9, 't0')"
    )
    conn.execute("COMMIT")
    conn.close()


def test_a_store_made_before_15_upgrades_in_place(store_location: Any) -> None:
    _old_store(store_location)
    reader = open_store(store_location, shared=False, readonly=True)
    assert reader.schema_version < expected_version()  # a reader never upgrades
    reader.close()
    store = open_store(store_location, shared=False)
    assert store.schema_version == expected_version()
    assert store.latest_metrics("r1") == {"auc": 0.9}  # nothing lost
    assert store.get_run("r1")["experiment"] == "old"
    assert {"artifact_blobs", "store_info", "push_map"} <= set(store.table_names())
    run = store.create_run("old")  # and it is written with its actor from now on
    assert store.get_run(run["id"])["actor"] == store.actor
    assert mj.compare(experiment="old", store=store).table["metrics.auc"].tolist() == [0.9]
    store.close()


def test_every_write_carries_its_actor(
    store, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = store.actor
    if backend == "postgresql":
        assert default == "mj"  # the database user
    run = store.create_run("exp")["id"]
    monkeypatch.setenv("MLOPS_JUPYTER_ACTOR", "ci-nightly")
    with store.write():
        ex = store.add_execution(run, code="x", code_hash="h", started_at="t", duration_s=0.0,
                                 status="ok")  # fmt: skip
        store.log_params(run, {"lr": 0.1}, execution_id=ex)
        store.log_metrics(run, [("auc", 0.9, None, None)] * 60, execution_id=ex)  # bulk path
    store.add_edges([("dataset", "f" * 32, "read", "execution", str(ex))], run_id=run)
    store.put_artifact(b"bytes")
    actors = {
        table: {r["actor"] for r in store.query(f"SELECT actor FROM {table}")}
        for table in ("executions", "params", "metrics", "lineage", "artifacts")
    }
    assert actors == {t: {"ci-nightly"} for t in actors}
    assert store.query("SELECT actor FROM runs")[0]["actor"] == default


def test_the_audit_trail_records_and_chains_the_actor(store_location: Any, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_JUPYTER_ACTOR", "alice")
    store = _registry_store(store_location)
    records = store.list_audit_records()
    # who: --by when given (register), else the configured actor (promote, policy); actor: who
    # the store knows wrote the record
    assert {(r["who"], r["actor"]) for r in records} == {("ann", "alice"), ("alice", "alice")}
    assert store.list_model_versions("iris")[0]["actor"] == "alice"
    assert mj.audit_verify(store=store).ok
    other = open_store(store.location, shared=False)
    with other.write():
        other.conn.execute("DROP TRIGGER audit_records_no_update")
        other.conn.execute("UPDATE audit_records SET actor = 'mallory' WHERE id = 1")
    other.close()
    assert mj.audit_verify(store=store).broken_id == 1  # the actor is part of the hash
    store.close()


def test_artifacts_are_reachable_from_another_connection(
    store, backend: str, monkeypatch, tmp_path: Path
) -> None:
    from mlops_jupyter.store import datasets

    monkeypatch.setattr(datasets, "INLINE_MAX", 1000)
    small, large = b"s" * 100, b"L" * 5000
    h_small, h_large = store.put_artifact(small), store.put_artifact(large)
    assert store.put_artifact(small) == h_small  # content-addressed: stored once
    other = open_store(store.location, shared=False)  # another member, another connection
    assert other.read_artifact(h_small) == small and other.read_artifact(h_large) == large
    other.close()
    if backend == "postgresql":
        blobs = {r["hash"] for r in store.query("SELECT hash FROM artifact_blobs")}
        assert blobs == {h_small}  # small in the database, large under the shared root
        assert (tmp_path / "shared-artifacts" / h_large).read_bytes() == large
        monkeypatch.delenv("MLOPS_JUPYTER_ARTIFACTS")
        alone = open_store(store.location, shared=False)
        assert alone.read_artifact(h_small) == small
        with pytest.raises(mj.MlopsError, match="MLOPS_JUPYTER_ARTIFACTS is not set"):
            alone.read_artifact(h_large)
        alone.close()


def _registry_store(location: Any) -> Any:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    store = open_store(location, shared=False)
    X, y = load_iris(return_X_y=True, as_frame=True)
    run = store.create_run("team", name="baseline")["id"]
    with store.write():
        ex = store.add_execution(run, code="fit", code_hash="h", started_at="t0",
                                 duration_s=0.1, status="ok")  # fmt: skip
        store.log_params(run, {"C": 1.0}, execution_id=ex)
        store.log_metrics(run, [("acc", 0.9, 0, None), ("acc", 0.95, 1, None)], execution_id=ex)
        store.record_dataset_content("d" * 32, kind="dataframe", n_rows=150, n_cols=4)
        store.record_dataset_version("iris", "d" * 32, run_id=run, execution_id=ex)
        store.add_edges([("dataset", "d" * 32, "read", "execution", str(ex))], run_id=run,
                        execution_id=ex)  # fmt: skip
    store.end_run(run)
    for c in (1.0, 0.5):
        model = LogisticRegression(C=c, max_iter=500).fit(X, y)
        mj.register_model(model, "iris", eval_data=(X, y), store=store, by="ann")
    mj.set_policy("iris", lineage=False, store=store)
    mj.promote("iris", 1, "production", store=store)
    return store


def test_push_copies_everything_once_and_pull_brings_it_back(
    pg_server: Any, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    team_url = pg_server.store_url()
    local = _registry_store(tmp_path / "alice" / "lineage.db")
    # the team store already holds a colleague's model of the same name: pushed versions follow
    team = _registry_store(team_url)
    team_versions = len(team.list_model_versions("iris"))
    # data tests, tags and resources (#16) travel too; a colleague's suite keeps its numbers
    team.add_suite_version("iris", [{"rule": "not_null", "column": "a"}], status="draft",
                           change="draft")  # fmt: skip
    local.add_suite_version("iris", [{"rule": "unique", "column": "b"}], status="accepted",
                            change="set")  # fmt: skip
    local.set_dataset_tags("iris", {"owner": "ann"})
    first_run = local.list_runs()[0]["id"]
    execution = local.query("SELECT id FROM executions WHERE run_id = ?", (first_run,))[0]["id"]
    local.record_resources(execution, first_run, {"wall_s": 0.5, "cpu_s": 0.25})
    local.record_check(fingerprint="d" * 32, name="iris", version=1, suite="iris",
                       suite_version=1, passed=False, n_rows=150, n_rules=1, n_failed_rules=1,
                       n_failed_rows=3, result={"rules": []}, run_id=first_run,
                       execution_id=execution)  # fmt: skip
    # the monitoring history (#17) travels with the registry: a batch linked to its proposal
    batch = local.record_monitor_batch({"model_name": "iris", "alias": "production",
        "version": 2, "batch_name": "week1.csv", "batch_fingerprint": "b" * 32, "n_rows": 10,
        "labelled": True, "status": "proposed", "retrained_version": 2})  # fmt: skip
    proposal = local.create_proposal({"model_name": "iris", "alias": "production",
        "version": 2, "from_version": 1, "batch_id": batch["id"]},
        audit={"action": "propose", "name": "iris", "who": "ann", "to_version": 2,
               "alias": "production"})  # fmt: skip
    local.update_monitor_batch(batch["id"], proposal_id=proposal["id"])
    local.add_monitor_edge("b" * 32, "iris@2", "retrained")
    first = mj_push(local.location, team_url)
    assert first.exit_code == 0, first.output
    assert "runs" in first.output and "audit_records" in first.output
    second = mj_push(local.location, team_url)
    assert second.exit_code == 0 and "nothing new" in second.output, second.output
    run = local.list_runs()[0]
    copied = team.get_run(run["id"])  # the same id, the same timestamps
    assert (copied["started_at"], copied["ended_at"], copied["status"]) == (
        run["started_at"], run["ended_at"], "finished")  # fmt: skip
    assert team.latest_metrics(run["id"]) == {"acc": 0.95}
    assert len(team.list_model_versions("iris")) == team_versions + 2  # renumbered after
    assert mj.audit_verify(store=team).ok, mj.audit_verify(
        store=team
    ).problems  # the chain stays whole
    pushed = [r for r in team.list_audit_records() if "pushed_from" in str(r["details"] or "")]
    assert len(pushed) == len(local.list_audit_records())
    mj.load_model("iris", store=team)  # the model files came along
    assert [v["version"] for v in team.suite_history("iris")] == [1, 2]  # pushed one follows
    assert team.dataset_tags("iris")["owner"] == "ann"
    checks = team.list_checks(name="iris")
    assert len(checks) == 1 and checks[0]["suite_version"] == 2  # points at its renumbered suite
    assert team.run_resources([run["id"]])[run["id"]]["wall_s"] == 0.5
    [pushed_batch] = team.list_monitor_batches("iris")
    [pushed_proposal] = team.list_proposals("iris")
    assert pushed_batch["version"] == team_versions + 2  # renumbered as the registry's
    assert pushed_proposal["batch_id"] == pushed_batch["id"]
    assert pushed_batch["proposal_id"] == pushed_proposal["id"]
    assert pushed_proposal["from_version"] == team_versions + 1
    edges = team.query("SELECT dst_id FROM lineage WHERE relation = 'retrained'")
    assert [e["dst_id"] for e in edges] == [f"iris@{team_versions + 2}"]
    # offline: pull the team store into a new local one, then push it back: nothing new
    offline = tmp_path / "bob" / "lineage.db"
    pulled = CliRunner().invoke(cli, ["--store", str(offline), "pull", "--from", team_url])
    assert pulled.exit_code == 0, pulled.output
    back = mj_push(offline, team_url)
    assert back.exit_code == 0 and "nothing new" in back.output, back.output
    bob = open_store(offline, shared=False)
    assert {r["id"] for r in bob.list_runs()} == {r["id"] for r in team.list_runs()}
    assert mj.audit_verify(store=bob).ok
    for s in (local, team, bob):
        s.close()
    pg_server.drop(team_url)


def mj_push(source: Any, target: str) -> Any:
    return CliRunner().invoke(cli, ["--store", str(source), "push", "--to", target])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://mj@127.0.0.1:1/mj", "Cannot reach the PostgreSQL store"),
        ("postgresql://mj@127.0.0.1:PORT/no_such_db", "does not exist"),
        ("postgresql://mj_pw:wrong@127.0.0.1:PORT/mj", "refused the credentials"),
        ("postgresql://mj@127.0.0.1:PORT/mj?schema=bad-name", "not a usable schema name"),
        ("postgresql://mj@127.0.0.1:notaport/mj", "not a valid PostgreSQL URL"),
    ],
)
def test_bad_urls_and_credentials_are_one_line(pg_server: Any, url: str, says: str) -> None:
    port = pg_server.url.rsplit(":", 1)[1].split("/")[0]
    url = url.replace("PORT", port)
    result = CliRunner().invoke(cli, ["--store", url, "runs"])
    assert result.exit_code == 2
    assert says in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "wrong" not in result.output  # a password is never echoed


def test_right_credentials_work_and_are_never_shown(pg_server: Any) -> None:
    from tests import pgserver

    url = pg_server.store_url().replace("mj@", f"{pgserver.PASSWORD_USER}:{pgserver.PASSWORD}@", 1)
    store = open_store(url, shared=False)
    assert store.actor == pgserver.PASSWORD_USER
    assert pgserver.PASSWORD not in store.display and pgserver.PASSWORD not in repr(store)
    store.close()
    pg_server.drop(url)


def test_a_failed_team_write_is_one_store_error_and_keeps_nothing(pg_server: Any) -> None:
    url = pg_server.store_url()
    store = open_store(url, shared=False)
    run = store.create_run("exp")["id"]
    store.conn.execute("SET default_transaction_read_only TO on")  # the server refuses writes
    with pytest.raises(StoreWriteError, match="team store") as info:
        store.log_metrics(run, [("loss", float(i), i, None) for i in range(5000)])
    assert "\n" not in str(info.value)
    store.conn.execute("SET default_transaction_read_only TO off")
    assert store.metric_history(run) == []
    store.close()
    pg_server.drop(url)


def test_a_reader_never_creates_and_another_apps_schema_is_left_alone(pg_server: Any) -> None:
    import psycopg

    url = pg_server.store_url()
    with pytest.raises(StoreError, match="No lineage store"):
        open_store(url, shared=False, readonly=True)
    assert not store_exists(url)
    schema = url.rsplit("=", 1)[1]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.customers (id int)")
    with pytest.raises(StoreError, match=r"another application's tables \(customers\)"):
        open_store(url, shared=False)
    pg_server.drop(url)


def test_a_server_restart_is_survived(pg_server: Any) -> None:
    import psycopg

    url = pg_server.store_url()
    store = open_store(url, shared=False)
    run = store.create_run("exp")["id"]
    with psycopg.connect(pg_server.url, autocommit=True) as conn:  # the connection is dropped
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'mlops-jupyter' AND pid <> pg_backend_pid()"
        )
    with pytest.raises(StoreError):
        store.end_run(run)  # the write in flight fails as one StoreError...
    store.end_run(run)  # ...and the next one reconnects
    assert store.get_run(run)["status"] == "finished"
    store.close()
    pg_server.drop(url)


def test_sql_reads_tables_and_views_and_refuses_writes(store_file: Any, store) -> None:
    store.log_params(store.create_run("exp", name="r1")["id"], {"lr": 0.1})
    tables = CliRunner().invoke(cli, ["--store", str(store_file), "sql", "tables", "--json"])
    assert tables.exit_code == 0, tables.output
    assert {"runs", "browse_runs"} <= {r["name"] for r in __import__("json").loads(tables.output)}
    rows = CliRunner().invoke(
        cli, ["--store", str(store_file), "sql", "SELECT run_name, params FROM browse_runs"]
    )
    assert rows.exit_code == 0, rows.output
    assert "r1" in rows.output and "lr=0.1" in rows.output
    for bad in ("DELETE FROM runs", "SELECT 1; DELETE FROM runs"):
        refused = CliRunner().invoke(cli, ["--store", str(store_file), "sql", bad])
        assert refused.exit_code == 2 and "read-only statement" in refused.output
    assert len(store.list_runs()) == 1


def test_translation_of_sqlite_idioms() -> None:
    from mlops_jupyter.store.pgsql import Translator

    t = Translator()
    t.set_schema({"metric_origins": ("run_id", "key")}, frozenset({"executions"}))
    assert t.dml("INSERT OR IGNORE INTO x (a) VALUES (?)").sql == (
        "INSERT INTO x (a) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    upsert = t.dml("INSERT OR REPLACE INTO metric_origins (run_id, key, producer) VALUES (?, ?, ?)")
    assert "ON CONFLICT (run_id, key) DO UPDATE SET producer = EXCLUDED.producer" in upsert.sql
    assert t.dml("INSERT INTO executions (code) VALUES (?)").returns_id
    q = t.dml(
        "SELECT '50%', user FROM runs WHERE a IS NOT ? AND id IN (SELECT value FROM json_each(:ids))"
    )
    assert q.sql == (
        "SELECT '50%%', \"user\" FROM runs WHERE a IS DISTINCT FROM %s AND id IN (SELECT value "
        "FROM jsonb_array_elements_text((%(ids)s)::jsonb) AS json_each(value))"
    )
    assert t.dml("SELECT COUNT(*) FROM (SELECT 1 UNION SELECT 2)").sql.endswith("AS _sq0")
    trigger = t.ddl(
        "CREATE TRIGGER no_edit BEFORE UPDATE ON t BEGIN SELECT RAISE(ABORT, 'append-only'); END"
    )
    assert "RAISE EXCEPTION 'append-only'" in trigger[0] and "BEFORE UPDATE ON t" in trigger[1]


def test_facts_a_run_learns_after_a_push_follow_on_the_next(pg_server: Any, tmp_path: Path) -> None:
    """Capture adds a run's environment and git state in the background: a push taken before
    they were written copies the run without them, and the next push adds them."""
    team_url = pg_server.store_url()
    local = open_store(tmp_path / "lineage.db", shared=False)
    run = local.create_run("exp")["id"]
    local.end_run(run)
    assert mj_push(local.location, team_url).exit_code == 0
    env_id = local.record_environment("3.11.7", "linux", {"numpy": "2.0"})
    local.set_run_facts(run, environment_id=env_id, git_commit="abc123", git_dirty=False)
    later = mj_push(local.location, team_url)
    assert later.exit_code == 0 and "1 environments" in later.output
    assert "updated 1 runs" in later.output, later.output
    team = open_store(team_url, shared=False)
    copied = team.get_run(run)
    assert (copied["environment_id"], copied["git_commit"]) == (env_id, "abc123")
    assert "nothing new" in mj_push(local.location, team_url).output
    for s in (local, team):
        s.close()
    pg_server.drop(team_url)


def test_a_write_group_that_catches_a_failed_statement_is_not_lost_silently(
    store_location: Any, backend: str
) -> None:
    """SQLite undoes a failed statement alone; PostgreSQL aborts the whole transaction and would
    turn its COMMIT into a silent ROLLBACK: the group must then hear of it, the others kept."""
    import threading

    store = open_store(store_location, shared=False)
    errors: dict[str, BaseException] = {}

    def group(name: str, swallow: bool = False, hold: threading.Event | None = None) -> Any:
        def job(st: Any) -> None:
            if hold is not None:
                hold.wait(10)
            st.conn.execute(
                "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, 't')", (name, name)
            )
            if swallow:  # as capture's own steps do: a failed extra is not the cell's failure
                with contextlib.suppress(Exception):
                    st.conn.execute("INSERT INTO no_such_table VALUES (1)")

        return job, lambda exc: errors.__setitem__(name, exc)

    store.write_later(*group("alone", swallow=True))
    store.wait_for_writes()
    hold = threading.Event()
    store.write_later(*group("first", hold=hold))
    for name, swallow in (("good-1", False), ("swallowed", True), ("good-2", False)):
        store.write_later(*group(name, swallow=swallow))  # one transaction, behind "first"
    hold.set()
    store.wait_for_writes()
    names = {r["name"] for r in store.query("SELECT name FROM experiments")}
    if backend == "sqlite":
        assert names == {"alone", "first", "good-1", "swallowed", "good-2"} and not errors
    else:
        assert names == {"first", "good-1", "good-2"}
        assert set(errors) == {"alone", "swallowed"}
    store.close()
