"""Dataset tags: source, type and quality (set by capture) and the user's own (issue #16).

``dataset_tags`` holds one value per (dataset name, version, key). ``version`` 0 means every
version of the name, past and future: the user's ``owner=risk`` or ``pii=true`` is a property of
the dataset, not of one content. A version's own row wins over the name's (capture writes
``source``, ``type``, ``quality.*`` per version). ``kind`` says who set it: ``source``, ``type``,
``quality``, ``inherited`` (derived from a PII dataset) or ``user``.

Owns its own migration set; add migrations as `m00N_...` functions, never edit released ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .base import Migrations, SqlDb, StoreBase, utcnow
from .present import has_table

migrations = Migrations("mlops_jupyter.tags")

EVERY_VERSION = 0
PII_KEY = "pii"
TRUE_WORDS = frozenset({"true", "yes", "1", "y", "on"})


@migrations()
def m001_create_dataset_tags(db: SqlDb) -> None:
    db.executescript(
        """
        CREATE TABLE dataset_tags (
            name TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 0,   -- 0: every version of the name
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            kind TEXT NOT NULL,                   -- source | type | quality | inherited | user
            set_by TEXT,
            set_at TEXT NOT NULL,
            PRIMARY KEY (name, version, key)
        );
        CREATE INDEX idx_dataset_tags_key ON dataset_tags(key, value);
        """
    )


@migrations()
def m002_record_actors(db: SqlDb) -> None:
    """Who set each tag (#15: the team store records every writer)."""
    db.executescript("ALTER TABLE dataset_tags ADD COLUMN actor TEXT;")


def is_true(value: Any) -> bool:
    return str(value).strip().lower() in TRUE_WORDS


class TagsMixin(StoreBase):
    def set_dataset_tags(
        self,
        name: str,
        tags: Mapping[str, Any],
        *,
        version: int = EVERY_VERSION,
        kind: str = "user",
        by: str | None = None,
    ) -> None:
        """Set (or replace) tags of ``name`` (``version`` 0: every version)."""
        if not tags:
            return
        now = utcnow()
        with self.write_one():
            self.conn.executemany(
                """INSERT INTO dataset_tags (name, version, key, value, kind, set_by, set_at,
                   actor) VALUES (?, ?, ?, ?, ?, ?, ?, (SELECT name FROM session.actor))
                   ON CONFLICT(name, version, key) DO UPDATE SET value = excluded.value,
                   kind = excluded.kind, set_by = excluded.set_by, set_at = excluded.set_at,
                   actor = excluded.actor""",
                [(name, int(version), str(k), str(v), kind, by, now) for k, v in tags.items()],
            )

    def remove_dataset_tags(
        self, name: str, keys: Iterable[str], *, version: int = EVERY_VERSION
    ) -> int:
        keys = list(keys)
        if not keys:
            return 0
        marks = ", ".join("?" for _ in keys)
        with self.write():
            cur = self.conn.execute(
                f"DELETE FROM dataset_tags WHERE name = ? AND version = ? AND key IN ({marks})",
                [name, int(version), *keys],
            )
            return int(cur.rowcount or 0)

    def dataset_tags(self, name: str, version: int | None = None) -> dict[str, str]:
        """The tags of ``name`` at ``version`` (the name's own tags when ``version`` is None)."""
        if not has_table(self, "dataset_tags"):
            return {}
        rows = self.query(
            "SELECT version, key, value FROM dataset_tags WHERE name = ? AND version IN (0, ?) "
            "ORDER BY version, key",
            (name, int(version or 0)),
        )
        return {r["key"]: r["value"] for r in rows}

    def all_dataset_tags(self) -> dict[tuple[str, int], dict[str, str]]:
        """``{(name, version): tags}`` for every tagged name (version 0: the name's own)."""
        out: dict[tuple[str, int], dict[str, str]] = {}
        if not has_table(self, "dataset_tags"):  # an old store read without upgrading
            return out
        for r in self.query("SELECT name, version, key, value FROM dataset_tags ORDER BY key"):
            out.setdefault((r["name"], int(r["version"])), {})[r["key"]] = r["value"]
        return out

    def tagged_names(self, key: str) -> list[tuple[str, int, str]]:
        """``(name, version, value)`` of every row carrying ``key``."""
        if not has_table(self, "dataset_tags"):
            return []
        return [
            (r["name"], int(r["version"]), r["value"])
            for r in self.query(
                "SELECT name, version, value FROM dataset_tags WHERE key = ?", (key,)
            )
        ]

    def find_version_number(self, name: str, fingerprint: str) -> int | None:
        """The newest version of ``name`` holding this content, or None."""
        row = self.query_one(
            "SELECT version FROM datasets WHERE name = ? AND fingerprint = ? "
            "ORDER BY version DESC LIMIT 1",
            (name, fingerprint),
        )
        return None if row is None else int(row["version"])

    def find_latest_version(self, name: str) -> int | None:
        row = self.query_one("SELECT MAX(version) AS v FROM datasets WHERE name = ?", (name,))
        return None if row is None or row["v"] is None else int(row["v"])

    # -- PII ------------------------------------------------------------------------------

    def is_pii(self, fingerprint: str, *, depth: int = 6) -> bool:
        """Whether this content is, or was derived from, a dataset tagged ``pii=true``.

        A version is PII when its name or the version itself carries ``pii=true`` (a
        version's own ``pii=false`` wins over its name's), or when a cell that wrote it read a
        PII dataset (lineage ``dataset -read-> execution -wrote-> dataset``, up to ``depth``
        cells upstream)."""
        tagged = self.tagged_names(PII_KEY)
        if not tagged:
            return False
        by_name: dict[str, bool] = {}
        by_version: dict[tuple[str, int], bool] = {}
        for name, version, value in tagged:
            if version == EVERY_VERSION:
                by_name[name] = is_true(value)
            else:
                by_version[(name, version)] = is_true(value)
        seen: set[str] = set()
        frontier = [fingerprint]
        for _ in range(depth + 1):
            fresh = [f for f in frontier if f not in seen]
            if not fresh:
                return False
            seen.update(fresh)
            marks = ", ".join("?" for _ in fresh)
            for row in self.query(
                f"SELECT name, version FROM datasets WHERE fingerprint IN ({marks})", fresh
            ):
                key = (row["name"], int(row["version"]))
                if by_version.get(key, by_name.get(row["name"], False)):
                    return True
            frontier = [
                r["src_id"]
                for r in self.query(
                    f"""SELECT DISTINCT r.src_id FROM lineage w JOIN lineage r
                        ON r.dst_type = 'execution' AND r.dst_id = w.src_id
                        AND r.src_type = 'dataset' AND r.relation = 'read'
                        WHERE w.src_type = 'execution' AND w.relation = 'wrote'
                        AND w.dst_type = 'dataset' AND w.dst_id IN ({marks})""",
                    fresh,
                )
            ]
        return False
