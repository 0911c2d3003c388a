"""Dataset diffs (#5): exact counts on generated pairs with known edits, schema, values, HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_jupyter.analysis.datadiff import DatasetDiff, diff
from mlops_jupyter.errors import AnalysisError, InvalidInput


def make_pair(
    n: int = 5000, *, seed: int = 0, n_changed: int = 120, n_added: int = 30, n_removed: int = 40
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """A frame and an edited copy, with the edits that were made."""
    rng = np.random.default_rng(seed)
    a = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "k": rng.integers(0, 50, n),
            "s": rng.choice(np.array(["red", "green", "blue"]), n),
            "t": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )
    ids = rng.permutation(n)
    changed_ids = np.sort(ids[:n_changed])
    removed_ids = np.sort(ids[n_changed : n_changed + n_removed])
    b = a.copy()
    # each changed row gets one or two edited cells, in known columns
    cols = np.array(["x", "k", "s", "t"])[np.arange(n_changed) % 4]
    per_col: dict[str, int] = {"x": 0, "k": 0, "s": 0, "t": 0}
    for rid, col in zip(changed_ids, cols):
        if col == "x":
            b.loc[rid, "x"] += 1.0
        elif col == "k":
            b.loc[rid, "k"] += 1
        elif col == "s":
            b.loc[rid, "s"] = "purple"
        else:
            b.loc[rid, "t"] += pd.Timedelta(minutes=1)
        per_col[col] += 1
    double = changed_ids[::10]  # every tenth changed row also gets x edited (if not already)
    for rid in double:
        if b.loc[rid, "x"] == a.loc[rid, "x"]:
            b.loc[rid, "x"] -= 2.0
            per_col["x"] += 1
    b = b[~b["id"].isin(removed_ids)]
    extra = a.sample(n_added, random_state=seed).assign(id=np.arange(n, n + n_added))
    b = pd.concat([b, extra], ignore_index=True).sample(frac=1.0, random_state=seed + 1)
    edits = {
        "changed": n_changed,
        "added": n_added,
        "removed": n_removed,
        "per_col": per_col,
        "changed_ids": changed_ids,
    }
    return a, b.reset_index(drop=True), edits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keyed_counts_are_exact(seed: int) -> None:
    a, b, edits = make_pair(seed=seed)
    d = diff(a, b, key="id", store=False)
    s = d.summary
    assert (s["added"], s["removed"], s["changed"]) == (
        edits["added"],
        edits["removed"],
        edits["changed"],
    )
    assert s["unchanged"] == len(a) - edits["removed"] - edits["changed"]
    assert d.column_changes.to_dict() == edits["per_col"]
    assert s["changed_cells"] == sum(edits["per_col"].values())
    assert sorted(d.changed["id"].unique()) == list(edits["changed_ids"])
    assert set(d.added["id"]) == set(range(len(a), len(a) + edits["added"]))
    assert len(d.changed) == s["changed_cells"]


def test_changed_lists_before_and_after() -> None:
    a = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, 2.0, 3.0], "s": ["a", "b", "c"]})
    b = pd.DataFrame({"id": [3, 2, 1], "x": [3.0, 2.5, 1.0], "s": ["z", "b", "a"]})
    d = diff(a, b, key="id", store=False)
    rows = d.changed.to_dict("records")
    assert rows == [
        {"id": 2, "column": "x", "before": 2.0, "after": 2.5},
        {"id": 3, "column": "s", "before": "c", "after": "z"},
    ]
    assert d.summary["changed"] == 2 and d.summary["unchanged"] == 1


def test_tolerance_and_nan_equal_nan() -> None:
    a = pd.DataFrame({"id": range(5), "x": [1.0, np.nan, 3.0, 100.0, np.nan]})
    b = pd.DataFrame({"id": range(5), "x": [1.0 + 1e-9, np.nan, 3.001, 100.5, 7.0]})
    exact = diff(a, b, key="id", store=False)
    assert exact.summary["changed"] == 4  # 1e-9, 0.001, 0.5 and NaN -> 7
    loose = diff(a, b, key="id", atol=1e-6, store=False)
    assert loose.summary["changed"] == 3
    rel = diff(a, b, key="id", atol=1e-6, rtol=0.01, store=False)
    assert rel.summary["changed"] == 1  # only NaN -> 7: NaN never equals a number
    assert rel.changed["id"].tolist() == [4]


def test_missing_values_in_strings_and_nullable_ints() -> None:
    a = pd.DataFrame(
        {
            "id": range(4),
            "s": pd.Series(["a", None, "c", None], dtype="str"),
            "o": pd.Series(["a", None, 1, np.nan], dtype=object),
            "n": pd.array([1, None, 3, None], dtype="Int64"),
            "c": pd.Categorical(["u", "v", None, "u"]),
        }
    )
    b = a.copy()
    b.loc[2, "s"] = None
    b.loc[3, "n"] = 4
    b.loc[0, "c"] = "v"
    d = diff(a, b, key="id", store=False)
    assert d.column_changes.to_dict() == {"s": 1, "o": 0, "n": 1, "c": 1}
    assert d.summary["changed"] == 3


def test_duplicate_keys_are_reported_not_collapsed() -> None:
    a = pd.DataFrame({"id": [1, 2, 2, 3, 4], "x": [1, 2, 2, 3, 4]})
    b = pd.DataFrame({"id": [1, 2, 3, 3, 4, 5], "x": [1, 9, 3, 3, 5, 6]})
    d = diff(a, b, key="id", store=False)
    dup = d.duplicates.set_index("id")
    assert dup.to_dict("index") == {2: {"rows_a": 2, "rows_b": 1}, 3: {"rows_a": 1, "rows_b": 2}}
    s = d.summary
    assert s["duplicate_keys"] == 2
    assert (s["added"], s["removed"], s["changed"], s["unchanged"]) == (1, 0, 1, 1)
    assert "Duplicate keys" in d.to_html()


def test_integer_keys_by_offset_match_factorised_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A compact integer key is aligned by its offsets, not hashed (#18): the same rows, cells
    and duplicates, listed in order of first occurrence as with factorised codes."""
    from mlops_jupyter.analysis import _datadiff_core

    rng = np.random.default_rng(4)
    ids = rng.permutation(np.concatenate([np.arange(-500, 1500), [7, 7, -3, 900]]))
    a = pd.DataFrame({"id": ids.astype(np.int32), "x": rng.integers(0, 5, len(ids))})
    b = a.sample(frac=0.9, random_state=3).copy()
    b.loc[b.index[::7], "x"] += 1
    b = pd.concat([b, pd.DataFrame({"id": np.array([1500, 1501, 1500], np.int32), "x": 0})])
    fast = diff(a, b, key="id", store=False)
    monkeypatch.setattr(_datadiff_core, "_int_key_codes", lambda *args: None)
    hashed = diff(a, b, key="id", store=False)
    assert fast.summary == hashed.summary and fast.summary["duplicate_keys"] == 4
    for part in ("changed", "added", "removed", "duplicates", "values"):
        pd.testing.assert_frame_equal(getattr(fast, part), getattr(hashed, part))
    in_a = sorted((7, -3, 900), key=lambda k: int(np.flatnonzero(ids == k)[0]))
    assert fast.duplicates["id"].tolist() == [*in_a, 1500]  # not sorted by value


