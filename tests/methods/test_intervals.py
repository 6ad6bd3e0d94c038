"""Count intervals of newretail.methods against peers (statsmodels, scipy), closed forms and simulated coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from newretail.methods import MethodInputError, poisson_interval, proportion_interval, ratio_interval
from newretail.methods.intervals import standardized_ratio

Z = stats.norm.ppf(0.975)


def test_katz_equals_statsmodels_log_ratio_and_its_closed_form() -> None:
    x1, n1, x0, n0 = 41, 1_250, 22, 1_310
    ratio, low, high = ratio_interval(x1, n1, x0, n0, method="katz")
    lo_sm, hi_sm = confint_proportions_2indep(x1, n1, x0, n0, compare="ratio", method="log")
    assert (low, high) == pytest.approx((lo_sm, hi_sm), rel=1e-12)
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)  # Katz et al. (1978)
    r = (x1 / n1) / (x0 / n0)
    assert ratio == pytest.approx(r, rel=1e-15)
    assert (low, high) == pytest.approx((r * math.exp(-Z * se), r * math.exp(Z * se)), rel=1e-12)


def test_fieller_endpoints_solve_fiellers_quadratic() -> None:
    x1, n1, x0, n0 = 90, 3_000, 45, 2_800
    ratio, low, high = ratio_interval(x1, n1, x0, n0, method="fieller", alpha=0.1)
    p1, p0 = x1 / n1, x0 / n0
    v1, v0 = p1 * (1 - p1) / n1, p0 * (1 - p0) / n0
    z = stats.norm.ppf(0.95)
    for bound in (low, high):  # (p1 - R p0)^2 = z^2 (v1 + R^2 v0) at both ends
        assert (p1 - bound * p0) ** 2 == pytest.approx(z**2 * (v1 + bound**2 * v0), rel=1e-9)
    assert low < ratio < high


def test_delta_method_on_the_ratio_scale_by_hand() -> None:
    x1, n1, x0, n0 = 60, 2_000, 30, 2_000
    ratio, low, high = ratio_interval(x1, n1, x0, n0, method="delta")
    p1, p0 = x1 / n1, x0 / n0
    se = ratio * math.sqrt(p1 * (1 - p1) / n1 / p1**2 + p0 * (1 - p0) / n0 / p0**2)
    assert (low, high) == pytest.approx((ratio - Z * se, ratio + Z * se), rel=1e-12)


def test_vectorised_equals_elementwise() -> None:
    x1, n1 = np.array([5, 40, 0, 12]), np.array([100, 900, 50, 12])
    x0, n0 = np.array([3, 33, 4, 7]), np.array([120, 1_000, 60, 30])
    for method in ("katz", "fieller", "delta"):
        r, lo, hi = ratio_interval(x1, n1, x0, n0, method=method)
        for i in range(4):
            one = ratio_interval(int(x1[i]), int(n1[i]), int(x0[i]), int(n0[i]), method=method)
            np.testing.assert_allclose([r[i], lo[i], hi[i]], one, rtol=1e-12, equal_nan=True)
    assert np.isnan(lo[2]) and r[2] == 0.0  # no successes: the ratio is 0, the log interval is undefined


@pytest.mark.parametrize("method", ["katz", "fieller", "delta"])
def test_coverage_by_simulation(method: str) -> None:
    """4,000 simulated two-arm tests (true ratio 1.6): the standard error of a coverage near 0.95 is 0.0034, so
    the band [0.935, 0.965] separates a 95% interval from an 85% one by far."""
    rng = np.random.default_rng(2017)
    reps, n1, n0, p0, true = 4_000, 6_000, 6_000, 0.02, 1.6
    x1, x0 = rng.binomial(n1, p0 * true, reps), rng.binomial(n0, p0, reps)
    _, low, high = ratio_interval(x1, np.full(reps, n1), x0, np.full(reps, n0), method=method)
    coverage = float(np.mean((low <= true) & (true <= high)))
    assert 0.935 <= coverage <= 0.965


def test_proportion_interval_matches_statsmodels() -> None:
    for method in ("wilson", "beta", "agresti_coull", "jeffreys"):
        p, low, high = proportion_interval(17, 230, method=method, alpha=0.1)
        assert p == 17 / 230
        assert (low, high) == pytest.approx(proportion_confint(17, 230, alpha=0.1, method=method), rel=1e-12)
    k, n = np.array([0, 3, 50]), np.array([10, 10, 50])
    _, low, high = proportion_interval(k, n)
    ref = proportion_confint(k, n, method="wilson")
    np.testing.assert_allclose(low, ref[0], rtol=1e-12)
    np.testing.assert_allclose(high, ref[1], rtol=1e-12)


def test_wilson_closed_form() -> None:
    k, n = 8, 40
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)  # Wilson (1927)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    assert proportion_interval(k, n)[1:] == pytest.approx((centre - half, centre + half), rel=1e-10)


def test_poisson_interval_is_garwoods_chi_square_interval() -> None:
    for count, exposure in ((0, 1.0), (1, 1.0), (12, 3.5), (400, 10.0)):
        rate, low, high = poisson_interval(count, exposure=exposure)
        lo = 0.0 if count == 0 else stats.chi2.ppf(0.025, 2 * count) / 2  # Garwood (1936)
        hi = stats.chi2.ppf(0.975, 2 * count + 2) / 2
        assert rate == count / exposure
        assert (low, high) == pytest.approx((lo / exposure, hi / exposure), rel=1e-9, abs=1e-12)
    _, low, high = poisson_interval(np.array([2, 9]), exposure=np.array([1.0, 2.0]))
    assert high[1] == pytest.approx(stats.chi2.ppf(0.975, 20) / 2 / 2.0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ratio_interval(-1, 10, 1, 10), "x1"),
        (lambda: ratio_interval(1.5, 10, 1, 10), "x1"),
        (lambda: ratio_interval(11, 10, 1, 10), "x1"),
        (lambda: ratio_interval(1, 10, 1, 0), "n0"),
        (lambda: ratio_interval(1, 10, float("nan"), 10), "x0"),
        (lambda: ratio_interval(1, 10, 1, 10, alpha=0.6), "alpha"),
        (lambda: ratio_interval(1, 10, 1, 10, method="wald"), "method"),  # type: ignore[arg-type]
        (lambda: ratio_interval("3", 10, 1, 10), "x1"),
        (lambda: proportion_interval(3, 0), "n"),
        (lambda: proportion_interval(4, 3), "successes"),
        (lambda: proportion_interval(1, 3, alpha=0.0), "alpha"),
        (lambda: poisson_interval(-2), "count"),
        (lambda: poisson_interval(2, exposure=0.0), "exposure"),
    ],
)
def test_bad_counts_are_refused_naming_the_argument(call: object, name: str) -> None:
    with pytest.raises(MethodInputError, match=rf"^{name}\b") as err:
        call()  # type: ignore[operator]
    assert "\n" not in str(err.value)


def test_standardized_ratio_with_one_stratum_is_katz_from_statsmodels() -> None:
    """With a single stratum, indirect standardization is the plain ratio and its log variance reduces to Katz's."""
    ratio, low, high = standardized_ratio([41], [1_250], [22], [1_310])
    lo_sm, hi_sm = confint_proportions_2indep(41, 1_250, 22, 1_310, compare="ratio", method="log")
    assert ratio == pytest.approx((41 / 1_250) / (22 / 1_310), rel=1e-12)
    assert (low, high) == pytest.approx((lo_sm, hi_sm), rel=1e-10)


