"""Comparing runs: which run is best, and why did it get better.

``compare(...)`` reads the runs table once and returns a frozen :class:`Comparison`; its methods
(``filter``, ``best``, ``groups``, ``at_step``, ``curves``, ``only_differences``,
``all_params``) return new results computed from that table, and ``diff(a, b)`` reads two runs'
cells, metrics' producing executions, datasets and environments into a :class:`RunDiff`
(:mod:`.rundiff`). The table shows metrics before params, and of the params those the user set
(any source but ``default``, i.e. not an estimator's own default value) or that differ across
the runs. Rendering (static HTML and the ipywidgets panel) lives in
:mod:`mlops_jupyter.display`.
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

from ..errors import InvalidInput
from .compare_scope import resolve_run as _resolve
from .compare_scope import scope as _scope
from .query import parse_query, resolve_column
from .rundiff import RunDiff, diff_runs, order_pair

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


def _register_resource_columns() -> None:
    """What each run cost (#16): ``resources.wall_s``, ``.cpu_s``, ``.peak_rss_mb`` (and
    ``.cost`` when ``$MLOPS_JUPYTER_COST_PER_HOUR`` is set)."""
    from .resources import COLUMNS, column_provider, cost_per_hour

    for name in COLUMNS:
        if name != "resources.cost" or cost_per_hour() is not None:
            register_column(name, column_provider(name))


_register_resource_columns()


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
    resources: bool = False,
) -> Comparison:
    """Compare runs: the named ``runs`` (ids, id prefixes or names), else those of ``experiment``,
    else those of the current experiment (the session's, or the store's latest).

    ``metric`` (e.g. ``"auc"``) is the one the table is sorted by and ``best()`` defaults to.
    ``resources``: show what each run cost (``resources.*`` columns, #16).
    Without named runs, runs that logged neither a param nor a metric are left out.
    """
    if runs is not None:
        runs = _names(
            runs, "The runs argument", "mj.compare(['r1', 'r2']) or mj.compare(experiment='churn')"
        )
    store, experiment = _scope(store, experiment, runs)
    if runs is not None:
        runs = [_resolve(store, r, experiment) for r in runs]
    if runs is None and experiment is None:
        frame = pd.DataFrame(columns=RUN_COLUMNS)
    else:
        frame = store.compare_frame(experiment=experiment, run_ids=list(runs) if runs else None)
    table = _shape_table(frame, store, keep_empty=runs is not None)
    parents = {}
    if "parent_run_id" in frame.columns and len(frame):
        # (iterating the Arrow-backed columns value by value took 0.1 s at 50,000 runs)
        parent = frame["parent_run_id"]
        has = (parent.notna() & (parent.astype(str) != "")).to_numpy()
        if has.any():
            children = frame["run_id"][has].astype(str).tolist()
            parents = dict(zip(children, parent[has].astype(str).tolist()))
    ids = table["run_id"].astype(str).tolist()
    defaults = store.default_params(ids) if ids and hasattr(store, "default_params") else {}
    result = Comparison(
        runs=table,
        experiment=experiment,
        store=store,
        parents=parents,
        defaults={r: frozenset(f"params.{k}" for k in keys) for r, keys in defaults.items()},
    )
    if resources:
        result = result.with_resources()
    if metric is not None:
        column = result.metric_column(metric)
        result = replace(result, metric=column, direction=guess_direction(column))
        result = result.sort(column, ascending=result.direction == "min")
    return result


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
    table = frame.reindex(columns=run_cols + metrics + params).reset_index(drop=True)
    ids = table["run_id"].astype(str)
    run_ids = ids.tolist()
    position = 0
    for name, provider in _COLUMN_PROVIDERS.items():
        try:
            values = provider(store, run_ids)
        except Exception as exc:  # another area's hook must not break the comparison
            warnings.warn(f"mlops-jupyter: column {name!r} skipped: {exc}", stacklevel=2)
            continue
        # (a lookup per run in Python took 0.1 s at 50,000 runs; most values are missing)
        values = {r: v for r, v in values.items() if v is not None}
        column = ids.map(values) if values else None
        if name.startswith("resources.") and (column is None or not column.notna().any()):
            continue  # runs recorded before resources were measured: no empty columns
        if column is None:
            column = [None] * len(ids)  # (the dtype a list of them gets)
        table.insert(len(run_cols) + position, name, column)
        position += 1
    for column in metrics:
        table[column] = pd.to_numeric(table[column], errors="coerce")
    return table


def _name_columns(columns: Iterable[str], prefix: str) -> list[str]:
    return [c for c in columns if c.startswith(prefix)]


@dataclass(frozen=True, eq=False)
class Comparison:
    """Runs side by side. ``runs`` holds every column; ``table`` is what is shown.

    ``defaults`` maps a run id to its param columns that hold an estimator's default value;
    ``parents`` a run id to its parent run's id.
    """

    runs: pd.DataFrame
    experiment: str | None = None
    metric: str | None = None
    direction: str = "max"
    queries: tuple[str, ...] = ()
    only_diff: bool = False
    store: Any = field(default=None, repr=False)
    show_all_params: bool = False
    show_resources: bool = False  # the resources.* columns in .table (#16; always in .runs)
    defaults: Mapping[str, frozenset[str]] = field(default_factory=dict, repr=False)
    parents: Mapping[str, str] = field(default_factory=dict, repr=False)

    # -- the table -------------------------------------------------------------------------

    @cached_property
    def table(self) -> pd.DataFrame:
        """The runs table after filters: run columns, metrics, then the params shown
        (:meth:`shown_params`)."""
        shown = set(self.shown_params())
        return self.runs[
            [
                c
                for c in self.runs.columns
                if (c not in self.params or c in shown)
                and (self.show_resources or not str(c).startswith("resources."))
            ]
        ]

    def user_params(self) -> list[str]:
        """Param columns the user set in at least one run: any source but an estimator's
        default value (``params.source = 'default'``)."""
        return list(self._user_params)

    @cached_property
    def _user_params(self) -> tuple[str, ...]:  # a frozen comparison: computed once
        if not self.defaults:
            return tuple(self.params)
        ids = self.run_ids
        out = []
        for column in self.params:
            present = self.runs[column].notna().tolist()
            if any(
                has and column not in self.defaults.get(rid, ()) for rid, has in zip(ids, present)
            ):
                out.append(column)
        return tuple(out)

    def varying_params(self) -> list[str]:
        """Param columns whose value differs across the runs (missing counts as a value)."""
        return list(self._varying_params)

    @cached_property
    def _varying_params(self) -> tuple[str, ...]:
        constant = set(constant_params(self.runs))
        return tuple(p for p in self.params if p not in constant)

    def shown_params(self) -> list[str]:
        """The param columns of :attr:`table`: every param with :meth:`all_params`, else those
        the user set or that differ across the runs; with :meth:`only_differences`, only
        those that differ."""
        varying = set(self.varying_params())
        if self.only_diff:
            return [p for p in self.params if p in varying]
        if self.show_all_params:
            return self.params
        user = set(self.user_params())
        return [p for p in self.params if p in user or p in varying]

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

    def with_resources(self, on: bool = True) -> Comparison:
        """The table with each run's ``resources.wall_s``, ``.cpu_s``, ``.peak_rss_mb`` (and
        ``.cost``) columns (#16)."""
        return replace(self, show_resources=on)

    def all_params(self, on: bool = True) -> Comparison:
        """Show every param, the estimators' defaults too (``on=False``: only those the user
        set or that differ)."""
        return replace(self, show_all_params=on)

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

    def default_param(self) -> str | None:
        """The param a scatter plot opens on: one that varies (user-set first, then numbers,
        then the most distinct values); None when no param varies."""
        varying = self.varying_params()
        if not varying:
            return None
        user = set(self.user_params())

        def rank(column: str) -> tuple[bool, bool, int]:
            values = self.runs[column]
            numeric = pd.to_numeric(values, errors="coerce").notna().sum() == values.notna().sum()
            return (column in user, bool(numeric), int(values.astype(str).nunique()))

        return max(varying, key=rank)

    def default_group_param(self) -> str | None:
        """The param Groups opens on: one that varies with the fewest distinct values, so its
        groups hold several runs (e.g. a model type, averaged over seeds)."""
        varying = self.varying_params()
        if not varying:
            return None
        return min(varying, key=lambda c: (self.runs[c].astype(str).nunique(), c))

    def last_step(self, metric: str | None = None) -> int | None:
        """The largest step any run logged (for ``metric``, else any metric); None if none."""
        keys = [self.metric_column(metric)] if metric is not None else self.metrics
        steps = [last for key, (_, last) in self._metric_shapes.items() if "metrics." + key in keys]
        return max(steps) if steps else None

    def stepped_metrics(self) -> list[str]:
        """Metric columns that some run logged at more than one step (those have curves)."""
        keys = {key for key, (most, _) in self._metric_shapes.items() if most > 1}
        return [c for c in self.metrics if c.removeprefix("metrics.") in keys]

    @cached_property
    def _metric_shapes(self) -> dict[str, tuple[int, int]]:
        if self.store is None or not len(self.runs):
            return {}
        shapes: dict[str, tuple[int, int]] = self.store.metric_shapes(self.run_ids)
        return shapes

    def default_pair(self) -> tuple[str, str] | None:
        """The two runs a diff shows first, as (baseline, challenger): the best run by the
        comparison's metric (else the newest) against its parent when it is here, else
        against the oldest run. None with fewer than two runs."""
        if len(self) < 2:
            return None
        ids = self.run_ids
        challenger = ids[0]
        if self.metric is not None and self.runs[self.metric].notna().any():
            challenger = str(self.best()["run_id"])
        elif "started_at" in self.runs.columns:
            challenger = str(self.runs.loc[self.runs["started_at"].astype(str).idxmax(), "run_id"])
        parent = self.parents.get(challenger)
        if parent in ids:
            return self.ordered_pair(parent, challenger)
        others = self.runs[self.runs["run_id"].astype(str) != challenger]
        oldest = str(others.loc[others["started_at"].astype(str).idxmin(), "run_id"])
        return self.ordered_pair(oldest, challenger)

    def ordered_pair(self, run_a: str, run_b: str) -> tuple[str, str]:
        """Two runs of this table as (baseline, challenger): a parent before its child, else
        the older run first."""
        rows = []
        for run in (run_a, run_b):
            row = self.runs.loc[self._row_of(run)]
            rid = str(row["run_id"])
            rows.append(
                {
                    "run_id": rid,
                    "parent_run_id": self.parents.get(rid),
                    "started_at": row.get("started_at"),
                }
            )
        a, b = order_pair(rows)
        return str(a["run_id"]), str(b["run_id"])

    def diff(self, run_a: str | None = None, run_b: str | None = None) -> RunDiff:
        """What differs between two runs: params, metrics, cells, datasets, packages.

        ``run_a`` is the baseline, ``run_b`` the challenger; without them, :meth:`default_pair`.
        """
        if run_a is None and run_b is None:
            pair = self.default_pair()
            if pair is None:
                raise InvalidInput("A diff needs two runs; this comparison has fewer.")
            run_a, run_b = pair
        if run_a is None or run_b is None:
            raise InvalidInput("Name both runs, e.g. .diff('baseline', 'challenger').")
        return diff_runs(self.store, run_a, run_b)

    # -- rendering -------------------------------------------------------------------------

    def to_html(self) -> str:
        from ..display.compare_html import comparison_html

        return comparison_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def panel(self, *, query: str = "", only_differences: bool | None = None) -> Any:
        """The interactive panel (ipywidgets) over this comparison, its filter box holding
        ``query`` and its "only differences" box ticked as ``only_differences`` (by default as
        this comparison's), so the user can edit or clear both."""
        from ..display.compare_panel import ComparePanel

        return ComparePanel(self, query=query, only_differences=only_differences)


def constant_params(frame: pd.DataFrame) -> list[str]:
    """Param columns holding one value (or none) across all rows of ``frame``."""
    out = []
    for column in _name_columns(frame.columns, "params."):
        values = frame[column]
        if values.dtype != object:  # one dtype: equal values are equal text
            if values.nunique(dropna=False) <= 1:
                out.append(column)
        elif values.astype(str).where(values.notna(), "\0missing").nunique() <= 1:
            out.append(column)
    return out


__all__ = [
    "Comparison",
    "RunDiff",
    "compare",
    "constant_params",
    "diff_runs",
    "guess_direction",
    "order_pair",
    "register_column",
]
