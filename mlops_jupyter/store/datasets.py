"""Dataset versions and their content, models, content-addressed artifacts, lineage edges."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import xxhash

from ..errors import ArtifactNotFound, DatasetNotFound, InvalidInput, ModelNotFound
from .base import StoreBase, dumps, loads, utcnow

_REF = re.compile(r"^(?P<name>.+?)@(?P<version>\d+|latest)$")
INLINE_MAX = 8 << 20  # team store: artifacts up to 8 MiB live in the database


def _write_file(folder: Path, digest: str, data: bytes) -> Path:
    """``folder/digest`` holding ``data``, written atomically (readers never see half)."""
    target = folder / digest
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _cache_dir() -> Path:
    """Local copies of a team store's artifacts (content-addressed, so never stale)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlops-jupyter" / "artifacts"


def _decode_dataset(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("schema", "profile"):
        if key in row and isinstance(row[key], str):
            row[key] = loads(row[key])
    return row


class DatasetsMixin(StoreBase):
    # -- datasets -------------------------------------------------------------------------

    def record_dataset_content(
        self,
        fingerprint: str,
        *,
        kind: str,
        n_rows: int | None,
        n_cols: int | None,
        schema: Mapping[str, str] | None = None,
        profile: Mapping[str, Any] | None = None,
        snapshot_hash: str | None = None,
    ) -> None:
        """Store a content's shape, schema and profile once per fingerprint."""
        with self.write():
            self.conn.execute(
                """INSERT OR IGNORE INTO dataset_contents (fingerprint, kind, n_rows, n_cols,
                   schema, profile, snapshot_hash, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    fingerprint,
                    kind,
                    n_rows,
                    n_cols,
                    dumps(dict(schema or {})),
                    dumps(dict(profile or {})),
                    snapshot_hash,
                    utcnow(),
                ),
            )
            if snapshot_hash:
                self.conn.execute(
                    "UPDATE dataset_contents SET snapshot_hash = ? WHERE fingerprint = ?",
                    (snapshot_hash, fingerprint),
                )

    def has_dataset_content(self, fingerprint: str, *, wait: bool = True) -> bool:
        """Whether the content is stored; ``wait=False`` reads what is committed now, without
        waiting for this process's queued writes (capture knows those itself)."""
        sql = "SELECT 1 FROM dataset_contents WHERE fingerprint = ?"
        if wait:
            return self.query_one(sql, (fingerprint,)) is not None
        with self._lock:
            return self.conn.execute(sql, (fingerprint,)).fetchone() is not None

    def record_dataset_version(
        self,
        name: str,
        fingerprint: str,
        *,
        source_path: str | None = None,
        source_hash: str | None = None,
        run_id: str | None = None,
        execution_id: int | None = None,
    ) -> dict[str, Any]:
        """A new version of ``name`` if its latest version has another fingerprint.

        Returns the version row (existing or new) with ``new`` = whether one was added.
        The content row must already exist (:meth:`record_dataset_content`).
        """
        with self.write():
            latest = self.query_one(
                "SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
            )
            if latest is not None and latest["fingerprint"] == fingerprint:
                latest["new"] = False
                return latest
            version = 1 if latest is None else int(latest["version"]) + 1
            cur = self.conn.execute(
                """INSERT INTO datasets (name, version, fingerprint, source_path, source_hash,
                   run_id, execution_id, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    name,
                    version,
                    fingerprint,
                    source_path,
                    source_hash,
                    run_id,
                    execution_id,
                    utcnow(),
                ),
            )
            row = self.query_one("SELECT * FROM datasets WHERE id = ?", (cur.lastrowid,))
        assert row is not None
        row["new"] = True
        return row

    def list_datasets(self, name: str | None = None) -> list[dict[str, Any]]:
        """Dataset versions with their content's shape (no profile), newest last."""
        sql = """SELECT d.*, c.kind, c.n_rows, c.n_cols, c.schema FROM datasets d
                 JOIN dataset_contents c ON c.fingerprint = d.fingerprint"""
        if name is None:
            rows = self.query(sql + " ORDER BY d.name, d.version")
        else:
            rows = self.query(sql + " WHERE d.name = ? ORDER BY d.version", (name,))
            if not rows:
                raise DatasetNotFound(
                    f"No dataset named {name!r}. List datasets with `%mlops datasets`."
                )
        return [_decode_dataset(r) for r in rows]

    def resolve_dataset(self, ref: str) -> dict[str, Any]:
        """Resolve ``name@3``, ``name@latest``, ``name`` (latest) or a fingerprint prefix.

        Returns the version row joined with its content (schema and profile decoded).
        """
        sql = """SELECT d.*, c.kind, c.n_rows, c.n_cols, c.schema, c.profile, c.snapshot_hash
                 FROM datasets d JOIN dataset_contents c ON c.fingerprint = d.fingerprint"""
        m = _REF.match(ref)
        row = None
        if m:
            name, version = m.group("name"), m.group("version")
            if version == "latest":
                row = self.query_one(
                    sql + " WHERE d.name = ? ORDER BY d.version DESC LIMIT 1", (name,)
                )
            else:
                row = self.query_one(
                    sql + " WHERE d.name = ? AND d.version = ?", (name, int(version))
                )
        else:
            row = self.query_one(sql + " WHERE d.name = ? ORDER BY d.version DESC LIMIT 1", (ref,))
            if row is None and len(ref) >= 6 and re.fullmatch(r"[0-9a-f]+", ref):
                rows = self.query(
                    sql + " WHERE d.fingerprint LIKE ? ORDER BY d.id DESC", (ref + "%",)
                )
                if len({r["fingerprint"] for r in rows}) > 1:
                    raise InvalidInput(
                        f"Fingerprint prefix {ref!r} matches several datasets. "
                        "Give more characters (see `%mlops datasets`)."
                    )
                row = rows[0] if rows else None
        if row is None:
            raise DatasetNotFound(
                f"No stored dataset matches {ref!r}. Use NAME, NAME@VERSION, NAME@latest or a "
                "fingerprint prefix; list them with `%mlops datasets`."
            )
        return _decode_dataset(row)

    def get_dataset_content(self, fingerprint: str) -> dict[str, Any]:
        row = self.query_one("SELECT * FROM dataset_contents WHERE fingerprint = ?", (fingerprint,))
        if row is None:
            raise DatasetNotFound(
                f"No dataset with fingerprint {fingerprint!r}. List datasets with `%mlops datasets`."
            )
        return _decode_dataset(row)

    def datasets_of_run(self, run_id: str) -> list[dict[str, Any]]:
        """Every dataset version a run read or produced (via lineage or as producer)."""
        return [
            _decode_dataset(r)
            for r in self.query(
                """SELECT DISTINCT d.name, d.version, d.fingerprint, d.source_path, d.source_hash,
                   c.n_rows, c.n_cols FROM datasets d
                   JOIN dataset_contents c ON c.fingerprint = d.fingerprint
                   WHERE d.run_id = ? OR d.fingerprint IN (
                     SELECT src_id FROM lineage WHERE run_id = ? AND src_type = 'dataset'
                     UNION SELECT dst_id FROM lineage WHERE run_id = ? AND dst_type = 'dataset')
                   ORDER BY d.name, d.version""",
                (run_id, run_id, run_id),
            )
        ]

    # -- models ---------------------------------------------------------------------------

    def record_model(
        self,
        fingerprint: str,
        *,
        class_name: str,
        params: Mapping[str, Any] | None = None,
        artifact_hash: str | None = None,
        name: str | None = None,
        run_id: str | None = None,
        execution_id: int | None = None,
    ) -> None:
        with self.write():
            self.conn.execute(
                """INSERT OR IGNORE INTO models (fingerprint, class_name, params, artifact_hash, name,
                   run_id, execution_id, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                (
                    fingerprint,
                    class_name,
                    dumps(dict(params or {})),
                    artifact_hash,
                    name,
                    run_id,
                    execution_id,
                    utcnow(),
                ),
            )
            if artifact_hash:
                self.conn.execute(
                    "UPDATE models SET artifact_hash = ? WHERE fingerprint = ? AND artifact_hash IS NULL",
                    (artifact_hash, fingerprint),
                )

    def set_model_artifact(self, fingerprint: str, artifact_hash: str) -> None:
        """Attach a model file written after the model's row (capture writes files off the
        cell's critical path)."""
        with self.write():
            self.conn.execute(
                "UPDATE models SET artifact_hash = ? WHERE fingerprint = ? AND artifact_hash IS NULL",
                (artifact_hash, fingerprint),
            )

    def get_model(self, fingerprint: str) -> dict[str, Any]:
        row = self.query_one("SELECT * FROM models WHERE fingerprint = ?", (fingerprint,))
        if row is None:
            raise ModelNotFound(
                f"No captured model with fingerprint {fingerprint!r}. "
                "List a run's models with `%mlops runs RUN`."
            )
        row["params"] = loads(row["params"])
        return row

    def list_models(self, run_id: str | None = None) -> list[dict[str, Any]]:
        if run_id is None:
            rows = self.query("SELECT * FROM models ORDER BY created_at")
        else:
            rows = self.query(
                "SELECT * FROM models WHERE run_id = ? ORDER BY created_at", (run_id,)
            )
        for row in rows:
            row["params"] = loads(row["params"])
        return rows

    # -- artifacts (content-addressed, by xxh3-128 of their bytes) -------------------------
    #
    # A file store keeps them as files beside the database. A team store keeps them in the
    # database (``artifact_blobs``), every member reaches them there; those larger than
    # INLINE_MAX go under ``$MLOPS_JUPYTER_ARTIFACTS`` (a shared folder) when it is set.

    @property
    def artifacts_where(self) -> str:
        """Where this store's artifacts are, as a message names it."""
        if self.dialect == "sqlite":
            return str(self.artifacts_dir)
        shared = f" and {self.artifacts_dir}" if self.artifacts_dir is not None else ""
        return f"the team store's database{shared}"

    def put_artifact(self, data: bytes, media_type: str | None = None) -> str:
        """Store bytes once under their xxh3-128 hash; returns the hash."""
        digest = xxhash.xxh3_128_hexdigest(data)
        in_db = self.dialect != "sqlite" and (
            self.artifacts_dir is None or len(data) <= INLINE_MAX
        )
        if not in_db:
            assert self.artifacts_dir is not None
            _write_file(self.artifacts_dir, digest, data)
        with self.write():
            self.conn.execute(
                "INSERT OR IGNORE INTO artifacts (hash, size, media_type, created_at, actor) "
                "VALUES (?, ?, ?, ?, (SELECT name FROM session.actor))",
                (digest, len(data), media_type, utcnow()),
            )
            if in_db:
                self.conn.execute(
                    "INSERT OR IGNORE INTO artifact_blobs (hash, data) VALUES (?, ?)",
                    (digest, data),
                )
        return digest

    def artifact_path(self, digest: str) -> Path:
        """Path of a stored artifact; ``digest`` must be a hash we issued, never a user path.

        A team store's artifact held in the database is copied to a local cache first."""
        if not re.fullmatch(r"[0-9a-f]{32}", digest or ""):
            raise ArtifactNotFound(
                f"{digest!r} is not an artifact hash. Artifacts are named by 32 hex digits."
            )
        if self.dialect != "sqlite":
            data = self._artifact_blob(digest)
            if data is not None:
                return _write_file(_cache_dir(), digest, data)
        path = self.artifacts_dir / digest if self.artifacts_dir is not None else None
        if path is None or not path.exists():
            raise ArtifactNotFound(self._missing_artifact(digest))
        return path

    def read_artifact(self, digest: str) -> bytes:
        if self.dialect != "sqlite" and re.fullmatch(r"[0-9a-f]{32}", digest or ""):
            data = self._artifact_blob(digest)
            if data is not None:
                return data
        return self.artifact_path(digest).read_bytes()

    def _artifact_blob(self, digest: str) -> bytes | None:
        row = self.query_one("SELECT data FROM artifact_blobs WHERE hash = ?", (digest,))
        return None if row is None else bytes(row["data"])

    def _missing_artifact(self, digest: str) -> str:
        if self.dialect == "sqlite":
            return (
                f"Artifact {digest} is missing from {self.artifacts_dir}. "
                "Restore the store's artifacts folder next to lineage.db."
            )
        if self.artifacts_dir is None:
            return (
                f"Artifact {digest} is not in the team store's database and "
                "$MLOPS_JUPYTER_ARTIFACTS is not set. Set it to the shared folder the team's "
                "large artifacts live in."
            )
        return (
            f"Artifact {digest} is neither in the team store's database nor in "
            f"{self.artifacts_dir}. Check $MLOPS_JUPYTER_ARTIFACTS names the team's shared folder."
        )

    # -- lineage --------------------------------------------------------------------------

    def add_edges(
        self,
        edges: Iterable[tuple[str, str, str, str, str]],
        *,
        run_id: str | None = None,
        execution_id: int | None = None,
    ) -> None:
        """Add lineage edges ``(src_type, src_id, relation, dst_type, dst_id)``."""
        edges = list(edges)
        if not edges:
            return
        now = utcnow()
        rows = [
            (st, str(si), dt, str(di), rel, run_id, execution_id, now)
            for st, si, rel, dt, di in edges
        ]
        with self.write():
            self.conn.executemany(
                """INSERT INTO lineage (src_type, src_id, dst_type, dst_id, relation, run_id,
                   execution_id, created_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                   (SELECT name FROM session.actor))""",
                rows,
            )

    def edges(
        self,
        *,
        run_id: str | None = None,
        node: tuple[str, str] | None = None,
        relation: str | None = None,
    ) -> list[dict[str, Any]]:
        """Lineage edges filtered by run, by a node on either end, and/or by relation."""
        clauses: list[str] = []
        args: list[Any] = []
        if run_id is not None:
            clauses.append("run_id = ?")
            args.append(run_id)
        if node is not None:
            clauses.append("((src_type = ? AND src_id = ?) OR (dst_type = ? AND dst_id = ?))")
            args.extend([node[0], str(node[1]), node[0], str(node[1])])
        if relation is not None:
            clauses.append("relation = ?")
            args.append(relation)
        where = "WHERE " + " AND ".join(clauses) if clauses else ""
        return self.query(f"SELECT * FROM lineage {where} ORDER BY id", args)
