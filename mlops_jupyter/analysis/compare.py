"""Comparing runs: which run is best, and why did it get better.

``compare(...)`` reads the runs table once and returns a frozen :class:`Comparison`; its methods
(``filter``, ``best``, ``groups``, ``at_step``, ``curves``, ``only_differences``) return new
results computed from that table, and ``diff(a, b)`` reads two runs' cells, metrics' producing
executions, datasets and environments into a :class:`RunDiff`. Rendering (static HTML and the
ipywidgets panel) lives in :mod:`mlops_jupyter.display.compare`.
"""

from __future__ import annotations

import operator
import reprlib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import pandas as pd

from ..errors import ExperimentNotFound, InvalidInput
from .query import parse_query, resolve_column

RUN_COLUMNS = ["run_id", "run_name", "status", "started_at"]
DIRECTIONS = ("max", "min")
_LOWER_IS_BETTER = (
    "loss",
    "error",
    "err",
    "mse",
    "rmse",
    "mae",
    "mape",
    "perplexity",
    "latency",
    "time",
    "duration",
)

ColumnProvider = Callable[[Any, list[str]], Mapping[str, Any]]
_COLUMN_PROVIDERS: dict[str, ColumnProvider] = {}


def register_column(name: str, provider: ColumnProvider) -> None:
    """Add a column to every runs table: ``provider(store, run_ids) -> {run_id: value}``.

    The hook other areas use to show per-run facts (e.g. export's reproducibility status as
    ``register_column("reproduced", ...)``). A provider that fails is skipped with a warning.
    """
    _COLUMN_PROVIDERS[name] = provider


def _reproducibility_column(store: Any, run_ids: list[str]) -> Mapping[str, Any]:
    from ..export.repro import table_statuses

    return table_statuses(store, run_ids)


register_column("reproducibility", _reproducibility_column)


def guess_direction(metric: str) -> str:
    """'min' for names that read like a loss or an error, else 'max'."""
    key = metric.removeprefix("metrics.").lower()
    return "min" if any(word in key for word in _LOWER_IS_BETTER) else "max"


def _name(value: Any, what: str, example: str) -> str:
    """``value`` if it is a string, else InvalidInput naming ``what`` and an example."""
    if isinstance(value, str):
        return value
    raise InvalidInput(f"{what} must be a string, not {reprlib.repr(value)}. Example: {example}")


