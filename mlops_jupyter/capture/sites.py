"""Where a recorded call was made: the syntax around it, read from the calling frame.

A wrapped call knows its caller's frame; Python 3.11 gives every instruction its exact source
span (``co_positions``), so the ``ast.Call`` node of the call is found by position in the cell's
(or function's) parsed source. Around it we read what names the result:

- ``acc = accuracy_score(...)`` (also through ``round(...)`` / ``float(...)``): ``assigned="acc"``;
- ``ap["micro"] = average_precision_score(...)``: ``container="ap"``, ``key="micro"`` (a key
  that is a variable is looked up in the frame, so ``scores[name] = ...`` in a loop has the
  value of ``name`` at that moment, and ``key_varies`` is set);
- ``{"accuracy": accuracy_score(...)}``: ``key="accuracy"``;
- ``clf.fit(...)``: ``receiver="clf"``; ``model = make_pipeline(...).fit(...)``: ``"model"``;
- the names of the call's arguments (``arg_names``), for telling train from test data.

Results are cached per (code object, instruction), so a call in a loop is resolved once.
Sources come from ``linecache``, where IPython keeps every cell it compiled.
"""

from __future__ import annotations

import ast
import dataclasses
import linecache
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

_TRANSPARENT = frozenset({"round", "float", "int", "abs", "np.round", "numpy.round", "np.float64"})


@dataclass(frozen=True)
class Site:
    """What the source says around one call."""

    line: int | None = None
    assigned: str | None = None  # the simple name the call's value is bound to
    container: str | None = None  # d in d[k] = call(...)
    key: Any = None  # k in d[k] = call(...), or a dict-literal key
    key_expr: ast.expr | None = None  # an expression to look up in the frame for the key
    receiver: str | None = None  # clf in clf.fit(...) / the name a fitted result is bound to
    arg_names: tuple[str, ...] = ()  # names passed to the call (X_test, y_test, ...)
    in_function: bool = False  # the call is inside a function the user defined
    key_varies: bool = False  # the key came from a variable (``scores[name] = ...``)


_NOWHERE = Site()
_trees: dict[str, dict[tuple[int, int, int, int], tuple[ast.Call, list[ast.AST]]] | None] = {}
_sites: dict[tuple[CodeType, int], Site] = {}


def resolve(frame: FrameType) -> Site:
    """The :class:`Site` of the call being made by ``frame``'s current instruction."""
    code, lasti = frame.f_code, frame.f_lasti
    site = _sites.get((code, lasti))
    if site is None:
        site = _resolve(code, lasti)
        if len(_sites) > 20_000:
            _sites.clear()
        _sites[(code, lasti)] = site
    if site.key_expr is not None:
        return _with_key(site, frame)
    return site


def clear() -> None:
    _trees.clear()
    _sites.clear()


def _resolve(code: CodeType, lasti: int) -> Site:
    try:
        positions = list(code.co_positions())
        pos = positions[lasti // 2]
    except (IndexError, ValueError):
        return _NOWHERE
    if pos[0] is None or pos[2] is None:
        return _NOWHERE
    calls = _calls_of(code.co_filename)
    if not calls:
        return Site(line=pos[0])
    found = calls.get(pos)  # type: ignore[arg-type]
    if found is None:
        return Site(line=pos[0])
    call, parents = found
    return _describe(call, parents, code.co_name != "<module>")


def _calls_of(filename: str) -> dict[tuple[int, int, int, int], tuple[ast.Call, list[ast.AST]]]:
    calls = _trees.get(filename)
    if calls is None and filename not in _trees:
        calls = _parse(filename)
        if len(_trees) > 500:
            _trees.clear()
        _trees[filename] = calls
    return calls or {}


def _parse(filename: str) -> dict[tuple[int, int, int, int], tuple[ast.Call, list[ast.AST]]] | None:
    lines = linecache.getlines(filename)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return None
    out: dict[tuple[int, int, int, int], tuple[ast.Call, list[ast.AST]]] = {}
    stack: list[tuple[ast.AST, list[ast.AST]]] = [(tree, [])]
    while stack:
        node, parents = stack.pop()
        if isinstance(node, ast.Call) and node.end_lineno is not None:
            span = (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset or 0)
            out[span] = (node, parents)
        chain = [*parents, node]
        stack.extend((child, chain) for child in ast.iter_child_nodes(node))
    return out


def _describe(call: ast.Call, parents: list[ast.AST], in_function: bool) -> Site:
    receiver = _name(call.func.value) if isinstance(call.func, ast.Attribute) else None
    args = tuple(
        n for n in (_name(a) for a in (*call.args, *(k.value for k in call.keywords))) if n
    )
    # Climb through wrappers that keep the value: round(f(...), 3), float(f(...)), f(...).fit(...)
    node: ast.AST = call
    chain = list(parents)
    while chain:
        parent = chain[-1]
        if (
            isinstance(parent, ast.Call)
            and node in parent.args[:1]
            and _dotted(parent.func) in _TRANSPARENT
        ):
            node = chain.pop()
            continue
        break
    site = Site(line=call.lineno, receiver=receiver, arg_names=args, in_function=in_function)
    parent = chain[-1] if chain else None
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and _value(parent) is node:
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        target = targets[0] if len(targets) == 1 else None
        if isinstance(target, ast.Name):
            return dataclasses.replace(site, assigned=target.id, receiver=receiver or target.id)
        if isinstance(target, ast.Subscript):
            container = _name(target.value)
            key = target.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, (str, int)):
                return dataclasses.replace(site, container=container, key=key.value)
            if isinstance(key, (ast.Name, ast.Attribute)):
                return dataclasses.replace(site, container=container, key_expr=key)
        return site
    if isinstance(parent, ast.Dict):
        for k, v in zip(parent.keys, parent.values):
            if v is node and isinstance(k, ast.Constant) and isinstance(k.value, str):
                return dataclasses.replace(site, key=k.value)
    return site


def _with_key(site: Site, frame: FrameType) -> Site:
    """Look the subscript key up in the frame (only names and attributes: nothing runs)."""
    expr = site.key_expr
    value: Any = None
    try:
        if isinstance(expr, ast.Name):
            scope = frame.f_locals
            value = scope[expr.id] if expr.id in scope else frame.f_globals.get(expr.id)
        elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            scope = frame.f_locals
            base = (
                scope[expr.value.id]
                if expr.value.id in scope
                else frame.f_globals.get(expr.value.id)
            )
            value = base.__dict__.get(expr.attr) if hasattr(base, "__dict__") else None
    except Exception:
        value = None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        value = None
    return dataclasses.replace(site, key=value, key_expr=None, key_varies=True)


def _value(node: ast.AST) -> Any:
    return getattr(node, "value", None)


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))
