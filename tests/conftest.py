"""Shared fixtures: a real store in tmp_path, a real IPython shell, real notebooks.

Every test that uses ``workdir`` (and so ``store_file``, ``store``, ``shell``) runs twice: on an
SQLite file and on a real PostgreSQL server started for the session (:mod:`tests.pgserver`),
each test in a fresh schema. Mark a test ``sqlite_only`` when it is about the file itself
(deleted, replaced, read-only folder, WAL), and say why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_notebooks"


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ("sqlite",) if only else BACKENDS, scope="function")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real PostgreSQL server for the whole session (see tests/pgserver.py)."""
    from tests import pgserver

    server = pgserver.start()
    yield server
    server.stop()


@pytest.fixture
def store_location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Where this test's store lives: a file in tmp_path, or a fresh schema on the server."""
    if backend == "sqlite":
        yield tmp_path / ".mlops" / "lineage.db"
        return
    server = request.getfixturevalue("pg_server")
    url = server.store_url()
    yield url
    from mlops_jupyter.capture import artifacts
    from mlops_jupyter.store import close_all

    artifacts.flush(timeout=30)  # model files still being written reopen the store
    close_all()
    server.drop(url)


@pytest.fixture
def workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: Any, backend: str
) -> Iterator[Path]:
    """A working directory in tmp_path with ``$MLOPS_JUPYTER_STORE`` naming this test's store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLOPS_JUPYTER_STORE", str(store_location))
    if backend != "sqlite":  # the team store's large artifacts: a shared folder
        monkeypatch.setenv("MLOPS_JUPYTER_ARTIFACTS", str(tmp_path / "shared-artifacts"))
    yield tmp_path
    from mlops_jupyter.store import close_all

    close_all()


@pytest.fixture
def store_file(workdir: Path, store_location: Any) -> Any:
    """The store's location: a Path (SQLite) or a ``postgresql://`` URL."""
    return store_location


@pytest.fixture
def store(store_file: Path) -> Any:
    """The store the workdir's kernel would use, opened fresh (not shared)."""
    from mlops_jupyter.store import open_store

    s = open_store(store_file, shared=False)
    yield s
    s.close()


@pytest.fixture
def shell(workdir: Path) -> Iterator[Any]:
    """A real ``InteractiveShell`` with ``%load_ext mlops_jupyter`` run, history on."""
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance(history_length=1000)
    sh.run_line_magic("load_ext", "mlops_jupyter")
    yield sh
    try:
        sh.run_line_magic("unload_ext", "mlops_jupyter")
    finally:
        sh.history_manager.end_session()
        InteractiveShell.clear_instance()


@pytest.fixture
def fresh_session(workdir: Path) -> Iterator[None]:
    """A new capture session (its own run) before and after the test."""
    from mlops_jupyter.capture import session as session_mod

    session_mod.reset_session()
    yield
    session_mod.reset_session()


def run(shell: Any, code: str, *, check: bool = True) -> Any:
    """Run one cell like a notebook would (store_history=True) and return the ExecutionResult."""
    result = shell.run_cell(code, store_history=True)
    if check and not result.success:
        raise AssertionError(f"cell failed: {result.error_in_exec or result.error_before_exec}")
    return result


def execute_notebook(
    path: Path, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300
) -> Any:
    """Execute a notebook with nbclient in ``cwd`` (a fresh kernel) and return it."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    old = dict(os.environ)
    os.environ.update(env or {})
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(cwd)}},
            store_widget_state=True,
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def overwrite_artifact(store: Any, digest: str, data: bytes) -> None:
    """Tamper with a stored artifact where it lives: its file, or its row in the team store."""
    if store.dialect == "sqlite":
        store.artifact_path(digest).write_bytes(data)
        return
    with store.write():
        store.conn.execute("UPDATE artifact_blobs SET data = ? WHERE hash = ?", (data, digest))


def remove_artifact(store: Any, digest: str) -> None:
    """Lose a stored artifact (a deleted file, a row gone from the team store)."""
    if store.dialect == "sqlite":
        store.artifact_path(digest).unlink()
        return
    with store.write():
        store.conn.execute("DELETE FROM artifact_blobs WHERE hash = ?", (digest,))


def store_exists(location: Any) -> bool:
    """Whether a store was created at ``location`` (a file, or a schema on the server)."""
    if not str(location).startswith("postgresql://"):
        return Path(location).exists()
    import psycopg

    from mlops_jupyter.store.pg import split_url

    libpq, schema = split_url(str(location))
    with psycopg.connect(libpq, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None


def dump_store(location: Any) -> str:
    """Every row of every table of a store as text (to search it for what must not be there)."""
    if not str(location).startswith("postgresql://"):
        import sqlite3

        conn = sqlite3.connect(location)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    from mlops_jupyter.store import open_store

    store = open_store(location, shared=False, readonly=True)
    try:
        lines = []
        for table in store.table_names():
            for row in store.conn.execute(f"SELECT * FROM {table}").fetchall():
                lines.append(f"{table}: {row!r}")
        return "\n".join(lines)
    finally:
        store.close()


class WriteLock:
    """Another writer holding the store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
    store's advisory lock) until :meth:`release`."""

    def __init__(self, location: Any) -> None:
        self.location = str(location)
        if not self.location.startswith("postgresql://"):
            import sqlite3

            self.conn: Any = sqlite3.connect(
                self.location, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("BEGIN IMMEDIATE")
            return
        import psycopg

        from mlops_jupyter.store.pg import split_url

        libpq, schema = split_url(self.location)
        self.conn = psycopg.connect(libpq, autocommit=True)
        self.conn.execute("BEGIN")
        self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"mlops_jupyter:{schema}",)
        )

    def release(self) -> None:
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()
