"""Parameters for a bundle, the papermill way.

The bundle's notebook has one cell tagged ``parameters`` holding the run's params as plain
assignments. The sliced cells that assigned those params a literal (``lr = 0.1``) have that line
turned into a comment, so a value injected after the ``parameters`` cell (``-p lr=0.5``, or
papermill's own ``injected-parameters`` cell) is the value the code really uses.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from .slice import python_source

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"

# %mlops subcommands that still make sense in a headless re-run; every other one is dropped
# (they switch experiments, start runs, display, or move registry aliases).
KEPT_MLOPS = {"param", "metric"}
_MLOPS_LINE = re.compile(r"^\s*%mlops\b\s*(?P<sub>\S*)")
_OWN_LOAD_EXT = re.compile(r"^\s*%(re)?load_ext\s+mlops_jupyter\s*$")


def is_param_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def literal_assignments(code: str) -> dict[str, tuple[Any, int, int]]:
    """Top-level ``name = <literal>`` statements: name -> (value, first line, last line).

    Lines are 1-based in ``code``. Empty when the cell cannot be mapped line for line (cell
    magics) or does not parse.
    """
    source = python_source(code)
    if len(source.splitlines()) != len(code.splitlines()):
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[str, tuple[Any, int, int]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and stmt.simple:
            target, value = stmt.target, stmt.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        try:
            literal = ast.literal_eval(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if literal is None or isinstance(literal, (bool, int, float, str)):
            found[target.id] = (literal, stmt.lineno, stmt.end_lineno or stmt.lineno)
    return found


def comment_out(code: str, names: Mapping[str, tuple[Any, int, int]]) -> str:
    """Turn the given assignments (from :func:`literal_assignments`) into comments."""
    lines = code.splitlines()
    for name, (_, first, last) in sorted(names.items(), key=lambda kv: -kv[1][1]):
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        original = " ".join(line.strip() for line in lines[first - 1 : last])
        lines[first - 1 : last] = [f"{indent}# {original}  # {name}: set in the parameters cell"]
    return "\n".join(lines)


def strip_magics(code: str) -> str:
    """Drop ``%load_ext mlops_jupyter`` and ``%mlops`` lines other than param/metric."""
    out = []
    for line in code.splitlines():
        if _OWN_LOAD_EXT.match(line):
            continue
        m = _MLOPS_LINE.match(line)
        if m and m.group("sub") not in KEPT_MLOPS:
            continue
        out.append(line)
    return "\n".join(out)


def is_blank(code: str) -> bool:
    return all(not line.strip() or line.strip().startswith("#") for line in code.splitlines())


def parameters_source(params: Mapping[str, Any]) -> str:
    if not params:
        return "# parameters: none were captured for this run"
    return "\n".join(f"{key} = {value!r}" for key, value in params.items())


def inject_parameters(nb: Any, overrides: Mapping[str, Any]) -> Any:
    """Add a cell tagged ``injected-parameters`` after the ``parameters`` cell (in place).

    Keys must be params of the bundle: a typo fails here rather than silently running
    the defaults.
    """
    import nbformat

    if not overrides:
        return nb
    index = next(
        (
            i
            for i, cell in enumerate(nb.cells)
            if PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
        ),
        None,
    )
    if index is None:
        raise InvalidInput(
            "This notebook has no cell tagged 'parameters'. "
            "Re-export it with `mlops-jupyter export`, or tag the cell holding its params."
        )
    known = set(_assigned_names(str(nb.cells[index].source)))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown param {', '.join(map(repr, unknown))}: this bundle's params are "
            f"{', '.join(sorted(known)) or '(none)'}. Pass one of them with -p KEY=VALUE."
        )
    for key, value in overrides.items():
        try:
            ast.literal_eval(repr(value))
        except (ValueError, SyntaxError):
            raise InvalidInput(
                f"Param {key!r} must be a number, string, bool or None, got {value!r}. "
                "Pass a plain value, e.g. -p lr=0.1."
            ) from None
    cell = nbformat.v4.new_code_cell(
        "# Injected parameters\n" + parameters_source(overrides),
        metadata={"tags": [INJECTED_TAG]},
    )
    nb.cells.insert(index + 1, cell)
    return nb


def _assigned_names(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [
        t.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign)
        for t in stmt.targets
        if isinstance(t, ast.Name)
    ]