def _names(value: Any, what: str, example: str) -> list[str]:
    """A name or an iterable of names as a list; InvalidInput for anything else."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        names = list(value)
        if all(isinstance(n, str) for n in names):
            return names
    raise InvalidInput(
        f"{what} must be a name or a list of names, not {reprlib.repr(value)}. Example: {example}"
    )


def compare(
    runs: Sequence[str] | str | None = None,
    experiment: str | None = None,
    metric: str | None = None,
    store: Any = None,
) -> Comparison:
    """Compare runs: the named ``runs`` (ids, id prefixes or names), else those of ``experiment``,
    else those of the current experiment (the session's, or the store's latest).

    ``metric`` (e.g. ``"auc"``) is the one the table is sorted by and ``best()`` defaults to.
    Without named runs, runs that logged neither a param nor a metric are left out.
    """
    if runs is not None:
        runs = _names(
            runs, "The runs argument", "mj.compare(['r1', 'r2']) or mj.compare(experiment='churn')"
        )
    store, experiment = _scope(store, experiment, runs)
    if runs is None and experiment is None:
        frame = pd.DataFrame(columns=RUN_COLUMNS)
    else:
        frame = store.compare_frame(experiment=experiment, run_ids=list(runs) if runs else None)
    table = _shape_table(frame, store, keep_empty=runs is not None)
    result = Comparison(runs=table, experiment=experiment, store=store)
    if metric is not None:
        column = result.metric_column(metric)
        result = replace(result, metric=column, direction=guess_direction(column))
        result = result.sort(column, ascending=result.direction == "min")
    return result


def _scope(store: Any, experiment: str | None, runs: Sequence[str] | None) -> tuple[Any, Any]:
    """The store to read and the experiment to show, from arguments or the session."""
    if experiment is not None:
        if store is None:
            session = _current_session()
            store = session.store if session is not None else _open_default_store()
        store.get_experiment(experiment)  # ExperimentNotFound names the fix
        return store, experiment
    if store is None:
        session = _current_session()
        if session is None:
            store = _open_default_store()
        else:
            store = session.store
            if runs is None:
                try:  # the session's experiment, once it holds runs
                    return store, store.get_experiment(session.experiment)["name"]
                except ExperimentNotFound:
                    pass
    if runs is None:
        experiment = store.latest_experiment_name()
    return store, experiment


def _open_default_store() -> Any:
    from ..store import open_store

    return open_store()


def _current_session() -> Any:
    try:
        from ..capture.session import get_session
    except ImportError:
        return None
    try:
        session = get_session()
        if getattr(session, "run_id", None) is not None:
            session.flush_metrics()  # buffered log_metric points show, as in mj.runs()
        return session
    except Exception as exc:  # the session is optional here: fall back to the store
        warnings.warn(f"mlops-jupyter: no capture session ({exc})", stacklevel=3)
        return None


def _shape_table(frame: pd.DataFrame, store: Any, *, keep_empty: bool) -> pd.DataFrame:
    params = sorted(c for c in frame.columns if str(c).startswith("params."))
    metrics = sorted(c for c in frame.columns if str(c).startswith("metrics."))
    if not keep_empty and (params or metrics) and len(frame):
        frame = frame[frame[params + metrics].notna().any(axis=1)]
    elif not keep_empty and len(frame):
        frame = frame.iloc[0:0]
    run_cols = list(RUN_COLUMNS)
    if "experiment" in frame.columns and frame["experiment"].nunique() > 1:
        run_cols.insert(2, "experiment")
    table = frame.reindex(columns=run_cols + params + metrics).reset_index(drop=True)
    run_ids = table["run_id"].astype(str).tolist()
    for position, (name, provider) in enumerate(_COLUMN_PROVIDERS.items()):
        try:
            values = provider(store, run_ids)
        except Exception as exc:  # another area's hook must not break the comparison
            warnings.warn(f"mlops-jupyter: column {name!r} skipped: {exc}", stacklevel=2)
            continue
        table.insert(len(run_cols) + position, name, [values.get(r) for r in run_ids])
    for column in metrics:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def _name_columns(columns: Iterable[str], prefix: str) -> list[str]:
    return [c for c in columns if c.startswith(prefix)]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Runs side by side. ``runs`` holds every column; ``table`` is what is shown."""

    runs: pd.DataFrame
    experiment: str | None = None
    metric: str | None = None
    direction: str = "max"
    queries: tuple[str, ...] = ()
    only_diff: bool = False
    store: Any = field(default=None, repr=False)

    # -- the table -------------------------------------------------------------------------

    @cached_property
    def table(self) -> pd.DataFrame:
        """The runs table after filters; without params equal across runs if ``only_diff``."""
        if not self.only_diff:
            return self.runs
        return self.runs.drop(columns=constant_params(self.runs))

    @property
    def run_ids(self) -> list[str]:
        return self.runs["run_id"].astype(str).tolist()

    @property
    def params(self) -> list[str]:
        return _name_columns(self.runs.columns, "params.")

    @property
    def metrics(self) -> list[str]:
        return _name_columns(self.runs.columns, "metrics.")

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        scope = f"experiment {self.experiment!r}" if self.experiment else "named runs"
        filters = f", filter {' and '.join(self.queries)!r}" if self.queries else ""
        return (
            f"<Comparison of {len(self)} runs ({scope}{filters}): "
            f"{len(self.params)} params, {len(self.metrics)} metrics>"
        )

    def metric_column(self, name: str) -> str:
        """``"auc"`` or ``"metrics.auc"`` -> ``"metrics.auc"``; InvalidInput if unknown."""
        _name(name, "The metric", "mj.compare(metric='auc') or .best('auc')")
        column = name if name.startswith("metrics.") else f"metrics.{name}"
        if column not in self.runs.columns:
            known = ", ".join(m.removeprefix("metrics.") for m in self.metrics) or "none logged"
            raise InvalidInput(f"No metric {name!r} in these runs. Metrics: {known}.")
        return column

    def param_column(self, name: str) -> str:
        _name(name, "The param", ".groups('model_type')")
        column = name if name.startswith("params.") else f"params.{name}"
        if column not in self.runs.columns:
            known = ", ".join(p.removeprefix("params.") for p in self.params) or "none logged"
            raise InvalidInput(f"No param {name!r} in these runs. Params: {known}.")
        return column

    # -- narrowing -------------------------------------------------------------------------

    def filter(self, query: str) -> Comparison:
        """Runs matching ``query``, e.g. ``metrics.auc > 0.8 and params.model == "rf"``."""
        parsed = parse_query(query, [str(c) for c in self.runs.columns])
        kept = self.runs[parsed.mask(self.runs)].reset_index(drop=True)
        return replace(self, runs=kept, queries=(*self.queries, query))

    def select(self, runs: Sequence[str]) -> Comparison:
        """Only these runs (ids, id prefixes or names), in this table's order."""
        wanted = {
            self._row_of(r) for r in _names(runs, "The runs argument", ".select(['r1', 'r2'])")
        }
        kept = self.runs[self.runs.index.isin(wanted)].reset_index(drop=True)
        return replace(self, runs=kept)

    def only_differences(self, on: bool = True) -> Comparison:
        """Hide params whose value is the same in every run of the table."""
        return replace(self, only_diff=on)

    def sort(self, by: str, ascending: bool = True) -> Comparison:
        """Sorted by any column (missing values last)."""
        by = _name(by, "The sort column", ".sort('metrics.auc', ascending=False)")
        column = resolve_column(by, [str(c) for c in self.runs.columns])
        data = self.runs[column]
        if data.dtype == object:
            numeric = pd.to_numeric(data, errors="coerce")
            key = numeric if numeric.notna().sum() == data.notna().sum() else data.astype(str)
            key = key.where(data.notna())
        else:
            key = data
        order = key.sort_values(ascending=ascending, na_position="last", kind="stable").index
        return replace(self, runs=self.runs.loc[order].reset_index(drop=True))

    def _row_of(self, run: str) -> int:
        ids = self.runs["run_id"].astype(str)
        for candidates in (
            ids == run,
            self.runs["run_name"].astype(str) == run,
            ids.str.startswith(run),
        ):
            hits = list(self.runs.index[candidates])
            if len(hits) == 1:
                return int(hits[0])
            if len(hits) > 1:
                raise InvalidInput(
                    f"{run!r} matches {len(hits)} runs in this comparison. "
                    "Use the run id (see the run_id column)."
                )
        raise InvalidInput(
            f"No run {run!r} in this comparison. Pick one of the run_id or run_name values."
        )

    # -- answers ---------------------------------------------------------------------------

    def best(self, metric: str | None = None, direction: str | None = None) -> pd.Series:
        """The table row of the best run for ``metric`` (default: the comparison's metric)."""
        if metric is None and self.metric is None:
            raise InvalidInput(
                "No metric to rank by. Pass one, e.g. .best('auc', direction='max')."
            )
        column = self.metric_column(metric) if metric is not None else str(self.metric)
        direction = direction or (
            self.direction if column == self.metric else guess_direction(column)
        )
        if direction not in DIRECTIONS:
            raise InvalidInput(f"Unknown direction {direction!r}. Use 'max' or 'min'.")
        values = pd.to_numeric(self.runs[column], errors="coerce")
        if values.notna().sum() == 0:
            raise InvalidInput(
                f"No run in this comparison logged {column!r}. Pick a metric the runs share."
            )
        position = values.idxmax() if direction == "max" else values.idxmin()
        return self.table.loc[position]

    def groups(self, by: str | Sequence[str], metrics: str | Sequence[str] | None = None) -> Any:
        """Mean and std of metrics per value of the ``by`` param(s) (e.g. over seeds/folds).

        Columns: the param(s), ``runs``, then ``<metric> mean`` and ``<metric> std`` per metric.
        """
        keys = [
            self.param_column(b) for b in _names(by, "The by argument", ".groups('model_type')")
        ]
        if metrics is None:
            cols = self.metrics
        else:
            example = ".groups('model_type', metrics=['auc'])"
            cols = [self.metric_column(m) for m in _names(metrics, "The metrics argument", example)]
        data = self.runs[keys].copy()
        for col in keys:
            data[col] = data[col].astype(object).where(data[col].notna(), None)
        for col in cols:
            data[col] = pd.to_numeric(self.runs[col], errors="coerce")
        grouped = data.groupby(keys, dropna=False, sort=True)
        out = grouped.size().rename("runs").to_frame()
        for col in cols:
            name = col.removeprefix("metrics.")
            out[f"{name} mean"] = grouped[col].mean()
            out[f"{name} std"] = grouped[col].std()
        out = out.reset_index()
        if self.metric in cols:
            out = out.sort_values(
                f"{str(self.metric).removeprefix('metrics.')} mean",
                ascending=self.direction == "min",
                kind="stable",
            ).reset_index(drop=True)
        return out

    def curves(self, metric: str | Sequence[str] | None = None) -> Any:
        """Metric histories, long form: ``run_id, run_name, metric, step, value``.

        Points logged without a step get their position (0, 1, ...) as step.
        """
        if metric is None:
            keys = self.metrics
        else:
            keys = [
                self.metric_column(m)
                for m in _names(metric, "The metric argument", "'auc' or ['auc', 'loss']")
            ]
        columns = ["run_id", "run_name", "metric", "step", "value"]
        if not keys or not len(self.runs):
            return pd.DataFrame(columns=columns)
        points = pd.DataFrame(
            self.store.metric_points(self.run_ids, [k.removeprefix("metrics.") for k in keys]),
            columns=["run_id", "key", "step", "value", "logged_at", "execution_id"],
        )
        if points.empty:
            return pd.DataFrame(columns=columns)
        position = points.groupby(["run_id", "key"]).cumcount()
        points["step"] = points["step"].astype("Float64").fillna(position).astype("int64")
        names = dict(zip(self.run_ids, self.runs["run_name"].astype(str)))
        points["run_name"] = points["run_id"].map(names)
        points = points.rename(columns={"key": "metric"})
        order = {r: i for i, r in enumerate(self.run_ids)}
        points["_order"] = points["run_id"].map(order)
        points = points.sort_values(["_order", "metric", "step"], kind="stable")
        return points[columns].reset_index(drop=True)

    def at_step(self, step: int, metrics: str | Sequence[str] | None = None) -> Any:
        """Each run's metrics at ``step`` (the last point at or before it), one row per run."""
        try:
            step = operator.index(step)
        except TypeError:
            raise InvalidInput(
                f"The step must be an integer, not {reprlib.repr(step)}. Example: .at_step(10)"
            ) from None
        curves = self.curves(metrics)
        table = self.runs[["run_id", "run_name"]].copy()
        if curves.empty:
            return table
        upto = curves[curves["step"] <= step]
        last = upto.groupby(["run_id", "metric"], sort=False).tail(1)
        wide = last.pivot(index="run_id", columns="metric", values="value")
        wide.columns = [f"metrics.{c}" for c in wide.columns]
        return table.join(wide, on="run_id")

    def diff(self, run_a: str, run_b: str) -> RunDiff:
        """What differs between two runs: params, metrics, cells, datasets, packages."""
        return diff_runs(self.store, run_a, run_b)

    # -- rendering -------------------------------------------------------------------------

    def to_html(self) -> str:
        from ..display.compare import comparison_html

        return comparison_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def panel(self, *, query: str = "", only_differences: bool | None = None) -> Any:
        """The interactive panel (ipywidgets) over this comparison, its filter box holding
        ``query`` and its "only differences" box ticked as ``only_differences`` (by default as
        this comparison's), so the user can edit or clear both."""
        from ..display.compare import ComparePanel

        return ComparePanel(self, query=query, only_differences=only_differences)


