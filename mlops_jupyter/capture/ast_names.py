"""What a cell reads and writes, read from its syntax tree (no tracing: one ``ast.walk``).

:func:`analyse` returns a :class:`CellSyntax` with the names the cell reads and writes, the
names it may mutate in place, top-level literal assignments (param candidates), top-level
assignments from calls (metric candidates), ``.fit(...)`` calls and ``pd.read_*("path")`` calls.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from .secrets import is_secret_name, may_name_secret, redact_text

READERS = frozenset(
    {"read_csv", "read_parquet", "read_json", "read_excel", "read_feather", "read_table"}
)
FIT_METHODS = frozenset({"fit", "fit_transform", "fit_predict", "partial_fit"})
# Methods that never change their receiver (unless called with inplace=True): a cell calling
# only these on a DataFrame/array reuses its cached fingerprint instead of re-hashing it.
READ_ONLY_METHODS = frozenset(
    """head tail describe info copy sum mean median std var min max count nunique value_counts
    unique groupby agg aggregate apply map plot hist to_csv to_parquet to_json to_numpy to_dict
    to_frame to_list tolist to_string to_markdown astype drop dropna fillna rename reset_index
    set_index sort_values sort_index merge join query filter predict predict_proba transform
    score corr cov quantile isna isnull notna notnull any all round reshape ravel flatten dot
    argmax argmin argsort cumsum diff pct_change shift rolling expanding resample pivot
    pivot_table melt explode sample nlargest nsmallest select_dtypes memory_usage equals items
    iterrows itertuples keys get duplicated drop_duplicates where mask clip abs prod idxmax
    idxmin between isin eq ne lt le gt ge add sub mul div replace assign squeeze stack unstack
    transpose compute""".split()  # noqa: SIM905 (a word list reads better)
)
MAX_PARAM_STR = 200

# a cheap first look for names that may be secrets; is_secret_name decides (secrets.py)
_SECRET = re.compile(
    r"password|passwd|pwd|passphrase|token|secret|api_?key|credential|_key", re.IGNORECASE
)
_SECRET_ASSIGN = re.compile(
    r"""(?P<lhs>["']?\b(?P<name>[A-Za-z_]\w*)["']?\s*(?:=(?!=)|:)\s*)"""
    r"""(?P<value>[rbuf]{0,2}"[^"\n]*"|[rbuf]{0,2}'[^'\n]*'|[^\s,)}\]{\[(#;]+(?:\[[^\]\n]*\])*)"""
)


@dataclass
class CallRef:
    """A call seen in the cell: ``base.attr1.attr2(...)`` as ``("base", ("attr1", "attr2"))``."""

    base: str | None
    attrs: tuple[str, ...]
    args: list[str]  # names passed positionally or as keywords


@dataclass
class CellSyntax:
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    mutated: set[str] = field(default_factory=set)  # method receivers, subscript/attr stores
    literals: dict[str, Any] = field(default_factory=dict)  # top-level name = literal scalar
    assigned: list[str] = field(default_factory=list)  # every top-level assigned name, in order
    assigned_calls: dict[str, CallRef] = field(default_factory=dict)  # name = f(...)
    fits: list[tuple[str, list[str]]] = field(default_factory=list)  # (model name, data names)
    file_reads: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reader, path)
    # name -> variable holding the path, for pd.read_csv(path) without a literal
    file_read_vars: dict[str, str] = field(default_factory=dict)
    loop_targets: set[str] = field(default_factory=set)  # for-loop and comprehension variables


def is_secret(name: str) -> bool:
    return is_secret_name(name)


def redact(code: str) -> str:
    """Replace literal values given to secret-looking names by ``'***'``.

    Covers assignments to a name, an attribute or a string key (``api_key = "..."``,
    ``self.token: str = "..."``, ``os.environ["API_KEY"] = "..."``), keyword arguments
    (``connect(password="...")``) and dict entries (``{"secret": "..."}``). Every string literal
    inside such a value is replaced, except names looked up in the environment
    (``os.getenv("X")``, ``os.environ["X"]``), so the stored code still runs where the secret
    comes from the environment. Code that does not parse (IPython syntax) falls back to a
    pattern over ``name = value``. Then secrets found by value anywhere in the text (tokens,
    private keys, passwords in URLs, comments included) are masked (:mod:`.secrets`).
    """
    return redact_text(_redact_names(code))


def _redact_names(code: str) -> str:
    if not may_name_secret(code) or not _SECRET.search(code):
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return _redact_pattern(code)
    spans: list[tuple[int, int, int, int]] = []
    for node in ast.walk(tree):
        values: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(_secret_target(t) for t in targets):
                values.append(node.value)
        elif isinstance(node, ast.Call):
            values += [k.value for k in node.keywords if k.arg and is_secret(k.arg)]
        elif isinstance(node, ast.Dict):
            values += [
                v
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str) and is_secret(k.value)
            ]
        for value in values:
            spans += _literal_spans(value)
    if not spans:
        return code
    return _replace_spans(code, spans)


def _secret_target(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return is_secret(node.id)
    if isinstance(node, ast.Attribute):
        return is_secret(node.attr)
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and isinstance(key.value, str) and is_secret(key.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return any(_secret_target(e) for e in node.elts)
    return False


def _literal_spans(value: ast.expr) -> list[tuple[int, int, int, int]]:
    """Positions of the string literals in ``value``, minus environment variable names."""
    if isinstance(value, ast.Constant) and value.value is not None and value.end_lineno:
        # a bare literal of any type (``pin = 1234``)
        return [(value.lineno, value.col_offset, value.end_lineno, value.end_col_offset or 0)]
    skip: set[int] = set()
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("getenv", "get", "environ"):
                skip.update(id(a) for a in node.args[:1])
        elif isinstance(node, ast.Subscript):
            skip.add(id(node.slice))
    spans = []
    for node in ast.walk(value):
        if (
            isinstance(node, (ast.Constant, ast.JoinedStr))
            and (isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes)))
            and id(node) not in skip
            and node.end_lineno is not None
            and node.end_col_offset is not None
        ):
            spans.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset))
    return spans


