"""The model registry: versions, aliases, gated promotion and a hash-chained audit trail.

    register_model   store a fitted model (skops) as the next version of a name
    load_model       load a version or an alias's holder, refusing untrusted types
    models           every registered model, or one model's versions, aliases and history
    set_policy       the gates a model's versions must pass to take an alias
    promote          run the gates, move the alias when they pass (or when forced)
    rollback         move an alias back to its previous holder
    audit_verify     check the audit trail's hash chain

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


def audit_verify(*, store: Any = None) -> AuditReport:
    """Verify the audit trail: ``.ok`` is False, with the first broken record, after an edit."""
    from .audit import verify
    from .versions import resolve_store

    return verify(resolve_store(store))


__all__ = [
    "AuditReport",
    "ModelList",
    "PromotionResult",
    "RegisteredModel",
    "audit_verify",
    "check_gates",
    "load_model",
    "models",
    "promote",
    "register_model",
    "rollback",
    "set_policy",
]
