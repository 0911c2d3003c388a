"""Is a version's model file the one that was registered? Checked before anything is loaded.

A version's register record in the audit trail (chained, and signed when
``$MLOPS_JUPYTER_AUDIT_KEY`` is set) holds, in its ``details``, the sha256 of the model file,
of the evaluation and training snapshots, and of the version row itself. Loading a model (and
every gate that loads one) first reads the file's bytes, compares their sha256 and the version
row's digest with that record, and only then hands the bytes to skops. Versions registered
before the trail kept these digests (``m002_audit_integrity``) are checked against their
content address (xxh3) instead, and listed as ``unvouched``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..config import audit_key
from ..errors import ArtifactNotFound, UnsafeModel
from ..store.base import loads
from ..store.registry import audit_mac, version_digest

OK, CHANGED, MISSING, UNVOUCHED = "ok", "changed", "missing", "unvouched"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vouched(st: Any, name: str, version: int) -> dict[str, Any] | None:
    """The ``details`` of the version's register record; None for a record written before the
    trail kept digests; ``{"no_record": True}`` when nothing registered this version."""
    record = st.find_register_record(name, version)
    if record is None:
        return {"no_record": True}
    if not record.get("details"):
        return None
    try:
        details = loads(record["details"])
    except ValueError:
        return {"unreadable": True}
    key = audit_key()
    if key is not None and audit_mac(key, record["hash"]) != record.get("mac"):
        details = {**details, "unsigned": True}
    return details if isinstance(details, dict) else {"unreadable": True}


def _problem(st: Any, row: dict[str, Any], data: bytes) -> str | None:
    """Why ``data`` is not the registered file of ``row`` (None when it is)."""
    details = vouched(st, row["name"], row["version"])
    if details is None:
        import xxhash

        if xxhash.xxh3_128_hexdigest(data) != row["artifact_hash"]:
            return "its content no longer matches its hash"
        return None
    if details.get("no_record"):
        return "the audit trail has no record of its registration"
    if details.get("unreadable"):
        return "its register record in the audit trail is unreadable"
    if details.get("unsigned"):
        return "its register record is not signed with $MLOPS_JUPYTER_AUDIT_KEY"
    raw = st.find_version_row(row["name"], row["version"])
    if raw is None or version_digest(raw) != details.get("version_sha256"):
        return "its registry row (file, format or metrics) was edited after registration"
    if sha256_hex(data) != details.get("artifact_sha256"):
        return "its sha256 differs from the one recorded in the audit trail"
    return None


def check_artifact(st: Any, row: dict[str, Any], *, doing: str) -> bytes:
    """The bytes of a version's model file, refused when missing or changed since registered.

    ``doing`` says what was not done ("nothing was loaded", "the alias was not moved").
    """
    what = f"model {row['name']!r} version {row['version']}"
    try:
        data = st.read_artifact(row["artifact_hash"])
    except (ArtifactNotFound, OSError):
        raise ArtifactNotFound(
            f"The file of {what} is missing from {st.artifacts_where}; {doing}. "
            "Restore the store's artifacts folder from a backup or register the model again."
        ) from None
    problem = _problem(st, row, data)
    if problem is not None:
        raise UnsafeModel(
            f"The file of {what} was changed after it was registered ({problem}); {doing}. "
            "Restore the artifact from a backup or register the model again."
        )
    return data


def artifact_status(st: Any, row: dict[str, Any]) -> str:
    """``ok``, ``changed``, ``missing`` or ``unvouched`` (registered before digests were kept)."""
    try:
        data = st.read_artifact(row["artifact_hash"])
    except (ArtifactNotFound, OSError):
        return MISSING
    if _problem(st, row, data) is not None:
        return CHANGED
    return UNVOUCHED if vouched(st, row["name"], row["version"]) is None else OK


def check_snapshot(st: Any, row: dict[str, Any], expected: str | None) -> str | None:
    """Why the snapshot of ``row`` (an eval_datasets row) is not the one vouched for, or None."""
    if expected is None:
        return None
    try:
        data = st.read_artifact(row["snapshot_hash"])
    except (ArtifactNotFound, OSError):
        return "its snapshot file is missing"
    if sha256_hex(data) != expected:
        return "its snapshot file changed after registration"
    return None
