"""Dependency slicing: which captured executions a run's results depend on.

Each execution carries the names it read and wrote (recorded by capture). We add what a static
look at its code shows — names it loads, binds at module level, imports, or mutates in place
(``df["x"] = ...``, ``model.fit(X, y)``, ``lst.append(v)``) — so that a mutation which capture
could not see as a write still ties the cell to the result.

The slice is a backward walk over the executions in the order they ran: start from the
executions that produced the results (metrics, models, datasets), keep an execution when it
binds or mutates a name still needed, then need what it read. A name needed by a kept execution
is therefore supplied by the *last* execution that wrote it before that read — the value the
kernel really used — whatever the notebook's visual order.
"""

from __future__ import annotations

import ast
import builtins
import functools
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Method calls that only look at an object: a bare ``df.head()`` does not change ``df``.
PURE_METHODS = frozenset(
    """
    head tail describe info plot hist show sample corr cov count value_counts unique
    nunique isna isnull notna notnull sum mean median std var min max quantile copy to_csv
    to_parquet to_json to_excel to_pickle to_dict to_numpy to_string to_html get_params
    score predict predict_proba transform decision_function items keys values get summary
    print display format savefig drop dropna fillna astype groupby merge join apply map
    query assign filter select_dtypes rename reset_index set_index sort_values sort_index
    pivot melt agg round clip abs shift diff pct_change rolling resample reshape flatten
    tolist
    """.split()  # noqa: SIM905 - a word list reads better than 60 quoted strings
)
FILE_PREFIX = "file:"
FILE_WRITERS = frozenset(
    [
        "to_csv",
        "to_parquet",
        "to_json",
        "to_excel",
        "to_pickle",
        "to_feather",
        "to_hdf",
        "to_stata",
        "savefig",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "dump",
        "write_text",
        "write_bytes",
    ]
)
FILE_READERS = frozenset(["load", "loadtxt", "genfromtxt", "read_text", "read_bytes", "imread"])
BUILTINS = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}


@dataclass(frozen=True)
class CodeNames:
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    mutates: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()  # top-level module names (``sklearn``, ``pandas``)
    import_binds: frozenset[str] = frozenset()  # names bound by ``import`` (``pd``, ``np``)
    seeds: frozenset[str] = frozenset()  # receivers of ``*seed*`` calls (``np.random.seed(0)``)


def python_source(code: str) -> str:
    """The cell as plain Python: IPython magics and ``!`` lines turned into calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return str(TransformerManager().transform_cell(code))
    except Exception:  # an odd cell: fall back to the text as it is
        return code


@functools.lru_cache(maxsize=2048)
def code_names(code: str) -> CodeNames:
    """What a cell's code reads, binds at module level, mutates and imports (best effort)."""
    try:
        tree = ast.parse(python_source(code))
    except SyntaxError:
        return CodeNames()
    total = _Names()
    reads: set[str] = set()  # names read before this cell bound them
    for stmt in tree.body:
        visitor = _Names()
        visitor.visit(stmt)
        reads |= (visitor.reads | (visitor.inner_reads - visitor.locals)) - total.writes
        # changing an object this cell made itself is internal to the cell
        total.mutates.update(visitor.mutates - total.writes)
        for attr in ("writes", "imports", "import_binds", "seeds"):
            getattr(total, attr).update(getattr(visitor, attr))
    return CodeNames(
        reads=frozenset(reads - BUILTINS),
        writes=frozenset(total.writes),
        mutates=frozenset(total.mutates - BUILTINS),
        imports=frozenset(total.imports),
        import_binds=frozenset(total.import_binds),
        seeds=frozenset(total.seeds),
    )