def test_standardized_ratio_covers_the_common_ratio_by_simulation() -> None:
    """Three strata with different reference rates and allocations, a common true ratio of 1.5: 3,000 simulated
    data sets; coverage within [0.935, 0.965] (its standard error near 0.95 is 0.004)."""
    rng = np.random.default_rng(11)
    n1, n0, p0, true = np.array([4_000, 1_000, 500]), np.array([1_000, 3_000, 4_000]), np.array([0.05, 0.02, 0.01]), 1.5
    hits = 0
    for _ in range(3_000):
        _, low, high = standardized_ratio(rng.binomial(n1, p0 * true), n1, rng.binomial(n0, p0), n0)
        hits += low <= true <= high
    assert 0.935 <= hits / 3_000 <= 0.965


def test_standardized_ratio_refuses_strata_without_reference_trials() -> None:
    with pytest.raises(MethodInputError, match=r"^n0"):
        standardized_ratio([3, 4], [10, 10], [1, 0], [10, 0])


def test_mantel_haenszel_odds_ratio_is_the_closed_form_with_the_robins_breslow_greenland_variance() -> None:
    """sum(ad/n) / sum(bc/n) over the strata, and the RGB variance of its log (Robins, Breslow and Greenland 1986),
    written out; a stratum without reference trials is left out."""
    from newretail.methods.intervals import mantel_haenszel_odds_ratio

    x1, n1 = np.array([12, 30, 7, 5]), np.array([400, 900, 150, 50])
    x0, n0 = np.array([8, 20, 2, 0]), np.array([500, 1_000, 120, 0])
    odds, low, high = mantel_haenszel_odds_ratio(x1, n1, x0, n0)
    a, b, c, d = x1[:3], (n1 - x1)[:3], x0[:3], (n0 - x0)[:3]
    n = a + b + c + d
    p, q, r, s = (a + d) / n, (b + c) / n, a * d / n, b * c / n
    assert odds == pytest.approx(r.sum() / s.sum(), rel=1e-12)
    var = (p * r).sum() / (2 * r.sum() ** 2) + (p * s + q * r).sum() / (2 * r.sum() * s.sum())
    var += (q * s).sum() / (2 * s.sum() ** 2)
    half = Z * math.sqrt(var)
    assert (low, high) == pytest.approx((odds * math.exp(-half), odds * math.exp(half)), rel=1e-12)
    with pytest.raises(MethodInputError, match=r"^x1: more successes"):
        mantel_haenszel_odds_ratio([5], [4], [1], [10])
    with pytest.raises(MethodInputError, match=r"^n1, n0: no stratum"):
        mantel_haenszel_odds_ratio([0], [0], [1], [10])


