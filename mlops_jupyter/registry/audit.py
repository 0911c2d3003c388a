"""The audit trail: append-only, hash-chained records of every registry action.

Each record's ``hash`` is the sha256 of its canonical JSON, ``prev_hash`` (the previous record's
hash) included (:func:`mlops_jupyter.store.registry.audit_hash`). :func:`verify` recomputes the
chain from the first record: an edited field changes that record's hash, a deleted or inserted
record breaks the next record's ``prev_hash``. It then replays the alias moves and checks that
the current aliases are the ones the trail leads to, which also catches a deleted last record.
SQLite triggers refuse UPDATE and DELETE on the table; they only stop accidents (anyone can
drop a trigger), the chain is what makes an edit evident.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from typing import Any

from ..display.html import esc, panel
from ..errors import AuditTampered
from ..store.registry import GENESIS_HASH, audit_hash

MOVES_ALIAS = ("promote", "rollback")


def audit_table(frame: Any, mark: Any) -> str:
    from ..display.registry import clean_table

    return clean_table(frame, cell_class=mark)


def current_user(by: str | None = None) -> str:
    """``by`` when given, else the OS user."""
    if by:
        return str(by)
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


@dataclass(frozen=True)
class AuditReport:
    """Outcome of :func:`verify`: ``ok``, how many records, and the first broken one."""

    ok: bool
    n_records: int
    broken_id: int | None = None
    problem: str | None = None
    records: Any = field(default=None, repr=False)  # DataFrame of the trail

    def summary(self) -> str:
        if self.ok:
            return f"Audit trail intact: {self.n_records} records, hash chain verified."
        return f"Audit trail broken at record {self.broken_id}: {self.problem}"

    def __str__(self) -> str:
        return self.summary()

    def check(self) -> AuditReport:
        """Raise :class:`AuditTampered` when the chain is broken; return self otherwise."""
        if not self.ok:
            raise AuditTampered(
                f"{self.summary()}. Restore the store from a backup and investigate who "
                "changed it; `mlops-jupyter audit list` shows the records."
            )
        return self

    def to_html(self) -> str:
        cls = "mlops-good" if self.ok else "mlops-bad"
        body = f'<div class="{cls}">{esc(self.summary())}</div>'
        if self.records is not None and len(self.records):
            cols = ["id", "at", "action", "who", "name", "from_version", "to_version", "alias"]
            cols += ["reason", "forced", "hash"]
            frame = self.records[[c for c in cols if c in self.records.columns]].copy()
            if "hash" in frame.columns:
                frame["hash"] = frame["hash"].str.slice(0, 12)
            broken = self.broken_id

            def mark(row: dict[str, Any], col: str) -> str | None:
                return "mlops-bad" if broken is not None and row.get("id") == broken else None

            body += audit_table(frame, mark)
        return panel("Audit trail", body)

    def _repr_html_(self) -> str:
        return self.to_html()


def verify(store: Any) -> AuditReport:
    """Check the hash chain and that the aliases agree with it."""
    import pandas as pd

    if not store.has_registry():
        return AuditReport(True, 0, records=pd.DataFrame())
    rows = store.list_audit_records()
    frame = pd.DataFrame(rows)
    prev = GENESIS_HASH
    expected_id = 1
    for row in rows:
        rid = int(row["id"])
        if rid != expected_id:
            return AuditReport(
                False,
                len(rows),
                rid,
                f"record {expected_id} is missing (ids jump from {expected_id - 1} to {rid})",
                frame,
            )
        if row["prev_hash"] != prev:
            return AuditReport(
                False,
                len(rows),
                rid,
                "its prev_hash does not match the previous record's hash "
                "(a record before it was deleted, inserted or edited)",
                frame,
            )
        if audit_hash(row) != row["hash"]:
            return AuditReport(
                False, len(rows), rid, "its content does not match its hash (it was edited)", frame
            )
        prev = row["hash"]
        expected_id += 1
    problem = _replay_aliases(store, rows)
    if problem is not None:
        last = int(rows[-1]["id"]) if rows else None
        return AuditReport(False, len(rows), last, problem, frame)
    return AuditReport(True, len(rows), records=frame)


def _replay_aliases(store: Any, rows: list[dict[str, Any]]) -> str | None:
    """Replay promotions and rollbacks: the result must equal the aliases table, and every
    alias history range must be one audit record's move (so dated answers can be trusted)."""
    replay: dict[tuple[str, str], int] = {}
    for row in rows:
        if row["action"] in MOVES_ALIAS and row["alias"] is not None:
            replay[(row["name"], row["alias"])] = int(row["to_version"])
    names = [m["name"] for m in store.list_registered_models()]
    actual = {(n, a): v for n in names for a, v in store.get_aliases(n).items()}
    for key in sorted(set(replay) | set(actual)):
        if replay.get(key) != actual.get(key):
            name, alias = key
            return (
                f"alias {alias!r} of {name!r} points at version {actual.get(key)} but the "
                f"audit trail says {replay.get(key)} (a record was deleted or an alias edited)"
            )
    by_id = {int(r["id"]): r for r in rows}
    moves = {int(r["id"]) for r in rows if r["action"] in MOVES_ALIAS}
    seen: set[int] = set()
    for name in names:
        history = store.alias_history(name)
        for h, nxt in zip(history, [*history[1:], None]):
            same = nxt is not None and nxt["alias"] == h["alias"]
            if h["end_at"] != (nxt["start_at"] if same else None):
                return (
                    f"the alias history of {name!r} ({h['alias']!r} -> v{h['version']} from "
                    f"{h['start_at']}) ends at {h['end_at']}, not when the next holder took over "
                    "(the history was edited)"
                )
            rec = by_id.get(int(h["audit_id"] or 0))
            found = (name, h["alias"], h["version"], h["start_at"], h["action"])
            keys = ("name", "alias", "to_version", "at", "action")
            if rec is None or tuple(rec[k] for k in keys) != found:
                return (
                    f"the alias history of {name!r} ({h['alias']!r} -> v{h['version']} from "
                    f"{h['start_at']}) has no matching audit record (the history was edited)"
                )
            seen.add(int(rec["id"]))
    if moves - seen:
        return f"audit record {min(moves - seen)} moved an alias the alias history does not show"
    return None