def constant_params(frame: pd.DataFrame) -> list[str]:
    """Param columns holding one value (or none) across all rows of ``frame``."""
    out = []
    for column in _name_columns(frame.columns, "params."):
        values = frame[column]
        if values.astype(str).where(values.notna(), "\0missing").nunique() <= 1:
            out.append(column)
    return out


# -- the diff of two runs ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RunDiff:
    """Why two runs differ. Each frame holds only what differs (metrics: every metric).

    - ``params``: ``param, a, b``
    - ``metrics``: ``metric, a, b, delta, a_step, b_step, a_execution_id, a_cell,
      b_execution_id, b_cell`` (the cell execution that logged each latest value)
    - ``cells``: ``cell, change, a_execution_id, b_execution_id, a_cell, b_cell, diff``
      (``change`` is ``changed``, ``only in a`` or ``only in b``; ``diff`` a unified line diff)
    - ``datasets``: ``dataset, a_versions, b_versions, a_fingerprints, b_fingerprints``
    - ``packages``: ``package, a, b`` (python and platform included)
    - ``producers``: ``execution_id, run, cell, code`` of the cell executions that logged the
      metrics' latest values (``run`` is ``a`` or ``b``)
    """

    run_a: Mapping[str, Any]
    run_b: Mapping[str, Any]
    params: pd.DataFrame
    metrics: pd.DataFrame
    cells: pd.DataFrame
    datasets: pd.DataFrame
    packages: pd.DataFrame
    environments_known: bool = True
    producers: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["execution_id", "run", "cell", "code"])
    )

    @property
    def identical(self) -> bool:
        changed_metrics = (
            self.metrics["delta"].fillna(1).ne(0).any() if len(self.metrics) else False
        )
        return not (
            len(self.params)
            or changed_metrics
            or len(self.cells)
            or len(self.datasets)
            or len(self.packages)
        )

    def __repr__(self) -> str:
        return (
            f"<RunDiff {self.run_a['name']} -> {self.run_b['name']}: {len(self.params)} params, "
            f"{len(self.metrics)} metrics, {len(self.cells)} cells, {len(self.datasets)} "
            f"datasets, {len(self.packages)} packages differ>"
        )

    def to_html(self) -> str:
        from ..display.compare import run_diff_html

        return run_diff_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


