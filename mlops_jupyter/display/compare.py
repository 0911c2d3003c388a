"""Rendering of comparisons: static HTML (saved notebooks, nbconvert, GitHub) and the live panel.

Static forms: :func:`comparison_html`, :func:`run_diff_html`. The panel, :class:`ComparePanel`,
is an ipywidgets layout over a :class:`~mlops_jupyter.analysis.compare.Comparison`: runs table
(sort, filter, checkboxes, only differences) and tabs over the selected runs (best run, curves,
scatter, parallel coordinates, groups, metrics at a step, diff of two runs). Widgets are built
on first display and plots only for the visible tab. Callbacks never raise into the cell: a
failure is shown as one line in the panel. Everything from user data goes through ``esc``.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Callable
from typing import Any

from .html import esc, figure_img, fmt, panel, table

MAX_PLOTTED_RUNS = 20
MAX_AXES = 12  # parallel coordinates: params shown at most
ROW_PX = 28  # a checkbox widget's height; table rows match it so checkboxes line up


# -- static HTML ---------------------------------------------------------------------------


def comparison_html(cmp: Any, *, plots: bool = True, max_rows: int = 200) -> str:
    """The whole comparison as one escaped, self-contained HTML fragment."""
    from ..analysis.compare import guess_direction

    frame = cmp.table
    title = f"Comparison of {len(frame)} runs" + (
        f" in experiment {cmp.experiment}" if cmp.experiment else ""
    )
    parts: list[str] = []
    if cmp.queries:
        parts.append(
            '<div class="mlops-muted">filter: '
            + esc(" and ".join(f"({q})" for q in cmp.queries))
            + "</div>"
        )
    if cmp.only_diff:
        hidden = [c for c in cmp.params if c not in frame.columns]
        parts.append(
            f'<div class="mlops-muted">only differences: {len(hidden)} params equal across '
            f"runs hidden ({esc(', '.join(h.removeprefix('params.') for h in hidden))})</div>"
        )
    if not len(frame):
        parts.append('<div class="mlops-muted">No runs to compare.</div>')
        return panel(title, "".join(parts))
    if cmp.metric:
        best = _best_or_none(cmp, cmp.metric, cmp.direction)
        if best is not None:
            parts.append(
                f"<div>best by <b>{esc(cmp.metric)}</b> ({esc(cmp.direction)}): "
                f'<span class="mlops-good">{esc(best["run_name"])}</span> '
                f'= {fmt(best[cmp.metric])} <span class="mlops-muted">'
                f"({esc(best['run_id'])})</span></div>"
            )
    best_pos = {}
    for metric in cmp.metrics:
        if metric in frame.columns and frame[metric].notna().any():
            direction = cmp.direction if metric == cmp.metric else guess_direction(metric)
            best_pos[metric] = (
                frame[metric].idxmax() if direction == "max" else frame[metric].idxmin()
            )
    parts.append(_runs_table(frame.head(max_rows), best_pos))
    if len(frame) > max_rows:
        parts.append(f'<div class="mlops-muted">{len(frame) - max_rows} more runs not shown</div>')
    if plots and cmp.metric:
        try:
            parts.append(_section("Curves", curves_img(cmp, cmp.metric)))
        except Exception as exc:  # a plot must never hide the table
            parts.append(f'<div class="mlops-muted">no curves: {esc(exc)}</div>')
    return panel(title, "".join(parts))


def _runs_table(frame: Any, best_pos: dict[str, Any]) -> str:
    columns = [str(c) for c in frame.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for index, row in zip(frame.index, frame.itertuples(index=False)):
        cells = []
        for column, value in zip(columns, row):
            cls = ' class="mlops-good"' if best_pos.get(column) == index else ""
            if column in ("started_at", "ended_at") and isinstance(value, str):
                value = value[:19].replace("T", " ")  # to the second; UTC like the store
            cells.append(f"<td{cls}>{_cell(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="mlops-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return fmt(value)


def _section(title: str, body: str) -> str:
    return f"<h3>{esc(title)}</h3>{body}"


def _best_or_none(cmp: Any, metric: str, direction: str) -> Any:
    from ..errors import MlopsError

    try:
        return cmp.best(metric, direction)
    except MlopsError:
        return None


def run_diff_html(diff: Any) -> str:
    """The diff of two runs: params, metric deltas linked to their cells, code, data, packages."""
    from ..analysis.compare import guess_direction

    prefix = "mlops-x-" + uuid.uuid4().hex[:8] + "-"
    a, b = diff.run_a, diff.run_b
    parts = [
        f'<div>a = <b>{esc(a["name"])}</b> <span class="mlops-muted">({esc(a["id"])})</span>, '
        f'b = <b>{esc(b["name"])}</b> <span class="mlops-muted">({esc(b["id"])})</span></div>'
    ]
    parts.append(
        _section(
            f"Params changed ({len(diff.params)})",
            table(diff.params) if len(diff.params) else _muted("none"),
        )
    )
    anchored = set()
    for col in ("a_execution_id", "b_execution_id"):
        anchored |= {int(x) for x in diff.cells[col].dropna()}
    # Cells that logged a metric but did not change: listed below, so every link lands.
    producers = [
        r for r in diff.producers.to_dict("records") if int(r["execution_id"]) not in anchored
    ]
    anchored |= {int(r["execution_id"]) for r in producers}
    rows = []
    for r in diff.metrics.to_dict("records"):
        delta = r["delta"]
        cls = ""
        if delta is not None and not _isna(delta) and delta != 0:
            better = delta > 0 if guess_direction(r["metric"]) == "max" else delta < 0
            cls = "mlops-good" if better else "mlops-bad"
        rows.append(
            "<tr>"
            f"<td>{esc(r['metric'])}</td><td>{_cell(r['a'])}</td><td>{_cell(r['b'])}</td>"
            f'<td class="{cls}">{_signed(delta)}</td>'
            f"<td>{_exec_link(r['a_execution_id'], r['a_cell'], prefix, anchored)}</td>"
            f"<td>{_exec_link(r['b_execution_id'], r['b_cell'], prefix, anchored)}</td>"
            "</tr>"
        )
    head = "".join(
        f"<th>{esc(h)}</th>"
        for h in ("metric", "a", "b", "delta", "logged by (a)", "logged by (b)")
    )
    parts.append(
        _section(
            f"Metrics ({len(diff.metrics)})",
            f'<table class="mlops-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else _muted("no metrics"),
        )
    )
    cells = []
    for r in diff.cells.to_dict("records"):
        ids = [x for x in (r["a_execution_id"], r["b_execution_id"]) if not _isna(x)]
        anchors = "".join(f'<a id="{prefix}{int(x)}"></a>' for x in ids)
        cells.append(
            f"<div>{anchors}<b>{esc(r['cell'])}</b> "
            f'<span class="mlops-muted">{esc(r["change"])}</span>{_diff_pre(r["diff"])}</div>'
        )
    parts.append(
        _section(
            f"Cells whose code differs ({len(diff.cells)})",
            "".join(cells) or _muted("same code"),
        )
    )
    if producers:
        listing = "".join(
            f'<details><summary><a id="{prefix}{int(r["execution_id"])}"></a>'
            f"<b>{esc(r['cell'] or 'execution ' + str(r['execution_id']))}</b> "
            f'<span class="mlops-muted">({esc(a["name"] if r["run"] == "a" else b["name"])}, '
            f"execution {int(r['execution_id'])})</span></summary>"
            f'<pre style="margin:2px 0 8px;padding:4px;border:1px solid #ddd;overflow:auto">'
            f"{esc(r['code'])}</pre></details>"
            for r in producers
        )
        parts.append(_section("Cells that logged the metrics (same code)", listing))
    parts.append(
        _section(
            f"Datasets that differ ({len(diff.datasets)})",
            table(diff.datasets) if len(diff.datasets) else _muted("same datasets"),
        )
    )
    if diff.environments_known:
        body = table(diff.packages) if len(diff.packages) else _muted("same packages")
    else:
        body = _muted("environment not recorded for one of the runs")
    parts.append(_section(f"Packages that differ ({len(diff.packages)})", body))
    return panel(f"Diff of runs {a['name']} -> {b['name']}", "".join(parts))


def _muted(text: str) -> str:
    return f'<div class="mlops-muted">{esc(text)}</div>'


def _isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _signed(value: Any) -> str:
    if value is None or _isna(value):
        return ""
    return esc(f"{value:+.4g}")


def _exec_link(execution_id: Any, label: Any, prefix: str, anchored: set[int]) -> str:
    if execution_id is None or _isna(execution_id):
        return ""
    text = esc(label or f"execution {int(execution_id)}")
    title = f' title="execution {int(execution_id)}"'
    if int(execution_id) in anchored:
        return f'<a href="#{prefix}{int(execution_id)}"{title}>{text}</a>'
    return f"<span{title}>{text}</span>"


def _diff_pre(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            style = "color:#777"
        elif line.startswith("+"):
            style = "background:#e6ffec"
        elif line.startswith("-"):
            style = "background:#ffebe9"
        elif line.startswith("@@"):
            style = "color:#0550ae"
        else:
            style = ""
        lines.append(f'<span style="{style}">{esc(line)}</span>' if style else esc(line))
    return (
        '<pre style="margin:2px 0 8px;padding:4px;border:1px solid #ddd;overflow:auto">'
        + "\n".join(lines)
        + "</pre>"
    )


# -- plots (matplotlib, imported when a plot is drawn) ---------------------------------------


def _figure(width: float = 6.0, height: float = 3.2) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def curves_img(cmp: Any, metric: str) -> str:
    """Overlaid metric curves of the comparison's runs (at most MAX_PLOTTED_RUNS)."""
    column = cmp.metric_column(metric)
    shown = cmp.select(cmp.run_ids[:MAX_PLOTTED_RUNS]) if len(cmp) > MAX_PLOTTED_RUNS else cmp
    curves = shown.curves(column)
    if curves.empty:
        return _muted(f"no points logged for {column}")
    fig = _figure()
    ax = fig.add_subplot()
    for (_, name), points in curves.groupby(["run_id", "run_name"], sort=False):
        marker = "o" if len(points) < 2 else None
        ax.plot(points["step"], points["value"], label=str(name), marker=marker)
    ax.set_xlabel("step")
    ax.set_ylabel(column.removeprefix("metrics."))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    note = (
        _muted(f"first {MAX_PLOTTED_RUNS} of {len(cmp)} runs")
        if len(cmp) > MAX_PLOTTED_RUNS
        else ""
    )
    return figure_img(fig) + note


