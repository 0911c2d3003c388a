"""The lineage store: schema, migrations, transactions, runs, params, metrics, datasets."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.errors import (
    DatasetNotFound,
    InvalidInput,
    RunNotFound,
    StoreError,
    StoreVersionError,
    StoreWriteError,
)
from mlops_jupyter.store import open_store
from mlops_jupyter.store.schema import expected_version


def test_new_store_has_schema_version(store, backend) -> None:
    assert store.schema_version == expected_version() > 0
    if backend == "sqlite":
        mode = store.conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    for table in ("runs", "executions", "params", "metrics", "datasets", "models", "lineage"):
        assert table in store.table_names()


def _pretend_newer(store, backend: str, extra: int) -> None:
    """Make the store look written by a newer mlops-jupyter (``extra`` more migrations)."""
    if backend == "sqlite":
        store.conn.execute(f"PRAGMA user_version = {expected_version() + extra}")
        return
    with store.write():  # the team store's version is the count of applied migrations
        for i in range(extra):
            store.conn.execute(
                "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                "VALUES ('future', ?, 'later')",
                (f"m{i:03d}_future",),
            )


def test_newer_store_is_refused(store_file: Path, backend: str) -> None:
    s = open_store(store_file, shared=False)
    _pretend_newer(s, backend, 5)
    s.close()
    with pytest.raises(StoreVersionError, match="Upgrade mlops-jupyter"):
        open_store(store_file, shared=False)


def test_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable mlops-jupyter store"):
        open_store(bad, shared=False)


@pytest.mark.sqlite_only  # the team store's twin: test_team_store.py
def test_old_store_is_upgraded_in_place(store_file: Path) -> None:
    """A store written when only the core migrations existed gains every area's tables."""
    from mlops_jupyter.store.base import SqlDb
    from mlops_jupyter.store.schema import core

    store_file.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(store_file, isolation_level=None)
    conn.execute("BEGIN")
    core.apply(SqlDb(conn))
    conn.execute(f"PRAGMA user_version = {len(core._migrations)}")
    conn.execute(
        "INSERT INTO experiments (id, name, created_at) VALUES ('e1', 'old-exp', '2024-01-01')"
    )
    conn.execute("COMMIT")
    old_tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()

    s = open_store(store_file, shared=False)
    assert s.schema_version == expected_version()
    assert set(s.table_names()) > old_tables  # the areas' tables were added
    assert s.get_experiment("old-exp")["id"] == "e1"  # data kept
    applied = s.query("SELECT migration_set, name FROM _sqlite_migrations")
    assert len(applied) == expected_version()
    s.close()


def test_a_foreign_sqlite_file_is_left_untouched(tmp_path: Path) -> None:
    app = tmp_path / "app.db"
    conn = sqlite3.connect(app)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    before = app.read_bytes()
    with pytest.raises(StoreError, match=r"another application \(tables: customers\)"):
        open_store(app, shared=False)
    assert app.read_bytes() == before  # no tables added, still in its own journal mode


@pytest.mark.sqlite_only  # a full disk as SQLite sees it; the team store's twin: test_team_store.py
def test_a_failed_write_is_one_store_error_and_keeps_nothing(store) -> None:
    from mlops_jupyter.errors import StoreWriteError

    run = store.create_run("exp", name="r")
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full, as SQLite sees it
    with pytest.raises(StoreWriteError, match="Free disk space") as info:
        store.log_metrics(run["id"], [("loss", float(i), i, None) for i in range(50_000)])
    assert "\n" not in str(info.value)
    assert isinstance(info.value, sqlite3.OperationalError)  # fallbacks on it keep working
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.metric_history(run["id"]) == []  # the whole write rolled back


def test_write_nests_and_rolls_back(store) -> None:
    with store.write():
        store.ensure_experiment("kept")
        with pytest.raises(ValueError), store.write():
            store.ensure_experiment("dropped")
            raise ValueError("boom")
    names = {e["name"] for e in store.list_experiments()}
    assert names == {"kept"}


def test_executescript_stays_inside_the_transaction(store) -> None:
    with pytest.raises(RuntimeError), store.write() as db:
        db.executescript("CREATE TABLE scratch (x INTEGER);\nINSERT INTO scratch VALUES (1);")
        raise RuntimeError("roll back")
    assert "scratch" not in store.table_names()


