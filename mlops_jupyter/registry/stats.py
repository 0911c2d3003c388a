"""Champion vs challenger statistics on one shared evaluation set.

- :func:`paired_bootstrap`: resample the evaluation rows (the same indices for both models, so
  the comparison is paired) and return the metric difference ``candidate - champion`` with a
  percentile confidence interval. All resamples are computed at once as a ``(B, n)`` index
  matrix; nothing loops over resamples for the built-in metrics.
- :func:`mcnemar`: for classifiers, McNemar's test on the discordant pairs (exact binomial
  when there are fewer than 25, chi-square with continuity correction otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# metric -> True when higher is better
METRICS: dict[str, bool] = {
    "accuracy": True,
    "error": False,
    "auc": True,
    "f1": True,
    "r2": True,
    "mse": False,
    "rmse": False,
    "mae": False,
}
CLASSIFICATION_METRICS = ("accuracy", "error", "auc", "f1")
REGRESSION_METRICS = ("r2", "rmse", "mse", "mae")


@dataclass(frozen=True)
class BootstrapResult:
    metric: str
    candidate: float  # metric on the full evaluation set
    champion: float
    difference: float  # candidate - champion
    ci_low: float
    ci_high: float
    confidence: float
    n_resamples: int
    higher_is_better: bool
    samples: np.ndarray  # the B resampled differences (for plots)


@dataclass(frozen=True)
class McNemarResult:
    candidate_only: int  # candidate right, champion wrong
    champion_only: int  # champion right, candidate wrong
    statistic: float | None
    p_value: float
    method: str  # exact | chi2


def _auc_rows(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Row-wise ROC AUC (Mann-Whitney with average ranks for ties); y in {0,1}."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=-1)
    pos = y.astype(bool)
    n_pos = pos.sum(axis=-1).astype(float)
    n_neg = pos.shape[-1] - n_pos
    rank_sum = np.where(pos, ranks, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def metric_rows(
    metric: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray | None = None
) -> np.ndarray:
    """The metric for each row of index-resampled ``y``/``pred``/``score`` (2-D) or one value."""
    if metric in ("accuracy", "error"):
        acc = (y == pred).mean(axis=-1)
        return acc if metric == "accuracy" else 1.0 - acc
    if metric == "auc":
        if score is None:
            raise ValueError("auc needs scores (predict_proba or decision_function)")
        return _auc_rows(y, score)
    if metric == "f1":
        tp = ((pred == 1) & (y == 1)).sum(axis=-1)
        fp = ((pred == 1) & (y != 1)).sum(axis=-1)
        fn = ((pred != 1) & (y == 1)).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    err = pred.astype(float) - y.astype(float)
    if metric == "mae":
        return np.abs(err).mean(axis=-1)
    mse = (err**2).mean(axis=-1)
    if metric == "mse":
        return mse
    if metric == "rmse":
        return np.sqrt(mse)
    if metric == "r2":
        yf = y.astype(float)
        ss_tot = ((yf - yf.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 - (err**2).sum(axis=-1) / ss_tot
    raise ValueError(f"unknown metric {metric!r}")


def paired_bootstrap(
    metric: str,
    y: Any,
    candidate: tuple[Any, Any],
    champion: tuple[Any, Any],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap CI of ``metric(candidate) - metric(champion)`` on the same resampled rows.

    ``candidate`` and ``champion`` are ``(predictions, scores)``; scores may be None unless the
    metric is ``auc``.
    """
    y = np.asarray(y)
    (pred_a, score_a), (pred_b, score_b) = candidate, champion
    pred_a, pred_b = np.asarray(pred_a), np.asarray(pred_b)
    score_a = None if score_a is None else np.asarray(score_a, dtype=float)
    score_b = None if score_b is None else np.asarray(score_b, dtype=float)
    n = len(y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))

    def pick(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[idx]

    full_a = float(metric_rows(metric, y, pred_a, score_a))
    full_b = float(metric_rows(metric, y, pred_b, score_b))
    diffs = metric_rows(metric, y[idx], pred_a[idx], pick(score_a)) - metric_rows(
        metric, y[idx], pred_b[idx], pick(score_b)
    )
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1.0 - confidence) / 2
    low, high = (
        (float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha)))
        if diffs.size
        else (float("nan"), float("nan"))
    )
    return BootstrapResult(
        metric=metric,
        candidate=full_a,
        champion=full_b,
        difference=full_a - full_b,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        n_resamples=n_resamples,
        higher_is_better=METRICS[metric],
        samples=diffs,
    )


def mcnemar(y: Any, pred_candidate: Any, pred_champion: Any) -> McNemarResult:
    """McNemar's test: do the two classifiers err on different rows more than chance says?"""
    from scipy.stats import binomtest, chi2

    y = np.asarray(y)
    right_a = np.asarray(pred_candidate) == y
    right_b = np.asarray(pred_champion) == y
    b = int((right_a & ~right_b).sum())
    c = int((~right_a & right_b).sum())
    if b + c == 0:
        return McNemarResult(b, c, None, 1.0, "exact")
    if b + c < 25:
        p = float(binomtest(b, b + c, 0.5).pvalue)
        return McNemarResult(b, c, None, p, "exact")
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    return McNemarResult(b, c, float(stat), float(chi2.sf(stat, 1)), "chi2")