def test_multi_column_key() -> None:
    a = pd.DataFrame({"g": ["a", "a", "b", "b"], "n": [1, 2, 1, 2], "v": [1.0, 2.0, 3.0, 4.0]})
    b = pd.DataFrame({"g": ["b", "a", "b", "c"], "n": [2, 2, 1, 1], "v": [4.0, 2.5, 3.0, 0.0]})
    d = diff(a, b, key=["g", "n"], store=False)
    assert (d.summary["added"], d.summary["removed"], d.summary["changed"]) == (1, 1, 1)
    assert d.changed[["g", "n", "before", "after"]].values.tolist() == [["a", 2, 2.0, 2.5]]
    assert d.removed[["g", "n"]].values.tolist() == [["a", 1]]


def test_key_from_the_index_and_missing_key() -> None:
    a = pd.DataFrame({"x": [1, 2, 3]}, index=pd.Index([10, 20, 30], name="rid"))
    b = pd.DataFrame({"x": [1, 5, 3]}, index=pd.Index([10, 20, 30], name="rid"))
    assert diff(a, b, key="rid", store=False).changed["rid"].tolist() == [20]
    with pytest.raises(InvalidInput, match="not in A"):
        diff(a, b, key="nope", store=False)


def test_unkeyed_rows_as_multisets() -> None:
    a = pd.DataFrame({"x": [1, 1, 1, 2, 3], "s": ["a", "a", "a", "b", "c"]})
    b = pd.DataFrame({"x": [3, 1, 4, 2, 2], "s": ["c", "a", "d", "b", "b"]})
    d = diff(a, b, store=False)
    assert d.removed.values.tolist() == [[1, "a"], [1, "a"]]  # two of the three copies
    assert sorted(d.added.values.tolist()) == [[2, "b"], [4, "d"]]
    assert d.summary["unchanged"] == 3 and d.summary["changed"] is None


