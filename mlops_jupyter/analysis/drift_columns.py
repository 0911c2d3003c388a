"""One column of a drift report: which test, its numbers, its plot and its notes.

Used by :func:`mlops_jupyter.analysis.drift.drift`; the statistics themselves are in
:mod:`mlops_jupyter.analysis.drift_stats`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput
from . import drift_stats as st
from .drift_inputs import Side

COLUMNS = ["column", "type", "test", "statistic", "p_value", "threshold", "drifted", "psi", "note"]
TYPE_KEYS = {"numeric": st.NUMERIC, "num": st.NUMERIC, "categorical": st.CATEGORICAL}
TYPE_KEYS["cat"] = st.CATEGORICAL
PLOT_BINS = 20
PLOT_CATEGORIES = 10


# -- test selection ------------------------------------------------------------------------


def _normalise_test(name: Any, where: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput(
            f"Test for {where} must be a name, got {name!r}. Use one of: {', '.join(st.TESTS)}."
        )
    key = name.strip().lower().replace("-", "_")
    key = st.ALIASES.get(key, key)
    if key not in st.TESTS:
        raise InvalidInput(
            f"Unknown drift test {name!r} for {where}. Use one of: {', '.join(st.TESTS)}."
        )
    return key


def _parse_override(spec: Any, where: str) -> tuple[str | None, float | None]:
    """``"psi"`` | ``("ks", 0.01)`` | ``0.2`` | ``{"test": ..., "threshold": ...}``."""
    if isinstance(spec, Mapping):
        test = spec.get("test")
        threshold = spec.get("threshold")
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        test, threshold = spec
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        test, threshold = None, spec
    else:
        test, threshold = spec, None
    test = _normalise_test(test, where) if test is not None else None
    if threshold is not None:
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"Threshold for {where} must be a number, got {threshold!r}. "
                "Example: {'age': ('ks', 0.01)}."
            ) from None
        if not math.isfinite(threshold) or threshold < 0:
            raise InvalidInput(
                f"Threshold for {where} must be a non-negative number, got {threshold}. "
                "Example: {'age': ('ks', 0.01)}."
            )
    return test, threshold


def overrides(
    tests: Mapping[str, Any] | None, known: set[str]
) -> tuple[dict[str, tuple[str | None, float | None]], dict[str, tuple[str | None, float | None]]]:
    by_column: dict[str, tuple[str | None, float | None]] = {}
    by_type: dict[str, tuple[str | None, float | None]] = {}
    for key, spec in (tests or {}).items():
        if key in known:
            by_column[key] = _parse_override(spec, f"column {key!r}")
        elif str(key).lower() in TYPE_KEYS:
            by_type[TYPE_KEYS[str(key).lower()]] = _parse_override(spec, f"{key} columns")
        else:
            raise InvalidInput(
                f"tests= names {key!r}, which is neither a compared column nor a type. "
                "Use a column name, 'numeric' or 'categorical'."
            )
    return by_column, by_type


# -- one column ----------------------------------------------------------------------------


@dataclass
class Outcome:
    row: dict[str, Any]
    plot: dict[str, Any] | None
    reference: st.Sample | None = None  # kept to store the reference's profile


def _prepare(side: Side, column: str, kind: str, as_text: bool, reference: bool) -> st.Sample:
    if side.frame is None:
        return st.sample_from_profile(side.profile[column])  # type: ignore[index]
    series = side.frame[column]
    if kind == st.NUMERIC:
        return st.numeric_sample(series, as_objects=series.dtype == object, with_std=reference)
    return st.categorical_sample(series, as_text=as_text)


def _kinds(ref: Side, cur: Side, column: str) -> tuple[str | None, bool, list[str]]:
    """The comparison kind, whether categories are compared as text, and notes."""
    notes: list[str] = []
    if ref.frame is None:
        ref_kind: str | None = ref.profile[column]["kind"]  # type: ignore[index]
        ref_note = None
    else:
        ref_kind, ref_note = st.column_kind(ref.frame[column])
    cur_kind, cur_note = st.column_kind(cur.frame[column])  # type: ignore[index]
    for note in dict.fromkeys(n for n in (ref_note, cur_note) if n):
        notes.append(note)
    if ref_kind is None or cur_kind is None:
        return None, False, notes
    as_text = any(n and "mixed types" in n for n in (ref_note, cur_note))
    if ref_kind != cur_kind:
        if ref.frame is None:
            notes.append(
                f"type changed ({ref_kind} in the stored reference, {cur_kind} now): not tested"
            )
            return None, False, notes
        notes.append(
            f"type changed ({ref_kind} in reference, {cur_kind} in current): compared as text"
        )
        return st.CATEGORICAL, True, notes
    return ref_kind, as_text, notes


def _plot(ref: st.Sample, cur: st.Sample, kind: str) -> dict[str, Any] | None:
    if ref.n == 0 or cur.n == 0:
        return None
    if (
        kind == st.NUMERIC
        and ref.values is not None
        and cur.values is not None
        and (ref.nunique > PLOT_CATEGORIES or cur.nunique > PLOT_CATEGORIES)
    ):
        edges = st.sturges_edges(ref, cur)
        edges = np.linspace(edges[0], edges[-1], min(len(edges) - 1, PLOT_BINS) + 1)
        return {
            "kind": "hist",
            "edges": edges.tolist(),
            "reference": st.histogram_shares(ref, edges).tolist(),
            "current": st.histogram_shares(cur, edges).tolist(),
        }
    rc, cc = st._aligned_counts(ref, cur)
    r, c = rc / ref.n, cc / cur.n
    order = (r + c).sort_values(ascending=False, kind="stable").index
    top = list(order[:PLOT_CATEGORIES])
    labels = [str(int(k)) if isinstance(k, float) and k.is_integer() else str(k) for k in top]
    ref_shares = [float(r[k]) for k in top]
    cur_shares = [float(c[k]) for k in top]
    if len(order) > PLOT_CATEGORIES:
        labels.append(f"other ({len(order) - PLOT_CATEGORIES})")
        ref_shares.append(float(1 - sum(ref_shares)))
        cur_shares.append(float(1 - sum(cur_shares)))
    return {"kind": "bars", "labels": labels, "reference": ref_shares, "current": cur_shares}


def _sample_notes(ref: st.Sample, cur: st.Sample, kind: str) -> list[str]:
    notes = [*ref.notes, *cur.notes]
    if not ref.exact:
        notes.append("reference from a stored profile (quantile sketch): approximate")
    if ref.n_missing or cur.n_missing:
        total_r, total_c = ref.n + ref.n_missing, cur.n + cur.n_missing
        notes.append(
            f"missing: {ref.n_missing / max(total_r, 1):.1%} in reference, "
            f"{cur.n_missing / max(total_c, 1):.1%} in current"
        )
    if ref.n and ref.nunique == 1:
        notes.append("constant in reference")
    if kind == st.CATEGORICAL and ref.n > 20 and ref.nunique > 0.5 * ref.n:
        notes.append("mostly distinct values (an id or free text?): drift tests say little")
    if kind == st.CATEGORICAL and ref.counts is not None and cur.counts is not None:
        unseen = cur.counts.index.difference(ref.counts.index, sort=False)
        if len(unseen):
            shown = ", ".join(repr(v) for v in list(unseen[:3]))
            more = f" and {len(unseen) - 3} more" if len(unseen) > 3 else ""
            notes.append(f"{len(unseen)} categories not in reference: {shown}{more}")
    return notes


def test_column(
    ref_side: Side,
    cur_side: Side,
    column: str,
    by_column: Mapping[str, tuple[str | None, float | None]],
    by_type: Mapping[str, tuple[str | None, float | None]],
) -> Outcome:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(column=column, drifted=False, statistic=float("nan"), psi=float("nan"))
    row["p_value"] = float("nan")
    row["threshold"] = float("nan")
    kind, as_text, notes = _kinds(ref_side, cur_side, column)
    row["type"] = kind
    if kind is None:
        row["note"] = "; ".join(notes)
        return Outcome(row, None)
    ref = _prepare(ref_side, column, kind, as_text, reference=True)
    cur = _prepare(cur_side, column, kind, as_text, reference=False)
    kind = st.effective_kind(ref, kind)
    row["type"] = kind
    notes += _sample_notes(ref, cur, kind)
    if ref.n == 0 or cur.n == 0:
        where = "reference" if ref.n == 0 else "current"
        if cur.n == 0 and ref.n > 0:
            row["drifted"] = True
            notes.append("all values missing in current: counted as drifted")
        else:
            notes.append(f"all values missing in {where}: not tested")
        row["note"] = "; ".join(dict.fromkeys(notes))
        return Outcome(row, None)
    test, threshold = by_column.get(column) or by_type.get(kind) or (None, None)
    if test is None:
        test = st.default_test(ref, cur, kind)
    elif test in st.NUMERIC_ONLY and (ref.values is None or cur.values is None):
        raise InvalidInput(
            f"Test {test!r} needs numbers but column {column!r} is categorical. "
            "Use chisquare, z, jensenshannon or psi for it."
        )
    if threshold is None:
        threshold = st.DEFAULT_THRESHOLD[test]
    statistic, p_value = st.run_test(test, ref, cur, kind)
    psi = statistic if test == "psi" else st.psi_from_shares(*st.binned_shares(ref, cur, kind)[:2])
    drifted = bool(p_value < threshold) if p_value is not None else bool(statistic >= threshold)
    if math.isnan(statistic):
        notes.append("the test gave no number: not drifted")
    row.update(
        test=test,
        statistic=statistic,
        p_value=float("nan") if p_value is None else p_value,
        threshold=threshold,
        drifted=drifted,
        psi=psi,
        note="; ".join(dict.fromkeys(notes)) or None,
    )
    return Outcome(row, _plot(ref, cur, kind), ref if ref_side.frame is not None else None)
