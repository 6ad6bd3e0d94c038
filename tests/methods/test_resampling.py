"""Random-group totals, their bootstrap and the multi-way cluster-robust variance, against numpy, scipy and statsmodels.

The multi-way variance, given one "random group" per cluster, is the cluster-robust (sandwich) variance of a
weighted mean: a ratio of totals a/b is the mean of a/b weighted by b, and statsmodels' WLS with ``cov_type="cluster"``
(one-way, or two-way as Cameron, Gelbach and Miller) computes it by another route with the same small-sample factor
G/(G-1) (with one regressor, its (N-1)/(N-K) is 1).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from newretail.methods import MethodInputError
from newretail.methods import resampling as rs


def _ratio(a: float, b: float) -> float:
    return a / b


def _day(seed: int = 3, n: int = 3000) -> dict[str, np.ndarray]:
    """Clicks over impressions with two crossed clusterings (60 shoppers, 25 designs), each moving the rate."""
    rng = np.random.default_rng(seed)
    ga, gb = rng.integers(0, 60, n), rng.integers(0, 25, n)
    b = rng.poisson(20, n) + 1.0
    p = np.clip(0.1 + 0.05 * np.sin(ga) + 0.03 * np.cos(gb), 0.01, 0.9)
    a = rng.binomial(b.astype(int), p).astype(float)
    return {"a": a, "b": b, "ga": ga, "gb": gb}


def _totals(key: np.ndarray, d: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Totals per cluster actually present (statsmodels counts only those)."""
    _, inverse = np.unique(key, return_inverse=True)
    return {k: np.bincount(inverse, weights=d[k]) for k in ("a", "b")}


def _wls(d: dict[str, np.ndarray], **fit: object) -> float:
    y, w = d["a"] / d["b"], d["b"]
    return float(sm.WLS(y, np.ones(y.size), weights=w).fit(**fit).bse[0] ** 2)


def test_one_way_variance_is_statsmodels_cluster_robust_wls() -> None:
    d = _day()
    got = rs.multiway_interval({"shopper": _totals(d["ga"], d)}, _ratio, iid={"a": d["a"], "b": d["b"]})
    want = _wls(d, cov_type="cluster", cov_kwds={"groups": d["ga"]})
    assert got.variance == pytest.approx(want, rel=1e-7)
    n = d["a"].size  # HC0 has no small-sample factor; the rows as groups carry n/(n-1)
    assert got.iid_variance == pytest.approx(_wls(d, cov_type="HC0") * n / (n - 1), rel=1e-7)
    assert got.design_effect == pytest.approx(want / got.iid_variance, rel=1e-7)
    assert got.estimate.value == pytest.approx(d["a"].sum() / d["b"].sum(), rel=1e-12)
    z = stats.norm.isf(0.025)
    assert got.estimate.ci_low == pytest.approx(got.estimate.value - z * math.sqrt(want), rel=1e-6)
    assert got.estimate.ci_high == pytest.approx(got.estimate.value + z * math.sqrt(want), rel=1e-6)
    assert got.clusters == ("shopper",)


def test_two_way_variance_is_statsmodels_cameron_gelbach_miller() -> None:
    d = _day()
    both = d["ga"] * 1000 + d["gb"]
    got = rs.multiway_interval(
        {"shopper": _totals(d["ga"], d), "design": _totals(d["gb"], d)},
        _ratio,
        iid={"a": d["a"], "b": d["b"]},
        intersections={"shopper x design": _totals(both, d)},
    )
    want = _wls(d, cov_type="cluster", cov_kwds={"groups": np.column_stack([d["ga"], d["gb"]])})
    one_a = rs.multiway_interval({"shopper": _totals(d["ga"], d)}, _ratio, iid={"a": d["a"], "b": d["b"]})
    one_b = rs.multiway_interval({"design": _totals(d["gb"], d)}, _ratio, iid={"a": d["a"], "b": d["b"]})
    assert want > max(one_a.variance, one_b.variance)  # not the floor: the subtraction itself is checked
    assert got.variance == pytest.approx(want, rel=1e-7)
    assert got.clusters == ("shopper", "design")


