"""The values part of a dataset diff: per-column summaries before and after (dtype, nulls,
mean, std, distinct, top values) and the distributions drawn for the columns that moved most.
Split from :mod:`._datadiff_core`, which aligns and compares the rows.

Side A's summaries start on threads before the rows are compared (:class:`Summaries`). After a
keyed diff compared exactly, side B's distinct counts and value counts follow from A's and the
few rows outside the equal matched cells (#18); everything else is computed on B itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._datadiff_counts import Counted, canonical, count_floats, distinct_after
from ._datadiff_numbers import Binned, count_ints, exact_ints, ints_after, mean_std
from ._datadiff_work import Work, default_workers

TOP_DISTRIBUTIONS = 3  # columns whose distributions are drawn
THREADED_ROWS = 100_000  # from this many rows the summaries run on threads
MAX_TIED = 64  # values with equal counts put in B's order from their first rows; more: recount
MAX_COUNTED = 10_000  # B's value counts from A's up to this many values; more: recount
_STR = pd.StringDtype(na_value=np.nan)  # pandas' default string dtype: astype(str) keeps it
STATS = ("dtype", "nulls", "mean", "std", "distinct", "top")


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


# -- the rows a keyed diff matched -------------------------------------------------------


@dataclass(frozen=True)
class Matched:
    """Rows a keyed diff matched (``ia`` in A, ``ib`` in B) and, per compared column, which of
    them differ (``masks``). Compared exactly (no ``atol``/``rtol``) the other matched cells
    are equal. ``rest_a``/``rest_b``: rows no row of the other side matched. ``in_order``:
    every row matched the row at the same position."""

    ia: np.ndarray
    ib: np.ndarray
    masks: dict[Any, np.ndarray]
    rest_a: np.ndarray
    rest_b: np.ndarray
    in_order: bool = False

    @classmethod
    def of(
        cls, ia: np.ndarray, ib: np.ndarray, masks: dict[Any, np.ndarray], n_a: int, n_b: int
    ) -> Matched:
        in_order = n_a == n_b == len(ia) and bool((ia == ib).all() and (np.diff(ia) == 1).all())
        return cls(ia, ib, masks, _complement(ia, n_a), _complement(ib, n_b), in_order)

    def outside(self, column: Any) -> tuple[np.ndarray, np.ndarray]:
        """Rows of A, of B, whose cells of ``column`` are not among the equal matched cells."""
        differ = np.flatnonzero(self.masks[column])
        return (
            np.concatenate([self.rest_a, self.ia[differ]]),
            np.concatenate([self.rest_b, self.ib[differ]]),
        )


def _identical(sa: pd.Series, sb: pd.Series) -> bool:
    """The same dtype and the same bytes (numpy) or Arrow values, row by row: -0.0 is not 0.0
    here, since a mean could show the sign."""
    if sa.dtype != sb.dtype:
        return False
    if isinstance(sa.dtype, np.dtype) and sa.dtype.kind in "biufcmM":
        va, vb = sa.to_numpy(), sb.to_numpy()
        if va.flags.c_contiguous and vb.flags.c_contiguous:
            return bool(np.array_equal(va.view(np.uint8), vb.view(np.uint8)))
        return False
    if sa.dtype == _STR:
        return bool(sa.array.__arrow_array__().equals(sb.array.__arrow_array__()))
    return False


def _complement(rows: np.ndarray, n: int) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class Before:
    """Side A's summary of a column, the column, and the rows of A and B outside its equal
    matched cells: side B's column is A's minus ``column[rows_a]`` plus ``b[rows_b]``."""

    summary: dict[str, Any]
    column: pd.Series
    rows_a: np.ndarray
    rows_b: np.ndarray

    def few(self, n: int) -> bool:
        """Few enough rows outside for B's counts to come from A's faster than counting B."""
        return len(self.rows_a) + len(self.rows_b) < n // 4


# -- per-column summaries ----------------------------------------------------------------


def _column_summary(
    s: pd.Series, before: Before | None = None, keep: bool = False
) -> dict[str, Any]:
    """dtype, nulls, mean, std, distinct (numbers); dtype, nulls, distinct, top (the rest).

    Private entries: ``_counts``, the value counts of a string column (for its distribution);
    with ``keep``, ``_floats``, the :class:`Counted` values of a float column's distinct count,
    or ``_bins``, the :class:`Binned` integers of an integer column's (for side B's count)."""
    out: dict[str, Any] = {"dtype": str(s.dtype)}
    if _kind(s) == "number":
        _number_summary(out, s, before, keep)
        return out
    out["nulls"] = s.array.__arrow_array__().null_count if s.dtype == _STR else int(s.isna().sum())
    counts = _counts_after(s, before) if before is not None else None
    if counts is None:
        try:
            counts = s.value_counts(dropna=True)
        except TypeError:
            counts = s.astype(str).value_counts(dropna=True)
    if s.dtype == _STR:
        out["_counts"] = counts
    out["distinct"] = len(counts)
    total = max(int(counts.sum()), 1)
    out["top"] = ", ".join(f"{v} ({n / total:.0%})" for v, n in counts.head(3).items())
    return out


def _present(values: np.ndarray) -> np.ndarray:
    """The values that are not NaN (the array itself when none is: no copy)."""
    missing = np.isnan(values)
    return values[~missing] if missing.any() else values


def _is_int(s: pd.Series) -> bool:
    return isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"


def _number_summary(out: dict[str, Any], s: pd.Series, before: Before | None, keep: bool) -> None:
    """nulls, mean, std and distinct of a number column. NumPy integers are summed as they are
    when their float sums are exact (no copy to floats)."""
    low = high = 0
    exact = False
    if _is_int(s):
        present = raw = s.to_numpy()
        if len(present):
            low, high = int(present.min()), int(present.max())
        exact = exact_ints(present, low, high)
        if not exact:
            present = present.astype(np.float64)
    else:
        present = raw = _present(s.to_numpy(dtype=np.float64, na_value=np.nan))
        if len(present) and s.dtype.kind in "iu":  # nullable integers, nulls dropped
            low, high = int(present.min()), int(present.max())
    out["nulls"] = len(s) - len(present)
    out["mean"], out["std"] = mean_std(present, ints_exact=exact)
    _number_distinct(out, s, raw, low, high, before, keep)


def _number_distinct(
    out: dict[str, Any],
    s: pd.Series,
    present: np.ndarray,
    low: int,
    high: int,
    before: Before | None,
    keep: bool,
) -> None:
    """Integers in a range up to 4x their count by counting (O(n)); other numbers as floats,
    by hashing (:func:`count_floats`). On side B, from side A's bins or count. ``present``:
    the values without NaN (NumPy integers as they are)."""
    summary_a = before.summary if before is not None and before.few(len(present)) else {}
    binned_a: Binned | None = summary_a.get("_bins")
    if before is not None and binned_a is not None and s.dtype == before.column.dtype:
        gone, new = _ints_at(before.column, before.rows_a), _ints_at(s, before.rows_b)
        out["distinct"] = ints_after(binned_a, gone, new)
        return
    if len(present) and s.dtype.kind in "iu":  # (NumPy or nullable integers, nulls dropped)
        binned = count_ints(present, low, high)
        if binned is not None:
            if keep:
                out["_bins"] = binned
            out["distinct"] = binned.distinct
            return
    floats_a: Counted | None = summary_a.get("_floats")
    if (
        before is not None
        and floats_a is not None
        and floats_a.distinct * 4 >= len(floats_a.values)  # else B's count is as quick
    ):
        gone_f = canonical(_floats_at(before.column, before.rows_a))
        new_f = canonical(_floats_at(s, before.rows_b))
        out["distinct"] = distinct_after(floats_a, gone_f, new_f)
        return
    counted = count_floats(present.astype(np.float64, copy=False))  # -0.0 and 0.0: one value
    if keep:
        out["_floats"] = counted
    out["distinct"] = counted.distinct


def _ints_at(s: pd.Series, rows: np.ndarray) -> np.ndarray:
    """The integers at ``rows`` (missing ones left out), as :func:`_number_summary` counts."""
    if _is_int(s):
        return s.to_numpy()[rows]
    return _present(_floats_at(s, rows))


def _floats_at(s: pd.Series, rows: np.ndarray) -> np.ndarray:
    return s.iloc[rows].to_numpy(dtype=np.float64, na_value=np.nan)


def _counts_after(s: pd.Series, before: Before) -> pd.Series | None:
    """B's value counts of a string column, as ``s.value_counts()`` orders them: A's, less the
    rows that left, plus those that came, ties put in the order of their first row in B. None
    (count B itself) when many rows changed or many values are counted or tie."""
    counts_a = before.summary.get("_counts")
    if (
        counts_a is None
        or len(counts_a) > MAX_COUNTED
        or s.dtype != before.column.dtype
        or not before.few(len(s))
    ):
        return None
    counts = dict(zip(counts_a.index, counts_a.to_numpy().tolist()))
    for value, n in _tally(before.column, before.rows_a):
        counts[value] -= n
    for value, n in _tally(s, before.rows_b):
        counts[value] = counts.get(value, 0) + n
    labels = [v for v, n in counts.items() if n > 0]
    numbers = np.array([counts[v] for v in labels], dtype=np.int64)
    _, where, repeats = np.unique(numbers, return_inverse=True, return_counts=True)
    tied = np.flatnonzero(repeats[where] > 1)
    if len(tied) > MAX_TIED:
        return None
    first = np.zeros(len(labels), dtype=np.int64)  # value_counts: a stable sort of the values
    first[tied] = [_first_row(s, labels[i]) for i in tied]  # in order of their first row
    order = np.lexsort((first, -numbers))
    index = pd.Index([labels[i] for i in order], dtype=counts_a.index.dtype, name=s.name)
    return pd.Series(numbers[order], index=index, name="count")


def _tally(s: pd.Series, rows: np.ndarray) -> list[tuple[Any, int]]:
    """The values at ``rows`` and how often each occurs, missing ones left out; a string
    column's counted by Arrow (a Series' value_counts costs ~1 ms more, mostly pandas')."""
    if s.dtype == _STR:
        import pyarrow.compute as pc

        counted = pc.value_counts(s.array.__arrow_array__().take(rows))
        pairs = zip(counted.field(0).to_pylist(), counted.field(1).to_pylist())
        return [(value, n) for value, n in pairs if value is not None]
    counted = s.iloc[rows].value_counts(dropna=True)
    return list(zip(counted.index, counted.to_numpy().tolist()))


