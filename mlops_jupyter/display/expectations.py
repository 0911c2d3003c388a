"""Static HTML of suites, check results, the late line in a cell, tags and resources (#16).

No I/O here: each function renders a result object it is given. Everything from user data
goes through :func:`esc`.
"""

from __future__ import annotations

from typing import Any

from .html import esc, fmt, panel

_SHOWN_EXAMPLES = 3


def suite_html(suite: Any) -> str:
    """The suite as a table with the commands that edit it (``%mlops expect ...``)."""
    name = suite.name
    status = "accepted" if suite.status == "accepted" else "draft"
    cls = "mlops-good" if status == "accepted" else "mlops-muted"
    head = (
        f'<div><span class="{cls}">{esc(status)}</span> · version {suite.version} · '
        f"{len(suite.rules)} rules"
        + (f" · by {esc(suite.created_by)}" if suite.created_by else "")
        + "</div>"
    )
    rows = []
    for r in suite.rules:
        rows.append(
            "<tr>"
            f'<td style="text-align:left"><code>{esc(r.id)}</code></td>'
            f'<td style="text-align:left">{esc(r.text)}</td>'
            f'<td style="text-align:left" class="mlops-muted">{esc(r.observed or "")}</td>'
            f'<td style="text-align:left" class="mlops-muted">{esc(r.source)}</td>'
            "</tr>"
        )
    table = (
        '<table class="mlops-table mlops-suite"><thead><tr><th>id</th><th>rule</th>'
        "<th>observed</th><th>from</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
    hint = (
        '<div class="mlops-muted">Edit: <code>%mlops expect '
        f'{esc(name)} --set "age between 0 and 120"</code> · <code>%mlops expect {esc(name)} '
        "--drop ID</code>"
        + (
            f" · accept: <code>%mlops expect {esc(name)} --accept</code>"
            if status != "accepted"
            else ""
        )
        + f". Every new version of {esc(name)} is checked against it.</div>"
    )
    return panel(f"Data tests: {name}", head + table + hint)


def check_html(result: Any) -> str:
    cls = "mlops-good" if result.passed else "mlops-bad"
    head = f'<div class="{cls}">{esc(result.summary())}</div>'
    rows = []
    for r in result.rules.to_dict("records"):
        mark = "✓" if r["passed"] else "✗"
        klass = "mlops-good" if r["passed"] else "mlops-bad"
        examples = ", ".join(fmt(v) for v in r["examples"][:_SHOWN_EXAMPLES])
        rows.append(
            "<tr>"
            f'<td class="{klass}">{mark}</td>'
            f'<td style="text-align:left">{esc(r["rule"])}</td>'
            f"<td>{_count(r['failed_rows'])}</td>"
            f'<td style="text-align:left">{esc(r["detail"] or "")}</td>'
            f'<td style="text-align:left">{examples}</td>'
            "</tr>"
        )
    table = (
        '<table class="mlops-table mlops-check"><thead><tr><th></th><th>rule</th>'
        "<th>failed rows</th><th>detail</th><th>examples</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    return panel("Data tests", head + table)


def _count(value: Any) -> str:
    try:
        return str(int(value))
    except (TypeError, ValueError):
        return ""


def check_line_html(result: Any, command: str) -> str:
    """The one line a cell shows when its data failed a rule (late, from a thread)."""
    return (
        '<div class="mlops-check-line" style="color:#b00020;font-family:var(--jp-ui-font-family,'
        'sans-serif);font-size:13px">✗ '
        f'{esc(result.summary())} <span style="color:#777">Details: <code>{esc(command)}</code>'
        "</span></div>"
    )


def drafted_line_html(suite: Any) -> str:
    """The line (and collapsed table) a fit cell shows when a suite was drafted for its data."""
    body = suite_html(suite)
    return (
        '<details class="mlops-drafted-line" style="font-family:var(--jp-ui-font-family,'
        'sans-serif);font-size:13px"><summary>'
        f"mlops-jupyter drafted {len(suite.rules)} data tests for <code>{esc(suite.name)}</code> "
        "from its profile; every new version of it is checked. Review: "
        f"<code>%mlops expect {esc(suite.name)}</code></summary>{body}</details>"
    )


def resources_html(report: Any) -> str:
    """A run's resources: totals, peaks, estimated cost, the five costliest cells."""
    t = report.totals
    cost = (
        f" · estimated cost {report.cost:.4g} (at {report.rate:g}/hour)"
        if report.cost is not None
        else ""
    )
    head = (
        f"<div>{t.get('cells', 0)} cells · wall {fmt(t.get('wall_s'))} s · CPU "
        f"{fmt(t.get('cpu_s'))} s (workers {fmt(t.get('cpu_workers_s'))} s) · peak "
        f"{fmt(t.get('peak_rss_mb'))} MB{cost}</div>"
    )
    rows = []
    for c in report.cells.to_dict("records"):
        rows.append(
            "<tr>"
            f"<td>{esc(c.get('cell') or '')}</td>"
            f'<td style="text-align:left"><code>{esc(c.get("code") or "")}</code></td>'
            f"<td>{fmt(c.get('wall_s'))}</td><td>{fmt(c.get('cpu_s'))}</td>"
            f"<td>{fmt(c.get('peak_rss_mb'))}</td><td>{fmt(c.get('retained_mb'))}</td>"
            "</tr>"
        )
    table = (
        '<table class="mlops-table mlops-resources"><thead><tr><th>cell</th><th>code</th>'
        "<th>wall s</th><th>CPU s</th><th>peak MB</th><th>retained MB</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )
    return panel(f"Resources: {report.run_name or report.run_id}", head + table)
