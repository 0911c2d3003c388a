"""Static HTML for drift reports and drift history: escaped, self-contained, small.

Plots are hand-made inline SVG (a few hundred bytes per column), so a 25-column report stays
well under 500 KB whatever the data size. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .html import esc, fmt, panel, table

REF_COLOR = "#4c78a8"
CUR_COLOR = "#f58518"
BAD_COLOR = "#b00020"


def _legend() -> str:
    return (
        f'<span class="mlops-badge" style="background:{REF_COLOR};color:#fff">reference</span>'
        f'<span class="mlops-badge" style="background:{CUR_COLOR};color:#fff">current</span>'
    )


def distribution_svg(plot: dict[str, Any] | None, width: int = 180, height: int = 44) -> str:
    """Side-by-side bars of the reference and current shares (histogram or categories)."""
    if not plot:
        return ""
    ref = [float(v) for v in plot["reference"]]
    cur = [float(v) for v in plot["current"]]
    n = len(ref)
    top = max([*ref, *cur, 1e-12])
    slot = width / max(n, 1)
    bar = max(slot / 2 - 0.5, 0.5)
    if plot["kind"] == "hist":
        e = [float(v) for v in plot["edges"]]
        names = [f"{fmt(e[i], 3)} to {fmt(e[i + 1], 3)}" for i in range(n)]
    else:
        names = [esc(label) for label in plot["labels"]]
    parts = []
    for i, (r, c) in enumerate(zip(ref, cur)):
        x = i * slot
        rects = []
        for j, (value, color) in enumerate(((r, REF_COLOR), (c, CUR_COLOR))):
            h = (height - 2) * max(value, 0) / top
            if h <= 0:
                continue
            rects.append(
                f'<rect x="{x + j * bar:.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"/>'
            )
        if rects:
            parts.append(
                f"<g><title>{names[i]}: reference {r:.1%}, current {c:.1%}</title>"
                f"{''.join(rects)}</g>"
            )
    if plot["kind"] == "hist":
        edges = plot["edges"]
        title = f"{fmt(float(edges[0]))} .. {fmt(float(edges[-1]))}"
    else:
        title = ", ".join(esc(label) for label in plot["labels"][:10])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{title}</title>'
        f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#bbb"/>'
        f"{''.join(parts)}</svg>"
    )


def _verdict(report: Any) -> str:
    if not report.n_tested:
        return '<p class="mlops-muted">No column could be tested.</p>'
    cls, word = (
        ("mlops-bad", "Dataset drift detected")
        if report.drifted
        else (
            "mlops-good",
            "No dataset drift",
        )
    )
    return (
        f'<p><span class="{cls}">{word}</span>: {report.n_drifted} of {report.n_tested} columns '
        f"drifted ({report.share:.0%}; the verdict is drift at {report.drift_share:.0%} or more)."
        f"</p>"
    )


def _column_rows(report: Any, rows: Sequence[dict[str, Any]]) -> str:
    head = [
        "column",
        "type",
        "test",
        "statistic",
        "p-value",
        "threshold",
        "drifted",
        "PSI",
        "distribution",
        "note",
    ]
    body = []
    for row in rows:
        drifted = bool(row["drifted"])
        cells = [
            f'<td style="text-align:left"><b>{esc(row["column"])}</b></td>',
            f'<td style="text-align:left">{esc(row["type"] or "")}</td>',
            f'<td style="text-align:left">{esc(row["test"] or "")}</td>',
            f"<td>{_num(row['statistic'])}</td>",
            f"<td>{_num(row['p_value'])}</td>",
            f"<td>{_num(row['threshold'])}</td>",
            f'<td class="{"mlops-bad" if drifted else "mlops-good"}">'
            f"{'yes' if drifted else 'no'}</td>",
            f"<td>{_num(row['psi'])}</td>",
            f"<td>{distribution_svg(report.plots.get(row['column']))}</td>",
            f'<td style="text-align:left;white-space:normal;max-width:28em">'
            f"{esc(row['note'] or '')}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f"<th>{esc(h)}</th>" for h in head)
    return (
        f'<table class="mlops-table"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _num(value: Any) -> str:
    if value is None:
        return ""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(value):
        return ""
    return fmt(value)


def render_report(report: Any) -> str:
    """The whole report as one static HTML fragment."""
    parts = [
        f"<p>Reference <b>{esc(report.reference)}</b> ({report.n_reference:,} rows) vs current "
        f"<b>{esc(report.current)}</b> ({report.n_current:,} rows)"
        + (f", model <b>{esc(report.model)}</b>" if report.model else "")
        + (f", report <code>{esc(report.id)}</code>" if report.id else "")
        + ".</p>",
        _verdict(report),
        _legend(),
        _column_rows(report, report.columns.to_dict("records")),
    ]
    special = [r for r in (report.target, report.prediction) if r]
    if special:
        parts.append("<h3>Target and prediction</h3>")
        parts.append(_column_rows(report, special))
    if report.performance is not None and len(report.performance):
        parts.append("<h3>Performance (concept drift)</h3>")
        parts.append(table(report.performance))
    if report.notes:
        items = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
        parts.append(f'<h3>Notes</h3><ul class="mlops-muted">{items}</ul>')
    return panel("Drift report", "".join(parts))


# -- history -------------------------------------------------------------------------------


def line_svg(
    values: Sequence[float],
    *,
    width: int = 420,
    height: int = 120,
    threshold: float | None = None,
    flags: Sequence[bool] | None = None,
    y_max: float | None = None,
    percent: bool = False,
    x_labels: tuple[str, str] | None = None,
    y_label: str = "",
    axes: bool = True,
) -> str:
    """A line chart of points in order, with an optional dashed threshold line; with ``axes``
    a y axis (0, middle, top; as percentages with ``percent``), its label and the first and
    last x labels."""
    vals = [float(v) if v is not None and not math.isnan(float(v)) else None for v in values]
    finite = [v for v in vals if v is not None]
    if not finite:
        return ""
    top = y_max if y_max is not None else max([*finite, threshold or 0, 1e-12])
    left = 44 if axes else 4
    bottom = 18 if axes and x_labels else (6 if axes else 4)
    pad = 6
    n = len(vals)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (width - left - pad) * (i / (n - 1) if n > 1 else 0.5)
        y = height - bottom - (height - bottom - pad) * min(v / top, 1.0)
        return x, y

    parts = []
    if axes:
        for frac in (0.0, 0.5, 1.0):
            _, y = xy(0, top * frac)
            label = f"{top * frac:.0%}" if percent else f"{top * frac:.3g}"
            parts.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                f'<text x="{left - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" '
                f'fill="#555">{label}</text>'
            )
        parts.append(
            f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{height - bottom}" stroke="#999"/>'
        )
        if y_label:
            parts.append(
                f'<text x="10" y="{(height - bottom) / 2:.1f}" font-size="10" fill="#555" '
                f'text-anchor="middle" transform="rotate(-90 10 {(height - bottom) / 2:.1f})">'
                f"{esc(y_label)}</text>"
            )
        if x_labels:
            parts.append(
                f'<text x="{left}" y="{height - 4}" font-size="10" fill="#555">'
                f"{esc(x_labels[0])}</text>"
                f'<text x="{width - pad}" y="{height - 4}" font-size="10" fill="#555" '
                f'text-anchor="end">{esc(x_labels[1])}</text>'
            )
    points = [xy(i, v) for i, v in enumerate(vals) if v is not None]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    parts.append(f'<polyline fill="none" stroke="{REF_COLOR}" stroke-width="1.5" points="{path}"/>')
    for i, v in enumerate(vals):
        if v is None:
            continue
        x, y = xy(i, v)
        color = BAD_COLOR if flags is not None and flags[i] else REF_COLOR
        shown = f"{v:.1%}" if percent else f"{v:.3g}"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{shown}</title>'
            "</circle>"
        )
    if threshold is not None:
        _, y = xy(0, threshold)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="{BAD_COLOR}" '
            'stroke-dasharray="4 3"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
        f'<rect width="{width}" height="{height}" fill="#fafafa"/>{"".join(parts)}</svg>'
    )


def _when(value: Any) -> str:
    try:
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    except AttributeError:
        return str(value)[:19]


def render_history(history: Any) -> str:
    reports = history.reports
    scope = f" of model {history.model}" if history.model else ""
    if reports.empty:
        return panel(
            f"Drift history{scope}",
            '<p class="mlops-muted">No drift report saved yet. Run `%mlops drift REFERENCE '
            "CURRENT` (or mj.drift) with a model name to start monitoring.</p>",
        )
    threshold = float(reports["drift_share"].iloc[-1])
    first, last = (_when(reports["created_at"].iloc[i]) for i in (0, -1))
    parts = [
        f"<p>{len(reports)} reports from {esc(first)} to {esc(last)}; "
        f"{int(reports['drifted'].sum())} found dataset drift.</p>",
        f"<h3>Share of drifted columns (0 to 100%; dashed: the verdict's threshold, "
        f"{threshold:.0%})</h3>",
        line_svg(
            reports["share"].tolist(),
            width=560,
            height=160,
            threshold=threshold,
            flags=reports["drifted"].tolist(),
            y_max=1.0,
            percent=True,
            x_labels=(first[:16], last[:16]),
            y_label="drifted columns",
        ),
    ]
    cols = history.columns
    if not cols.empty:
        parts.append("<h3>Per column: PSI over time (red: drifted)</h3>")
        order = {rid: i for i, rid in enumerate(reports["id"])}
        cells = []
        for name, group in cols.groupby("column", sort=False):
            group = group.assign(_i=group["report_id"].map(order)).sort_values("_i")
            last = group.iloc[-1]
            cells.append(
                '<div style="display:inline-block;margin:4px 10px 4px 0;vertical-align:top">'
                f'<div><b>{esc(name)}</b> <span class="mlops-muted">{esc(last["test"] or "")}'
                f", last PSI {_num(last['psi'])}</span></div>"
                + line_svg(
                    group["psi"].tolist(),
                    width=200,
                    height=64,
                    threshold=0.1,
                    flags=group["drifted"].tolist(),
                    y_label="PSI",
                )
                + "</div>"
            )
        parts.append("".join(cells))
    shown = reports.drop(columns=["drift_share"]).iloc[::-1]
    shown = shown.assign(created_at=[_when(t) for t in shown["created_at"]])
    parts.append("<h3>Reports</h3>")
    parts.append(table(shown, max_rows=100))
    return panel(f"Drift history{scope}", "".join(parts))