def _first_row(s: pd.Series, value: Any) -> int:
    """Position of the first row of ``s`` that holds ``value`` (one of its values)."""
    try:
        import pyarrow.compute as pc

        return int(pc.index(s.array.__arrow_array__(), value).as_py())  # stops at the first
    except (AttributeError, TypeError, ValueError, NotImplementedError):
        return int(np.argmax(s.eq(value).to_numpy(dtype=bool, na_value=False)))


class Summaries:
    """The column summaries of a diff. Side A's start at once, on a worker thread for large
    frames (numpy and Arrow release the GIL), while the caller compares the rows; then
    :meth:`values` helps with what is left, adds side B's and returns the long-form table and
    the distributions. Use as a context manager."""

    def __init__(self, a: pd.DataFrame, *, keep: bool) -> None:
        self._work = Work(default_workers() if len(a) >= THREADED_ROWS else 0)
        self._a = a
        slow_first = sorted(a.columns, key=lambda c: _cost(a[c]), reverse=True)
        self._side_a = {c: self._work.submit(_column_summary, a[c], None, keep) for c in slow_first}

    def __enter__(self) -> Summaries:
        return self

    def __exit__(self, *exc: object) -> None:
        self._work.__exit__(*exc)

    def _after(self, c: Any, sb: pd.Series, matched: Matched | None) -> dict[str, Any]:
        if matched is None or c not in matched.masks:
            return _column_summary(sb)
        rows_a, rows_b = matched.outside(c)
        summary_a, sa = self._side_a[c].result(), self._a[c]
        if matched.in_order and not len(rows_a) and not len(rows_b) and _identical(sa, sb):
            return summary_a  # the same column: the same summary (no second pass over it)
        before = Before(summary_a, sa, rows_a, rows_b)
        return {**_column_summary(sb, before), "_before": before}

    def values(
        self,
        b: pd.DataFrame,
        common: list[Any],
        column_changes: pd.Series,
        matched: Matched | None = None,
    ) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
        """Per-column summary before and after (long form) and the distributions to draw.
        ``matched``: the rows of an exact keyed diff (B's counts then come from A's)."""
        self._work.help()  # A's summaries not started yet: all of them are running or done
        slow_first = sorted(b.columns, key=lambda c: _cost(b[c]), reverse=True)
        side_b_futures = {c: self._work.submit(self._after, c, b[c], matched) for c in slow_first}
        self._work.help()
        a = self._a
        side_a = {c: self._side_a[c].result() for c in a.columns}
        side_b = {c: side_b_futures[c].result() for c in b.columns}
        rows = []
        shift: dict[Any, float] = {}
        columns = [*a.columns, *[c for c in b.columns if c not in a.columns]]
        for c in columns:
            before, after = side_a.get(c, {}), side_b.get(c, {})
            for stat in STATS:
                if stat not in before and stat not in after:
                    continue
                x, y = before.get(stat), after.get(stat)
                rows.append(
                    {
                        "column": c,
                        "stat": stat,
                        "before": x,
                        "after": y,
                        "changed": not _close(x, y),
                    }
                )
            if c in common:
                shift[c] = _shift(before, after, len(a), len(b))
        values = pd.DataFrame(rows, columns=["column", "stat", "before", "after", "changed"])
        ranked = sorted(
            common,
            key=lambda c: (-int(column_changes.get(c, 0)), -shift.get(c, 0.0)),
        )
        picks = [c for c in ranked if column_changes.get(c, 0) > 0 or shift.get(c, 0) > 0]
        drawn = {
            str(c): self._work.submit(
                _distribution,
                a[c],
                b[c],
                side_a[c].get("_counts"),
                side_b[c].get("_counts"),
                side_b[c].get("_before"),
            )
            for c in picks[:TOP_DISTRIBUTIONS]
        }
        self._work.help()
        return values, {c: f.result() for c, f in drawn.items()}


