"""Mean, std and the distinct count of integers for the summaries of a diff (#18), in fewer
passes than numpy's calls and bit for bit what they give.

``values.std()`` sums the values again for its mean; :func:`mean_std` sums them once. Integers
are not first copied to floats when their float sums are exact (no partial sum reaches
2**53): numpy's float sum is then their integer sum. Integers in a range up to 4x their count
are counted in bins (:func:`count_ints`); after a keyed diff B's count follows from A's bins
and the few rows outside the equal matched cells (:func:`ints_after`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT = 2**53  # below it every integer is a float64


def exact_ints(values: np.ndarray, low: int, high: int) -> bool:
    """Whether numpy's float sums of these integers (from ``low`` to ``high``) are exact."""
    return max(abs(low), abs(high)) * len(values) < EXACT


def mean_std(values: np.ndarray, ints_exact: bool = False) -> tuple[float | None, float | None]:
    """``float(values.mean())`` and ``float(values.std(ddof=1))`` (None for too few values) of
    float64 values without NaN, or of integers for which :func:`exact_ints` holds."""
    n = len(values)
    if not n:
        return None, None
    with np.errstate(invalid="ignore", over="ignore"):  # inf in a column: NaN stats
        if values.dtype.kind in "iu":
            assert ints_exact, "integers whose float sums are not exact: pass floats"
            mean = float(int(np.add.reduce(values))) / n
        else:
            mean = float(np.add.reduce(values)) / n  # numpy: the sum divided by the count
        if n < 2:
            return mean, None
        deviations = np.subtract(values, mean)  # numpy's std: squared in place, summed
        np.multiply(deviations, deviations, out=deviations)
        return mean, float(np.sqrt(np.add.reduce(deviations) / (n - 1)))


@dataclass(frozen=True)
class Binned:
    """An integer column's distinct count and its bins: ``bins[v - low]`` values equal ``v``."""

    distinct: int
    low: int
    bins: np.ndarray


def count_ints(values: np.ndarray, low: int, high: int) -> Binned | None:
    """The distinct count of integers (or integral floats) from ``low`` to ``high`` by counting
    (O(n)); None when the range is over 4x their count or reaches 2**52 (hash them instead)."""
    if not (high - low < 4 * len(values) and abs(low) < 2**52 and abs(high) < 2**52):
        return None
    small = values.dtype.kind in "iu" and low >= 0 and high < 4 * len(values)
    offsets = values if small else values - low  # the same count of bins in use
    bins = np.bincount(offsets.astype(np.intp, copy=False))
    return Binned(int(np.count_nonzero(bins)), 0 if small else low, bins)


def ints_after(binned: Binned, gone: np.ndarray, new: np.ndarray) -> int:
    """Distinct values of the multiset counted in ``binned`` less ``gone`` (part of it) plus
    ``new``: only the bins of those values are looked at."""
    both = np.concatenate([gone, new])
    if not len(both):
        return binned.distinct
    wanted, at = np.unique(both, return_inverse=True)
    in_gone = np.bincount(at[: len(gone)], minlength=len(wanted))
    in_new = np.bincount(at[len(gone) :], minlength=len(wanted))
    inside = (wanted >= binned.low) & (wanted < binned.low + len(binned.bins))
    before = np.zeros(len(wanted), dtype=np.int64)
    before[inside] = binned.bins[(wanted[inside] - binned.low).astype(np.intp)]
    after = before - in_gone + in_new
    return (
        binned.distinct
        + int(np.count_nonzero((before == 0) & (after > 0)))
        - int(np.count_nonzero((before > 0) & (after == 0)))
    )
