"""What a drift report compares and where it is kept: inputs resolved, reports saved.

A side of the comparison is a DataFrame (rows), a stored dataset version (its rows when the
store holds a parquet snapshot), or, for the reference only, a stored reference profile (no
rows: counts, moments and a quantile sketch per column; see
:func:`mlops_jupyter.analysis.drift_stats.sample_to_profile`). Profiles are stored once per
dataset fingerprint the first time a DataFrame is used as a reference with ``save=True``.
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import AnalysisError, DatasetNotFound, InvalidInput
from . import drift_stats as st


@dataclass
class Side:
    """One side of the comparison: rows (``frame``) or a stored profile (reference only)."""

    label: str
    frame: pd.DataFrame | None = None
    profile: dict[str, Any] | None = None
    fingerprint: str | None = None
    n_rows: int = 0

    @property
    def columns(self) -> list[str]:
        if self.frame is not None:
            return list(self.frame.columns)
        return [c for c in (self.profile or {}) if not c.startswith("__")]

    @property
    def exact_rows(self) -> bool:
        return self.frame is not None


def open_drift_store(store: Any, *, needed: bool) -> Any:
    """The store to read from / save to: a Store, a path, or the configured default."""
    if store is not None and hasattr(store, "record_drift_report"):
        return store
    if not needed:
        return None
    from ..store import open_store

    return open_store(store)


def _as_frame(obj: Any, role: str) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.to_frame(name="value" if obj.name is None else obj.name)
    import numpy as np

    if isinstance(obj, np.ndarray) and obj.ndim in (1, 2):
        arr = obj.reshape(len(obj), -1)
        return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    raise InvalidInput(
        f"The {role} dataset is a {type(obj).__name__}. Pass a pandas DataFrame, or a stored "
        "dataset as 'name', 'name@VERSION' or a fingerprint prefix."
    )


def _frame_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Column labels as strings, so stored profiles and reports round-trip."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.rename(columns=str)


def _snapshot(store: Any, row: dict[str, Any]) -> pd.DataFrame | None:
    digest = row.get("snapshot_hash")
    if not digest:
        return None
    try:
        return pd.read_parquet(io.BytesIO(store.read_artifact(digest)))
    except Exception:
        return None


def resolve_side(obj: Any, role: str, store: Any, name: str | None, *, allow_profile: bool) -> Side:
    """Turn a DataFrame / stored dataset ref / stored profile ref into a :class:`Side`."""
    if not isinstance(obj, (str, os.PathLike)):
        frame = _frame_columns(_as_frame(obj, role))
        return Side(label=name or role, frame=frame, n_rows=len(frame))
    ref = str(obj).strip()
    if not ref:
        raise InvalidInput(
            f"The {role} dataset name is empty. Pass a DataFrame or a stored dataset name."
        )
    assert store is not None
    try:
        row = store.resolve_dataset(ref)
    except DatasetNotFound:
        row = None
    if row is not None:
        fp = row["fingerprint"]
        label = name or f"{row['name']}@{row['version']}"
        if allow_profile:
            stored = store.find_drift_profile(fp)
            if stored is not None:
                return Side(
                    label, profile=stored["profile"], fingerprint=fp, n_rows=stored["n_rows"]
                )
        frame = _snapshot(store, row)
        if frame is not None:
            return Side(label, frame=_frame_columns(frame), fingerprint=fp, n_rows=len(frame))
        hint = (
            "Run mj.drift once with its DataFrame as the reference to store its profile, or "
            "pass the DataFrame."
            if allow_profile
            else "Pass the DataFrame (or its variable name in %mlops drift)."
        )
        raise AnalysisError(
            f"The store keeps no rows of dataset {label} and no reference profile of it. {hint}"
        )
    if allow_profile:
        stored = store.find_drift_profile(ref)
        if stored is not None:
            return Side(
                name or stored["name"] or stored["fingerprint"][:12],
                profile=stored["profile"],
                fingerprint=stored["fingerprint"],
                n_rows=stored["n_rows"],
            )
    raise DatasetNotFound(
        f"No variable, stored dataset or reference profile matches {ref!r} ({role}). "
        "Pass a DataFrame, or a stored dataset as NAME, NAME@VERSION or a fingerprint prefix "
        "(list them with `%mlops datasets`)."
    )


def frame_fingerprint(frame: pd.DataFrame) -> str | None:
    from ..capture.fingerprint import fingerprint

    return fingerprint(frame)


def _active_run_id(store: Any) -> str | None:
    """The capture session's run, when the extension is loaded and uses this store."""
    session_mod = sys.modules.get("mlops_jupyter.capture.session")
    if session_mod is None:
        return None
    try:
        run_id = session_mod.get_session().run_id
    except Exception:
        return None
    if run_id and store.find_run(str(run_id)) is not None:
        return str(run_id)
    return None


def save_report(
    store: Any,
    report: Any,
    ref: Side,
    cur: Side,
    outcomes: dict[str, tuple[str, dict[str, Any], st.Sample | None]],
    options: dict[str, Any],
) -> str:
    """Store the reference's profile (once per fingerprint) and the report; returns its id."""
    if ref.frame is not None and ref.fingerprint is None:
        ref.fingerprint = frame_fingerprint(ref.frame)
    if cur.frame is not None and cur.fingerprint is None:
        cur.fingerprint = frame_fingerprint(cur.frame)
    pii = getattr(store, "is_pii", None)
    if ref.fingerprint and ref.frame is not None and not (pii and pii(ref.fingerprint)):
        # a PII reference keeps no sample of its values (#16)
        profile = {
            name: st.sample_to_profile(sample)
            for name, (_, _, sample) in outcomes.items()
            if sample is not None
        }
        if profile:
            store.save_drift_profile(ref.fingerprint, profile, n_rows=ref.n_rows, name=ref.label)
    rows = []
    for name, (role, row, _) in outcomes.items():
        rows.append(
            {
                "column_name": name,
                "role": role,
                "type": row["type"],
                "test": row["test"],
                "statistic": _num(row["statistic"]),
                "p_value": _num(row["p_value"]),
                "threshold": _num(row["threshold"]),
                "drifted": int(bool(row["drifted"])),
                "psi": _num(row["psi"]),
                "note": row["note"],
            }
        )
    saved = store.record_drift_report(
        {
            "reference_fingerprint": ref.fingerprint,
            "reference_name": ref.label,
            "current_fingerprint": cur.fingerprint,
            "current_name": cur.label,
            "model_name": report.model,
            "run_id": _active_run_id(store),
            "n_reference": ref.n_rows,
            "n_current": cur.n_rows,
            "n_columns": report.n_tested,
            "n_drifted": report.n_drifted,
            "share": report.share,
            "drift_share": report.drift_share,
            "drifted": int(report.drifted),
            "target_drifted": None if report.target is None else int(report.target["drifted"]),
            "prediction_drifted": (
                None if report.prediction is None else int(report.prediction["drifted"])
            ),
        },
        rows,
        performance=[] if report.performance is None else report.performance.to_dict("records"),
        notes=list(report.notes),
        options=options,
    )
    return str(saved["id"])


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value
