"""One data test (an expectation): what it says, its id, its text, and parsing the text back.

The rule language, one rule per string (what ``%mlops expect NAME --set RULE`` takes)::

    rows between 100 and 5000            rows >= 100           rows <= 5000
    columns are id, age, city            columns include id, age
    age is integer                       (integer, float, numeric, bool, string, datetime, category)
    age not null                         age nulls at most 5%
    age between 0 and 120                age >= 0              age <= 120
    city in [Paris, Lyon, "New York"]
    id unique

A column name with spaces or odd characters is quoted: ``"net income" >= 0`` (double, single
or back quotes). A rule's id is ``rows``, ``columns`` or ``<column>:<slot>`` with the slot
``dtype``, ``nulls`` (``not null`` and ``nulls at most``), ``between``, ``in`` or ``unique``:
setting a rule replaces the rule of the same id, and ``--drop`` takes an id or a rule's text.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InvalidInput

FAMILIES = ("integer", "float", "numeric", "bool", "string", "datetime", "category")
KINDS = ("rows", "columns", "dtype", "not_null", "nulls", "between", "in", "unique")
_SLOT = {"not_null": "nulls", "nulls": "nulls"}

_TOKEN = re.compile(
    r"""\s*(?:"(?P<dq>(?:[^"\\]|\\.)*)"|'(?P<sq>(?:[^'\\]|\\.)*)'|`(?P<bq>[^`]*)`"""
    r"""|(?P<op>>=|<=|[\[\],%])|(?P<word>[^\s\[\],"'`%]+))"""
)

EXAMPLES = (
    "age between 0 and 120",
    "age not null",
    "city in [Paris, Lyon]",
    "id unique",
    "rows >= 100",
)


