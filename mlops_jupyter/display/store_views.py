"""Static HTML of what the sidebar opens: a dataset's versions with its latest profile, a saved
drift report. Input is plain rows from the store; no I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .html import esc, fmt, panel, table


def _when(value: Any) -> str:
    return str(value or "")[:19].replace("T", " ")


def dataset_html(
    name: str, versions: Sequence[Mapping[str, Any]], latest: Mapping[str, Any]
) -> str:
    """Every version of a dataset (shape, fingerprint, time, producing run and cell) and the
    per-column profile of the latest one."""
    rows = [
        {
            "version": f"v{v['version']}",
            "rows": v.get("n_rows"),
            "columns": v.get("n_cols"),
            "fingerprint": str(v["fingerprint"])[:12],
            "created": _when(v.get("created_at")),
            "run": v.get("run_id"),
            "execution": v.get("execution_id"),
            "file": v.get("source_path"),
        }
        for v in versions
    ]
    body = "<h3>Versions</h3>" + table(rows)
    profile = latest.get("profile") or {}
    if profile:
        cols = []
        for column, p in profile.items():
            rng = (
                f"{fmt(p.get('min'))} to {fmt(p.get('max'))}"
                if p.get("min") is not None
                else ", ".join(str(k) for k in list((p.get("top") or {}).keys())[:3])
            )
            cols.append(
                {
                    "column": column,
                    "dtype": p.get("dtype"),
                    "nulls": p.get("nulls"),
                    "distinct": p.get("distinct"),
                    "mean": p.get("mean"),
                    "std": p.get("std"),
                    "range / top values": rng,
                }
            )
        body += f"<h3>Profile of v{esc(latest['version'])} ({len(cols)} columns)</h3>" + table(cols)
    else:
        body += '<p class="mlops-muted">No profile stored for this version.</p>'
    body += (
        '<p class="mlops-muted">Diff two versions with <code>%mlops diff '
        f"{esc(name)}@1 {esc(name)}@latest</code>.</p>"
    )
    return panel(f"Dataset {name}", body)


def saved_drift_html(report: Mapping[str, Any], columns: Sequence[Mapping[str, Any]]) -> str:
    """A saved drift report: the verdict and one row per tested column."""
    drifted = bool(report.get("drifted"))
    cls, word = ("mlops-bad", "Dataset drift") if drifted else ("mlops-good", "No dataset drift")
    share = report.get("share") or 0.0
    head = (
        f'<p><b class="{cls}">{word}</b>: {report.get("n_drifted")} of '
        f"{report.get('n_columns')} columns drifted ({share:.0%}; threshold "
        f"{(report.get('drift_share') or 0):.0%}). Reference <b>{esc(report.get('reference_name'))}"
        f"</b> vs current <b>{esc(report.get('current_name'))}</b>"
        + (f", model <b>{esc(report.get('model_name'))}</b>" if report.get("model_name") else "")
        + f", {esc(_when(report.get('created_at')))}.</p>"
    )
    rows = [
        {
            "column": c.get("column_name"),
            "role": c.get("role"),
            "test": c.get("test"),
            "statistic": c.get("statistic"),
            "p_value": c.get("p_value"),
            "threshold": c.get("threshold"),
            "drifted": "yes" if c.get("drifted") else "no",
            "psi": c.get("psi"),
            "note": c.get("note"),
        }
        for c in columns
    ]

    def mark(row: Mapping[str, Any], col: str) -> str | None:
        return "mlops-bad" if col == "drifted" and row.get("drifted") == "yes" else None

    return panel(f"Drift report {report.get('id')}", head + table(rows, cell_class=mark))
