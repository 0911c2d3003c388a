"""Dataset versions as a table, row snapshots, and stored dataset diffs (issue #5).

A diff between two stored versions is kept twice: a row in ``dataset_diffs`` holding its
summary, and a lineage edge ``dataset -diffed-> dataset`` between the two fingerprints.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Migrations, SqlDb, StoreBase, dumps, loads, utcnow

migrations = Migrations("mlops_jupyter.datadiff")


@migrations()
def m001_create_dataset_diffs(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE dataset_diffs (
            id INTEGER PRIMARY KEY,
            a_fingerprint TEXT NOT NULL,
            b_fingerprint TEXT NOT NULL,
            key TEXT NOT NULL DEFAULT '[]',   -- JSON list of key columns ([] = unkeyed)
            atol REAL NOT NULL DEFAULT 0,
            rtol REAL NOT NULL DEFAULT 0,
            summary TEXT NOT NULL,            -- JSON DatasetDiff.summary
            run_id TEXT REFERENCES runs(id),
            execution_id INTEGER REFERENCES executions(id),
            created_at TEXT NOT NULL,
            UNIQUE (a_fingerprint, b_fingerprint, key, atol, rtol)
        );
        CREATE INDEX idx_dataset_diffs_b ON dataset_diffs(b_fingerprint);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who wrote each row (the database user or $MLOPS_JUPYTER_ACTOR)."""
    db.executescript(
        """
        ALTER TABLE dataset_diffs ADD COLUMN actor TEXT;
        """
    )


class DatadiffMixin(StoreBase):
    def list_dataset_versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """Dataset versions with shape, snapshot and the execution (cell) that produced them."""
        sql = """SELECT d.name, d.version, c.n_rows, c.n_cols, d.fingerprint, d.created_at,
                 d.run_id, d.execution_id, x.execution_count, x.code, d.source_path,
                 c.snapshot_hash, c.kind
                 FROM datasets d JOIN dataset_contents c ON c.fingerprint = d.fingerprint
                 LEFT JOIN executions x ON x.id = d.execution_id"""
        if name is None:
            return self.query(sql + " ORDER BY d.name, d.version")
        return self.query(sql + " WHERE d.name = ? ORDER BY d.version", (name,))

    def find_dataset_by_fingerprint(self, fingerprint: str) -> dict[str, Any] | None:
        """The newest version holding this exact content, or ``None``."""
        row = self.query_one(
            """SELECT d.*, c.snapshot_hash, c.n_rows, c.n_cols FROM datasets d
               JOIN dataset_contents c ON c.fingerprint = d.fingerprint
               WHERE d.fingerprint = ? ORDER BY d.id DESC LIMIT 1""",
            (fingerprint,),
        )
        if row is None:
            content = self.query_one(
                "SELECT fingerprint, snapshot_hash, n_rows, n_cols FROM dataset_contents "
                "WHERE fingerprint = ?",
                (fingerprint,),
            )
            return None if content is None else {"name": None, "version": None, **content}
        return row

    def set_dataset_snapshot(self, fingerprint: str, snapshot_hash: str) -> None:
        """Point a stored content at the artifact holding its rows (parquet)."""
        with self.write():
            self.conn.execute(
                "UPDATE dataset_contents SET snapshot_hash = ? WHERE fingerprint = ?",
                (snapshot_hash, fingerprint),
            )

    def record_dataset_diff(
        self,
        a_fingerprint: str,
        b_fingerprint: str,
        *,
        key: list[str],
        atol: float,
        rtol: float,
        summary: Mapping[str, Any],
        run_id: str | None = None,
        execution_id: int | None = None,
    ) -> bool:
        """Store a diff once per (A, B, key, tolerances) with a lineage edge; True if new."""
        with self.write():
            cur = self.conn.execute(
                """INSERT OR IGNORE INTO dataset_diffs (a_fingerprint, b_fingerprint, key, atol,
                   rtol, summary, run_id, execution_id, created_at, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                (
                    a_fingerprint,
                    b_fingerprint,
                    dumps(list(key)),
                    float(atol),
                    float(rtol),
                    dumps(dict(summary)),
                    run_id,
                    execution_id,
                    utcnow(),
                ),
            )
            if cur.rowcount == 0:
                return False
            self.conn.execute(
                """INSERT INTO lineage (src_type, src_id, dst_type, dst_id, relation, run_id,
                   execution_id, created_at, actor) VALUES ('dataset', ?, 'dataset', ?, 'diffed', ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (a_fingerprint, b_fingerprint, run_id, execution_id, utcnow()),
            )
        return True

    def list_dataset_diffs(self, fingerprint: str | None = None) -> list[dict[str, Any]]:
        """Stored diffs, all or those touching one content fingerprint, oldest first."""
        if fingerprint is None:
            rows = self.query("SELECT * FROM dataset_diffs ORDER BY id")
        else:
            rows = self.query(
                "SELECT * FROM dataset_diffs WHERE a_fingerprint = ? OR b_fingerprint = ? "
                "ORDER BY id",
                (fingerprint, fingerprint),
            )
        for row in rows:
            row["key"] = loads(row["key"])
            row["summary"] = loads(row["summary"])
        return rows
