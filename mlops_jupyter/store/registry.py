"""Model registry: versions, aliases, policies, hash-chained audit trail (issue #8).

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.

Tables:

- ``registered_models``: one row per model name.
- ``model_versions``: a stored model file (artifact) with its run, metrics, card, training and
  evaluation data references.
- ``eval_datasets``: snapshots (parquet artifacts) of evaluation or training data, one per
  fingerprint, so champion and challenger can be re-evaluated on the same rows later.
- ``aliases``: the current holder of each alias; ``alias_history``: every holder with its time
  range (``start_at`` .. ``end_at``, open while it holds).
- ``policies``: the promotion policy of a model (JSON).
- ``audit_records``: append-only, each row's ``hash`` = sha256 of its canonical JSON, which
  includes ``prev_hash``. Triggers refuse UPDATE and DELETE; the chain is what detects an edit
  made after dropping them. Since ``m002_audit_integrity``: ``details`` (JSON, chained) holds
  what a record vouches for (a register record: the sha256 of the model file, of the
  evaluation and training snapshots and of the version row), ``mac`` the HMAC-SHA256 of
  ``hash`` under ``$MLOPS_JUPYTER_AUDIT_KEY`` when that key is set.
- ``audit_head``: one row, the record count and the last hash (and their HMAC), written with
  every record, so records cut from the end of the trail show.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from ..config import audit_key
from ..errors import InvalidInput, ModelNotFound
from .base import Migrations, SqlDb, StoreBase, dumps, loads, utcnow

migrations = Migrations("mlops_jupyter.registry")

GENESIS_HASH = "0" * 64


@migrations()
def m001_create_registry(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        );
        CREATE TABLE eval_datasets (
            fingerprint TEXT PRIMARY KEY,     -- content fingerprint of features + target
            snapshot_hash TEXT NOT NULL REFERENCES artifacts(hash),  -- parquet bytes
            x_kind TEXT NOT NULL,             -- dataframe | ndarray
            feature_columns TEXT NOT NULL,    -- JSON list
            target_column TEXT,               -- NULL for features only
            n_rows INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE model_versions (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL REFERENCES registered_models(name),
            version INTEGER NOT NULL,
            model_fingerprint TEXT NOT NULL,
            class_name TEXT NOT NULL,
            task TEXT NOT NULL,               -- classification | regression | other
            artifact_hash TEXT NOT NULL REFERENCES artifacts(hash),
            format TEXT NOT NULL,             -- skops | pickle
            untrusted_types TEXT NOT NULL DEFAULT '[]',  -- JSON: types beyond skops defaults
            run_id TEXT,
            execution_id INTEGER,
            metrics TEXT NOT NULL DEFAULT '{}',          -- JSON {key: value}
            training_datasets TEXT NOT NULL DEFAULT '[]', -- JSON [{name, version, fingerprint}]
            train_fingerprint TEXT REFERENCES eval_datasets(fingerprint),
            eval_fingerprint TEXT REFERENCES eval_datasets(fingerprint),
            card TEXT NOT NULL DEFAULT '{}',             -- JSON model card
            created_by TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (name, version)
        );
        CREATE TABLE aliases (
            name TEXT NOT NULL REFERENCES registered_models(name),
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            since TEXT NOT NULL,
            PRIMARY KEY (name, alias)
        );
        CREATE TABLE alias_history (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            action TEXT NOT NULL,             -- promote | rollback
            start_at TEXT NOT NULL,
            end_at TEXT,                      -- NULL while it holds the alias
            audit_id INTEGER
        );
        CREATE INDEX idx_alias_history ON alias_history(name, alias, start_at);
        CREATE TABLE policies (
            name TEXT PRIMARY KEY,
            policy TEXT NOT NULL,             -- JSON
            updated_at TEXT NOT NULL
        );
        CREATE TABLE audit_records (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            action TEXT NOT NULL,   -- register | set_policy | promote | promote_failed | rollback
            who TEXT NOT NULL,
            name TEXT NOT NULL,
            from_version INTEGER,
            to_version INTEGER,
            alias TEXT,
            reason TEXT,
            gates TEXT,                       -- JSON
            forced INTEGER NOT NULL DEFAULT 0,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
        CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
        """
    )


