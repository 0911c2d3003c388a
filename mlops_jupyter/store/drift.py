"""Drift reports and stored reference profiles (issue #4).

Tables (migration ``m001_create_drift``):

- ``drift_profiles``: one reference profile per dataset content fingerprint (per-column counts,
  quantile sketch, moments), so a later batch is checked without the reference's rows.
- ``drift_reports``: one row per saved report: both datasets (fingerprint + label), the optional
  registered model name, the verdict and its inputs.
- ``drift_columns``: one row per tested column of a report (role ``feature``, ``target`` or
  ``prediction``).

Lineage edges written with a report: ``dataset -reference-> drift_report``,
``dataset -current-> drift_report`` and, with a model name,
``drift_report -monitors-> registered_model`` (id = the registered model's name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidInput, NotFound
from .base import Migrations, SqlDb, StoreBase, dumps, loads, new_id, utcnow

migrations = Migrations("mlops_jupyter.drift")


@migrations()
def m001_create_drift(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE drift_profiles (
            fingerprint TEXT PRIMARY KEY,     -- the reference dataset's content fingerprint
            name TEXT,                        -- a label to find it by (variable, file, dataset)
            n_rows INTEGER NOT NULL,
            profile TEXT NOT NULL,            -- JSON {column: per-column profile}
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX idx_drift_profiles_name ON drift_profiles(name);
        CREATE TABLE drift_reports (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            reference_fingerprint TEXT,
            reference_name TEXT,
            current_fingerprint TEXT,
            current_name TEXT,
            model_name TEXT,                  -- a registered model's name (--model)
            run_id TEXT,                      -- the capture run active when it was computed
            n_reference INTEGER,
            n_current INTEGER,
            n_columns INTEGER NOT NULL,       -- features tested
            n_drifted INTEGER NOT NULL,
            share REAL NOT NULL,
            drift_share REAL NOT NULL,        -- the threshold the verdict used
            drifted INTEGER NOT NULL,
            target_drifted INTEGER,
            prediction_drifted INTEGER,
            performance TEXT NOT NULL DEFAULT '[]', -- JSON [{metric, reference, current, change}]
            notes TEXT NOT NULL DEFAULT '[]',       -- JSON list of sentences
            options TEXT NOT NULL DEFAULT '{}'      -- JSON: columns, tests, drift_share
        );
        CREATE INDEX idx_drift_reports_model ON drift_reports(model_name, created_at);
        CREATE INDEX idx_drift_reports_created ON drift_reports(created_at);
        CREATE TABLE drift_columns (
            report_id TEXT NOT NULL REFERENCES drift_reports(id),
            column_name TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'feature',   -- feature | target | prediction
            type TEXT,
            test TEXT,
            statistic REAL,
            p_value REAL,
            threshold REAL,
            drifted INTEGER,
            psi REAL,
            note TEXT,
            PRIMARY KEY (report_id, column_name, role)
        );
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who wrote each row (the database user or $MLOPS_JUPYTER_ACTOR)."""
    db.executescript(
        """
        ALTER TABLE drift_profiles ADD COLUMN actor TEXT;
        ALTER TABLE drift_reports ADD COLUMN actor TEXT;
        ALTER TABLE drift_columns ADD COLUMN actor TEXT;
        """
    )


_REPORT_FIELDS = (
    "reference_fingerprint",
    "reference_name",
    "current_fingerprint",
    "current_name",
    "model_name",
    "run_id",
    "n_reference",
    "n_current",
    "n_columns",
    "n_drifted",
    "share",
    "drift_share",
    "drifted",
    "target_drifted",
    "prediction_drifted",
)
_COLUMN_FIELDS = (
    "column_name",
    "role",
    "type",
    "test",
    "statistic",
    "p_value",
    "threshold",
    "drifted",
    "psi",
    "note",
)


