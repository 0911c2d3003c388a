"""Monitoring: one row per batch a model's production holder was checked on, and the promotion
proposals the loop records (issue #17).

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.

Tables (migration ``m001_create_monitoring``):

- ``monitor_batches``: the history per model and batch: the batch's content fingerprint, the
  version that held the alias, drift (share and the saved report), data tests, the metrics on
  labels (when the batch had them) and the estimate without them, the triggers that fired,
  the status (``healthy``, ``action_needed``, ``retrained``, ``proposed``, ``promoted``) and
  the version a retrain registered.
- ``promotion_proposals``: a retrained version proposed for an alias, with its gate results and
  who may approve; ``open`` until approved (promoted), rejected, or superseded by a newer one.

Lineage edges written with a batch: ``dataset -monitored-> registered_model`` (the batch's
fingerprint) and, after a retrain, ``dataset -retrained-> model_version``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import NotFound
from .base import Migrations, SqlDb, StoreBase, dumps, loads, utcnow
from .present import has_table

migrations = Migrations("mlops_jupyter.monitor")


@migrations()
def m001_create_monitoring(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE monitor_batches (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            model_name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,          -- the alias's holder the batch was checked with
            batch_name TEXT NOT NULL,          -- file name or stored dataset ref
            batch_fingerprint TEXT NOT NULL,   -- content fingerprint of the batch's rows
            n_rows INTEGER NOT NULL,
            labelled INTEGER NOT NULL,
            drift_report_id TEXT,
            drift_share REAL,                  -- share of drifted feature columns
            drift_threshold REAL,
            drifted INTEGER,
            data_tests_passed INTEGER,         -- NULL: no suite
            data_tests TEXT,                   -- JSON summary {suite, n_rules, n_failed_rules, ...}
            metrics TEXT NOT NULL DEFAULT '{}',          -- JSON, on the batch's labels
            reference_metrics TEXT NOT NULL DEFAULT '{}', -- JSON, the holder's registered ones
            estimate TEXT,                     -- JSON {metric, value, trusted, reason, ...}
            triggers TEXT NOT NULL DEFAULT '[]',  -- JSON [{trigger, fired, figure, threshold}]
            status TEXT NOT NULL,              -- healthy | action_needed | retrained | proposed | promoted
            retrained_version INTEGER,
            retrain_run_id TEXT,
            proposal_id INTEGER,
            notes TEXT NOT NULL DEFAULT '[]',
            policy TEXT NOT NULL DEFAULT '{}'   -- JSON: the policy the batch was judged by
        );
        CREATE INDEX idx_monitor_batches_model ON monitor_batches(model_name, id);
        CREATE TABLE promotion_proposals (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            model_name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            from_version INTEGER,
            batch_id INTEGER REFERENCES monitor_batches(id),
            batch_fingerprint TEXT,
            gates TEXT NOT NULL DEFAULT '[]',  -- JSON gate rows at proposal time
            summary TEXT,
            approvers TEXT NOT NULL DEFAULT '[]',  -- JSON: who may approve (empty: anyone)
            status TEXT NOT NULL DEFAULT 'open',   -- open | approved | rejected | superseded
            created_by TEXT,
            decided_at TEXT,
            decided_by TEXT,
            reason TEXT,
            audit_id INTEGER
        );
        CREATE INDEX idx_promotion_proposals ON promotion_proposals(model_name, status);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who wrote each batch and proposal (#15: the team store records every writer)."""
    db.executescript(
        """
        ALTER TABLE monitor_batches ADD COLUMN actor TEXT;
        ALTER TABLE promotion_proposals ADD COLUMN actor TEXT;
        """
    )


_BATCH_JSON: tuple[str, ...] = (
    "data_tests",
    "metrics",
    "reference_metrics",
    "estimate",
    "triggers",
    "notes",
    "policy",
)


def _decode_batch(row: dict[str, Any]) -> dict[str, Any]:
    for key in _BATCH_JSON:
        row[key] = loads(row.get(key))
    for key in ("labelled", "drifted", "data_tests_passed"):
        if row.get(key) is not None:
            row[key] = bool(row[key])
    return row


def _decode_proposal(row: dict[str, Any]) -> dict[str, Any]:
    row["gates"] = loads(row["gates"])
    row["approvers"] = loads(row["approvers"])
    return row