def diff_runs(store: Any, run_a: str, run_b: str) -> RunDiff:
    """Compute the :class:`RunDiff` of two runs (ids, id prefixes or names) in ``store``."""
    for run in (run_a, run_b):
        _name(run, "A run", ".diff('r1', 'r2') with run ids, id prefixes or names")
    a, b = store.get_run(run_a), store.get_run(run_b)
    envs = store.run_environments([a["id"], b["id"]])
    env_a, env_b = envs.get(a["id"]), envs.get(b["id"])
    metrics = _metric_deltas(store.metric_sources(a["id"]), store.metric_sources(b["id"]))
    return RunDiff(
        run_a={"id": a["id"], "name": a["name"]},
        run_b={"id": b["id"], "name": b["name"]},
        params=_param_changes(store.get_params(a["id"]), store.get_params(b["id"])),
        metrics=metrics,
        cells=_cell_changes(
            store.list_executions(a["id"]), store.list_executions(b["id"]), a["name"], b["name"]
        ),
        datasets=_dataset_changes(store.datasets_of_run(a["id"]), store.datasets_of_run(b["id"])),
        packages=_package_changes(env_a, env_b),
        environments_known=env_a is not None and env_b is not None,
        producers=_producers(store, metrics),
    )


def _producers(store: Any, metrics: pd.DataFrame) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for side in ("a", "b"):
        for execution_id in metrics[f"{side}_execution_id"].dropna():
            if int(execution_id) in seen:
                continue
            seen.add(int(execution_id))
            execution = store.get_execution(int(execution_id))
            if execution is not None:
                rows.append(
                    {
                        "execution_id": int(execution_id),
                        "run": side,
                        "cell": cell_label(execution["execution_count"], execution["cell_id"]),
                        "code": execution["code"],
                    }
                )
    return pd.DataFrame(rows, columns=["execution_id", "run", "cell", "code"])


