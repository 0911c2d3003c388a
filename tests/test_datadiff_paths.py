"""The quick paths of the keyed diff (#18) give what a plain computation gives: distinct counts
of floats (hashed in place, B's looked up in A's first-round buckets) and the comparison of
numpy columns (NaN looked for only where cells compare unequal)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_jupyter.analysis import _datadiff_cells, _datadiff_counts
from mlops_jupyter.analysis._datadiff_cells import Rows, _differs
from mlops_jupyter.analysis._datadiff_counts import canonical, count_floats, occurrences
from mlops_jupyter.analysis.datadiff import diff

from .test_datadiff import _tricky_floats


def _plain_occurrences(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    found, counts = np.unique(values + 0.0, return_counts=True)
    at = np.searchsorted(found, wanted)
    hit = (at < len(found)) & (found[np.minimum(at, len(found) - 1)] == wanted)
    return np.where(hit, counts[np.minimum(at, len(found) - 1)], 0)


@pytest.mark.parametrize("n", [200_000, 1_000])
def test_counted_floats_keep_their_buckets_and_look_values_up_alike(n: int) -> None:
    rng = np.random.default_rng(n)
    x = _tricky_floats(rng, n)
    present = x[~np.isnan(x)]
    counted = count_floats(present)
    assert counted.distinct == len(np.unique(present))
    assert counted.values is present  # no copy kept: -0.0 as it came
    assert (counted.buckets is not None) == (n >= _datadiff_counts.SMALL)
    wanted = np.unique(
        canonical(np.concatenate([present[rng.choice(len(present), 500)], rng.normal(size=500)]))
    )
    wanted = np.union1d(wanted, [0.0, np.inf])
    expected = _plain_occurrences(present, wanted)
    assert (occurrences(counted, wanted) == expected).all()
    rehashed = _datadiff_counts.Counted(counted.distinct, present)  # no buckets: hashed anew
    assert (occurrences(rehashed, wanted) == expected).all()


def test_mostly_repeated_floats_are_counted_without_buckets() -> None:
    rng = np.random.default_rng(1)
    x = rng.choice(np.array([0.0, -0.0, 1.5, 2.5, -7.0]), 300_000)
    counted = count_floats(x)
    assert counted.distinct == 4 and counted.buckets is None
    wanted = np.array([0.0, 1.5, 3.0])
    assert (occurrences(counted, wanted) == _plain_occurrences(x, wanted)).all()


def test_side_b_counts_come_from_a_s_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a keyed diff B's distinct count of a float column is looked up in A's buckets, and
    equals a sort of B's values."""
    from mlops_jupyter.analysis import _datadiff_values

    seen: list[bool] = []
    real = _datadiff_values.distinct_after

    def spy(counted: _datadiff_counts.Counted, gone: np.ndarray, new: np.ndarray) -> int:
        seen.append(counted.buckets is not None)
        return real(counted, gone, new)

    monkeypatch.setattr(_datadiff_values, "distinct_after", spy)
    rng = np.random.default_rng(5)
    n = 150_000
    a = pd.DataFrame({"id": np.arange(n), "f": _tricky_floats(rng, n)})
    b = a.copy()
    edited = rng.choice(n, 1_000, replace=False)
    b.loc[edited[:400], "f"] = rng.normal(size=400)
    b.loc[edited[400:700], "f"] = np.nan
    b.loc[edited[700:], "f"] = a["f"].to_numpy()[edited[:300]]  # values A already holds
    b = b.drop(index=rng.choice(n, 500, replace=False))
    d = diff(a, b, key="id", store=False)
    distinct = d.values[d.values["stat"] == "distinct"].set_index("column")
    f = b["f"].to_numpy()
    assert distinct.loc["f", "after"] == len(np.unique(f[~np.isnan(f)]))
    assert seen == [True]


