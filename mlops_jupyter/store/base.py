"""The connection, transactions and schema upgrades shared by every part of the store.

Concurrency rules (several kernels, headless runs and the Jupyter server share one file):

- WAL journal, ``synchronous=NORMAL``, a 30 s busy timeout.
- The connection is in autocommit mode; every write group goes through :meth:`StoreBase.write`,
  which opens ``BEGIN IMMEDIATE`` so the write lock is taken up front and waits on the busy
  timeout instead of failing with "database is locked" on a read-to-write upgrade.
- Schema upgrades run inside one ``BEGIN IMMEDIATE`` transaction, so two processes opening a
  brand-new store at once serialise: the second finds nothing pending.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from ..errors import StoreError, StoreVersionError

BUSY_TIMEOUT_S = 30.0


def utcnow() -> str:
    """ISO-8601 UTC timestamp with microseconds, sortable as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """A short random id: unique across processes without coordination."""
    return uuid.uuid4().hex[:12]


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"), allow_nan=True)


def loads(text: str | None) -> Any:
    if text is None:
        return None
    return json.loads(text)


class StoreBase:
    """Owns the SQLite connection. Subclass mixins add the queries for each area."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.artifacts_dir = path.parent / "artifacts"
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the lineage store at {path}: {exc}. "
                "Check the path is writable, or point $MLOPS_JUPYTER_STORE at another file."
            ) from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn, execute_plugins=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"The lineage store at {path} cannot use WAL mode (got {mode!r}). "
                    "Put the store on a local disk, not a network share."
                )
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{path} is not a readable mlops-jupyter store ({exc}). "
                "Point $MLOPS_JUPYTER_STORE at another file, or move this one away."
            ) from None

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction, taken with ``BEGIN IMMEDIATE``; nests as a savepoint."""
        with self._lock:
            if self.conn.in_transaction:
                with self.db.atomic():
                    yield self.db
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows as dicts. Values are always bound, never formatted into ``sql``."""
        with self._lock:
            cur = self.conn.execute(sql, params)
            cols = [d[0] for d in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        from .schema import MIGRATION_SETS, expected_version

        target = expected_version()
        current = self.schema_version
        if current == target:
            return
        if current > target:
            raise StoreVersionError(
                f"The lineage store at {self.path} has schema version {current}, newer than this "
                f"mlops-jupyter understands ({target}). Upgrade mlops-jupyter: "
                "pip install -U mlops-jupyter."
            )
        with self.write():
            # Re-read under the write lock: another process may have just migrated.
            if self.schema_version >= target:
                return
            for migrations in MIGRATION_SETS:
                migrations.apply(self.db)
            self.conn.execute(f"PRAGMA user_version = {int(target)}")

    def table_names(self) -> list[str]:
        return self.db.table_names()
