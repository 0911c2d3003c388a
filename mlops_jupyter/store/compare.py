"""Read queries for comparing runs: metric histories of many runs, where each metric came from.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
Run ids are bound as one JSON array (``json_each``), so thousands of runs never hit SQLite's
limit on bound variables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .base import Migrations, StoreBase

migrations = Migrations("mlops_jupyter.compare")


class CompareMixin(StoreBase):
    def latest_experiment_name(self) -> str | None:
        """The experiment whose newest run is the most recent (else the newest experiment)."""
        row = self.query_one(
            """SELECT e.name FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
               GROUP BY e.id ORDER BY MAX(r.started_at) IS NULL, MAX(r.started_at) DESC,
               e.created_at DESC LIMIT 1"""
        )
        return None if row is None else str(row["name"])

    def metric_points(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every logged point of ``keys`` (all keys when None) for ``run_ids``, in log order.

        Rows: ``run_id, key, step, value, logged_at, execution_id``.
        """
        sql = """SELECT run_id, key, step, value, logged_at, execution_id FROM metrics
                 WHERE run_id IN (SELECT value FROM json_each(?))"""
        args: list[Any] = [json.dumps(list(run_ids))]
        if keys is not None:
            sql += " AND key IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(list(keys)))
        return self.query(sql + " ORDER BY run_id, key, id", args)

    def metric_sources(self, run_id: str) -> list[dict[str, Any]]:
        """The latest point of each metric of a run with the cell execution that logged it.

        Rows: ``key, value, step, execution_id, execution_count, cell_id``.
        """
        return self.query(
            """SELECT m.key, m.value, m.step, m.execution_id, x.execution_count, x.cell_id
               FROM metrics m LEFT JOIN executions x ON x.id = m.execution_id
               WHERE m.id IN (SELECT MAX(id) FROM metrics WHERE run_id = ? GROUP BY key)
               ORDER BY m.key""",
            (run_id,),
        )

    def run_environments(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """run id -> its environment row (``packages`` decoded) for runs that recorded one."""
        rows = self.query(
            """SELECT r.id AS run_id, e.python_version, e.platform, e.packages
               FROM runs r JOIN environments e ON e.id = r.environment_id
               WHERE r.id IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(run_ids)),),
        )
        out: dict[str, dict[str, Any]] = {}
        for row in rows:
            row["packages"] = json.loads(row["packages"])
            out[str(row.pop("run_id"))] = row
        return out

    def runs_with_data(self, run_ids: Sequence[str]) -> set[str]:
        """The subset of ``run_ids`` that logged at least one param or metric."""
        rows = self.query(
            """SELECT value AS run_id FROM json_each(?) j WHERE
               EXISTS (SELECT 1 FROM params p WHERE p.run_id = j.value)
               OR EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = j.value)""",
            (json.dumps(list(run_ids)),),
        )
        return {str(r["run_id"]) for r in rows}