def _replace_spans(code: str, spans: list[tuple[int, int, int, int]]) -> str:
    """Replace each ``(line, col, end_line, end_col)`` (UTF-8 byte columns) by ``'***'``."""
    data = code.encode()
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    offsets = sorted({(starts[a - 1] + b, starts[c - 1] + d) for a, b, c, d in spans})
    out, pos = [], 0
    for begin, end in offsets:
        if begin < pos:  # nested in a span already replaced (a literal inside an f-string)
            continue
        out += [data[pos:begin], b"'***'"]
        pos = end
    out.append(data[pos:])
    return b"".join(out).decode()


def _redact_pattern(code: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if is_secret(m.group("name")):
            return m.group("lhs") + "'***'"
        return m.group(0)

    return _SECRET_ASSIGN.sub(sub, code)


def parse(code: str, transform: Any = None) -> ast.Module | None:
    """The cell's tree; with IPython syntax (magics, ``!cmd``) via ``transform(code)``."""
    try:
        return ast.parse(code)
    except SyntaxError:
        pass
    if transform is None:
        return None
    try:
        return ast.parse(transform(code))
    except Exception:
        return None


def analyse(tree: ast.Module) -> CellSyntax:
    out = CellSyntax()
    for stmt in tree.body:
        _top_level(stmt, out)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                out.reads.add(node.id)
            else:
                out.writes.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.writes.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.writes.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and not isinstance(
            node.ctx, ast.Load
        ):
            base = _base_name(node.value)
            if base:
                out.mutated.add(base)
        elif isinstance(node, ast.AugAssign):
            base = _base_name(node.target)
            if base:
                out.mutated.add(base)
        elif isinstance(node, ast.Call):
            _call(node, out)
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            out.loop_targets.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
    return out


def _top_level(stmt: ast.stmt, out: CellSyntax) -> None:
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets, value = [stmt.target], stmt.value
    else:
        return
    names: list[str] = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            names.extend(e.id for e in target.elts if isinstance(e, ast.Name))
    out.assigned.extend(names)
    simple = [t.id for t in targets if isinstance(t, ast.Name)]
    literal = _literal(value)
    if literal is not _NO:
        for name in simple:
            out.literals[name] = literal
    if isinstance(value, ast.Call):
        ref = _call_ref(value)
        for name in simple:
            out.assigned_calls[name] = ref
    reader = _reader_call(value)
    if reader is not None:
        for name in simple:
            if reader[1] is None:
                out.file_read_vars[name] = reader[2]
            else:
                out.file_reads[name] = (reader[0], reader[1])
    # model = Estimator(...).fit(X, y): the model is the assigned name
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in FIT_METHODS
        and not _base_name(value.func.value)
    ):
        for name in simple:
            out.fits.append((name, _arg_names(value)))


def _call(node: ast.Call, out: CellSyntax) -> None:
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        receiver = func.value.id
        inplace = any(kw.arg == "inplace" for kw in node.keywords)
        if inplace or func.attr not in READ_ONLY_METHODS:
            out.mutated.add(receiver)
        if func.attr in FIT_METHODS:
            out.fits.append((receiver, _arg_names(node)))


_NO = object()


def _literal(node: ast.expr) -> Any:
    if isinstance(node, (ast.List, ast.Tuple)) and 0 < len(node.elts) <= 50:
        items = [_literal(e) for e in node.elts]  # Cs = [0.1, 1, 10]: a list of settings
        if all(i is not _NO and not isinstance(i, list) for i in items):
            return items
        return _NO
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, (bool, int, float)) or (
            isinstance(value, str) and len(value) <= MAX_PARAM_STR
        ):
            return value
        return _NO
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, (ast.USub, ast.UAdd))
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        v = node.operand.value
        return -v if isinstance(node.op, ast.USub) else v
    return _NO


def _call_ref(call: ast.Call) -> CallRef:
    # float(f1_score(...)) / round(f1_score(...), 3): look through the wrapper
    if (
        isinstance(call.func, ast.Name)
        and call.func.id in {"float", "round"}
        and call.args
        and isinstance(call.args[0], ast.Call)
    ):
        return _call_ref(call.args[0])
    attrs: list[str] = []
    func: ast.expr = call.func
    while isinstance(func, ast.Attribute):
        attrs.append(func.attr)
        func = func.value
    base = func.id if isinstance(func, ast.Name) else None
    return CallRef(base, tuple(reversed(attrs)), _arg_names(call))


def _reader_call(node: ast.expr) -> tuple[str, str | None, str] | None:
    """``(reader, literal path, "")`` or ``(reader, None, variable)`` of a ``pd.read_*`` call."""
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call):
            continue
        func = sub.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name not in READERS:
            continue
        path_node: ast.expr | None = sub.args[0] if sub.args else None
        for kw in sub.keywords:
            if kw.arg in {"filepath_or_buffer", "path", "io", "path_or_buf"}:
                path_node = kw.value
        if isinstance(path_node, ast.Constant) and isinstance(path_node.value, str):
            return name, path_node.value, ""
        if isinstance(path_node, ast.Name):
            return name, None, path_node.id
        return name, None, ""  # a path built in code: a dataset read from a file all the same
    return None


def _arg_names(call: ast.Call) -> list[str]:
    names = [a.id for a in call.args if isinstance(a, ast.Name)]
    names += [kw.value.id for kw in call.keywords if isinstance(kw.value, ast.Name)]
    return names


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None
