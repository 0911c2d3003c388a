"""Promotion policies: which gates a model's versions must pass to take an alias.

A policy is a small dict, validated once when set::

    {"metrics": {"auc": ">= 0.85"},
     "compare": {"metric": "accuracy", "mode": "not_worse", "margin": 0.01,
                 "confidence": 0.95, "n_resamples": 1000},
     "drift": True, "lineage": True}
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import InvalidInput
from .stats import METRICS

OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_EXPR = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*$")
MODES = ("not_worse", "better")

DEFAULT_COMPARE: dict[str, Any] = {
    "metric": None,  # accuracy for classifiers, r2 for regressors
    "mode": "not_worse",
    "margin": 0.01,
    "confidence": 0.95,
    "n_resamples": 1000,
}
DEFAULT_POLICY: dict[str, Any] = {
    "metrics": {},
    "compare": DEFAULT_COMPARE,
    "drift": True,
    "lineage": True,
}


def parse_condition(key: str, expr: Any) -> tuple[str, float]:
    """``">= 0.85"`` -> ``(">=", 0.85)``; a bare number means ``>=``."""
    if isinstance(expr, int | float) and not isinstance(expr, bool):
        return ">=", float(expr)
    m = _EXPR.match(str(expr))
    if not m:
        raise InvalidInput(
            f"Cannot read the condition {expr!r} for metric {key!r}. "
            'Write it as an operator and a number, e.g. metrics={"auc": ">= 0.85"}.'
        )
    return m.group(1), float(m.group(2))


def check_condition(value: float, op: str, threshold: float) -> bool:
    return bool(OPS[op](value, threshold))


def normalise_policy(
    metrics: Mapping[str, Any] | None = None,
    compare: Mapping[str, Any] | None = None,
    drift: bool = True,
    lineage: bool = True,
) -> dict[str, Any]:
    """Validate and fill in a policy; raises :class:`InvalidInput` on a bad entry."""
    conditions = {}
    for key, expr in (metrics or {}).items():
        op, threshold = parse_condition(str(key), expr)
        conditions[str(key)] = f"{op} {threshold:g}"
    cmp = dict(DEFAULT_COMPARE)
    unknown = set(compare or {}) - set(DEFAULT_COMPARE)
    if unknown:
        raise InvalidInput(
            f"Unknown compare settings {sorted(unknown)}. "
            f"Use {', '.join(DEFAULT_COMPARE)} (e.g. compare={{'mode': 'better'}})."
        )
    cmp.update(compare or {})
    if cmp["metric"] is not None and cmp["metric"] not in METRICS:
        raise InvalidInput(
            f"Champion-vs-challenger cannot compare on {cmp['metric']!r}. "
            f"Use one of {', '.join(METRICS)}."
        )
    if cmp["mode"] not in MODES:
        raise InvalidInput(
            f"Unknown compare mode {cmp['mode']!r}. Use 'not_worse' (within a margin) or "
            "'better' (significantly better)."
        )
    try:
        cmp["margin"] = float(cmp["margin"])
        cmp["confidence"] = float(cmp["confidence"])
        cmp["n_resamples"] = int(cmp["n_resamples"])
    except (TypeError, ValueError):
        raise InvalidInput(
            "compare margin and confidence must be numbers and n_resamples an integer. "
            "Example: compare={'margin': 0.01, 'confidence': 0.95, 'n_resamples': 1000}."
        ) from None
    if not 0.5 <= cmp["confidence"] < 1 or cmp["n_resamples"] < 100 or cmp["margin"] < 0:
        raise InvalidInput(
            "compare needs 0.5 <= confidence < 1, n_resamples >= 100 and margin >= 0. "
            "Example: compare={'margin': 0.01, 'confidence': 0.95, 'n_resamples': 1000}."
        )
    return {
        "metrics": conditions,
        "compare": cmp,
        "drift": bool(drift),
        "lineage": bool(lineage),
    }
