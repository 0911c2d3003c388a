"""Per-column profiles of a dataset, stored once per distinct content.

``profile(obj)`` returns ``{column_name: column_profile}`` (column names as strings; a Series is
one column named after it, or ``"value"``; a 1-D array is ``"value"``; a 2-D array's columns are
``"0"``, ``"1"``, ...). Every column profile has:

    dtype       str, the pandas/numpy dtype
    kind        "numeric" | "bool" | "datetime" | "categorical"
    count       int, non-null values
    nulls       int, null values
    distinct    int, distinct non-null values (on the sample when ``sampled``)
    sampled     int | None, rows used for distinct/quantiles/histogram/top when the data was
                larger than ``SAMPLE_ROWS`` (a deterministic, evenly spaced sample), else None;
                for a large array profiled later, min/max/mean/std come from that sample too

numeric columns add (floats; ``None`` when there is no non-null value):

    min, max, mean, std
    quantiles   {"0.05": q, "0.25": q, "0.5": q, "0.75": q, "0.95": q}
    histogram   {"edges": [11 floats], "counts": [10 ints]} over [min, max] of the sample

datetime columns add ``min`` and ``max`` as ISO strings; categorical and bool columns add

    top         [[value as str, count], ...] the 10 most frequent values (of the sample)

Only the first ``MAX_COLUMNS`` columns are profiled; wider data has a ``"__truncated__"`` key
with the number of columns left out.

Capture profiles off the cell's critical path: :func:`deferred` takes what it needs now (a
pandas object as a copy-on-write shallow copy, which later edits of the original cannot
reach; a large array as an evenly spaced sample of rows plus its exact null counts) and
returns a function that computes the profile later, on the store's writer thread. A large
array is profiled where it lives, with a change guard (see ``LazyFingerprint``).
"""

from __future__ import annotations

import math
from typing import Any

from .fingerprint import EAGER_BYTES, _sample_token, copy_on_write

SAMPLE_ROWS = 20_000
MAX_COLUMNS = 200
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
BINS = 10
TOP = 10


def deferred(obj: Any) -> Any:
    """A function computing ``profile(obj)`` later, as ``obj`` is now (module docstring)."""
    import sys

    import numpy as np

    pd = sys.modules.get("pandas")  # an object can only be a DataFrame if pandas is loaded
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)) and copy_on_write(pd):
        snapshot = obj.copy(deep=False)  # copy-on-write: the original's later edits copy
        return lambda: profile(snapshot)
    if isinstance(obj, np.ndarray) and obj.ndim >= 1 and obj.nbytes >= EAGER_BYTES:
        # Large arrays are profiled where they live, later; a guard (as for their fingerprint)
        # tells if the array changed in between, and then that version is not recorded.
        guard = _sample_token(obj)

        def later() -> dict[str, Any]:
            out = profile(obj)
            if _sample_token(obj) != guard:
                raise DataChanged("the array changed before it could be profiled")
            return out

        return later
    if isinstance(obj, np.ndarray) and obj.ndim >= 2:
        copied = obj.reshape(obj.shape[0], -1)[:, :MAX_COLUMNS].copy()
    else:
        copied = obj.copy()
    return lambda: profile(copied)


class DataChanged(Exception):
    """The data changed between the end of its cell and its (deferred) profile."""


def profile(obj: Any, *, rows: int | None = None, nulls: list[int] | None = None) -> dict[str, Any]:
    """Column profiles of a DataFrame, Series or ndarray (see the module docstring).

    ``rows`` and ``nulls`` are the exact row count and per-column null counts when ``obj`` is a
    sample of larger data. Numeric and boolean arrays are profiled with numpy alone: a notebook
    that never imports pandas does not pay for its import (0.3-0.5 s) because of capture."""
    import numpy as np

    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":
        return _profile_array(obj, rows=rows, nulls=nulls)
    import pandas as pd

    if isinstance(obj, pd.Series):
        frame = obj.to_frame(name="value" if obj.name is None else obj.name)
    elif isinstance(obj, pd.DataFrame):
        frame = obj
    elif isinstance(obj, np.ndarray):
        if obj.ndim == 0:
            frame = pd.DataFrame({"value": obj.reshape(1)})
        elif obj.ndim == 1:
            frame = pd.DataFrame({"value": obj})
        else:
            frame = pd.DataFrame(obj.reshape(obj.shape[0], -1))
    else:
        return {}
    out: dict[str, Any] = {}
    n_cols = frame.shape[1]
    for i in range(min(n_cols, MAX_COLUMNS)):
        column = profile_column(frame.iloc[:, i])
        if rows is not None and nulls is not None and i < len(nulls):
            column.update(count=rows - int(nulls[i]), nulls=int(nulls[i]), sampled=len(frame))
        out[str(frame.columns[i])] = column
    if n_cols > MAX_COLUMNS:
        out["__truncated__"] = n_cols - MAX_COLUMNS
    return out


