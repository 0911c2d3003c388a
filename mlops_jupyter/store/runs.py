"""Experiments, runs, cell executions, params, metrics and environments."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import ExperimentNotFound, InvalidInput, RunNotFound
from .base import StoreBase, dumps, loads, new_id, utcnow
from .liveness import CRASHED, is_gone, live_status, process_token, this_host

RUN_STATUSES = ("running", "finished", "failed")  # stored; "crashed" is read (liveness.py)


class RunsMixin(StoreBase):
    def _summaries(self) -> Any:
        """This store as its :class:`~.compare.CompareMixin`, which keeps the runs table's
        summaries current in the same transaction as each param and metric write."""
        from .compare import CompareMixin

        assert isinstance(self, CompareMixin)
        return self

    # -- experiments ----------------------------------------------------------------------

    def ensure_experiment(self, name: str) -> str:
        """Id of the experiment called ``name``, created if missing."""
        name = name.strip()
        if not name:
            raise InvalidInput("An experiment name cannot be empty. Pass a name, e.g. 'churn'.")
        row = self.query_one("SELECT id FROM experiments WHERE name = ?", (name,))
        if row:
            return str(row["id"])
        with self.write():
            self.conn.execute(
                "INSERT OR IGNORE INTO experiments (id, name, created_at, actor) "
                "VALUES (?, ?, ?, (SELECT name FROM session.actor))",
                (new_id(), name, utcnow()),
            )
            row = self.query_one("SELECT id FROM experiments WHERE name = ?", (name,))
        assert row is not None
        return str(row["id"])

    def get_experiment(self, name_or_id: str) -> dict[str, Any]:
        row = self.query_one(
            "SELECT * FROM experiments WHERE name = ? OR id = ?", (name_or_id, name_or_id)
        )
        if row is None:
            names = [r["name"] for r in self.query("SELECT name FROM experiments ORDER BY name")]
            known = ", ".join(repr(n) for n in names[:10]) + (", ..." if len(names) > 10 else "")
            raise ExperimentNotFound(
                f"No experiment named {name_or_id!r}. "
                + (f"Known experiments: {known}." if names else "The store has no experiment yet.")
            )
        return row

    def list_experiments(self) -> list[dict[str, Any]]:
        return self.query(
            """SELECT e.*, COUNT(r.id) AS n_runs, MAX(r.started_at) AS last_run_at
               FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
               GROUP BY e.id ORDER BY e.created_at"""
        )

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        experiment: str,
        *,
        name: str | None = None,
        parent_run_id: str | None = None,
        source: str = "interactive",
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        git_commit: str | None = None,
        git_dirty: bool | None = None,
        environment_id: str | None = None,
        user: str | None = None,
        host: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a run in ``experiment`` (a name; created if missing). Returns the run row."""
        experiment_id = self.ensure_experiment(experiment)
        run_id = new_id()
        with self.write():
            if not name:
                n = self.conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE experiment_id = ?", (experiment_id,)
                ).fetchone()[0]
                name = f"run-{n + 1}"
            self.conn.execute(
                """INSERT INTO runs (id, experiment_id, name, status, started_at, notebook_path,
                   kernel_id, parent_run_id, source, git_commit, git_dirty, environment_id,
                   user, host, tags, pid, process, actor)
                   VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    run_id,
                    experiment_id,
                    name,
                    utcnow(),
                    notebook_path,
                    kernel_id,
                    parent_run_id,
                    source,
                    git_commit,
                    None if git_dirty is None else int(git_dirty),
                    environment_id,
                    user,
                    host or this_host(),
                    dumps(dict(tags or {})),
                    os.getpid(),  # this process runs it: gone later means crashed
                    process_token(),
                ),
            )
        return self.get_run(run_id)

    def restore_run(self, row: Mapping[str, Any], params: Mapping[str, tuple[Any, str]]) -> None:
        """Put a run back, same id, into a store file that lacks it (the file was replaced
        under a kernel that goes on recording it), with its params ``key -> (value, source)``.
        Its parent and environment are not in the new file: they are left out."""
        if self.query_one("SELECT 1 AS x FROM runs WHERE id = ?", (row["id"],)) is not None:
            return
        experiment_id = self.ensure_experiment(str(row["experiment"]))
        with self.write():
            self.conn.execute(
                """INSERT INTO runs (id, experiment_id, name, status, started_at, notebook_path,
                   kernel_id, source, git_commit, git_dirty, user, host, tags, pid, process,
                   actor) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    row["id"],
                    experiment_id,
                    row["name"],
                    row["started_at"],
                    row.get("notebook_path"),
                    row.get("kernel_id"),
                    row.get("source") or "interactive",
                    row.get("git_commit"),
                    row.get("git_dirty"),
                    row.get("user"),
                    row.get("host") or this_host(),
                    dumps(dict(row.get("tags") or {})),
                    os.getpid(),
                    process_token(),
                ),
            )
            by_source: dict[str, dict[str, Any]] = {}
            for key, (value, source) in params.items():
                by_source.setdefault(source, {})[key] = value
            for source, values in by_source.items():
                self.log_params(str(row["id"]), values, source=source)

    def create_child_runs(
        self,
        parent_run_id: str,
        names: Sequence[str],
        *,
        status: str = "finished",
        ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Many finished child runs of ``parent_run_id`` at once (a sweep's configurations, a
        search's candidates); they share the parent's experiment, notebook, git state and
        environment. Returns their ids, in the order of ``names``."""
        if not names:
            return []
        parent = self.query_one("SELECT * FROM runs WHERE id = ?", (parent_run_id,))
        if parent is None:
            raise RunNotFound(f"No run with id {parent_run_id!r}. List runs with `%mlops runs`.")
        now = utcnow()
        ids = list(ids) if ids is not None else [new_id() for _ in names]
        cols = ("notebook_path", "kernel_id", "source", "git_commit", "git_dirty")
        shared = [parent[c] for c in cols] + [
            parent["environment_id"],
            parent["user"],
            parent["host"],
        ]
        with self.write():
            self.conn.executemany(
                """INSERT INTO runs (id, experiment_id, name, status, started_at, ended_at,
                   parent_run_id, notebook_path, kernel_id, source, git_commit, git_dirty,
                   environment_id, user, host, tags, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}',
                   (SELECT name FROM session.actor))""",
                [
                    (i, parent["experiment_id"], n, status, at, at, parent_run_id, *shared)
                    for i, n, at in zip(ids, names, _instants(now, len(names)))
                ],
            )
        return ids

    def log_params_many(
        self, rows: Iterable[tuple[str, str, Any, str]], *, execution_id: int | None = None
    ) -> None:
        """Params of new runs in bulk: ``(run_id, key, value, source)``; no run may hold them yet."""
        rows = list(rows)
        if not rows:  # every cell's record asks, most cells with none
            return
        now = utcnow()
        data = [(r, str(k), dumps(_scalar(v)), execution_id, src, now) for r, k, v, src in rows]
        with self.write():
            stale = self._summaries()._stale_among({d[0] for d in data})
            self.conn.executemany(
                """INSERT OR IGNORE INTO params (run_id, key, value, execution_id, source,
                   logged_at, actor) VALUES (?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                data,
            )
            self._summaries()._summarize_params(
                [(r, k, loads(v), src) for r, k, v, _, src, _ in data], stale
            )

    def log_metrics_many(
        self,
        rows: Iterable[tuple[str, str, float | None, int | None]],
        *,
        execution_id: int | None = None,
    ) -> None:
        """Metric points of several runs at once: ``(run_id, key, value, step)``."""
        rows = list(rows)
        if not rows:  # a cell's record asks twice, most cells with none
            return
        now, actor = utcnow(), self.actor
        self.insert_metric_rows(
            [
                (r, str(k), s, None if v is None else float(v), now, execution_id, actor)
                for r, k, v, s in rows
            ]
        )

    def record_metric_origins(
        self,
        rows: Iterable[tuple[str, str, str, str | None, str | None, str | None, Mapping[str, Any]]],
        *,
        execution_id: int | None = None,
    ) -> None:
        """Where metrics came from: ``(run_id, key, producer, split, model fingerprint, model
        name, detail)``; the latest origin of a key wins."""
        data = [
            (r, k, p, s, fp, mn, execution_id, dumps(dict(d))) for r, k, p, s, fp, mn, d in rows
        ]
        if data:
            with self.write():
                self.conn.executemany(
                    """INSERT OR REPLACE INTO metric_origins (run_id, key, producer, split,
                       model_fingerprint, model_name, execution_id, detail, actor)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                    data,
                )

    def metric_origins(self, run_id: str) -> dict[str, dict[str, Any]]:
        """``{key: {producer, split, model_fingerprint, model_name, execution_id, detail}}``."""
        rows = self.query("SELECT * FROM metric_origins WHERE run_id = ? ORDER BY key", (run_id,))
        out = {}
        for row in rows:
            row["detail"] = loads(row["detail"])
            out[row.pop("key")] = row
            row.pop("run_id")
        return out

    def find_run(self, run_id: str) -> dict[str, Any] | None:
        """The run with this id, or with this unique id prefix / name; ``None`` if none."""
        sql = """SELECT r.*, e.name AS experiment FROM runs r
                 JOIN experiments e ON e.id = r.experiment_id"""
        row = self.query_one(sql + " WHERE r.id = ?", (run_id,))
        if row is None and run_id:
            rows = self.query(sql + " WHERE r.id LIKE ? OR r.name = ?", (run_id + "%", run_id))
            if len(rows) > 1:
                raise InvalidInput(
                    f"{run_id!r} matches {len(rows)} runs. "
                    "Give more characters of the run id (see `%mlops runs`)."
                )
            row = rows[0] if rows else None
        if row is not None:
            row["tags"] = loads(row["tags"])
            live_status(row)
        return row

    def get_run(self, run_id: str) -> dict[str, Any]:
        row = self.find_run(run_id)
        if row is None:
            raise RunNotFound(f"No run with id {run_id!r}. List runs with `%mlops runs`.")
        return row

    def list_runs(
        self, experiment: str | None = None, run_ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        where, args = self._runs_where(experiment, run_ids)
        rows = self.query(
            f"""SELECT r.*, e.name AS experiment FROM runs r
                JOIN experiments e ON e.id = r.experiment_id {where}
                ORDER BY r.started_at""",
            args,
        )
        for row in rows:
            row["tags"] = loads(row["tags"])
            live_status(row)
        return rows

    def crashed_runs(self) -> set[str]:
        """Ids of the runs stored ``running`` whose process is gone (see :mod:`.liveness`)."""
        try:
            rows = self.query(
                "SELECT id, pid, host, process FROM runs WHERE status = 'running' AND pid IS NOT NULL"
            )
        except sqlite3.OperationalError:  # a store read without upgrading: no pid column
            return set()
        return {r["id"] for r in rows if is_gone(r["pid"], r["host"], r["process"])}

    def _runs_where(
        self, experiment: str | None, run_ids: Sequence[str] | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if experiment is not None:
            exp_id = self.get_experiment(experiment)["id"]
            clauses.append("r.experiment_id = ?")
            args.append(exp_id)
        if run_ids is not None:
            ids = [self.get_run(r)["id"] for r in run_ids]
            clauses.append(f"r.id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), args

    def end_run(self, run_id: str, status: str = "finished") -> None:
        if status not in RUN_STATUSES:
            raise InvalidInput(f"Unknown run status {status!r}. Use one of {RUN_STATUSES}.")
        with self.write():
            self.conn.execute(
                "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?",
                (status, utcnow(), run_id),
            )

    def set_run_facts(
        self,
        run_id: str,
        *,
        environment_id: str | None,
        git_commit: str | None,
        git_dirty: bool | None,
    ) -> None:
        """Add facts looked up after the run started to it and to its child runs."""
        with self.write():
            self.conn.execute(
                """UPDATE runs SET environment_id = COALESCE(environment_id, ?),
                   git_commit = COALESCE(git_commit, ?), git_dirty = COALESCE(git_dirty, ?)
                   WHERE id = ? OR parent_run_id = ?""",
                (
                    environment_id,
                    git_commit,
                    None if git_dirty is None else int(git_dirty),
                    run_id,
                    run_id,
                ),
            )

    def set_run_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        with self.write():
            current = loads(
                self.conn.execute("SELECT tags FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
            )
            current.update(tags)
            self.conn.execute("UPDATE runs SET tags = ? WHERE id = ?", (dumps(current), run_id))

    def totals(self) -> dict[str, int]:
        """How many rows of each kind the whole store holds (``mlops-jupyter demo``)."""
        row = self.query_one(
            """SELECT (SELECT COUNT(*) FROM executions) AS executions,
                      (SELECT COUNT(*) FROM params) AS params,
                      (SELECT COUNT(*) FROM metrics) AS metrics,
                      (SELECT COUNT(*) FROM datasets) AS dataset_versions,
                      (SELECT COUNT(*) FROM models) AS models,
                      (SELECT COUNT(*) FROM lineage) AS lineage_edges"""
        )
        return {k: int(v or 0) for k, v in (row or {}).items()}

    def lineage_kinds(self) -> list[dict[str, Any]]:
        """Lineage edges counted by ``(src_type, relation, dst_type)``, as rows with ``n``."""
        return self.query(
            """SELECT src_type, relation, dst_type, COUNT(*) AS n FROM lineage
               GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        )

    def run_counts(self, run_id: str) -> dict[str, int]:
        """How many executions, params, metric keys, datasets and models a run holds."""
        row = self.query_one(
            """SELECT
                 (SELECT COUNT(*) FROM executions WHERE run_id = :r) AS executions,
                 (SELECT COUNT(*) FROM params WHERE run_id = :r) AS params,
                 (SELECT COUNT(DISTINCT key) FROM metrics WHERE run_id = :r) AS metrics,
                 (SELECT COUNT(DISTINCT id) FROM (
                    SELECT src_id AS id FROM lineage WHERE run_id = :r AND src_type = 'dataset'
                    UNION SELECT dst_id FROM lineage WHERE run_id = :r AND dst_type = 'dataset'
                 )) AS datasets,
                 (SELECT COUNT(DISTINCT id) FROM (
                    SELECT src_id AS id FROM lineage WHERE run_id = :r AND src_type = 'model'
                    UNION SELECT dst_id FROM lineage WHERE run_id = :r AND dst_type = 'model'
                 )) AS models""",
            {"r": run_id},
        )
        return {k: int(v or 0) for k, v in (row or {}).items()}

    # -- executions -----------------------------------------------------------------------

    def add_execution(
        self,
        run_id: str,
        *,
        code: str,
        code_hash: str,
        started_at: str,
        duration_s: float | None,
        status: str,
        execution_count: int | None = None,
        cell_id: str | None = None,
        error: str | None = None,
        reads: Iterable[str] = (),
        writes: Iterable[str] = (),
    ) -> int:
        """Insert one cell execution; call inside :meth:`write` to group it with its facts."""
        with self.write_one():
            cur = self.conn.execute(
                """INSERT INTO executions (run_id, execution_count, cell_id, code, code_hash,
                   started_at, duration_s, status, error, reads, writes, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                (
                    run_id,
                    execution_count,
                    cell_id,
                    code,
                    code_hash,
                    started_at,
                    duration_s,
                    status,
                    error,
                    dumps(sorted(reads)),
                    dumps(sorted(writes)),
                ),
            )
            return int(cur.lastrowid or 0)

    def list_executions(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM executions WHERE run_id = ? ORDER BY id", (run_id,))
        for row in rows:
            row["reads"] = loads(row["reads"])
            row["writes"] = loads(row["writes"])
        return rows

    def get_execution(self, execution_id: int) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM executions WHERE id = ?", (execution_id,))
        if row:
            row["reads"] = loads(row["reads"])
            row["writes"] = loads(row["writes"])
        return row

    # -- params ---------------------------------------------------------------------------

    def log_params(
        self,
        run_id: str,
        params: Mapping[str, Any],
        *,
        execution_id: int | None = None,
        source: str = "auto",
    ) -> None:
        """Set params on a run (last write wins). Values must be JSON scalars or are str()-ed."""
        now = utcnow()
        rows = [
            (run_id, str(k), dumps(_scalar(v)), execution_id, source, now)
            for k, v in params.items()
        ]
        if not rows:
            return
        with self.write():
            stale = self._summaries()._stale_among({run_id})
            # Not an UPSERT: SQLite makes a trigger's INSERT OR IGNORE (compare_stale) fail
            # under ON CONFLICT DO UPDATE. Unchanged values are left alone (no trigger fires).
            self.conn.executemany(
                """UPDATE params SET value = ?, execution_id = ?, source = ?, logged_at = ?
                   WHERE run_id = ? AND key = ? AND (value IS NOT ? OR source IS NOT ?)""",
                [(v, ex, src, at, r, k, v, src) for r, k, v, ex, src, at in rows],
            )
            self.conn.executemany(
                """INSERT OR IGNORE INTO params (run_id, key, value, execution_id, source,
                   logged_at, actor) VALUES (?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                rows,
            )
            self._summaries()._summarize_params(
                [(r, k, loads(v), src) for r, k, v, _, src, _ in rows], stale
            )

    def attach_explicit_params(self, run_id: str, execution_id: int, since: str) -> None:
        """Tie params set by ``mj.log_param`` during a cell (since its start) to its execution."""
        with self.write_one():
            self.conn.execute(
                """UPDATE params SET execution_id = ? WHERE run_id = ? AND source = 'explicit'
                   AND execution_id IS NULL AND logged_at >= ?""",
                (execution_id, run_id, since),
            )

    def get_params(self, run_id: str) -> dict[str, Any]:
        return {
            r["key"]: loads(r["value"])
            for r in self.query(
                "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", (run_id,)
            )
        }

    def list_params(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM params WHERE run_id = ? ORDER BY key", (run_id,))
        for row in rows:
            row["value"] = loads(row["value"])
        return rows

    # -- metrics --------------------------------------------------------------------------

    def log_metrics(
        self,
        run_id: str,
        metrics: Iterable[tuple[str, float | None, int | None, str | None]],
        *,
        execution_id: int | None = None,
    ) -> tuple[int, int] | None:
        """Append metric points: ``(key, value, step, logged_at)``; ``logged_at`` None = now.

        Returns the ids given to them (first, last), or None when there were none.
        """
        metrics = list(metrics)
        if not metrics:  # (most cells' records: no time or actor to look up)
            return None
        now, actor = utcnow(), self.actor
        rows = [
            (
                run_id,
                str(key),
                step,
                None if value is None else float(value),
                at or now,
                execution_id,
                actor,
            )
            for key, value, step, at in metrics
        ]
        return self.insert_metric_rows(rows)

    def insert_points(
        self, run_id: str, points: list[tuple[str, float | None, int | None, Any]]
    ) -> tuple[int, int] | None:
        """Buffered points ``(key, value, step, time)`` of one run (:mod:`.points`)."""
        from .points import insert_points

        return insert_points(self, run_id, points)

    def insert_metric_rows(self, rows: list[tuple[Any, ...]]) -> tuple[int, int] | None:
        """Append metric rows as they are stored: ``(run_id, key, step, value, logged_at,
        execution_id, actor)``, values already floats or None. Returns the ids given to them
        (first, last), or None when there were none. (The flusher's points go through
        :meth:`insert_points`, which on PostgreSQL comes here.)

        The actor is bound with the row, the cheapest way for 100,000 of them: #15's
        ``mlops_actor()`` in the INSERT was a Python call per row and doubled such a flush
        (0.80 s against 0.35 s)."""
        if not rows:
            return None
        with self.write():
            before = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM metrics").fetchone()[0]
            self.conn.executemany(
                """INSERT INTO metrics (run_id, key, step, value, logged_at, execution_id, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                rows,
            )
            latest: dict[str, dict[str, Any]] = {}
            for run, key, _step, value, *_ in rows:  # the latest point of each key wins
                latest.setdefault(run, {})[key] = value
            self._summaries()._summarize_points(int(before) + 1, len(rows), latest)
        return int(before) + 1, int(before) + len(rows)  # ids only grow, inside one transaction

    def adopt_metrics(
        self,
        run_id: str,
        execution_id: int,
        since: str,
        *,
        first: int,
        last: int,
        runs: Sequence[str],
    ) -> None:
        """Tie points written while a cell ran (ids ``first``..``last`` in ``runs``, logged since
        ``since``, no execution yet) to the cell's execution and run (a child it started)."""
        marks = ", ".join("?" for _ in runs)
        with self.write_one():
            self.conn.execute(
                f"""UPDATE metrics SET run_id = ?, execution_id = ? WHERE id BETWEEN ? AND ?
                    AND execution_id IS NULL AND logged_at >= ? AND run_id IN ({marks})""",
                (run_id, execution_id, first, last, since, *runs),
            )

    def latest_metrics(self, run_id: str) -> dict[str, float | None]:
        """Last logged value of each metric key."""
        return {
            r["key"]: r["value"]
            for r in self.query(
                """SELECT key, value FROM metrics WHERE id IN
                   (SELECT MAX(id) FROM metrics WHERE run_id = ? GROUP BY key) ORDER BY key""",
                (run_id,),
            )
        }

    def metric_history(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        if key is None:
            return self.query("SELECT * FROM metrics WHERE run_id = ? ORDER BY id", (run_id,))
        return self.query(
            "SELECT * FROM metrics WHERE run_id = ? AND key = ? ORDER BY id", (run_id, key)
        )

    # -- environments ---------------------------------------------------------------------

    def record_environment(
        self, python_version: str, platform: str, packages: Mapping[str, str]
    ) -> str:
        """Store an environment once per distinct content; returns its id (a content hash)."""
        body = dumps(
            {
                "python": python_version,
                "platform": platform,
                "packages": dict(sorted(packages.items())),
            }
        )
        env_id = hashlib.sha256(body.encode()).hexdigest()[:16]
        if self.query_one("SELECT 1 AS x FROM environments WHERE id = ?", (env_id,)) is None:
            with self.write():
                self.conn.execute(
                    """INSERT OR IGNORE INTO environments (id, python_version, platform, packages,
                       created_at, actor) VALUES (?, ?, ?, ?, ?,
                       (SELECT name FROM session.actor))""",
                    (
                        env_id,
                        python_version,
                        platform,
                        dumps(dict(sorted(packages.items()))),
                        utcnow(),
                    ),
                )
        return env_id

    def get_environment(self, env_id: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT * FROM environments WHERE id = ?", (env_id,))
        if row:
            row["packages"] = loads(row["packages"])
        return row


def _instants(start: str, n: int) -> list[str]:
    """``n`` distinct timestamps from ``start`` a microsecond apart: runs made together sort
    in the order they were made, on any database (none promises an order among equals)."""
    from datetime import datetime, timedelta

    t0 = datetime.fromisoformat(start)
    return [(t0 + timedelta(microseconds=i)).isoformat(timespec="microseconds") for i in range(n)]


def _param_cell(text: str) -> Any:
    """A stored param as the runs table shows it: JSON scalars decoded, booleans as text."""
    value = loads(text)
    if isinstance(value, bool):
        return str(value)
    return value


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            v = item()
            if isinstance(v, (bool, int, float, str)):
                return v
        except (TypeError, ValueError):
            pass
    return str(value)


class RunsFrameMixin(RunsMixin):
    def runs_frame(
        self, experiment: str | None = None, run_ids: Sequence[str] | None = None
    ) -> Any:
        """One row per run: run attributes, ``params.<key>`` and ``metrics.<key>`` (latest).

        Shaped like ``mlflow.search_runs``; newest run first.
        """
        import pandas as pd

        where, args = self._runs_where(experiment, run_ids)
        columns = [
            "run_id", "experiment", "run_name", "status", "started_at", "ended_at",
            "parent_run_id", "source", "notebook_path", "git_commit", "environment_id",
        ]  # fmt: skip
        runs = pd.DataFrame(
            self.query(
                f"""SELECT r.id AS run_id, e.name AS experiment, r.name AS run_name, r.status,
                    r.started_at, r.ended_at, r.parent_run_id, r.source, r.notebook_path,
                    r.git_commit, r.environment_id
                    FROM runs r JOIN experiments e ON e.id = r.experiment_id {where}
                    ORDER BY r.started_at DESC""",
                args,
            ),
            columns=columns,
        )
        scope = f"SELECT r.id FROM runs r {where}"
        params = pd.DataFrame(
            [
                {"run_id": r["run_id"], "key": r["key"], "value": _param_cell(r["value"])}
                for r in self.query(
                    f"SELECT run_id, key, value FROM params WHERE run_id IN ({scope})", args
                )
            ],
            columns=["run_id", "key", "value"],
        )
        metrics = pd.DataFrame(
            self.query(
                f"""SELECT run_id, key, value FROM metrics WHERE id IN (
                    SELECT MAX(id) FROM metrics WHERE run_id IN ({scope}) GROUP BY run_id, key)""",
                args,
            ),
            columns=["run_id", "key", "value"],
        )
        crashed = self.crashed_runs()
        if crashed:
            runs.loc[runs["run_id"].isin(crashed), "status"] = CRASHED
        frame = runs.set_index("run_id")
        for prefix, long in (("params.", params), ("metrics.", metrics)):
            if long.empty:
                continue
            wide = long.pivot(index="run_id", columns="key", values="value")
            wide = wide.reindex(sorted(wide.columns), axis=1).infer_objects()
            wide.columns = [prefix + str(c) for c in wide.columns]
            frame = frame.join(wide)
        return frame.reset_index()