def _numeric_axis(values: Any) -> tuple[Any, list[str] | None]:
    """Numbers as they are; anything else as category codes plus their labels."""
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return numeric.astype(float), None
    labels = sorted({str(v) for v in values.dropna()})
    codes = values.map(lambda v: labels.index(str(v)) if v is not None and not _isna(v) else None)
    return pd.to_numeric(codes, errors="coerce").astype(float), labels


def scatter_img(cmp: Any, param: str, metric: str) -> str:
    pcol, mcol = cmp.param_column(param), cmp.metric_column(metric)
    x, labels = _numeric_axis(cmp.runs[pcol])
    y = cmp.runs[mcol]
    fig = _figure(5, 3.2)
    ax = fig.add_subplot()
    ax.scatter(x, y)
    for xi, yi, name in zip(x, y, cmp.runs["run_name"].astype(str)):
        if not (_isna(xi) or _isna(yi)):
            ax.annotate(name, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel(pcol.removeprefix("params."))
    ax.set_ylabel(mcol.removeprefix("metrics."))
    ax.grid(alpha=0.3)
    return figure_img(fig)


def parallel_img(cmp: Any, metric: str) -> str:
    """Parallel coordinates: one axis per param that varies, then the metric; lines coloured
    by the metric."""
    from matplotlib import colormaps

    from ..analysis.compare import constant_params

    mcol = cmp.metric_column(metric)
    varying = [p for p in cmp.params if p not in constant_params(cmp.runs)] or cmp.params
    params = varying[:MAX_AXES]  # a readable figure; the table has them all
    axes = [*params, mcol]
    scaled, ticks = [], []
    for column in axes:
        values, labels = _numeric_axis(cmp.runs[column])
        lo, hi = values.min(), values.max()
        span = (hi - lo) if hi != lo else 1.0
        scaled.append(((values - lo) / span).tolist())
        ticks.append((labels, lo, hi))
    fig = _figure(max(4.0, 1.3 * len(axes)), 3.2)
    ax = fig.add_subplot()
    metric_values = cmp.runs[mcol]
    mlo, mhi = metric_values.min(), metric_values.max()
    cmap = colormaps["viridis"]
    for i, name in enumerate(cmp.runs["run_name"].astype(str)):
        ys = [s[i] for s in scaled]
        m = metric_values.iloc[i]
        color = cmap(0.5 if _isna(m) or mhi == mlo else (m - mlo) / (mhi - mlo))
        ax.plot(range(len(axes)), ys, color=color, alpha=0.8, label=name)
    for k, (labels, lo, hi) in enumerate(ticks):
        ax.axvline(k, color="#999", lw=0.8)
        low = labels[0] if labels else f"{lo:.3g}"
        high = labels[-1] if labels else f"{hi:.3g}"
        ax.annotate(str(low), (k, -0.06), fontsize=7, ha="center", annotation_clip=False)
        ax.annotate(str(high), (k, 1.03), fontsize=7, ha="center", annotation_clip=False)
    ax.set_xticks(range(len(axes)), [a.split(".", 1)[1] for a in axes], fontsize=8)
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    note = (
        _muted(f"first {MAX_AXES} of {len(varying)} params that vary")
        if len(varying) > MAX_AXES
        else ""
    )
    return figure_img(fig) + note


# -- the live panel --------------------------------------------------------------------------


class ComparePanel:
    """The interactive comparison. ``display(panel)`` shows the widget; saved notebooks keep
    the static HTML bundled beside it.

    Driven from Python too (tests do): ``filter_text.value = "..."``, ``checks[run_id].value``,
    ``only_diff.value = True``, ``tabs.selected_index = k``; read ``table_html.value``,
    ``outputs[name].value`` and ``message.value``.
    """

    # "Best" first: it answers the first question and needs no plot, so building is quick.
    TABS = ("Best", "Curves", "Scatter", "Parallel", "Groups", "At step", "Diff")

    def __init__(
        self,
        comparison: Any,
        *,
        max_rows: int = 50,
        selected: int = 5,
        query: str = "",
        only_differences: bool | None = None,
    ) -> None:
        import ipywidgets as w

        self.base = comparison
        self.view = comparison
        self._quiet = False
        self.max_rows = max_rows
        self.selected: list[str] = comparison.run_ids[:selected]
        columns = [str(c) for c in comparison.runs.columns]
        metrics = [m.removeprefix("metrics.") for m in comparison.metrics]
        params = [p.removeprefix("params.") for p in comparison.params]
        first_metric = (comparison.metric or "").removeprefix("metrics.") or (
            metrics[0] if metrics else None
        )

        self.filter_text = w.Text(
            value=query,
            placeholder='filter, e.g. metrics.auc > 0.8 and params.model == "rf"',
            continuous_update=False,
            layout=w.Layout(width="420px"),
        )
        self.sort_by = w.Dropdown(
            options=columns,
            value=comparison.metric or "started_at",
            description="sort",
            layout=w.Layout(width="240px"),
        )
        self.sort_order = w.ToggleButtons(
            options=["desc", "asc"],
            value="asc" if comparison.metric and comparison.direction == "min" else "desc",
            style={"button_width": "52px"},
            layout=w.Layout(flex="0 0 auto", width="auto"),
        )
        self.only_diff = w.Checkbox(
            value=comparison.only_diff if only_differences is None else only_differences,
            description="only differences",
            indent=False,
        )
        self.message = w.HTML()
        self.table_html = w.HTML(layout=w.Layout(flex="1 1 auto", margin="0"))
        self.checks: dict[str, Any] = {}
        # Never shrunk by the wide table beside it (flex), so the checkboxes stay visible.
        self.checks_box = w.VBox(
            layout=w.Layout(margin="0", padding="0", flex="0 0 auto", min_width="28px")
        )

        def dropdown(options: list[str], value: Any, label: str) -> Any:
            return w.Dropdown(
                options=options,
                value=value if value in options else (options[0] if options else None),
                description=label,
                layout=w.Layout(width="260px"),
            )

        self.curve_metric = dropdown(metrics, first_metric, "metric")
        self.scatter_param = dropdown(params, params[0] if params else None, "param")
        self.scatter_metric = dropdown(metrics, first_metric, "metric")
        self.parallel_metric = dropdown(metrics, first_metric, "metric")
        self.best_metric = dropdown(metrics, first_metric, "metric")
        self.best_direction = w.ToggleButtons(
            options=["max", "min"],
            value=comparison.direction if comparison.metric else "max",
            style={"button_width": "52px"},
            layout=w.Layout(flex="0 0 auto", width="auto"),
        )
        self.group_param = dropdown(params, params[0] if params else None, "by")
        self.group_metric = dropdown(metrics, first_metric, "metric")
        self.step = w.IntText(value=0, description="step", layout=w.Layout(width="160px"))
        self.diff_a = dropdown([], None, "a")
        self.diff_b = dropdown([], None, "b")
        self.outputs = {name: w.HTML() for name in self.TABS}
        controls = {
            "Best": [self.best_metric, self.best_direction],
            "Curves": [self.curve_metric],
            "Scatter": [self.scatter_param, self.scatter_metric],
            "Parallel": [self.parallel_metric],
            "Groups": [self.group_param, self.group_metric],
            "At step": [self.step],
            "Diff": [self.diff_a, self.diff_b],
        }
        self.tabs = w.Tab(
            children=[w.VBox([w.HBox(controls[n]), self.outputs[n]]) for n in self.TABS]
        )
        for i, name in enumerate(self.TABS):
            self.tabs.set_title(i, name)

        self.filter_text.observe(self._guard(self._refresh), "value")
        self.sort_by.observe(self._guard(self._refresh), "value")
        self.sort_order.observe(self._guard(self._refresh), "value")
        self.only_diff.observe(self._guard(self._render_table), "value")
        self.tabs.observe(self._guard(self._render_tab), "selected_index")
        for control_list in controls.values():
            for control in control_list:
                control.observe(self._guard(self._render_tab), "value")

        self.widget = w.VBox(
            [
                w.HTML(self._title()),
                w.HBox([self.filter_text, self.sort_by, self.sort_order, self.only_diff]),
                self.message,
                w.HBox([self.checks_box, self.table_html], layout=w.Layout(overflow="auto")),
                self.tabs,
            ]
        )
        self._refresh()

    # -- display ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, plus its static HTML for viewers without a live kernel (GitHub, nbconvert)."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        # The live widget still shows if this fails; only the saved fallback would be missing.
        with contextlib.suppress(Exception):
            bundle["text/html"] = comparison_html(self.view)
        return bundle

    def _title(self) -> str:
        scope = f"experiment {self.base.experiment}" if self.base.experiment else "named runs"
        return (
            f'<b>Compare runs</b> <span style="color:#777">{esc(scope)}, '
            f"{len(self.base)} runs</span>"
        )

    # -- state -----------------------------------------------------------------------------

    def scope(self) -> Any:
        """The comparison the tabs work on: the selected runs, else every visible run."""
        visible = set(self.view.run_ids)
        chosen = [r for r in self.selected if r in visible]
        return self.view.select(chosen) if chosen else self.view

    def select(self, run_ids: list[str]) -> None:
        """Tick exactly these runs (ids as in the table), then redraw once."""
        self.selected = list(run_ids)
        self._quiet = True
        try:
            for run_id, box in self.checks.items():
                box.value = run_id in self.selected
        finally:
            self._quiet = False
        self._guard(self._selection_changed)()

    def _guard(self, func: Callable[[], None]) -> Callable[[Any], None]:
        def callback(change: Any = None) -> None:
            if self._quiet:
                return
            try:
                func()
            except Exception as exc:  # never raise into the user's cell
                self.message.value = (
                    f'<span style="color:#b00020">{esc(type(exc).__name__)}: {esc(exc)}</span>'
                )

        return callback

    def _refresh(self) -> None:
        """Filter and sort the base comparison, then redraw the table and the visible tab."""
        cmp = self.base
        text = self.filter_text.value.strip()
        self.message.value = ""
        if text:
            cmp = cmp.filter(text)
        if self.sort_by.value:
            cmp = cmp.sort(self.sort_by.value, ascending=self.sort_order.value == "asc")
        self.view = cmp
        self._render_table()

    def _render_table(self) -> None:
        import ipywidgets as w

        view = self.view
        scope = self.scope()
        shown = view.runs.head(self.max_rows)
        if self.only_diff.value:
            hidden = [c for c in view.params if c in _constant_in(scope.runs)]
            shown = shown.drop(columns=hidden)
        for box in self.checks.values():
            box.close()
        self.checks = {}
        boxes = [w.HTML(layout=w.Layout(height=f"{ROW_PX}px", margin="0"))]
        for run_id in shown["run_id"].astype(str):
            box = w.Checkbox(
                value=run_id in self.selected,
                indent=False,
                layout=w.Layout(height=f"{ROW_PX}px", width="24px", margin="0"),
            )
            box.observe(self._guard(self._on_check(run_id)), "value")
            self.checks[run_id] = box
            boxes.append(box)
        self.checks_box.children = boxes
        more = (
            _muted(f"{len(view) - len(shown)} more runs not shown; filter to narrow")
            if len(view) > len(shown)
            else ""
        )
        empty = _muted("No runs match.") if not len(view) else ""
        self.table_html.value = _fixed_rows_table(shown) + more + empty
        self._update_diff_choices()
        self._render_tab()

    def _on_check(self, run_id: str) -> Callable[[], None]:
        def handler() -> None:
            box = self.checks.get(run_id)
            if box is None:
                return
            if box.value and run_id not in self.selected:
                self.selected.append(run_id)
            elif not box.value and run_id in self.selected:
                self.selected.remove(run_id)
            self._selection_changed()

        return handler

    def _selection_changed(self) -> None:
        if self.only_diff.value:
            self._render_table()  # which params are equal depends on the selection
        else:
            self._update_diff_choices()
            self._render_tab()

    def _update_diff_choices(self) -> None:
        scope = self.scope()
        options = [(f"{n} ({r})", r) for r, n in zip(scope.run_ids, scope.runs["run_name"])]
        values = [r for _, r in options]
        a, b = self.diff_a.value, self.diff_b.value
        self._quiet = True
        try:
            self.diff_a.options = options
            self.diff_b.options = options
            self.diff_a.value = a if a in values else (values[0] if values else None)
            default_b = next((v for v in values if v != self.diff_a.value), None)
            self.diff_b.value = b if b in values and b != self.diff_a.value else default_b
        finally:
            self._quiet = False

    def _render_tab(self) -> None:
        index = self.tabs.selected_index
        if index is None:
            return
        name = self.TABS[index]
        self.outputs[name].value = self.render(name)

    def render(self, name: str) -> str:
        """The HTML of one tab for the current selection (what the tab shows)."""
        scope = self.scope()
        if not len(scope):
            return _muted("No runs to show.")
        if name == "Curves":
            if not self.curve_metric.value:
                return _muted("no metrics logged")
            return curves_img(scope, self.curve_metric.value)
        if name == "Scatter":
            if not (self.scatter_param.value and self.scatter_metric.value):
                return _muted("needs a param and a metric")
            return scatter_img(scope, self.scatter_param.value, self.scatter_metric.value)
        if name == "Parallel":
            if not (scope.params and self.parallel_metric.value):
                return _muted("needs params and a metric")
            return parallel_img(scope, self.parallel_metric.value)
        if name == "Best":
            if not self.best_metric.value:
                return _muted("no metrics logged")
            best = scope.best(self.best_metric.value, self.best_direction.value)
            return (
                f"<div>best of {len(scope)} runs by <b>{esc(self.best_metric.value)}</b> "
                f"({esc(self.best_direction.value)}): "
                f'<span class="mlops-good">{esc(best["run_name"])}</span></div>'
                + _runs_table(best.to_frame().T, {})
            )
        if name == "Groups":
            if not (self.group_param.value and self.group_metric.value):
                return _muted("needs a param and a metric")
            return groups_html(scope.groups(self.group_param.value, self.group_metric.value))
        if name == "At step":
            return table(scope.at_step(int(self.step.value)))
        if name == "Diff":
            a, b = self.diff_a.value, self.diff_b.value
            if not a or not b or a == b:
                return _muted("Select two runs to diff.")
            return run_diff_html(scope.diff(a, b))
        raise ValueError(f"unknown tab {name!r}")


def groups_html(groups: Any) -> str:
    """Groups as ``mean ± std`` cells."""
    keys = [c for c in groups.columns if str(c).startswith("params.")]
    metrics = [str(c)[: -len(" mean")] for c in groups.columns if str(c).endswith(" mean")]
    rows = []
    for r in groups.to_dict("records"):
        row = {k: r[k] for k in keys}
        row["runs"] = r["runs"]
        for m in metrics:
            mean, std = r[f"{m} mean"], r[f"{m} std"]
            row[m] = (
                "" if _isna(mean) else (f"{mean:.4g}" + ("" if _isna(std) else f" ± {std:.2g}"))
            )
        rows.append(row)
    return table(rows, columns=[*keys, "runs", *metrics])


def _constant_in(frame: Any) -> list[str]:
    from ..analysis.compare import constant_params

    return constant_params(frame)


def _fixed_rows_table(frame: Any) -> str:
    """The runs table with fixed-height rows, so the checkboxes beside it line up."""
    sel = ".mlops-panel table.mlops-table.mlops-fixed"
    style = (
        f"<style>{sel}{{margin:0 !important;border-collapse:collapse}}"
        f"{sel} tr{{height:{ROW_PX}px !important}}"
        f"{sel} td,{sel} th{{height:{ROW_PX}px !important;padding:0 6px !important;"
        f"line-height:{ROW_PX - 2}px !important;max-width:16em;overflow:hidden;"
        "text-overflow:ellipsis;box-sizing:border-box;vertical-align:middle}</style>"
    )
    inner = _runs_table(frame, {})
    inner = inner.replace('class="mlops-table"', 'class="mlops-table mlops-fixed"', 1)
    return panel("", style + inner).replace("<h3></h3>", "")