@dataclass(frozen=True)
class Rule:
    """One expectation. ``column`` is None for ``rows`` and ``columns``."""

    kind: str
    column: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[Any, ...] = ()
    dtype: str | None = None
    max_share: float | None = None
    columns: tuple[str, ...] = ()
    exact: bool = True
    source: str = "user"  # profile | user
    observed: str | None = None  # what the profile saw when it was drafted

    @property
    def id(self) -> str:
        if self.kind in ("rows", "columns"):
            return self.kind
        return f"{self.column}:{_SLOT.get(self.kind, self.kind)}"

    @property
    def text(self) -> str:
        return format_rule(self)

    @property
    def row_level(self) -> bool:
        """Whether the rule judges rows one by one (failed rows can be counted)."""
        return self.kind in ("not_null", "nulls", "between", "in", "unique", "dtype")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in asdict(self).items():
            if value is None or value == () or (key == "exact" and self.kind != "columns"):
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("values", "columns"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


# -- text ---------------------------------------------------------------------------------------


def _name(column: str | None) -> str:
    text = str(column)
    if re.fullmatch(r"[^\s\[\],\"'`%<>=]+", text) and text.lower() not in _WORDS:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        return _number(value)
    text = str(value)
    if re.fullmatch(r"[^\s\[\],\"'`%]+", text) and not _looks_numeric(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: float | int) -> str:
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    return f"{value:.6g}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_rule(rule: Rule) -> str:
    col = _name(rule.column)
    if rule.kind == "rows":
        return _range_text("rows", rule.min, rule.max)
    if rule.kind == "columns":
        verb = "are" if rule.exact else "include"
        return f"columns {verb} " + ", ".join(_name(c) for c in rule.columns)
    if rule.kind == "dtype":
        return f"{col} is {rule.dtype}"
    if rule.kind == "not_null":
        return f"{col} not null"
    if rule.kind == "nulls":
        return f"{col} nulls at most {_number(round((rule.max_share or 0) * 100, 4))}%"
    if rule.kind == "between":
        return _range_text(col, rule.min, rule.max)
    if rule.kind == "in":
        return f"{col} in [" + ", ".join(_value(v) for v in rule.values) + "]"
    if rule.kind == "unique":
        return f"{col} unique"
    return rule.kind


def _range_text(subject: str, lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"{subject} between {_number(lo)} and {_number(hi)}"
    if lo is not None:
        return f"{subject} >= {_number(lo)}"
    return f"{subject} <= {_number(hi if hi is not None else math.inf)}"


# -- parsing ------------------------------------------------------------------------------------

_WORDS = frozenset({"between", "and", "is", "not", "null", "nulls", "in", "unique", "at", "most"})


def _tokens(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` with kind ``name`` (quoted), ``op`` or ``word``."""
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _bad(text, f"cannot read {text[pos:]!r}")
        pos = m.end()
        for group in ("dq", "sq"):
            if m.group(group) is not None:
                out.append(("name", re.sub(r"\\(.)", r"\1", m.group(group))))
                break
        else:
            if m.group("bq") is not None:
                out.append(("name", m.group("bq")))
            elif m.group("op") is not None:
                out.append(("op", m.group("op")))
            elif m.group("word") is not None:
                out.append(("word", m.group("word")))
    return out


def _bad(text: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Cannot read the rule {text!r}: {why}. Write rules like "
        + "; ".join(f"'{e}'" for e in EXAMPLES)
        + " (see `%mlops expect?`)."
    )


def _num(text: str, tok: tuple[str, str] | None) -> float:
    if tok is None or tok[0] == "op":
        raise _bad(text, "a number is missing")
    try:
        value = float(tok[1])
    except ValueError:
        raise _bad(text, f"{tok[1]!r} is not a number") from None
    if math.isnan(value):
        raise _bad(text, "NaN is not a bound")
    return value


def _literal(tok: tuple[str, str]) -> Any:
    kind, text = tok
    if kind == "name":
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_rule(text: str) -> Rule:
    """A rule from its text (module docstring); :class:`InvalidInput` when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), "it is empty")
    toks = _tokens(text)
    words = [t.lower() if k == "word" else None for k, t in toks]

    def at(i: int) -> tuple[str, str] | None:
        return toks[i] if i < len(toks) else None

    def word(i: int) -> str | None:
        return words[i] if i < len(words) else None

    head_kind, head = toks[0]
    subject = head if head_kind != "op" else None
    if subject is None:
        raise _bad(text, "it must start with a column name, 'rows' or 'columns'")
    is_rows = head_kind == "word" and head.lower() == "rows"
    if head_kind == "word" and head.lower() == "columns" and word(1) in ("are", "include"):
        names = [t for k, t in toks[2:] if k != "op"]
        if not names:
            raise _bad(text, "no column names follow")
        return Rule("columns", columns=tuple(names), exact=word(1) == "are")
    rest = words[1:]
    if rest[:1] == ["between"] and word(3) == "and" and len(toks) == 5:
        lo, hi = _num(text, at(2)), _num(text, at(4))
        if lo > hi:
            raise _bad(text, f"{_number(lo)} is above {_number(hi)}")
        return Rule("rows", min=lo, max=hi) if is_rows else Rule("between", subject, lo, hi)
    if len(toks) == 3 and toks[1] == ("op", ">="):
        lo = _num(text, at(2))
        return Rule("rows", min=lo) if is_rows else Rule("between", subject, min=lo)
    if len(toks) == 3 and toks[1] == ("op", "<="):
        hi = _num(text, at(2))
        return Rule("rows", max=hi) if is_rows else Rule("between", subject, max=hi)
    if is_rows:
        raise _bad(text, "rows take 'between A and B', '>= A' or '<= B'")
    if rest == ["not", "null"]:
        return Rule("not_null", subject)
    if rest == ["unique"]:
        return Rule("unique", subject)
    if rest[:1] == ["is"] and len(toks) == 3:
        family = (word(2) or "").lower()
        if family not in FAMILIES:
            raise _bad(text, f"the type must be one of {', '.join(FAMILIES)}")
        return Rule("dtype", subject, dtype=family)
    if rest[:3] == ["nulls", "at", "most"] and len(toks) in (5, 6):
        share = _num(text, at(4))
        percent = len(toks) == 6 and toks[5] == ("op", "%")
        share = share / 100 if percent or share > 1 else share
        if not 0 <= share <= 1:
            raise _bad(text, "a share of nulls is between 0% and 100%")
        return Rule("nulls", subject, max_share=share)
    if rest[:1] == ["in"]:
        values = [_literal(t) for t in toks[2:] if t[0] != "op"]
        if not values:
            raise _bad(text, "no allowed values follow 'in'")
        return Rule("in", subject, values=tuple(dict.fromkeys(values)))
    raise _bad(text, "it matches no rule form")
