"""Performance of the production holder on a batch: measured on labels, estimated without them.

**Measured.** With labels, the registry's own metrics (:func:`~mlops_jupyter.registry.evaldata.
evaluate`: accuracy, F1 and AUC for binary classifiers; R², RMSE, MSE, MAE for regressors),
so they compare with the values the version was registered with.

**Estimated** (confidence-based, after NannyML's CBPE). For a binary classifier with scores,
the scores are calibrated once on the version's stored evaluation data (isotonic regression of
the label on the score); on a batch without labels each row's chance of being right is the
calibrated probability of the class it was given, and the estimated accuracy is their mean.
The estimate assumes P(label | features) did not change: it holds under covariate shift and
fails under concept drift. So it is checked whenever labels arrive: on a labelled batch the
estimate is computed too and compared with the measured accuracy, and the calibration error
(ECE, 10 bins) of the calibrated scores on the batch is kept. Trust, per holder version:

- ``trusted``: the last labelled batch matched (error within 0.05 and ECE within 0.1);
- ``unverified``: no labelled batch since the version took the alias;
- ``untrusted``: the last labelled batch did not match (concept drift): estimates of later
  batches are shown but fire nothing; labels are needed;
- no estimate at all for regressors, multi-class models, models without scores, or a version
  without stored evaluation labels (nothing to calibrate on), with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..registry.evaldata import predict, read_snapshot
from ..registry.stats import METRICS

ESTIMATE_TOLERANCE = 0.05  # |estimated - measured accuracy| beyond which the estimate failed
ECE_LIMIT = 0.1
TRUSTED, UNVERIFIED, UNTRUSTED = "trusted", "unverified", "untrusted"


@dataclass(frozen=True)
class Estimate:
    metric: str  # accuracy
    value: float | None
    trust: str | None  # trusted | unverified | untrusted | None (no estimate)
    reason: str
    measured: float | None = None  # on a labelled batch: the measured value
    error: float | None = None  # estimated - measured
    ece: float | None = None  # calibration error of the calibrated scores on the batch

    @property
    def usable(self) -> bool:
        return self.value is not None and self.trust in (TRUSTED, UNVERIFIED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": self.value,
            "trust": self.trust,
            "reason": self.reason,
            "measured": self.measured,
            "error": self.error,
            "ece": self.ece,
        }


def watched_metric(task: str, policy_metric: str | None, registered: Mapping[str, Any]) -> str:
    if policy_metric:
        return policy_metric
    default = "accuracy" if task == "classification" else "r2"
    return default if default in registered or not registered else str(next(iter(registered)))


def drop_of(metric: str, reference: float, current: float) -> float:
    """How much worse ``current`` is than ``reference`` (positive: worse)."""
    higher = METRICS.get(metric, True)
    return (reference - current) if higher else (current - reference)


class Calibrator:
    """Isotonic calibration of a binary classifier's scores on its stored evaluation data."""

    def __init__(self, positive: Any, score: np.ndarray, y: Any) -> None:
        from sklearn.isotonic import IsotonicRegression

        self.positive = positive
        yb = (np.asarray(y).reshape(-1) == positive).astype(float)
        self.iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, yb)

    def expected_correct(
        self, pred: np.ndarray, score: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(chance each row's prediction is right, calibrated positive probability)`` from
        the model's predictions and scores on the batch."""
        assert score is not None
        p = self.iso.predict(score)
        return np.where(pred == self.positive, p, 1.0 - p), p


def calibrator_for(st: Any, version: Mapping[str, Any], model: Any) -> tuple[Any, str]:
    """``(Calibrator or None, why not)`` for the holder ``version``."""
    classes = getattr(model, "classes_", None)
    if version["task"] != "classification":
        return None, "no estimate for a regression model (confidence-based estimation needs scores)"
    if classes is None or len(classes) != 2:
        return None, "no estimate: confidence-based estimation here covers binary classifiers"
    row = st.find_eval_dataset(version.get("eval_fingerprint"))
    if row is None or not row["target_column"]:
        return None, (
            f"no estimate: v{version['version']} has no stored evaluation labels to calibrate its "
            "scores on (register it with eval_data=(X, y))"
        )
    snap = read_snapshot(st, row)
    try:
        _, score = predict(model, snap.X)
    except Exception as exc:
        return None, f"no estimate: the model cannot score its evaluation data ({exc})"
    if score is None:
        return None, "no estimate: the model gives no scores (predict_proba or decision_function)"
    return Calibrator(classes[1], score, snap.y), ""


def ece(p: np.ndarray, yb: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of positive-class probabilities ``p`` against 0/1 labels."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(float(p[sel].mean()) - float(yb[sel].mean()))
    return float(total)


def estimate(
    calibrator: Any,
    why_not: str,
    outputs: tuple[np.ndarray, np.ndarray | None],
    y: Any,
    earlier: Sequence[Mapping[str, Any]],
) -> Estimate:
    """The estimate for a batch from the holder's ``(predictions, scores)`` on it (``y`` None:
    no labels); ``earlier``: this holder version's earlier batches (oldest first), whose
    labelled estimates decide the trust."""
    if calibrator is None:
        return Estimate("accuracy", None, None, why_not)
    pred = outputs[0]
    correct, p = calibrator.expected_correct(*outputs)
    value = float(correct.mean())
    if y is not None:
        yb = (np.asarray(y).reshape(-1) == calibrator.positive).astype(float)
        measured = float(np.mean((pred == calibrator.positive) == (yb == 1.0)))
        error = value - measured
        calib = ece(p, yb)
        ok = abs(error) <= ESTIMATE_TOLERANCE and calib <= ECE_LIMIT
        reason = (
            f"checked on this batch's labels: estimated {value:.3f}, measured {measured:.3f}, "
            f"calibration error {calib:.3f}"
        )
        if not ok:
            reason += (
                " - the estimate failed (concept drift: P(label | features) moved); estimates "
                "of later batches are not trusted until labels agree again"
            )
        return Estimate(
            "accuracy", value, TRUSTED if ok else UNTRUSTED, reason, measured, error, calib
        )
    checked = [b for b in earlier if b.get("labelled") and (b.get("estimate") or {}).get("trust")]
    if not checked:
        return Estimate(
            "accuracy",
            value,
            UNVERIFIED,
            "calibrated on the version's evaluation data; not yet checked against labels of a "
            "production batch (it fails under concept drift)",
        )
    last = checked[-1]
    info = last["estimate"]
    if info["trust"] == UNTRUSTED:
        return Estimate(
            "accuracy",
            value,
            UNTRUSTED,
            f"not trusted: on batch #{last['id']} ({last['batch_name']}) the estimate was "
            f"{info['value']:.3f} but the labels gave {info['measured']:.3f} (calibration error "
            f"{info['ece']:.3f}); send labels to measure",
        )
    return Estimate(
        "accuracy",
        value,
        TRUSTED,
        f"matched the labels of batch #{last['id']} ({last['batch_name']}) within "
        f"{ESTIMATE_TOLERANCE:g} (calibration error {info['ece']:.3f})",
    )
