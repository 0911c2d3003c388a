"""The statistics behind drift reports: one column's two samples in, a number out.

Each side of a column is prepared once into a :class:`Sample` (missing values dropped, numbers
sorted, categories counted); every test then works on those arrays, vectorised:

- ``ks``: two-sample Kolmogorov-Smirnov. The statistic comes from the two sorted arrays and
  ``searchsorted`` at the ends of tie groups; the p-value is scipy's: ``ks_2samp`` itself while
  both samples have at most 10,000 values (its exact mode), else the asymptotic
  ``kstwo.sf(D, round(n*m/(n+m)))``, as ``ks_2samp`` does.
- ``wasserstein``: the first Wasserstein distance from the two quantile functions (integer
  grid of the ranks, no merge sort of the data), divided by the reference's standard deviation
  (at least 0.001), as Evidently does. Equal to ``scipy.stats.wasserstein_distance`` / std,
  about 10x faster.
- ``jensenshannon``: ``scipy.spatial.distance.jensenshannon`` (natural log) of the two
  frequency vectors over shared bins (below).
- ``chisquare``: the two-sample chi-square test of homogeneity: ``scipy.stats.chi2_contingency``
  on the 2 x k table of category counts, without Yates' correction. Evidently instead runs a
  goodness-of-fit test that treats the reference proportions as exact, which raises false alarms
  on small samples; that test is available as ``chisquare_gof``.
- ``z``: the Z-test for two proportions (the share of the first category, in sorted order).
- ``psi``: population stability index ``sum((r - c) * ln(r / c))`` over the shared bins, with
  empty bins set to 0.0001 (or the smallest non-zero share / 10**6 when that is below 0.0001).

Shared bins follow Evidently: a numeric column whose reference has more than 20 distinct values
uses ``np.histogram`` bins over both samples together (Sturges' rule, the range of both);
anything else uses the union of the distinct values (categories). As in Evidently 0.7, an
integer column whose reference has at most 10 distinct values is compared as categories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = "numeric"
CATEGORICAL = "categorical"

P_VALUE_TESTS = ("ks", "chisquare", "chisquare_gof", "z")
DISTANCE_TESTS = ("wasserstein", "jensenshannon", "psi")
TESTS = P_VALUE_TESTS + DISTANCE_TESTS
ALIASES = {
    "js": "jensenshannon",
    "jensen_shannon": "jensenshannon",
    "wasserstein_distance": "wasserstein",
    "chi2": "chisquare",
    "chi_square": "chisquare",
    "ztest": "z",
    "z_test": "z",
    "kolmogorov_smirnov": "ks",
}
NUMERIC_ONLY = ("ks", "wasserstein")
DEFAULT_THRESHOLD = {t: 0.05 for t in P_VALUE_TESTS} | {t: 0.1 for t in DISTANCE_TESTS}

SKETCH_SIZE = 2000  # quantile points kept for a numeric column of a stored reference
MAX_STORED_COUNTS = 1000  # distinct values kept as exact counts in a stored reference
KS_EXACT_MAX = 10_000  # scipy's ks_2samp switches from exact to asymptotic above this
INTEGER_CARDINALITY_LIMIT = (
    10  # Evidently 0.7: integer columns with at most 10 values are categories
)


@dataclass
class Sample:
    """One side of one column, prepared once.

    ``values`` are the sorted non-missing numbers (``NUMERIC``); ``counts`` the distinct values
    and their counts (categories, or numbers with few distinct values). A sample rebuilt from a
    stored profile with more than ``SKETCH_SIZE`` values holds quantile points instead of the
    values (``exact`` False); ``n`` is always the true count.
    """

    kind: str
    n: int
    n_missing: int
    nunique: int
    values: np.ndarray | None = None
    counts: pd.Series | None = None
    std: float = float("nan")
    minimum: float = float("nan")
    maximum: float = float("nan")
    exact: bool = True
    integer: bool = False  # an integer dtype (few distinct values make it categorical)
    notes: list[str] = field(default_factory=list)


# -- preparing samples ---------------------------------------------------------------------


def column_kind(series: pd.Series) -> tuple[str | None, str | None]:
    """``(NUMERIC | CATEGORICAL | None, note)``: how a column is compared (None: not at all)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL, None
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERIC, None
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return None, "date/time column: not tested"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
    else:
        inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return NUMERIC, "numbers stored as objects: compared as numbers"
    if inferred in ("empty",):
        return CATEGORICAL, None
    if inferred in ("mixed", "mixed-integer"):
        return CATEGORICAL, "mixed types: compared as text"
    if inferred in ("datetime", "datetime64", "date", "time", "timedelta", "period"):
        return None, "date/time column: not tested"
    return CATEGORICAL, None


