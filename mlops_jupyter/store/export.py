"""Queries for the export area: the executions a run depends on, its results, verifications.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from typing import Any

from .base import Migrations, SqlDb, StoreBase, dumps, loads, utcnow
from .compare import MANY_RUNS

migrations = Migrations("mlops_jupyter.export")


@migrations()
def m001_create_verifications(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE verifications (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),  -- the run whose results were checked
            rerun_id TEXT,                             -- the headless re-run, when captured
            bundle_path TEXT,
            reproduced INTEGER NOT NULL,               -- 1 reproduced, 0 not
            summary TEXT NOT NULL,                     -- one line
            details TEXT NOT NULL DEFAULT '[]',        -- JSON rows of the comparison table
            verified_at TEXT NOT NULL
        );
        CREATE INDEX idx_verifications_run ON verifications(run_id, id);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who wrote each row (the database user or $MLOPS_JUPYTER_ACTOR)."""
    db.executescript(
        """
        ALTER TABLE verifications ADD COLUMN actor TEXT;
        """
    )


def _decode_execution(row: dict[str, Any]) -> dict[str, Any]:
    row["reads"] = loads(row["reads"]) or []
    row["writes"] = loads(row["writes"]) or []
    return row


class ExportMixin(StoreBase):
    def session_executions(self, run_id: str) -> list[dict[str, Any]]:
        """Executions of the kernel session that produced ``run_id``, up to its last one.

        A kernel may hold state from runs it had before (``%mlops run`` starts a new run in the
        same kernel): those earlier executions come first, in execution order (``id``).
        """
        run = self.query_one("SELECT kernel_id, source FROM runs WHERE id = ?", (run_id,))
        if run is None or not run["kernel_id"]:
            # No kernel id (a plain IPython shell): follow the chain of parent runs started in
            # the same way (capture starts a child run when a param changes after results).
            chain = [run_id]
            parent = self.query_one("SELECT parent_run_id FROM runs WHERE id = ?", (run_id,))
            while parent and parent["parent_run_id"] and len(chain) < 1000:
                row = self.query_one(
                    "SELECT id, kernel_id, source, parent_run_id FROM runs WHERE id = ?",
                    (parent["parent_run_id"],),
                )
                if row is None or row["kernel_id"] or row["source"] != (run or {}).get("source"):
                    break
                chain.append(row["id"])
                parent = row
            marks = ",".join("?" * len(chain))
            rows = self.query(
                f"""SELECT * FROM executions WHERE run_id IN ({marks}) AND id <= (
                       SELECT COALESCE(MAX(id), 0) FROM executions WHERE run_id = ?)
                    ORDER BY id""",
                (*chain, run_id),
            )
        else:
            rows = self.query(
                """SELECT e.* FROM executions e JOIN runs r ON r.id = e.run_id
                   WHERE r.kernel_id = ? AND e.id <= (
                       SELECT COALESCE(MAX(id), 0) FROM executions WHERE run_id = ?)
                   ORDER BY e.id""",
                (run["kernel_id"], run_id),
            )
        return [_decode_execution(r) for r in rows]

    def result_execution_ids(self, run_id: str) -> dict[int, list[str]]:
        """Executions that produced a run's results -> what they produced (``metric:acc``...)."""
        rows = self.query(
            """SELECT execution_id, 'metric:' || key AS what FROM metrics
                 WHERE run_id = ? AND execution_id IS NOT NULL
               UNION SELECT execution_id, 'model:' || COALESCE(name, class_name) FROM models
                 WHERE run_id = ? AND execution_id IS NOT NULL
               UNION SELECT execution_id, 'dataset:' || name FROM datasets
                 WHERE run_id = ? AND execution_id IS NOT NULL""",
            (run_id, run_id, run_id),
        )
        out: dict[int, list[str]] = {}
        for row in rows:
            out.setdefault(int(row["execution_id"]), []).append(str(row["what"]))
        return out

    def run_datasets(self, run_id: str) -> list[dict[str, Any]]:
        """Dataset versions a run read or produced: name, fingerprint, file, producing cell.

        A version first seen in an earlier run keeps that run's id, so lineage edges recorded in
        this run count too.
        """
        return self.query(
            """SELECT d.id, d.name, d.version, d.fingerprint, d.source_path, d.source_hash,
                      d.execution_id, d.run_id
               FROM datasets d
               WHERE d.run_id = ? OR d.fingerprint IN (
                   SELECT src_id FROM lineage WHERE run_id = ? AND src_type = 'dataset'
                   UNION SELECT dst_id FROM lineage WHERE run_id = ? AND dst_type = 'dataset')
               ORDER BY d.id""",
            (run_id, run_id, run_id),
        )

    def models_of_executions(self, execution_ids: list[int]) -> dict[str, dict[str, Any]]:
        """``{name: {"class", "params", "fingerprint"}}``: the last model each name held among
        the models these executions wrote (lineage ``execution -wrote-> model``)."""
        rows = self.query(
            """SELECT COALESCE(m.name, m.class_name) AS name, m.class_name, m.params,
                      m.fingerprint, MAX(l.id) AS last_edge
               FROM lineage l JOIN models m ON m.fingerprint = l.dst_id
               WHERE l.relation = 'wrote' AND l.src_type = 'execution' AND l.dst_type = 'model'
                 AND l.execution_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))
               GROUP BY m.fingerprint ORDER BY last_edge""",
            (dumps([int(e) for e in execution_ids]),),
        )
        return {
            str(r["name"]): {
                "class": r["class_name"],
                "params": loads(r["params"]),
                "fingerprint": r["fingerprint"],
            }
            for r in rows
        }

    def datasets_of_executions(self, execution_ids: list[int]) -> list[dict[str, Any]]:
        """Dataset versions recorded by, or linked in lineage to, these executions (by id).

        A version whose content was seen before keeps its first execution, so lineage edges
        of these executions count too.
        """
        ids = dumps(sorted({int(i) for i in execution_ids}))
        return self.query(
            """SELECT d.id, d.name, d.version, d.fingerprint, d.source_path, d.source_hash,
                      d.execution_id, d.run_id
               FROM datasets d
               WHERE d.execution_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))
                  OR d.fingerprint IN (
                   SELECT src_id FROM lineage WHERE src_type = 'dataset'
                     AND execution_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?))
                   UNION SELECT dst_id FROM lineage WHERE dst_type = 'dataset'
                     AND execution_id IN (SELECT CAST(value AS INTEGER) FROM json_each(?)))
               ORDER BY d.id""",
            (ids, ids, ids),
        )

    def latest_runs_of_notebook(self, candidates: list[str]) -> list[dict[str, Any]]:
        """Runs whose ``notebook_path`` is one of ``candidates``, newest first."""
        if not candidates:
            return []
        marks = ",".join("?" * len(candidates))
        return self.query(
            f"""SELECT r.*, e.name AS experiment FROM runs r
                JOIN experiments e ON e.id = r.experiment_id
                WHERE r.notebook_path IN ({marks}) ORDER BY r.started_at DESC""",
            list(candidates),
        )

    def runs_with_notebook(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, notebook_path, started_at FROM runs WHERE notebook_path IS NOT NULL "
            "ORDER BY started_at DESC"
        )

    def latest_run(self) -> dict[str, Any] | None:
        return self.query_one("SELECT id FROM runs ORDER BY started_at DESC LIMIT 1")

    def child_runs(self, parent_run_id: str, since: str | None = None) -> list[dict[str, Any]]:
        """Runs started from ``parent_run_id`` (headless re-runs), oldest first."""
        return self.query(
            """SELECT * FROM runs WHERE parent_run_id = ? AND started_at >= ?
               ORDER BY started_at""",
            (parent_run_id, since or ""),
        )

    # -- verifications --------------------------------------------------------------------

    def record_verification(
        self,
        run_id: str,
        *,
        reproduced: bool,
        summary: str,
        details: list[dict[str, Any]],
        rerun_id: str | None = None,
        bundle_path: str | None = None,
    ) -> int:
        with self.write():
            cur = self.conn.execute(
                """INSERT INTO verifications (run_id, rerun_id, bundle_path, reproduced, summary,
                   details, verified_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    run_id,
                    rerun_id,
                    bundle_path,
                    int(reproduced),
                    summary,
                    dumps(details),
                    utcnow(),
                ),
            )
            return int(cur.lastrowid or 0)

    def latest_verdicts(self, run_ids: list[str]) -> dict[str, bool]:
        """``{run_id: reproduced}`` from each run's latest verification (runs without none)."""
        out: dict[str, bool] = {}
        if len(run_ids) > MANY_RUNS:  # a big runs table: one pass over the verifications
            wanted = set(run_ids)
            for row in self.query(
                """SELECT run_id, reproduced FROM verifications WHERE id IN (
                       SELECT MAX(id) FROM verifications GROUP BY run_id)"""
            ):
                if row["run_id"] in wanted:
                    out[row["run_id"]] = bool(row["reproduced"])
            return out
        for start in range(0, len(run_ids), 500):
            chunk = run_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.query(
                f"""SELECT run_id, reproduced FROM verifications WHERE id IN (
                       SELECT MAX(id) FROM verifications WHERE run_id IN ({marks})
                       GROUP BY run_id)""",
                tuple(chunk),
            ):
                out[row["run_id"]] = bool(row["reproduced"])
        return out

    def latest_verification(self, run_id: str) -> dict[str, Any] | None:
        row = self.query_one(
            "SELECT * FROM verifications WHERE run_id = ? ORDER BY id DESC LIMIT 1", (run_id,)
        )
        if row:
            row["details"] = loads(row["details"])
            row["reproduced"] = bool(row["reproduced"])
        return row