def _cost(s: pd.Series) -> int:
    """Which summaries take longest (to start them first): floats, then others, integers."""
    if pd.api.types.is_float_dtype(s.dtype):
        return 2
    return 0 if _is_int(s) else 1


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


# -- distributions -----------------------------------------------------------------------


def _distribution(
    sa: pd.Series,
    sb: pd.Series,
    counts_a: pd.Series | None = None,
    counts_b: pd.Series | None = None,
    before: Before | None = None,
    bins: int = 20,
) -> dict[str, Any]:
    """Histograms of two numeric columns on shared edges, else the counts of their 10 most
    common values. ``counts_*``: the value counts already taken of a string column;
    ``before``: B's histogram is then A's less the rows that left plus those that came."""
    if _kind(sa) == _kind(sb) == "number":
        va, vb = _finite(sa), _finite(sb)
        if len(va) or len(vb):
            ends = np.array([f(v) for v in (va, vb) if len(v) for f in (np.min, np.max)])
            edges = np.histogram_bin_edges(ends, bins=bins)  # the edges all the values give
            # equal bins: numpy places the values by arithmetic (checked against the edges),
            # not by a sort of them, unless the span overflows
            fast = bool(np.isfinite(edges[-1] - edges[0]))
            cut: dict[str, Any] = (
                {"bins": bins, "range": (edges[0], edges[-1])} if fast else {"bins": edges}
            )
            hist_a = np.histogram(va, **cut)[0]
            if before is not None and before.few(len(sb)):
                gone = np.histogram(_finite(before.column.iloc[before.rows_a]), **cut)[0]
                hist_b = hist_a - gone + np.histogram(_finite(sb.iloc[before.rows_b]), **cut)[0]
            else:
                hist_b = np.histogram(vb, **cut)[0]
            return {
                "kind": "numeric",
                "edges": edges.tolist(),
                "a": hist_a.tolist(),
                "b": hist_b.tolist(),
            }
    ca = counts_a if counts_a is not None else sa.astype(str).value_counts()
    cb = counts_b if counts_b is not None else sb.astype(str).value_counts()
    labels = list((ca.add(cb, fill_value=0)).sort_values(ascending=False).index[:10])
    return {
        "kind": "categorical",
        "labels": labels,
        "a": [int(ca.get(v, 0)) for v in labels],
        "b": [int(cb.get(v, 0)) for v in labels],
    }


def _finite(s: pd.Series) -> np.ndarray:
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]
