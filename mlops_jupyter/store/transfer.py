"""Copy one store into another: ``mlops-jupyter push --to URL`` and ``pull --from URL``.

Works between any two stores (a local file and the team store, either way). Idempotent: a
second copy adds nothing, because

- rows keyed by text (experiments by name, runs, environments, dataset contents, models,
  artifacts, drift reports, registered models) keep their ids and are inserted only when
  absent (a run that ended since the last copy has its status and end updated, and the facts
  looked up after it started, environment and git state, added);
- rows keyed by an integer (executions, metrics, dataset versions, lineage edges, model
  versions, alias history, diffs, verifications) get the target's next ids, and
  ``push_map`` in the target remembers ``(source store, table, source id) -> target id``;
  a row the source itself got from the target (a pulled store pushed back) maps to its
  original through the source's own ``push_map``;
- audit records are appended to the target's chain (its hashes stay valid), each vouching
  for the record it copies in ``details.pushed_from`` (store, id, hash, actor).

Timestamps are copied as they are. A dataset or model version number already taken in the
target by other content is renumbered to the next free one (the report says how many).
Everything runs in one write transaction of the target: an interrupted copy leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .base import StoreBase, dumps, loads, new_id

Store = Any  # a Store (the mixins); typed loosely to keep this module free of import cycles


@dataclass
class TransferReport:
    """What a copy added, per table, and what it had to renumber."""

    source: str
    target: str
    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    renumbered: dict[str, int] = field(default_factory=dict)

    @property
    def total_added(self) -> int:
        return sum(self.added.values())

    def summary(self) -> str:
        parts = [f"{n} {t}" for t, n in self.added.items() if n]
        text = f"Copied {self.source} into {self.target}: " + (
            ", ".join(parts) if parts else "nothing new (already there)"
        )
        if any(self.updated.values()):
            text += "; updated " + ", ".join(f"{n} {t}" for t, n in self.updated.items() if n)
        if any(self.renumbered.values()):
            text += "; renumbered " + ", ".join(f"{n} {t}" for t, n in self.renumbered.items() if n)
        return text + "."


def store_id(store: StoreBase) -> str:
    """This store's own random id (created on first use), so copies know where rows came from."""
    row = store.query_one("SELECT value FROM store_info WHERE key = 'store_id'")
    if row is not None:
        return str(row["value"])
    with store.write():
        store.conn.execute(
            "INSERT OR IGNORE INTO store_info (key, value) VALUES ('store_id', ?)", (new_id() * 2,)
        )
    row = store.query_one("SELECT value FROM store_info WHERE key = 'store_id'")
    assert row is not None
    return str(row["value"])


