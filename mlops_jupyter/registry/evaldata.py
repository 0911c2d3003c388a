"""Evaluation (and training) data snapshots, and evaluating a model on them.

A snapshot is the features ``X`` plus, when given, the target ``y`` written as one parquet
artifact, so that a later promotion can evaluate the champion and the challenger on exactly the
same rows. ``X`` given as an ndarray comes back as an ndarray (estimators fitted without
feature names would warn on a DataFrame).
"""

from __future__ import annotations

import hashlib
import io
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput
from .stats import CLASSIFICATION_METRICS, REGRESSION_METRICS, metric_rows

TARGET = "__target__"
MAX_SNAPSHOT_ROWS = 200_000


@dataclass(frozen=True)
class Snapshot:
    X: Any
    y: Any  # ndarray or None
    fingerprint: str


def _fingerprint_bytes(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)


def split_xy(data: Any) -> tuple[Any, Any]:
    """``(X, y)`` from ``eval_data``: a pair, or features alone."""
    if isinstance(data, tuple | list) and len(data) == 2:
        return data[0], data[1]
    return data, None


def to_frame(X: Any) -> tuple[Any, str]:
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True).copy()
        frame.columns = [str(c) for c in frame.columns]
        return frame, "dataframe"
    arr = np.asarray(X)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidInput(
            f"Evaluation features must be 2-D, got shape {arr.shape}. "
            "Pass eval_data=(X, y) with X a DataFrame or a 2-D array."
        )
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])]), "ndarray"


def is_pii_data(store: Any, X: Any) -> bool:
    """Whether ``X`` is (or was derived from) a dataset tagged ``pii=true`` (#16): its rows are
    then not snapshotted into the store."""
    from ..capture.fingerprint import fingerprint

    checker = getattr(store, "is_pii", None)
    if checker is None:
        return False
    try:
        fp = fingerprint(X)
    except Exception:
        return False
    return bool(fp) and bool(checker(fp))


def write_snapshot(store: Any, X: Any, y: Any = None) -> dict[str, Any]:
    """Store ``X`` (and ``y``) as a parquet artifact; returns the ``eval_datasets`` row."""
    frame, x_kind = to_frame(X)
    features = list(frame.columns)
    if y is not None:
        target = np.asarray(y).reshape(-1)
        if len(target) != len(frame):
            raise InvalidInput(
                f"Evaluation data has {len(frame)} rows of features but {len(target)} targets. "
                "Pass eval_data=(X, y) with as many targets as rows."
            )
        frame[TARGET] = target
    if len(frame) > MAX_SNAPSHOT_ROWS:
        frame = frame.sample(MAX_SNAPSHOT_ROWS, random_state=0).reset_index(drop=True)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    data = buf.getvalue()
    fingerprint = _fingerprint_bytes(data)
    digest = store.put_artifact(data, "application/vnd.apache.parquet")
    store.record_eval_dataset(
        fingerprint,
        snapshot_hash=digest,
        x_kind=x_kind,
        feature_columns=features,
        target_column=TARGET if y is not None else None,
        n_rows=len(frame),
    )
    found = store.find_eval_dataset(fingerprint)
    assert found is not None
    found["sha256"] = hashlib.sha256(data).hexdigest()  # vouched for by the register record
    return found


def read_snapshot(store: Any, row: dict[str, Any]) -> Snapshot:
    import pandas as pd

    frame = pd.read_parquet(io.BytesIO(store.read_artifact(row["snapshot_hash"])))
    X = frame[list(row["feature_columns"])]
    if row["x_kind"] == "ndarray":
        X = X.to_numpy()
    y = frame[row["target_column"]].to_numpy() if row["target_column"] else None
    return Snapshot(X=X, y=y, fingerprint=row["fingerprint"])


def task_of(model: Any) -> str:
    """``classification``, ``regression`` or ``other`` (what the built-in metrics can score).

    scikit-learn's tags decide for its estimators; any other object with ``.predict`` counts
    by its ``_estimator_type`` when it declares one, else ``other`` (no built-in metrics).
    """
    from sklearn.base import BaseEstimator, is_classifier, is_regressor

    if isinstance(model, BaseEstimator):
        try:
            if is_classifier(model):
                return "classification"
            if is_regressor(model):
                return "regression"
            return "other"
        except Exception:  # an estimator with broken tags: fall back to what it declares
            pass
    kind = getattr(model, "_estimator_type", None)
    if kind == "classifier":
        return "classification"
    if kind == "regressor":
        return "regression"
    return "other"


def _final_step(model: Any, X: Any) -> tuple[Any, Any]:
    """``(final estimator, X through the other steps)`` for a scikit-learn Pipeline, which is
    what ``Pipeline.predict`` and ``predict_proba`` do each time: transforming once serves
    both (on a million rows the transforms are most of the cost). Anything else is as is."""
    pipeline = sys.modules.get("sklearn.pipeline")
    if pipeline is not None and isinstance(model, pipeline.Pipeline) and len(model.steps) > 1:
        return model.steps[-1][1], model[:-1].transform(X)
    return model, X


def predict(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predictions, positive-class scores or None)``; scores only for binary classifiers."""
    model, X = _final_step(model, X)
    pred = np.asarray(model.predict(X))
    score = None
    classes = getattr(model, "classes_", None)
    if classes is not None and len(classes) == 2:
        if hasattr(model, "predict_proba"):
            try:
                score = np.asarray(model.predict_proba(X))[:, 1]
            except Exception:
                score = None
        if score is None and hasattr(model, "decision_function"):
            try:
                score = np.asarray(model.decision_function(X)).reshape(-1)
            except Exception:
                score = None
    return pred, score


def binarise(model: Any, y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map labels to 0/1 with the model's second class as positive (binary classifiers)."""
    classes = getattr(model, "classes_", None)
    if classes is None or len(classes) != 2:
        return y, pred
    positive = classes[1]
    return (y == positive).astype(int), (pred == positive).astype(int)


def evaluate(
    model: Any, X: Any, y: Any, outputs: tuple[np.ndarray, np.ndarray | None] | None = None
) -> dict[str, float]:
    """The built-in metrics of ``model`` on ``(X, y)``; ``outputs`` are :func:`predict`'s, when
    the caller has them already (a million rows are not predicted twice)."""
    task = task_of(model)
    y = np.asarray(y).reshape(-1)
    pred, score = outputs if outputs is not None else predict(model, X)
    out: dict[str, float] = {}
    if task == "classification":
        binary = getattr(model, "classes_", None) is not None and len(model.classes_) == 2
        yb, pb = binarise(model, y, pred)
        for metric in CLASSIFICATION_METRICS:
            if metric in ("f1", "auc") and not binary:
                continue
            if metric == "auc" and score is None:
                continue
            if metric == "error":
                continue
            value = metric_rows(metric, yb, pb, score)
            out[metric] = round(float(value), 6)
    elif task == "regression":
        for metric in REGRESSION_METRICS:
            out[metric] = round(float(metric_rows(metric, y, pred)), 6)
    return out
