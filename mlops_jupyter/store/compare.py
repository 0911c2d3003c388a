"""Read queries for comparing runs: the runs table fast, metric histories of many runs, where
each metric came from.

The runs table reads one summary row per run (``compare_summaries``: params and latest metrics
as JSON) instead of every param and metric row, so 10,000 runs load in a fraction of a second.
The summaries are a derived cache, rebuildable from ``params`` and ``metrics`` at any moment,
kept current by the write that changes them (in its transaction, from the rows it inserted:
the first read after 50,000 new runs has nothing left to fold) and refreshed at read time for
whatever another writer left behind:

- ``compare_state.metric_watermark`` is the last metrics id folded in (ids only grow; a delete
  lowers the watermark). A write folds its own points only when the watermark stood just below
  them, so points of an older writer are folded on read, in id order, never skipped;
- param writes and metric deletes mark their run in ``compare_stale`` (small triggers); a param
  write merges its values into a run that was current and clears the mark, and the read
  recomputes the runs still marked in full.

A store that cannot be written (read-only file) falls back to the exact row-by-row query.
Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
Run ids are bound as one JSON array (``json_each``), so thousands of runs never hit SQLite's
limit on bound variables.
"""

from __future__ import annotations

import atexit
import json
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from .base import Migrations, SqlDb, StoreBase
from .present import has_table
from .summary_frame import (
    FRAME_FORMAT,
    KEEP,
    RUN_FIELDS,
    FrameCache,
    decode_frame,
    encode_frame,
    frame_from_rows,
    merge,
)

migrations = Migrations("mlops_jupyter.compare")
_Summary = tuple[dict[str, Any], dict[str, Any], set[str]]  # params, latest metrics, defaults