def _decode_report(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("performance", "notes", "options"):
        if isinstance(row.get(key), str):
            row[key] = loads(row[key])
    return row


class DriftMixin(StoreBase):
    # -- reference profiles ---------------------------------------------------------------

    def save_drift_profile(
        self, fingerprint: str, profile: Mapping[str, Any], *, n_rows: int, name: str | None
    ) -> None:
        """Store a reference profile once per fingerprint; new columns are merged in."""
        now = utcnow()
        with self.write():
            row = self.query_one(
                "SELECT profile, name FROM drift_profiles WHERE fingerprint = ?", (fingerprint,)
            )
            if row is None:
                self.conn.execute(
                    """INSERT INTO drift_profiles (fingerprint, name, n_rows, profile, created_at,
                       updated_at, actor) VALUES (?, ?, ?, ?, ?, ?,
                       (SELECT name FROM session.actor))""",
                    (fingerprint, name, n_rows, dumps(dict(profile)), now, now),
                )
                return
            stored = loads(row["profile"]) or {}
            missing = {k: v for k, v in profile.items() if k not in stored}
            if missing or (name and not row["name"]):
                stored.update(missing)
                self.conn.execute(
                    """UPDATE drift_profiles SET profile = ?, name = COALESCE(name, ?),
                       updated_at = ? WHERE fingerprint = ?""",
                    (dumps(stored), name, now, fingerprint),
                )

    def find_drift_profile(self, ref: str) -> dict[str, Any] | None:
        """The profile stored for a fingerprint, a fingerprint prefix or a name; else None."""
        row = self.query_one("SELECT * FROM drift_profiles WHERE fingerprint = ?", (ref,))
        if row is None:
            row = self.query_one(
                "SELECT * FROM drift_profiles WHERE name = ? ORDER BY updated_at DESC LIMIT 1",
                (ref,),
            )
        if row is None and len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref):
            rows = self.query("SELECT * FROM drift_profiles WHERE fingerprint LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise InvalidInput(
                    f"Fingerprint prefix {ref!r} matches several reference profiles. "
                    "Give more characters."
                )
            row = rows[0] if rows else None
        if row is None:
            return None
        row["profile"] = loads(row["profile"])
        return row

    # -- reports --------------------------------------------------------------------------

    def record_drift_report(
        self,
        report: Mapping[str, Any],
        columns: Sequence[Mapping[str, Any]],
        *,
        performance: Sequence[Mapping[str, Any]] = (),
        notes: Sequence[str] = (),
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Save a report, its per-column rows and its lineage edges; returns the report row."""
        report_id = new_id()
        created_at = utcnow()
        values = [report.get(f) for f in _REPORT_FIELDS]
        with self.write():
            self.conn.execute(
                f"""INSERT INTO drift_reports (id, created_at, {", ".join(_REPORT_FIELDS)},
                    performance, notes, options, actor)
                    VALUES (?, ?, {", ".join("?" for _ in _REPORT_FIELDS)}, ?, ?, ?,
                    (SELECT name FROM session.actor))""",
                (
                    report_id,
                    created_at,
                    *values,
                    dumps(list(performance)),
                    dumps(list(notes)),
                    dumps(dict(options or {})),
                ),
            )
            self.conn.executemany(
                f"""INSERT OR REPLACE INTO drift_columns (report_id, {", ".join(_COLUMN_FIELDS)}, actor)
                    VALUES (?, {", ".join("?" for _ in _COLUMN_FIELDS)},
                    (SELECT name FROM session.actor))""",
                [(report_id, *(c.get(f) for f in _COLUMN_FIELDS)) for c in columns],
            )
            edges = []
            for side in ("reference", "current"):
                fp = report.get(f"{side}_fingerprint")
                if fp:
                    edges.append(("dataset", fp, side, "drift_report", report_id))
            if report.get("model_name"):
                edges.append(
                    (
                        "drift_report",
                        report_id,
                        "monitors",
                        "registered_model",
                        report["model_name"],
                    )
                )
            self.conn.executemany(
                """INSERT INTO lineage (src_type, src_id, dst_type, dst_id, relation, run_id,
                   execution_id, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, NULL, ?,
                   (SELECT name FROM session.actor))""",
                [
                    (st, str(si), dt, str(di), rel, report.get("run_id"), created_at)
                    for st, si, rel, dt, di in edges
                ],
            )
        row = self.get_drift_report(report_id)
        return row

    def get_drift_report(self, report_id: str) -> dict[str, Any]:
        row = self.query_one("SELECT * FROM drift_reports WHERE id = ?", (report_id,))
        if row is None:
            raise NotFound(
                f"No drift report with id {report_id!r}. "
                "List reports with `%mlops drift --history`."
            )
        return _decode_report(row)

    def list_drift_reports(self, model: str | None = None) -> list[dict[str, Any]]:
        """Saved reports, oldest first; only those linked to ``model`` when given."""
        if model is None:
            rows = self.query("SELECT * FROM drift_reports ORDER BY created_at, rowid")
        else:
            rows = self.query(
                "SELECT * FROM drift_reports WHERE model_name = ? ORDER BY created_at, rowid",
                (model,),
            )
        return [_decode_report(r) for r in rows]

    def drift_report_columns(self, report_id: str) -> list[dict[str, Any]]:
        """The per-column rows of one saved report, in the order they were tested."""
        return self.query(
            "SELECT * FROM drift_columns WHERE report_id = ? ORDER BY rowid", (report_id,)
        )

    def list_drift_columns(self, model: str | None = None) -> list[dict[str, Any]]:
        """Per-column rows of every saved report (of ``model``), with the report's time."""
        sql = """SELECT c.*, r.created_at FROM drift_columns c
                 JOIN drift_reports r ON r.id = c.report_id"""
        if model is None:
            return self.query(sql + " ORDER BY r.created_at, r.rowid")
        return self.query(sql + " WHERE r.model_name = ? ORDER BY r.created_at, r.rowid", (model,))
