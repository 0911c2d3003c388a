"""Static HTML for a :class:`~mlops_jupyter.analysis.datadiff.DatasetDiff`.

Escaped, no iframe, no external resources: distributions are small inline SVGs drawn here,
so rendering a diff never imports matplotlib. No I/O.
"""

from __future__ import annotations

import math
from typing import Any

from .html import esc, fmt, panel, table

SAMPLE = 10
_A_COLOR = "#4c72b0"
_B_COLOR = "#dd8452"

_CSS = """<style>
.mlops-diff .mlops-arrow{color:#777;padding:0 3px}
.mlops-diff td.mlops-changed{background:#fff3c4}
.mlops-diff .mlops-added{color:#1b7f3b}
.mlops-diff .mlops-removed{color:#b00020}
.mlops-diff .mlops-plots{display:flex;flex-wrap:wrap;gap:12px}
.mlops-diff .mlops-plot{font-size:12px}
</style>"""


def render_diff(d: Any) -> str:
    """The whole report: counts, schema, changed cells, rows, values, distributions."""
    s = d.summary
    parts = [_CSS, '<div class="mlops-diff">', _headline(d)]
    if len(d.schema):
        parts.append("<h3>Schema</h3>" + table(d.schema))
    if d.key:
        changed_cols = d.column_changes[d.column_changes > 0].sort_values(ascending=False)
        if len(changed_cols):
            rows = [
                {"column": c, "changed cells": int(n), "share of matched rows": _pct(n, s)}
                for c, n in changed_cols.items()
            ]
            parts.append("<h3>Changed cells per column</h3>" + table(rows))
        if len(d.sample_before):
            parts.append(
                f"<h3>Changed rows (first {len(d.sample_before)} of {s['changed']})</h3>"
                + _changed_rows(d)
            )
        if len(d.duplicates):
            parts.append(
                f'<h3 class="mlops-bad">Duplicate keys ({len(d.duplicates)})</h3>'
                '<div class="mlops-muted">Rows with these keys are left out of the row '
                "matching: make the key unique to compare them.</div>" + table(d.duplicates)
            )
    for title, frame, cls in (
        ("Rows only in " + d.b_label + " (added)", d.added, "mlops-added"),
        ("Rows only in " + d.a_label + " (removed)", d.removed, "mlops-removed"),
    ):
        if len(frame):
            parts.append(
                f'<h3 class="{cls}">{esc(title)}: {len(frame)}</h3>'
                + table(frame.head(SAMPLE).reset_index(drop=True))
            )
    if len(d.values) and d.values["changed"].any():
        parts.append("<h3>Column summaries that changed</h3>" + _values_table(d.values))
    if d.distributions:
        plots = "".join(_plot(name, dist, d) for name, dist in d.distributions.items())
        parts.append(
            "<h3>Distributions</h3>"
            f'<div class="mlops-muted"><span style="color:{_A_COLOR}">■</span> {esc(d.a_label)} '
            f'<span style="color:{_B_COLOR}">■</span> {esc(d.b_label)}</div>'
            f'<div class="mlops-plots">{plots}</div>'
        )
    parts.append("</div>")
    return panel(f"Dataset diff: {d.a_label} → {d.b_label}", "".join(parts))


def _headline(d: Any) -> str:
    s = d.summary
    badges = [
        f"rows {s['rows_a']} → {s['rows_b']}",
        f"+{s['added']} added",
        f"−{s['removed']} removed",
    ]
    if s.get("changed") is not None:
        badges.append(f"~{s['changed']} changed")
    badges.append(f"={s['unchanged']} unchanged")
    if s.get("duplicate_keys"):
        badges.append(f"{s['duplicate_keys']} duplicate keys")
    for k, one, many in (
        ("columns_added", "column added", "columns added"),
        ("columns_removed", "column removed", "columns removed"),
        ("columns_renamed", "column renamed", "columns renamed"),
        ("dtype_changed", "dtype change", "dtype changes"),
    ):
        if s.get(k):
            badges.append(f"{s[k]} {one if s[k] == 1 else many}")
    how = (
        f"keyed on {', '.join(map(str, d.key))}"
        if d.key
        else "no key: rows compared by whole-row content"
    )
    if d.atol or d.rtol:
        how += f"; floats equal within atol={d.atol:g}, rtol={d.rtol:g}"
    verdict = "identical" if d.identical else ""
    return (
        "<div>"
        + "".join(f'<span class="mlops-badge">{esc(b)}</span>' for b in badges)
        + (f' <span class="mlops-good">{verdict}</span>' if verdict else "")
        + f'</div><div class="mlops-muted">{esc(how)}</div>'
    )


def _pct(n: int, s: dict[str, Any]) -> str:
    matched = (s.get("changed") or 0) + (s.get("unchanged") or 0)
    return f"{n / matched:.2%}" if matched else ""


