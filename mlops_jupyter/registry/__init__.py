"""The model registry: versions, aliases, gated promotion and a hash-chained audit trail.

    register_model   store a fitted model (skops) as the next version of a name
    load_model       load a version or an alias's holder, refusing untrusted types
    models           every registered model, or one model's versions, aliases and history
    set_policy       the gates a model's versions must pass to take an alias
    promote          run the gates, move the alias when they pass (or when forced)
    rollback         move an alias back to its previous holder
    audit_verify     check the audit trail and everything it vouches for
    audit_head       the trail's head hash and record count, to anchor outside the store

Modules: ``versions`` (register, load, views), ``files`` (skops / opt-in pickle), ``evaldata``
(snapshots, evaluation), ``stats`` (paired bootstrap, McNemar), ``policy``, ``gates``
(checks), ``actions`` (promote, rollback, set_policy),
``audit`` (chain), ``card`` (model cards), ``lineage`` (what capture recorded).
"""

from __future__ import annotations

from typing import Any

from .actions import promote, rollback, set_policy
from .audit import AuditReport
from .gates import PromotionResult, check_gates
from .versions import ModelList, RegisteredModel, load_model, models, register_model


def audit_verify(*, expect: str | None = None, store: Any = None) -> AuditReport:
    """Verify the audit trail: ``.ok`` is False, with the first broken record, after an edit.

    ``expect`` is a head hash taken earlier (:func:`audit_head`): the trail must still hold it.
    With ``$MLOPS_JUPYTER_AUDIT_KEY`` set, every record's HMAC is checked too.
    """
    from .audit import verify
    from .versions import resolve_store

    return verify(resolve_store(store), expect=expect)


def audit_head(*, store: Any = None) -> tuple[str, int]:
    """``(head hash, record count)`` of a verified trail; :class:`AuditTampered` if broken."""
    report = audit_verify(store=store).check()
    return report.head_hash, report.n_records


__all__ = [
    "AuditReport",
    "ModelList",
    "PromotionResult",
    "RegisteredModel",
    "audit_head",
    "audit_verify",
    "check_gates",
    "load_model",
    "models",
    "promote",
    "register_model",
    "rollback",
    "set_policy",
]