@migrations()
def m002_audit_integrity(db: SqlDb) -> None:
    db.executescript(
        f"""
        ALTER TABLE audit_records ADD COLUMN details TEXT;  -- JSON, part of the hash
        ALTER TABLE audit_records ADD COLUMN mac TEXT;      -- HMAC-SHA256 of hash (keyed stores)
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            n_records INTEGER NOT NULL,
            hash TEXT NOT NULL,
            mac TEXT
        );
        INSERT INTO audit_head (id, n_records, hash)
            SELECT 1, COUNT(*), COALESCE(
                (SELECT hash FROM audit_records ORDER BY id DESC LIMIT 1), '{GENESIS_HASH}')
            FROM audit_records;
        CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
        BEGIN SELECT RAISE(ABORT, 'audit_head is kept by the audit trail'); END;
        """
    )


@migrations()
def m003_record_actors(db: SqlDb) -> None:
    """Who wrote each row (the database user or $MLOPS_JUPYTER_ACTOR); audit records chain it."""
    db.executescript(
        """
        ALTER TABLE registered_models ADD COLUMN actor TEXT;
        ALTER TABLE eval_datasets ADD COLUMN actor TEXT;
        ALTER TABLE model_versions ADD COLUMN actor TEXT;
        ALTER TABLE alias_history ADD COLUMN actor TEXT;
        ALTER TABLE policies ADD COLUMN actor TEXT;
        ALTER TABLE audit_records ADD COLUMN actor TEXT;  -- part of the hash when present
        """
    )


AUDIT_FIELDS = (
    "id",
    "at",
    "action",
    "who",
    "name",
    "from_version",
    "to_version",
    "alias",
    "reason",
    "gates",
    "forced",
    "prev_hash",
)

# Chained when present; records written before m002 (details) and m003 (actor: who wrote the
# record, as the store knows them) hash exactly as they did then.
CHAINED_OPTIONAL = ("details", "actor")
_VERSION_JSON = ("metrics", "training_datasets", "card", "untrusted_types")
# The columns of a version row its register record vouches for (all but the row id).
VERSION_FIELDS = (
    "name",
    "version",
    "model_fingerprint",
    "class_name",
    "task",
    "artifact_hash",
    "format",
    "untrusted_types",
    "run_id",
    "execution_id",
    "metrics",
    "training_datasets",
    "train_fingerprint",
    "eval_fingerprint",
    "card",
    "created_by",
    "created_at",
)


def _canonical(body: Mapping[str, Any]) -> bytes:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return text.encode("utf-8")


def audit_hash(record: Mapping[str, Any]) -> str:
    """sha256 of the record's canonical JSON (sorted keys, no spaces), ``prev_hash`` included.

    Editing any field of a record changes its hash; deleting or reordering records breaks the
    next record's ``prev_hash``.
    """
    body = {k: record.get(k) for k in AUDIT_FIELDS}
    for key in CHAINED_OPTIONAL:
        if record.get(key) is not None:
            body[key] = record[key]
    return hashlib.sha256(_canonical(body)).hexdigest()


def audit_mac(key: bytes | None, text: str) -> str | None:
    """HMAC-SHA256 of ``text`` under ``key`` (None without a key)."""
    if not key:
        return None
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def head_text(n_records: int, head_hash: str) -> str:
    """What the head's HMAC signs: the record count and the last hash."""
    return f"{int(n_records)}:{head_hash}"


def version_digest(row: Mapping[str, Any]) -> str:
    """sha256 of a version row as stored (JSON columns as their stored text)."""
    body = {k: row.get(k) for k in VERSION_FIELDS}
    for key in _VERSION_JSON:
        if not isinstance(body.get(key), str) and body.get(key) is not None:
            body[key] = dumps(body[key])
    return hashlib.sha256(_canonical(body)).hexdigest()