def _param_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    rows = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)  # a missing param and a None param read the same
        if va != vb or type(va) is not type(vb):
            rows.append({"param": key, "a": va, "b": vb})
    return pd.DataFrame(rows, columns=["param", "a", "b"], dtype=object)


def cell_label(execution_count: Any, cell_id: Any) -> str | None:
    """How a cell execution is named to the user: ``In [7]`` (and its cell id if known)."""
    parts = []
    if execution_count is not None and not pd.isna(execution_count):
        parts.append(f"In [{int(execution_count)}]")
    if cell_id:
        parts.append(f"cell {cell_id}")
    return " ".join(parts) or None


def _metric_deltas(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> pd.DataFrame:
    by_a, by_b = {r["key"]: r for r in a}, {r["key"]: r for r in b}
    rows = []
    for key in sorted(set(by_a) | set(by_b)):
        ra, rb = by_a.get(key, {}), by_b.get(key, {})
        va, vb = ra.get("value"), rb.get("value")
        rows.append(
            {
                "metric": key,
                "a": va,
                "b": vb,
                "delta": None if va is None or vb is None else vb - va,
                "a_step": ra.get("step"),
                "b_step": rb.get("step"),
                "a_execution_id": ra.get("execution_id"),
                "a_cell": cell_label(ra.get("execution_count"), ra.get("cell_id")),
                "b_execution_id": rb.get("execution_id"),
                "b_cell": cell_label(rb.get("execution_count"), rb.get("cell_id")),
            }
        )
    columns = ["metric", "a", "b", "delta", "a_step", "b_step"]
    columns += ["a_execution_id", "a_cell", "b_execution_id", "b_cell"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("a", "b", "delta"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    for col in ("a_step", "b_step", "a_execution_id", "b_execution_id"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _cell_changes(
    xa: list[dict[str, Any]], xb: list[dict[str, Any]], name_a: str, name_b: str
) -> pd.DataFrame:
    """Cells whose code differs: matched by cell id when every execution has one, else by
    aligning the two runs' sequences of code hashes (difflib), pairing replaced blocks."""
    import difflib

    pairs: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
    if xa and xb and all(x.get("cell_id") for x in xa + xb):
        last_a = {x["cell_id"]: x for x in xa}
        last_b = {x["cell_id"]: x for x in xb}
        for cid in list(last_a) + [c for c in last_b if c not in last_a]:
            ea, eb = last_a.get(cid), last_b.get(cid)
            if ea is None or eb is None or ea["code_hash"] != eb["code_hash"]:
                pairs.append((ea, eb))
    else:
        ha, hb = [x["code_hash"] for x in xa], [x["code_hash"] for x in xb]
        matcher = difflib.SequenceMatcher(None, ha, hb, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            left, right = xa[i1:i2], xb[j1:j2]
            for k in range(max(len(left), len(right))):
                pairs.append(
                    (left[k] if k < len(left) else None, right[k] if k < len(right) else None)
                )
    rows = []
    for ea, eb in pairs:
        label_a = cell_label(ea["execution_count"], ea.get("cell_id")) if ea else None
        label_b = cell_label(eb["execution_count"], eb.get("cell_id")) if eb else None
        code_a = ea["code"].splitlines() if ea else []
        code_b = eb["code"].splitlines() if eb else []
        text = "\n".join(
            difflib.unified_diff(
                code_a,
                code_b,
                fromfile=f"{name_a} {label_a or '(absent)'}",
                tofile=f"{name_b} {label_b or '(absent)'}",
                lineterm="",
            )
        )
        rows.append(
            {
                "cell": (ea or eb or {}).get("cell_id") or label_b or label_a,
                "change": "changed" if ea and eb else ("only in a" if ea else "only in b"),
                "a_execution_id": ea["id"] if ea else None,
                "b_execution_id": eb["id"] if eb else None,
                "a_cell": label_a,
                "b_cell": label_b,
                "diff": text,
            }
        )
    columns = ["cell", "change", "a_execution_id", "b_execution_id", "a_cell", "b_cell", "diff"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("a_execution_id", "b_execution_id"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _dataset_changes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> pd.DataFrame:
    def by_name(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(row["name"], []).append(row)
        return out

    na, nb = by_name(a), by_name(b)
    rows = []
    for name in sorted(set(na) | set(nb)):
        ra, rb = na.get(name, []), nb.get(name, [])
        fa = sorted({r["fingerprint"] for r in ra})
        fb = sorted({r["fingerprint"] for r in rb})
        if fa == fb:
            continue
        rows.append(
            {
                "dataset": name,
                "a_versions": ", ".join(f"v{r['version']}" for r in ra) or None,
                "b_versions": ", ".join(f"v{r['version']}" for r in rb) or None,
                "a_fingerprints": ", ".join(fa) or None,
                "b_fingerprints": ", ".join(fb) or None,
            }
        )
    columns = ["dataset", "a_versions", "b_versions", "a_fingerprints", "b_fingerprints"]
    return pd.DataFrame(rows, columns=columns)


def _package_changes(
    env_a: Mapping[str, Any] | None, env_b: Mapping[str, Any] | None
) -> pd.DataFrame:
    columns = ["package", "a", "b"]
    if env_a is None or env_b is None:
        return pd.DataFrame(columns=columns)
    rows = []
    for label, key in (("python", "python_version"), ("platform", "platform")):
        if env_a[key] != env_b[key]:
            rows.append({"package": label, "a": env_a[key], "b": env_b[key]})
    pa, pb = env_a["packages"], env_b["packages"]
    for name in sorted(set(pa) | set(pb), key=str.lower):
        if pa.get(name) != pb.get(name):
            rows.append({"package": name, "a": pa.get(name), "b": pb.get(name)})
    return pd.DataFrame(rows, columns=columns, dtype=object)


__all__ = [
    "Comparison",
    "RunDiff",
    "compare",
    "constant_params",
    "diff_runs",
    "guess_direction",
    "register_column",
]
