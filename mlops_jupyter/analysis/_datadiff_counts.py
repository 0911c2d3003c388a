"""Exact distinct counts of float columns without sorting them (#18), for the summaries of
:mod:`._datadiff_values`.

A sort of 1M floats (``np.unique``) took ~50 ms a column, most of a diff's time. Here a value
alone in its bucket of a hash table ~4x larger than the column is distinct, and its equals are
in the same bucket, so only the values of crowded buckets are counted exactly, in rounds with
fresh hash bits. The count is the same as ``len(np.unique(values))``: -0.0 and 0.0 are one
value, NaN is left out before. After a keyed diff the count of side B comes from A's: only the
values of the rows that changed, were added or removed are looked up in A, among the values
of A that shared their bucket in A's first round (:class:`Counted` keeps those buckets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SMALL = 65_536  # fewer values: np.unique (a sort) is as fast
# odd: multiplying by one permutes the 64-bit words; a fresh one for each round's hash bits
_ODD = tuple(
    np.uint64(m)
    for m in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)
)


@dataclass(frozen=True)
class Counted:
    """A float column's distinct count, the values counted (no NaN; -0.0 as it came) and, when
    hashed, the bucket of each value in the first round (``bits`` bits of the hash)."""

    distinct: int
    values: np.ndarray
    buckets: np.ndarray | None = None
    bits: int = 0


def canonical(values: np.ndarray) -> np.ndarray:
    """Float64 values without NaN, -0.0 turned into 0.0 so that equal values have equal bits."""
    values = np.asarray(values, dtype=np.float64)
    return values[~np.isnan(values)] + 0.0


def _buckets(values: np.ndarray, bits: int, odd: np.uint64 = _ODD[0]) -> np.ndarray:
    """The top ``bits`` bits of the hash of each value, -0.0 hashed as 0.0: one new array,
    worked on in place (no array of hashes kept beside it)."""
    words = np.add(values, 0.0).view(np.uint64)
    np.multiply(words, odd, out=words)
    np.right_shift(words, np.uint64(64 - bits), out=words)
    return words.view(np.intp)  # < 2**bits: fits


def count_floats(values: np.ndarray) -> Counted:
    """The distinct count of float64 ``values`` without NaN (-0.0 counted as 0.0)."""
    if len(values) < SMALL:
        return Counted(len(np.unique(values + 0.0)), values)
    sample = values[:: len(values) // 4096] + 0.0
    if len(pd.unique(sample)) < len(sample) // 2:  # mostly repeats: a hash table is fastest
        return Counted(len(pd.unique(values + 0.0)), values)
    first: tuple[np.ndarray, int] | None = None
    rest, distinct = values, 0
    for odd in _ODD * 4:  # in practice 3 rounds: each leaves ~1/3 of its values
        if len(rest) < SMALL:
            break
        bits = min(len(rest).bit_length() + 1, 24)  # 2 to 4 buckets a value (a larger table
        # counts fewer values twice but misses the cache: 1M values, 2M buckets 15 ms, 4M 21 ms)
        buckets = _buckets(rest, bits, odd)
        first = first or (buckets, bits)
        crowded = np.flatnonzero((np.bincount(buckets, minlength=1 << bits) > 1)[buckets])
        alone = len(rest) - len(crowded)
        distinct += alone
        rest = rest.take(crowded)
        if alone < len(rest) // 2:  # mostly repeated values after all
            break
    counted = distinct + len(pd.unique(rest + 0.0))
    return Counted(counted, values, *first) if first else Counted(counted, values)


def distinct_floats(values: np.ndarray) -> int:
    """``len(np.unique(values))`` of float64 values without NaN, -0.0 counted as 0.0."""
    return count_floats(values).distinct


def occurrences(counted: Counted, wanted: np.ndarray) -> np.ndarray:
    """How often each of ``wanted`` (sorted distinct canonical values) occurs among the values
    ``counted``: only the values whose bucket holds one of ``wanted`` are compared."""
    values = counted.values
    if not len(wanted) or not len(values):
        return np.zeros(len(wanted), dtype=np.int64)
    if counted.buckets is not None:  # the buckets of A's first round: no second hashing
        marked = np.zeros(1 << counted.bits, dtype=bool)
        marked[_buckets(wanted, counted.bits)] = True
        values = values.take(np.flatnonzero(marked[counted.buckets]))
    elif len(values) >= SMALL:
        bits = min(max((64 * len(wanted)).bit_length(), 12), 22)  # few false candidates
        marked = np.zeros(1 << bits, dtype=bool)
        marked[_buckets(wanted, bits)] = True
        values = values.take(np.flatnonzero(marked[_buckets(values, bits)]))
    at = pd.Index(wanted).get_indexer(values + 0.0)  # a hash table: values may repeat a lot
    return np.bincount(at[at >= 0], minlength=len(wanted))


def distinct_after(counted: Counted, gone: np.ndarray, new: np.ndarray) -> int:
    """Distinct values of the multiset ``counted.values - gone + new`` from ``counted``;
    ``gone`` is part of those values. ``gone`` and ``new`` canonical.

    A value counts in the result unless it left: it is among ``gone`` as often as among the
    values and not among ``new``; it is new unless it was already among the values.
    """
    wanted = np.unique(np.concatenate([gone, new]))
    if not len(wanted):
        return counted.distinct
    in_gone = np.bincount(np.searchsorted(wanted, gone), minlength=len(wanted))
    in_new = np.bincount(np.searchsorted(wanted, new), minlength=len(wanted))
    kept = occurrences(counted, wanted) - in_gone  # copies in the rows that stay the same
    outside = kept == 0
    return (
        counted.distinct
        + int(np.count_nonzero(outside & (in_new > 0)))
        - int(np.count_nonzero(outside & (in_gone > 0)))
    )
