"""Expectation suites (data tests) and the results of checking dataset versions (issue #16).

- ``expectation_suites``: one row per version of a suite; a suite is named after the dataset
  name it tests. Rows are never changed: every edit (draft, set, drop, accept) adds the next
  version, and its audit record goes into the registry's hash-chained trail.
- ``dataset_checks``: one row per check of a dataset content against a suite version: the
  verdict, counts and the per-rule outcome with examples (JSON).

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidInput, NotFound
from .base import Migrations, SqlDb, StoreBase, dumps, loads, utcnow
from .present import has_table

migrations = Migrations("mlops_jupyter.expectations")


@migrations()
def m001_create_suites_and_checks(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE expectation_suites (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,               -- the dataset name it tests
            version INTEGER NOT NULL,
            status TEXT NOT NULL,             -- draft | accepted
            rules TEXT NOT NULL,              -- JSON list of rule dicts
            change TEXT NOT NULL,             -- draft | set | drop | accept | redraft
            based_on TEXT,                    -- fingerprint of the profile it was drafted from
            created_by TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (name, version)
        );
        CREATE TABLE dataset_checks (
            id INTEGER PRIMARY KEY,
            fingerprint TEXT NOT NULL,        -- the content checked
            name TEXT,                        -- dataset name and version, when recorded
            version INTEGER,
            suite TEXT NOT NULL,
            suite_version INTEGER NOT NULL,
            passed INTEGER NOT NULL,
            n_rows INTEGER,
            n_rules INTEGER NOT NULL,
            n_failed_rules INTEGER NOT NULL,
            n_failed_rows INTEGER NOT NULL,   -- rows failing at least one row rule
            result TEXT NOT NULL,             -- JSON: per rule outcome and examples
            duration_s REAL,
            run_id TEXT,
            execution_id INTEGER,
            checked_at TEXT NOT NULL
        );
        CREATE INDEX idx_dataset_checks_fp ON dataset_checks(fingerprint, suite);
        CREATE INDEX idx_dataset_checks_execution ON dataset_checks(execution_id);
        CREATE INDEX idx_dataset_checks_name ON dataset_checks(name, version);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who wrote each suite version and check (#15: the team store records every writer)."""
    db.executescript(
        """
        ALTER TABLE expectation_suites ADD COLUMN actor TEXT;
        ALTER TABLE dataset_checks ADD COLUMN actor TEXT;
        """
    )


def _decode_suite(row: dict[str, Any]) -> dict[str, Any]:
    row["rules"] = loads(row["rules"])
    return row


def _decode_check(row: dict[str, Any]) -> dict[str, Any]:
    row["result"] = loads(row["result"])
    row["passed"] = bool(row["passed"])
    return row


