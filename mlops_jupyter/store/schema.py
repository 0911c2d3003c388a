"""Schema migrations, one :class:`~mlops_jupyter.store.base.Migrations` set per area.

Rules: a released migration is never edited; add ``m00N_...`` after it. ``PRAGMA user_version``
holds the total number of migrations applied, so opening an up-to-date store costs one PRAGMA.

Node ids used in ``lineage`` (``src_type``/``dst_type`` -> id):
``dataset`` -> dataset content fingerprint, ``execution`` -> executions.id, ``model`` -> model
fingerprint, ``metric`` -> "<run_id>:<key>", ``run`` -> runs.id, ``model_version`` -> "name@version",
``drift_report`` -> drift_reports.id, ``file`` -> absolute path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Migrations

if TYPE_CHECKING:
    from .base import SqlDb as Database

core = Migrations("mlops_jupyter.core")


@core()
def m001_create_core(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE experiments (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        CREATE TABLE environments (
            id TEXT PRIMARY KEY,              -- hash of python version + platform + packages
            python_version TEXT NOT NULL,
            platform TEXT NOT NULL,
            packages TEXT NOT NULL,           -- JSON {name: version}
            created_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            experiment_id TEXT NOT NULL REFERENCES experiments(id),
            name TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',   -- running | finished | failed
            started_at TEXT NOT NULL,
            ended_at TEXT,
            notebook_path TEXT,
            kernel_id TEXT,
            parent_run_id TEXT REFERENCES runs(id),
            source TEXT NOT NULL DEFAULT 'interactive', -- interactive | headless | script
            git_commit TEXT,
            git_dirty INTEGER,
            environment_id TEXT REFERENCES environments(id),
            user TEXT,
            host TEXT,
            tags TEXT NOT NULL DEFAULT '{}'           -- JSON {key: value}
        );
        CREATE INDEX idx_runs_experiment ON runs(experiment_id, started_at);
        CREATE INDEX idx_runs_parent ON runs(parent_run_id);
        CREATE TABLE executions (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            execution_count INTEGER,
            cell_id TEXT,                     -- the front end's cell id, when the kernel has it
            code TEXT NOT NULL,               -- secrets redacted
            code_hash TEXT NOT NULL,
            started_at TEXT NOT NULL,
            duration_s REAL,
            status TEXT NOT NULL,             -- ok | error
            error TEXT,                       -- one-line summary
            reads TEXT NOT NULL DEFAULT '[]', -- JSON list of names
            writes TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX idx_executions_run ON executions(run_id, id);
        CREATE INDEX idx_executions_cell ON executions(cell_id);
        CREATE TABLE params (
            run_id TEXT NOT NULL REFERENCES runs(id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,              -- JSON-encoded scalar
            execution_id INTEGER REFERENCES executions(id),
            source TEXT NOT NULL DEFAULT 'auto', -- auto | explicit | estimator | inherited
            logged_at TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        );
        CREATE TABLE metrics (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            key TEXT NOT NULL,
            step INTEGER,
            value REAL,
            logged_at TEXT NOT NULL,
            execution_id INTEGER REFERENCES executions(id)
        );
        CREATE INDEX idx_metrics_run_key ON metrics(run_id, key, id);
        CREATE TABLE dataset_contents (
            fingerprint TEXT PRIMARY KEY,
            kind TEXT NOT NULL,               -- dataframe | series | ndarray | file
            n_rows INTEGER,
            n_cols INTEGER,
            schema TEXT NOT NULL DEFAULT '{}', -- JSON {column: dtype}
            profile TEXT NOT NULL DEFAULT '{}', -- JSON {column: {count, nulls, ...}}
            snapshot_hash TEXT,               -- artifact holding the rows, when snapshotted
            created_at TEXT NOT NULL
        );
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            fingerprint TEXT NOT NULL REFERENCES dataset_contents(fingerprint),
            source_path TEXT,
            source_hash TEXT,
            run_id TEXT REFERENCES runs(id),
            execution_id INTEGER REFERENCES executions(id),
            created_at TEXT NOT NULL,
            UNIQUE (name, version)
        );
        CREATE INDEX idx_datasets_fingerprint ON datasets(fingerprint);
        CREATE INDEX idx_datasets_run ON datasets(run_id);
        CREATE TABLE artifacts (
            hash TEXT PRIMARY KEY,            -- xxh3_128 hex of the content
            size INTEGER NOT NULL,
            media_type TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE models (
            fingerprint TEXT PRIMARY KEY,
            class_name TEXT NOT NULL,
            params TEXT NOT NULL DEFAULT '{}', -- JSON get_params()
            artifact_hash TEXT REFERENCES artifacts(hash),
            name TEXT,                        -- the variable it was bound to
            run_id TEXT REFERENCES runs(id),
            execution_id INTEGER REFERENCES executions(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_models_run ON models(run_id);
        CREATE TABLE lineage (
            id INTEGER PRIMARY KEY,
            src_type TEXT NOT NULL,
            src_id TEXT NOT NULL,
            dst_type TEXT NOT NULL,
            dst_id TEXT NOT NULL,
            relation TEXT NOT NULL,           -- read | wrote | trained_on | evaluated | ...
            run_id TEXT REFERENCES runs(id),
            execution_id INTEGER REFERENCES executions(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX idx_lineage_src ON lineage(src_type, src_id);
        CREATE INDEX idx_lineage_dst ON lineage(dst_type, dst_id);
        CREATE INDEX idx_lineage_run ON lineage(run_id);
        """
    )