def _arrow(before: Any, after: Any) -> str:
    return f'{_cell(before)}<span class="mlops-arrow">→</span>{_cell(after)}'


def _cell(value: Any) -> str:
    """A value for display; a missing one (no such column, NaN) as a muted dash."""
    value = _py(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<span class="mlops-muted">–</span>'
    return fmt(value)


def _values_table(values: Any) -> str:
    """One row per column whose summary moved; moved stats as before → after, highlighted."""
    stats = list(dict.fromkeys(values["stat"]))
    head = "".join(f"<th>{esc(c)}</th>" for c in ["column", *stats])
    body = []
    for column, group in values.groupby("column", sort=False):
        if not group["changed"].any():
            continue
        by_stat = {r["stat"]: r for r in group.to_dict("records")}
        cells = [f"<th>{esc(column)}</th>"]
        for stat in stats:
            r = by_stat.get(stat)
            if r is None:
                cells.append("<td></td>")
            elif r["changed"]:
                cells.append(f'<td class="mlops-changed">{_arrow(r["before"], r["after"])}</td>')
            else:
                cells.append(f"<td>{fmt(r['before'])}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="mlops-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _changed_rows(d: Any) -> str:
    """Sample of changed rows: every column, changed cells as before → after, highlighted."""
    before, after, mask = d.sample_before, d.sample_after, d.sample_mask
    columns = [*d.key, *[c for c in before.columns if c not in d.key]]
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i in range(len(before)):
        cells = []
        for c in columns:
            if c in mask.columns and bool(mask[c].iloc[i]):
                cells.append(
                    f'<td class="mlops-changed">{_arrow(before[c].iloc[i], after[c].iloc[i])}</td>'
                )
            else:
                cells.append(f"<td>{fmt(_py(before[c].iloc[i]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="mlops-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _py(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


# -- small inline SVG charts -------------------------------------------------------------------

_W, _H, _PAD = 240, 110, 18


def _plot(name: str, dist: dict[str, Any], d: Any) -> str:
    svg = _histograms(dist) if dist["kind"] == "numeric" else _bars(dist)
    n = int(d.column_changes.get(name, 0)) if d.key else None
    note = f" ({n} changed cell{'' if n == 1 else 's'})" if n else ""
    return f'<div class="mlops-plot"><div><b>{esc(name)}</b>{esc(note)}</div>{svg}</div>'


def _histograms(dist: dict[str, Any]) -> str:
    edges = dist["edges"]
    a = _density(dist["a"])
    b = _density(dist["b"])
    top = max([*a, *b, 1e-12])
    n = len(a)
    x = lambda i: _PAD + (_W - 2 * _PAD) * i / n  # noqa: E731
    y = lambda v: _H - _PAD - (_H - 2 * _PAD) * v / top  # noqa: E731

    def steps(values: list[float]) -> str:
        pts = [f"{x(0):.1f},{y(0):.1f}"]
        for i, v in enumerate(values):
            pts += [f"{x(i):.1f},{y(v):.1f}", f"{x(i + 1):.1f},{y(v):.1f}"]
        pts.append(f"{x(n):.1f},{y(0):.1f}")
        return " ".join(pts)

    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img">'
        f'<polygon points="{steps(a)}" fill="{_A_COLOR}" fill-opacity="0.35" stroke="{_A_COLOR}"/>'
        f'<polygon points="{steps(b)}" fill="{_B_COLOR}" fill-opacity="0.35" stroke="{_B_COLOR}"/>'
        f'<text x="{_PAD}" y="{_H - 4}" font-size="10">{fmt(edges[0], 3)}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 4}" font-size="10" text-anchor="end">'
        f"{fmt(edges[-1], 3)}</text></svg>"
    )


def _bars(dist: dict[str, Any]) -> str:
    labels = dist["labels"]
    a, b = _density(dist["a"]), _density(dist["b"])
    top = max([*a, *b, 1e-12])
    n = max(len(labels), 1)
    slot = (_W - 2 * _PAD) / n
    bars = []
    for i, label in enumerate(labels):
        for j, (vals, color) in enumerate(((a, _A_COLOR), (b, _B_COLOR))):
            h = (_H - 2 * _PAD) * vals[i] / top
            bx = _PAD + i * slot + j * slot * 0.45
            bars.append(
                f'<rect x="{bx:.1f}" y="{_H - _PAD - h:.1f}" width="{slot * 0.42:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{esc(label)}</title></rect>'
            )
        short = str(label) if len(str(label)) <= 6 else str(label)[:5] + "…"
        bars.append(
            f'<text x="{_PAD + (i + 0.45) * slot:.1f}" y="{_H - 4}" font-size="9" '
            f'text-anchor="middle">{esc(short)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img">'
        + "".join(bars)
        + "</svg>"
    )


def _density(counts: list[int]) -> list[float]:
    total = sum(counts)
    if not total:
        return [0.0 for _ in counts]
    return [c / total if math.isfinite(c) else 0.0 for c in counts]
