"""Planning a two-arm test of a ratio of proportions: the standard normal quantile, the power of the log-ratio test
and the trials it needs.

The test compares two independent proportions (clicks per impression of two kinds of creative, say) by their ratio
``R = p1 / p0``, with the normal approximation on ``log R`` that :func:`newretail.methods.intervals.ratio_interval`
(``method="katz"``) uses for the interval: one trial in all has variance ``(1 - p1) / (s p1) + (1 - p0) /
((1 - s) p0)`` on the log scale, ``s`` the share of trials in the numerator arm. These are the only implementations in
the package; the analyses and the exercises call them (``tests/methods/test_power.py`` checks them against the closed
forms, scipy's normal distribution and a simulation of the test).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, check_alpha, shown

__all__ = ["normal_quantile", "ratio_test_power", "ratio_test_size"]


def _probability(value: Any, name: str) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise MethodInputError(f"{name}: must be a number in (0, 1), got {shown(value)}")
    if not 0 < value < 1:
        raise MethodInputError(f"{name}: must lie in (0, 1), got {shown(value)}")
    return float(value)


def normal_quantile(p: float) -> float:
    """The standard normal quantile: the ``z`` with ``P(Z <= z) = p`` (scipy ``norm.ppf``).

    Parameters
    ----------
    p : a probability in (0, 1) (0.975 for the 1.96 of a two-sided 95% interval).

    Returns
    -------
    float
        The quantile, in standard deviations.
    """
    p = _probability(p, "p")
    from scipy import stats

    return float(stats.norm.ppf(p))


def _design(ratio: Any, ratio_null: Any, p0: Any, share: Any) -> tuple[float, float, float, float]:
    """The checked design: the ratios (unitless, positive, different), the reference proportion and the share."""
    for value, name in ((ratio, "ratio"), (ratio_null, "ratio_null")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise MethodInputError(f"{name}: must be a positive number (a ratio of proportions), got {shown(value)}")
    if ratio == ratio_null:
        raise MethodInputError(f"ratio, ratio_null: must differ, both are {shown(ratio)}")
    p0 = _probability(p0, "p0")
    if not 0 < p0 * ratio < 1:
        raise MethodInputError(f"p0: p0 x ratio = {shown(p0 * ratio)} must lie in (0, 1) (a proportion)")
    return float(ratio), float(ratio_null), p0, _probability(share, "share")


def _log_sd(ratio: float, p0: float, share: float) -> float:
    """Standard deviation of the log ratio for one trial in all (divide by sqrt(trials))."""
    p1 = p0 * ratio
    return float(np.sqrt((1 - p1) / (share * p1) + (1 - p0) / ((1 - share) * p0)))


def ratio_test_power(
    trials: Any,
    *,
    ratio: float,
    ratio_null: float,
    p0: float,
    share: float = 0.5,
    alpha: float = 0.05,
) -> Any:
    """Chance that a test's two-sided ``1 - alpha`` interval for ``p1 / p0`` excludes ``ratio_null`` on the side of
    the true ``ratio`` (normal approximation on the log ratio).

    Parameters
    ----------
    trials : trials in the test, both arms together (impressions, visits), a count or an array of counts (> 0).
    ratio : the true ratio ``p1 / p0`` (unitless; 2.0 is "100% higher").
    ratio_null : the ratio the test must rule out (1.0: no difference).
    p0 : the reference arm's proportion (successes per trial), in (0, 1); ``p0 * ratio`` must be below 1 too.
    share : share of the trials given to the numerator arm, in (0, 1).
    alpha : 1 - confidence level of the interval, in (0, 0.5].

    Returns
    -------
    float or numpy.ndarray
        Power, in [0, 1]: ``Phi(|log(ratio / ratio_null)| sqrt(trials) / sd - z(1 - alpha/2))``, ``sd`` the
        standard deviation of the log ratio for one trial; a float for a scalar ``trials``, an array otherwise.
    """
    ratio, ratio_null, p0, share = _design(ratio, ratio_null, p0, share)
    alpha = check_alpha(alpha)
    if isinstance(trials, (str, bool)) or trials is None:
        raise MethodInputError(f"trials: must be a positive count or an array of them, got {shown(trials)}")
    try:
        n = np.asarray(trials, dtype=float)
    except (TypeError, ValueError):
        raise MethodInputError(f"trials: must be a positive count or an array of them, got {shown(trials)}") from None
    if n.size == 0 or not np.all(np.isfinite(n)) or np.any(n <= 0):
        bad = n[~(np.isfinite(n) & (n > 0))] if n.size else n
        raise MethodInputError(
            "trials: must be finite and > 0 (the trials in the test, both arms together)"
            + (f", got {shown(bad.flat[0])}" if bad.size else ", got no values")
        )
    from scipy import stats

    se = _log_sd(ratio, p0, share) / np.sqrt(n)
    power = stats.norm.cdf(abs(np.log(ratio / ratio_null)) / se - stats.norm.ppf(1 - alpha / 2))
    return float(power) if np.ndim(trials) == 0 else np.asarray(power)


def ratio_test_size(
    *,
    ratio: float,
    ratio_null: float,
    p0: float,
    share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Trials (both arms together) a test needs for its two-sided ``1 - alpha`` interval for ``p1 / p0`` to exclude
    ``ratio_null`` with probability ``power`` when the true ratio is ``ratio``.

    Parameters
    ----------
    ratio, ratio_null, p0, share, alpha : as for :func:`ratio_test_power`.
    power : wanted chance of ruling out ``ratio_null``, in (0, 1).

    Returns
    -------
    int
        ``ceil(((z(1 - alpha/2) + z(power)) sd / log(ratio / ratio_null))^2)`` trials, a count.
    """
    ratio, ratio_null, p0, share = _design(ratio, ratio_null, p0, share)
    alpha, power = check_alpha(alpha), _probability(power, "power")
    from scipy import stats

    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(np.ceil((z * _log_sd(ratio, p0, share) / np.log(ratio / ratio_null)) ** 2))