def test_unkeyed_counts_on_generated_pair() -> None:
    a, b, edits = make_pair(seed=3)
    d = diff(a, b, store=False)
    # a changed row is a removed row plus an added row without a key
    assert d.summary["removed"] == edits["removed"] + edits["changed"]
    assert d.summary["added"] == edits["added"] + edits["changed"]


def test_schema_changes() -> None:
    rng = np.random.default_rng(0)
    a = pd.DataFrame(
        {
            "id": range(100),
            "old": rng.normal(size=100),
            "gone": 1,
            "n": rng.integers(0, 9, 100),
        }
    )
    b = a.rename(columns={"old": "new_name"}).drop(columns=["gone"]).assign(extra="x")
    b["n"] = b["n"].astype("float64")
    b = b.iloc[5:]  # rows removed too: a rename is still recognised on the matched rows
    for key in ("id", None):
        d = diff(a, b, key=key, store=False)
        changes = {(r["change"], r["column"]) for r in d.schema.to_dict("records")}
        assert changes == {
            ("renamed", "old"),
            ("removed", "gone"),
            ("added", "extra"),
            ("dtype", "n"),
        }
        assert d.summary["columns_renamed"] == 1
        assert d.summary["dtype_changed"] == 1
    keyed = diff(a, b, key="id", store=False)
    assert keyed.summary["changed"] == 0  # int 3 == float 3.0; renamed column compared as one
    assert list(keyed.removed.columns) == ["id", "old", "gone", "n"]  # rows of A, A's names
    assert keyed.removed["id"].tolist() == [0, 1, 2, 3, 4]


def test_values_summaries_and_distributions() -> None:
    rng = np.random.default_rng(1)
    a = pd.DataFrame({"id": range(1000), "x": rng.normal(size=1000), "c": ["p"] * 1000})
    b = a.copy()
    b.loc[:499, "x"] += 5.0
    b.loc[:99, "c"] = "q"
    b.loc[900:, "x"] = np.nan
    d = diff(a, b, key="id", store=False)
    v = d.values.set_index(["column", "stat"])
    assert v.loc[("x", "nulls"), "before"] == 0 and v.loc[("x", "nulls"), "after"] == 100
    assert v.loc[("x", "mean"), "after"] == pytest.approx(b["x"].mean())
    assert v.loc[("c", "distinct"), "after"] == 2 and bool(v.loc[("c", "top"), "changed"])
    assert not bool(v.loc[("id", "mean"), "changed"])
    assert next(iter(d.distributions)) == "x"  # the column with the most changed cells first
    hist = d.distributions["x"]
    assert sum(hist["a"]) == 1000 and sum(hist["b"]) == 900