class ExpectationsMixin(StoreBase):
    # -- suites ---------------------------------------------------------------------------

    def add_suite_version(
        self,
        name: str,
        rules: Sequence[Mapping[str, Any]],
        *,
        status: str,
        change: str,
        based_on: str | None = None,
        created_by: str | None = None,
        audit: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add the next version of suite ``name``; its audit record (``audit``: the fields of
        :meth:`append_audit` but ``from_version``/``to_version``) in the same transaction."""
        if status not in ("draft", "accepted"):
            raise InvalidInput(f"A suite is 'draft' or 'accepted', not {status!r}.")
        with self.write():
            last = self.conn.execute(
                "SELECT MAX(version) FROM expectation_suites WHERE name = ?", (name,)
            ).fetchone()[0]
            version = 1 if last is None else int(last) + 1
            self.conn.execute(
                """INSERT INTO expectation_suites (name, version, status, rules, change,
                   based_on, created_by, created_at, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                (
                    name,
                    version,
                    status,
                    dumps([dict(r) for r in rules]),
                    change,
                    based_on,
                    created_by,
                    utcnow(),
                ),
            )
            if audit is not None:
                append = getattr(self, "append_audit", None)
                if append is not None:
                    append({**audit, "from_version": last, "to_version": version})
        found = self.find_suite(name, version)
        assert found is not None
        return found

    def find_suite(self, name: str, version: int | None = None) -> dict[str, Any] | None:
        """A suite version (the latest when ``version`` is None), or None."""
        if not has_table(self, "expectation_suites"):  # an old store read as it is
            return None
        if version is None:
            row = self.query_one(
                "SELECT * FROM expectation_suites WHERE name = ? ORDER BY version DESC LIMIT 1",
                (name,),
            )
        else:
            row = self.query_one(
                "SELECT * FROM expectation_suites WHERE name = ? AND version = ?",
                (name, int(version)),
            )
        return None if row is None else _decode_suite(row)

    def get_suite(self, name: str, version: int | None = None) -> dict[str, Any]:
        row = self.find_suite(name, version)
        if row is None:
            which = f" version {version}" if version is not None else ""
            raise NotFound(
                f"No expectation suite {name!r}{which}. Draft one from the dataset's profile "
                f"with `%mlops expect {name}` (list suites with `%mlops expect`)."
            )
        return row

    def list_suites(self) -> list[dict[str, Any]]:
        """The latest version of every suite, by name."""
        if not has_table(self, "expectation_suites"):
            return []
        rows = self.query(
            """SELECT s.* FROM expectation_suites s
               JOIN (SELECT name, MAX(version) AS v FROM expectation_suites GROUP BY name) m
               ON m.name = s.name AND m.v = s.version ORDER BY s.name"""
        )
        return [_decode_suite(r) for r in rows]

    def suite_history(self, name: str) -> list[dict[str, Any]]:
        return [
            _decode_suite(r)
            for r in self.query(
                "SELECT * FROM expectation_suites WHERE name = ? ORDER BY version", (name,)
            )
        ]

    def suite_versions_now(self) -> dict[str, int]:
        """``{suite name: latest version}`` read without waiting for queued writes (capture
        asks this on the cell's thread; its own suites it knows already)."""
        with self._lock:
            try:
                rows = self.conn.execute(
                    "SELECT name, MAX(version) FROM expectation_suites GROUP BY name"
                ).fetchall()
            except sqlite3.OperationalError:  # an old store read without upgrading
                return {}
        return {str(n): int(v) for n, v in rows}

    # -- checks ---------------------------------------------------------------------------

    def record_check(
        self,
        *,
        fingerprint: str,
        name: str | None,
        version: int | None,
        suite: str,
        suite_version: int,
        passed: bool,
        n_rows: int | None,
        n_rules: int,
        n_failed_rules: int,
        n_failed_rows: int,
        result: Any,
        duration_s: float | None = None,
        run_id: str | None = None,
        execution_id: int | None = None,
    ) -> int:
        """Store a check's outcome. For data tagged ``pii`` (or derived from such data) the
        failing values shown as examples are left out: only counts are kept (#16)."""
        is_pii = getattr(self, "is_pii", None)
        if is_pii is not None and is_pii(fingerprint):
            result = _without_examples(result)
        with self.write():
            cur = self.conn.execute(
                """INSERT INTO dataset_checks (fingerprint, name, version, suite, suite_version,
                   passed, n_rows, n_rules, n_failed_rules, n_failed_rows, result, duration_s,
                   run_id, execution_id, checked_at, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    fingerprint,
                    name,
                    version,
                    suite,
                    int(suite_version),
                    int(bool(passed)),
                    n_rows,
                    int(n_rules),
                    int(n_failed_rules),
                    int(n_failed_rows),
                    dumps(result),
                    duration_s,
                    run_id,
                    execution_id,
                    utcnow(),
                ),
            )
            return int(cur.lastrowid or 0)

    def find_check(
        self, fingerprint: str, suite: str, suite_version: int | None = None
    ) -> dict[str, Any] | None:
        """The latest check of this content against ``suite`` (that version, when given)."""
        sql = "SELECT * FROM dataset_checks WHERE fingerprint = ? AND suite = ?"
        args: list[Any] = [fingerprint, suite]
        if suite_version is not None:
            sql += " AND suite_version = ?"
            args.append(int(suite_version))
        row = self.query_one(sql + " ORDER BY id DESC LIMIT 1", args)
        return None if row is None else _decode_check(row)

    def list_checks(
        self,
        *,
        name: str | None = None,
        execution_id: int | None = None,
        run_id: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        clauses, args = [], []
        for column, value in (("name", name), ("execution_id", execution_id), ("run_id", run_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = " WHERE " + " AND ".join(clauses) if clauses else ""
        rows = self.query(
            f"SELECT * FROM dataset_checks{where} ORDER BY id DESC LIMIT ?", [*args, int(limit)]
        )
        return [_decode_check(r) for r in rows]


def _without_examples(value: Any) -> Any:
    """``value`` (a check's JSON) with every ``examples`` list emptied."""
    if isinstance(value, dict):
        return {k: ([] if k == "examples" else _without_examples(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_examples(v) for v in value]
    return value