class MonitorMixin(StoreBase):
    def record_monitor_batch(
        self, row: Mapping[str, Any], *, audit: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Insert a batch row (JSON fields encoded here), its lineage edge and audit record,
        in one transaction; returns the stored row."""
        values = dict(row)
        values.setdefault("created_at", utcnow())
        for key in _BATCH_JSON:
            if key in values and values[key] is not None and not isinstance(values[key], str):
                values[key] = dumps(values[key])
        for key in ("labelled", "drifted", "data_tests_passed"):
            if values.get(key) is not None:
                values[key] = int(bool(values[key]))
        cols = list(values)
        with self.write():
            cur = self.conn.execute(
                f"INSERT INTO monitor_batches ({', '.join(cols)}, actor) "
                f"VALUES ({', '.join('?' for _ in cols)}, (SELECT name FROM session.actor))",
                [values[c] for c in cols],
            )
            batch_id = int(cur.lastrowid or 0)
            self.conn.execute(
                """INSERT INTO lineage (src_type, src_id, dst_type, dst_id, relation, created_at,
                   actor) VALUES ('dataset', ?, 'registered_model', ?, 'monitored', ?,
                   (SELECT name FROM session.actor))""",
                (values["batch_fingerprint"], values["model_name"], values["created_at"]),
            )
            if audit is not None:
                self.append_audit(audit)  # type: ignore[attr-defined]
        return self.get_monitor_batch(batch_id)

    def update_monitor_batch(self, batch_id: int, **fields: Any) -> None:
        for key in _BATCH_JSON:
            if key in fields and fields[key] is not None and not isinstance(fields[key], str):
                fields[key] = dumps(fields[key])
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.write():
            self.conn.execute(
                f"UPDATE monitor_batches SET {sets} WHERE id = ?", [*fields.values(), batch_id]
            )

    def get_monitor_batch(self, batch_id: int) -> dict[str, Any]:
        row = self.query_one("SELECT * FROM monitor_batches WHERE id = ?", (int(batch_id),))
        if row is None:
            raise NotFound(
                f"No monitored batch with id {batch_id}. "
                "List them with `mlops-jupyter monitor --history --model NAME`."
            )
        return _decode_batch(row)

    def list_monitor_batches(self, model: str | None = None) -> list[dict[str, Any]]:
        if not has_table(self, "monitor_batches"):
            return []  # an older store read as it is
        if model is None:
            rows = self.query("SELECT * FROM monitor_batches ORDER BY id")
        else:
            rows = self.query(
                "SELECT * FROM monitor_batches WHERE model_name = ? ORDER BY id", (model,)
            )
        return [_decode_batch(r) for r in rows]

    def add_monitor_edge(self, src_id: str, dst_id: str, relation: str) -> None:
        with self.write():
            self.conn.execute(
                """INSERT INTO lineage (src_type, src_id, dst_type, dst_id, relation, created_at,
                   actor) VALUES ('dataset', ?, 'model_version', ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (src_id, dst_id, relation, utcnow()),
            )

    # -- proposals --------------------------------------------------------------------------

    def create_proposal(
        self, row: Mapping[str, Any], *, audit: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Record an open proposal (older open ones for the same alias are superseded) and its
        audit record, in one transaction."""
        values = dict(row)
        values.setdefault("created_at", utcnow())
        for key in ("gates", "approvers"):
            if not isinstance(values.get(key), str):
                values[key] = dumps(values.get(key) or [])
        with self.write():
            self.conn.execute(
                """UPDATE promotion_proposals SET status = 'superseded', decided_at = ?
                   WHERE model_name = ? AND alias = ? AND status = 'open'""",
                (values["created_at"], values["model_name"], values["alias"]),
            )
            record = self.append_audit(audit)  # type: ignore[attr-defined]
            values["audit_id"] = record["id"]
            cols = list(values)
            cur = self.conn.execute(
                f"INSERT INTO promotion_proposals ({', '.join(cols)}, actor) "
                f"VALUES ({', '.join('?' for _ in cols)}, (SELECT name FROM session.actor))",
                [values[c] for c in cols],
            )
            proposal_id = int(cur.lastrowid or 0)
        return self.get_proposal(proposal_id)

    def get_proposal(self, proposal_id: int) -> dict[str, Any]:
        row = None
        if has_table(self, "promotion_proposals"):
            row = self.query_one(
                "SELECT * FROM promotion_proposals WHERE id = ?", (int(proposal_id),)
            )
        if row is None:
            raise NotFound(
                f"No promotion proposal with id {proposal_id}. "
                "List them with `mlops-jupyter proposals`."
            )
        return _decode_proposal(row)

    def list_proposals(
        self, model: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        if not has_table(self, "promotion_proposals"):
            return []
        sql, params = "SELECT * FROM promotion_proposals WHERE 1 = 1", list[Any]()
        if model is not None:
            sql, params = sql + " AND model_name = ?", [*params, model]
        if status is not None:
            sql, params = sql + " AND status = ?", [*params, status]
        return [_decode_proposal(r) for r in self.query(sql + " ORDER BY id", params)]

    def decide_proposal(
        self,
        proposal_id: int,
        *,
        status: str,
        by: str,
        reason: str | None,
        audit: Mapping[str, Any] | None = None,
    ) -> None:
        with self.write():
            if audit is not None:
                self.append_audit(audit)  # type: ignore[attr-defined]
            self.conn.execute(
                """UPDATE promotion_proposals SET status = ?, decided_at = ?, decided_by = ?,
                   reason = ? WHERE id = ?""",
                (status, utcnow(), by, reason, int(proposal_id)),
            )
