"""Promotion proposals: list, approve (runs the gates again, then promotes), reject; and the
monitoring history of a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import InvalidInput, RegistryError
from .result import PROMOTED, MonitorHistory

PROPOSAL_COLUMNS = [
    "id",
    "created_at",
    "model_name",
    "alias",
    "version",
    "from_version",
    "status",
    "batch_fingerprint",
    "summary",
    "approvers",
    "created_by",
    "decided_at",
    "decided_by",
    "reason",
]


@dataclass(frozen=True)
class ProposalList:
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        if not len(self.frame):
            return "(no promotion proposals)"
        cols = ["id", "model_name", "alias", "version", "from_version", "status", "created_at"]
        return str(self.frame[cols].to_string(index=False))

    def to_html(self) -> str:
        from ..display.monitor import proposals_html

        return proposals_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def _store(store: Any) -> Any:
    from ..registry.versions import resolve_store

    return resolve_store(store)


def _reason(reason: Any, verb: str) -> str:
    text = str(reason or "").strip()
    if not text:
        raise InvalidInput(
            f"To {verb} a proposal, say why: --reason \"...\" (reason='...' in Python). "
            "The reason goes into the audit trail."
        )
    return text


def _open(st: Any, proposal_id: Any) -> dict[str, Any]:
    try:
        number = int(proposal_id)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"A proposal id is a number, got {proposal_id!r}. List them with "
            "`mlops-jupyter proposals`."
        ) from None
    row = st.get_proposal(number)
    if row["status"] != "open":
        raise RegistryError(
            f"Proposal {number} is {row['status']}, not open; nothing was done. List the open "
            "ones with `mlops-jupyter proposals`."
        )
    return row


def proposals(
    model: str | None = None, *, status: str | None = "open", store: Any = None
) -> ProposalList:
    """Promotion proposals (open ones by default; ``status=None`` for all), oldest first."""
    st = _store(store)
    rows = st.list_proposals(model, status)
    return ProposalList(pd.DataFrame(rows, columns=PROPOSAL_COLUMNS))


def approve(proposal_id: int, reason: str, *, by: str | None = None, store: Any = None) -> Any:
    """Carry out an open proposal: the gates run again (the champion may have changed since)
    and the alias moves when they pass. Returns the :class:`PromotionResult`; the proposal is
    ``approved`` when the alias moved and stays open when the gates now fail."""
    from ..registry.actions import promote
    from ..registry.audit import current_user

    st = _store(store)
    text = _reason(reason, "approve")
    row = _open(st, proposal_id)
    who = current_user(by)
    if row["approvers"] and who not in row["approvers"]:
        raise RegistryError(
            f"{who} may not approve proposal {row['id']}: the policy names "
            f"{', '.join(row['approvers'])}. Ask one of them, or pass --by NAME if you are one."
        )
    result = promote(
        row["model_name"],
        row["version"],
        row["alias"],
        reason=text,
        by=who,
        store=st,
        details={
            "proposal": int(row["id"]),
            "batch_fingerprint": row["batch_fingerprint"],
            "monitor_batch": row["batch_id"],
        },
    )
    if result.moved:
        st.decide_proposal(int(row["id"]), status="approved", by=who, reason=text)
        if row["batch_id"]:
            st.update_monitor_batch(int(row["batch_id"]), status=PROMOTED)
    return result


def reject(
    proposal_id: int, reason: str, *, by: str | None = None, store: Any = None
) -> dict[str, Any]:
    """Close an open proposal without promoting (an audit record ``reject``)."""
    from ..registry.audit import current_user
    from ..store.base import dumps

    st = _store(store)
    text = _reason(reason, "reject")
    row = _open(st, proposal_id)
    who = current_user(by)
    st.decide_proposal(
        int(row["id"]),
        status="rejected",
        by=who,
        reason=text,
        audit={
            "action": "reject",
            "who": who,
            "name": row["model_name"],
            "from_version": row["from_version"],
            "to_version": row["version"],
            "alias": row["alias"],
            "reason": text,
            "details": dumps(
                {"proposal": int(row["id"]), "batch_fingerprint": row["batch_fingerprint"]}
            ),
        },
    )
    return st.get_proposal(int(row["id"]))


BATCH_COLUMNS = [
    "id",
    "created_at",
    "batch",
    "version",
    "n_rows",
    "labelled",
    "status",
    "drift_share",
    "drift_threshold",
    "drifted",
    "data_tests_passed",
    "metric",
    "measured",
    "reference",
    "estimate",
    "estimate_trust",
    "fired",
    "retrained_version",
    "proposal_id",
    "fingerprint",
]


def monitor_history(model: str, *, store: Any = None) -> MonitorHistory:
    """Every batch ``model`` was monitored on (oldest first), its proposals and alias moves."""
    from ..registry.versions import check_name, require_model

    st = _store(store)
    name = check_name(model)
    require_model(st, name)
    records = []
    metric = None
    for r in st.list_monitor_batches(name):
        policy_metric = (r["policy"] or {}).get("triggers", {}).get("metric")
        fired = [t["trigger"] for t in r["triggers"] or [] if t.get("fired")]
        m = policy_metric or next(
            (t["figure"].split()[0] for t in r["triggers"] or [] if t["trigger"] == "metric_drop"),
            None,
        )
        m = m or ("accuracy" if "accuracy" in (r["reference_metrics"] or {}) else None)
        metric = metric or m
        est = r["estimate"] or {}
        records.append(
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "batch": r["batch_name"],
                "version": r["version"],
                "n_rows": r["n_rows"],
                "labelled": r["labelled"],
                "status": r["status"],
                "drift_share": r["drift_share"],
                "drift_threshold": r["drift_threshold"],
                "drifted": r["drifted"],
                "data_tests_passed": r["data_tests_passed"],
                "metric": m,
                "measured": (r["metrics"] or {}).get(m) if m else None,
                "reference": (r["reference_metrics"] or {}).get(m) if m else None,
                "estimate": est.get("value"),
                "estimate_trust": est.get("trust"),
                "fired": ", ".join(fired),
                "retrained_version": r["retrained_version"],
                "proposal_id": r["proposal_id"],
                "fingerprint": r["batch_fingerprint"],
            }
        )
    batches = pd.DataFrame(records, columns=BATCH_COLUMNS)
    props = pd.DataFrame(st.list_proposals(name, None), columns=PROPOSAL_COLUMNS)
    moves = pd.DataFrame(
        st.alias_history(name),
        columns=[
            "alias",
            "version",
            "action",
            "start_at",
            "end_at",
            "who",
            "reason",
            "forced",
            "audit_id",
        ],
    )
    return MonitorHistory(model=name, batches=batches, proposals=props, moves=moves, metric=metric)