@migrations()
def m001_create_summaries(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE compare_summaries (
            run_id TEXT PRIMARY KEY,          -- runs.id (no foreign key: a derived cache)
            params TEXT NOT NULL DEFAULT '{}',  -- JSON {key: value}
            metrics TEXT NOT NULL DEFAULT '{}'  -- JSON {key: latest value}
        );
        CREATE TABLE compare_stale (run_id TEXT PRIMARY KEY) WITHOUT ROWID;
        CREATE TABLE compare_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT INTO compare_state (name, value) VALUES ('metric_watermark', 0);
        INSERT INTO compare_stale (run_id) SELECT DISTINCT run_id FROM params;
        CREATE TRIGGER compare_params_insert AFTER INSERT ON params BEGIN
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (NEW.run_id);
        END;
        CREATE TRIGGER compare_params_update AFTER UPDATE ON params BEGIN
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (NEW.run_id);
        END;
        CREATE TRIGGER compare_params_delete AFTER DELETE ON params BEGIN
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (OLD.run_id);
        END;
        CREATE TRIGGER compare_metrics_delete AFTER DELETE ON metrics BEGIN
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (OLD.run_id);
            UPDATE compare_state SET value = MIN(value, OLD.id - 1)
                WHERE name = 'metric_watermark';
        END;
        CREATE TRIGGER compare_metrics_update AFTER UPDATE ON metrics BEGIN
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (NEW.run_id);
            INSERT OR IGNORE INTO compare_stale (run_id) VALUES (OLD.run_id);
        END;
        """
    )


@migrations()
def m002_add_default_params(db: SqlDb) -> None:
    """Which params of each run hold their estimator's default (``params.source = 'default'``),
    so the table can show the params the user set."""
    db.executescript(
        """
        ALTER TABLE compare_summaries ADD COLUMN defaults TEXT NOT NULL DEFAULT '[]';
        INSERT OR IGNORE INTO compare_stale (run_id) SELECT DISTINCT run_id FROM params;
        """
    )


@migrations()
def m003_add_summary_versions(db: SqlDb) -> None:
    """Which summaries changed since a reader's last look (#18): every saved summary, and every
    run created or updated, takes the next ``compare_state.version``, so a process that keeps
    its runs table re-reads only those runs. Deleting a run, moving it to another experiment or
    renaming an experiment counts a reset (``resets``): readers start afresh."""
    db.executescript(
        """
        ALTER TABLE compare_summaries ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX idx_compare_summaries_version ON compare_summaries(version);
        INSERT INTO compare_state (name, value) VALUES ('version', 0);
        INSERT INTO compare_state (name, value) VALUES ('resets', 0);
        INSERT OR IGNORE INTO compare_summaries (run_id) SELECT id FROM runs;
        CREATE TRIGGER compare_runs_insert AFTER INSERT ON runs BEGIN
            UPDATE compare_state SET value = value + 1 WHERE name = 'version';
            INSERT OR IGNORE INTO compare_summaries (run_id, version)
                VALUES (NEW.id, (SELECT value FROM compare_state WHERE name = 'version'));
        END;
        CREATE TRIGGER compare_runs_update AFTER UPDATE ON runs BEGIN
            UPDATE compare_state SET value = value + 1 WHERE name = 'version';
            UPDATE compare_summaries SET version =
                (SELECT value FROM compare_state WHERE name = 'version') WHERE run_id = NEW.id;
        END;
        CREATE TRIGGER compare_runs_delete AFTER DELETE ON runs BEGIN
            DELETE FROM compare_summaries WHERE run_id = OLD.id;
            UPDATE compare_state SET value = value + 1 WHERE name = 'resets';
        END;
        CREATE TRIGGER compare_runs_move AFTER UPDATE OF experiment_id ON runs BEGIN
            UPDATE compare_state SET value = value + 1 WHERE name = 'resets';
        END;
        CREATE TRIGGER compare_experiments_update AFTER UPDATE ON experiments BEGIN
            UPDATE compare_state SET value = value + 1 WHERE name = 'resets';
        END;
        """
    )


@migrations()
def m004_add_frame_copies(db: SqlDb) -> None:
    """The runs table as bytes, for the next process (#18): a new kernel's first ``mj.runs()``
    at 50,000 runs decodes it and re-reads only the runs changed since, instead of reading and
    building all of them (1.1-1.8 s). A derived cache like the summaries: dropping its rows
    loses nothing. Also a partial index for the running runs every runs table looks up."""
    db.executescript(
        """
        CREATE TABLE compare_frames (
            key TEXT PRIMARY KEY,          -- 'all', or 'experiment:' + the experiment's name
            version INTEGER NOT NULL,      -- compare_state.version the table was read at
            resets INTEGER NOT NULL,       -- compare_state.resets then (a mismatch: unusable)
            format INTEGER NOT NULL,       -- summary_frame.FRAME_FORMAT of data
            data BLOB NOT NULL             -- summary_frame.encode_frame
        );
        -- every runs table asks which runs are still running (to mark the crashed ones): at
        -- 50,000 runs that scan was a third of a first read
        CREATE INDEX idx_runs_running ON runs(status) WHERE status = 'running';
        """
    )


@migrations()
def m005_index_default_params(db: SqlDb) -> None:
    """The runs whose summary lists default-valued params, indexed (#18): a table of 50,000
    runs asked for them through a 50,000-id ``json_each`` join (0.07-0.12 s)."""
    db.executescript(
        """CREATE INDEX idx_compare_summaries_defaults ON compare_summaries(run_id)
           WHERE defaults != '[]';"""
    )


# From this many runs, per-run lookups read the (indexed) rows that have something and keep
# those of the runs asked for, instead of joining the ids.
MANY_RUNS = 2_000
_RUN_FIELDS = RUN_FIELDS
# A copy of a runs table is stored once this many of its runs (and a tenth of them) were read
# since the last copy: a first read of 1,000 runs or more, or changes piling up after it.
COPY_MIN_RUNS = 1_000


class CompareMixin(StoreBase):
    # -- the runs table ----------------------------------------------------------------------

    def compare_frame(
        self, experiment: str | None = None, run_ids: Sequence[str] | None = None
    ) -> Any:
        """The runs table (as ``runs_frame``: run columns, ``params.*``, latest ``metrics.*``;
        newest first), read from the per-run summaries."""
        from .runs import RunsFrameMixin

        assert isinstance(self, RunsFrameMixin)
        where, args = self._runs_where(experiment, run_ids)
        try:
            self.refresh_summaries()
        except sqlite3.OperationalError:  # read-only store: the exact, slower query
            return self.runs_frame(experiment, run_ids)
        with self._lock:
            key = None if run_ids else ("experiment", experiment)  # (None: every run)
            frame = self._summary_frame(where, args, cache_key=key)
        crashed = self.crashed_runs()  # running, but its process is gone
        if crashed:
            frame["status"] = [
                "crashed" if r in crashed else s for r, s in zip(frame["run_id"], frame["status"])
            ]
        return frame

    def _summary_frame(self, where: str, args: list[Any], cache_key: Any) -> Any:
        """The runs table from the summaries; with a ``cache_key`` (a whole experiment, or all
        runs) the last table is kept and only runs whose summary version moved are re-read."""
        fields = ", ".join(expr for expr, _ in _RUN_FIELDS)
        every = f"""SELECT {fields}, s.params, s.metrics
                    FROM runs r JOIN experiments e ON e.id = r.experiment_id
                    LEFT JOIN compare_summaries s ON s.run_id = r.id"""
        sql = f"{every} {where}"
        order = " ORDER BY r.started_at DESC, r.id DESC"  # ties (a search's children) too
        if cache_key is None:
            return frame_from_rows(self.conn.execute(sql + order, args).fetchall())
        cache: FrameCache = self.__dict__.setdefault("_frame_cache", FrameCache())
        # The versions are read before the rows (no snapshot needed, nor a transaction, which
        # a PostgreSQL store would take its write lock for): a change committed in between
        # has a newer version and is simply read again next time.
        state = dict(
            self.conn.execute(
                "SELECT name, value FROM compare_state WHERE name IN ('version', 'resets')"
            ).fetchall()
        )
        version, resets = int(state.get("version", 0)), int(state.get("resets", 0))
        kept = cache.get(self.conn, cache_key)
        if kept is None and "version" in state:  # a new process: the copy the store keeps
            kept = self._stored_frame(cache_key)
            if kept is not None:
                cache.unsaved[cache_key] = 0
        if kept is not None and kept[1] == resets and "version" in state:
            if kept[0] == version:
                frame = kept[2]
            else:
                rows = self._changed_rows(every, where, args, order, kept[0])
                frame = merge(kept[2], frame_from_rows(rows))
                cache.unsaved[cache_key] = cache.unsaved.get(cache_key, 0) + len(rows)
        else:
            frame = frame_from_rows(self.conn.execute(sql + order, args).fetchall())
            cache.unsaved[cache_key] = len(frame)
        cache.put(cache_key, version, resets, frame)
        if "version" in state and cache.unsaved.get(cache_key, 0) >= max(
            COPY_MIN_RUNS, len(frame) // 10
        ):
            cache.unsaved[cache_key] = 0
            self._save_frame(cache_key, version, resets, frame)
        return frame.copy()

    def _changed_rows(
        self, every: str, where: str, args: list[Any], order: str, since: int
    ) -> list[Any]:
        """The rows of the table's runs (``every`` row, ``where``: a whole experiment or all
        runs) whose summary version is past ``since``. A few are looked up by id: asked in one
        query, SQLite walked every run of the experiment to check each one's version (0.13 s
        at 50,000 runs, for one new run)."""
        changed = self.conn.execute(
            "SELECT run_id FROM compare_summaries WHERE version > ?", (since,)
        ).fetchall()
        if len(changed) > MANY_RUNS:
            clause = ("AND" if where else "WHERE") + " s.version > ?"
            sql = f"{every} {where} {clause}{order}"
            return self.conn.execute(sql, [*args, since]).fetchall()
        if not changed:
            return []
        ids = json.dumps([row[0] for row in changed])
        rows = self.conn.execute(
            f"{every} WHERE r.id IN (SELECT value FROM json_each(?)){order}", [ids]
        ).fetchall()
        if not args:  # every run
            return rows
        # The experiment's own (args: its id, from _runs_where; row[1] is its name), filtered
        # here: with the experiment in the query SQLite walked its runs again.
        (name,) = self.conn.execute("SELECT name FROM experiments WHERE id = ?", args).fetchone()
        return [row for row in rows if row[1] == name]

    @staticmethod
    def _frame_key(cache_key: Any) -> str:
        return "all" if cache_key[1] is None else f"experiment:{cache_key[1]}"

    def _stored_frame(self, cache_key: Any) -> tuple[int, int, Any] | None:
        """The copy of this runs table the store keeps (``compare_frames``), or None."""
        if not has_table(self, "compare_frames"):
            return None  # an older store read as it is
        row = self.conn.execute(
            "SELECT version, resets, format, data FROM compare_frames WHERE key = ?",
            (self._frame_key(cache_key),),
        ).fetchone()
        if row is None or int(row[2]) != FRAME_FORMAT:
            return None
        frame = decode_frame(row[3])
        return None if frame is None else (int(row[0]), int(row[1]), frame)

    def _save_frame(self, cache_key: Any, version: int, resets: int, frame: Any) -> None:
        """Keep ``frame`` in the store for the next process: encoded on a thread of its own,
        written by the store's writer (never on the reading cell's time; on the calling thread
        in :meth:`keep_copies`, at exit). A copy that cannot be written is simply not there
        next time."""
        if self.readonly or not has_table(self, "compare_frames"):
            return
        key = self._frame_key(cache_key)

        def encode() -> None:
            try:
                data = encode_frame(frame)
            except (TypeError, ValueError):  # a value JSON cannot hold: no copy
                return

            def job(store: Any) -> None:
                store.conn.execute("DELETE FROM compare_frames WHERE resets < ?", (resets,))
                store.conn.execute(
                    """INSERT OR REPLACE INTO compare_frames (key, version, resets, format, data)
                       VALUES (?, ?, ?, ?, ?)""",
                    (key, version, resets, FRAME_FORMAT, data),
                )

            if now:
                with self.write():
                    job(self)
            else:
                self.write_later(job, lambda exc: None)

        now = bool(self.__dict__.get("_copy_now"))
        if now:
            encode()
            return
        thread = threading.Thread(target=encode, name="mlops-frame-copy", daemon=True)
        self.__dict__["_frame_copy"] = thread
        thread.start()

    def close(self) -> None:
        if self.__dict__.pop("_copies_at_exit", False):
            atexit.unregister(self.keep_copies)
            self.keep_copies()
        thread = self.__dict__.get("_frame_copy")
        if thread is not None:
            thread.join(30.0)  # a copy being encoded is written before the connection goes
        super().close()

    def wait_for_frame_copy(self, timeout: float = 60.0) -> None:
        """Block until the last stored copy of a runs table is written (tests, benches)."""
        thread = self.__dict__.get("_frame_copy")
        if thread is not None:
            thread.join(timeout)
        self.wait_for_writes(timeout)

    def _count_changed_runs(self, n: int) -> None:
        """After 1,000 summary writes in this process, look at exit (or close) for tables with
        that many changed runs to keep copies of (:meth:`keep_copies` decides by the runs)."""
        changed = self.__dict__.get("_changed_runs", 0) + n
        self.__dict__["_changed_runs"] = changed
        if changed >= COPY_MIN_RUNS and not self.__dict__.get("_copies_at_exit"):
            self.__dict__["_copies_at_exit"] = True
            # At exit a module registering an exit hook of its own cannot be imported any
            # more: concurrent.futures, which pandas imports, is imported now.
            import concurrent.futures.thread  # noqa: F401

            atexit.register(self.keep_copies)  # (or at close(), whichever comes first)

    def keep_copies(self, limit: int = KEEP) -> list[str]:
        """Store a copy of the runs table of each experiment (the ``limit`` most changed) with
        1,000 runs or more changed since its copy, so the next process's first ``mj.runs()``
        decodes it instead of reading every run (#18: 0.5 s at 50,000 runs, against 0.13 s).
        Called at exit by a process that changed that many runs (a sweep, a script logging
        runs nobody has read yet); returns the experiments copied. Never raises: a copy is a
        cache, and the process is ending."""
        try:
            if self.readonly or not has_table(self, "compare_frames"):
                return []
            rows = self.query(
                """SELECT name FROM (
                     SELECT e.name AS name, COUNT(*) AS n, SUM(CASE WHEN s.version > COALESCE(
                         (SELECT f.version FROM compare_frames f
                          WHERE f.key = 'experiment:' || e.name), -1) THEN 1 ELSE 0 END) AS changed
                     FROM compare_summaries s JOIN runs r ON r.id = s.run_id
                     JOIN experiments e ON e.id = r.experiment_id GROUP BY e.name) t
                   WHERE changed >= ? AND changed * 10 >= n  -- as a reader's own rule
                   ORDER BY changed DESC LIMIT ?""",
                (COPY_MIN_RUNS, limit),
            )
            names = [str(r["name"]) for r in rows]
            self.__dict__["_copy_now"] = True  # encoded and written on this thread
            for name in names:
                self.compare_frame(name)  # a read of that many changed runs stores a copy
            return names
        except Exception:  # a closed connection, a full disk: the next reader reads afresh
            return []
        finally:
            self.__dict__.pop("_copy_now", None)

    def refresh_summaries(self) -> int:
        """Fold new metric points and stale runs into ``compare_summaries``; returns how many
        runs were updated. Cheap when nothing changed (two indexed reads)."""
        state = self.query_one("SELECT value FROM compare_state WHERE name = 'metric_watermark'")
        watermark = int(state["value"]) if state else 0
        top = self.query_one("SELECT MAX(id) AS id FROM metrics")
        newest = int(top["id"] or 0) if top else 0
        if newest == watermark and self.query_one("SELECT 1 AS x FROM compare_stale") is None:
            return 0
        with self.write():
            state = self.query_one(
                "SELECT value FROM compare_state WHERE name = 'metric_watermark'"
            )
            watermark = int(state["value"]) if state else 0
            stale = [r[0] for r in self.conn.execute("SELECT run_id FROM compare_stale")]
            fresh = self._rebuild_summaries(stale) if stale else {}
            points = self.conn.execute(
                "SELECT id, run_id, key, value FROM metrics WHERE id > ? ORDER BY id",
                (watermark,),
            ).fetchall()
            touched = {run for _, run, _, _ in points if run not in fresh}
            current = self._load_summaries(touched)
            for _, run, key, value in points:
                if run not in fresh:  # a stale run was rebuilt from every point already
                    current[run][1][key] = value
            current.update(fresh)
            if points:
                watermark = max(watermark, points[-1][0])
            self._save_summaries(current)
            self.conn.execute(
                "UPDATE compare_state SET value = ? WHERE name = 'metric_watermark'",
                (watermark,),
            )
            if stale:
                self.conn.execute("DELETE FROM compare_stale")
        return len(current)

    # -- kept current at write time (inside the caller's write transaction) ------------------

    def _summarize_points(
        self, first_id: int, count: int, latest: dict[str, dict[str, Any]]
    ) -> None:
        """Fold the ``count`` metric points just inserted with ids ``first_id``.., whose last
        value of each run and key is ``latest[run][key]``, into the summaries, when every
        earlier point is folded already."""
        state = self.conn.execute(
            "SELECT value FROM compare_state WHERE name = 'metric_watermark'"
        ).fetchone()
        if not count or state is None or int(state[0]) != first_id - 1:
            return  # another writer's points come first: the next read folds all in order
        current = self._load_summaries(set(latest))
        for run, values in latest.items():
            current[run][1].update(values)
        self._save_summaries(current)
        self.conn.execute(
            "UPDATE compare_state SET value = ? WHERE name = 'metric_watermark'",
            (first_id + count - 1,),
        )

    def _stale_among(self, run_ids: set[str]) -> set[str]:
        """The runs of ``run_ids`` whose summary is marked stale (call before writing params)."""
        rows = self.conn.execute(
            "SELECT run_id FROM compare_stale WHERE run_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(run_ids)),),
        ).fetchall()
        return {r[0] for r in rows}

    def _summarize_params(
        self, rows: Sequence[tuple[str, str, Any, str]], stale_before: set[str]
    ) -> None:
        """Merge params ``(run_id, key, value, source)`` just written (last write wins) into the
        summaries of runs that were current before (``stale_before`` are rebuilt on read)."""
        runs = {r for r, _, _, _ in rows} - stale_before
        if not runs:
            return
        current = self._load_summaries(runs)
        for run, key, value, source in rows:
            if run in runs:
                current[run][0][key] = value
                (current[run][2].add if source == "default" else current[run][2].discard)(key)
        self._save_summaries(current)
        self.conn.execute(
            "DELETE FROM compare_stale WHERE run_id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(runs)),),
        )

    def _save_summaries(self, current: dict[str, _Summary]) -> None:
        if not current:
            return
        self._count_changed_runs(len(current))
        self.conn.execute("UPDATE compare_state SET value = value + 1 WHERE name = 'version'")
        self.conn.executemany(
            """INSERT INTO compare_summaries (run_id, params, metrics, defaults, version)
               VALUES (?, ?, ?, ?, (SELECT value FROM compare_state WHERE name = 'version'))
               ON CONFLICT(run_id) DO UPDATE SET params = excluded.params,
               metrics = excluded.metrics, defaults = excluded.defaults,
               version = excluded.version""",
            [(run, _dump(p), _dump(m), _dump(sorted(d))) for run, (p, m, d) in current.items()],
        )

    def _load_summaries(self, run_ids: set[str]) -> dict[str, _Summary]:
        if not run_ids:
            return {}
        rows = self.conn.execute(
            """SELECT run_id, params, metrics, defaults FROM compare_summaries
               WHERE run_id IN (SELECT value FROM json_each(?))""",
            (json.dumps(sorted(run_ids)),),
        ).fetchall()
        out = {run: (json.loads(p), json.loads(m), set(json.loads(d))) for run, p, m, d in rows}
        for run in run_ids - set(out):
            out[run] = ({}, {}, set())
        return out

    def _rebuild_summaries(self, run_ids: list[str]) -> dict[str, _Summary]:
        """Params, latest metrics and default-valued param keys of these runs, from the source
        tables."""
        scope = json.dumps(run_ids)
        out: dict[str, _Summary] = {r: ({}, {}, set()) for r in run_ids}
        for run, key, value, source in self.conn.execute(
            """SELECT run_id, key, value, source FROM params
               WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, key""",
            (scope,),
        ):
            out[run][0][key] = json.loads(value)
            if source == "default":
                out[run][2].add(key)
        for run, key, value in self.conn.execute(
            """SELECT run_id, key, value FROM metrics WHERE id IN (
                 SELECT MAX(id) FROM metrics WHERE run_id IN (SELECT value FROM json_each(?))
                 GROUP BY run_id, key)""",
            (scope,),
        ):
            out[run][1][key] = value
        return out

    def default_params(self, run_ids: Sequence[str]) -> dict[str, set[str]]:
        """run id -> keys of its params that hold the estimator's default value
        (``source = 'default'``); runs without any are left out."""
        scope = json.dumps(list(run_ids))
        try:
            self.refresh_summaries()
            if len(run_ids) > MANY_RUNS:
                wanted = set(run_ids)
                rows = self.query(
                    "SELECT run_id, defaults FROM compare_summaries WHERE defaults != '[]'"
                )
                rows = [r for r in rows if r["run_id"] in wanted]
            else:
                rows = self.query(
                    """SELECT run_id, defaults FROM compare_summaries
                       WHERE run_id IN (SELECT value FROM json_each(?)) AND defaults != '[]'""",
                    (scope,),
                )
            return {str(r["run_id"]): set(json.loads(r["defaults"])) for r in rows}
        except sqlite3.OperationalError:  # read-only store: straight from the params table
            out: dict[str, set[str]] = {}
            for r in self.query(
                """SELECT run_id, key FROM params WHERE source = 'default'
                   AND run_id IN (SELECT value FROM json_each(?))""",
                (scope,),
            ):
                out.setdefault(str(r["run_id"]), set()).add(str(r["key"]))
            return out

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

    def metric_shapes(self, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """key -> (the most points one run logged of it, its last step) over ``run_ids``, in
        one aggregate query (no points read). Steps are numbered as the curves number them: a
        point without a step counts as its position, so the last step of points without
        steps is their count - 1."""
        with self._lock:
            rows = self._metric_shapes_rows(run_ids)
        return {str(k): (int(n), int(last if last is not None else 0)) for k, n, last in rows}

    def _metric_shapes_rows(self, run_ids: Sequence[str]) -> list[Any]:
        return self.conn.execute(
            """SELECT key, MAX(n), MAX(CASE WHEN unstepped > 0 AND n - 1 > COALESCE(top, -1)
                                          THEN n - 1 ELSE top END)
               FROM (SELECT key, COUNT(*) AS n, MAX(step) AS top,
                            SUM(CASE WHEN step IS NULL THEN 1 ELSE 0 END) AS unstepped
                     FROM metrics WHERE run_id IN (SELECT value FROM json_each(?))
                     GROUP BY run_id, key)
               GROUP BY key""",
            (json.dumps(list(run_ids)),),
        ).fetchall()

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


def _dump(values: Any) -> str:
    """JSON with floats written exactly (Python's repr; inf and NaN as Infinity and NaN)."""
    return json.dumps(values, separators=(",", ":"), allow_nan=True)
