"""The values part of a dataset diff: per-column summaries before and after (dtype, nulls,
mean, std, distinct, top values) and the distributions drawn for the columns that moved most.
Split from :mod:`._datadiff_core`, which aligns and compares the rows."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

TOP_DISTRIBUTIONS = 3  # columns whose distributions are drawn


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype):
        return "bool"
    if pd.api.types.is_complex_dtype(s.dtype):  # not "number": a float cast drops the imaginary
        return "complex"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    return "other"


# -- per-column summaries and distributions --------------------------------------------


def _column_summary(s: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {"dtype": str(s.dtype)}
    kind = _kind(s)
    if kind == "number":
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        out["nulls"] = len(values) - len(present)
        with np.errstate(invalid="ignore", over="ignore"):  # inf in a column: NaN stats
            out["mean"] = float(present.mean()) if len(present) else None
            out["std"] = float(present.std(ddof=1)) if len(present) > 1 else None
        out["distinct"] = _distinct(s, present)
        return out
    out["nulls"] = int(s.isna().sum())
    try:
        counts = s.value_counts(dropna=True)
    except TypeError:
        counts = s.astype(str).value_counts(dropna=True)
    out["distinct"] = len(counts)
    total = max(int(counts.sum()), 1)
    out["top"] = ", ".join(f"{v} ({n / total:.0%})" for v, n in counts.head(3).items())
    return out


def _distinct(s: pd.Series, present: np.ndarray) -> int:
    """Distinct values of a numeric column: integers in a range up to 4x their count by
    counting (O(n)), the rest by sorting (which beats hashing for floats)."""
    if len(present) and s.dtype.kind in "iu":  # (NumPy or nullable integers, nulls dropped)
        low, high = present.min(), present.max()
        if high - low < 4 * len(present) and abs(low) < 2**52 and abs(high) < 2**52:
            return int(np.count_nonzero(np.bincount((present - low).astype(np.int64))))
    return len(np.unique(present))


def _summaries(series: list[pd.Series]) -> list[dict[str, Any]]:
    """Column summaries, on a few threads for large frames (numpy sorts and Arrow release the GIL)."""
    rows = max((len(s) for s in series), default=0)
    workers = min(4, os.cpu_count() or 1)
    if rows < 100_000 or workers < 2:
        return [_column_summary(s) for s in series]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_column_summary, series))


def _values(
    a: pd.DataFrame, b: pd.DataFrame, common: list[Any], column_changes: pd.Series
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """Per-column summary before and after (long form) and the distributions to draw."""
    rows = []
    shift: dict[Any, float] = {}
    stats = ("dtype", "nulls", "mean", "std", "distinct", "top")
    columns = [*a.columns, *[c for c in b.columns if c not in a.columns]]
    summaries = _summaries([a[c] for c in a.columns] + [b[c] for c in b.columns])
    side_a = dict(zip(a.columns, summaries[: a.shape[1]]))
    side_b = dict(zip(b.columns, summaries[a.shape[1] :]))
    for c in columns:
        before, after = side_a.get(c, {}), side_b.get(c, {})
        for stat in stats:
            if stat not in before and stat not in after:
                continue
            x, y = before.get(stat), after.get(stat)
            rows.append(
                {"column": c, "stat": stat, "before": x, "after": y, "changed": not _close(x, y)}
            )
        if c in common:
            shift[c] = _shift(before, after, len(a), len(b))
    values = pd.DataFrame(rows, columns=["column", "stat", "before", "after", "changed"])
    ranked = sorted(
        common,
        key=lambda c: (-int(column_changes.get(c, 0)), -shift.get(c, 0.0)),
    )
    picks = [c for c in ranked if column_changes.get(c, 0) > 0 or shift.get(c, 0) > 0]
    distributions = {str(c): _distribution(a[c], b[c]) for c in picks[:TOP_DISTRIBUTIONS]}
    return values, distributions


def _close(x: Any, y: Any) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        if np.isnan(x) and np.isnan(y):
            return True
        return bool(np.isclose(x, y, rtol=1e-9, atol=0.0))
    return bool(x == y)


def _shift(before: dict[str, Any], after: dict[str, Any], n_a: int, n_b: int) -> float:
    """How much a column's summary moved (for ranking what to draw)."""
    score = abs(before.get("nulls", 0) / max(n_a, 1) - after.get("nulls", 0) / max(n_b, 1))
    if before.get("mean") is not None and after.get("mean") is not None:
        scale = before.get("std") or after.get("std") or 1.0
        if scale and np.isfinite(scale):
            score += abs(before["mean"] - after["mean"]) / scale
    if before.get("distinct") != after.get("distinct"):
        score += 0.01
    if before.get("top") != after.get("top"):
        score += 0.1
    return float(score) if np.isfinite(score) else 0.0


def _distribution(sa: pd.Series, sb: pd.Series, bins: int = 20) -> dict[str, Any]:
    if _kind(sa) == _kind(sb) == "number":
        va = sa.to_numpy(dtype=np.float64, na_value=np.nan)
        vb = sb.to_numpy(dtype=np.float64, na_value=np.nan)
        va, vb = va[np.isfinite(va)], vb[np.isfinite(vb)]
        both = np.concatenate([va, vb])
        if len(both):
            edges = np.histogram_bin_edges(both, bins=bins)
            return {
                "kind": "numeric",
                "edges": edges.tolist(),
                "a": np.histogram(va, bins=edges)[0].tolist(),
                "b": np.histogram(vb, bins=edges)[0].tolist(),
            }
    ca = sa.astype(str).value_counts()
    cb = sb.astype(str).value_counts()
    labels = list((ca.add(cb, fill_value=0)).sort_values(ascending=False).index[:10])
    return {
        "kind": "categorical",
        "labels": labels,
        "a": [int(ca.get(v, 0)) for v in labels],
        "b": [int(cb.get(v, 0)) for v in labels],
    }