def test_identical_frames() -> None:
    a, _, _ = make_pair(n=300)
    d = diff(a, a.sample(frac=1.0, random_state=0), key="id", store=False)
    assert d.identical and d.summary["unchanged"] == 300
    assert not diff(a, a.iloc[1:], key="id", store=False).identical


def test_html_is_escaped_static_and_highlights() -> None:
    a = pd.DataFrame({"id": [1, 2], "<b>col</b>": ["<script>x</script>", "ok"], "v": [1.0, 2.0]})
    b = pd.DataFrame({"id": [1, 2], "<b>col</b>": ["<img src=x onerror=1>", "ok"], "v": [1.0, 3.0]})
    d = diff(a, b, key="id", store=False)
    html = d._repr_html_()
    assert "<script>x" not in html and "<img src=x" not in html and "<b>col</b>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "iframe" not in html and "http://" not in html.replace("http://www.w3.org", "")
    assert html.count('class="mlops-changed"') >= 2
    assert "<svg" in html and "→" in html


def test_invalid_inputs() -> None:
    a = pd.DataFrame({"id": [1]})
    with pytest.raises(InvalidInput, match="atol"):
        diff(a, a, atol=-1, store=False)
    with pytest.raises(InvalidInput, match="Cannot diff a list"):
        diff([1, 2], a, store=False)
    with pytest.raises(InvalidInput, match="store=False"):
        diff("df@1", a, store=False)
    for key in (5, {"id": 1}, [["id"]]):
        with pytest.raises(InvalidInput, match=r"key must be .* Example: key='id'"):
            diff(a, a, key=key, store=False)
    numbered = pd.DataFrame({0: [1, 2], 1: [3, 4]})
    assert diff(numbered, numbered, key=[0], store=False).key == (0,)  # a non-string label
    twice = pd.DataFrame([[1, 2]], columns=["x", "x"])
    with pytest.raises(AnalysisError, match="duplicate column names"):
        diff(twice, twice, store=False)


def test_result_is_frozen_data() -> None:
    a, b, _ = make_pair(n=200)
    d = diff(a, b, key="id", store=False)
    assert isinstance(d, DatasetDiff)
    with pytest.raises(AttributeError):
        d.summary = {}  # type: ignore[misc]
    assert "DatasetDiff A -> B" in repr(d)


def test_keyed_diff_is_vectorised() -> None:
    """200k x 12 with 1% changed well under a second per 200k rows (the bench does 1M x 20)."""
    import time

    rng = np.random.default_rng(0)
    n = 200_000
    a = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(10)})
    a.insert(0, "id", np.arange(n))
    a["s"] = rng.choice(np.array(["a", "b", "c"]), n)
    b = a.copy()
    rows = rng.choice(n, n // 100, replace=False)
    b.loc[rows, "f3"] += 1
    start = time.perf_counter()
    d = diff(a, b, key="id", store=False)
    elapsed = time.perf_counter() - start
    assert d.summary["changed"] == n // 100
    assert elapsed < 3.0


def test_edge_cases_empty_unhashable_and_disjoint() -> None:
    empty = pd.DataFrame({"id": pd.Series([], dtype="int64"), "x": pd.Series([], dtype=float)})
    full = pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0]})
    d = diff(empty, full, key="id", store=False)
    assert (d.summary["added"], d.summary["removed"], d.summary["unchanged"]) == (2, 0, 0)
    assert diff(empty, empty, key="id", store=False).identical
    disjoint = diff(pd.DataFrame({"p": [1]}), pd.DataFrame({"q": ["z"]}), store=False)
    assert (disjoint.summary["added"], disjoint.summary["removed"]) == (1, 1)
    lists_a = pd.DataFrame({"id": [1, 2], "l": [[1], [2]]})
    lists_b = pd.DataFrame({"id": [1, 2], "l": [[1], [3]]})
    assert diff(lists_a, lists_b, key="id", store=False).summary["changed"] == 1
    unkeyed = diff(lists_a, lists_b, store=False)
    assert (unkeyed.summary["added"], unkeyed.summary["removed"]) == (1, 1)
    renamed = diff(lists_a, lists_b.rename(columns={"l": "m"}).assign(m=[[1], [2]]), store=False)
    assert renamed.summary["columns_renamed"] == 1 and renamed.summary["unchanged"] == 2