def test_runs_names_lookup_and_end(store) -> None:
    a = store.create_run("exp")
    b = store.create_run("exp", parent_run_id=a["id"], source="headless")
    assert (a["name"], b["name"]) == ("run-1", "run-2")
    assert store.get_run(b["id"][:6])["parent_run_id"] == a["id"]
    assert store.get_run("run-2")["source"] == "headless"
    store.end_run(a["id"], "failed")
    assert store.get_run(a["id"])["status"] == "failed"
    assert store.get_run(a["id"])["ended_at"] is not None
    with pytest.raises(RunNotFound, match="%mlops runs"):
        store.get_run("zzzz-nope")
    with pytest.raises(InvalidInput):
        store.end_run(a["id"], "exploded")


def test_params_metrics_and_runs_frame(store) -> None:
    run = store.create_run("exp")["id"]
    other = store.create_run("exp")["id"]
    store.log_params(run, {"lr": 0.1, "kind": "rf", "flag": True})
    store.log_params(run, {"lr": 0.2})  # last write wins
    store.log_metrics(
        run, [("loss", 1.0, 0, None), ("loss", 0.5, 1, None), ("auc", 0.9, None, None)]
    )
    store.log_params(other, {"lr": 0.3})
    assert store.get_params(run) == {"lr": 0.2, "kind": "rf", "flag": True}
    assert store.latest_metrics(run) == {"auc": 0.9, "loss": 0.5}
    assert [m["step"] for m in store.metric_history(run, "loss")] == [0, 1]
    frame = store.runs_frame("exp")
    assert list(frame["run_id"]) == [other, run]  # newest first
    row = frame.set_index("run_id").loc[run]
    assert row["params.lr"] == 0.2 and row["params.kind"] == "rf"
    assert row["metrics.loss"] == 0.5
    assert store.run_counts(run)["params"] == 3
    assert store.run_counts(run)["metrics"] == 2


def test_dataset_versions_follow_content(store) -> None:
    for fp in ("a" * 32, "a" * 32, "b" * 32):
        store.record_dataset_content(fp, kind="dataframe", n_rows=3, n_cols=2)
        store.record_dataset_version("train", fp)
    versions = store.list_datasets("train")
    assert [(v["version"], v["fingerprint"][0]) for v in versions] == [(1, "a"), (2, "b")]
    assert store.resolve_dataset("train@1")["fingerprint"] == "a" * 32
    assert store.resolve_dataset("train@latest")["version"] == 2
    assert store.resolve_dataset("bbbbbbbb")["name"] == "train"
    with pytest.raises(DatasetNotFound):
        store.resolve_dataset("test@1")


def test_artifacts_are_content_addressed(store) -> None:
    h1 = store.put_artifact(b"model bytes")
    h2 = store.put_artifact(b"model bytes")
    assert h1 == h2
    assert store.read_artifact(h1) == b"model bytes"
    if store.dialect == "sqlite":  # the team store keeps small artifacts in the database
        assert len(list(store.artifacts_dir.iterdir())) == 1
    assert store.query("SELECT COUNT(*) AS n FROM artifacts")[0]["n"] == 1


def test_environment_stored_once(store) -> None:
    a = store.record_environment("3.11.0", "linux", {"numpy": "2.0", "pandas": "3.0"})
    b = store.record_environment("3.11.0", "linux", {"pandas": "3.0", "numpy": "2.0"})
    c = store.record_environment("3.11.0", "linux", {"pandas": "3.1", "numpy": "2.0"})
    assert a == b != c
    assert store.get_environment(a)["packages"] == {"numpy": "2.0", "pandas": "3.0"}


def test_a_failing_write_group_is_undone_alone_and_reported_with_its_own_error(
    tmp_path: Path,
) -> None:
    import threading

    store = open_store(tmp_path / "s.db", shared=False)
    errors: dict[str, BaseException] = {}

    def group(name: str, fail: bool = False, hold: threading.Event | None = None):
        def job(st) -> None:
            if hold is not None:
                hold.wait(10)
            st.conn.execute(
                "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, 't')", (name, name)
            )
            if fail:
                st.conn.execute("INSERT INTO no_such_table VALUES (1)")

        return job, lambda exc: errors.__setitem__(name, exc)

    store.write_later(*group("alone-bad", fail=True))  # a group alone in its transaction
    store.wait_for_writes()
    hold = threading.Event()
    store.write_later(*group("first", hold=hold))  # the writer waits inside this one
    for name, fail in (("good-1", False), ("bad", True), ("good-2", False)):
        store.write_later(*group(name, fail=fail))  # queued meanwhile: one transaction
    hold.set()
    store.wait_for_writes()
    names = {r["name"] for r in store.query("SELECT name FROM experiments")}
    assert names == {"first", "good-1", "good-2"}
    assert set(errors) == {"alone-bad", "bad"}
    assert all(type(e) is sqlite3.OperationalError for e in errors.values())  # not "disk full"
    assert "no_such_table" in str(errors["alone-bad"])
    store.close()


