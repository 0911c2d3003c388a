"""Static HTML of comparisons: the runs table, every tab of the panel, the diff of two runs.

What a saved notebook, nbconvert, GitHub, VS Code and the sidebar's *Compare* show, and the
static form bundled with the live panel. The table reads like the panel: the run name pinned on
the left, metrics first (the best value of each highlighted), then the params shown
(:meth:`~mlops_jupyter.analysis.compare.Comparison.shown_params`), then the run's attributes.
Everything from user data goes through ``esc``; no scripts, no external resources.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .html import esc, fmt, panel, table

ROW_PX = 28  # a checkbox widget's height; table rows match it so checkboxes line up
RUN_ATTRS = ("status", "started_at", "experiment", "reproducibility", "run_id")

# Scoped to .mlops-compare so it never restyles another panel on the page.
TABLE_CSS = f"""<style>
.mlops-compare .mlops-scroll{{overflow-x:auto;max-width:100%}}
.mlops-compare table.mlops-runs{{border-collapse:separate;border-spacing:0;margin:0 !important;font-variant-numeric:tabular-nums}}
.mlops-compare-panel,.mlops-compare.widget-hbox,.mlops-compare .widget-html,.mlops-compare .widget-html-content{{min-width:0;max-width:100%}}
.mlops-compare .widget-html{{overflow:hidden}}
.mlops-compare.widget-hbox .widget-checkbox,.mlops-compare.widget-hbox .widget-checkbox label{{display:flex;align-items:center;height:{ROW_PX}px;margin:0}}
.mlops-compare.widget-hbox .widget-checkbox input{{margin:0 0 0 6px}}
.mlops-compare table.mlops-runs th,.mlops-compare table.mlops-runs td{{height:{ROW_PX}px !important;line-height:{ROW_PX - 2}px !important;box-sizing:border-box;padding:0 8px !important;border:0;border-bottom:1px solid #e3e3e3;white-space:nowrap;max-width:14em;overflow:hidden;text-overflow:ellipsis;vertical-align:middle;text-align:right;background:var(--jp-layout-color0,#fff)}}
.mlops-compare table.mlops-runs th{{background:var(--jp-layout-color2,#f4f4f4);font-weight:600;text-align:left}}
.mlops-compare table.mlops-runs th.mlops-group{{font-weight:400;font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#666;border-bottom:2px solid #ccc}}
.mlops-compare table.mlops-runs th.mlops-group.mlops-g-metrics{{border-bottom-color:#4c78a8}}
.mlops-compare table.mlops-runs th.mlops-group.mlops-g-params{{border-bottom-color:#f58518}}
.mlops-compare table.mlops-runs .mlops-name{{position:sticky;left:0;z-index:1;text-align:left;font-weight:600;max-width:16em;border-right:1px solid #ccc}}
.mlops-compare table.mlops-runs td.mlops-best{{background:#e3f4e8;color:#1b7f3b;font-weight:700}}
.mlops-compare table.mlops-runs td.mlops-text{{text-align:left}}
.mlops-compare table.mlops-runs .mlops-attr{{color:#777}}
.mlops-compare details{{margin:6px 0}}
.mlops-compare details>summary{{cursor:pointer;font-weight:600;font-size:13px;padding:2px 0}}
</style>"""


def short(column: str) -> str:
    """``metrics.auc`` -> ``auc``, ``params.clf.C`` -> ``clf.C``; other columns unchanged."""
    for prefix in ("metrics.", "params."):
        if column.startswith(prefix):
            return column[len(prefix) :]
    return column


def _isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell_text(value: Any, column: str = "") -> str:
    """A table cell as escaped text: blanks for missing, 4 significant digits, times to the
    second (UTC, as stored)."""
    if value is None or _isna(value):
        return ""
    if column in ("started_at", "ended_at") and isinstance(value, str):
        return esc(value[:19].replace("T", " "))
    return fmt(value)


def best_rows(cmp: Any, frame: Any) -> dict[str, Any]:
    """metric column -> index label of the best run in ``frame`` (direction from the name, or
    the comparison's own for its metric)."""
    from ..analysis.compare import guess_direction

    out = {}
    for metric in cmp.metrics:
        if metric in frame.columns and frame[metric].notna().any():
            direction = cmp.direction if metric == cmp.metric else guess_direction(metric)
            values = frame[metric].astype(float)
            out[metric] = values.idxmax() if direction == "max" else values.idxmin()
    return out


def table_columns(cmp: Any, frame: Any) -> tuple[list[str], list[str], list[str]]:
    """(metrics, params, run attributes) of ``frame`` in display order."""
    metrics = [c for c in cmp.metrics if c in frame.columns]
    params = [c for c in frame.columns if str(c).startswith("params.")]
    others = [
        c
        for c in frame.columns
        if c not in metrics and c not in params and c not in ("run_name", "run_id")
    ]
    return metrics, params, [*others, "run_id"]


def runs_table(cmp: Any, frame: Any, best: Mapping[str, Any] | None = None) -> str:
    """The runs table: name pinned, a group header (metrics / params / run), the best value of
    each metric highlighted. ``frame`` holds the rows and columns to show."""
    best = best_rows(cmp, frame) if best is None else best
    metrics, params, attrs = table_columns(cmp, frame)
    attrs = [a for a in attrs if a in frame.columns]
    groups = [("metrics", metrics), ("params", params), ("run", attrs)]
    top = '<th class="mlops-name mlops-group"></th>' + "".join(
        f'<th class="mlops-group mlops-g-{name}" colspan="{len(cols)}">{name}</th>'
        for name, cols in groups
        if cols
    )
    columns = [*metrics, *params, *attrs]
    head = '<th class="mlops-name">run</th>' + "".join(
        f'<th title="{esc(c)}"{" class=mlops-attr" if c in attrs else ""}>{esc(short(c))}</th>'
        for c in columns
    )
    body = []
    for index, row in frame.iterrows():
        name = row.get("run_name")
        cells = [f'<td class="mlops-name" title="{esc(row.get("run_id"))}">{esc(name)}</td>']
        for column in columns:
            value = row.get(column)
            classes = []
            if best.get(column) == index:
                classes.append("mlops-best")
            if column in attrs:
                classes.append("mlops-attr")
            if isinstance(value, str) or column in ("status", "reproducibility"):
                classes.append("mlops-text")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            title = f' title="{esc(value)}"' if isinstance(value, str) and len(value) > 14 else ""
            cells.append(f"<td{cls}{title}>{cell_text(value, column)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="mlops-scroll"><table class="mlops-table mlops-runs">'
        f"<thead><tr>{top}</tr><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
        "</table></div>"
    )


def shown_note(cmp: Any) -> str:
    """Which params the table leaves out, in one muted line ('' when none)."""
    shown = set(cmp.shown_params())
    hidden = [p for p in cmp.params if p not in shown]
    if not hidden:
        return ""
    if cmp.only_diff:
        why = "equal across these runs"
    else:
        why = "estimator defaults equal across these runs"
    names = ", ".join(short(h) for h in hidden[:8]) + (" …" if len(hidden) > 8 else "")
    return f'<div class="mlops-muted">{len(hidden)} params hidden ({why}): {esc(names)}</div>'


def comparison_html(
    cmp: Any, *, plots: bool = True, max_rows: int = 200, tabs: Mapping[str, str] | None = None
) -> str:
    """The whole comparison as one escaped, self-contained HTML fragment: the table, then
    every tab of the panel (``tabs``: name -> HTML, e.g. the panel's current tabs; by default
    each tab's default view, with plots when ``plots``)."""
    frame = cmp.table
    title = f"Comparison of {len(frame)} runs" + (
        f" in experiment {cmp.experiment}" if cmp.experiment else ""
    )
    parts: list[str] = [TABLE_CSS]
    if cmp.queries:
        parts.append(
            '<div class="mlops-muted">filter: '
            + esc(" and ".join(f"({q})" for q in cmp.queries))
            + "</div>"
        )
    if not len(frame):
        parts.append('<div class="mlops-muted">No runs to compare.</div>')
        return _compare_panel(title, "".join(parts))
    if cmp.metric:
        parts.append(_headline(cmp))
    parts.append(shown_note(cmp))
    parts.append(runs_table(cmp, frame.head(max_rows)))
    if len(frame) > max_rows:
        parts.append(f'<div class="mlops-muted">{len(frame) - max_rows} more runs not shown</div>')
    if tabs is None:
        from .compare_tabs import default_tabs

        tabs = default_tabs(cmp, plots=plots)
    for i, (name, body) in enumerate(tabs.items()):
        opened = " open" if i < 2 else ""
        parts.append(f"<details{opened}><summary>{esc(name)}</summary>{body}</details>")
    return _compare_panel(title, "".join(parts))


def _headline(cmp: Any) -> str:
    from ..errors import MlopsError

    try:
        best = cmp.best(cmp.metric, cmp.direction)
    except MlopsError:
        return ""
    return (
        f"<div>best by <b>{esc(short(cmp.metric))}</b> ({esc(cmp.direction)}): "
        f'<span class="mlops-good">{esc(best["run_name"])}</span> = '
        f"{cell_text(best[cmp.metric])} "
        f'<span class="mlops-muted">({esc(best["run_id"])})</span></div>'
    )


def _compare_panel(title: str, body: str) -> str:
    return panel(title, f'<div class="mlops-compare">{body}</div>')


def best_html(cmp: Any, metric: str, direction: str) -> str:
    """The best run of ``cmp`` for a metric: its name, value and row."""
    if len(cmp) > 1:  # the params that tell the runs apart, as in the table
        cmp = cmp.only_differences()
    best = cmp.best(metric, direction)
    column = cmp.metric_column(metric)
    row = cmp.table.loc[[best.name]]
    return (
        f"<div>best of {len(cmp)} runs by <b>{esc(short(column))}</b> ({esc(direction)}): "
        f'<span class="mlops-good">{esc(best["run_name"])}</span> = {cell_text(best[column])} '
        f'<span class="mlops-muted">({esc(best["run_id"])})</span></div>'
        + runs_table(cmp, row, best={})
    )


def groups_html(groups: Any) -> str:
    """Groups as ``mean ± std`` cells, with the number of runs in each."""
    keys = [c for c in groups.columns if str(c).startswith("params.")]
    metrics = [str(c)[: -len(" mean")] for c in groups.columns if str(c).endswith(" mean")]
    rows = []
    for r in groups.to_dict("records"):
        row = {short(k): r[k] for k in keys}
        row["runs"] = r["runs"]
        for m in metrics:
            mean, std = r[f"{m} mean"], r[f"{m} std"]
            row[m] = (
                "" if _isna(mean) else (f"{mean:.4g}" + ("" if _isna(std) else f" ± {std:.2g}"))
            )
        rows.append(row)
    return table(rows, columns=[*[short(k) for k in keys], "runs", *metrics])


def at_step_html(frame: Any, step: int) -> str:
    """Each run's metrics at a step (the last point at or before it)."""
    shown = frame.rename(columns={c: short(str(c)) for c in frame.columns})
    return f'<div class="mlops-muted">values at step {step} or the last step before it</div>' + (
        table(shown)
    )


# -- the diff of two runs --------------------------------------------------------------------


def _section(title: str, body: str) -> str:
    return f"<h3>{esc(title)}</h3>{body}"


def _muted(text: str) -> str:
    return f'<div class="mlops-muted">{esc(text)}</div>'


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


def run_diff_html(diff: Any) -> str:
    """The diff of two runs: params, metric deltas linked to their cells, code, data, packages.
    "a" is the baseline, "b" the challenger: a green delta is an improvement."""
    from ..analysis.compare import guess_direction

    prefix = "mlops-x-" + uuid.uuid4().hex[:8] + "-"
    a, b = diff.run_a, diff.run_b
    relation = f" ({esc(diff.relation)})" if getattr(diff, "relation", "") else ""
    parts = [
        f'<div>a = baseline <b>{esc(a["name"])}</b> <span class="mlops-muted">({esc(a["id"])})'
        f'</span>, b = challenger <b>{esc(b["name"])}</b> <span class="mlops-muted">'
        f"({esc(b['id'])})</span>{relation}</div>"
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
            f"<td>{esc(r['metric'])}</td><td>{cell_text(r['a'])}</td><td>{cell_text(r['b'])}</td>"
            f'<td class="{cls}">{_signed(delta)}</td>'
            f"<td>{_exec_link(r['a_execution_id'], r['a_cell'], prefix, anchored)}</td>"
            f"<td>{_exec_link(r['b_execution_id'], r['b_cell'], prefix, anchored)}</td>"
            "</tr>"
        )
    head = "".join(
        f"<th>{esc(h)}</th>"
        for h in ("metric", "a", "b", "delta (b - a)", "logged by (a)", "logged by (b)")
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
