"""Expectation suites: data tests drafted from a dataset's profile, edited, versioned, audited.

:func:`draft_rules` turns a stored profile (:mod:`mlops_jupyter.capture.profile`) into rules:
the columns and their types, nullability, numeric ranges with a margin, allowed categories,
uniqueness of key-like columns and a band for the row count. A suite is named after the
dataset name it tests; every change (``draft``, ``set``, ``drop``, ``accept``, ``redraft``)
is a new version in the store and a record in the registry's hash-chained audit trail.

``mj.expect(NAME, set=[...], drop=[...], accept=True)`` changes a suite (drafting it first
when there is none); ``mj.expectations(NAME)`` reads one as a frozen :class:`Suite`, whose
``to_pandera()`` gives the same rules as a ``pandera.DataFrameSchema``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import InvalidInput
from .rules import Rule, format_rule, parse_rule

MARGIN = 0.1  # numeric ranges widen by 10 % of the observed span on each side
ROWS_BAND = 10.0  # a later version may have 1/10 to 10x the rows
MAX_CATEGORIES = 10  # the profile lists the 10 most frequent values
_KEY_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$|^(id|key|uuid)_|Id$|ID$")


def family_of(dtype: str) -> str | None:
    """``int64`` -> ``integer``; the type families rules speak of (None for others)."""
    d = str(dtype).lower()
    if d.startswith(("int", "uint")):
        return "integer"
    if d.startswith("float"):
        return "float"
    if d in ("bool", "boolean"):
        return "bool"
    if d.startswith("datetime"):
        return "datetime"
    if d == "category":
        return "category"
    if d in ("object", "str", "string") or d.startswith("string"):
        return "string"
    return None


# -- drafting -----------------------------------------------------------------------------------


def draft_rules(
    profile: Mapping[str, Any], schema: Mapping[str, str], n_rows: int | None, kind: str
) -> list[Rule]:
    """Rules a dataset of this profile satisfies, with margins (module docstring)."""
    rules: list[Rule] = []
    if n_rows:
        lo = max(1, math.floor(n_rows / ROWS_BAND))
        rules.append(
            Rule(
                "rows",
                min=lo,
                max=math.ceil(n_rows * ROWS_BAND),
                source="profile",
                observed=f"{n_rows} rows",
            )
        )
    if kind == "dataframe" and schema:
        rules.append(Rule("columns", columns=tuple(schema), source="profile"))
    for column, prof in profile.items():
        if column.startswith("__") or not isinstance(prof, Mapping):
            continue
        rules.extend(_column_rules(column, prof, n_rows))
    return rules


def _column_rules(column: str, prof: Mapping[str, Any], n_rows: int | None) -> list[Rule]:
    out: list[Rule] = []
    family = family_of(prof.get("dtype", ""))
    if family is not None:
        out.append(Rule("dtype", column, dtype=family, source="profile"))
    count, nulls = int(prof.get("count") or 0), int(prof.get("nulls") or 0)
    total = count + nulls
    if total and nulls == 0:
        out.append(Rule("not_null", column, source="profile", observed="no nulls"))
    elif total:
        share = nulls / total
        limit = min(1.0, max(2 * share, share + 0.05))
        out.append(
            Rule(
                "nulls",
                column,
                max_share=round(limit, 4),
                source="profile",
                observed=f"{share:.1%} nulls",
            )
        )
    kind = prof.get("kind")
    key_like = _is_key(column, prof, family, nulls, count)
    if (
        kind == "numeric"
        and not key_like
        and prof.get("min") is not None
        and prof.get("max") is not None
    ):
        q = prof.get("quantiles") or {}
        out.append(
            _range_rule(
                column, float(prof["min"]), float(prof["max"]), family, q.get("0.05"), q.get("0.95")
            )
        )
    elif kind == "categorical":
        top = prof.get("top") or []
        distinct = int(prof.get("distinct") or 0)
        if 0 < distinct <= MAX_CATEGORIES and len(top) == distinct and distinct < count:
            values = tuple(sorted(str(v) for v, _n in top))
            out.append(
                Rule(
                    "in", column, values=values, source="profile", observed=f"{distinct} categories"
                )
            )
    if key_like:
        out.append(Rule("unique", column, source="profile", observed="all values distinct"))
    return out


def _is_key(
    column: str, prof: Mapping[str, Any], family: str | None, nulls: int, count: int
) -> bool:
    """An id-like column (by name) whose values were all distinct: a key, not a measurement."""
    distinct = int(prof.get("distinct") or 0)
    looked_at = prof.get("sampled") or count
    return bool(
        _KEY_NAME.search(column)
        and family in ("integer", "string")
        and nulls == 0
        and count > 1
        and distinct == looked_at
    )


def _range_rule(
    column: str,
    lo: float,
    hi: float,
    family: str | None,
    q05: float | None = None,
    q95: float | None = None,
) -> Rule:
    """``lo``..``hi`` widened on each side by 10 % of the span, or by how far that extreme
    sticks out past the 5 % / 95 % quantile when that is more (a long tail gets more room:
    another sample of a normal column reaches a little further)."""
    span = hi - lo
    margin = MARGIN * span if span > 0 else max(abs(hi) * MARGIN, 1e-9)
    below = max(margin, (q05 - lo) if q05 is not None else 0.0)
    above = max(margin, (hi - q95) if q95 is not None else 0.0)
    low, high = lo - below, hi + above
    if lo >= 0 > low:
        low = 0.0  # a column that was never negative (a count, an age) stays non-negative
    if family == "integer":
        low, high = float(math.floor(low)), float(math.ceil(high))
    else:
        low, high = _round(low, span, down=True), _round(high, span, down=False)
    seen = f"seen {format_rule(Rule('between', 'x', lo, hi)).split(' ', 1)[1]}"
    return Rule("between", column, low, high, source="profile", observed=seen)


def _round(value: float, span: float, *, down: bool) -> float:
    """A bound rounded to ~3 significant digits of the span, away from the data."""
    if value == 0 or not math.isfinite(value):
        return value
    scale = span if span > 0 else abs(value)
    step = 10 ** (math.floor(math.log10(scale)) - 2)
    return (math.floor if down else math.ceil)(value / step) * step


# -- the suite ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suite:
    """One version of an expectation suite (frozen; changing it stores a new version)."""

    name: str
    version: int
    status: str  # draft | accepted
    rules: tuple[Rule, ...]
    change: str = "draft"
    based_on: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    history: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def table(self) -> pd.DataFrame:
        """One row per rule: id, rule (its text), kind, column, source, observed."""
        return pd.DataFrame(
            [
                {
                    "id": r.id,
                    "rule": r.text,
                    "kind": r.kind,
                    "column": r.column,
                    "source": r.source,
                    "observed": r.observed,
                }
                for r in self.rules
            ],
            columns=["id", "rule", "kind", "column", "source", "observed"],
        )

    def rule(self, ref: str) -> Rule:
        """The rule with this id or text; :class:`InvalidInput` naming the ids otherwise."""
        found = find_rule(self.rules, ref)
        if found is None:
            raise InvalidInput(
                f"Suite {self.name!r} has no rule {ref!r}. Its rules: "
                + ", ".join(r.id for r in self.rules)
                + "."
            )
        return found

    def to_pandera(self) -> Any:
        """The same rules as a ``pandera.DataFrameSchema`` (needs ``pandera``)."""
        from .pandera_export import to_pandera

        return to_pandera(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "change": self.change,
            "based_on": self.based_on,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "rules": [r.to_dict() | {"id": r.id, "text": r.text} for r in self.rules],
        }

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        lines = [f"Suite {self.name!r} v{self.version} ({self.status}), {len(self.rules)} rules:"]
        lines += [f"  {r.id:<24} {r.text}" for r in self.rules]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ..display.expectations import suite_html

        return suite_html(self)


def find_rule(rules: Iterable[Rule], ref: str) -> Rule | None:
    ref = str(ref).strip()
    rules = list(rules)
    for r in rules:
        if r.id == ref or r.text == ref:
            return r
    try:
        parsed = parse_rule(ref)
    except InvalidInput:
        parsed = None
    if parsed is not None:
        for r in rules:
            if r.id == parsed.id:
                return r
    # "age between" or "age:between" without bounds
    words = ref.replace(":", " ").split()
    if len(words) == 2:
        slot = {"not": "nulls", "null": "nulls", "nulls": "nulls", "is": "dtype"}.get(
            words[1], words[1]
        )
        for r in rules:
            if r.id == f"{words[0]}:{slot}":
                return r
    return None


def suite_from_row(row: Mapping[str, Any], history: Sequence[Mapping[str, Any]] = ()) -> Suite:
    return Suite(
        name=row["name"],
        version=int(row["version"]),
        status=row["status"],
        rules=tuple(Rule.from_dict(r) for r in row["rules"]),
        change=row.get("change") or "draft",
        based_on=row.get("based_on"),
        created_by=row.get("created_by"),
        created_at=row.get("created_at"),
        history=tuple(dict(h) for h in history),
    )


def apply_changes(
    rules: Sequence[Rule], set_rules: Sequence[str | Rule] = (), drop: Sequence[str] = ()
) -> tuple[list[Rule], list[str]]:
    """``rules`` with ``drop`` removed and ``set_rules`` added (replacing the same id);
    returns the new rules and what changed, in words."""
    out = list(rules)
    changes: list[str] = []
    for ref in drop:
        found = find_rule(out, ref)
        if found is None:
            raise InvalidInput(
                f"No rule {ref!r} to drop. The rules are: " + ", ".join(r.id for r in out) + "."
            )
        out.remove(found)
        changes.append(f"drop {found.text}")
    for item in set_rules:
        rule = item if isinstance(item, Rule) else parse_rule(item)
        ids = [r.id for r in out]
        if rule.id in ids:
            out[ids.index(rule.id)] = rule
        else:
            out.append(rule)
        changes.append(f"set {rule.text}")
    return out, changes
