"""The runs filter language: ``metrics.auc > 0.8 and (params.model == "rf" or params.depth >= 5)``.

A query is parsed with :mod:`ast` (Python expression syntax) and checked node by node against a
small whitelist, then evaluated column-wise over the runs table. Nothing is ever passed to
``eval``. Allowed:

- names: ``metrics.KEY``, ``params.KEY``, run columns (``run_name``, ``status``, ...), a bare
  ``KEY`` when exactly one ``params.KEY`` / ``metrics.KEY`` exists, and ``params["odd key"]``
  for keys that are not identifiers;
- literals: numbers, strings, ``True``/``False``/``None``, lists/tuples of literals (for ``in``);
- comparisons ``== != < <= > >= in not in is is not`` (chains allowed), ``and``, ``or``,
  ``not``, parentheses. ``AND``/``OR``/``NOT`` are accepted too (SQL habit).

A missing value (a run that never logged the metric) satisfies no comparison except
``is None`` / ``!= value``.
"""

from __future__ import annotations

import ast
import io
import operator
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

_PREFIXES = ("params", "metrics")
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_SQL_WORDS = {"AND": "and", "OR": "or", "NOT": "not", "IN": "in", "IS": "is", "NULL": "None"}
_EXAMPLE = 'metrics.auc > 0.8 and (params.model_type == "rf" or params.depth >= 5)'


@dataclass(frozen=True)
class Query:
    """A parsed, validated filter; :meth:`mask` evaluates it over a runs table."""

    text: str
    tree: ast.expr
    columns: tuple[str, ...]

    def mask(self, frame: Any) -> Any:
        """A boolean Series (aligned with ``frame``) of the rows the query keeps."""
        import pandas as pd

        result = _Evaluator(frame).eval(self.tree)
        if not isinstance(result, pd.Series):
            return pd.Series(bool(result), index=frame.index)
        return result.fillna(False).astype(bool)


def parse_query(text: str, columns: Sequence[str]) -> Query:
    """Parse ``text`` against the table's ``columns``; raise InvalidInput on any problem."""
    if not isinstance(text, str):
        raise InvalidInput(
            f"The filter must be a string, not {type(text).__name__}. Example: {_EXAMPLE}"
        )
    source = _normalise(text)
    if not source.strip():
        raise InvalidInput(f"The filter is empty. Write a condition, e.g. {_EXAMPLE}")
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        hint = " Use == for equality." if "=" in text and "==" not in text else ""
        where = f" at character {exc.offset}" if exc.offset else ""
        raise InvalidInput(
            f"Cannot parse the filter {text!r}: {exc.msg}{where}.{hint} Example: {_EXAMPLE}"
        ) from None
    resolved = _Checker(list(columns), text).check(tree)
    return Query(text=text, tree=tree, columns=tuple(resolved))


def filter_frame(frame: Any, text: str) -> Any:
    """Rows of ``frame`` matching the query ``text``."""
    query = parse_query(text, [str(c) for c in frame.columns])
    return frame[query.mask(frame)]


def _normalise(text: str) -> str:
    """Lower-case SQL-style keywords (AND/OR/NOT/IN/IS/NULL) outside strings."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    if not any(t.type == tokenize.NAME and t.string in _SQL_WORDS for t in tokens):
        return text
    out = [
        t._replace(string=_SQL_WORDS[t.string])
        if t.type == tokenize.NAME and t.string in _SQL_WORDS
        else t
        for t in tokens
    ]
    return tokenize.untokenize(out)


def column_name(node: ast.expr) -> str | None:
    """The dotted name a node spells (``params.model.depth``), or None if it is not a name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = column_name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in _PREFIXES
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return f"{node.value.id}.{node.slice.value}"
    return None


class _Checker:
    """Walks the tree once: rejects anything outside the language, resolves column names."""

    def __init__(self, columns: list[str], text: str) -> None:
        self.columns = columns
        self.text = text
        self.resolved: list[str] = []

    def fail(self, problem: str) -> InvalidInput:
        return InvalidInput(
            f"Cannot use {problem} in the filter {self.text!r}. Example: {_EXAMPLE}"
        )

    def check(self, node: ast.expr) -> list[str]:
        self.visit(node)
        return self.resolved

    def visit(self, node: ast.expr) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.visit(value)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self.visit(node.operand)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE and not isinstance(
                    op, (ast.In, ast.NotIn, ast.Is, ast.IsNot)
                ):
                    raise self.fail(f"the operator {type(op).__name__}")
            for operand in (node.left, *node.comparators):
                self.visit_operand(operand)
        elif column_name(node) is not None:
            self.resolve(node)  # a bare boolean column, e.g. params.early_stopping
        elif isinstance(node, ast.Constant):
            pass
        else:
            raise self.fail(_describe(node))

    def visit_operand(self, node: ast.expr) -> None:
        if column_name(node) is not None:
            self.resolve(node)
        elif _is_literal(node):
            pass
        else:
            raise self.fail(_describe(node))

    def resolve(self, node: ast.expr) -> None:
        name = column_name(node)
        assert name is not None
        column = resolve_column(name, self.columns)
        setattr(node, "mlops_column", column)  # noqa: B010 - annotate the node for evaluation
        self.resolved.append(column)


def resolve_column(name: str, columns: Sequence[str]) -> str:
    """Map a user's name to a table column, or raise InvalidInput listing what exists."""
    if not isinstance(name, str):
        raise InvalidInput(f"A column name must be a string, not {name!r}. Example: 'metrics.auc'")
    if name in columns:
        return name
    candidates = [p + "." + name for p in _PREFIXES if p + "." + name in columns]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise InvalidInput(
            f"{name!r} is both a param and a metric. Write {candidates[0]!r} or {candidates[1]!r}."
        )
    shown = ", ".join(columns[:40]) + (" ..." if len(columns) > 40 else "")
    raise InvalidInput(f"No column {name!r} in the runs table. Columns: {shown}.")


