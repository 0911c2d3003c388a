"""The monitoring panel: one pass (triggers, estimate, actions) and a model's batches over time
(drift share, measured metric and its estimate, data tests, retrains and promotions marked).

Static HTML and inline SVG only (no I/O, nothing computed here beyond layout): the same panel
shows in a saved notebook, nbconvert, GitHub and the JupyterLab sidebar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .drift import line_svg
from .html import esc, fmt, panel, table

MEASURED, ESTIMATED, RETRAIN, PROMOTE, BAD = "#1f5fbf", "#7a7a7a", "#d97a00", "#1b7f3b", "#b00020"


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def series_svg(
    measured: Sequence[Any],
    estimated: Sequence[Any],
    trusted: Sequence[bool],
    *,
    reference: float | None,
    retrains: Sequence[int],
    promotions: Sequence[int],
    labels: Sequence[str],
    width: int = 560,
    height: int = 170,
) -> str:
    """The watched metric per batch: measured (solid, blue), estimated (dashed grey; hollow
    where not trusted), the registered value (dotted), retrains (orange) and promotions (green)
    as vertical lines at their batch."""
    vals = [_num(v) for v in [*measured, *estimated, reference] if _num(v) is not None]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    lo, hi = (lo - 0.05, hi + 0.05) if hi - lo < 0.1 else (lo - 0.02 * (hi - lo), hi)
    left, right, top, bottom = 44, 8, 8, 20
    n = max(len(measured), 1)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / ((hi - lo) or 1.0))

    parts = [f'<rect width="{width}" height="{height}" fill="#fafafa"/>']
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        parts.append(
            f'<line x1="{left}" y1="{y(v):.1f}" x2="{width - right}" y2="{y(v):.1f}" '
            f'stroke="#e5e5e5"/><text x="{left - 4}" y="{y(v) + 3.5:.1f}" font-size="10" '
            f'text-anchor="end" fill="#555">{v:.3g}</text>'
        )
    for marks, color, what, dx in (
        (retrains, RETRAIN, "retrained", -2.0),
        (promotions, PROMOTE, "promoted", 2.0),  # side by side when both happen at one batch
    ):
        for i in marks:
            at = x(i) + dx
            parts.append(
                f'<line x1="{at:.1f}" y1="{top}" x2="{at:.1f}" y2="{height - bottom}" '
                f'stroke="{color}" stroke-width="2"><title>{esc(what)} at batch '
                f"{esc(labels[i] if i < len(labels) else i)}</title></line>"
            )
    if reference is not None:
        parts.append(
            f'<line x1="{left}" y1="{y(reference):.1f}" x2="{width - right}" '
            f'y2="{y(reference):.1f}" stroke="#444" stroke-dasharray="1 3"/>'
        )
    for series, color, dash in ((measured, MEASURED, ""), (estimated, ESTIMATED, "4 3")):
        points = [(x(i), y(v)) for i, v in enumerate(map(_num, series)) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
            style = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{style} '
                f'points="{path}"/>'
            )
        for i, v in enumerate(map(_num, series)):
            if v is None:
                continue
            hollow = series is estimated and not (trusted[i] if i < len(trusted) else True)
            fill = "#fff" if hollow else color
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{fill}" stroke="{color}">'
                f"<title>{esc(labels[i] if i < len(labels) else i)}: {v:.4g}</title></circle>"
            )
    if labels:
        parts.append(
            f'<text x="{left}" y="{height - 5}" font-size="10" fill="#555">{esc(labels[0])}</text>'
            f'<text x="{width - right}" y="{height - 5}" font-size="10" fill="#555" '
            f'text-anchor="end">{esc(labels[-1])}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(parts)}</svg>'
    )


def _legend() -> str:
    items = [
        (MEASURED, "measured on labels"),
        (ESTIMATED, "estimated (hollow: not trusted)"),
        (RETRAIN, "retrained"),
        (PROMOTE, "promoted"),
    ]
    return (
        '<div class="mlops-muted">'
        + " ".join(f'<span style="color:{c}">&#9632;</span> {esc(t)}' for c, t in items)
        + "</div>"
    )


def _tests_strip(values: Sequence[Any]) -> str:
    cells = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            cells.append('<span class="mlops-muted" title="no suite">&#183;</span>')
        elif bool(v):
            cells.append('<span class="mlops-good" title="data tests passed">&#10003;</span>')
        else:
            cells.append('<span class="mlops-bad" title="data tests failed">&#10007;</span>')
    return '<div style="letter-spacing:4px">' + "".join(cells) + "</div>"


def history_html(history: Any) -> str:
    title = f"Monitoring of {history.model}"
    batches = history.batches
    if batches.empty:
        return panel(
            title,
            '<p class="mlops-muted">No batch monitored yet. Run <code>mlops-jupyter monitor '
            f"--model {esc(history.model)} --batch FILE</code> (or mj.monitor) on new data.</p>",
        )
    labels = [f"#{i} {str(b)[:20]}" for i, b in zip(batches["id"], batches["batch"])]
    retrains = [i for i, v in enumerate(batches["retrained_version"]) if _num(v) is not None]
    promoted = [i for i, s in enumerate(batches["status"]) if s == "promoted"]
    metric = history.metric or "metric"
    reference = next(
        (_num(v) for v in batches["reference"].iloc[::-1] if _num(v) is not None), None
    )
    threshold = _num(batches["drift_threshold"].iloc[-1]) or 0.5
    parts = [
        f"<p>{len(batches)} batches from {esc(str(batches['created_at'].iloc[0])[:19])} to "
        f"{esc(str(batches['created_at'].iloc[-1])[:19])}: "
        f"{int((batches['status'] == 'healthy').sum())} healthy, {len(retrains)} retrained, "
        f"{len(promoted)} promoted; {int((history.proposals['status'] == 'open').sum())} "
        "open proposals.</p>",
        f"<h3>Share of drifted columns (dashed: the trigger, {threshold:.0%})</h3>",
        line_svg(
            [_num(v) for v in batches["drift_share"]],
            width=560,
            height=130,
            threshold=threshold,
            flags=[bool(v) if v is not None else False for v in batches["drifted"]],
            y_max=1.0,
            percent=True,
            x_labels=(labels[0], labels[-1]),
            y_label="drifted",
        ),
        f"<h3>{esc(metric)} per batch (dotted: the holder's registered value)</h3>",
        series_svg(
            list(batches["measured"]),
            list(batches["estimate"]),
            [t != "untrusted" for t in batches["estimate_trust"]],
            reference=reference,
            retrains=retrains,
            promotions=promoted,
            labels=labels,
        ),
        _legend(),
        "<h3>Data tests per batch</h3>",
        _tests_strip(list(batches["data_tests_passed"])),
        "<h3>Batches</h3>",
    ]
    shown = batches.drop(columns=["fingerprint", "drift_threshold"]).iloc[::-1]
    shown = shown.assign(created_at=[str(t)[:19] for t in shown["created_at"]])

    def mark(row: dict[str, Any], col: str) -> str | None:
        if col == "status" and row.get("status") != "healthy":
            return "mlops-bad" if row.get("status") == "action_needed" else "mlops-changed"
        return None

    parts.append(table(shown, cell_class=mark, max_rows=200))
    if len(history.proposals):
        parts.append("<h3>Promotion proposals</h3>")
        cols = ["id", "created_at", "alias", "version", "from_version", "status", "decided_by"]
        props = history.proposals.assign(
            created_at=[str(t)[:19] for t in history.proposals["created_at"]]
        )
        parts.append(table(props, columns=[*cols, "reason"]))
    return panel(title, "".join(parts))


def result_html(result: Any) -> str:
    cls = "mlops-good" if result.healthy else "mlops-bad"
    parts = [f'<div class="{cls}">{esc(result.summary())}</div>']

    def fired(row: dict[str, Any], col: str) -> str | None:
        return "mlops-bad" if row.get("fired") and col in ("trigger", "fired") else None

    parts.append(table(result.table, cell_class=fired))
    est = result.estimate
    if est.value is not None:
        parts.append(
            f'<div class="mlops-muted">estimated accuracy {fmt(est.value)} ({esc(est.trust)}): '
            f"{esc(est.reason)}</div>"
        )
    else:
        parts.append(f'<div class="mlops-muted">{esc(est.reason)}</div>')
    if result.data_tests is not None:
        ok = "mlops-good" if result.data_tests.passed else "mlops-bad"
        parts.append(f'<div class="{ok}">{esc(result.data_tests.summary())}</div>')
    if result.actions:
        parts.append("<ul>" + "".join(f"<li>{esc(a)}</li>" for a in result.actions) + "</ul>")
    if result.promotion is not None:
        parts.append("<h3>Gates against the champion</h3>")
        parts.append(table(result.promotion.gates))
    if result.notes:
        parts.append(
            '<ul class="mlops-muted">'
            + "".join(f"<li>{esc(n)}</li>" for n in result.notes)
            + "</ul>"
        )
    return panel(f"Monitor: {result.model} on {result.batch}", "".join(parts))


def proposals_html(found: Any) -> str:
    if not len(found.frame):
        return panel("Promotion proposals", '<div class="mlops-muted">No proposals.</div>')
    cols = ["id", "created_at", "model_name", "alias", "version", "from_version", "status"]
    return panel("Promotion proposals", table(found.frame, columns=[*cols, "summary"]))


def code_proposal_html(proposal: Any) -> str:
    cls = "mlops-bad" if proposal.status == "retrained" else "mlops-good"
    body = f'<div class="{cls}">{esc(proposal.summary())}</div>'
    if proposal.promotion is not None:
        body += "<h3>Gates against the champion</h3>" + table(proposal.promotion.gates)
    return panel(f"Code update: {proposal.model}", body)