class _Copy:
    def __init__(self, source: Store, target: Store) -> None:
        self.src = source
        self.dst = target
        self.src_id = store_id(source)
        self.dst_id = store_id(target)
        self.report = TransferReport(source.display, target.display)
        self.maps: dict[str, dict[str, str]] = {}
        # (name, version here) -> version there, for what was renumbered
        self.dataset_versions: dict[tuple[str, int], int] = {}
        self.suite_versions: dict[tuple[str, int], int] = {}
        self.suite_next: dict[str, int | None] = {}
        self.version_names: dict[str, str] = {}  # "name@version" here -> there
        self._columns: dict[str, list[str]] = {}

    # -- helpers ---------------------------------------------------------------------------

    def columns(self, table: str) -> list[str]:
        """Columns both stores have (one may be older; its missing columns are skipped)."""
        if table not in self._columns:
            a = _column_names(self.src, table)
            b = set(_column_names(self.dst, table))
            self._columns[table] = [c for c in a if c in b]
        return self._columns[table]

    def rows(self, table: str, order: str = "") -> list[dict[str, Any]]:
        if table not in self.src.table_names() or table not in self.dst.table_names():
            return []
        cols = ", ".join(_quoted(c) for c in self.columns(table))
        return self.src.query(f"SELECT {cols} FROM {table} {order}")

    def load_map(self, table: str) -> dict[str, str]:
        """source id -> target id for ``table``: earlier copies, and rows that came from the
        target in the first place (recorded in the source's own push_map)."""
        if table in self.maps:
            return self.maps[table]
        out = {
            str(r["source_id"]): str(r["target_id"])
            for r in self.dst.query(
                "SELECT source_id, target_id FROM push_map WHERE source_store = ? AND tbl = ?",
                (self.src_id, table),
            )
        }
        for r in self.src.query(
            "SELECT source_id, target_id FROM push_map WHERE source_store = ? AND tbl = ?",
            (self.dst_id, table),
        ):
            out.setdefault(str(r["target_id"]), str(r["source_id"]))
        self.maps[table] = out
        return out

    def remember(self, table: str, pairs: Iterable[tuple[Any, Any]]) -> None:
        data = [(self.src_id, table, str(a), str(b)) for a, b in pairs]
        if data:
            self.dst.conn.executemany(
                "INSERT OR IGNORE INTO push_map (source_store, tbl, source_id, target_id) "
                "VALUES (?, ?, ?, ?)",
                data,
            )
            self.maps.setdefault(table, {}).update({a: b for _, _, a, b in data})

    def insert(self, table: str, rows: list[dict[str, Any]], *, ignore: bool = True) -> int:
        if not rows:
            return 0
        cols = [c for c in self.columns(table) if c in rows[0]]
        verb = "INSERT OR IGNORE" if ignore else "INSERT"
        sql = (
            f"{verb} INTO {table} ({', '.join(_quoted(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})"
        )
        before = self.count(table)
        self.dst.conn.executemany(sql, [tuple(r.get(c) for c in cols) for r in rows])
        added = self.count(table) - before
        self.report.added[table] = self.report.added.get(table, 0) + added
        return added

    def count(self, table: str) -> int:
        row = self.dst.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def next_id(self, table: str) -> int:
        row = self.dst.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()
        return int(row[0] if row else 0) + 1

    def copy_by_id(
        self,
        table: str,
        fix: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        order: str = "ORDER BY id",
    ) -> None:
        """Rows with an integer id: new ids in the target, remembered in push_map."""
        known = self.load_map(table)
        fresh = [r for r in self.rows(table, order) if str(r["id"]) not in known]
        out: list[dict[str, Any]] = []
        pairs = []
        nxt = self.next_id(table)
        for row in fresh:
            fixed = fix(dict(row)) if fix is not None else dict(row)
            if fixed is None:
                continue
            if "__existing__" in fixed:  # the same row is in the target already
                pairs.append((row["id"], fixed["__existing__"]))
                continue
            fixed["id"] = nxt
            pairs.append((row["id"], nxt))
            nxt += 1
            out.append(fixed)
        self.insert(table, out, ignore=False)
        self.remember(table, pairs)

    def mapped(self, table: str, value: Any) -> Any:
        if value is None:
            return None
        return int(self.load_map(table)[str(value)]) if str(value) in self.load_map(table) else None

    # -- the copy, in foreign-key order ------------------------------------------------------

    def run(self, experiments: set[str] | None) -> TransferReport:
        self.experiments(experiments)
        self.insert("environments", self.rows("environments"))
        self.runs()
        self.artifacts()
        self.insert("dataset_contents", self.rows("dataset_contents"))
        self.copy_by_id("executions", self.fix_execution)
        self.params()
        self.copy_by_id("metrics", self.fix_run_execution)
        self.upsert_origins()
        self.copy_by_id("datasets", self.fix_dataset)
        self.models()
        self.registry()  # before lineage: edges to model versions follow their renumbering
        self.copy_by_id("lineage", self.fix_edge)
        for table in ("drift_profiles", "drift_reports", "drift_columns"):
            self.insert(table, self.rows(table))
        self.copy_by_id("dataset_diffs", self.fix_diff)
        self.copy_by_id("verifications", self.fix_run_execution)
        self.quality()
        self.report.added = {k: v for k, v in self.report.added.items() if v}
        if self.dst.dialect != "sqlite":
            self.dst.conn.sync_identities()
        return self.report

    def experiments(self, only: set[str] | None) -> None:
        target = {r["name"]: r["id"] for r in self.dst.query("SELECT id, name FROM experiments")}
        self.exp_ids: dict[str, str] = {}
        self.only_runs: set[str] | None = None
        new = []
        for row in self.rows("experiments"):
            if only is not None and row["name"] not in only:
                continue
            if row["name"] in target:
                self.exp_ids[row["id"]] = target[row["name"]]
            else:
                self.exp_ids[row["id"]] = row["id"]
                new.append(row)
        self.insert("experiments", new)
        if only is not None:
            self.only_runs = {
                r["id"]
                for r in self.src.query("SELECT id, experiment_id FROM runs")
                if r["experiment_id"] in self.exp_ids
            }

    def runs(self) -> None:
        rows = [r for r in self.rows("runs", "ORDER BY started_at") if self._wanted(r["id"])]
        # what may change after a run was copied: its end, tags, and the facts looked up after
        # it started (environment, git state), which a copy taken early did not have yet
        late = [c for c in _LATE_RUN_FIELDS if c in self.columns("runs")]
        present = {
            r["id"]: r for r in self.dst.query(f"SELECT id, {', '.join(late)} FROM runs")
        }
        by_id = {r["id"]: r for r in rows}
        ordered: list[dict[str, Any]] = []
        seen: set[str] = set()

        def visit(row: dict[str, Any]) -> None:  # parents before children (foreign key)
            if row["id"] in seen:
                return
            seen.add(row["id"])
            parent = by_id.get(row.get("parent_run_id") or "")
            if parent is not None:
                visit(parent)
            ordered.append(row)

        for row in rows:
            visit(row)
        new = []
        updates = []
        for row in ordered:
            row["experiment_id"] = self.exp_ids.get(row["experiment_id"], row["experiment_id"])
            parent = row["parent_run_id"]
            if parent and parent not in by_id and parent not in present:
                row["parent_run_id"] = None  # its parent was not copied (--experiment)
            old = present.get(row["id"])
            if old is None:
                new.append(row)
            elif any(old[c] != row[c] for c in late):
                updates.append((*(row[c] for c in late), row["id"]))
        self.insert("runs", new)
        if updates:
            sets = ", ".join(f"{c} = ?" for c in late)
            self.dst.conn.executemany(f"UPDATE runs SET {sets} WHERE id = ?", updates)
            self.report.updated["runs"] = len(updates)

    def _wanted(self, run_id: Any) -> bool:
        return self.only_runs is None or run_id is None or run_id in self.only_runs

    def artifacts(self) -> None:
        have = {r["hash"] for r in self.dst.query("SELECT hash FROM artifacts")}
        added = 0
        for row in self.rows("artifacts"):
            if row["hash"] in have:
                continue
            data = self.src.read_artifact(row["hash"])
            digest = self.dst.put_artifact(data, row.get("media_type"))
            self.dst.conn.execute(
                "UPDATE artifacts SET created_at = ?, actor = ? WHERE hash = ?",
                (row["created_at"], row.get("actor"), digest),
            )
            added += 1
        if added:
            self.report.added["artifacts"] = added

    def fix_execution(self, row: dict[str, Any]) -> dict[str, Any] | None:
        return row if self._wanted(row["run_id"]) else None

    def fix_run_execution(self, row: dict[str, Any]) -> dict[str, Any] | None:
        run = row.get("run_id")
        if not self._wanted(run):
            return None
        if "execution_id" in row:
            row["execution_id"] = self.mapped("executions", row["execution_id"])
        return row

    def params(self) -> None:
        rows = [self.fix_run_execution(r) for r in self.rows("params")]
        kept = [r for r in rows if r is not None]
        self.insert("params", kept)

    def upsert_origins(self) -> None:
        rows = [self.fix_run_execution(r) for r in self.rows("metric_origins")]
        self.insert("metric_origins", [r for r in rows if r is not None])

    def fix_dataset(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if not self._wanted(row.get("run_id")):
            return None
        same = self.dst.conn.execute(
            "SELECT id FROM datasets WHERE name = ? AND version = ? AND fingerprint = ?",
            (row["name"], row["version"], row["fingerprint"]),
        ).fetchone()
        if same is not None:
            return {"__existing__": same[0]}
        taken = self.dst.conn.execute(
            "SELECT MAX(version) FROM datasets WHERE name = ?", (row["name"],)
        ).fetchone()
        if taken is not None and taken[0] is not None:
            clash = self.dst.conn.execute(
                "SELECT 1 FROM datasets WHERE name = ? AND version = ?",
                (row["name"], row["version"]),
            ).fetchone()
            if clash is not None:
                self.dataset_versions[(row["name"], row["version"])] = int(taken[0]) + 1
                row["version"] = int(taken[0]) + 1
                self.report.renumbered["dataset versions"] = (
                    self.report.renumbered.get("dataset versions", 0) + 1
                )
        row["execution_id"] = self.mapped("executions", row.get("execution_id"))
        if row.get("run_id") and not self._run_in_target(row["run_id"]):
            row["run_id"] = None
        return row

    def _run_in_target(self, run_id: str) -> bool:
        found = self.dst.conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone()
        return found is not None

    def models(self) -> None:
        rows = []
        for row in self.rows("models"):
            if not self._wanted(row.get("run_id")):
                continue
            row["execution_id"] = self.mapped("executions", row.get("execution_id"))
            if row.get("run_id") and not self._run_in_target(row["run_id"]):
                row["run_id"] = None
            rows.append(row)
        self.insert("models", rows)

    def fix_edge(self, row: dict[str, Any]) -> dict[str, Any] | None:
        if not self._wanted(row.get("run_id")):
            return None
        row["execution_id"] = self.mapped("executions", row.get("execution_id"))
        for side in ("src", "dst"):
            kind, value = row[f"{side}_type"], row[f"{side}_id"]
            if kind == "execution":
                mapped = self.mapped("executions", value)
                if mapped is None:
                    return None
                row[f"{side}_id"] = str(mapped)
            elif kind == "model_version":
                row[f"{side}_id"] = self.version_names.get(str(value), str(value))
        return row

    def fix_diff(self, row: dict[str, Any]) -> dict[str, Any] | None:
        same = self.dst.conn.execute(
            """SELECT id FROM dataset_diffs WHERE a_fingerprint = ? AND b_fingerprint = ?
               AND key = ? AND atol = ? AND rtol = ?""",
            (row["a_fingerprint"], row["b_fingerprint"], row["key"], row["atol"], row["rtol"]),
        ).fetchone()
        if same is not None:
            return {"__existing__": same[0]}
        return self.fix_run_execution(row)

    # -- data tests, tags, resources (#16) ---------------------------------------------------

    def quality(self) -> None:
        self.copy_by_id("expectation_suites", self.fix_suite)
        self.copy_by_id("dataset_checks", self.fix_check)
        tags = []
        for row in self.rows("dataset_tags"):
            if row["version"]:
                key = (row["name"], row["version"])
                row["version"] = self.dataset_versions.get(key, row["version"])
            tags.append(row)
        self.insert("dataset_tags", tags)  # a tag the target has already keeps its value
        usage = []
        for row in self.rows("execution_resources"):
            if not self._wanted(row["run_id"]):
                continue
            row["execution_id"] = self.mapped("executions", row["execution_id"])
            if row["execution_id"] is not None:
                usage.append(row)
        self.insert("execution_resources", usage)

    def fix_suite(self, row: dict[str, Any]) -> dict[str, Any] | None:
        same = self.dst.conn.execute(
            """SELECT id FROM expectation_suites WHERE name = ? AND version = ? AND rules = ?
               AND created_at = ?""",
            (row["name"], row["version"], row["rules"], row["created_at"]),
        ).fetchone()
        if same is not None:
            return {"__existing__": same[0]}
        name = row["name"]
        if name not in self.suite_next:
            taken = self.dst.conn.execute(
                "SELECT MAX(version) FROM expectation_suites WHERE name = ?", (name,)
            ).fetchone()
            self.suite_next[name] = None if taken is None or taken[0] is None else taken[0] + 1
        nxt = self.suite_next[name]
        if nxt is not None:  # the name has its own history there: these versions follow it
            self.suite_versions[(name, row["version"])] = int(nxt)
            row["version"] = int(nxt)
            self.suite_next[name] = int(nxt) + 1
            self.report.renumbered["suite versions"] = (
                self.report.renumbered.get("suite versions", 0) + 1
            )
        return row

    def fix_check(self, row: dict[str, Any]) -> dict[str, Any] | None:
        fixed = self.fix_run_execution(row)
        if fixed is None:
            return None
        key = (fixed["suite"], fixed["suite_version"])
        fixed["suite_version"] = self.suite_versions.get(key, fixed["suite_version"])
        if fixed.get("name") is not None and fixed.get("version") is not None:
            key = (fixed["name"], fixed["version"])
            fixed["version"] = self.dataset_versions.get(key, fixed["version"])
        if fixed.get("run_id") and not self._run_in_target(fixed["run_id"]):
            fixed["run_id"] = None
        return fixed

    # -- registry ----------------------------------------------------------------------------

    def registry(self) -> None:
        from .registry import version_digest

        if "model_versions" not in self.src.table_names():
            return
        self.insert("registered_models", self.rows("registered_models"))
        self.insert("eval_datasets", self.rows("eval_datasets"))
        version_of: dict[tuple[str, int], int] = {}
        known = self.load_map("model_versions")
        pairs = []
        out = []
        nxt = self.next_id("model_versions")
        for row in self.rows("model_versions", "ORDER BY id"):
            key = (str(row["name"]), int(row["version"]))
            if str(row["id"]) in known:
                target = self.dst.conn.execute(
                    "SELECT version FROM model_versions WHERE id = ?", (int(known[str(row["id"])]),)
                ).fetchone()
                version_of[key] = int(target[0]) if target else key[1]
                continue
            same = self.dst.conn.execute(
                """SELECT id, version FROM model_versions WHERE name = ? AND version = ?
                   AND model_fingerprint = ? AND created_at = ?""",
                (row["name"], row["version"], row["model_fingerprint"], row["created_at"]),
            ).fetchone()
            if same is not None:
                pairs.append((row["id"], same[0]))
                version_of[key] = int(same[1])
                continue
            last = self.dst.conn.execute(
                "SELECT MAX(version) FROM model_versions WHERE name = ?", (row["name"],)
            ).fetchone()
            last_n = int(last[0]) if last and last[0] is not None else 0
            taken = max([last_n, *(v for (n, _), v in version_of.items() if n == key[0])])
            version = key[1] if key[1] > taken else taken + 1
            if version != key[1]:
                self.report.renumbered["model versions"] = (
                    self.report.renumbered.get("model versions", 0) + 1
                )
            pairs.append((row["id"], nxt))
            row["version"] = version
            row["id"] = nxt
            row["execution_id"] = self.mapped("executions", row.get("execution_id"))
            nxt += 1
            version_of[key] = version
            out.append(row)
        self.insert("model_versions", out, ignore=False)
        self.remember("model_versions", pairs)
        self.version_names = {f"{n}@{v}": f"{n}@{version_of[(n, v)]}" for n, v in version_of}
        self.audit(version_of, version_digest)
        self.alias_history(version_of)
        self.aliases(version_of)
        self.insert("policies", self.rows("policies"))
        self.monitoring(version_of)

    def monitoring(self, version_of: dict[tuple[str, int], int]) -> None:
        """The monitoring history (#17): batches, then proposals, then the batches' links to
        their proposals, with versions renumbered as the registry's were."""
        if "monitor_batches" not in self.src.table_names():
            return

        def version(name: str, value: Any) -> Any:
            return None if value is None else version_of.get((name, int(value)), value)

        def fix_batch(row: dict[str, Any]) -> dict[str, Any] | None:
            row["version"] = version(row["model_name"], row["version"])
            row["retrained_version"] = version(row["model_name"], row["retrained_version"])
            row["proposal_id"] = None  # linked below, once the proposals have their ids
            return row

        def fix_proposal(row: dict[str, Any]) -> dict[str, Any] | None:
            row["version"] = version(row["model_name"], row["version"])
            row["from_version"] = version(row["model_name"], row["from_version"])
            row["batch_id"] = self.mapped("monitor_batches", row.get("batch_id"))
            row["audit_id"] = self.mapped("audit_records", row.get("audit_id"))
            return row

        fresh = {
            int(r["id"]): r["proposal_id"]
            for r in self.rows("monitor_batches")
            if str(r["id"]) not in self.load_map("monitor_batches")
        }
        self.copy_by_id("monitor_batches", fix_batch)
        self.copy_by_id("promotion_proposals", fix_proposal)
        for source_id, proposal in fresh.items():
            target_proposal = self.mapped("promotion_proposals", proposal)
            if target_proposal is not None:
                self.dst.conn.execute(
                    "UPDATE monitor_batches SET proposal_id = ? WHERE id = ?",
                    (target_proposal, self.mapped("monitor_batches", source_id)),
                )

    def audit(self, version_of: dict[tuple[str, int], int], digest: Callable[[Any], str]) -> None:
        known = self.load_map("audit_records")
        pairs = []
        added = 0
        for row in self.rows("audit_records", "ORDER BY id"):
            if str(row["id"]) in known:
                continue
            name = str(row["name"])

            def version(v: Any, name: str = name) -> Any:
                return None if v is None else version_of.get((name, int(v)), int(v))

            details = loads(row.get("details")) if row.get("details") else {}
            details["pushed_from"] = {
                "store": self.src_id,
                "id": row["id"],
                "hash": row["hash"],
                "actor": row.get("actor"),
                "at": row["at"],
            }
            if row["action"] == "register" and "version_sha256" in details:
                stored = self.dst.conn.execute(
                    "SELECT * FROM model_versions WHERE name = ? AND version = ?",
                    (name, version(row["to_version"])),
                )
                cols = [d[0] for d in stored.description or ()]
                found = stored.fetchone()
                if found is not None:
                    details["version_sha256"] = digest(dict(zip(cols, found, strict=True)))
            record = {
                "at": row["at"],
                "action": row["action"],
                "who": row["who"],
                "name": name,
                "from_version": version(row["from_version"]),
                "to_version": version(row["to_version"]),
                "alias": row["alias"],
                "reason": row["reason"],
                "gates": row["gates"],
                "forced": row["forced"],
                "details": dumps(details),
            }
            stored_record = self.dst.append_audit(record)
            pairs.append((row["id"], stored_record["id"]))
            added += 1
        self.remember("audit_records", pairs)
        if added:
            self.report.added["audit_records"] = added

    def alias_history(self, version_of: dict[tuple[str, int], int]) -> None:
        def fix(row: dict[str, Any]) -> dict[str, Any] | None:
            row["version"] = version_of.get((row["name"], int(row["version"])), row["version"])
            row["audit_id"] = self.mapped("audit_records", row.get("audit_id"))
            return row

        self.copy_by_id("alias_history", fix)

    def aliases(self, version_of: dict[tuple[str, int], int]) -> None:
        rows = []
        for row in self.rows("aliases"):
            row["version"] = version_of.get((row["name"], int(row["version"])), row["version"])
            rows.append(row)
        self.insert("aliases", rows)  # an alias the target holds already keeps its holder


_LATE_RUN_FIELDS = ("status", "ended_at", "tags", "environment_id", "git_commit", "git_dirty")


def _quoted(column: str) -> str:
    return '"user"' if column == "user" else column


def _column_names(store: StoreBase, table: str) -> list[str]:
    """A table's columns (the team store's connection answers this PRAGMA too)."""
    return [str(r[1]) for r in store.conn.execute(f"PRAGMA table_info({table})").fetchall()]


def copy_store(
    source: Store, target: Store, *, experiments: Iterable[str] | None = None
) -> TransferReport:
    """Copy ``source`` into ``target`` (see the module docstring); returns what was added."""
    source.wait_for_writes()
    only = set(experiments) if experiments is not None else None
    with target.write():
        return _Copy(source, target).run(only)


__all__ = ["TransferReport", "copy_store", "store_id"]
