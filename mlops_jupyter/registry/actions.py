"""Acting on the registry: promote (gated), rollback, set a policy. Each is an audit record.

A promotion runs :func:`~mlops_jupyter.registry.gates.check_gates` and moves the alias only when
no gate fails, or when forced with a reason; a failed attempt is recorded and moves nothing.
A rollback moves an alias back to the version it replaced: promotions push onto the alias's
stack of holders, rollbacks pop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput, RegistryError
from ..store.base import dumps
from .audit import current_user
from .gates import PromotionResult, check_gates
from .integrity import check_artifact
from .policy import normalise_policy
from .versions import check_name, require_model, resolve_store


def _gates_json(result: PromotionResult) -> str:
    payload: dict[str, Any] = {"passed": result.passed, "gates": result.gate_records()}
    if result.bootstrap is not None:
        b = result.bootstrap
        payload["bootstrap"] = {
            "metric": b.metric,
            "candidate": b.candidate,
            "champion": b.champion,
            "difference": b.difference,
            "ci": [b.ci_low, b.ci_high],
            "confidence": b.confidence,
            "n_resamples": b.n_resamples,
        }
    if result.mcnemar is not None:
        m = result.mcnemar
        payload["mcnemar"] = {
            "candidate_only": m.candidate_only,
            "champion_only": m.champion_only,
            "p_value": m.p_value,
            "method": m.method,
        }
    return dumps(payload)


def promote(
    name: str,
    version: int | str,
    alias: str,
    reason: str | None = None,
    force: bool = False,
    by: str | None = None,
    *,
    store: Any = None,
    details: Mapping[str, Any] | None = None,
) -> PromotionResult:
    """Run the gates and move ``alias`` to ``version`` when they pass (or when forced).

    Returns a :class:`PromotionResult` (``.passed``, ``.gates``, ``.moved``); a failed attempt
    is recorded in the audit trail and leaves the alias where it was. A version whose model
    file is missing or changed is refused, forced or not: forcing skips gates, not integrity.
    ``details`` go into the audit record (the monitor passes the batch's fingerprint).
    """
    name, alias = check_name(name), check_name(alias, "alias", new=True)
    if force and not (reason and str(reason).strip()):
        raise InvalidInput(
            "A forced promotion needs a reason. "
            "Pass reason='...' (--reason \"...\" in %mlops promote and mlops-jupyter promote)."
        )
    st = resolve_store(store)
    result = check_gates(name, version, alias, store=st)  # refuses a missing model file
    moved = result.passed or bool(force)
    audit = {
        "action": "promote" if moved else "promote_failed",
        "who": current_user(by),
        "name": result.name,
        "from_version": result.from_version,
        "to_version": result.version,
        "alias": result.alias,
        "reason": reason,
        "gates": _gates_json(result),
        "forced": bool(force) and moved,
    }
    overridden = result.failed_gates() if force else []
    extra: dict[str, Any] = dict(details or {})
    if overridden:  # the override itself is part of the chained record
        extra.update({"overridden": overridden, "reason": reason})
    if extra:
        audit["details"] = dumps(extra)
    if moved:
        record = st.move_alias(
            result.name, result.alias, result.version, action="promote", audit=audit
        )
    else:
        record = st.append_audit(audit)
    return PromotionResult(
        **{
            **result.__dict__,
            "moved": moved,
            "forced": bool(force),
            "reason": reason,
            "audit_id": record["id"],
        }
    )


def previous_holder(st: Any, name: str, alias: str) -> tuple[int | None, int | None]:
    """``(current, previous)`` holders, treating promotions as pushes and rollbacks as pops."""
    stack: list[int] = []
    for row in st.alias_history(name, alias):
        if row["action"] == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(int(row["version"]))
    current = stack[-1] if stack else None
    previous = stack[-2] if len(stack) >= 2 else None
    return current, previous


def rollback(
    name: str,
    alias: str,
    reason: str | None = None,
    *,
    by: str | None = None,
    store: Any = None,
) -> dict[str, Any]:
    """Move ``alias`` back to the version that held it before the current one (recorded)."""
    st = resolve_store(store)
    name, alias = check_name(name), check_name(alias, "alias")
    require_model(st, name)
    current, previous = previous_holder(st, name, alias)
    if current is None:
        raise RegistryError(
            f"No version of {name!r} holds {alias!r}, so there is nothing to roll back. "
            f"See the alias history with `%mlops models {name} --history`."
        )
    if previous is None:
        raise RegistryError(
            f"Version {current} is the first holder of {alias!r} for {name!r}; there is no "
            f"previous holder to roll back to. Promote another version instead."
        )
    check_artifact(st, st.get_model_version(name, previous), doing="the alias was not moved")
    record = st.move_alias(
        name,
        alias,
        previous,
        action="rollback",
        audit={
            "action": "rollback",
            "who": current_user(by),
            "name": name,
            "from_version": current,
            "to_version": previous,
            "alias": alias,
            "reason": reason,
        },
    )
    return {
        "name": name,
        "alias": alias,
        "from_version": current,
        "to_version": previous,
        "audit_id": record["id"],
        "at": record["at"],
    }


def set_policy(
    name: str,
    *,
    metrics: Mapping[str, Any] | None = None,
    compare: Mapping[str, Any] | None = None,
    drift: bool = True,
    lineage: bool = True,
    by: str | None = None,
    store: Any = None,
) -> dict[str, Any]:
    """Set the promotion policy of ``name`` (recorded in the audit trail); returns it.

    ``name`` must be a registered model (:class:`ModelNotFound` otherwise): register its first
    version, then set the policy its later versions must pass. Refusing unknown names keeps a
    typo from creating a model with no versions.
    """
    st = resolve_store(store)
    name = check_name(name)
    require_model(st, name)
    policy = normalise_policy(metrics, compare, drift, lineage)
    st.set_model_policy(
        name,
        policy,
        audit={
            "action": "set_policy",
            "who": current_user(by),
            "name": name,
            "gates": dumps(policy),
        },
    )
    return policy