def _decode_version(row: dict[str, Any]) -> dict[str, Any]:
    for key in _VERSION_JSON:
        if isinstance(row.get(key), str):
            row[key] = loads(row[key])
    return row


class RegistryMixin(StoreBase):
    # -- models and versions --------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        *,
        model_fingerprint: str,
        class_name: str,
        task: str,
        artifact_hash: str,
        format: str,
        untrusted_types: list[str] | None = None,
        run_id: str | None = None,
        execution_id: int | None = None,
        metrics: Mapping[str, Any] | None = None,
        training_datasets: list[dict[str, Any]] | None = None,
        train_fingerprint: str | None = None,
        eval_fingerprint: str | None = None,
        card: Mapping[str, Any] | None = None,
        created_by: str | None = None,
        audit: Callable[[int], dict[str, Any]] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Add the next version of ``name`` (created on first use); returns the version row.

        ``audit(version)`` builds the audit record appended in the same transaction; its
        ``details`` are ``details`` (e.g. the model file's sha256) plus ``version_sha256``,
        the digest of the stored row (:func:`version_digest`).
        """
        now = utcnow()
        with self.write():
            self.conn.execute(
                "INSERT OR IGNORE INTO registered_models (name, created_at, actor) "
                "VALUES (?, ?, (SELECT name FROM session.actor))",
                (name, now),
            )
            last = self.conn.execute(
                "SELECT MAX(version) FROM model_versions WHERE name = ?", (name,)
            ).fetchone()[0]
            version = 1 if last is None else int(last) + 1
            self.conn.execute(
                """INSERT INTO model_versions (name, version, model_fingerprint, class_name, task,
                   artifact_hash, format, untrusted_types, run_id, execution_id, metrics,
                   training_datasets, train_fingerprint, eval_fingerprint, card, created_by,
                   created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    name,
                    version,
                    model_fingerprint,
                    class_name,
                    task,
                    artifact_hash,
                    format,
                    dumps(sorted(untrusted_types or [])),
                    run_id,
                    execution_id,
                    dumps(dict(metrics or {})),
                    dumps(list(training_datasets or [])),
                    train_fingerprint,
                    eval_fingerprint,
                    dumps(dict(card or {})),
                    created_by,
                    now,
                ),
            )
            if audit is not None:
                stored = self.query_one(
                    "SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, version)
                )
                assert stored is not None
                vouched = {**dict(details or {}), "version_sha256": version_digest(stored)}
                self.append_audit({**audit(version), "details": dumps(vouched)})
        return self.get_model_version(name, version)

    def list_registered_models(self) -> list[dict[str, Any]]:
        return self.query(
            """SELECT m.name, m.created_at, COUNT(v.id) AS n_versions,
               MAX(v.version) AS latest_version, MAX(v.created_at) AS last_registered_at
               FROM registered_models m LEFT JOIN model_versions v ON v.name = m.name
               GROUP BY m.name ORDER BY m.name"""
        )

    def list_model_versions(self, name: str) -> list[dict[str, Any]]:
        self._require_model(name)
        rows = self.query("SELECT * FROM model_versions WHERE name = ? ORDER BY version", (name,))
        return [_decode_version(r) for r in rows]

    def get_model_version(self, name: str, version: int) -> dict[str, Any]:
        self._require_model(name)
        row = self.query_one(
            "SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, int(version))
        )
        if row is None:
            raise ModelNotFound(
                f"Model {name!r} has no version {version}. "
                f"List its versions with `%mlops models {name}`."
            )
        return _decode_version(row)

    def _require_model(self, name: str) -> None:
        if self.query_one("SELECT 1 AS x FROM registered_models WHERE name = ?", (name,)) is None:
            raise ModelNotFound(
                f"No registered model named {name!r}. "
                "List registered models with `%mlops models`, or register one with "
                "`%mlops register MODEL_VAR --name NAME`."
            )

    # -- evaluation / training data snapshots ---------------------------------------------

    def record_eval_dataset(
        self,
        fingerprint: str,
        *,
        snapshot_hash: str,
        x_kind: str,
        feature_columns: list[str],
        target_column: str | None,
        n_rows: int,
    ) -> None:
        with self.write():
            self.conn.execute(
                """INSERT OR IGNORE INTO eval_datasets (fingerprint, snapshot_hash, x_kind,
                   feature_columns, target_column, n_rows, created_at, actor)
                   VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                (
                    fingerprint,
                    snapshot_hash,
                    x_kind,
                    dumps(list(feature_columns)),
                    target_column,
                    int(n_rows),
                    utcnow(),
                ),
            )

    def find_eval_dataset(self, fingerprint: str | None) -> dict[str, Any] | None:
        if not fingerprint:
            return None
        row = self.query_one("SELECT * FROM eval_datasets WHERE fingerprint = ?", (fingerprint,))
        if row is not None:
            row["feature_columns"] = loads(row["feature_columns"])
        return row

    def find_dataset_versions(self, fingerprints: list[str]) -> list[dict[str, Any]]:
        """Named dataset versions having one of ``fingerprints``, oldest first."""
        if not fingerprints:
            return []
        marks = ", ".join("?" for _ in fingerprints)
        return self.query(
            f"""SELECT name, version, fingerprint, run_id, execution_id FROM datasets
                WHERE fingerprint IN ({marks}) ORDER BY id""",
            list(fingerprints),
        )

    def count_run_executions(self, run_id: str | None) -> int:
        if not run_id:
            return 0
        return int(
            self.conn.execute(
                "SELECT COUNT(*) FROM executions WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
        )

    # -- aliases --------------------------------------------------------------------------

    def get_aliases(self, name: str) -> dict[str, int]:
        """``{alias: version}`` currently held."""
        return {
            r["alias"]: int(r["version"])
            for r in self.query(
                "SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)
            )
        }

    def find_alias_holder(self, name: str, alias: str) -> int | None:
        row = self.query_one(
            "SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, alias)
        )
        return None if row is None else int(row["version"])

    def move_alias(
        self, name: str, alias: str, version: int, *, action: str, audit: dict[str, Any]
    ) -> dict[str, Any]:
        """Point ``alias`` at ``version``, close the previous range, append the audit record.

        All in one transaction: the alias never moves without its record.
        """
        with self.write():
            record = self.append_audit(audit)
            now = record["at"]
            self.conn.execute(
                """UPDATE alias_history SET end_at = ?
                   WHERE name = ? AND alias = ? AND end_at IS NULL""",
                (now, name, alias),
            )
            self.conn.execute(
                """INSERT INTO alias_history (name, alias, version, action, start_at, audit_id, actor)
                   VALUES (?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))""",
                (name, alias, int(version), action, now, record["id"]),
            )
            self.conn.execute(
                """INSERT INTO aliases (name, alias, version, since) VALUES (?, ?, ?, ?)
                   ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version,
                   since = excluded.since""",
                (name, alias, int(version), now),
            )
        return record

    def alias_history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """Every holder of each alias with its time range, oldest first, with who and why."""
        sql = """SELECT h.alias, h.version, h.action, h.start_at, h.end_at, a.who, a.reason,
                 a.forced, h.audit_id FROM alias_history h
                 LEFT JOIN audit_records a ON a.id = h.audit_id WHERE h.name = ?"""
        if alias is None:
            return self.query(sql + " ORDER BY h.alias, h.id", (name,))
        return self.query(sql + " AND h.alias = ? ORDER BY h.id", (name, alias))

    def alias_holder_at(self, name: str, alias: str, at: str) -> int | None:
        """The version holding ``alias`` at the ISO-8601 UTC instant ``at`` (None if nobody)."""
        row = self.query_one(
            """SELECT version FROM alias_history WHERE name = ? AND alias = ?
               AND start_at <= ? AND (end_at IS NULL OR end_at > ?)
               ORDER BY id DESC LIMIT 1""",
            (name, alias, at, at),
        )
        return None if row is None else int(row["version"])

    # -- policies -------------------------------------------------------------------------

    def set_model_policy(
        self, name: str, policy: Mapping[str, Any], *, audit: dict[str, Any]
    ) -> None:
        with self.write():
            self.conn.execute(
                "INSERT OR IGNORE INTO registered_models (name, created_at, actor) "
                "VALUES (?, ?, (SELECT name FROM session.actor))",
                (name, utcnow()),
            )
            self.conn.execute(
                """INSERT INTO policies (name, policy, updated_at, actor)
                   VALUES (?, ?, ?, (SELECT name FROM session.actor))
                   ON CONFLICT(name) DO UPDATE SET policy = excluded.policy,
                   updated_at = excluded.updated_at, actor = excluded.actor""",
                (name, dumps(dict(policy)), utcnow()),
            )
            self.append_audit(audit)

    def find_model_policy(self, name: str) -> dict[str, Any] | None:
        row = self.query_one("SELECT policy FROM policies WHERE name = ?", (name,))
        return None if row is None else dict(loads(row["policy"]))

    # -- audit trail ----------------------------------------------------------------------

    def append_audit(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Append one audit record chained to the last one (see :func:`audit_hash`).

        Runs in the caller's transaction when there is one. Returns the stored record.
        """
        fields = dict(record)
        allowed = (*AUDIT_FIELDS, *CHAINED_OPTIONAL)
        unknown = set(fields) - set(allowed)
        if unknown:
            raise InvalidInput(
                f"Unknown audit fields {sorted(unknown)}. Use only {', '.join(allowed)}."
            )
        key = audit_key()
        with self.write():
            last = self.conn.execute(
                "SELECT id, hash FROM audit_records ORDER BY id DESC LIMIT 1"
            ).fetchone()
            row: dict[str, Any] = {k: fields.get(k) for k in allowed}
            row["id"] = 1 if last is None else int(last[0]) + 1
            row["prev_hash"] = GENESIS_HASH if last is None else last[1]
            row["at"] = row["at"] or utcnow()
            row["forced"] = int(bool(row["forced"]))
            row["actor"] = self.actor  # who wrote it, as the store knows them (not --by)
            row["hash"] = audit_hash(row)
            row["mac"] = audit_mac(key, row["hash"])
            cols = [*allowed, "hash", "mac"]
            self.conn.execute(
                f"INSERT INTO audit_records ({', '.join(cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [row[c] for c in cols],
            )
            # the head moves with the trail; a deleted head row stays missing (verify says so)
            self.conn.execute(
                "UPDATE audit_head SET n_records = ?, hash = ?, mac = ? WHERE id = 1",
                (
                    row["id"],
                    row["hash"],
                    audit_mac(key, head_text(row["id"], row["hash"])),
                ),
            )
        return row

    def list_audit_records(self, name: str | None = None) -> list[dict[str, Any]]:
        if name is None:
            return self.query("SELECT * FROM audit_records ORDER BY id")
        return self.query("SELECT * FROM audit_records WHERE name = ? ORDER BY id", (name,))

    def find_register_record(self, name: str, version: int) -> dict[str, Any] | None:
        """The audit record that registered ``name`` ``version`` (the first, if several)."""
        return self.query_one(
            """SELECT * FROM audit_records WHERE action = 'register' AND name = ?
               AND to_version = ? ORDER BY id LIMIT 1""",
            (name, int(version)),
        )

    def get_audit_head(self) -> dict[str, Any] | None:
        if "audit_head" not in self.table_names():
            return None
        return self.query_one("SELECT n_records, hash, mac FROM audit_head WHERE id = 1")

    def find_version_row(self, name: str, version: int) -> dict[str, Any] | None:
        """A version row as stored (JSON columns undecoded), or None."""
        return self.query_one(
            "SELECT * FROM model_versions WHERE name = ? AND version = ?", (name, int(version))
        )

    def list_version_rows(self) -> list[dict[str, Any]]:
        """Every version row as stored (JSON columns undecoded), for the audit check."""
        return self.query("SELECT * FROM model_versions ORDER BY name, version")

    def list_policies(self) -> dict[str, Any]:
        return {r["name"]: loads(r["policy"]) for r in self.query("SELECT * FROM policies")}

    def has_registry(self) -> bool:
        return "audit_records" in self.table_names()
