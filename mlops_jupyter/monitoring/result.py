"""What a monitor pass found and did, and the history of passes: frozen results, data first."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .performance import Estimate

HEALTHY, ACTION_NEEDED, RETRAINED, PROPOSED, PROMOTED = (
    "healthy",
    "action_needed",
    "retrained",
    "proposed",
    "promoted",
)


@dataclass(frozen=True)
class Trigger:
    trigger: str  # drift | metric_drop | estimated_drop | estimate_untrusted | data_tests
    fired: bool
    figure: str
    threshold: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            return value.item()
        except (AttributeError, ValueError):
            return value
    return value


@dataclass(frozen=True)
class MonitorResult:
    """One batch checked against a model's alias holder (``mj.monitor``)."""

    model: str
    alias: str
    version: int  # the holder the batch was checked with
    batch: str
    fingerprint: str
    n_rows: int
    labelled: bool
    status: str  # healthy | action_needed | retrained | proposed | promoted
    triggers: tuple[Trigger, ...]
    metric: str  # the metric watched
    metrics: dict[str, float]  # measured on the batch's labels (empty without labels)
    reference_metrics: dict[str, float]  # the holder's registered values
    estimate: Estimate
    drift: Any = field(default=None, repr=False)  # DriftReport, or None when not computed
    data_tests: Any = field(default=None, repr=False)  # CheckResult, or None without a suite
    retrained_version: int | None = None
    retrain_run_id: str | None = None
    promotion: Any = field(default=None, repr=False)  # PromotionResult of the gates / promote
    proposal_id: int | None = None
    batch_id: int | None = None
    actions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def fired(self) -> list[str]:
        return [t.trigger for t in self.triggers if t.fired]

    @property
    def healthy(self) -> bool:
        return self.status == HEALTHY

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 action taken or needed (for cron and CI)."""
        return 0 if self.healthy else 1

    def summary(self) -> str:
        head = f"{self.model} v{self.version} ({self.alias}) on {self.batch}: "
        if self.healthy:
            parts = []
            if self.drift is not None:
                parts.append(f"drift {self.drift.share:.0%} of columns")
            if self.metric in self.metrics:
                parts.append(f"{self.metric} {self.metrics[self.metric]:.4g}")
            elif self.estimate.value is not None:
                parts.append(
                    f"estimated accuracy {self.estimate.value:.4g} ({self.estimate.trust})"
                )
            if self.data_tests is not None:
                parts.append("data tests passed")
            return head + "healthy" + (f" ({', '.join(parts)})" if parts else "") + "."
        text = head + f"{self.status.replace('_', ' ')}; fired: {', '.join(self.fired)}"
        if self.actions:
            text += ". " + " ".join(self.actions)
        return text if text.endswith(".") else text + "."

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        rows = pd.DataFrame([t.to_dict() for t in self.triggers])
        table = rows.to_string(index=False) if len(rows) else "(no triggers)"
        return f"{self.summary()}\n{table}"

    @property
    def table(self) -> pd.DataFrame:
        """The triggers: trigger, fired, figure, threshold, detail."""
        return pd.DataFrame(
            [t.to_dict() for t in self.triggers],
            columns=["trigger", "fired", "figure", "threshold", "detail"],
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``mlops-jupyter monitor --json``)."""
        promotion = None
        if self.promotion is not None:
            promotion = {
                "version": self.promotion.version,
                "passed": bool(self.promotion.passed),
                "moved": bool(self.promotion.moved),
                "summary": self.promotion.summary(),
                "gates": self.promotion.gate_records(),
            }
        return {
            "model": self.model,
            "alias": self.alias,
            "version": self.version,
            "batch": self.batch,
            "fingerprint": self.fingerprint,
            "n_rows": self.n_rows,
            "labelled": self.labelled,
            "status": self.status,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "triggers": [{k: _clean(v) for k, v in t.to_dict().items()} for t in self.triggers],
            "metric": self.metric,
            "metrics": {k: _clean(v) for k, v in self.metrics.items()},
            "reference_metrics": {k: _clean(v) for k, v in self.reference_metrics.items()},
            "estimate": {k: _clean(v) for k, v in self.estimate.to_dict().items()},
            "drift": None
            if self.drift is None
            else {
                "report_id": self.drift.id,
                "share": self.drift.share,
                "drifted": self.drift.drifted,
                "drifted_columns": self.drift.drifted_columns,
            },
            "data_tests": None if self.data_tests is None else self.data_tests.to_dict(),
            "retrained_version": self.retrained_version,
            "retrain_run_id": self.retrain_run_id,
            "promotion": promotion,
            "proposal_id": self.proposal_id,
            "batch_id": self.batch_id,
            "actions": list(self.actions),
            "notes": list(self.notes),
        }

    def to_html(self) -> str:
        from ..display.monitor import result_html

        return result_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()


@dataclass(frozen=True)
class MonitorHistory:
    """Every batch a model was monitored on, the proposals, and the alias's moves."""

    model: str
    batches: pd.DataFrame  # id, created_at, batch, version, status, drift_share, metrics ...
    proposals: pd.DataFrame  # id, created_at, version, from_version, status, decided_by ...
    moves: pd.DataFrame  # alias history: alias, version, action, start_at, who, reason
    metric: str | None = None

    def to_html(self) -> str:
        from ..display.monitor import history_html

        return history_html(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: _clean(v) for k, v in r.items()} for r in frame.to_dict("records")]

        return {
            "model": self.model,
            "metric": self.metric,
            "batches": records(self.batches.astype(object)),
            "proposals": records(self.proposals.astype(object)),
            "moves": records(self.moves.astype(object)),
        }

    def __repr__(self) -> str:
        return f"<MonitorHistory of {self.model!r}: {len(self.batches)} batches>"

    def __len__(self) -> int:
        return len(self.batches)
