"""The connection, transactions and schema upgrades shared by every part of the store.

Concurrency rules (several kernels, headless runs and the Jupyter server share one file):

- WAL journal, ``synchronous=NORMAL``, a 30 s busy timeout.
- The connection is in autocommit mode; every write group goes through :meth:`StoreBase.write`,
  which opens ``BEGIN IMMEDIATE`` so the write lock is taken up front and waits on the busy
  timeout instead of failing with "database is locked" on a read-to-write upgrade.
- Schema upgrades run inside one ``BEGIN IMMEDIATE`` transaction, so two processes opening a
  brand-new store at once serialise: the second finds nothing pending.
- :meth:`StoreBase.write_later` hands a write group to the store's writer thread, which
  commits what is queued (each group a savepoint of one transaction) as soon as it runs:
  capture's per-cell writes, so a cell never waits for the disk (nor wakes IPython's history
  thread into an fsync per cell). Every read or write through the same store object first
  waits for those queued groups, so the process always reads its own writes.

Opening a store must stay cheap (``%load_ext`` then ``x = 1`` is timed and checked): the
``sqlite_utils`` package imports ``click`` and ``pandas`` when imported, so this module does not
import it. :class:`Migrations` is a dependency-free twin of ``sqlite_utils.Migrations`` (same
decorator, same ``_sqlite_migrations`` bookkeeping table) and migration functions receive a
:class:`SqlDb`, which runs ``executescript`` statement by statement inside the open transaction
(``sqlite3``'s own ``executescript`` would COMMIT it) and hands any other attribute to a real
``sqlite_utils.Database`` on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import queue
import sqlite3
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import configured_actor, os_user
from ..errors import StoreError, StoreVersionError, StoreWriteError


def utcnow() -> str:
    """ISO-8601 UTC timestamp with microseconds, sortable as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """A short random id: unique across processes without coordination."""
    return uuid.uuid4().hex[:12]


def new_ids(n: int) -> list[str]:
    """``n`` ids like :func:`new_id` from one read of the OS's randomness (5,000 search
    candidates would otherwise cost 5,000 system calls)."""
    raw = os.urandom(6 * n).hex()
    return [raw[i * 12 : (i + 1) * 12] for i in range(n)]


# One encoder for every row (json.dumps with options builds a new one each call, most of the
# time of a short list's text; its encode() keeps no state between calls).
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), allow_nan=True)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def loads(text: str | None) -> Any:
    if text is None:
        return None
    return json.loads(text)


