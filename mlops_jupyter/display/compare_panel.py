"""The live comparison panel: ipywidgets over a
:class:`~mlops_jupyter.analysis.compare.Comparison`.

The runs table opens readable: the run name pinned, metrics first with the best value of each
highlighted, the params the user set or that differ ("only differences" on when more than one
run is shown, "all params" shows the estimators' defaults too), a checkbox beside each row, 25
rows a page (10,000 runs stay fluid). The tabs (:mod:`.compare_tabs`) work on the ticked runs,
else on every run the filter keeps. The output carries the static form too (:mod:`.bundle`).
Callbacks never raise into the cell: a failure is one line in the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .bundle import error_line, mimebundle
from .compare_html import ROW_PX, TABLE_CSS, comparison_html, runs_table, short, shown_note
from .compare_tabs import TABS, Choices, default_choices, safe_render
from .html import esc, panel

PAGE_SIZE = 25


MAX_DIFF_CHOICES = 1000  # runs offered in the diff tab's dropdowns (plus any ticked)


class ComparePanel:
    """The interactive comparison. ``display(panel)`` shows the widget and, for viewers
    without a kernel, its static HTML.

    Driven from Python too (tests do): ``filter_text.value = "..."``, ``checks[run_id].value``,
    ``only_diff.value``, ``all_params.value``, ``tabs.selected_index = k``, ``next_page``;
    read ``table_html.value``, ``outputs[name].value`` and ``message.value``.
    """

    TABS = TABS

    def __init__(
        self,
        comparison: Any,
        *,
        page_size: int = PAGE_SIZE,
        query: str = "",
        only_differences: bool | None = None,
        selected: list[str] | None = None,
    ) -> None:
        import ipywidgets as w

        self.base = comparison
        self.view = comparison
        self._quiet = False
        self.page = 0
        self.page_size = page_size
        self.selected: list[str] = list(selected or [])
        self.choices: Choices = default_choices(comparison)
        columns = [str(c) for c in comparison.runs.columns]
        metrics = [m.removeprefix("metrics.") for m in comparison.metrics]
        params = [p.removeprefix("params.") for p in comparison.params]
        c = self.choices

        self.filter_text = w.Text(
            value=query,
            placeholder='filter, e.g. metrics.auc > 0.8 and params.model == "rf"',
            continuous_update=False,
            layout=w.Layout(width="380px"),
        )
        self.sort_by = w.Dropdown(
            options=[(short(col), col) for col in columns],
            value=comparison.metric or "started_at",
            description="sort",
            layout=w.Layout(width="230px"),
        )
        self.sort_order = w.ToggleButtons(
            options=["desc", "asc"],
            value="asc" if comparison.metric and comparison.direction == "min" else "desc",
            style={"button_width": "58px"},
            layout=w.Layout(flex="0 0 auto", width="auto"),
        )
        on = len(comparison) > 1 if only_differences is None else only_differences
        self.only_diff = w.Checkbox(
            value=on or comparison.only_diff, description="only differences", indent=False
        )
        self.only_diff.layout.width = "auto"
        self.all_params = w.Checkbox(
            value=comparison.show_all_params, description="all params", indent=False
        )
        self.all_params.layout.width = "auto"
        self.message = w.HTML()
        self.note = w.HTML()
        self.table_html = w.HTML(layout=w.Layout(flex="1 1 auto", min_width="0", margin="0"))
        self.checks: dict[str, Any] = {}
        self.checks_box = w.VBox(
            layout=w.Layout(margin="0", padding="0", flex="0 0 auto", width="26px")
        )
        self.prev_button = w.Button(description="◀", layout=w.Layout(width="36px"))
        self.next_button = w.Button(description="▶", layout=w.Layout(width="36px"))
        self.page_label = w.HTML()
        self.scope_label = w.HTML()
        self.prev_button.on_click(self._guard(lambda: self._turn(-1)))
        self.next_button.on_click(self._guard(lambda: self._turn(1)))

        def dropdown(options: list[str], value: Any, label: str) -> Any:
            return w.Dropdown(
                options=options,
                value=value if value in options else (options[0] if options else None),
                description=label,
                layout=w.Layout(width="280px"),
            )

        self.best_metric = dropdown(metrics, c.best_metric, "metric")
        self.best_direction = w.ToggleButtons(
            options=["max", "min"],
            value=c.best_direction,
            style={"button_width": "58px"},
            layout=w.Layout(flex="0 0 auto", width="auto"),
        )
        self.curve_metric = dropdown(metrics, c.curve_metric, "metric")
        self.scatter_param = dropdown(params, c.scatter_param, "param")
        self.scatter_metric = dropdown(metrics, c.scatter_metric, "metric")
        self.parallel_metric = dropdown(metrics, c.parallel_metric, "metric")
        self.group_param = dropdown(params, c.group_param, "by")
        self.group_metric = dropdown(metrics, c.group_metric, "metric")
        self.step = w.IntText(value=c.step, description="step", layout=w.Layout(width="160px"))
        self.diff_a = dropdown([], None, "a (baseline)")
        self.diff_b = dropdown([], None, "b (challenger)")
        self.diff_a.style.description_width = "90px"
        self.diff_b.style.description_width = "100px"
        self.diff_a.layout.width = self.diff_b.layout.width = "340px"
        self.outputs = {name: w.HTML() for name in TABS}
        for output in self.outputs.values():
            output.add_class("mlops-compare")  # the table styles apply inside the tabs too
        self.controls = {
            "Best": {"best_metric": self.best_metric, "best_direction": self.best_direction},
            "Curves": {"curve_metric": self.curve_metric},
            "Scatter": {"scatter_param": self.scatter_param, "scatter_metric": self.scatter_metric},
            "Parallel": {"parallel_metric": self.parallel_metric},
            "Groups": {"group_param": self.group_param, "group_metric": self.group_metric},
            "At step": {"step": self.step},
            "Diff": {"diff_a": self.diff_a, "diff_b": self.diff_b},
        }
        self.tabs = w.Tab(
            children=[
                w.VBox([w.HBox(list(self.controls[n].values())), self.outputs[n]]) for n in TABS
            ]
        )
        for i, name in enumerate(TABS):
            self.tabs.set_title(i, name)

        self.filter_text.observe(self._guard(self._refresh), "value")
        self.sort_by.observe(self._guard(self._refresh), "value")
        self.sort_order.observe(self._guard(self._refresh), "value")
        self.only_diff.observe(self._guard(self._render_table), "value")
        self.all_params.observe(self._guard(self._render_table), "value")
        self.tabs.observe(self._guard(self._render_tab), "selected_index")
        for controls in self.controls.values():
            for control in controls.values():
                control.observe(self._guard(self._render_tab), "value")

        style = w.HTML(TABLE_CSS)
        style.layout.display = "none"
        table_row = w.HBox([self.checks_box, self.table_html])
        table_row.add_class("mlops-compare")
        self.widget = w.VBox(
            [
                style,
                w.HTML(self._title()),
                w.HBox(
                    [
                        self.filter_text,
                        self.sort_by,
                        self.sort_order,
                        self.only_diff,
                        self.all_params,
                    ],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.message,
                self.note,
                table_row,
                w.HBox(
                    [self.prev_button, self.page_label, self.next_button, self.scope_label],
                    layout=w.Layout(align_items="center"),
                ),
                self.tabs,
            ],
            layout=w.Layout(max_width="100%"),
        )
        self.widget.add_class("mlops-compare-panel")
        self._refresh()

    # -- display ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, its static HTML (the table and every tab as they are now) and the
        marker the JupyterLab extension uses to show the static form without a kernel."""
        return mimebundle(self.widget, self.static_html, **kwargs)

    def static_html(self) -> str:
        """The panel as it is now, as static HTML: the table, then every tab."""
        scope = self.scope()
        tabs = {name: safe_render(name, scope, self._choices()) for name in TABS}
        return comparison_html(self._shown(scope), tabs=tabs)

    def _title(self) -> str:
        scope = f"experiment {self.base.experiment}" if self.base.experiment else "named runs"
        return (
            f'<b>Compare runs</b> <span style="color:#777">{esc(scope)}, '
            f"{len(self.base)} runs</span>"
        )

    # -- state -----------------------------------------------------------------------------

    def scope(self) -> Any:
        """The runs the tabs work on: the ticked ones, else every run the filter keeps."""
        visible = set(self.view.run_ids)
        chosen = [r for r in self.selected if r in visible]
        return self.view.select(chosen) if chosen else self.view

    def _shown(self, scope: Any) -> Any:
        """The filtered runs, with the params shown decided over ``scope``."""
        cmp = self.view.only_differences(self.only_diff.value).all_params(self.all_params.value)
        decide = scope.only_differences(self.only_diff.value).all_params(self.all_params.value)
        keep = set(decide.shown_params())
        hidden = [p for p in cmp.params if p not in keep]
        return replace(cmp, runs=cmp.runs.drop(columns=hidden)) if hidden else cmp

    def select(self, run_ids: list[str]) -> None:
        """Tick exactly these runs (ids as in the table), then redraw once."""
        self.selected = list(run_ids)
        self._tick_boxes()
        self._guard(self._selection_changed)()

    def _tick_boxes(self) -> None:
        """The page's boxes ticked as ``selected`` says, without their handlers."""
        self._quiet = True
        try:
            for run_id, box in self.checks.items():
                box.value = run_id in self.selected
        finally:
            self._quiet = False

    def _guard(self, func: Callable[[], None]) -> Callable[..., None]:
        def callback(*_: Any) -> None:
            if self._quiet:
                return
            try:
                func()
            except Exception as exc:  # never raise into the user's cell
                self.message.value = error_line(exc)

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
        self.page = 0
        self._render_table()

    def _turn(self, delta: int) -> None:
        pages = max(1, -(-len(self.view) // self.page_size))
        self.page = min(max(self.page + delta, 0), pages - 1)
        self._render_table(tabs=False)

    @property
    def next_page(self) -> Callable[[], None]:
        return lambda: self._turn(1)

    def _render_table(self, tabs: bool = True) -> None:
        import ipywidgets as w

        scope = self.scope()
        shown = self._shown(scope)
        start = self.page * self.page_size
        rows = shown.table.iloc[start : start + self.page_size]
        self.note.value = shown_note(
            scope.only_differences(self.only_diff.value).all_params(self.all_params.value)
        )
        page_ids = list(rows["run_id"].astype(str))
        if page_ids == list(self.checks):
            # The same runs on the page (a tick redraws the table): the same boxes, so a tick
            # the browser sends meanwhile reaches a box that still exists, not a closed one.
            self._tick_boxes()
        else:
            for box in self.checks.values():
                box.close()
            self.checks = {}
            boxes = [w.HTML(layout=w.Layout(height=f"{2 * ROW_PX}px", margin="0"))]
            for run_id in page_ids:
                box = w.Checkbox(
                    value=run_id in self.selected,
                    indent=False,
                    layout=w.Layout(height=f"{ROW_PX}px", width="24px", margin="0"),
                )
                box.observe(self._guard(self._on_check(run_id)), "value")
                self.checks[run_id] = box
                boxes.append(box)
            self.checks_box.children = boxes
        if not len(self.view):
            self.table_html.value = '<div class="mlops-muted">No runs match.</div>'
        else:
            # the best values of the whole filtered table, not of this page
            best = {m: i for m, i in _best_of(shown).items() if start <= i < start + self.page_size}
            self.table_html.value = panel("", runs_table(shown, rows, best)).replace(
                "<h3></h3>", ""
            )
        n = len(self.view)
        end = min(start + self.page_size, n)
        self.page_label.value = (
            f'<span style="padding:0 8px">runs {start + 1 if n else 0}–{end} of {n:,}</span>'
        )
        self.prev_button.disabled = start == 0
        self.next_button.disabled = end >= n
        self._update_scope_label()
        self._update_diff_choices()
        if tabs:
            self._render_tab()

    def _update_scope_label(self) -> None:
        ticked = len(self.scope()) if self.selected and len(self.scope()) < len(self.view) else 0
        text = (
            f"tabs show the {ticked} ticked runs"
            if ticked
            else f"tabs show all {len(self.view):,} runs the filter keeps (tick runs to narrow)"
        )
        self.scope_label.value = f'<span class="mlops-muted" style="color:#777">{esc(text)}</span>'

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
            self._update_scope_label()
            self._update_diff_choices()
            self._render_tab()

    def _update_diff_choices(self) -> None:
        scope = self.scope()
        a, b = self.diff_a.value, self.diff_b.value
        # The table's first runs, and the ones ticked or chosen: 50,000 runs would otherwise
        # ship 100,000 labels to the browser for two dropdowns.
        keep = set(self.selected) | {a, b}
        options = [
            (f"{n} ({r})", r)
            for i, (r, n) in enumerate(zip(scope.run_ids, scope.runs["run_name"]))
            if i < MAX_DIFF_CHOICES or r in keep
        ]
        values = [r for _, r in options]
        chosen = [r for r in self.selected if r in values]
        if len(chosen) >= 2:  # the two latest ticks, baseline first
            a, b = scope.ordered_pair(chosen[-2], chosen[-1])
        elif a not in values or b not in values or a == b:
            pair = scope.default_pair()
            a, b = pair if pair else (values[0] if values else None, None)
        self._quiet = True
        try:
            self.diff_a.options = options
            self.diff_b.options = options
            self.diff_a.value = a if a in values else None
            self.diff_b.value = b if b in values else None
        finally:
            self._quiet = False

    def _choices(self) -> Choices:
        values = {
            key: control.value for group in self.controls.values() for key, control in group.items()
        }
        return self.choices.update(**values)

    def _render_tab(self) -> None:
        index = self.tabs.selected_index
        if index is None:
            return
        name = TABS[index]
        self.outputs[name].value = self.render(name)

    def render(self, name: str) -> str:
        """The HTML of one tab for the current selection (what the tab shows)."""
        from .compare_tabs import render_tab

        return render_tab(name, self.scope(), self._choices())


def _best_of(cmp: Any) -> dict[str, int]:
    from .compare_html import best_rows

    return {m: int(i) for m, i in best_rows(cmp, cmp.table).items()}
