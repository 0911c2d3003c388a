"""The audit trail: append-only, hash-chained records of every registry action.

Each record's ``hash`` is the sha256 of its canonical JSON, ``prev_hash`` (the previous record's
hash) included (:func:`mlops_jupyter.store.registry.audit_hash`). :func:`verify` checks, and
reports every problem it finds (the first one decides ``broken_id``):

1. the registry tables exist (a dropped ``audit_records`` is broken, never "0 records");
2. the head row (record count and last hash, written with every record) matches the trail,
   so records cut from its end show;
3. the chain from the first record: an edited field changes that record's hash, a deleted or
   inserted record breaks the next ``prev_hash``; with ``$MLOPS_JUPYTER_AUDIT_KEY`` set, every
   record and the head must carry a valid HMAC-SHA256, which a writer without the key cannot
   make (no forged, recomputed or re-signed records);
4. ``expect``: the trail still contains that head hash (taken earlier with ``audit head`` and
   kept outside the store: git, a CI secret), so a rewritten or cut trail shows even when the
   writer recomputed every hash;
5. what the records vouch for (:mod:`.audit_tables`): version rows, model files and snapshots
   (sha256), model names, policies and aliases.

What it cannot see, without the key and without ``expect``: a writer who knows this scheme and
rewrites the records, their hashes and the head consistently. SQLite triggers refuse UPDATE and
DELETE on the records; they only stop accidents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..config import audit_key
from ..display.html import esc, panel
from ..errors import AuditTampered, InvalidInput
from ..store.registry import GENESIS_HASH, audit_hash, audit_mac, head_text
from .audit_tables import check_aliases, check_names, check_policies, check_versions


def audit_table(frame: Any, mark: Any) -> str:
    from ..display.registry import clean_table

    return clean_table(frame, cell_class=mark)


def current_user(by: str | None = None) -> str:
    """``by`` when given, else ``$MLOPS_JUPYTER_ACTOR``, else the OS user. (The record's
    ``actor`` is who the store knows wrote it: that name, or the database user.)"""
    from ..config import configured_actor, os_user

    if by:
        return str(by)
    return configured_actor() or os_user()


@dataclass(frozen=True)
class AuditReport:
    """Outcome of :func:`verify`: ``ok``, how many records, the first broken one, every problem."""

    ok: bool
    n_records: int
    broken_id: int | None = None
    problem: str | None = None
    records: Any = field(default=None, repr=False)  # DataFrame of the trail
    problems: tuple[str, ...] = ()
    head_hash: str = GENESIS_HASH
    signed: bool = False  # checked against $MLOPS_JUPYTER_AUDIT_KEY
    anchored: bool = False  # checked against an expected head (--expect)
    notes: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.ok:
            how = ["hash chain verified"]
            how += ["HMAC signatures verified"] if self.signed else []
            how += ["extends the expected head"] if self.anchored else []
            return (
                f"Audit trail intact: {self.n_records} records, {', '.join(how)} "
                f"(head {self.head_hash[:16]})."
            )
        where = f" at record {self.broken_id}" if self.broken_id is not None else ""
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return f"Audit trail broken{where}: {self.problem}{more}"

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
        body += "".join(f'<div class="mlops-bad">{esc(p)}</div>' for p in self.problems[1:])
        body += "".join(f'<div class="mlops-muted">{esc(n)}</div>' for n in self.notes)
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


REGISTRY_TABLES = (
    "registered_models",
    "model_versions",
    "aliases",
    "alias_history",
    "policies",
    "audit_records",
)
HASH_PATTERN = re.compile(r"[0-9a-f]{64}")


def check_expected(expect: str | None) -> str | None:
    """``expect`` as a 64-hex head hash (None when not given); anything else is InvalidInput."""
    if expect is None:
        return None
    text = str(expect).strip().lower()
    if not HASH_PATTERN.fullmatch(text):
        raise InvalidInput(
            f"{expect!r} is not an audit head hash. Pass the 64 hex digits that "
            "`mlops-jupyter audit head` printed, e.g. --expect 3f2a...e9."
        )
    return text


def verify(store: Any, *, expect: str | None = None) -> AuditReport:
    """Check the trail and everything it vouches for (see the module docstring)."""
    import pandas as pd

    expected = check_expected(expect)
    key = audit_key()
    found: list[tuple[int | None, str]] = []
    notes: list[str] = []
    tables = set(store.table_names())
    applied = store.applied_migrations("mlops_jupyter.registry")
    missing = [t for t in REGISTRY_TABLES if t not in tables]
    if applied and "m002_audit_integrity" in applied and "audit_head" not in tables:
        missing.append("audit_head")
    if missing:
        found.append((None, f"the registry table(s) {', '.join(missing)} are missing (dropped)"))
    if "audit_records" not in tables:
        if not applied and not (tables & set(REGISTRY_TABLES)):  # an old store, no registry yet
            return AuditReport(True, 0, records=pd.DataFrame())
        return _report(found, [], expected, key, notes)
    rows = store.list_audit_records()
    found += _check_chain(rows, key)
    found += _check_head(store, rows, key, "audit_head" in tables)
    if (
        expected is not None
        and expected != GENESIS_HASH
        and all(r["hash"] != expected for r in rows)
    ):
        found.append(
            (
                None,
                f"the trail no longer contains the expected head {expected[:16]}: it was "
                "rewritten or cut after that head was taken",
            )
        )
    if key is None and any(r.get("mac") for r in rows):
        notes.append("Records are signed; set MLOPS_JUPYTER_AUDIT_KEY to check the signatures.")
    if not missing:
        found += check_versions(store, rows)
        found += check_names(store, rows)
        found += check_policies(store, rows)
        found += check_aliases(store, rows)
    return _report(found, rows, expected, key, notes)


def _report(
    found: list[tuple[int | None, str]],
    rows: list[dict[str, Any]],
    expected: str | None,
    key: bytes | None,
    notes: list[str],
) -> AuditReport:
    import pandas as pd

    frame = pd.DataFrame(rows)
    head = rows[-1]["hash"] if rows else GENESIS_HASH
    common = {
        "records": frame,
        "head_hash": head,
        "signed": key is not None,
        "anchored": expected is not None,
        "notes": tuple(notes),
    }
    if not found:
        return AuditReport(True, len(rows), **common)
    first_id, first = found[0]
    problems = tuple(p for _, p in found)
    return AuditReport(False, len(rows), first_id, first, problems=problems, **common)


def _check_head(
    store: Any, rows: list[dict[str, Any]], key: bytes | None, kept: bool
) -> list[tuple[int | None, str]]:
    if not kept:
        return []  # a store read without upgrading, from before heads were kept
    head = store.get_audit_head()
    last = rows[-1]["hash"] if rows else GENESIS_HASH
    if head is None:
        return [(None, "the audit head row is missing (deleted)")]
    out: list[tuple[int | None, str]] = []
    if int(head["n_records"]) != len(rows) or head["hash"] != last:
        out.append(
            (
                None,
                f"the audit head says {head['n_records']} records ending in "
                f"{str(head['hash'])[:16]}, the trail holds {len(rows)} ending in {last[:16]} "
                "(records were cut from its end, or appended outside the registry)",
            )
        )
    if (
        key is not None
        and audit_mac(key, head_text(head["n_records"], head["hash"])) != head["mac"]
    ):
        out.append((None, "the audit head's signature does not match (it was rewritten)"))
    return out


def _check_chain(rows: list[dict[str, Any]], key: bytes | None) -> list[tuple[int | None, str]]:
    prev = GENESIS_HASH
    for expected_id, row in enumerate(rows, start=1):
        rid = int(row["id"])
        if rid != expected_id:
            return [
                (rid, f"record {expected_id} is missing (ids jump from {expected_id - 1} to {rid})")
            ]
        if row["prev_hash"] != prev:
            return [
                (
                    rid,
                    "its prev_hash does not match the previous record's hash "
                    "(a record before it was deleted, inserted or edited)",
                )
            ]
        if audit_hash(row) != row["hash"]:
            return [(rid, "its content does not match its hash (it was edited)")]
        if key is not None and audit_mac(key, row["hash"]) != row.get("mac"):
            state = "is not signed" if not row.get("mac") else "has a signature that does not match"
            return [
                (
                    rid,
                    f"it {state} under MLOPS_JUPYTER_AUDIT_KEY (forged, re-hashed, or written "
                    "without the key)",
                )
            ]
        prev = row["hash"]
    return []