class SqlDb:
    """What migration functions receive: ``executescript`` / ``execute`` on the store's
    connection, inside its transaction; anything else goes to a lazily built
    ``sqlite_utils.Database`` over the same connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = getattr(conn, "dialect", "sqlite")
        self._full: Any = None

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(sql, params)

    def executescript(self, script: str) -> None:
        """Run each statement of ``script`` without committing the open transaction."""
        if self.dialect != "sqlite":
            self.conn.executescript(script)  # translated statement by statement (pgsql.py)
            return
        buf = ""
        for line in script.splitlines(keepends=True):
            buf += line
            if sqlite3.complete_statement(buf):
                if buf.strip():
                    self.conn.execute(buf)
                buf = ""
        if buf.strip() and not all(
            ln.strip().startswith("--") or not ln.strip() for ln in buf.splitlines()
        ):
            self.conn.execute(buf)

    def table_names(self) -> list[str]:
        if self.dialect != "sqlite":
            return list(self.conn.table_names())
        rows = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
        return [r[0] for r in rows]

    @property
    def full(self) -> Any:
        """A real ``sqlite_utils.Database`` on the same connection (imports sqlite_utils)."""
        if self.dialect != "sqlite":
            raise StoreError(
                "This migration uses sqlite-utils, which only works on a file store. Write it "
                "as portable SQL (db.executescript) so it runs on PostgreSQL too."
            )
        if self._full is None:
            import sqlite_utils

            self._full = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._full

    def __getitem__(self, name: str) -> Any:
        return self.full[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.full, name)


class Migrations:
    """A named, ordered set of schema migrations (the ``sqlite_utils.Migrations`` interface).

    Decorate ``m00N_...(db)`` functions with ``@migrations()``; :meth:`apply` runs the pending
    ones in order and records each in ``_sqlite_migrations``. Never edit a released migration.
    """

    migrations_table = "_sqlite_migrations"

    @dataclasses.dataclass
    class _Migration:
        name: str
        fn: Callable[[Any], None]
        transactional: bool = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._migrations: list[Migrations._Migration] = []

    def __call__(
        self, *, name: str | None = None, transactional: bool = True
    ) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
        def inner(func: Callable[[Any], None]) -> Callable[[Any], None]:
            migration_name = name or func.__name__
            if any(m.name == migration_name for m in self._migrations):
                raise ValueError(
                    f"Migration '{migration_name}' is already registered in set '{self.name}'"
                )
            self._migrations.append(self._Migration(migration_name, func, transactional))
            return func

        return inner

    def applied(self, db: SqlDb) -> list[str]:
        if self.migrations_table not in db.table_names():
            return []
        rows = db.execute(
            f"SELECT name FROM {self.migrations_table} WHERE migration_set = ? ORDER BY id",
            (self.name,),
        ).fetchall()
        return [r[0] for r in rows]

    def pending(self, db: SqlDb) -> list[Migrations._Migration]:
        done = set(self.applied(db))
        return [m for m in self._migrations if m.name not in done]

    def apply(self, db: SqlDb) -> None:
        """Run pending migrations; call inside the store's write transaction."""
        db.executescript(
            f"""CREATE TABLE IF NOT EXISTS {self.migrations_table} (
                id INTEGER PRIMARY KEY, migration_set TEXT, name TEXT, applied_at TEXT);
            CREATE UNIQUE INDEX IF NOT EXISTS idx_sqlite_migrations_set_name
                ON {self.migrations_table} (migration_set, name);"""
        )
        for migration in self.pending(db):
            migration.fn(db)
            db.execute(
                f"INSERT INTO {self.migrations_table} (migration_set, name, applied_at) "
                "VALUES (?, ?, ?)",
                (self.name, migration.name, str(datetime.now(UTC))),
            )

    def __repr__(self) -> str:
        return f"<Migrations {self.name!r}: [{', '.join(m.name for m in self._migrations)}]>"


def _artifact_root() -> Path | None:
    from ..config import artifacts_root

    return artifacts_root()


class StoreReplacedWarning(UserWarning):
    """The store file was deleted or replaced while open; the store was reopened."""


_replaced_warned: set[tuple[str, Any]] = set()


