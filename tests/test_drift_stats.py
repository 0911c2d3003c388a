"""Drift statistics equal scipy's (and Evidently's formulas) to 1e-9 on the same inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from mlops_jupyter.analysis import drift_stats as st

TOL = 1e-9


def num(values) -> st.Sample:
    return st.numeric_sample(pd.Series(values, dtype=float))


def cat(values) -> st.Sample:
    return st.categorical_sample(pd.Series(values, dtype=object))


def evidently_shares(ref: np.ndarray, cur: np.ndarray, numeric: bool):
    """Evidently's get_binned_data, written out with numpy/pandas."""
    r, c = pd.Series(ref), pd.Series(cur)
    if numeric and r.nunique() > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        return np.histogram(ref, bins)[0] / len(ref), np.histogram(cur, bins)[0] / len(cur)
    keys = list(set(r.unique()) | set(c.unique()))
    rv, cv = r.value_counts(), c.value_counts()
    return (
        np.array([rv.get(k, 0) / len(r) for k in keys]),
        np.array([cv.get(k, 0) / len(c) for k in keys]),
    )


@pytest.mark.parametrize(
    ("n", "m", "ties"),
    [
        (50, 70, False),
        (1000, 1000, False),
        (900, 3000, True),
        (20_000, 15_000, False),
        (30_000, 12_345, True),
        (7, 13, False),
    ],
)
def test_ks_equals_scipy(n: int, m: int, ties: bool) -> None:
    rng = np.random.default_rng(n + m)
    a = rng.normal(size=n)
    b = rng.normal(0.05, 1.1, size=m)
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    expected = stats.ks_2samp(a, b)
    d, p = st.ks_test(num(a), num(b))
    assert d == pytest.approx(expected.statistic, abs=TOL)
    assert p == pytest.approx(expected.pvalue, abs=TOL)
    assert st.ks_statistic(np.sort(a), np.sort(b)) == pytest.approx(expected.statistic, abs=TOL)


@pytest.mark.parametrize(
    ("n", "m"), [(1000, 1000), (1000, 100_000), (54_321, 12_345), (7, 13), (1, 5)]
)
def test_wasserstein_equals_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n * 7 + m)
    a = rng.gamma(2.0, size=n)
    b = rng.gamma(2.3, size=m)
    expected = stats.wasserstein_distance(a, b)
    assert st.wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(
        expected, rel=TOL, abs=TOL
    )
    normed = expected / max(np.std(a), 0.001)
    assert st.wasserstein_test(num(a), num(b)) == pytest.approx(normed, rel=TOL, abs=TOL)


def test_wasserstein_with_ties_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 5, 10_000).astype(float)
    b = rng.integers(0, 7, 7_777).astype(float)
    assert st.wasserstein_sorted(np.sort(a), np.sort(b)) == pytest.approx(
        stats.wasserstein_distance(a, b), rel=TOL, abs=TOL
    )


def test_histogram_bins_equal_numpy() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=5000), rng.normal(0.5, 2, size=3000)
    ra, rb = num(a), num(b)
    edges = st.sturges_edges(ra, rb)
    np.testing.assert_array_equal(edges, np.histogram_bin_edges(np.concatenate([a, b]), "sturges"))
    np.testing.assert_array_equal(st.histogram_shares(ra, edges), np.histogram(a, edges)[0] / 5000)
    np.testing.assert_array_equal(st.histogram_shares(rb, edges), np.histogram(b, edges)[0] / 3000)


