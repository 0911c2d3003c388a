"""``%mlops`` with no arguments: where facts go and what the last cell captured."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .session import Session


@dataclass(frozen=True)
class CaptureStatus:
    store_path: str
    experiment: str
    capturing: bool
    run: dict[str, Any] | None  # id, name, status, parent_run_id, source
    last: dict[str, Any] | None = None  # execution_id, status, params, metrics, datasets, models
    counts: dict[str, int] = field(default_factory=dict)
    reproducibility: tuple[str, list[str]] | None = None  # (status, reasons) of the run
    resources: tuple[str, str] | None = None  # (last cell, this run) in words (#16)

    def lines(self) -> list[tuple[str, str]]:
        run = self.run
        rows = [
            ("store", self.store_path),
            ("experiment", self.experiment),
            (
                "run",
                f"{run['name']} ({run['id']}, {run['status']})"
                + (f", child of {run['parent_run_id']}" if run.get("parent_run_id") else "")
                if run
                else "none yet (starts with the next captured cell)",
            ),
            ("capture", "on" if self.capturing else "off (%mlops on resumes)"),
        ]
        if self.last:
            for kind in ("params", "metrics", "datasets", "models"):
                names = self.last.get(kind) or []
                rows.append(
                    (
                        f"last cell {kind}",
                        f"{len(names)}" + (f": {', '.join(names)}" if names else ""),
                    )
                )
        if self.counts:
            rows.append(("this run", ", ".join(f"{v} {k}" for k, v in self.counts.items())))
        if self.resources:
            rows.append(("last cell cost", self.resources[0]))
            rows.append(("run cost", self.resources[1]))
        if self.reproducibility:
            state, reasons = self.reproducibility
            rows.append(("reproducibility", state + (f": {'; '.join(reasons)}" if reasons else "")))
        return rows

    def __repr__(self) -> str:
        width = max(len(k) for k, _ in self.lines())
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in self.lines())

    def _repr_html_(self) -> str:
        from ..display.html import esc, panel

        body = "".join(
            f"<tr><th>{esc(k)}</th><td style='text-align:left'>{esc(v)}</td></tr>"
            for k, v in self.lines()
        )
        return panel("mlops-jupyter", f'<table class="mlops-table">{body}</table>')


def status(session: Session) -> CaptureStatus:
    store = session.store
    run = None
    counts: dict[str, int] = {}
    if session.run_id:
        row = store.find_run(session.run_id) or {}
        run = {k: row.get(k) for k in ("id", "name", "status", "parent_run_id", "source")}
        counts = store.run_counts(session.run_id)
    repro = None
    if session.run_id and counts:
        repro = _reproducibility(store, session.run_id)
    last = None
    if session.last_capture is not None:
        c = session.last_capture
        last = {
            "execution_id": c.execution_id,
            "status": c.status,
            "params": c.params,
            "metrics": c.metrics,
            "datasets": c.datasets,
            "models": c.models,
        }
    return CaptureStatus(
        store.display,
        session.experiment,
        session.enabled,
        run,
        last,
        counts,
        repro,
        _resources(store, session),
    )


def _resources(store: Any, session: Session) -> tuple[str, str] | None:
    """The last cell's and the run's resources in words; None when nothing was measured."""
    try:
        from ..analysis.resources import describe_usage, resources

        if not session.run_id:
            return None
        report = resources(session.run_id, store=store)
        if not report.totals.get("cells"):
            return None
        c = session.last_capture
        last = store.execution_resources(c.execution_id) if c and c.execution_id else None
        return describe_usage(last), report.summary().split(": ", 1)[-1]
    except Exception as exc:  # a status line must never break %mlops
        return ("unknown", f"could not be read: {exc}")


def _reproducibility(store: Any, run_id: str) -> tuple[str, list[str]] | None:
    """The run's reproducibility (``mlops_jupyter.export.repro``); "unknown" if the check fails."""
    try:
        from ..export.repro import reproducibility

        result = reproducibility(store, run_id)
    except Exception as exc:  # a status line must never break %mlops
        return ("unknown", [f"check failed: {exc}"])
    return (result.status, list(result.reasons))
