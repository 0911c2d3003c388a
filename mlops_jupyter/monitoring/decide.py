"""After a new version is registered (a retrain on a batch, or a changed bundle): the gates
against the champion, then promote (policy ``auto``) or record a proposal. Both audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..store.base import dumps
from .result import PROMOTED, PROPOSED, RETRAINED


@dataclass(frozen=True)
class Decision:
    status: str  # retrained (gates failed) | promoted | proposed
    promotion: Any  # PromotionResult: the gates, or the promotion when auto
    proposal_id: int | None
    action: str  # one sentence for the user


def sync_gates(st: Any, name: str, policy: dict[str, Any], who: str) -> None:
    """Make the policy file's ``[gates]`` the model's registry policy when they differ (an
    audited ``set_policy``), so the gates the loop runs are the ones the file names."""
    gates = policy["gates"]
    if gates is None or st.find_model_policy(name) == gates:
        return
    from ..registry.actions import set_policy

    set_policy(
        name,
        metrics=gates["metrics"],
        compare=gates["compare"],
        drift=gates["drift"],
        lineage=gates["lineage"],
        by=who,
        store=st,
    )


def decide(
    st: Any,
    *,
    name: str,
    alias: str,
    version: int,
    from_version: int,
    policy: dict[str, Any],
    who: str,
    reason: str,
    details: dict[str, Any],
    batch_id: int | None = None,
) -> Decision:
    from ..registry.actions import promote
    from ..registry.gates import check_gates

    gates = check_gates(name, version, alias, store=st)
    if not gates.passed:
        return Decision(
            RETRAINED, gates, None, f"Gates failed, v{from_version} stays: {gates.summary()}"
        )
    if policy["promotion"]["mode"] == "auto":
        moved = promote(name, version, alias, reason=reason, by=who, store=st, details=details)
        return Decision(PROMOTED if moved.moved else RETRAINED, moved, None, moved.summary())
    proposal = st.create_proposal(
        {
            "model_name": name,
            "alias": alias,
            "version": version,
            "from_version": from_version,
            "batch_id": batch_id,
            "batch_fingerprint": details.get("batch_fingerprint"),
            "gates": gates.gate_records(),
            "summary": gates.summary(),
            "approvers": policy["promotion"]["approvers"],
            "created_by": who,
        },
        audit={
            "action": "propose",
            "who": who,
            "name": name,
            "from_version": from_version,
            "to_version": version,
            "alias": alias,
            "reason": gates.summary(),
            "gates": dumps({"passed": True, "gates": gates.gate_records()}),
            "details": dumps(details),
        },
    )
    number = int(proposal["id"])
    return Decision(
        PROPOSED,
        gates,
        number,
        f"Gates passed; proposal {number} awaits approval: "
        f"mlops-jupyter approve {number} --reason TEXT.",
    )
