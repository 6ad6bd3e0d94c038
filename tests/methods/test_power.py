"""Planning a test of a ratio of proportions (newretail.methods.power) against the closed forms, written here with the
standard library's normal distribution, and a table value of the normal quantile."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from newretail.methods import MethodInputError
from newretail.methods.power import normal_quantile, ratio_test_power, ratio_test_size

N = NormalDist()


def _power_by_hand(trials: float, ratio: float, ratio_null: float, p0: float, share: float, alpha: float) -> float:
    """Phi(|log R - log R0| / se - z), se^2 the variance of the log ratio of two independent binomial proportions."""
    p1 = ratio * p0
    se = math.sqrt((1 - p1) / (share * trials * p1) + (1 - p0) / ((1 - share) * trials * p0))
    return N.cdf(abs(math.log(ratio) - math.log(ratio_null)) / se - N.inv_cdf(1 - alpha / 2))


def test_normal_quantile_is_the_tables_and_the_standard_librarys() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959963984540054, abs=1e-14)  # the 1.96 of every table
    assert normal_quantile(0.5) == 0.0
    for p in (1e-6, 0.05, 0.8, 0.999):
        assert normal_quantile(p) == pytest.approx(N.inv_cdf(p), rel=1e-12)
    for bad in (0.0, 1.0, -0.1, "0.5", True):
        with pytest.raises(MethodInputError, match=r"^p: "):
            normal_quantile(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ratio", "ratio_null", "p0", "share", "alpha"),
    [(2.0, 1.5, 0.02, 0.5, 0.05), (1.3, 1.0, 0.03, 0.3, 0.1), (0.7, 1.0, 0.2, 0.6, 0.01)],
)
def test_power_is_the_closed_form(ratio: float, ratio_null: float, p0: float, share: float, alpha: float) -> None:
    trials = np.array([500.0, 5_000.0, 50_000.0])
    power = ratio_test_power(trials, ratio=ratio, ratio_null=ratio_null, p0=p0, share=share, alpha=alpha)
    by_hand = [_power_by_hand(n, ratio, ratio_null, p0, share, alpha) for n in trials]
    assert power == pytest.approx(by_hand, rel=1e-12)
    assert isinstance(ratio_test_power(1000, ratio=ratio, ratio_null=ratio_null, p0=p0, share=share), float)


@pytest.mark.parametrize(
    ("ratio", "ratio_null", "p0", "share", "power"),
    [(2.0, 1.5, 0.02, 0.5, 0.8), (1.3, 1.0, 0.03, 0.3, 0.9), (0.7, 1.0, 0.2, 0.6, 0.5)],
)
def test_size_is_the_smallest_number_of_trials_with_that_power(
    ratio: float, ratio_null: float, p0: float, share: float, power: float
) -> None:
    """The closed form ((z_a + z_b) sd / log(R / R0))^2 rounded up: the first whole number whose power by hand
    reaches the target."""
    n = ratio_test_size(ratio=ratio, ratio_null=ratio_null, p0=p0, share=share, power=power)
    # power by hand, without the tail of the other side (the closed form ignores it, < 1e-6 here)
    assert _power_by_hand(n, ratio, ratio_null, p0, share, 0.05) >= power - 1e-12
    assert _power_by_hand(n - 1, ratio, ratio_null, p0, share, 0.05) < power


def test_a_textbook_size() -> None:
    """CTRs of 2% and 4% (a ratio of 2 against 1), half the trials each, 5% two-sided, 80% power: sd^2 per trial is
    0.96 / (0.5 x 0.04) + 0.98 / (0.5 x 0.02) = 146, so n = (1.95996 + 0.84162)^2 x 146 / log(2)^2 = 2,385.1,
    i.e. 2,386 trials."""
    assert ratio_test_size(ratio=2.0, ratio_null=1.0, p0=0.02) == 2_386


def test_bad_designs_are_refused_naming_the_argument() -> None:
    good = {"ratio": 2.0, "ratio_null": 1.5, "p0": 0.02}
    cases = [
        ({"ratio": -1.0}, "^ratio: "),
        ({"ratio_null": 2.0}, "^ratio, ratio_null: must differ"),
        ({"p0": 0.6}, "^p0: "),
        ({"share": 1.0}, "^share: "),
        ({"alpha": 0.7}, "^alpha: "),
    ]
    for change, message in cases:
        with pytest.raises(MethodInputError, match=message):
            ratio_test_power(100, **{**good, **change})  # type: ignore[arg-type]
    with pytest.raises(MethodInputError, match=r"^trials: "):
        ratio_test_power([100, 0], **good)
    with pytest.raises(MethodInputError, match=r"^power: "):
        ratio_test_size(**good, power=1.2)
