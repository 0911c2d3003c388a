"""What every captured cell cost: time, CPU, memory (and GPU where there is one) (issue #16).

``execution_resources`` holds one row per captured execution, written in the same write group
as the execution itself. Run totals and peaks are aggregated at read time.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .base import Migrations, SqlDb, StoreBase
from .compare import MANY_RUNS
from .present import has_table

migrations = Migrations("mlops_jupyter.resources")

FIELDS = (
    "wall_s",  # wall-clock time of the cell
    "cpu_s",  # CPU of the process and its children (workers), user + system
    "cpu_self_s",
    "cpu_workers_s",
    "peak_rss_mb",  # peak resident memory of the process and its workers during the cell
    "peak_self_rss_mb",  # of the kernel process alone
    "peak_workers_rss_mb",  # of the workers alone (sampled)
    "rss_start_mb",
    "rss_end_mb",
    "retained_mb",  # rss_end - rss_start of the kernel process
    "n_workers",  # child processes seen during the cell
    "gpu_mem_peak_mb",  # NVML, where a GPU is present
    "gpu_util_mean",
    "samples",  # samples the background thread took
    "interval_s",
    "exact_peak",  # 1: the kernel's peak is its kernel-kept high-water mark, 0: sampled
)


@migrations()
def m001_create_execution_resources(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE execution_resources (
            execution_id INTEGER PRIMARY KEY REFERENCES executions(id),
            run_id TEXT NOT NULL,
            wall_s REAL, cpu_s REAL, cpu_self_s REAL, cpu_workers_s REAL,
            peak_rss_mb REAL, peak_self_rss_mb REAL, peak_workers_rss_mb REAL,
            rss_start_mb REAL, rss_end_mb REAL, retained_mb REAL, n_workers INTEGER,
            gpu_mem_peak_mb REAL, gpu_util_mean REAL,
            samples INTEGER, interval_s REAL, exact_peak INTEGER
        );
        CREATE INDEX idx_execution_resources_run ON execution_resources(run_id);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who measured each cell (#15: the team store records every writer)."""
    db.executescript("ALTER TABLE execution_resources ADD COLUMN actor TEXT;")


_INSERT_RESOURCES = (  # (made once: every cell's record runs it)
    f"INSERT OR REPLACE INTO execution_resources (execution_id, run_id, {', '.join(FIELDS)}, "
    f"actor) VALUES (?, ?, {', '.join('?' for _ in FIELDS)}, (SELECT name FROM session.actor))"
)


class ResourcesMixin(StoreBase):
    def record_resources(self, execution_id: int, run_id: str, usage: Mapping[str, Any]) -> None:
        with self.write_one():
            self.conn.execute(
                _INSERT_RESOURCES, [int(execution_id), run_id, *map(usage.get, FIELDS)]
            )

    def execution_resources(self, execution_id: int) -> dict[str, Any] | None:
        if not has_table(self, "execution_resources"):
            return None
        return self.query_one(
            "SELECT * FROM execution_resources WHERE execution_id = ?", (int(execution_id),)
        )

    def run_resources(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per run: cells, totals (wall, CPU) and peaks (memory, workers, GPU)."""
        if not run_ids or not has_table(self, "execution_resources"):
            return {}
        if self.query_one("SELECT 1 AS x FROM execution_resources LIMIT 1") is None:
            return {}  # nothing recorded (runs logged by scripts): no per-run queries
        ids = list(map(str, run_ids))
        totals = """SELECT run_id, COUNT(*) AS cells, SUM(wall_s) AS wall_s, SUM(cpu_s) AS cpu_s,
                    SUM(cpu_workers_s) AS cpu_workers_s, MAX(peak_rss_mb) AS peak_rss_mb,
                    MAX(peak_workers_rss_mb) AS peak_workers_rss_mb,
                    SUM(retained_mb) AS retained_mb, MAX(n_workers) AS max_workers,
                    MAX(gpu_mem_peak_mb) AS gpu_mem_peak_mb
                    FROM execution_resources"""
        out: dict[str, dict[str, Any]] = {}
        if len(ids) > MANY_RUNS:  # a big runs table: one pass over the table, not a query per 500
            wanted = set(ids)
            for row in self.query(totals + " GROUP BY run_id"):
                if row["run_id"] in wanted:
                    out[row.pop("run_id")] = row
            return out
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in self.query(f"{totals} WHERE run_id IN ({marks}) GROUP BY run_id", chunk):
                out[row.pop("run_id")] = row
        return out

    def costliest_cells(self, run_id: str, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` cells of a run that took longest (wall), with their code and usage."""
        if not has_table(self, "execution_resources"):
            return []
        return self.query(
            """SELECT r.*, e.execution_count, e.cell_id, e.code, e.status, e.started_at
               FROM execution_resources r JOIN executions e ON e.id = r.execution_id
               WHERE r.run_id = ? ORDER BY r.wall_s DESC, r.cpu_s DESC LIMIT ?""",
            (run_id, int(n)),
        )