class _Names(ast.NodeVisitor):
    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.writes: set[str] = set()
        self.mutates: set[str] = set()
        self.imports: set[str] = set()
        self.import_binds: set[str] = set()
        self.seeds: set[str] = set()
        self.inner_reads: set[str] = set()  # loads inside functions and comprehensions
        self.locals: set[str] = set()  # names bound inside them (arguments, loop variables)
        self.depth = 0  # > 0 inside a function, lambda, class body or comprehension

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if self.depth > 0:
                self.inner_reads.add(node.id)
            elif node.id not in self.writes:  # not bound earlier in this statement
                self.reads.add(node.id)
        elif self.depth == 0:
            self.writes.add(node.id)
        else:
            self.locals.add(node.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)  # evaluation order: the iterable, then the loop variable
        self.visit(node.target)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    visit_AsyncFor = visit_For

    def visit_arg(self, node: ast.arg) -> None:
        self.locals.add(node.arg)
        self.generic_visit(node)

    def _scope(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if self.depth == 0:
            self.writes.add(node.name)
        for deco in node.decorator_list:
            self.visit(deco)
        self.depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.visit(node.args)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if self.depth == 0:
            self.writes.add(node.name)
        self._scope(node)

    visit_Lambda = _scope
    visit_ListComp = _scope
    visit_SetComp = _scope
    visit_DictComp = _scope
    visit_GeneratorExp = _scope

    def visit_Global(self, node: ast.Global) -> None:
        self.writes.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.add(alias.name.split(".")[0])
            if self.depth == 0:
                self.writes.add(alias.asname or alias.name.split(".")[0])
                self.import_binds.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self.imports.add(node.module.split(".")[0])
        if self.depth == 0:
            for alias in node.names:
                self.writes.add(alias.asname or alias.name)
                self.import_binds.add(alias.asname or alias.name)

    def _target_base(self, target: ast.AST) -> None:
        """``df["x"] = ...`` / ``obj.attr = ...`` / ``del d[k]`` mutate the base name."""
        while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
            target = target.value
        if isinstance(target, ast.Name):
            self.mutates.add(target.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the value is read before the targets are bound
        for target in node.targets:
            for elt in _flatten(target):
                if isinstance(elt, (ast.Subscript, ast.Attribute)):
                    self._target_base(elt)
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.reads.add(node.target.id)
        else:
            self._target_base(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if not isinstance(target, ast.Name):
                self._target_base(target)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            base: ast.AST = func.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            inplace = any(
                kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value
                for kw in node.keywords
            )
            if isinstance(base, ast.Name) and (inplace or func.attr not in PURE_METHODS):
                self.mutates.add(base.id)
            if isinstance(base, ast.Name) and "seed" in func.attr.lower():
                self.seeds.add(base.id)
        self._files(node)
        self.generic_visit(node)

    def _files(self, node: ast.Call) -> None:
        """A file named by a string literal is a name too: ``file:<path>``.

        ``df.to_csv("clean.csv")`` binds it, ``pd.read_csv("clean.csv")`` reads it, so a cell
        that produced an intermediate file is kept with the cell that reads it back.
        """
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        path = _literal_arg(node, 0, "path") or _literal_arg(node, 0, "filepath_or_buffer")
        if not path:
            return
        key = FILE_PREFIX + os.path.normpath(path)
        if name == "open":
            mode = _literal_arg(node, 1, "mode") or "r"
            if "a" in mode or "+" in mode:
                self.mutates.add(key)
            elif "w" in mode or "x" in mode:
                self.writes.add(key)
            else:
                self.reads.add(key)
        elif name in FILE_WRITERS:
            self.writes.add(key)
        elif name.startswith("read_") or name in FILE_READERS:
            self.reads.add(key)


def _literal_arg(node: ast.Call, position: int, keyword: str) -> str | None:
    value: ast.AST | None = node.args[position] if len(node.args) > position else None
    for kw in node.keywords:
        if kw.arg == keyword:
            value = kw.value
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    return None


def _flatten(target: ast.AST) -> list[ast.AST]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [e for elt in target.elts for e in _flatten(elt)]
    return [target]


@dataclass(frozen=True)
class Slice:
    """The executions a run's results depend on, in the order they ran."""

    kept: tuple[Mapping[str, Any], ...]
    left_out: tuple[Mapping[str, Any], ...]
    targets: Mapping[int, Sequence[str]] = field(default_factory=dict)
    unresolved: frozenset[str] = frozenset()  # needed names no captured execution wrote
    # for each kept execution id: name -> id of the execution whose value it read
    suppliers: Mapping[int, Mapping[str, int]] = field(default_factory=dict)


def effective_names(
    execution: Mapping[str, Any], modules: frozenset[str] = frozenset()
) -> CodeNames:
    """Captured reads/writes of an execution united with what its code shows.

    Calling a function of a module (``plt.plot(...)``, ``mj.compare()``) does not count as
    changing the module, except seeding its random state (``np.random.seed(0)``).
    """
    static = code_names(str(execution.get("code") or ""))
    return CodeNames(
        # capture's reads do not say whether the cell bound a name before reading it: where
        # the cell binds it, the statement-order view above decides
        reads=static.reads | (frozenset(execution.get("reads") or ()) - static.writes),
        writes=static.writes | frozenset(execution.get("writes") or ()),
        mutates=(static.mutates - modules) | static.seeds,
        imports=static.imports,
        import_binds=static.import_binds,
        seeds=static.seeds,
    )


def slice_executions(
    executions: Sequence[Mapping[str, Any]],
    targets: Mapping[int, Sequence[str]],
    *,
    target_names: Iterable[str] = (),
) -> Slice:
    """Backward slice of ``executions`` (in execution order) from ``targets``.

    ``targets`` maps execution ids to what they produced; ``target_names`` are names whose last
    value counts as a result too (e.g. a metric recorded without its execution).
    Failed executions are never kept.
    """
    ok = [e for e in executions if e.get("status", "ok") == "ok"]
    static = [code_names(str(e.get("code") or "")) for e in ok]
    modules = frozenset().union(*(cn.import_binds for cn in static))
    names = {int(e["id"]): effective_names(e, modules) for e in ok}
    needed: set[str] = set(target_names)
    kept_ids: set[int] = set()
    # name -> the kept executions waiting for its supplier
    waiting: dict[str, list[int]] = {n: [] for n in needed}
    suppliers: dict[int, dict[str, int]] = {}
    for execution in reversed(ok):
        eid = int(execution["id"])
        cn = names[eid]
        binds = (cn.writes | cn.mutates) & needed
        if eid not in targets and not binds:
            continue
        kept_ids.add(eid)
        for name in binds:
            for reader in waiting.pop(name, []):
                suppliers.setdefault(reader, {})[name] = eid
        # a pure (re)binding ends the need; a mutation keeps needing the earlier value
        needed -= cn.writes - cn.mutates - cn.reads
        for name in cn.reads | cn.mutates:
            needed.add(name)
            waiting.setdefault(name, []).append(eid)
    kept = tuple(e for e in ok if int(e["id"]) in kept_ids)
    left_out = tuple(e for e in executions if int(e["id"]) not in kept_ids)
    unresolved = (
        frozenset(n for n, readers in waiting.items() if readers and not n.startswith(FILE_PREFIX))
        - BUILTINS
    )
    return Slice(
        kept=kept,
        left_out=left_out,
        targets=dict(targets),
        unresolved=unresolved,
        suppliers=suppliers,
    )


def run_slice(store: Any, run_id: str, *, keep_all: bool = False) -> tuple[Slice, list[str]]:
    """The slice of a stored run, with warnings about what it could not decide.

    With ``keep_all`` every successful execution of the kernel session up to the run's last
    one is kept (``--all``).
    """
    executions = store.session_executions(run_id)
    own = [e for e in executions if e["run_id"] == run_id]
    warnings: list[str] = []
    targets = store.result_execution_ids(run_id)
    loose = {
        str(m["key"])
        for m in store.metric_history(run_id)
        if m.get("execution_id") is None and str(m["key"]).isidentifier()
    }
    if keep_all or (not targets and not loose):
        if not keep_all:
            warnings.append(
                "The run has no metric, model or dataset tied to a cell, so every cell it ran "
                "is kept."
            )
        # --all: everything the kernel ran up to the run's end; the fallback: the run's cells
        pool = executions if keep_all else own
        targets = {int(e["id"]): ["all"] for e in pool if e.get("status", "ok") == "ok"}
    result = slice_executions(executions, targets, target_names=loose)
    if result.unresolved:
        warnings.append(
            "The results read names no captured cell defined: "
            + ", ".join(sorted(result.unresolved))
            + ". The bundle may fail on them; define them in a cell and re-run."
        )
    return result, warnings