def test_delta_log_interval_is_the_closed_form_for_a_log_linear_function() -> None:
    """For fn = exp(c'theta) the log is linear, so its standard error is sqrt(c' V c) exactly; for fn = theta_0 x
    theta_1 the gradient of the log is (1/theta_0, 1/theta_1)."""
    from newretail.methods.intervals import delta_log_interval

    theta = np.array([0.4, 1.5, -0.2])
    cov = np.array([[0.04, 0.01, 0.0], [0.01, 0.09, -0.02], [0.0, -0.02, 0.16]])
    c = np.array([1.0, -2.0, 0.5])
    value, low, high = delta_log_interval(lambda th: float(np.exp(c @ th)), theta, cov)
    se = math.sqrt(c @ cov @ c)
    assert value == pytest.approx(math.exp(c @ theta), rel=1e-15)
    assert (low, high) == pytest.approx((value * math.exp(-Z * se), value * math.exp(Z * se)), rel=1e-8)
    value, low, high = delta_log_interval(lambda th: float(th[0] * th[1]), theta, cov, alpha=0.1)
    g = np.array([1 / theta[0], 1 / theta[1], 0.0])
    se, z90 = math.sqrt(g @ cov @ g), stats.norm.ppf(0.95)
    assert (low, high) == pytest.approx((value * math.exp(-z90 * se), value * math.exp(z90 * se)), rel=1e-8)
    with pytest.raises(MethodInputError, match=r"^fn: must be positive"):
        delta_log_interval(lambda th: -1.0, theta, cov)
    with pytest.raises(MethodInputError, match=r"^cov: "):
        delta_log_interval(lambda th: 1.0, theta, cov[:2, :2])
