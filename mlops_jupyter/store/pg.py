"""The team store's connection: PostgreSQL through psycopg 3, shaped like ``sqlite3``'s.

The store's mixins call ``conn.execute(sql, params)`` / ``executemany`` / ``in_transaction``
with SQLite-dialect SQL; :class:`PgConnection` translates each statement once
(:mod:`.pgsql`), binds values client-side (as SQLite's loose typing expects: a text literal
compares with any column) and raises ``sqlite3``'s exception classes, so the store's code and
its callers do not know which database answers.

- One schema per store (``?schema=NAME`` in the URL, default ``mlops_jupyter``), so a team
  database can hold several stores and nobody's tables collide with ours.
- Writes are serialised per store by a transaction-level advisory lock taken at ``BEGIN``
  (:meth:`PgConnection.begin`): what ``BEGIN IMMEDIATE`` gives SQLite. Read-modify-write
  steps (the next model version, the audit chain's next record, a dataset's next version) and
  the metric ids the runs table folds in by watermark stay correct with many writers. Readers
  never wait.
- Values: ``bool`` is written as 0/1 and NaN as NULL (as SQLite stores them); ``numeric``
  results (``SUM``, ``AVG``) read as int or float, booleans as 0/1.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ..errors import StoreError
from .pgsql import Translator, is_ddl, mask, split_script

DEFAULT_SCHEMA = "mlops_jupyter"
_BATCH = 1000  # rows per multi-row INSERT in executemany
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and displays)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(
        (parts.scheme, f"{quote(user)}:***@{host}{port}", parts.path, parts.query, "")
    )


def split_url(url: str) -> tuple[str, str]:
    """The libpq URL (our ``schema=`` option removed) and the store's schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = DEFAULT_SCHEMA
    rest = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            rest.append((key, value))
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(
            f"{schema!r} is not a usable schema name in {masked_url(url)}. Use letters, digits "
            "and underscores, e.g. ?schema=team_store."
        )
    scheme = "postgresql" if parts.scheme.lower() in ("postgres", "postgresql") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(rest), "")), schema.lower()


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "A PostgreSQL store needs psycopg 3, which is not installed. Install it with "
            "pip install 'mlops-jupyter[postgresql]', or point $MLOPS_JUPYTER_STORE at a file."
        ) from None
    return psycopg


def _connect_error(exc: Exception, url: str) -> StoreError:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = lines[-1] if lines else type(exc).__name__
    shown = masked_url(url)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return StoreError(
            f"The PostgreSQL server refused the credentials for {shown} ({detail}). Check the "
            "user and password in the URL (or ~/.pgpass, $PGPASSWORD)."
        )
    if "does not exist" in low and "database" in low:
        return StoreError(
            f"The database of {shown} does not exist ({detail}). Create it (createdb NAME) or "
            "fix the name in the URL."
        )
    if "invalid" in low and ("uri" in low or "option" in low or "dsn" in low or "port" in low):
        return StoreError(
            f"{shown} is not a valid PostgreSQL URL ({detail}). Write it as "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE."
        )
    return StoreError(
        f"Cannot reach the PostgreSQL store at {shown} ({detail}). Check that the server runs "
        "and the host and port are right, or point $MLOPS_JUPYTER_STORE at a file."
    )


def translate_error(exc: Exception) -> sqlite3.Error:
    """A psycopg error as the ``sqlite3`` exception the store's code expects."""
    psycopg = _import_psycopg()
    errors = psycopg.errors
    message = (getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)).strip()
    if isinstance(exc, errors.IntegrityError | errors.RaiseException):
        return sqlite3.IntegrityError(message)
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return sqlite3.OperationalError(f"attempt to write a readonly database ({message})")
    if isinstance(exc, errors.DataError):
        return sqlite3.DataError(message)
    if isinstance(exc, errors.UndefinedTable):
        return sqlite3.OperationalError(f"no such table ({message})")
    if isinstance(exc, errors.UndefinedColumn):
        return sqlite3.OperationalError(f"no such column ({message})")
    if isinstance(exc, psycopg.OperationalError | errors.ProgrammingError):
        return sqlite3.OperationalError(message)
    return sqlite3.DatabaseError(message)


def _param(value: Any) -> Any:
    if value is True or value is False:
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        return None  # SQLite stores NaN as NULL: both backends read the same
    return value


def _params(params: Any) -> Any:
    if params is None:
        return ()
    if isinstance(params, Mapping):
        return {k: _param(v) for k, v in params.items()}
    return tuple(_param(v) for v in params)