def test_groups_queued_back_to_back_share_a_transaction_and_a_waiter_never_lingers(
    tmp_path: Path,
) -> None:
    import threading
    import time

    store = open_store(tmp_path / "s.db", shared=False)
    store.LINGER_S = 30.0  # far longer than any wait below: a lingering writer shows
    batches: list[int] = []
    write_batch = store._write_batch
    store._write_batch = lambda batch: (batches.append(len(batch)), write_batch(batch))[1]
    written = threading.Event()

    def group(name: str, done: threading.Event | None = None):
        def job(st) -> None:
            st.conn.execute(
                "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, 't')", (name, name)
            )
            if done is not None:
                done.set()

        return job, lambda exc: None

    # After a pause (no batch for LINGER_S) a group is written at once, nobody waiting.
    store._last_batch = time.monotonic() - 60
    store.write_later(*group("after-a-pause", written))
    assert written.wait(10), "a group after a pause waited for company"
    for i in range(10):  # back to back: held for one transaction ...
        store.write_later(*group(f"burst-{i}"))
        time.sleep(0.01)  # (the writer could take each one alone meanwhile)
    started = time.monotonic()
    store.wait_for_writes()  # ... which a reader's wait ends at once
    assert time.monotonic() - started < 10
    assert batches == [1, 10]
    other = sqlite3.connect(tmp_path / "s.db")
    assert other.execute("SELECT COUNT(*) FROM experiments").fetchone()[0] == 11
    other.close()
    store.write_later(*group("again"))  # a later wait ends a later linger too
    store.wait_for_writes()
    assert batches == [1, 10, 1]
    store.close()


@pytest.fixture
def pg_connections(backend: str, request: pytest.FixtureRequest) -> Any:
    """How many connections mlops-jupyter holds open on the test server (0 on SQLite)."""
    if backend == "sqlite":
        return lambda: 0
    import psycopg

    server = request.getfixturevalue("pg_server")

    def count() -> int:
        with psycopg.connect(server.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'mlops-jupyter'"
            ).fetchone()
        return int(row[0])

    return count


def test_a_closed_store_ends_its_writer_and_opens_no_connection_again(
    store_file: Any, backend: str, pg_connections: Any
) -> None:
    """A thread still holding a closed store (a data test, a model file) must not open a new
    connection: on a team store one nobody closes, which held locks a schema's DROP then
    deadlocked on. Its writer thread ends, and a write queued late is reported, not hung."""
    store = open_store(store_file, shared=False)
    run_id = store.create_run("exp")["id"]
    store.write_later(lambda st: st.end_run(run_id), lambda exc: None)
    writer = store._writer
    opened = pg_connections()
    store.close()
    assert writer is not None
    writer.join(10)
    assert not writer.is_alive(), "the closed store's writer thread is still running"
    with pytest.raises(Exception, match="closed"):
        store.query("SELECT 1")
    failures: list[BaseException] = []
    store.write_later(lambda st: st.end_run(run_id), failures.append)
    store.wait_for_writes(timeout=10)
    assert len(failures) == 1 and not store._pending
    assert pg_connections() == opened - (backend != "sqlite")
    reopened = open_store(store_file, shared=False)
    assert reopened.get_run(run_id)["status"] == "finished"  # the write before close() landed
    reopened.close()
    if backend == "sqlite":  # nor is a file deleted after close() made again
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store_file}{suffix}").unlink(missing_ok=True)
        store.write_later(lambda st: st.end_run(run_id), failures.append)
        store.wait_for_writes(timeout=10)
        assert len(failures) == 2 and not Path(store_file).exists()


def test_a_write_on_a_read_only_store_is_one_clear_error_each_time(tmp_path: Path) -> None:
    open_store(tmp_path / "s.db", shared=False).close()
    reader = open_store(tmp_path / "s.db", shared=False, readonly=True)
    for _ in range(2):  # the second time too (no half-made state from the first)
        with pytest.raises(StoreWriteError, match="Cannot write"):
            reader.create_run("exp")
    reader.close()
