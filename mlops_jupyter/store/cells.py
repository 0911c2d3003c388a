"""Per-cell reads for the JupyterLab cell badges and the server's change marker.

Functions over a :class:`~mlops_jupyter.store.Store` rather than a mixin, so the Store class
composition stays untouched; values are always bound, never formatted into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import StoreBase, loads
from .present import has_table

# What one execution captured, counted per kind; params keep the execution that last set them.
_SUMMARY = """
SELECT e.id, e.run_id, e.cell_id, e.execution_count, e.status, e.started_at, e.duration_s,
       e.error, e.reads, e.writes, r.notebook_path,
       (SELECT COUNT(*) FROM params p WHERE p.execution_id = e.id) AS n_params,
       (SELECT COUNT(DISTINCT m.key) FROM metrics m WHERE m.execution_id = e.id) AS n_metrics,
       (SELECT COUNT(*) FROM models mo WHERE mo.execution_id = e.id) AS n_models,
       (SELECT COUNT(DISTINCT l.dst_id) FROM lineage l
         WHERE l.execution_id = e.id AND l.dst_type = 'dataset' AND l.relation = 'wrote')
         AS n_datasets_written,
       (SELECT COUNT(DISTINCT l.src_id) FROM lineage l
         WHERE l.execution_id = e.id AND l.src_type = 'dataset') AS n_datasets_read,
       {quality}
FROM executions e JOIN runs r ON r.id = e.run_id
{resources}
"""
# What the cell's data tests found and what it cost (#16); an old store read as it is has
# neither table.
_QUALITY = """(SELECT COUNT(*) FROM dataset_checks c WHERE c.execution_id = e.id) AS n_checks,
       (SELECT COUNT(*) FROM dataset_checks c WHERE c.execution_id = e.id AND c.passed = 0)
         AS n_checks_failed,
       u.wall_s, u.cpu_s, u.peak_rss_mb, u.retained_mb"""
_NO_QUALITY = """0 AS n_checks, 0 AS n_checks_failed, NULL AS wall_s, NULL AS cpu_s,
       NULL AS peak_rss_mb, NULL AS retained_mb"""


def _summary(store: StoreBase) -> str:
    if has_table(store, "dataset_checks") and has_table(store, "execution_resources"):
        return _SUMMARY.format(
            quality=_QUALITY,
            resources="LEFT JOIN execution_resources u ON u.execution_id = e.id",
        )
    return _SUMMARY.format(quality=_NO_QUALITY, resources="")


def _decode(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["reads"] = loads(row["reads"])
        row["writes"] = loads(row["writes"])
    return rows


def latest_executions_of_cells(store: StoreBase, cell_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The latest execution of each given front-end cell id, with what it captured."""
    ids = [str(c) for c in cell_ids if c][:500]
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return _decode(
        store.query(
            _summary(store)
            + f""" WHERE e.id IN (SELECT MAX(id) FROM executions WHERE cell_id IN ({marks})
                   GROUP BY cell_id) ORDER BY e.id""",
            ids,
        )
    )


def latest_executions_of_notebook(store: StoreBase, notebook_path: str) -> list[dict[str, Any]]:
    """The latest execution of each cell of runs recorded for ``notebook_path``."""
    return _decode(
        store.query(
            _summary(store)
            + """ WHERE e.id IN (SELECT MAX(e2.id) FROM executions e2
                   JOIN runs r2 ON r2.id = e2.run_id
                   WHERE r2.notebook_path = ? AND e2.cell_id IS NOT NULL GROUP BY e2.cell_id)
                 ORDER BY e.id""",
            (notebook_path,),
        )
    )


def execution_summary(store: StoreBase, execution_id: int) -> dict[str, Any] | None:
    rows = _decode(store.query(_summary(store) + " WHERE e.id = ?", (int(execution_id),)))
    return rows[0] if rows else None


def executions_of_run(store: StoreBase, run_id: str) -> list[dict[str, Any]]:
    """Every execution of a run, in order, with what each captured."""
    return _decode(store.query(_summary(store) + " WHERE e.run_id = ? ORDER BY e.id", (run_id,)))
