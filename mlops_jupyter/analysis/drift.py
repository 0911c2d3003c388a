"""Drift between a reference dataset and a current one: per-column tests and one verdict.

``mj.drift(reference, current)`` returns a frozen :class:`DriftReport`; ``mj.drift_history()``
a :class:`DriftHistory` of the saved reports. The statistics live in
:mod:`mlops_jupyter.analysis.drift_stats`, one column's test, notes and plot in
:mod:`mlops_jupyter.analysis.drift_columns`; inputs (DataFrames, stored datasets, stored
reference profiles) are resolved in :mod:`mlops_jupyter.analysis.drift_inputs`; rendering in
:mod:`mlops_jupyter.display.drift`.

Default tests follow Evidently's DataDriftPreset (reference of at most 1000 non-missing values:
KS, chi-square, Z-test at p < 0.05; larger references: normed Wasserstein and Jensen-Shannon at
>= 0.1), except that the chi-square is the two-sample homogeneity test. PSI is reported for every
column. The dataset drifted when the share of drifted feature columns reaches ``drift_share``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, InvalidInput
from .drift_columns import COLUMNS, Outcome, overrides, test_column
from .drift_inputs import Side, open_drift_store, resolve_side

PROGRESS_CELLS = 1_000_000  # show a progress bar above this many cells (both sides together)
THREADS = int(os.environ.get("MLOPS_JUPYTER_DRIFT_THREADS", "2"))  # columns computed at once


@dataclass(frozen=True)
class DriftReport:
    """The result of :func:`drift`: data first, HTML on demand."""

    columns: pd.DataFrame  # one row per feature column (see COLUMNS)
    share: float  # drifted / tested feature columns
    drifted: bool  # share >= drift_share (and at least one column tested)
    drift_share: float
    n_drifted: int
    n_tested: int
    reference: str  # labels: variable, dataset ref or file name
    current: str
    n_reference: int
    n_current: int
    target: Mapping[str, Any] | None = None  # the target column's row, when named
    prediction: Mapping[str, Any] | None = None
    performance: pd.DataFrame | None = None  # metric, reference, current, change
    notes: tuple[str, ...] = ()
    model: str | None = None
    id: str | None = None  # the saved report's id
    plots: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False)

    @property
    def drifted_columns(self) -> list[str]:
        return [str(c) for c in self.columns.loc[self.columns["drifted"], "column"]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``mlops-jupyter drift --json``)."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and math.isnan(value):
                return None
            if isinstance(value, np.generic):
                return clean(value.item())
            return value

        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
            if frame is None:
                return []
            return [{k: clean(v) for k, v in r.items()} for r in frame.to_dict("records")]

        return {
            "id": self.id,
            "reference": self.reference,
            "current": self.current,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "drifted": self.drifted,
            "share": self.share,
            "drift_share": self.drift_share,
            "n_drifted": self.n_drifted,
            "n_tested": self.n_tested,
            "model": self.model,
            "columns": records(self.columns),
            "target": {k: clean(v) for k, v in self.target.items()} if self.target else None,
            "prediction": (
                {k: clean(v) for k, v in self.prediction.items()} if self.prediction else None
            ),
            "performance": records(self.performance),
            "notes": list(self.notes),
        }

    def to_html(self) -> str:
        from ..display.drift import render_report

        return render_report(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        verdict = "drifted" if self.drifted else "no drift"
        return (
            f"<DriftReport {self.reference} -> {self.current}: {verdict}, "
            f"{self.n_drifted}/{self.n_tested} columns ({self.share:.0%})>"
        )


# -- concept drift -------------------------------------------------------------------------


def _is_classification(values: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values):
        return True
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    finite = values.dropna()
    return bool(finite.nunique() <= 20 and np.all(np.mod(finite.to_numpy(float), 1) == 0))


def _scores(y: pd.Series, p: pd.Series, classification: bool) -> dict[str, float]:
    keep = y.notna() & p.notna()
    y, p = y[keep], p[keep]
    if len(y) == 0:
        return {}
    if classification:
        y_s, p_s = y.astype(str).to_numpy(), p.astype(str).to_numpy()
        f1s = []
        for label in np.unique(np.concatenate([y_s, p_s])):
            tp = np.sum((y_s == label) & (p_s == label))
            fp = np.sum((y_s != label) & (p_s == label))
            fn = np.sum((y_s == label) & (p_s != label))
            f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
        return {"accuracy": float(np.mean(y_s == p_s)), "f1_macro": float(np.mean(f1s))}
    err = p.to_numpy(float) - y.to_numpy(float)
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}


def _performance(
    ref: Side, cur: Side, target: str | None, prediction: str | None
) -> tuple[pd.DataFrame | None, list[str]]:
    if not target or not prediction:
        return None, []
    if ref.frame is None:
        return None, ["performance change not computed: the reference is a stored profile"]
    for side, label in ((ref, "reference"), (cur, "current")):
        frame = side.frame
        assert frame is not None
        if target not in frame.columns or prediction not in frame.columns:
            return None, [
                f"performance change not computed: no {target!r} and {prediction!r} in {label}"
            ]
    assert ref.frame is not None and cur.frame is not None
    classification = _is_classification(ref.frame[target])
    if classification and not all(
        _is_classification(f[prediction]) for f in (ref.frame, cur.frame)
    ):
        return None, [f"performance change not computed: {prediction!r} holds scores, not labels"]
    before = _scores(ref.frame[target], ref.frame[prediction], classification)
    after = _scores(cur.frame[target], cur.frame[prediction], classification)
    rows: list[dict[str, Any]] = [
        {"metric": k, "reference": before[k], "current": after[k], "change": after[k] - before[k]}
        for k in before
        if k in after
    ]
    notes = []
    for r in rows:
        worse = -r["change"] if r["metric"] in ("accuracy", "f1_macro") else r["change"]
        scale = 1.0 if r["metric"] in ("accuracy", "f1_macro") else max(abs(r["reference"]), 1e-12)
        if worse / scale > 0.05:
            notes.append(
                f"{r['metric']} went from {r['reference']:.4g} to {r['current']:.4g}: "
                "a concept-drift signal"
            )
    return pd.DataFrame(rows, columns=["metric", "reference", "current", "change"]), notes


# -- the public functions ------------------------------------------------------------------


def _select_columns(
    ref: Side, cur: Side, columns: Sequence[str] | None, special: set[str]
) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    duplicated = sorted(
        {str(c) for side in (ref, cur) for c in side.columns if side.columns.count(c) > 1}
    )
    if duplicated:
        notes.append(f"duplicate column names, not tested: {', '.join(duplicated[:10])}")
    ref_cols = [c for c in ref.columns if str(c) not in duplicated]
    cur_cols = [c for c in cur.columns if str(c) not in duplicated]
    if columns is not None:
        if isinstance(columns, str):
            columns = [c.strip() for c in columns.split(",") if c.strip()]
        for c in columns:
            for side, cols in (("reference", ref_cols), ("current", cur_cols)):
                if c not in cols:
                    raise InvalidInput(
                        f"Column {c!r} is not in the {side} dataset. "
                        f"Its columns: {', '.join(map(str, cols[:20]))}."
                    )
        return [c for c in columns if c not in special], notes
    common = [c for c in ref_cols if c in set(cur_cols) and c not in special]
    only_ref = [c for c in ref_cols if c not in set(cur_cols) and c not in special]
    only_cur = [c for c in cur_cols if c not in set(ref_cols) and c not in special]
    if only_ref:
        notes.append(f"only in reference, not tested: {', '.join(map(str, only_ref[:10]))}")
    if only_cur:
        notes.append(f"only in current, not tested: {', '.join(map(str, only_cur[:10]))}")
    return common, notes


def drift(
    reference: Any,
    current: Any,
    columns: Sequence[str] | None = None,
    target: str | None = None,
    prediction: str | None = None,
    model: str | None = None,
    tests: Mapping[str, Any] | None = None,
    drift_share: float = 0.5,
    save: bool = True,
    store: Any = None,
    *,
    reference_name: str | None = None,
    current_name: str | None = None,
) -> DriftReport:
    """Test every column of ``current`` against ``reference`` and decide whether it drifted.

    ``reference`` / ``current``: DataFrames, or stored datasets (``"name"``, ``"name@3"``,
    ``"name@latest"``, a fingerprint prefix); the reference may also be a stored reference
    profile (by dataset name, profile name or fingerprint), so no reference rows are needed.
    ``tests`` overrides tests and thresholds per column or per type, e.g.
    ``{"age": "psi", "numeric": ("ks", 0.01), "city": 0.2}``. With ``save`` the reference's
    profile and the report are stored (``store``: a Store, a path, or None for the default;
    ``store=False`` is the same as ``save=False``). ``model`` links the report to a registered
    model: an unknown name is refused before anything is computed or saved.
    """
    if isinstance(drift_share, bool) or not isinstance(drift_share, (int, float)):
        raise InvalidInput(
            f"drift_share must be a number in (0, 1], got {drift_share!r}. Example: 0.5."
        )
    if not 0 < drift_share <= 1:
        raise InvalidInput(f"drift_share must be in (0, 1], got {drift_share}. Example: 0.5.")
    if store is False:
        save, store = False, None
    db = open_drift_store(
        store, needed=save or isinstance(reference, str) or isinstance(current, str)
    )
    if model is not None and db is not None:
        model = _registered(db, model)  # before computing: a typo never links a report
    ref = resolve_side(reference, "reference", db, reference_name, allow_profile=True)
    cur = resolve_side(current, "current", db, current_name, allow_profile=False)
    for side in (ref, cur):
        if side.n_rows == 0:
            raise AnalysisError(
                f"The {side.label} dataset has no rows. Pass a non-empty DataFrame or file."
            )
    special = {c for c in (target, prediction) if c}
    names, notes = _select_columns(ref, cur, columns, special)
    by_column, by_type = overrides(tests, set(names) | special)
    if not names:
        raise AnalysisError(
            f"{ref.label} and {cur.label} have no column in common to compare. "
            "Check that both are the same kind of table, or pass columns=[...]."
        )

    outcomes: dict[str, Outcome] = {}
    cells = (ref.n_rows + cur.n_rows) * len(names)
    from tqdm.auto import tqdm

    with tqdm(
        total=len(names) + len(special),
        desc="drift",
        unit="col",
        disable=cells <= PROGRESS_CELLS,
        leave=False,
    ) as bar:
        workers = min(THREADS, os.cpu_count() or 1) if cells > PROGRESS_CELLS else 1
        if workers > 1:
            # numpy's sorts and Arrow's counting release the GIL: columns run side by side
            with ThreadPoolExecutor(workers) as pool:
                futures = {
                    pool.submit(test_column, ref, cur, n, by_column, by_type): n for n in names
                }
                for future in as_completed(futures):
                    outcomes[futures[future]] = future.result()
                    bar.update(1)
            outcomes = {n: outcomes[n] for n in names}
        else:
            for name in names:
                outcomes[name] = test_column(ref, cur, name, by_column, by_type)
                bar.update(1)
        extra: dict[str, dict[str, Any] | None] = {}
        for role, special_name in (("target", target), ("prediction", prediction)):
            if not special_name:
                extra[role] = None
                continue
            if special_name not in ref.columns or special_name not in cur.columns:
                notes.append(f"{role} column {special_name!r} is not in both datasets: not tested")
                extra[role] = None
                continue
            outcome = test_column(ref, cur, special_name, by_column, by_type)
            outcomes[special_name] = outcome
            extra[role] = outcome.row
            bar.update(1)

    frame = pd.DataFrame([outcomes[n].row for n in names], columns=COLUMNS)
    frame["drifted"] = frame["drifted"].astype(bool)
    tested = frame[frame["test"].notna() | frame["drifted"]]
    n_tested, n_drifted = len(tested), int(tested["drifted"].sum())
    share = n_drifted / n_tested if n_tested else 0.0
    if not n_tested:
        notes.append("no column could be tested: no verdict")
    performance, perf_notes = _performance(ref, cur, target, prediction)
    notes += perf_notes
    if not ref.exact_rows:
        notes.append(f"reference read from the stored profile {ref.label!r} (no rows)")

    report = DriftReport(
        columns=frame,
        share=share,
        drifted=bool(n_tested and share >= drift_share),
        drift_share=float(drift_share),
        n_drifted=n_drifted,
        n_tested=n_tested,
        reference=ref.label,
        current=cur.label,
        n_reference=ref.n_rows,
        n_current=cur.n_rows,
        target=extra["target"],
        prediction=extra["prediction"],
        performance=performance,
        notes=tuple(notes),
        model=model,
        plots={n: o.plot for n, o in outcomes.items() if o.plot is not None},
    )
    if save and db is not None:
        from .drift_inputs import save_report

        roles = {n: "feature" for n in names}
        roles.update({n: r for r, n in (("target", target), ("prediction", prediction)) if n})
        saved = {n: (roles[n], o.row, o.reference) for n, o in outcomes.items()}
        options = {"columns": list(columns) if columns else None, "tests": tests or {}}
        report_id = save_report(db, report, ref, cur, saved, options)
        report = _with_id(report, report_id)
    return report


def _registered(db: Any, model: Any) -> str:
    """``model`` when it names a registered model, else a one-line ModelNotFound."""
    from ..registry.versions import check_name, require_model

    name = check_name(model)
    require_model(db, name)
    return name


def _with_id(report: DriftReport, report_id: str) -> DriftReport:
    from dataclasses import replace

    return replace(report, id=report_id)


@dataclass(frozen=True)
class DriftHistory:
    """Saved drift reports over time: the continuous-monitoring view."""

    reports: pd.DataFrame  # id, created_at, reference, current, model, n_tested, ...
    columns: pd.DataFrame  # report_id, created_at, column, role, test, statistic, ...
    model: str | None = None

    def to_html(self) -> str:
        from ..display.drift import render_history

        return render_history(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        scope = f" of model {self.model!r}" if self.model else ""
        return f"<DriftHistory{scope}: {len(self.reports)} reports>"


def drift_history(model: str | None = None, store: Any = None) -> DriftHistory:
    """Every saved drift report (of ``model``, a registered model name), oldest first.

    An unknown ``model`` is a one-line ModelNotFound (reports saved under it before models
    were checked are still shown).
    """
    db = open_drift_store(store, needed=True)
    assert db is not None
    if model is not None and not db.list_drift_reports(model):
        model = _registered(db, model)
    reports = pd.DataFrame(
        [
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "reference": r["reference_name"],
                "current": r["current_name"],
                "model": r["model_name"],
                "n_tested": r["n_columns"],
                "n_drifted": r["n_drifted"],
                "share": r["share"],
                "drift_share": r["drift_share"],
                "drifted": bool(r["drifted"]),
            }
            for r in db.list_drift_reports(model)
        ],
        columns=[
            "id",
            "created_at",
            "reference",
            "current",
            "model",
            "n_tested",
            "n_drifted",
            "share",
            "drift_share",
            "drifted",
        ],
    )
    columns = pd.DataFrame(
        db.list_drift_columns(model),
        columns=[
            "report_id",
            "created_at",
            "column_name",
            "role",
            "type",
            "test",
            "statistic",
            "p_value",
            "threshold",
            "drifted",
            "psi",
            "note",
        ],
    ).rename(columns={"column_name": "column"})
    columns["drifted"] = columns["drifted"].fillna(0).astype(bool)
    for frame in (reports, columns):
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
    return DriftHistory(reports=reports, columns=columns, model=model)