def test_two_way_variance_is_floored_at_the_larger_one_way_variance() -> None:
    d = _day()
    a_groups, b_groups = _totals(d["ga"], d), _totals(d["gb"], d)
    # an "intersection" spread wider than both clusterings would make V_a + V_b - V_ab smaller than either
    wide = _totals(np.arange(d["a"].size) % 7, {k: v * 9.0 for k, v in d.items()})
    got = rs.multiway_interval(
        {"a": a_groups, "b": b_groups}, _ratio, iid={"a": d["a"], "b": d["b"]}, intersections={"ab": wide}
    )
    one = [rs.multiway_interval({k: g}, _ratio, iid={"a": d["a"], "b": d["b"]}).variance for k, g in
           (("a", a_groups), ("b", b_groups))]  # fmt: skip
    assert got.variance == pytest.approx(max(one), rel=1e-12)


def test_log_interval_is_symmetric_on_the_log_scale_and_design_effect_is_the_variance_ratio() -> None:
    """The log interval's identities are exact. The design effect is a statistic: the shopper's rate moves with
    sin(shopper), so rows of one shopper (50 each) are dependent and the one-way clustered variance is several times
    the iid one, asserted above 1.5. Measured over seeds 0-1,999 of this design: mean 11.5, standard deviation 0.71
    (log scale 0.062, skew 0.05), smallest 9.3, largest 13.9; 1.5 lies 14 spreads below the mean (33 on the log
    scale), a false-failure rate far below 1 in 1,000,000 per run. It fails a variance that ignores the clusters
    (design effect 1) and the ratio taken the wrong way up (about 0.09)."""
    d = _day(seed=5)
    g = _totals(d["ga"], d)
    plain = rs.multiway_interval({"s": g}, _ratio, iid={"a": d["a"], "b": d["b"]})
    logged = rs.multiway_interval({"s": g}, _ratio, iid={"a": d["a"], "b": d["b"]}, log=True, confidence=0.9)
    v, se = logged.estimate.value, math.sqrt(logged.variance)
    z = stats.norm.isf(0.05)
    assert math.log(logged.estimate.ci_high / v) == pytest.approx(z * se / v, rel=1e-9)
    assert math.log(v / logged.estimate.ci_low) == pytest.approx(z * se / v, rel=1e-9)
    assert logged.variance == pytest.approx(plain.variance, rel=1e-12)
    assert plain.design_effect > 1.5  # the shopper effect makes rows dependent


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_a_statistic_that_is_not_finite_gives_no_interval() -> None:
    iid = {"a": np.array([1.0, 2.0]), "b": np.array([0.0, 0.0])}
    out = rs.multiway_interval({"s": iid}, _ratio, iid=iid)
    assert math.isinf(out.estimate.value) or math.isnan(out.estimate.value)
    assert math.isnan(out.estimate.ci_low) and math.isnan(out.variance) and math.isnan(out.design_effect)
    negative = {"a": np.array([-1.0, -2.0]), "b": np.array([1.0, 1.0])}
    out = rs.multiway_interval({"s": negative}, _ratio, iid=negative, log=True)
    assert out.estimate.value == -1.5 and math.isnan(out.estimate.ci_high)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.3}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"by_clustering": {}}, "by_clustering"),
        ({"by_clustering": {"x": {"a": [1.0], "b": [1.0]}, "y": {"a": [1.0], "b": [1.0]}}}, "intersections"),
        ({"by_clustering": {k: {"a": [1.0], "b": [1.0]} for k in "xyz"}}, "by_clustering"),
        ({"by_clustering": {"x": {"a": [1.0]}}}, r"by_clustering\['x'\]"),
    ],
)
def test_bad_multiway_input_is_refused_naming_the_argument(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"by_clustering": {"x": {"a": [1.0, 2.0], "b": [2.0, 3.0]}}}
    args.update(kwargs)
    with pytest.raises(MethodInputError, match=name):
        rs.multiway_interval(  # type: ignore[arg-type]
            args["by_clustering"], _ratio, iid={"a": np.ones(2), "b": np.ones(2)},
            **{k: v for k, v in args.items() if k != "by_clustering"},
        )  # fmt: skip