def _unique_counts(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and their counts, without another sort."""
    if sorted_values.size == 0:
        return sorted_values, np.zeros(0, dtype=np.int64)
    ends = np.flatnonzero(sorted_values[1:] != sorted_values[:-1])
    last = np.append(ends, sorted_values.size - 1)
    counts = np.diff(last, prepend=-1)
    return sorted_values[last], counts


def numeric_sample(series: pd.Series, *, as_objects: bool = False, with_std: bool = True) -> Sample:
    """Sort the finite values once; count distinct values when there are few.

    ``with_std``: the standard deviation is only needed on the reference side.
    """
    if as_objects:
        arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    elif series.dtype == np.float64:
        arr = series.to_numpy()  # a view: the sort below makes the only copy
    else:
        arr = series.to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(arr)
    notes = []
    if finite.all():
        values = np.sort(arr)
    else:
        n_inf = int(np.count_nonzero(np.isinf(arr[~finite])))
        if n_inf:
            notes.append(f"{n_inf} infinite values treated as missing")
        values = arr[finite]
        values.sort()
    n = int(values.size)
    sample = Sample(NUMERIC, n=n, n_missing=int(arr.size - n), nunique=0, values=values)
    sample.notes = notes
    sample.integer = pd.api.types.is_integer_dtype(series.dtype)
    if n:
        distinct = 1 + int(np.count_nonzero(values[1:] != values[:-1]))
        sample.nunique = distinct
        if with_std:
            centred = values - values.mean()
            sample.std = float(np.sqrt(np.dot(centred, centred) / n))
        sample.minimum, sample.maximum = float(values[0]), float(values[-1])
        if distinct <= MAX_STORED_COUNTS:
            keys, counts = _unique_counts(values)
            sample.counts = pd.Series(counts, index=keys)
    return sample


def categorical_sample(series: pd.Series, *, as_text: bool = False) -> Sample:
    """Count the categories (missing values dropped)."""
    if as_text:
        series = series.map(lambda v: v if v is None or v != v else str(v))
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    n = int(counts.sum())
    return Sample(
        CATEGORICAL,
        n=n,
        n_missing=int(len(series) - n),
        nunique=int(counts.size),
        counts=counts.astype(np.int64),
    )


# -- stored reference profiles -------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (str, int)):
        return value
    return str(value)


def sample_to_profile(sample: Sample) -> dict[str, Any]:
    """A JSON-ready profile of a reference sample (exact up to ``SKETCH_SIZE`` values)."""
    out: dict[str, Any] = {
        "kind": sample.kind,
        "n": sample.n,
        "n_missing": sample.n_missing,
        "nunique": sample.nunique,
        "integer": sample.integer,
    }
    if sample.counts is not None and sample.nunique <= MAX_STORED_COUNTS:
        out["count_values"] = [_jsonable(v) for v in sample.counts.index]
        out["count_counts"] = [int(c) for c in sample.counts.to_numpy()]
    elif sample.kind == CATEGORICAL and sample.counts is not None:
        top = sample.counts.sort_values(ascending=False).head(MAX_STORED_COUNTS)
        out["count_values"] = [_jsonable(v) for v in top.index]
        out["count_counts"] = [int(c) for c in top.to_numpy()]
        out["counts_truncated"] = True
    if sample.kind == NUMERIC and sample.values is not None and sample.n:
        out.update(std=sample.std, min=sample.minimum, max=sample.maximum)
        if sample.n <= SKETCH_SIZE:
            out["values"] = sample.values.tolist()
        elif sample.counts is None:
            # quantile points at evenly spaced ranks, first and last included
            idx = np.round(np.linspace(0, sample.n - 1, SKETCH_SIZE)).astype(np.int64)
            out["sketch"] = sample.values[idx].tolist()
    return out


def sample_from_profile(profile: dict[str, Any]) -> Sample:
    """Rebuild a reference sample from a stored profile."""
    kind = profile["kind"]
    counts = None
    if "count_values" in profile:
        counts = pd.Series(
            np.asarray(profile["count_counts"], dtype=np.int64), index=profile["count_values"]
        )
    sample = Sample(
        kind,
        n=int(profile["n"]),
        n_missing=int(profile["n_missing"]),
        nunique=int(profile["nunique"]),
        counts=counts,
        integer=bool(profile.get("integer", False)),
    )
    if profile.get("counts_truncated"):
        sample.exact = False
    if kind == NUMERIC and sample.n:
        sample.std = float(profile["std"])
        sample.minimum, sample.maximum = float(profile["min"]), float(profile["max"])
        if "values" in profile:
            sample.values = np.asarray(profile["values"], dtype=float)
        elif counts is not None:
            keys = np.asarray(counts.index, dtype=float)
            sample.values = np.repeat(keys, counts.to_numpy())
            sample.counts = pd.Series(counts.to_numpy(), index=keys)
        else:
            sample.values = np.asarray(profile["sketch"], dtype=float)
            sample.exact = False
    return sample


# -- default test --------------------------------------------------------------------------


def combined_nunique(ref: Sample, cur: Sample) -> int:
    """Distinct values over both samples (exact when it matters: up to 5)."""
    if ref.nunique > 5 or cur.nunique > 5:
        return max(ref.nunique, cur.nunique, 6)
    if ref.counts is None or cur.counts is None:
        return max(ref.nunique, cur.nunique)
    return len(ref.counts.index.union(cur.counts.index))


def effective_kind(ref: Sample, kind: str) -> str:
    """Evidently 0.7 reads integer columns with at most 10 distinct values as categories."""
    if kind == NUMERIC and ref.integer and ref.nunique <= INTEGER_CARDINALITY_LIMIT:
        return CATEGORICAL
    return kind


def default_test(ref: Sample, cur: Sample, kind: str) -> str:
    """Evidently's DataDriftPreset choice, on the reference's non-missing count."""
    n_values = combined_nunique(ref, cur)
    if ref.n <= 1000:
        if kind == NUMERIC and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if kind == NUMERIC and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


# -- the statistics ------------------------------------------------------------------------


def _right_counts(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how many values are <= each."""
    ends = np.flatnonzero(sorted_values[1:] != sorted_values[:-1])
    last = np.append(ends, sorted_values.size - 1)
    return sorted_values[last], last + 1


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| of two sorted arrays, as ``ks_2samp`` computes it."""
    n, m = a.size, b.size
    ua, ra = _right_counts(a)
    ub, rb = _right_counts(b)
    d_at_a = np.abs(ra / n - np.searchsorted(b, ua, side="right") / m)
    d_at_b = np.abs(np.searchsorted(a, ub, side="right") / n - rb / m)
    return float(max(d_at_a.max(), d_at_b.max()))


def ks_test(ref: Sample, cur: Sample) -> tuple[float, float]:
    from scipy import stats

    a, b = ref.values, cur.values
    assert a is not None and b is not None
    if ref.exact and max(a.size, b.size) <= KS_EXACT_MAX:
        res = stats.ks_2samp(a, b)
        return float(res.statistic), float(res.pvalue)
    d = ks_statistic(a, b)
    big, small = sorted([float(ref.n), float(cur.n)], reverse=True)
    en = big * small / (big + small)
    p = float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))
    return d, p


def wasserstein_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """First Wasserstein distance of two sorted samples: the integral of |Q_a(u) - Q_b(u)|.

    Both quantile functions are step functions with steps at i/n and j/m; on the common grid
    (integers i*m and j*n over n*m) each piece pairs one value of each sample.
    """
    n, m = a.size, b.size
    if n == m:
        return float(np.mean(np.abs(a - b)))
    grid = np.concatenate(
        [np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n]
    )
    grid.sort(kind="stable")
    keep = np.empty(grid.size, dtype=bool)
    keep[:-1] = grid[1:] != grid[:-1]
    keep[-1] = True
    grid = grid[keep]
    ia = (grid + (m - 1)) // m - 1
    ib = (grid + (n - 1)) // n - 1
    widths = np.diff(grid, prepend=0)
    return float(np.dot(widths, np.abs(a[ia] - b[ib]))) / (n * m)


def wasserstein_test(ref: Sample, cur: Sample) -> float:
    assert ref.values is not None and cur.values is not None
    norm = max(ref.std, 0.001)
    return wasserstein_sorted(ref.values, cur.values) / norm


def sturges_edges(ref: Sample, cur: Sample) -> np.ndarray:
    """``np.histogram_bin_edges(concat(ref, cur), bins="sturges")`` without concatenating."""
    lo = min(ref.minimum, cur.minimum)
    hi = max(ref.maximum, cur.maximum)
    total = ref.n + cur.n
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / (np.log2(total) + 1.0)
    n_bins = int(np.ceil((hi - lo) / width)) if width else 1
    return np.linspace(lo, hi, n_bins + 1, endpoint=True)


def histogram_shares(sample: Sample, edges: np.ndarray) -> np.ndarray:
    """Share of the sample in each bin, with ``np.histogram``'s bins (last one closed)."""
    values = sample.values
    assert values is not None
    left = np.searchsorted(values, edges, side="left").astype(np.int64)
    counts = np.diff(left)
    counts[-1] = np.searchsorted(values, edges[-1], side="right") - left[-2]
    return counts / values.size


def binned_shares(ref: Sample, cur: Sample, kind: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """The two frequency vectors over shared bins (see the module docstring) and the bins."""
    if kind == NUMERIC and ref.nunique > 20:
        edges = sturges_edges(ref, cur)
        return histogram_shares(ref, edges), histogram_shares(cur, edges), edges
    rc, cc = _aligned_counts(ref, cur)
    return rc.to_numpy() / ref.n, cc.to_numpy() / cur.n, list(rc.index)


def _aligned_counts(ref: Sample, cur: Sample) -> tuple[pd.Series, pd.Series]:
    if ref.counts is None or cur.counts is None:
        # a numeric column with many distinct values on one side: count the other's values too
        ref_counts = ref.counts if ref.counts is not None else _counts_of_values(ref)
        cur_counts = cur.counts if cur.counts is not None else _counts_of_values(cur)
    else:
        ref_counts, cur_counts = ref.counts, cur.counts
    keys = ref_counts.index.union(cur_counts.index, sort=False)
    return (
        ref_counts.reindex(keys, fill_value=0).astype(np.int64),
        cur_counts.reindex(keys, fill_value=0).astype(np.int64),
    )


def _counts_of_values(sample: Sample) -> pd.Series:
    assert sample.values is not None
    keys, counts = _unique_counts(sample.values)
    return pd.Series(counts, index=keys)


def fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's replacement of empty bins before a logarithm (PSI)."""
    out = shares.astype(float).copy()
    nonzero = out[out != 0]
    if nonzero.size == 0:
        return out
    smallest = nonzero.min()
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def psi_from_shares(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    r, c = fill_zeroes(ref_shares), fill_zeroes(cur_shares)
    return float(np.sum((r - c) * np.log(r / c)))


def jensenshannon_from_shares(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    from scipy.spatial import distance

    return float(distance.jensenshannon(ref_shares, cur_shares))


def chisquare_test(ref: Sample, cur: Sample) -> tuple[float, float]:
    """Two-sample homogeneity test on the 2 x k contingency table."""
    from scipy import stats

    rc, cc = _aligned_counts(ref, cur)
    if len(rc) < 2:
        return 0.0, 1.0
    res = stats.chi2_contingency(np.vstack([rc.to_numpy(), cc.to_numpy()]), correction=False)
    return float(res.statistic), float(res.pvalue)


def chisquare_gof_test(ref: Sample, cur: Sample) -> tuple[float, float]:
    """Evidently's chi-square: goodness of fit of current counts to reference proportions."""
    from scipy import stats

    rc, cc = _aligned_counts(ref, cur)
    if len(rc) < 2:
        return 0.0, 1.0
    expected = rc.to_numpy() * (cur.n / ref.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = stats.chisquare(cc.to_numpy(), expected)
    return float(res.statistic), float(res.pvalue)


def _sort_keys(keys: list[Any]) -> list[Any]:
    try:
        return sorted(keys)
    except TypeError:
        return sorted(keys, key=str)


def z_test(ref: Sample, cur: Sample) -> tuple[float, float]:
    """Z-test for two proportions: the share of the first category (sorted) in each sample."""
    from scipy import stats

    rc, cc = _aligned_counts(ref, cur)
    keys = _sort_keys(list(rc.index))
    if len(keys) < 2:
        return 0.0, 1.0
    n1, n2 = ref.n, cur.n
    p1 = (n1 - rc[keys[0]]) / n1
    p2 = (n2 - cc[keys[0]]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    denom = math.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    if denom == 0:
        return 0.0, 1.0
    z = (p1 - p2) / denom
    return float(z), float(2 * stats.norm.sf(abs(z)))


def run_test(test: str, ref: Sample, cur: Sample, kind: str) -> tuple[float, float | None]:
    """``(statistic, p_value or None)`` of one named test."""
    if test == "ks":
        return ks_test(ref, cur)
    if test == "wasserstein":
        return wasserstein_test(ref, cur), None
    if test == "chisquare":
        return chisquare_test(ref, cur)
    if test == "chisquare_gof":
        return chisquare_gof_test(ref, cur)
    if test == "z":
        return z_test(ref, cur)
    r, c, _ = binned_shares(ref, cur, kind)
    if test == "jensenshannon":
        return jensenshannon_from_shares(r, c), None
    if test == "psi":
        return psi_from_shares(r, c), None
    raise ValueError(test)
