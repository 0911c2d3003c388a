"""A suite as a ``pandera.DataFrameSchema``: the same rules, enforceable without mlops-jupyter.

Mapping: ``columns are`` -> ``strict=True`` with every column required (``include``: required,
others allowed); ``not null`` -> ``nullable=False`` (columns are nullable otherwise);
``nulls at most p`` -> a column check on the share of nulls; ``between`` ->
``Check.in_range`` (or ``ge`` / ``le``); ``in`` -> ``Check.isin``; ``unique`` -> ``unique=True``;
``is <type>`` -> a check on the dtype family (``integer`` also accepts floats that hold only
whole numbers, as our check does); ``rows`` -> a DataFrame-level check on the row count.
Columns of a Series or an array are named as the profile names them (``value``, ``0``, ``1``...).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .expectations import Suite, family_of
from .rules import Rule


def _family_check(pa: Any, want: str) -> Any:
    def ok(series: pd.Series) -> bool:
        have = family_of(str(series.dtype))
        if have == want or (want == "numeric" and have in ("integer", "float")):
            return True
        if (want == "float" and have == "integer") or {want, have} == {"string", "category"}:
            return True
        if want == "integer" and have == "float":
            values = series.to_numpy(dtype="float64", na_value=np.nan)
            finite = values[~np.isnan(values)]
            return bool(np.all(np.floor(finite) == finite))
        return False

    return pa.Check(ok, name=f"is_{want}", error=f"dtype family is not {want}")


def _null_share_check(pa: Any, share: float) -> Any:
    return pa.Check(
        lambda s: bool(s.isna().mean() <= share) if len(s) else True,
        name="nulls_at_most",
        error=f"more than {share:.1%} nulls",
        ignore_na=False,
    )


def to_pandera(suite: Suite) -> Any:
    import pandera.pandas as pa

    columns: dict[str, dict[str, Any]] = {}
    strict: bool = False
    frame_checks: list[Any] = []

    def spec(name: str) -> dict[str, Any]:
        return columns.setdefault(
            name, {"checks": [], "nullable": True, "unique": False, "required": True}
        )

    for rule in suite.rules:
        _add(pa, rule, spec, frame_checks)
        if rule.kind == "columns":
            strict = strict or rule.exact
    schema_columns = {
        name: pa.Column(
            None,
            checks=s["checks"] or None,
            nullable=s["nullable"],
            unique=s["unique"],
            required=s["required"],
            coerce=False,
        )
        for name, s in columns.items()
    }
    return pa.DataFrameSchema(
        schema_columns,
        checks=frame_checks or None,
        strict=strict,
        name=f"{suite.name} v{suite.version}",
        description=f"mlops-jupyter expectation suite {suite.name!r} v{suite.version} "
        f"({suite.status})",
    )


def _add(pa: Any, rule: Rule, spec: Any, frame_checks: list[Any]) -> None:
    if rule.kind == "rows":
        lo, hi = rule.min, rule.max
        frame_checks.append(
            pa.Check(
                lambda df: (lo is None or len(df) >= lo) and (hi is None or len(df) <= hi),
                name="rows",
                error=rule.text,
            )
        )
    elif rule.kind == "columns":
        for name in rule.columns:
            spec(name)
    elif rule.kind == "dtype":
        spec(rule.column)["checks"].append(_family_check(pa, rule.dtype or ""))
    elif rule.kind == "not_null":
        spec(rule.column)["nullable"] = False
    elif rule.kind == "nulls":
        spec(rule.column)["checks"].append(_null_share_check(pa, rule.max_share or 0.0))
    elif rule.kind == "between":
        s = spec(rule.column)
        if rule.min is not None and rule.max is not None:
            s["checks"].append(pa.Check.in_range(rule.min, rule.max))
        elif rule.min is not None:
            s["checks"].append(pa.Check.ge(rule.min))
        elif rule.max is not None:
            s["checks"].append(pa.Check.le(rule.max))
    elif rule.kind == "in":
        spec(rule.column)["checks"].append(pa.Check.isin(list(rule.values)))
    elif rule.kind == "unique":
        spec(rule.column)["unique"] = True
