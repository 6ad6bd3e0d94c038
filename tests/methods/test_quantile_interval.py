"""quantile_interval: the sample quantile with the exact order-statistics interval, checked against scipy's
quantile_test, against the binomial closed form, and by its coverage of a known quantile in simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from newretail.methods import MethodInputError, quantile_interval


@pytest.mark.parametrize(("n", "q", "alpha"), [(50, 0.5, 0.05), (400, 0.95, 0.05), (1000, 0.9, 0.1)])
def test_matches_scipys_quantile_test(n: int, q: float, alpha: float) -> None:
    x = np.random.default_rng(n).gamma(2.0, 10.0, size=n)
    value, low, high = quantile_interval(x, q=q, alpha=alpha)
    ci = stats.quantile_test(x, q=np.quantile(x, q), p=q).confidence_interval(1 - alpha)
    assert value == pytest.approx(np.quantile(x, q))
    assert (low, high) == pytest.approx((ci.low, ci.high))


def test_bounds_are_the_binomial_order_statistics() -> None:
    """Closed form: the bounds are order statistics x_(l) <= x_(u) whose ranks enclose at least 1 - alpha of the
    binomial(n, q) count of observations below the true quantile."""
    n, q, alpha = 300, 0.95, 0.05
    x = np.sort(np.random.default_rng(7).normal(size=n))
    _, low, high = quantile_interval(x, q=q, alpha=alpha)
    rank_low, rank_high = int(np.searchsorted(x, low)) + 1, int(np.searchsorted(x, high)) + 1
    assert x[rank_low - 1] == low and x[rank_high - 1] == high
    # P(x_(l) <= xi_q <= x_(u)) = P(l <= B <= u - 1), B ~ binomial(n, q)
    probability = stats.binom.cdf(rank_high - 1, n, q) - stats.binom.cdf(rank_low - 1, n, q)
    assert probability >= 1 - alpha


def test_covers_a_known_quantile_at_its_level_in_simulation() -> None:
    """Exponential(1) samples: the true 95th percentile is -log(0.05); the exact interval covers it at least 95%
    of the time (it is conservative, by the discreteness of the order statistics, but not by much)."""
    rng = np.random.default_rng(2017)
    truth = -math.log(0.05)
    reps, covered = 1500, 0
    for _ in range(reps):
        _, low, high = quantile_interval(rng.exponential(size=400), q=0.95)
        covered += low <= truth <= high
    coverage = covered / reps
    se = math.sqrt(0.95 * 0.05 / reps)
    assert 0.95 - 3 * se <= coverage <= 0.985, coverage


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"values": [1.0, 2.0], "q": 1.0}, "^q: "),
        ({"values": [1.0, 2.0], "q": 0.5, "alpha": 0.7}, "^alpha: "),
        ({"values": [], "q": 0.5}, "^values: "),
        ({"values": [1.0, math.nan], "q": 0.5}, "^values: "),
        ({"values": [[1.0, 2.0]], "q": 0.5}, "^values: "),
        ({"values": "abc", "q": 0.5}, "^values: "),
    ],
)
def test_refuses_bad_input_in_one_line_naming_the_argument(kwargs: dict, match: str) -> None:
    values = kwargs.pop("values")
    with pytest.raises(MethodInputError, match=match) as err:
        quantile_interval(values, **kwargs)
    assert "\n" not in str(err.value)