def warn_replaced(message: str, stacklevel: int = 2) -> None:
    """A :class:`StoreReplacedWarning`, shown even where warnings are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", StoreReplacedWarning)
        warnings.warn(message, StoreReplacedWarning, stacklevel=stacklevel)


class _Undo(Exception):
    """Rolls back a write group that failed alone in its transaction."""


class StoreBase:
    """Owns the connection. Subclass mixins add the queries for each area.

    ``location`` is an SQLite file's path or a ``postgresql://`` URL (the team store, see
    :mod:`.pg`); the mixins' SQL is the same for both. ``readonly`` stores never write, not
    even to upgrade the schema (see :mod:`.connect`).
    """

    LINGER_S = 0.05  # the writer's shortest time between two transactions (see _write_queued)

    def __init__(self, location: Path | str, *, readonly: bool = False) -> None:
        self.dialect = "postgresql" if isinstance(location, str) else "sqlite"
        self.location = str(location)  # what reopens this store (a path, or the URL)
        self.readonly = readonly
        if isinstance(location, str):
            from .pg import masked_url

            self.display = masked_url(location)  # never shows a password
            self.path: Path | None = None
            self._path_text = ""
            self.artifacts_dir: Path | None = _artifact_root()
        else:
            self.display = str(location)
            self.path = location
            self._path_text = str(location)  # os.stat on text: the per-transaction check ~1 us
            self.artifacts_dir = location.parent / "artifacts"
        self._lock = threading.RLock()
        self._savepoints = 0
        self.generation = 0  # bumped each time the file is reopened (see ensure_current)
        # Called (with the store) right after a reopen, on whichever thread noticed it, before
        # anything is written to the new file: a session puts its current run back there.
        self.reopen_hooks: list[Callable[[Any], None]] = []
        self.deferred_warnings: list[str] = []  # noticed on the writer thread, shown later
        # (None: the store was closed, the writer may end)
        self._jobs: queue.Queue[
            tuple[Callable[[Any], None], Callable[[BaseException], None]] | None
        ] = queue.Queue()
        self._pending = 0
        self._pending_cv = threading.Condition()
        self._hurry = threading.Event()  # someone waits for the queue: no lingering
        self._last_batch = 0.0  # when the writer last took a batch (time.monotonic)
        self._writer: threading.Thread | None = None
        self._exit_wait = False  # wait_for_writes registered to run at exit
        self.closed = False  # close() was called: the store is never opened again
        self._connect()

    @property
    def key(self) -> Path | str:
        """What identifies this store within a process: the file's path, or the URL."""
        return self.path if self.path is not None else self.location

    @property
    def local_dir(self) -> Path:
        """A folder for files derived from the store (bundles made by verify): beside the
        file, or ``./.mlops`` for a team store."""
        from ..config import DEFAULT_DIR

        if self.path is not None:
            return self.path.parent
        return Path.cwd() / DEFAULT_DIR

    @property
    def actor(self) -> str:
        """Who every write of this store is recorded as: ``$MLOPS_JUPYTER_ACTOR``, else the
        database user (team store) or the operating-system user (file store)."""
        configured = configured_actor()
        if configured:
            return configured
        return str(getattr(self.conn, "user", None) or os_user())

    def _connect(self) -> None:
        if self.dialect != "sqlite":
            from .pg import open_connection

            self.conn: Any = open_connection(
                self.location, readonly=self.readonly, actor=lambda: self.actor, lock=self._lock
            )
            self.db = SqlDb(self.conn)
            self._identity: Any = None
            try:
                self._migrate()
            except sqlite3.DatabaseError as exc:
                self.conn.close()
                raise StoreError(
                    f"{self.display} is not a usable mlops-jupyter store ({exc}). Check the "
                    "user may create tables in the database, or use another ?schema=NAME."
                ) from None
            except BaseException:
                self.conn.close()
                raise
            return
        from .connect import identity, open_reader, open_writer, translate

        path = Path(self.location)
        conn = open_reader(path) if self.readonly else open_writer(path)
        self.conn = conn
        self._bound_actor: str | None = None
        if not self.readonly:
            self._bind_actor()
        self.db = SqlDb(conn)
        self._identity = identity(path)
        try:
            self._migrate()
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise translate(exc, path) from None

    def _bind_actor(self) -> None:
        """The actor that the INSERTs read as ``(SELECT name FROM session.actor)``: a table of
        an in-memory database attached to the connection (PostgreSQL: the transaction's
        ``mlops.actor`` setting). Not a Python function: SQLite would call it from inside
        ``sqlite3_step`` with the GIL released, and a thread holding the GIL while it waits
        for the connection would deadlock with it (#18; found with gdb)."""
        from .connect import bind_actor

        actor = self.actor
        bind_actor(self.conn, actor)
        self._bound_actor = actor

    def _folder_gone(self) -> bool:
        """The store's whole folder was removed (a temporary folder cleaned up): warn once and
        keep the old connection rather than re-create a tree someone deleted on purpose."""
        assert self.path is not None
        if self.path.parent.is_dir():
            return False
        if (str(self.path), None) not in _replaced_warned:
            _replaced_warned.add((str(self.path), None))
            with warnings.catch_warnings():
                warnings.simplefilter("always", StoreReplacedWarning)
                warnings.warn(
                    f"The folder of the lineage store {self.path} was deleted while the store "
                    "was open; nothing more is recorded. Point $MLOPS_JUPYTER_STORE at a store "
                    "that exists, or restart the kernel.",
                    StoreReplacedWarning,
                    stacklevel=4,
                )
        return True

    def ensure_current(self) -> bool:
        """Reopen the file when it was deleted or replaced under this connection (which would
        keep using the old inode and lose everything after); warns once. True if reopened.

        A team store has no file: a connection the server dropped is opened again instead.
        A store :meth:`close` closed is never opened again (a thread still holding it would
        open a connection nobody closes)."""
        if self.closed:
            return False
        if self.dialect != "sqlite":
            return self._reconnect_if_broken()
        try:
            st = os.stat(self._path_text)
            now: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            now = None
        if now == self._identity or (now is None and (self.readonly or self._folder_gone())):
            return False
        with self._lock:
            if self.conn.in_transaction:
                return False
            from .connect import identity

            assert self.path is not None  # a file store (the team store returned above)
            if identity(self.path) == self._identity:  # another thread reopened it meanwhile
                return False
            # Empty our -wal first (into the old inode): SQLite finds the log by name, and a
            # new connection would replay the old file's pages onto the new one.
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.close()
            self._connect()
            self.generation += 1
            for hook in list(self.reopen_hooks):  # still under the lock: a session that sees
                try:  # the new generation waits for it before it decides anything
                    hook(self)
                except Exception as exc:  # the next write reports what is missing
                    self.deferred_warnings.append(f"Could not restore the run there ({exc}).")
        if (str(self.path), self._identity) not in _replaced_warned:
            _replaced_warned.add((str(self.path), self._identity))
            what = "replaced" if now is not None else "deleted (a new, empty one was created)"
            message = (
                f"The lineage store at {self.path} was {what} while it was open; it was "
                "reopened and what follows is recorded there. Keep the store file in place "
                "while kernels use it (restore the old one from a backup if needed)."
            )
            if threading.current_thread() is self._writer:
                self.deferred_warnings.append(message)  # a notebook shows it with a cell
            else:
                warn_replaced(message, stacklevel=4)
        return True

    def _reconnect_if_broken(self) -> bool:
        if not self.conn.broken:
            return False
        with self._lock:
            if self.conn.in_transaction and not self.conn.broken:
                return False
            with contextlib.suppress(Exception):
                self.conn.close()
            self._connect()
            self.generation += 1
        return True

    # -- writes in the background ---------------------------------------------------------

    def write_later(
        self, job: Callable[[Any], None], on_error: Callable[[BaseException], None]
    ) -> None:
        """Run ``job(store)`` as one write group on the writer thread, after those before it.

        ``on_error(exc)`` is called (on that thread) if the group could not be written; the
        group is then rolled back alone. Reads and writes through this object wait for the
        queue first (:meth:`wait_for_writes`).
        """
        with self._pending_cv:  # (the writer decides to stop under it too: see close)
            self._pending += 1
            if self._writer is None or not self._writer.is_alive():
                if not self._exit_wait:
                    self._exit_wait = True
                    atexit.register(self.wait_for_writes)
                self._writer = threading.Thread(
                    target=self._write_queued, name="mlops-store-writer", daemon=True
                )
                self._writer.start()
            self._jobs.put((job, on_error))

    def wait_for_writes(self, timeout: float | None = None) -> None:
        """Block until every :meth:`write_later` group so far is committed (or failed), or
        ``timeout`` seconds passed."""
        if not self._pending or threading.current_thread() is self._writer:
            return
        if self._lock._is_owned():  # type: ignore[attr-defined]  # inside our own transaction
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._pending_cv:
            while self._pending:
                left = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
                if left <= 0:
                    return
                self._hurry.set()  # (cleared by the writer, under this lock, once none pends)
                self._pending_cv.wait(left)

    def _write_queued(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:  # the store was closed: end, unless a job came after it
                with self._pending_cv:
                    if self._jobs.empty():
                        self._writer = None  # a job queued from now on starts a new writer
                        return
                continue
            batch = [first]
            # Group commit when cells come back to back: at most one transaction every
            # LINGER_S, so the writer takes the GIL from the cells (and lets IPython's history
            # thread into a commit) once per batch, not once per cell. A job after a pause
            # is written at once; anyone waiting for the queue ends the wait (_hurry).
            since = time.monotonic() - self._last_batch
            if since < self.LINGER_S:
                self._hurry.wait(self.LINGER_S - since)
            self._last_batch = time.monotonic()
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:  # (a close() with jobs queued after it: keep writing)
                    batch.append(job)
            try:
                self._write_batch(batch)
            finally:
                with self._pending_cv:
                    self._pending -= len(batch)
                    if not self._pending:
                        self._hurry.clear()
                    self._pending_cv.notify_all()
                # The jobs hold what their cells captured (a frame, a model): not kept alive
                # until the next cell's job arrives.
                first = job = None
                batch.clear()

    def _write_batch(
        self, batch: list[tuple[Callable[[Any], None], Callable[[BaseException], None]]]
    ) -> None:
        failed: list[tuple[Callable[[BaseException], None], BaseException]] = []
        alone = len(batch) == 1  # the transaction is the group: no savepoint (2 statements)
        try:
            with self.write():
                for job, on_error in batch:
                    try:
                        if alone:
                            job(self)
                        else:
                            with self.write():  # a savepoint: one failing group is undone alone
                                job(self)
                    except Exception as group_error:
                        failed.append((on_error, group_error))
                        if alone:
                            raise _Undo from None
        except _Undo:
            pass  # rolled back; the group's own error is reported
        except Exception as commit_error:  # the transaction itself (disk full, locked too long)
            failed = [(on_error, commit_error) for _job, on_error in batch]
        for report, error in failed:
            with contextlib.suppress(Exception):
                report(error)

    @contextlib.contextmanager
    def write(self) -> Iterator[SqlDb]:
        """One write transaction, taken with ``BEGIN IMMEDIATE``; nests as a savepoint."""
        self.wait_for_writes()
        with self._lock:
            if self.conn.in_transaction:
                self._savepoints += 1
                name = f"mlops_sp{self._savepoints}"
                self.conn.execute(f"SAVEPOINT {name}")
                try:
                    yield self.db
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute(f"ROLLBACK TO {name}")
                        self.conn.execute(f"RELEASE {name}")
                    raise
                else:
                    if getattr(self.conn, "aborted", False):  # PostgreSQL: a failure caught inside
                        self.conn.execute(f"ROLLBACK TO {name}")
                        self.conn.execute(f"RELEASE {name}")
                        raise sqlite3.OperationalError(
                            "a statement of this write failed inside it; its changes were undone"
                        )
                    self.conn.execute(f"RELEASE {name}")
                finally:
                    self._savepoints -= 1
                return
            self.ensure_current()  # one stat: a deleted or replaced file is reopened
            if self.dialect == "sqlite" and not self.readonly and self.actor != self._bound_actor:
                self._bind_actor()  # $MLOPS_JUPYTER_ACTOR changed
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
                else:
                    self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if isinstance(exc, StoreWriteError):
                    raise
                if self.dialect != "sqlite":
                    raise StoreWriteError(
                        f"Cannot write to the team store at {self.display} ({exc}); nothing of "
                        "this change was saved. Check the server is up and the user may write "
                        "there, or point $MLOPS_JUPYTER_STORE at a file."
                    ) from None
                raise StoreWriteError(
                    f"Cannot write to the lineage store at {self.path} ({exc}); nothing of this "
                    "change was saved. Free disk space or make the file writable, or point "
                    "$MLOPS_JUPYTER_STORE at another file."
                ) from None

    @contextlib.contextmanager
    def write_one(self) -> Iterator[SqlDb]:
        """:meth:`write` for a single statement: inside an open transaction it adds no savepoint
        (one statement is atomic on its own), which keeps the per-cell transaction short."""
        self.wait_for_writes()
        with self._lock:
            if self.conn.in_transaction:
                yield self.db
                return
            with self.write():
                yield self.db

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows as dicts. Values are always bound, never formatted into ``sql``."""
        self.wait_for_writes()
        with self._lock:
            cur = self.conn.execute(sql, params)
            cols = [d[0] for d in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        """Write what is queued, end the writer thread and close the connection. A write
        queued afterwards starts a writer again and fails like any use of a closed store."""
        self.wait_for_writes()
        with self._pending_cv:
            if self._writer is not None and self._writer.is_alive():
                self._jobs.put(None)
        with self._lock:
            self.closed = True
            self.conn.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        if self.dialect != "sqlite":
            return int(self.conn.schema_version())
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        from .schema import MIGRATION_SETS, expected_version

        target = expected_version()
        if self.dialect != "sqlite":
            self._check_server_store()
        current = self.schema_version
        if current == target or (self.readonly and current < target):
            return  # a reader never upgrades: what an older schema lacks reads as empty
        if current > target:
            raise StoreVersionError(
                f"The lineage store at {self.display} has schema version {current}, newer than "
                f"this mlops-jupyter understands ({target}). Upgrade mlops-jupyter: "
                "pip install -U mlops-jupyter."
            )
        try:
            with self.write():
                if self.dialect != "sqlite":
                    # Ten kernels starting together: one upgrades, the others wait here and
                    # then find nothing pending (DDL is transactional in PostgreSQL).
                    self.conn.lock_migrations()
                    self.conn.create_schema()
                # Re-read under the write lock: another process may have just migrated.
                if self.schema_version >= target:
                    return
                for migrations in MIGRATION_SETS:
                    migrations.apply(self.db)
                    if self.dialect != "sqlite":
                        self.conn.refresh_schema()
                self.conn.execute(f"PRAGMA user_version = {int(target)}")
        finally:
            if self.dialect != "sqlite":  # the tables as they are now (another process's too)
                self.conn.refresh_schema()

    def _check_server_store(self) -> None:
        """A reader needs the store to exist; nobody touches another application's schema."""
        if not self.conn.schema_exists():
            if self.readonly:
                raise StoreError(
                    f"No lineage store at {self.display} yet. Record a run there first, or "
                    "check the URL's database and ?schema=."
                )
            return
        tables = self.conn.table_names()
        if tables and "_sqlite_migrations" not in tables:
            shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"The schema {self.conn.schema!r} of {self.display} holds another "
                f"application's tables ({shown}); it was left untouched. Add ?schema=NAME to "
                "the URL to keep the store in a schema of its own."
            )

    def table_names(self) -> list[str]:
        return self.db.table_names()

    def change_marker(self) -> str:
        """Text that changes whenever any process commits a change to the store (team store:
        the newest ids and run ends; a file store's marker is its files' size and mtime)."""
        row = self.query_one(
            """SELECT (SELECT MAX(id) FROM executions) AS x, (SELECT MAX(id) FROM metrics) AS m,
                      (SELECT MAX(id) FROM lineage) AS l, (SELECT COUNT(*) FROM runs) AS r,
                      (SELECT MAX(ended_at) FROM runs) AS e, (SELECT COUNT(*) FROM params) AS p,
                      (SELECT COUNT(*) FROM datasets) AS d, (SELECT COUNT(*) FROM models) AS mo"""
        )
        return "/".join(str(v) for v in (row or {}).values())

    def applied_migrations(self, migration_set: str) -> list[str]:
        """Names of the migrations of ``migration_set`` this store has run, in order."""
        return Migrations(migration_set).applied(self.db)