def _plain_differs(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """Cell by cell: unequal unless equal or both NaN."""
    out = []
    for x, y in zip(va.tolist(), vb.tolist()):
        nan_x, nan_y = x != x, y != y
        out.append(not (x == y or (nan_x and nan_y)))
    return np.array(out, dtype=bool)


def test_numpy_columns_compare_like_cell_by_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Floats (NaN, -0.0, inf), integers, booleans, complex and integers against floats give
    the mask a cell-by-cell comparison gives, through the numpy path."""
    calls = []
    real = _datadiff_cells._numpy_differs

    def spy(*args: object) -> np.ndarray:
        calls.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_datadiff_cells, "_numpy_differs", spy)
    rng = np.random.default_rng(9)
    n = 4_000
    pool = np.array([0.0, -0.0, 1.0, np.nan, np.inf, -np.inf, 2.5])
    complex_pool = np.array([1 + 1j, complex(np.nan, 0), complex(0, np.nan), 0j, -0j])
    pairs = {
        "floats": (rng.choice(pool, n), rng.choice(pool, n)),
        "ints": (rng.integers(0, 3, n), rng.integers(0, 3, n)),
        "int against float": (rng.integers(0, 3, n), rng.choice(pool, n)),
        "bools": (rng.random(n) < 0.5, rng.random(n) < 0.5),
        "complex": (rng.choice(complex_pool, n), rng.choice(complex_pool, n)),
        "uint against int": (rng.integers(0, 3, n).astype(np.uint64), rng.integers(-1, 3, n)),
    }
    order = rng.permutation(n)
    for name, (xa, xb) in pairs.items():
        for rows_a, rows_b in (
            (np.arange(n), np.arange(n)),  # slices
            (np.flatnonzero(rng.random(n) < 0.8), None),  # a mask
            (order, order[::-1].copy()),  # takes
        ):
            rows_b = np.arange(len(rows_a)) if rows_b is None else rows_b
            got = _differs(
                pd.Series(xa), pd.Series(xb), Rows.of(rows_a, n), Rows.of(rows_b, n), 0.0, 0.0
            )
            expected = _plain_differs(xa[rows_a], xb[rows_b])
            assert (got == expected).all(), name
    assert len(calls) == 3 * len(pairs)


@pytest.mark.parametrize("n", [1, 2, 7, 128, 129, 1_000, 65_537, 300_001])
def test_mean_std_are_numpy_s_bit_for_bit(n: int) -> None:
    """mean_std sums once where numpy's std sums twice, and sums exact integers as they are;
    the figures are numpy's to the last bit (inf and huge values included)."""
    from mlops_jupyter.analysis._datadiff_numbers import exact_ints, mean_std

    rng = np.random.default_rng(n)
    huge = rng.normal(size=n) * 1e300
    with_inf = rng.normal(size=n)
    with_inf[:: max(n // 3, 1)] = np.inf
    for values in (rng.normal(size=n) * 1e6 + 3, huge, with_inf, -np.abs(rng.normal(size=n))):
        with np.errstate(invalid="ignore", over="ignore"):
            expected = (float(values.mean()), float(values.std(ddof=1)) if n > 1 else None)
        assert _bits(mean_std(values)) == _bits(expected)
    for ints in (
        rng.integers(-1000, 1000, n),
        rng.integers(0, 2**62 // n, n, dtype=np.uint64),  # sums just below 2**63
        rng.integers(-(2**40), 2**40, n),
    ):
        low, high = int(ints.min()), int(ints.max())
        floats = ints.astype(np.float64)
        expected = (float(floats.mean()), float(floats.std(ddof=1)) if n > 1 else None)
        if exact_ints(ints, low, high):
            assert _bits(mean_std(ints, ints_exact=True)) == _bits(expected)
        assert _bits(mean_std(floats)) == _bits(expected)
    if n >= 1_000:  # sums past 2**53, on which numpy's float sum rounds otherwise
        for _ in range(50):
            ints = rng.integers(2**51, 2**52, n) | 1
            floats = ints.astype(np.float64)
            if float(sum(ints.tolist())) != float(np.add.reduce(floats)):
                break
        else:
            raise AssertionError("no sum that rounds")
        assert not exact_ints(ints, int(ints.min()), int(ints.max()))
        assert _bits(mean_std(floats)) == _bits((float(floats.mean()), float(floats.std(ddof=1))))


def _bits(pair: tuple[float | None, float | None]) -> tuple[object, ...]:
    return tuple(None if x is None else np.float64(x).view(np.int64) for x in pair)


def test_integer_counts_after_a_diff_equal_a_recount() -> None:
    """B's distinct integers from A's bins (less the rows that left, plus those that came)
    equal np.unique of B: values out of A's range, last copies leaving, negatives, uints."""
    from mlops_jupyter.analysis._datadiff_numbers import count_ints, ints_after

    rng = np.random.default_rng(2)
    for trial in range(8):
        n = 20_000
        dtype = np.uint64 if trial % 4 == 3 else np.int64
        low = 0 if dtype == np.uint64 else -500 * trial
        a = rng.integers(low, low + 300 * (trial + 1), n).astype(dtype)
        gone_rows = rng.choice(n, 2_000, replace=False)
        came = np.concatenate(
            [
                rng.integers(low, low + 10_000, 300),  # mostly out of A's range
                a[rng.choice(n, 200)].astype(np.int64),
                [int(a.max()) + 1, low],
            ]
        ).astype(dtype)
        kept = np.ones(n, dtype=bool)
        kept[gone_rows] = False
        b = np.concatenate([a[kept], came])
        binned = count_ints(a, int(a.min()), int(a.max()))
        assert binned is not None and binned.distinct == len(np.unique(a))
        assert ints_after(binned, a[gone_rows], came) == len(np.unique(b)), trial
        assert ints_after(binned, a[:0], came[:0]) == binned.distinct
    assert count_ints(np.array([0, 2**60]), 0, 2**60) is None  # too wide: hashed instead


def test_side_b_integer_counts_come_from_a_s_bins(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_jupyter.analysis import _datadiff_values

    seen: list[int] = []
    real = _datadiff_values.ints_after

    def spy(*args: object) -> int:
        result = real(*args)  # type: ignore[arg-type]
        seen.append(result)
        return result

    monkeypatch.setattr(_datadiff_values, "ints_after", spy)
    rng = np.random.default_rng(8)
    n = 150_000
    a = pd.DataFrame(
        {
            "id": np.arange(n),
            "k": rng.integers(-50, 50, n),
            "holes": pd.array(rng.integers(0, 9, n), dtype="Int64"),
        }
    )
    a.loc[::11, "holes"] = pd.NA
    b = a.copy()
    edited = rng.choice(n, 2_000, replace=False)
    b.loc[edited[:1000], "k"] = 1_000  # a value A never held
    b.loc[edited[1000:], "holes"] = pd.NA
    b.loc[np.flatnonzero(a["k"].to_numpy() == -50), "k"] = 0  # a value that leaves B
    b = b.drop(index=rng.choice(n, 500, replace=False))
    d = diff(a, b, key="id", store=False)
    distinct = d.values[d.values["stat"] == "distinct"].set_index("column")
    for column in ("k", "holes"):
        assert distinct.loc[column, "after"] == b[column].nunique()
    assert sorted(seen) == sorted([b["k"].nunique(), b["holes"].nunique()])


def test_chunked_arrow_columns_are_joined_once_and_diff_alike() -> None:
    """one_chunk joins the chunks of Arrow-backed columns (str, string[pyarrow], ArrowDtype)
    without touching the frame it was given; a diff of chunked frames equals the diff of the
    same frames in one chunk."""
    import pyarrow as pa

    from mlops_jupyter.analysis._datadiff_cells import one_chunk

    n = 3_000
    rng = np.random.default_rng(4)
    words = np.array(["red", "green", "blue", None], dtype=object)
    a = pd.DataFrame(
        {
            "id": np.arange(n),
            "s": pd.Series(rng.choice(words, n), dtype="str"),
            "t": pd.Series(rng.choice(words, n), dtype="string[pyarrow]"),
            "u": pd.Series(rng.integers(0, 5, n), dtype=pd.ArrowDtype(pa.int64())),
            "x": rng.normal(size=n),
        }
    )
    b = a.copy()
    b.loc[rng.choice(n, 100, replace=False), "s"] = "cyan"
    b.loc[rng.choice(n, 100, replace=False), "t"] = None
    b = pd.concat([b.iloc[:1000], b.iloc[1500:], a.iloc[:200].assign(id=np.arange(n, n + 200))])
    b = b.reset_index(drop=True)
    chunks = {c: b[c].array.__arrow_array__().num_chunks for c in "stu"}
    assert min(chunks.values()) > 1
    joined = one_chunk(b)
    assert {c: joined[c].array.__arrow_array__().num_chunks for c in "stu"} == dict.fromkeys(
        "stu", 1
    )
    assert {c: b[c].array.__arrow_array__().num_chunks for c in "stu"} == chunks  # untouched
    pd.testing.assert_frame_equal(joined, b)
    assert one_chunk(a) is a  # nothing to join: the same frame
    rebuilt = pd.DataFrame({c: pd.Series(b[c].tolist(), dtype=b[c].dtype) for c in b.columns})
    assert all(rebuilt[c].array.__arrow_array__().num_chunks == 1 for c in "stu")
    d, e = diff(a, b, key="id", store=False), diff(a, rebuilt, key="id", store=False)
    assert d.summary == e.summary
    for field in ("values", "changed", "added", "removed", "sample_before", "sample_after"):
        pd.testing.assert_frame_equal(getattr(d, field), getattr(e, field))
    assert d.distributions == e.distributions


def test_string_tallies_and_nulls_are_pandas_value_counts() -> None:
    """A string column's tally of some rows (Arrow's value_counts) and null count (Arrow's)
    equal pandas' value_counts and isna on the same rows: None left out, "" kept; and a diff
    whose B counts come from such tallies reports what value_counts of B reports."""
    from mlops_jupyter.analysis._datadiff_values import _column_summary, _tally

    rng = np.random.default_rng(12)
    n = 200_000
    pool = np.array(["a", "", "bb", "ééé", None, "a "], dtype=object)
    s = pd.Series(rng.choice(pool, n), dtype="str")
    for rows in (rng.choice(n, 3_000), np.arange(0), np.flatnonzero(s.isna().to_numpy())[:50]):
        expected = s.iloc[rows].value_counts(dropna=True)
        assert dict(_tally(s, rows)) == dict(zip(expected.index, expected.to_numpy().tolist()))
    assert _column_summary(s)["nulls"] == int(s.isna().sum()) > 0
    a = pd.DataFrame({"id": np.arange(n), "s": s})
    b = a.copy()
    b.loc[rng.choice(n, 2_000, replace=False), "s"] = None
    b.loc[rng.choice(n, 2_000, replace=False), "s"] = "new"
    d = diff(a, b, key="id", store=False)
    values = d.values.set_index(["column", "stat"])
    counts = b["s"].value_counts(dropna=True)
    assert values.loc[("s", "nulls"), "after"] == int(b["s"].isna().sum())
    assert values.loc[("s", "distinct"), "after"] == len(counts)
    total = int(counts.sum())
    top = ", ".join(f"{v} ({k / total:.0%})" for v, k in counts.head(3).items())
    assert values.loc[("s", "top"), "after"] == top


@pytest.mark.parametrize("twice", [False, True])
@pytest.mark.parametrize("kind", ["compact ints", "strings"])
def test_rows_aligned_by_key_as_a_merge_aligns_them(twice: bool, kind: str) -> None:
    """_align (keys without duplicates take a shorter path) pairs the rows a merge on the key
    pairs, lists the rest as removed and added, and duplicated keys apart."""
    from mlops_jupyter.analysis._datadiff_core import _align

    rng = np.random.default_rng(3)
    n = 5_000
    ids_a = rng.permutation(n)
    ids_b = np.concatenate([rng.permutation(n)[: n - 300], np.arange(n, n + 200)])
    if twice:
        ids_a[:5] = ids_a[5:10]
        ids_b[-3:] = ids_b[:3]
    key = (lambda v: np.array([f"k{i}" for i in v], dtype=object)) if kind == "strings" else None
    a = pd.DataFrame({"id": key(ids_a) if key else ids_a})
    b = pd.DataFrame({"id": key(ids_b) if key else ids_b})
    ia, ib, removed, added, duplicates = _align(a, b, ("id",))
    counts_a, counts_b = a["id"].value_counts(), b["id"].value_counts()
    dup_keys = set(counts_a[counts_a > 1].index) | set(counts_b[counts_b > 1].index)
    merged = (
        a.reset_index()
        .merge(b.reset_index(), on="id", suffixes=("_a", "_b"))
        .query("id not in @dup_keys")
        .sort_values("index_a")
    )
    assert (ia == merged["index_a"].to_numpy()).all() and (ib == merged["index_b"].to_numpy()).all()
    ok_a = ~a["id"].isin(list(dup_keys)).to_numpy()
    ok_b = ~b["id"].isin(list(dup_keys)).to_numpy()
    assert (removed == np.flatnonzero(~a["id"].isin(b["id"]).to_numpy() & ok_a)).all()
    assert (added == np.flatnonzero(~b["id"].isin(a["id"]).to_numpy() & ok_b)).all()
    assert set(duplicates["id"]) == dup_keys and bool(dup_keys) == twice