@pytest.mark.parametrize("numeric", [True, False])
def test_jensenshannon_and_psi_equal_evidently_formulas(numeric: bool) -> None:
    rng = np.random.default_rng(11)
    if numeric:
        a, b = rng.normal(size=4000), rng.normal(0.3, 1, size=2500)
        ra, rb, kind = num(a), num(b), st.NUMERIC
    else:
        a = rng.choice(list("abcde"), 4000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
        b = rng.choice(list("abcdf"), 2500, p=[0.1, 0.3, 0.2, 0.3, 0.1])
        ra, rb, kind = cat(a), cat(b), st.CATEGORICAL
    ref_sh, cur_sh = evidently_shares(a, b, numeric)
    r, c, _ = st.binned_shares(ra, rb, kind)
    expected_js = distance.jensenshannon(ref_sh, cur_sh)
    assert st.run_test("jensenshannon", ra, rb, kind)[0] == pytest.approx(expected_js, abs=TOL)

    # PSI: Evidently's zero filling, then sum((r - c) * ln(r / c))
    def fill(x):
        x = x.copy()
        small = x[x != 0].min()
        x[x == 0] = small / 10**6 if small <= 0.0001 else 0.0001
        return x

    rf, cf = fill(ref_sh), fill(cur_sh)
    expected_psi = float(np.sum((rf - cf) * np.log(rf / cf)))
    assert st.psi_from_shares(r, c) == pytest.approx(expected_psi, abs=TOL)


def test_chisquare_is_scipy_homogeneity_test() -> None:
    rng = np.random.default_rng(2)
    a = rng.choice(list("abcd"), 800, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(list("abcde"), 600, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    stat, p = st.chisquare_test(cat(a), cat(b))
    keys = sorted(set(a) | set(b))
    table = np.array([[np.sum(a == k) for k in keys], [np.sum(b == k) for k in keys]])
    expected = stats.chi2_contingency(table, correction=False)
    assert stat == pytest.approx(expected.statistic, abs=TOL)
    assert p == pytest.approx(expected.pvalue, abs=TOL)
    # the same statistic as scipy's chisquare on the table against its expected frequencies
    flat = stats.chisquare(table.ravel(), expected.expected_freq.ravel())
    assert stat == pytest.approx(flat.statistic, abs=TOL)


def test_chisquare_gof_is_evidentlys_test() -> None:
    rng = np.random.default_rng(4)
    a = rng.choice(list("abc"), 700, p=[0.5, 0.3, 0.2])
    b = rng.choice(list("abc"), 300, p=[0.45, 0.35, 0.2])
    keys = sorted(set(a) | set(b))
    f_exp = np.array([np.sum(a == k) for k in keys]) * (300 / 700)
    f_obs = np.array([np.sum(b == k) for k in keys])
    expected = stats.chisquare(f_obs, f_exp)
    stat, p = st.chisquare_gof_test(cat(a), cat(b))
    assert stat == pytest.approx(expected.statistic, abs=TOL)
    assert p == pytest.approx(expected.pvalue, abs=TOL)


def test_homogeneity_test_avoids_gof_false_alarms() -> None:
    """Same distribution, 1000 rows each: the goodness-of-fit test alarms far more than 5%."""
    rng = np.random.default_rng(0)
    p = [0.4, 0.3, 0.2, 0.1]
    alarms = {"chisquare": 0, "chisquare_gof": 0}
    reps = 200
    for _ in range(reps):
        ra = cat(rng.choice(list("abcd"), 1000, p=p))
        rb = cat(rng.choice(list("abcd"), 1000, p=p))
        for test in alarms:
            alarms[test] += st.run_test(test, ra, rb, st.CATEGORICAL)[1] < 0.05
    assert alarms["chisquare"] / reps < 0.09
    assert alarms["chisquare_gof"] / reps > 2 * alarms["chisquare"] / reps


def test_z_test_matches_formula() -> None:
    a = np.array(["no"] * 700 + ["yes"] * 300, dtype=object)
    b = np.array(["no"] * 550 + ["yes"] * 450, dtype=object)
    z, p = st.z_test(cat(a), cat(b))
    p1, p2 = 0.3, 0.45
    pooled = (p1 * 1000 + p2 * 1000) / 2000
    expected_z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert z == pytest.approx(expected_z, abs=TOL)
    assert p == pytest.approx(2 * stats.norm.sf(abs(expected_z)), abs=TOL)
    assert st.z_test(cat(["a"] * 10), cat(["a"] * 20)) == (0.0, 1.0)


def test_default_tests_follow_evidently() -> None:
    rng = np.random.default_rng(1)
    small, big = 500, 5000
    assert (
        st.default_test(num(rng.normal(size=small)), num(rng.normal(size=99)), st.NUMERIC) == "ks"
    )
    assert (
        st.default_test(num(rng.integers(0, 4, small)), num(rng.integers(0, 4, 99)), st.NUMERIC)
        == "chisquare"
    )
    assert (
        st.default_test(num(rng.integers(0, 2, small)), num(rng.integers(0, 2, 99)), st.NUMERIC)
        == "z"
    )
    assert (
        st.default_test(cat(rng.choice(list("abc"), small)), cat(list("ab")), st.CATEGORICAL)
        == "chisquare"
    )
    assert (
        st.default_test(cat(rng.choice(list("ab"), small)), cat(list("ab")), st.CATEGORICAL) == "z"
    )
    assert (
        st.default_test(num(rng.normal(size=big)), num(rng.normal(size=99)), st.NUMERIC)
        == "wasserstein"
    )
    assert (
        st.default_test(num(rng.integers(0, 4, big)), num(rng.integers(0, 4, 99)), st.NUMERIC)
        == "jensenshannon"
    )
    assert (
        st.default_test(cat(rng.choice(list("abc"), big)), cat(list("ab")), st.CATEGORICAL)
        == "jensenshannon"
    )


def test_profile_round_trip_is_exact_for_small_references() -> None:
    rng = np.random.default_rng(8)
    a = num(rng.normal(size=1500))
    back = st.sample_from_profile(st.sample_to_profile(a))
    np.testing.assert_array_equal(back.values, a.values)
    assert back.exact and back.std == a.std and back.n == a.n
    big = num(rng.normal(size=50_000))
    sketch = st.sample_from_profile(st.sample_to_profile(big))
    assert not sketch.exact and sketch.n == 50_000 and len(sketch.values) == st.SKETCH_SIZE
    cur = num(rng.normal(0.2, 1, size=20_000))
    exact_w = st.wasserstein_test(big, cur)
    assert st.wasserstein_test(sketch, cur) == pytest.approx(exact_w, abs=0.01)