@core()
def m002_create_metric_origins(db: Database) -> None:
    """Where each captured metric came from: the call, the split, the model it scored."""
    db.executescript(
        """
        CREATE TABLE metric_origins (
            run_id TEXT NOT NULL REFERENCES runs(id),
            key TEXT NOT NULL,
            producer TEXT NOT NULL,           -- accuracy_score | score | cross_val_score | search ...
            split TEXT,                       -- train | test | val, when the data said so
            model_fingerprint TEXT,           -- the model whose predictions it scored
            model_name TEXT,
            execution_id INTEGER REFERENCES executions(id),
            detail TEXT NOT NULL DEFAULT '{}', -- JSON: the call's settings (average, scoring, cv)
            PRIMARY KEY (run_id, key)
        );
        """
    )


@core()
def m003_record_run_process(db: Database) -> None:
    """The process that runs a run (pid and a start-time token), so a dead one reads crashed."""
    db.executescript(
        """
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        ALTER TABLE runs ADD COLUMN process TEXT;  -- boot id:start time (Linux), see liveness.py
        """
    )


@core()
def m004_team_store(db: Database) -> None:
    """What a shared (PostgreSQL) store needs, on both backends so their schemas stay one:
    who wrote each row (``actor``: the database user or ``$MLOPS_JUPYTER_ACTOR``), artifacts
    kept in the database (``artifact_blobs``), the store's own id (``store_info``, so a push
    knows which store it came from) and what earlier pushes copied (``push_map``)."""
    tables = (
        "experiments", "environments", "runs", "executions", "params", "metrics",
        "dataset_contents", "datasets", "artifacts", "models", "lineage", "metric_origins",
    )  # fmt: skip
    db.executescript(
        "\n".join(f"ALTER TABLE {t} ADD COLUMN actor TEXT;" for t in tables)
        + """
        CREATE TABLE artifact_blobs (
            hash TEXT PRIMARY KEY REFERENCES artifacts(hash),
            data BLOB NOT NULL
        );
        CREATE TABLE store_info (
            key TEXT PRIMARY KEY,             -- store_id: this store's random id
            value TEXT NOT NULL
        );
        CREATE TABLE push_map (
            source_store TEXT NOT NULL,       -- store_info.store_id of the store pushed from
            tbl TEXT NOT NULL,                -- the table of the copied row
            source_id TEXT NOT NULL,          -- its id there
            target_id TEXT NOT NULL,          -- its id here
            PRIMARY KEY (source_store, tbl, source_id)
        );
        """
    )


def _area_sets() -> list[Any]:
    from . import (
        browse,
        compare,
        datadiff,
        drift,
        expectations,
        export,
        monitor,
        registry,
        resources,
        tags,
    )

    return [
        compare.migrations,
        drift.migrations,
        datadiff.migrations,
        registry.migrations,
        export.migrations,
        expectations.migrations,
        tags.migrations,
        resources.migrations,
        monitor.migrations,
        browse.migrations,  # views over the tables above: last
    ]


MIGRATION_SETS: list[Any] = [core, *_area_sets()]  # ours, or sqlite_utils.Migrations


def expected_version() -> int:
    return sum(len(m._migrations) for m in MIGRATION_SETS)