def _is_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return isinstance(node.operand, ast.Constant) and isinstance(
            node.operand.value, (int, float)
        )
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(e) for e in node.elts)
    return False


def _describe(node: ast.expr) -> str:
    if isinstance(node, ast.BinOp):
        return (
            f"arithmetic ({type(node.op).__name__}); for a key such as val-loss write "
            'metrics["val-loss"]'
        )
    if isinstance(node, ast.Call):
        return "function calls"
    return f"the expression {ast.unparse(node)!r}"


class _Evaluator:
    def __init__(self, frame: Any) -> None:
        self.frame = frame

    def eval(self, node: ast.expr) -> Any:
        import pandas as pd

        if isinstance(node, ast.BoolOp):
            parts = [self.as_mask(self.eval(v)) for v in node.values]
            combined = parts[0]
            for part in parts[1:]:
                combined = (combined & part) if isinstance(node.op, ast.And) else (combined | part)
            return combined
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ~self.as_mask(self.eval(node.operand))
        if isinstance(node, ast.Compare):
            result = pd.Series(True, index=self.frame.index)
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                result &= self.compare(op, left, right)
                left = right
            return result
        if hasattr(node, "mlops_column"):
            return self.frame[node.mlops_column]
        return ast.literal_eval(node)

    def as_mask(self, value: Any) -> Any:
        import pandas as pd

        if isinstance(value, pd.Series):
            if value.dtype == bool:
                return value
            return value.map(lambda v: v is True or v == "True" or v == 1).astype(bool)
        return pd.Series(bool(value), index=self.frame.index)

    def operand(self, node: ast.expr) -> Any:
        if hasattr(node, "mlops_column"):
            return self.frame[node.mlops_column]
        return ast.literal_eval(node)

    def compare(self, op: ast.cmpop, left_node: ast.expr, right_node: ast.expr) -> Any:
        import pandas as pd

        left, right = self.operand(left_node), self.operand(right_node)
        index = self.frame.index
        if isinstance(op, (ast.Is, ast.IsNot)):
            if right is not None and left is not None:
                raise InvalidInput(
                    "`is` only compares with None in the filter. "
                    "Write `params.x is None` or use == for values."
                )
            column = left if isinstance(left, pd.Series) else right
            missing = column.isna() if isinstance(column, pd.Series) else pd.Series(True, index)
            return missing if isinstance(op, ast.Is) else ~missing
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(left, pd.Series):
                raise InvalidInput(
                    "`in` needs a column on its left and a list on its right. "
                    'Example: params.model in ["rf", "gb"]'
                )
            values = list(right) if isinstance(right, (list, tuple, set)) else [right]
            hit = left.isin(values) | left.map(lambda v: _matches_any(v, values))
            return hit.astype(bool) if isinstance(op, ast.In) else (~hit & left.notna())
        func = _COMPARE[type(op)]
        if isinstance(left, pd.Series) or isinstance(right, pd.Series):
            return _compare_series(func, left, right, index, type(op) is ast.NotEq)
        return pd.Series(bool(func(left, right)), index=index)


def _matches_any(value: Any, values: list[Any]) -> bool:
    return any(_loose_equal(value, v) for v in values)


def _loose_equal(a: Any, b: Any) -> bool:
    """Equality that treats the number 5 and the param string "5" alike."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _compare_series(
    func: Callable[[Any, Any], Any], left: Any, right: Any, index: Any, not_equal: bool
) -> Any:
    """Vectorised when the types allow it, else element by element (a failed one is False)."""
    import pandas as pd

    missing = pd.Series(False, index=index)
    for side in (left, right):
        if isinstance(side, pd.Series):
            missing |= side.isna()
    try:
        if func in (operator.eq, operator.ne) and _mixed_kinds(left, right):
            raise TypeError("compare element by element")  # 5 == "5", like a param string
        result = func(left, right)
        result = pd.Series(result, index=index).fillna(False).astype(bool)
    except (TypeError, ValueError):
        lhs = left if isinstance(left, pd.Series) else pd.Series([left] * len(index), index=index)
        rhs = (
            right if isinstance(right, pd.Series) else pd.Series([right] * len(index), index=index)
        )
        result = pd.Series(
            [_safe(func, a, b) for a, b in zip(lhs.tolist(), rhs.tolist())], index=index
        )
    if not_equal:
        return result | missing
    return result & ~missing


def _mixed_kinds(left: Any, right: Any) -> bool:
    """A numeric column against a string literal, or a text column against a number."""
    import pandas as pd

    series, literal = (left, right) if isinstance(left, pd.Series) else (right, left)
    if isinstance(literal, pd.Series):
        return series.dtype != literal.dtype
    numeric = pd.api.types.is_numeric_dtype(series.dtype) and series.dtype != bool
    if isinstance(literal, str):  # "5" or "True" against numbers, bools or mixed values
        return numeric or series.dtype == object
    return isinstance(literal, (int, float)) and not isinstance(literal, bool) and not numeric


def _safe(func: Callable[[Any, Any], Any], a: Any, b: Any) -> bool:
    if func in (operator.eq, operator.ne):
        equal = _loose_equal(a, b)
        return equal if func is operator.eq else not equal
    try:
        return bool(func(a, b))
    except TypeError:
        try:
            return bool(func(float(a), float(b)))
        except (TypeError, ValueError):
            return False
