"""Views that make a store pleasant to browse, and the read-only queries of ``mlops-jupyter sql``.

The ``browse_*`` views (migration ``mlops_jupyter.browse`` ``m001_create_views``) join what a
person wants to see on one row, exact at every read (no cache): open the file with Datasette
(``datasette .mlops/lineage.db``) or the sqlite-utils CLI
(``sqlite-utils rows .mlops/lineage.db browse_runs``), or query a team store's schema with
psql. On a file store, ``mlops-jupyter sql`` runs through sqlite-utils (``Database.query``,
``.tables`` / ``.views`` with their counts); on a team store through the read-only connection.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInput
from .base import Migrations, SqlDb, StoreBase
from .pgsql import mask

migrations = Migrations("mlops_jupyter.browse")


@migrations()
def m001_create_views(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE VIEW browse_runs AS
        SELECT r.id AS run_id, e.name AS experiment, r.name AS run_name, r.status,
               r.started_at, r.ended_at, r.parent_run_id, r.source, r.notebook_path,
               r.git_commit, r.user, r.host, r.actor,
               (SELECT group_concat(p.key || '=' || p.value, ', ') FROM params p
                 WHERE p.run_id = r.id) AS params,
               (SELECT group_concat(m.key || '=' || m.value, ', ') FROM metrics m
                 WHERE m.id IN (SELECT MAX(id) FROM metrics WHERE run_id = r.id GROUP BY key))
                 AS metrics
        FROM runs r JOIN experiments e ON e.id = r.experiment_id;
        CREATE VIEW browse_metrics AS
        SELECT e.name AS experiment, r.name AS run_name, m.run_id, m.key, m.step, m.value,
               m.logged_at, x.execution_count, m.actor
        FROM metrics m JOIN runs r ON r.id = m.run_id
        JOIN experiments e ON e.id = r.experiment_id
        LEFT JOIN executions x ON x.id = m.execution_id;
        CREATE VIEW browse_datasets AS
        SELECT d.name, d.version, c.kind, c.n_rows, c.n_cols, d.fingerprint, d.source_path,
               d.run_id, r.name AS run_name, d.created_at, d.actor
        FROM datasets d JOIN dataset_contents c ON c.fingerprint = d.fingerprint
        LEFT JOIN runs r ON r.id = d.run_id;
        CREATE VIEW browse_model_versions AS
        SELECT v.name, v.version, v.class_name, v.task, v.run_id, v.created_by, v.created_at,
               (SELECT group_concat(a.alias, ', ') FROM aliases a
                 WHERE a.name = v.name AND a.version = v.version) AS aliases,
               v.metrics, v.actor
        FROM model_versions v;
        CREATE VIEW browse_audit AS
        SELECT id, at, action, who, actor, name, from_version, to_version, alias, reason,
               forced
        FROM audit_records;
        """
    )


_READ = re.compile(r"^\s*(SELECT|WITH|VALUES|EXPLAIN|TABLE)\b", re.IGNORECASE)


def read_only_query(store: StoreBase, sql: str) -> list[dict[str, Any]]:
    """Rows of one read-only statement; ``tables`` lists the tables and views with counts."""
    if sql.strip().lower() == "tables":
        return list_tables(store)
    masked = mask(sql)[0].strip().rstrip(";")
    if ";" in masked or not _READ.match(masked):
        raise InvalidInput(
            "mlops-jupyter sql runs one read-only statement (SELECT, WITH, VALUES, EXPLAIN). "
            'Example: mlops-jupyter sql "SELECT * FROM browse_runs LIMIT 5".'
        )
    if store.dialect == "sqlite":
        import sqlite3

        import sqlite_utils

        try:
            return list(sqlite_utils.Database(store.conn, execute_plugins=False).query(sql))
        except sqlite3.Error as exc:
            raise InvalidInput(f"The query failed: {exc}. Check it against `mlops-jupyter sql tables`.") from None
    try:
        return store.conn.raw_query(sql)
    except Exception as exc:
        raise InvalidInput(
            f"The query failed: {str(exc).strip().splitlines()[0]}. The team store speaks "
            "PostgreSQL; check it against `mlops-jupyter sql tables`."
        ) from None


def list_tables(store: StoreBase) -> list[dict[str, Any]]:
    if store.dialect == "sqlite":
        import sqlite_utils

        db = sqlite_utils.Database(store.conn, execute_plugins=False)
        out = [{"name": t.name, "kind": "table", "rows": t.count} for t in db.tables]
        return out + [{"name": v.name, "kind": "view", "rows": v.count} for v in db.views]
    out = []
    for kind, names in (("table", store.conn.table_names()), ("view", store.conn.view_names())):
        for name in names:
            n = store.conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
            out.append({"name": name, "kind": kind, "rows": int(n)})
    return out
