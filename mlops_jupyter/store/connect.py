"""Opening the SQLite file: for writing (created, WAL, upgraded by the caller) or for reading only.

- A writer creates the folder and the file, refuses a foreign SQLite file untouched, switches
  to WAL. The foreign check reads the schema version and the table list in ONE read
  transaction: two reads let a process see "version 0" before and "tables" after another
  process created the store, and refuse a brand-new store as another application's.
- A reader opens ``mode=ro`` and never migrates, so reading an old store writes nothing. In a
  folder it cannot write (no ``-shm`` file can be made), it opens the file ``immutable``:
  nothing can change it there anyway, short of its owner.
- :func:`identity` (device, inode) lets the store see that its file was deleted or replaced
  while open (the connection would keep writing into the old inode).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path
from urllib.parse import quote

from ..errors import StoreError

BUSY_TIMEOUT_S = 30.0


def identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False, uri=uri
    )
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def bind_actor(conn: sqlite3.Connection, actor: str) -> None:
    """Let ``(SELECT name FROM session.actor)`` give ``actor`` on this connection: a one-row
    table of an in-memory database, attached the first time with ``session.points`` too (metric
    points on their way into ``metrics``, :mod:`.points`)."""
    if not any(row[1] == "session" for row in conn.execute("PRAGMA database_list")):
        conn.execute("ATTACH DATABASE ':memory:' AS session")
    conn.execute("CREATE TABLE IF NOT EXISTS session.actor (name TEXT NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS session.points (key, value, step, t)")  # no affinity
    conn.execute("DELETE FROM session.actor")
    conn.execute("INSERT INTO session.actor VALUES (?)", (actor,))


def refuse_foreign(conn: sqlite3.Connection, path: Path) -> int:
    """The schema version; StoreError for an SQLite file of another application.

    Our migrations set ``user_version`` in the transaction that creates the tables, so a file
    with tables and ``user_version`` 0 was not made by mlops-jupyter. Both are read in one
    transaction, so a store being created by another process is seen either empty or done.
    """
    conn.execute("BEGIN")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 6"
            )
        ]
    finally:
        conn.execute("COMMIT")
    if version == 0 and tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"{path} is an SQLite database of another application (tables: {shown}); "
            "it was left untouched. Point $MLOPS_JUPYTER_STORE (or --store) at a new file."
        )
    return version


def _unwritable_folder(path: Path) -> StoreError | None:
    folder = path.parent
    if folder.is_dir() and not os.access(folder, os.W_OK):
        return StoreError(
            f"The folder {folder} is read-only, so the lineage store in it cannot be written. "
            "Read it with the read-only commands (mlops-jupyter runs, compare, models, audit), "
            "or copy it to a writable folder and point $MLOPS_JUPYTER_STORE at the copy."
        )
    return None


def open_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode (schema not upgraded yet: the store does that).

    Several processes opening a brand-new file at once can get "database is locked" here
    without SQLite's busy handler waiting the 30 s out (the suite's four-process test saw it
    once on a loaded machine; 80 rounds of ``bench/store_stress.py`` did not): the whole
    opening is tried again, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect(str(path))
        except (OSError, sqlite3.Error) as exc:
            raise _unwritable_folder(path) or StoreError(
                f"Cannot open the lineage store at {path}: {exc}. "
                "Check the path is writable, or point $MLOPS_JUPYTER_STORE at another file."
            ) from None
        try:
            _prepare_writer(conn, path)
            return conn
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not (is_busy(exc) and time.monotonic() < deadline):
                raise translate(exc, path) from None
        time.sleep(random.uniform(0.01, 0.05))  # (apart from the others trying too)


def _prepare_writer(conn: sqlite3.Connection, path: Path) -> None:
    refuse_foreign(conn, path)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(
            f"The lineage store at {path} cannot use WAL mode (got {mode!r}). "
            "Put the store on a local disk, not a network share."
        )
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -32768")  # 32 MB: big metric flushes stay in memory
    conn.execute("PRAGMA foreign_keys = ON")


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY and its extended codes ("database is locked")."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(exc)


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection that never writes, not even to upgrade the schema."""
    if not path.is_file():
        raise StoreError(
            f"No lineage store at {path}. Check --store or $MLOPS_JUPYTER_STORE, "
            "or run from the folder that holds .mlops/."
        )
    base = "file:" + quote(str(path.resolve()))
    last: sqlite3.Error | None = None
    for query in ("?mode=ro", "?mode=ro&immutable=1"):  # immutable: a folder we cannot write
        conn = None
        try:
            conn = _connect(base + query, uri=True)
            refuse_foreign(conn, path)
            conn.execute("PRAGMA query_only = ON")
            return conn
        except StoreError:
            if conn is not None:
                conn.close()
            raise
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            last = exc
    assert last is not None
    raise translate(last, path) from None


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    if is_busy(exc):
        return StoreError(
            f"The lineage store at {path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_S:g} s ({exc}). Let the other kernel or command finish, then try again."
        )
    if "readonly" in str(exc) or "read-only" in str(exc):
        return _unwritable_folder(path) or StoreError(
            f"The lineage store at {path} is read-only ({exc}). Copy it to a writable "
            "folder and point $MLOPS_JUPYTER_STORE (or --store) at the copy."
        )
    return StoreError(
        f"{path} is not a readable mlops-jupyter store ({exc}). "
        "Point $MLOPS_JUPYTER_STORE at another file, or move this one away."
    )