def _profile_array(obj: Any, *, rows: int | None, nulls: list[int] | None) -> dict[str, Any]:
    import numpy as np

    flat = obj.reshape(1, 1) if obj.ndim == 0 else obj.reshape(obj.shape[0], -1)
    names = ["value"] if obj.ndim <= 1 else [str(i) for i in range(flat.shape[1])]
    out: dict[str, Any] = {}
    for i, name in enumerate(names[:MAX_COLUMNS]):
        column = _array_column(flat[:, i], np)
        if rows is not None and nulls is not None and i < len(nulls):
            column.update(count=rows - int(nulls[i]), nulls=int(nulls[i]), sampled=len(flat))
        out[name] = column
    if len(names) > MAX_COLUMNS:
        out["__truncated__"] = len(names) - MAX_COLUMNS
    return out


def _array_column(col: Any, np: Any) -> dict[str, Any]:
    """:func:`profile_column` for one numeric or boolean numpy column, with the same fields."""
    n = len(col)
    nan = np.isnan(col) if col.dtype.kind == "f" else None
    nulls = int(nan.sum()) if nan is not None else 0
    result: dict[str, Any] = {"dtype": str(col.dtype), "count": n - nulls, "nulls": nulls}
    sample = col
    result["sampled"] = None
    if n > SAMPLE_ROWS:
        sample = col[np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64)]
        result["sampled"] = SAMPLE_ROWS
    if col.dtype.kind == "b":
        result["kind"] = "bool"
        values, counts = np.unique(sample, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:TOP]
        result["distinct"] = len(values)
        result["top"] = [[str(bool(values[j])), int(counts[j])] for j in order]
        return result
    result["kind"] = "numeric"
    values = col.astype("float64", copy=False)
    finite = values[np.isfinite(values)]
    svalues = sample.astype("float64", copy=False)
    sfinite = svalues[np.isfinite(svalues)]
    present = svalues[~np.isnan(svalues)]
    result["distinct"] = len(np.unique(present))
    if finite.size == 0:
        result.update(min=None, max=None, mean=None, std=None, quantiles={}, histogram=None)
        return result
    lo, hi = float(finite.min()), float(finite.max())
    result["min"], result["max"], result["mean"] = _f(lo), _f(hi), _f(finite.mean())
    result["std"] = _f(finite.std(ddof=1)) if finite.size > 1 else 0.0
    qs = np.quantile(sfinite, QUANTILES) if sfinite.size else [math.nan] * len(QUANTILES)
    result["quantiles"] = {str(q): _f(v) for q, v in zip(QUANTILES, qs)}
    if lo == hi:
        hi = lo + 1.0
    counts, edges = np.histogram(sfinite, bins=BINS, range=(lo, hi))
    result["histogram"] = {"edges": [_f(e) for e in edges], "counts": [int(c) for c in counts]}
    return result


def profile_column(col: Any) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    n = len(col)
    nulls = int(col.isna().sum())
    result: dict[str, Any] = {"dtype": str(col.dtype), "count": n - nulls, "nulls": nulls}
    sample = col
    result["sampled"] = None
    if n > SAMPLE_ROWS:
        idx = np.linspace(0, n - 1, SAMPLE_ROWS).astype(np.int64)
        sample = col.iloc[idx]
        result["sampled"] = SAMPLE_ROWS
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        result["kind"] = "bool"
        _top(result, sample)
    elif (
        pd.api.types.is_numeric_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
        and not pd.api.types.is_complex_dtype(dtype)
    ):
        result["kind"] = "numeric"
        _numeric(result, col, sample, np)
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        result["kind"] = "datetime"
        values = col.dropna()
        result["distinct"] = int(sample.nunique(dropna=True))
        result["min"] = values.min().isoformat() if len(values) else None
        result["max"] = values.max().isoformat() if len(values) else None
    else:
        result["kind"] = "categorical"
        _top(result, sample)
    return result


def _numeric(result: dict[str, Any], col: Any, sample: Any, np: Any) -> None:
    values = col.to_numpy(dtype="float64", na_value=np.nan)  # no copy for float64 columns
    finite_mask = np.isfinite(values)
    finite = values if finite_mask.all() else values[finite_mask]
    svalues = sample.to_numpy(dtype="float64", na_value=np.nan)
    sfinite = svalues[np.isfinite(svalues)]
    result["distinct"] = int(sample.nunique(dropna=True))
    if finite.size == 0:
        result.update(min=None, max=None, mean=None, std=None, quantiles={}, histogram=None)
        return
    lo, hi = float(finite.min()), float(finite.max())
    mean = float(finite.mean())
    result["min"], result["max"], result["mean"] = _f(lo), _f(hi), _f(mean)
    result["std"] = _f(finite.std(ddof=1)) if finite.size > 1 else 0.0
    qs = np.quantile(sfinite, QUANTILES) if sfinite.size else [math.nan] * len(QUANTILES)
    result["quantiles"] = {str(q): _f(v) for q, v in zip(QUANTILES, qs)}
    if lo == hi:
        hi = lo + 1.0
    counts, edges = np.histogram(sfinite, bins=BINS, range=(lo, hi))
    result["histogram"] = {"edges": [_f(e) for e in edges], "counts": [int(c) for c in counts]}


def _top(result: dict[str, Any], sample: Any) -> None:
    counts = sample.astype(object).value_counts(dropna=True)
    result["distinct"] = len(counts)
    result["top"] = [[str(k), int(v)] for k, v in counts.head(TOP).items()]


def _f(value: Any) -> float | None:
    v = float(value)
    return None if math.isnan(v) else v