def test_tuples_among_other_objects_are_compared_not_a_traceback() -> None:
    a = pd.DataFrame({"id": [1, 2, 3], "m": [1, (2, 3), "x"]})
    b = pd.DataFrame({"id": [1, 2, 3], "m": [1, (2, 4), "x"]})
    keyed = diff(a, b, key="id")
    assert keyed.summary["changed"] == 1
    rows = diff(a, b)  # rows as multisets: the hash falls back to repr
    assert (rows.summary["added"], rows.summary["removed"]) == (1, 1)
    assert "(2, 4)" in rows.to_html()


def test_complex_columns_compare_their_imaginary_part() -> None:
    a = pd.DataFrame({"id": [1, 2, 3], "c": np.array([1 + 1j, 2 + 2j, 3 + 3j])})
    b = pd.DataFrame({"id": [1, 2, 3], "c": np.array([1 + 2j, 2 + 3j, 3 + 3j + 1e-9j])})
    assert diff(a, b, key="id").summary["changed"] == 3
    assert diff(a, b, key="id", atol=1e-6).summary["changed"] == 2


def test_rows_only_diff_and_distinct_integers_counted_exactly() -> None:
    """summaries=False gives the same rows and counts without the column summaries; the
    distinct count of integer columns (counted, not sorted) equals pandas' nunique."""
    import numpy as np
    import pandas as pd

    from mlops_jupyter.analysis.datadiff import diff

    rng = np.random.default_rng(3)
    a = pd.DataFrame(
        {
            "id": np.arange(2000),
            "small": rng.integers(-50, 50, 2000),
            "wide": rng.integers(-(2**40), 2**40, 2000),
            "holes": pd.array(rng.integers(0, 9, 2000), dtype="Int64"),
        }
    )
    a.loc[::7, "holes"] = pd.NA
    b = a.copy()
    b.loc[5, "small"] = 99
    full = diff(a, b, key="id", store=False)
    rows = diff(a, b, key="id", store=False, summaries=False)
    assert rows.summary == full.summary and rows.changed.equals(full.changed)
    assert rows.values.empty and not rows.distributions and not full.values.empty
    distinct = full.values[full.values["stat"] == "distinct"].set_index("column")
    for column in ("small", "wide", "holes"):
        assert distinct.loc[column, "before"] == a[column].nunique()
        assert distinct.loc[column, "after"] == b[column].nunique()


# -- column summaries (#18): the quick paths report what the plain computation reports ---------


def _plain_summary(s: pd.Series) -> dict[str, object]:
    """A column's summary as computed before #18: a sort for distinct numbers, value_counts."""
    out: dict[str, object] = {"dtype": str(s.dtype)}
    kind = _kind(s)
    if kind == "number":
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        out["nulls"] = len(values) - len(present)
        with np.errstate(invalid="ignore", over="ignore"):
            out["mean"] = float(present.mean()) if len(present) else None
            out["std"] = float(present.std(ddof=1)) if len(present) > 1 else None
        out["distinct"] = len(np.unique(present))
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


def _plain_distribution(sa: pd.Series, sb: pd.Series, bins: int = 20) -> dict[str, object]:
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
                "a": np.histogram(va, bins=edges)[0].tolist(),  # sorts the values
                "b": np.histogram(vb, bins=edges)[0].tolist(),
            }
    ca, cb = sa.astype(str).value_counts(), sb.astype(str).value_counts()
    labels = list((ca.add(cb, fill_value=0)).sort_values(ascending=False).index[:10])
    return {
        "kind": "categorical",
        "labels": labels,
        "a": [int(ca.get(v, 0)) for v in labels],
        "b": [int(cb.get(v, 0)) for v in labels],
    }


def _kind(s: pd.Series) -> str:
    from mlops_jupyter.analysis._datadiff_values import _kind as kind

    return kind(s)


