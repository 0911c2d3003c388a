"""What the audit trail vouches for in the other registry tables, checked record by record.

Each function takes the store and the trail's records (already chain-checked) and returns a
list of ``(record id or None, problem)``: versions (each row has its register record and
matches the digest it recorded), model files and snapshots (their sha256), model names,
policies (the table equals the last ``set_policy`` record) and aliases (a replay of the moves
equals the aliases table, and every alias history range is one record's move).
"""

from __future__ import annotations

from typing import Any

from ..errors import ArtifactNotFound
from ..store.base import loads
from ..store.registry import version_digest
from .integrity import sha256_hex

MOVES_ALIAS = ("promote", "rollback")
Problem = tuple[int | None, str]


def _details(record: dict[str, Any]) -> dict[str, Any] | None:
    try:
        details = loads(record.get("details"))
    except ValueError:
        return {}
    return details if isinstance(details, dict) else None


def check_versions(st: Any, records: list[dict[str, Any]]) -> list[Problem]:
    """Every version row has one register record, and (since digests are kept) matches it."""
    out: list[Problem] = []
    registered = {}
    for r in records:
        if r["action"] == "register":
            registered.setdefault((r["name"], r["to_version"]), r)
    rows = {(v["name"], v["version"]): v for v in st.list_version_rows()}
    for key, row in sorted(rows.items()):
        record = registered.get(key)
        label = f"{key[0]!r} v{key[1]}"
        if record is None:
            out.append(
                (None, f"version {label} has no register record (added outside the registry)")
            )
            continue
        details = _details(record)
        if details and details.get("version_sha256") != version_digest(row):
            out.append(
                (
                    int(record["id"]),
                    f"the registry row of {label} was edited after registration (its file, "
                    "format, metrics or card no longer match its register record)",
                )
            )
        out += _files(st, int(record["id"]), label, row, details or {})
    for key, record in sorted(registered.items()):
        if key not in rows:
            out.append(
                (int(record["id"]), f"version {key[0]!r} v{key[1]} was deleted from the registry")
            )
    return out


def _files(
    st: Any, rid: int, label: str, row: dict[str, Any], details: dict[str, Any]
) -> list[Problem]:
    """The model file and the snapshots against the sha256 the register record holds."""
    out: list[Problem] = []
    wanted = [(row["artifact_hash"], details.get("artifact_sha256"), "model file")]
    for role, column in (("eval", "eval_fingerprint"), ("train", "train_fingerprint")):
        snap = st.find_eval_dataset(row[column]) if details.get(f"{role}_sha256") else None
        if snap is not None:
            wanted.append((snap["snapshot_hash"], details[f"{role}_sha256"], f"{role} snapshot"))
    for digest, expected, what in wanted:
        if not expected:
            continue
        try:
            data = st.read_artifact(digest)
        except (ArtifactNotFound, OSError):
            out.append((rid, f"the {what} of {label} is missing"))
            continue
        if sha256_hex(data) != expected:
            out.append((rid, f"the {what} of {label} was changed after registration"))
    return out


def check_names(st: Any, records: list[dict[str, Any]]) -> list[Problem]:
    known = {r["name"] for r in records if r["action"] in ("register", "set_policy")}
    return [
        (None, f"model {m['name']!r} has no audit record (added outside the registry)")
        for m in st.list_registered_models()
        if m["name"] not in known
    ]


def check_policies(st: Any, records: list[dict[str, Any]]) -> list[Problem]:
    """The policies table holds exactly what the last ``set_policy`` record of each name set."""
    last: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["action"] == "set_policy":
            last[r["name"]] = r
    out: list[Problem] = []
    stored = st.list_policies()
    for name in sorted(set(last) | set(stored)):
        record = last.get(name)
        if record is None:
            out.append((None, f"the policy of {name!r} has no set_policy record (added outside)"))
        elif name not in stored:
            out.append((int(record["id"]), f"the policy of {name!r} was deleted"))
        elif loads(record["gates"]) != stored[name]:
            out.append(
                (
                    int(record["id"]),
                    f"the policy of {name!r} differs from what record "
                    f"{record['id']} set (it was edited)",
                )
            )
    return out


def check_aliases(st: Any, rows: list[dict[str, Any]]) -> list[Problem]:
    """Replay promotions and rollbacks: the result must equal the aliases table, and every
    alias history range must be one audit record's move (so dated answers can be trusted)."""
    replay: dict[tuple[str, str], int] = {}
    for row in rows:
        if row["action"] in MOVES_ALIAS and row["alias"] is not None:
            replay[(row["name"], row["alias"])] = int(row["to_version"])
    names = [m["name"] for m in st.list_registered_models()]
    actual = {(n, a): v for n in names for a, v in st.get_aliases(n).items()}
    last = int(rows[-1]["id"]) if rows else None
    for key in sorted(set(replay) | set(actual)):
        if replay.get(key) != actual.get(key):
            name, alias = key
            return [
                (
                    last,
                    f"alias {alias!r} of {name!r} points at version {actual.get(key)} but the "
                    f"audit trail says {replay.get(key)} (a record was deleted or an alias edited)",
                )
            ]
    by_id = {int(r["id"]): r for r in rows}
    moves = {int(r["id"]) for r in rows if r["action"] in MOVES_ALIAS}
    seen: set[int] = set()
    for name in names:
        history = st.alias_history(name)
        for h, nxt in zip(history, [*history[1:], None]):
            where = f"the alias history of {name!r} ({h['alias']!r} -> v{h['version']} from {h['start_at']})"
            same = nxt is not None and nxt["alias"] == h["alias"]
            if h["end_at"] != (nxt["start_at"] if same else None):
                return [
                    (
                        last,
                        f"{where} ends at {h['end_at']}, not when the next holder took over "
                        "(the history was edited)",
                    )
                ]
            rec = by_id.get(int(h["audit_id"] or 0))
            found = (name, h["alias"], h["version"], h["start_at"], h["action"])
            keys = ("name", "alias", "to_version", "at", "action")
            if rec is None or tuple(rec[k] for k in keys) != found:
                return [(last, f"{where} has no matching audit record (the history was edited)")]
            seen.add(int(rec["id"]))
    if moves - seen:
        first = min(moves - seen)
        return [(first, f"audit record {first} moved an alias the alias history does not show")]
    return []