class _Result:
    """What ``execute`` returns: a cursor's rows, ``description``, ``rowcount``, ``lastrowid``."""

    __slots__ = ("_rows", "description", "lastrowid", "rowcount")

    def __init__(
        self,
        rows: list[tuple[Any, ...]],
        description: Any,
        rowcount: int,
        lastrowid: int | None = None,
    ) -> None:
        self._rows = rows
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())


def _loaders(conn: Any, psycopg: Any) -> None:
    from psycopg.adapt import Loader

    class NumberLoader(Loader):
        def load(self, data: Any) -> Any:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)

    class BoolLoader(Loader):
        def load(self, data: Any) -> Any:
            return 1 if bytes(data) == b"t" else 0

    conn.adapters.register_loader("numeric", NumberLoader)
    conn.adapters.register_loader("bool", BoolLoader)


class PgConnection:
    """A psycopg connection that takes the store's SQLite-dialect SQL (see module docstring)."""

    dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = False,
        actor: Callable[[], str] | None = None,
        lock: Any = None,
    ) -> None:
        self.url = url
        self.actor = actor
        # The store's own lock: a statement from one thread never lands inside the write
        # transaction another thread has open on this connection (sqlite3 has no such issue).
        self.lock = lock if lock is not None else threading.RLock()
        self.display = masked_url(url)
        self.readonly = readonly
        self.libpq_url, self.schema = split_url(url)
        self.translator = Translator()
        self.lock_key = f"mlops_jupyter:{self.schema}"
        self.raw = self._open()
        self.user = str(self._scalar("SELECT current_user"))
        self.refresh_schema()

    def _open(self) -> Any:
        psycopg = _import_psycopg()
        try:
            raw = psycopg.connect(
                self.libpq_url,
                autocommit=True,
                connect_timeout=10,
                application_name="mlops-jupyter",
                cursor_factory=psycopg.ClientCursor,
            )
        except psycopg.Error as exc:
            raise _connect_error(exc, self.url) from None
        except (ValueError, TypeError) as exc:
            raise _connect_error(exc, self.url) from None
        _loaders(raw, psycopg)
        with raw.cursor() as cur:
            cur.execute(f"SET search_path TO {self.schema}")
            cur.execute("SET client_min_messages TO warning")
            if self.readonly:
                cur.execute("SET default_transaction_read_only TO on")
        return raw

    # -- the sqlite3.Connection surface the store uses -------------------------------------

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        status = self.raw.info.transaction_status
        return status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
            TransactionStatus.ACTIVE,
        )

    @property
    def aborted(self) -> bool:
        """A statement of the open transaction failed: PostgreSQL refuses the rest of it and
        would turn its COMMIT into a ROLLBACK without an error (SQLite undoes that statement
        alone)."""
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status == TransactionStatus.INERROR)

    @property
    def broken(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def begin(self) -> None:
        """Open a write transaction holding the store's write lock until it ends."""
        self._run("BEGIN", ())
        actor = self.actor() if self.actor is not None else self.user
        self._run(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0)), "
            "set_config('mlops.actor', %s, true)",
            (self.lock_key, actor),
        )

    def execute(self, sql: str, params: Any = ()) -> _Result:
        head = sql.lstrip()[:12].upper()
        if head.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            word = head.split()[0]
            if word == "BEGIN":
                self.begin()
                return _Result([], None, -1)
            if word == "COMMIT" and self.aborted:
                self._run("ROLLBACK", ())
                raise sqlite3.OperationalError(
                    "a statement of the transaction failed, so PostgreSQL rolled it back"
                )
            return self._run(sql, ())
        if head.startswith("PRAGMA"):
            return self._pragma(sql)
        if is_ddl(sql):
            for statement in self._ddl(sql):
                self._run(statement.replace("%", "%%"), ())
            return _Result([], None, -1)
        stmt = self.translator.dml(sql)
        result = self._run(stmt.sql, _params(params))
        if stmt.returns_id:
            row = result.fetchone()
            result.lastrowid = None if row is None else int(row[0])
        return result

    def executemany(self, sql: str, seq: Iterable[Any]) -> _Result:
        rows = [_params(p) for p in seq]
        if not rows:
            return _Result([], None, 0)
        stmt = self.translator.dml(sql, want_id=False)
        batched = _multi_row(stmt.sql)
        if batched is not None and not isinstance(rows[0], dict) and "DO UPDATE" in stmt.sql:
            deduped = self._last_per_key(sql, batched[1], rows)
            if deduped is None:
                batched = None
            else:
                rows = deduped
        if batched is None or isinstance(rows[0], dict):
            try:
                with self.lock, self.raw.cursor() as cur:
                    cur.executemany(stmt.sql, rows)
                    return _Result([], None, cur.rowcount)
            except Exception as exc:
                raise self._error(exc) from None
        if len(rows) > 50 and " ON CONFLICT " not in stmt.sql:
            copied = self._copy(stmt.sql, batched, rows)
            if copied is not None:
                return copied
        # Many rows per statement, values bound server-side (dumped in C).
        psycopg = _import_psycopg()
        head, group, tail = batched
        total = 0
        try:
            with self.lock, psycopg.Cursor(self.raw) as cur:
                for start in range(0, len(rows), _BATCH):
                    chunk = rows[start : start + _BATCH]
                    text = head + ", ".join([group] * len(chunk)) + tail
                    cur.execute(text, [v for row in chunk for v in row])
                    total += max(cur.rowcount, 0)
        except Exception as exc:
            raise self._error(exc) from None
        return _Result([], None, total)

    def _copy(self, sql: str, batched: tuple[str, str, str], rows: list[Any]) -> _Result | None:
        """A plain bulk INSERT as one COPY (what a 100,000-point metric flush needs)."""
        m = re.match(r"\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)\s*VALUES\s*$", batched[0], re.I)
        if m is None or batched[2].strip():
            return None
        slots = _top_level_split(batched[1][1:-1])
        constants = [s for s in slots if s != "%s"]
        values: tuple[Any, ...] = ()
        if constants:
            values = self._run(f"SELECT {', '.join(constants)}", ()).fetchone() or ()
        order = []
        n_param = n_const = 0
        for slot in slots:
            if slot == "%s":
                order.append((0, n_param))
                n_param += 1
            else:
                order.append((1, n_const))
                n_const += 1
        try:
            copy_sql = f"COPY {m.group(1)} ({m.group(2)}) FROM STDIN"
            with self.lock, self.raw.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row([row[i] if k == 0 else values[i] for k, i in order])
        except Exception as exc:
            raise self._error(exc) from None
        return _Result([], None, len(rows))

    def _last_per_key(self, sql: str, group: str, rows: list[Any]) -> list[Any] | None:
        """An upsert's rows with one row per conflict key, the last (as SQLite's row-by-row
        INSERT OR REPLACE leaves it); None when the statement's shape is not understood."""
        m = re.match(r"\s*INSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)\s*\(([^)]*)\)", sql, re.IGNORECASE)
        conflict = re.search(r"ON\s+CONFLICT\s*\(([^)]*)\)", sql, re.IGNORECASE)
        if m is None:
            return None
        cols = [c.strip().strip('"').lower() for c in m.group(2).split(",")]
        if conflict is not None:
            keys = [c.strip().lower() for c in conflict.group(1).split(",")]
        else:
            keys = [k.lower() for k in self.translator.primary_keys.get(m.group(1).lower(), ())]
        slots = [v.strip() for v in group.strip("()").split(",")]
        if not keys or any(k not in cols for k in keys) or len(slots) != len(cols):
            return None
        positions = []
        for k in keys:
            i = cols.index(k)
            if slots[i] != "%s":
                return None
            positions.append(slots[: i + 1].count("%s") - 1)
        last: dict[tuple[Any, ...], Any] = {}
        for row in rows:
            last[tuple(row[p] for p in positions)] = row
        return list(last.values())

    def raw_query(self, sql: str) -> list[dict[str, Any]]:
        """A user's own PostgreSQL statement (not translated), rows as dicts."""
        with self.raw.cursor() as cur:
            cur.execute(sql.replace("%", "%%"), ())
            cols = [d.name for d in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def executescript(self, script: str) -> None:
        for statement in split_script(script):
            self.execute(statement)

    def close(self) -> None:
        self.raw.close()

    # -- internals --------------------------------------------------------------------------

    def _run(self, sql: str, params: Any) -> _Result:
        try:
            with self.lock, self.raw.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description is not None else []
                return _Result(list(rows), cur.description, cur.rowcount)
        except Exception as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> Exception:
        psycopg = _import_psycopg()
        if isinstance(exc, psycopg.Error):
            return translate_error(exc)
        return exc

    def _scalar(self, sql: str, params: Any = ()) -> Any:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    def _ddl(self, sql: str) -> list[str]:
        masked = " ".join(mask(sql)[0].split()).upper()
        m = re.match(r"DROP TRIGGER (IF EXISTS )?(\w+)", masked)
        if m:
            name = m.group(2).lower()
            table = self._scalar(
                """SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE t.tgname = %s AND n.nspname = %s""",
                (name, self.schema),
            )
            if table is None:
                return [] if m.group(1) else [f"DROP TRIGGER {name} ON no_such_table"]
            return [f"DROP TRIGGER {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}_fn()"]
        return self.translator.ddl(sql)

    def _pragma(self, sql: str) -> _Result:
        text = " ".join(sql.split()).lower()
        if text.startswith("pragma user_version"):
            if "=" in text:
                return _Result([], None, -1)  # the version is the count of applied migrations
            return _Result([(self.schema_version(),)], [("user_version",)], 1)
        m = re.match(r"pragma table_info\((\w+)\)", text)
        if m:
            rows = self._run(
                """SELECT ordinal_position - 1, column_name, data_type,
                          CASE is_nullable WHEN 'NO' THEN 1 ELSE 0 END, column_default, 0
                   FROM information_schema.columns WHERE table_schema = %s AND table_name = %s
                   ORDER BY ordinal_position""",
                (self.schema, m.group(1)),
            )
            return rows
        return _Result([], None, -1)  # journal, cache and foreign-key pragmas: SQLite's business

    # -- schema ----------------------------------------------------------------------------

    def schema_exists(self) -> bool:
        return bool(self._scalar("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)))

    def table_names(self) -> list[str]:
        rows = self._run(
            """SELECT table_name FROM information_schema.tables
               WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name""",
            (self.schema,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def view_names(self) -> list[str]:
        rows = self._run(
            """SELECT table_name FROM information_schema.views WHERE table_schema = %s
               ORDER BY table_name""",
            (self.schema,),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def schema_version(self) -> int:
        if "_sqlite_migrations" not in self.table_names():
            return 0
        return int(self._scalar("SELECT COUNT(*) FROM _sqlite_migrations") or 0)

    def refresh_schema(self) -> None:
        """Learn each table's primary key and which have an integer ``id`` (for lastrowid)."""
        keys: dict[str, list[str]] = {}
        for table, column in self._run(
            """SELECT tc.table_name, kcu.column_name
               FROM information_schema.table_constraints tc
               JOIN information_schema.key_column_usage kcu
                 ON kcu.constraint_name = tc.constraint_name
                AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name
               WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY'
               ORDER BY tc.table_name, kcu.ordinal_position""",
            (self.schema,),
        ).fetchall():
            keys.setdefault(str(table), []).append(str(column))
        ids = frozenset(
            str(r[0])
            for r in self._run(
                """SELECT table_name FROM information_schema.columns
                   WHERE table_schema = %s AND column_name = 'id' AND is_identity = 'YES'""",
                (self.schema,),
            ).fetchall()
        )
        self.translator.set_schema({t: tuple(c) for t, c in keys.items()}, ids)

    def create_schema(self) -> None:
        self._run(f"CREATE SCHEMA IF NOT EXISTS {self.schema}", ())

    def lock_migrations(self) -> None:
        """Inside a transaction: wait for, then hold, the store's migration lock."""
        self._run(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"mlops_jupyter:migrate:{self.schema}",),
        )

    def sync_identities(self) -> None:
        """Move each identity column's sequence past the largest id (after explicit ids)."""
        for table in sorted(self.translator.id_tables):
            self._run(
                f"""SELECT setval(pg_get_serial_sequence('{self.schema}.{table}', 'id'),
                       GREATEST(COALESCE((SELECT MAX(id) FROM {table}), 0), 1),
                       (SELECT MAX(id) FROM {table}) IS NOT NULL)""",
                (),
            )


def _top_level_split(text: str) -> list[str]:
    """``a, f(b, c), 'x,y'`` -> ``['a', 'f(b, c)', "'x,y'"]``."""
    parts: list[str] = []
    depth = 0
    quote = False
    buf = ""
    for ch in text:
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and ch == ",":
            parts.append(buf.strip())
            buf = ""
            continue
        buf += ch
    parts.append(buf.strip())
    return parts


def _multi_row(sql: str) -> tuple[str, str, str] | None:
    """``INSERT ... VALUES (...) [ON CONFLICT DO NOTHING]`` split around its one row."""
    upper = sql.upper()
    if "DO UPDATE" in upper or not sql.lstrip().upper().startswith("INSERT"):
        return None
    m = re.search(r"\bVALUES\s*\(", sql, re.IGNORECASE)
    if m is None:
        return None
    start = m.end() - 1
    from .pgsql import _paren_end

    end = _paren_end(sql, start)
    if "SELECT" in upper[start:end]:
        return None
    return sql[:start], sql[start:end], sql[end:]


def open_connection(
    url: str,
    *,
    readonly: bool = False,
    actor: Callable[[], str] | None = None,
    lock: Any = None,
) -> PgConnection:
    return PgConnection(url, readonly=readonly, actor=actor, lock=lock)


__all__ = ["DEFAULT_SCHEMA", "PgConnection", "masked_url", "open_connection", "split_url"]