def test_group_totals_equal_numpy_bincount_and_empty_groups_are_zero() -> None:
    rng = np.random.default_rng(0)
    user = rng.integers(0, 10_000, 5000)
    x = rng.exponential(3.0, 5000)
    lf = pl.LazyFrame({"user": user, "x": x, "one": np.ones(5000, dtype=np.int64)})
    got = rs.group_totals(lf, cluster=pl.col("user"), sums={"x": pl.col("x"), "n": pl.col("one")}, groups=37)
    np.testing.assert_allclose(got["x"], np.bincount(user % 37, weights=x, minlength=37), rtol=1e-12)
    np.testing.assert_array_equal(got["n"], np.bincount(user % 37, minlength=37).astype(float))
    assert got["x"].dtype == np.float64 and got["n"].dtype == np.float64
    few = rs.group_totals(lf.head(3), cluster=pl.col("user"), sums={"n": pl.col("one")}, groups=50)
    assert few["n"].size == 50 and few["n"].sum() == 3.0 and np.count_nonzero(few["n"]) <= 3
    assert rs.group_totals(lf, cluster=pl.col("user"), sums={"n": pl.col("one")})["n"].size == rs.GROUPS


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"groups": 1}, "groups"), ({"groups": 2.0}, "groups"), ({"sums": {}}, "sums")]
)
def test_group_totals_refuse_bad_input(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"cluster": pl.col("u"), "sums": {"n": pl.col("u")}, **kwargs}
    with pytest.raises(MethodInputError, match=name):
        rs.group_totals(pl.LazyFrame({"u": [1, 2]}), **args)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_settled_rounds_to_twelve_significant_digits(v: float) -> None:
    out = rs._settled(np.array([v, 0.0]))
    assert out[0] == float(f"{v:.11e}") or math.isclose(out[0], float(f"{v:.11e}"), rel_tol=2e-16)
    assert out[1] == 0.0


def test_settled_keeps_the_shape_and_leaves_non_finite_values() -> None:
    a = np.array([[1.0 + 1e-14, np.inf], [np.nan, -123456.7890123456]])
    out = rs._settled(a)
    assert out.shape == (2, 2)
    assert out[0, 0] == 1.0 and math.isinf(out[0, 1]) and math.isnan(out[1, 0])
    assert out[1, 1] == -123456.789012


def test_bootstrap_is_scipys_bca_on_the_settled_totals() -> None:
    rng = np.random.default_rng(1)
    num, den = rng.poisson(50, 100).astype(float), rng.poisson(400, 100).astype(float)

    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(x, axis=axis) / np.sum(y, axis=axis)

    low, high = rs.bootstrap_interval((num, den), ratio, confidence=0.9)
    rng = np.random.default_rng(rs.BOOTSTRAP_SEED)
    want = stats.bootstrap(
        (num, den), ratio, paired=True, vectorized=True, n_resamples=rs.N_RESAMPLES, confidence_level=0.9,
        method="BCa", rng=rng,
    )  # fmt: skip
    assert low[0] == pytest.approx(want.confidence_interval.low, rel=1e-12)
    assert high[0] == pytest.approx(want.confidence_interval.high, rel=1e-12)
    est = rs.ratio_interval(num, den, confidence=0.9)
    assert (est.ci_low, est.ci_high) == (low[0], high[0]) and est.value == num.sum() / den.sum()


def test_bootstrap_falls_back_to_percentile_where_bca_is_undefined() -> None:
    flat = np.full(30, 4.0)  # no spread: BCa's acceleration is 0/0
    low, high = rs.bootstrap_interval((flat,), lambda x, axis=-1: np.sum(x, axis=axis))
    assert np.isfinite(low[0]) and low[0] == high[0] == 120.0
    assert rs.total_interval(flat) == rs.Estimate(120.0, 120.0, 120.0)


def test_total_and_ratio_intervals_agree_with_the_normal_closed_form() -> None:
    """With 400 normal groups the bootstrap of a sum is close to sum +- z sqrt(G) sd; a ratio to its delta method."""
    rng = np.random.default_rng(2)
    g = rng.normal(10.0, 2.0, 400)
    est = rs.total_interval(g)
    half = stats.norm.isf(0.025) * math.sqrt(g.size) * g.std()
    assert est.value == pytest.approx(g.sum(), rel=1e-12)
    assert est.ci_low == pytest.approx(g.sum() - half, rel=2e-3)
    assert est.ci_high == pytest.approx(g.sum() + half, rel=2e-3)
    num, den = rng.normal(30.0, 3.0, 400), rng.normal(100.0, 5.0, 400)
    r = num.sum() / den.sum()
    se = math.sqrt(g.size) * np.std(num - r * den) / den.sum()
    got = rs.ratio_interval(num, den)
    assert got.ci_high - got.ci_low == pytest.approx(2 * stats.norm.isf(0.025) * se, rel=0.1)
    assert got.ci_low < r < got.ci_high