def _tricky_floats(rng: np.random.Generator, n: int) -> np.ndarray:
    """Floats with NaN, -0.0 and 0.0, inf and -inf, subnormals, repeats and close neighbours."""
    x = rng.normal(size=n)
    x[rng.choice(n, n // 20, replace=False)] = np.nan
    x[rng.choice(n, n // 50, replace=False)] = 0.0
    x[rng.choice(n, n // 50, replace=False)] = -0.0
    x[rng.choice(n, 30, replace=False)] = np.inf
    x[rng.choice(n, 20, replace=False)] = -np.inf
    x[rng.choice(n, 10, replace=False)] = 5e-324
    x[: n // 10] = x[n // 10 : 2 * (n // 10)]  # a tenth repeats another tenth
    x[-5:] = np.nextafter(1.0, [2.0, 0.0, 3.0, -1.0, 1.0])
    return x


@pytest.mark.parametrize("n", [1_000, 70_000, 300_000])
def test_distinct_floats_equals_a_sort(n: int) -> None:
    """The hashed distinct count equals len(np.unique(...)) whatever the values repeat."""
    from mlops_jupyter.analysis._datadiff_counts import distinct_floats

    rng = np.random.default_rng(n)
    columns = {
        "tricky": _tricky_floats(rng, n),
        "few values": rng.choice(rng.normal(size=40), n),
        "all twice": np.repeat(rng.normal(size=n // 2), 2),
        "integers as floats": np.arange(n, dtype=np.float64),
        "dyadic": rng.integers(0, 2**16, n) / 2**16,
        "zeros of both signs": np.where(rng.random(n) < 0.5, 0.0, -0.0),
        "one zero of each sign": np.concatenate([rng.normal(size=n), [0.0, -0.0]]),
        "only NaN": np.full(n, np.nan),
    }
    for name, x in columns.items():
        assert distinct_floats(x[~np.isnan(x)]) == len(np.unique(x[~np.isnan(x)])), name


def test_distinct_after_equals_a_recount() -> None:
    """B's count from A's (A less the values of rows that left, plus those that came) equals a
    count of B, values of both signs of zero, repeated, new and gone included."""
    from mlops_jupyter.analysis._datadiff_counts import canonical, count_floats, distinct_after

    rng = np.random.default_rng(7)
    n = 200_000
    for trial in range(6):
        a = _tricky_floats(rng, n)
        if trial % 2:
            a = np.round(a, 2)  # many repeats: values leave only when their last copy does
        gone_rows = rng.choice(n, 3_000 * (trial + 1), replace=False)
        came = np.concatenate(
            [rng.normal(size=500), a[rng.choice(n, 700)], [0.0, -0.0, np.nan, np.inf]]
        )
        kept = np.ones(n, dtype=bool)
        kept[gone_rows] = False
        b = np.concatenate([a[kept], came])
        expected = len(np.unique(b[~np.isnan(b)]))
        counted = distinct_after(
            count_floats(a[~np.isnan(a)]), canonical(a[gone_rows]), canonical(came)
        )
        assert counted == expected, trial


def _summary_pair(n: int, *, rows: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A frame of every kind of column and an edited copy; string column ``s`` has tied counts
    in A and in B. ``rows``: "kept" (cells edited, rows removed and added, B in A's order),
    "shuffled" (the same, B's rows shuffled), "same" (the same rows, f, few and s edited, the
    zeros of z turned to -0.0)."""
    rng = np.random.default_rng(11)
    a = pd.DataFrame(
        {
            "id": np.arange(n),
            "f": _tricky_floats(rng, n),
            "few": rng.choice(rng.normal(size=30), n),
            "k": rng.integers(0, 100, n),
            "wide": rng.integers(-(2**40), 2**40, n),
            "holes": pd.array(rng.integers(0, 9, n), dtype="Int64"),
            "s": np.repeat(np.array(["red", "green", "blue"]), [n // 3, n // 3, n - 2 * (n // 3)]),
            "o": pd.Series(rng.choice(np.array(["x", 1, "1", None], dtype=object), n)),
            "many": pd.Series([f"v{i}" for i in rng.integers(0, n // 4, n)], dtype="str"),
            "z": np.where(np.arange(n) % 2 == 0, 0.0, 1.0),
        }
    )
    a["s"] = a["s"].sample(frac=1.0, random_state=1).to_numpy()
    a.loc[::9, "holes"] = pd.NA
    b = a.copy()
    edited = rng.choice(n, n // 50, replace=False)
    b.loc[edited[::3], "f"] = rng.normal(size=len(edited[::3]))
    b.loc[edited[1::3], "f"] = np.nan
    zeros = np.flatnonzero(a["f"].to_numpy() == 0)
    b.loc[zeros[::2], "f"] = -b.loc[zeros[::2], "f"]  # 0.0 <-> -0.0: equal cells
    b.loc[edited[::2], "few"] = 0.5
    reds = np.flatnonzero(a["s"].to_numpy() == "red")[:100]
    greens = np.flatnonzero(a["s"].to_numpy() == "green")[:100]
    b.loc[np.concatenate([reds, greens]), "s"] = "cyan"  # red and green still tie in B
    if rows == "same":  # equal cells, other bytes: the mean of z's zeros keeps its sign
        b["z"] = np.where(a["z"].to_numpy() == 0.0, -0.0, 1.0)
        return a, b
    b.loc[edited[::4], "k"] += 1
    b.loc[edited[::5], "wide"] = 7
    b.loc[edited[::6], "holes"] = pd.NA
    b.loc[edited[::7], "many"] = "fresh"
    blues = np.flatnonzero(a["s"].to_numpy() == "blue")
    removed = rng.choice(blues, n // 200, replace=False)  # blue rows leave, blue rows come
    b = b.drop(index=removed)
    added = a.iloc[blues[: n // 100]].assign(id=np.arange(n, n + n // 100))
    added.loc[added.index[::2], "f"] = rng.normal(size=len(added.index[::2]))
    b = pd.concat([b, added], ignore_index=True)
    if rows == "shuffled":
        b = b.sample(frac=1.0, random_state=2).reset_index(drop=True)
    return a, b


def _same(got: object, expected: object) -> bool:
    """Equal, NaN equal to NaN, and -0.0 not equal to 0.0."""
    import math

    if isinstance(got, float) and isinstance(expected, float):
        if math.isnan(got) or math.isnan(expected):
            return math.isnan(got) and math.isnan(expected)
        return got == expected and math.copysign(1, got) == math.copysign(1, expected)
    return bool(got == expected)


@pytest.mark.parametrize(
    ("n", "rows", "options"),
    [
        (120_000, "kept", {"key": "id"}),  # on threads; B's counts from A's
        (120_000, "shuffled", {"key": "id"}),
        (120_000, "same", {"key": "id"}),  # unchanged columns: A's summary is B's
        (120_000, "kept", {"key": "id", "atol": 1e-12}),  # close cells: B counted itself
        (120_000, "shuffled", {}),  # without a key
        (3_000, "shuffled", {"key": "id"}),  # small: no threads, np.unique
    ],
)
def test_summaries_equal_the_plain_computation(
    n: int, rows: str, options: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every summary and distribution of a diff equals the plain one of each side (a sort for
    distinct numbers, value_counts, histograms of sorted values), and the quick paths ran."""
    from mlops_jupyter.analysis import _datadiff_values

    calls: dict[str, int] = {"distinct_after": 0, "_first_row": 0, "_identical": 0}

    def spy(name: str) -> object:
        real = getattr(_datadiff_values, name)

        def wrapper(*args: object) -> object:
            result = real(*args)
            calls[name] += result is not False  # _identical: count the columns it found
            return result

        return wrapper

    for name in calls:
        monkeypatch.setattr(_datadiff_values, name, spy(name))
    monkeypatch.setattr(_datadiff_values, "TOP_DISTRIBUTIONS", 100)  # draw every column
    a, b = _summary_pair(n, rows=rows)
    d = diff(a, b, store=False, **options)  # type: ignore[arg-type]
    values = d.values.set_index(["column", "stat"])
    for side, frame in (("before", a), ("after", b)):
        for column in frame.columns:
            for stat, expected in _plain_summary(frame[column]).items():
                got = values.loc[(column, stat), side]
                assert _same(got, expected), (side, column, stat, got, expected)
    assert {str(c) for c in d.column_changes[d.column_changes > 0].index} <= set(d.distributions)
    for column, drawn in d.distributions.items():
        assert drawn == _plain_distribution(a[column], b[column]), column
    if options == {"key": "id"} and n > 100_000:
        assert calls["distinct_after"] > 0 and calls["_first_row"] > 0
        assert calls["_identical"] == (3 if rows == "same" else 0)  # k, wide, many
    objects = pd.Series(["a", "b", None, "b"], dtype=object)  # no Arrow array: a scan
    assert _datadiff_values._first_row(objects, "b") == 1


def test_work_threads_and_the_caller_share_the_queue() -> None:
    """The summaries' thread pool (#18): workers take tasks from the front, the caller from the
    back; a task's exception reaches whoever waits on it; leaving drops what never started."""
    import threading

    from mlops_jupyter.analysis._datadiff_work import Work

    gate, started = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return gate.wait(10)

    with Work(1) as work:
        blocked = work.submit(hold)  # keeps the one worker busy
        assert started.wait(10)
        rest = [work.submit(lambda i=i: (i, threading.current_thread().name)) for i in range(4)]
        work.help()  # the caller runs the four, newest first
        assert [f.result()[0] for f in rest] == [0, 1, 2, 3]
        assert {f.result()[1] for f in rest} == {threading.current_thread().name}
        failing = work.submit(lambda: 1 / 0)
        work.help()
        with pytest.raises(ZeroDivisionError):
            failing.result()
        gate.set()
        assert blocked.result() is True
        gate.clear()
        started.clear()
        work.submit(hold)
        assert started.wait(10)
        never = work.submit(lambda: "ran")
        threading.Timer(0.2, gate.set).start()  # frees the worker after the queue is closed
    assert never.cancelled()
    with Work(0) as inline:  # no threads: at once, in the caller
        assert inline.submit(lambda: threading.current_thread().name).result() == (
            threading.current_thread().name
        )


def test_matched_rows_picked_by_slice_mask_or_take_alike() -> None:
    """Rows.of (#18): consecutive rows as a slice, increasing ones as a mask, others taken;
    each picks the same values from numpy and Arrow arrays, and the diffs agree."""
    from mlops_jupyter.analysis._datadiff_cells import Rows

    n = 1000
    values = pd.Series([f"s{i % 7}" for i in range(n)], dtype="str")
    numbers = np.arange(n) * 1.5
    cases = {
        "run": np.arange(100, 900),
        "mask": np.flatnonzero(np.arange(n) % 10 != 3),
        "take": np.random.default_rng(0).permutation(n)[:800],
        "few": np.array([5, 9, 400]),
    }
    for name, index in cases.items():
        rows = Rows.of(index, n)
        assert (rows.run is not None, rows.mask is not None) == (
            name == "run",
            name == "mask",
        ), name
        assert list(rows.of_array(values.array)) == list(values.array.take(index)), name
        assert (rows.of_numpy(numbers) == numbers[index]).all(), name
    a = pd.DataFrame({"id": np.arange(n), "s": values, "x": numbers})
    b = a.drop(index=cases["take"][:50]).copy()  # B in A's order: matched rows as mask / run
    b.loc[b.index[::9], "s"] = "new"
    shuffled = b.sample(frac=1.0, random_state=1)  # matched rows taken
    in_order, taken = diff(a, b, key="id", store=False), diff(a, shuffled, key="id", store=False)
    assert in_order.summary == taken.summary and in_order.column_changes["s"] == len(b.index[::9])
    pd.testing.assert_frame_equal(in_order.changed, taken.changed)
