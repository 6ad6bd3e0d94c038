"""Intervals from counts (a ratio of two proportions, one proportion, one Poisson count) and of a sample quantile.

These are the only implementations in the package of the count-level CTR ratio interval (Katz's log method, Fieller's
and the delta method on the ratio scale), the ratio standardized over strata, the Wilson (or other binomial) interval,
the exact Poisson (Garwood) interval and the order-statistics interval of a quantile; the analyses, the claims and the
stress tests call them. The count functions take scalars or numpy arrays (element-wise; strata for the standardized
ratio) and return floats for scalar input, arrays otherwise. statsmodels and scipy compute the intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from newretail.methods._frames import MethodInputError, check_alpha, shown

__all__ = [
    "delta_log_interval",
    "mantel_haenszel_odds_ratio",
    "poisson_interval",
    "proportion_interval",
    "quantile_interval",
    "ratio_interval",
    "standardized_ratio",
]

RatioMethod = Literal["katz", "fieller", "delta"]
RATIO_METHODS = ("katz", "fieller", "delta")
PROPORTION_METHODS = ("wilson", "beta", "agresti_coull", "jeffreys", "normal")


def _counts(value: Any, name: str, *, positive: bool = False) -> np.ndarray:
    """A count (or array of counts) as float64: finite, whole, non-negative (positive if asked)."""
    if isinstance(value, str) or value is None:
        raise MethodInputError(f"{name}: must be a count (a whole number >= 0), got {shown(value)}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"{name}: must be a count (a whole number >= 0), got {shown(value)}") from None
    if arr.size == 0:
        raise MethodInputError(f"{name}: no values")
    if not np.all(np.isfinite(arr)):
        raise MethodInputError(f"{name}: NaN or infinite count")
    if np.any(arr < 0):
        raise MethodInputError(f"{name}: negative count {shown(arr[arr < 0].flat[0])}")
    if np.any(arr != np.round(arr)):
        raise MethodInputError(f"{name}: counts must be whole numbers, got {shown(arr[arr != np.round(arr)].flat[0])}")
    if positive and np.any(arr == 0):
        raise MethodInputError(f"{name}: a zero denominator (no trials)")
    return arr


def _out(scalar: bool, *arrays: np.ndarray) -> tuple[Any, ...]:
    if scalar:
        return tuple(float(np.asarray(a).reshape(-1)[0]) for a in arrays)
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


def _is_scalar(*values: Any) -> bool:
    return all(np.ndim(v) == 0 for v in values)


def ratio_interval(
    x1: Any, n1: Any, x0: Any, n0: Any, *, method: RatioMethod = "katz", alpha: float = 0.05
) -> tuple[Any, Any, Any]:
    """Ratio of two independent proportions ``(x1 / n1) / (x0 / n0)`` with a ``1 - alpha`` interval.

    Parameters
    ----------
    x1, n1 : successes and trials of the numerator group (e.g. clicks and impressions of AI creatives), counts.
    x0, n0 : successes and trials of the reference group, counts.
    method : ``"katz"``, a normal interval for the log ratio with Katz's variance
        ``1/x1 - 1/n1 + 1/x0 - 1/n0`` (statsmodels' ``confint_proportions_2indep(..., method="log")``);
        ``"fieller"``, Fieller's interval for a ratio of two asymptotically normal estimates (unbounded, so NaN,
        when the reference proportion is not significantly above zero); ``"delta"``, a normal interval on the ratio
        scale with the delta method's standard error ``R * sqrt(v1/p1^2 + v0/p0^2)``.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (ratio, low, high)
        Unitless (2.0 means "100% higher"); floats for scalar input, arrays (broadcast) otherwise. ``low``/``high``
        are NaN where the interval is undefined: no successes in either group (the log ratio has no variance
        estimate), or an unbounded Fieller set. The ratio is 0 when ``x1 == 0`` and infinite when ``x0 == 0``.
    """
    if method not in RATIO_METHODS:
        raise MethodInputError(f"method: must be one of {', '.join(RATIO_METHODS)}, got {shown(method)}")
    alpha = check_alpha(alpha)
    scalar = _is_scalar(x1, n1, x0, n0)
    a1, t1 = _counts(x1, "x1"), _counts(n1, "n1", positive=True)
    a0, t0 = _counts(x0, "x0"), _counts(n0, "n0", positive=True)
    try:
        a1, t1, a0, t0 = np.broadcast_arrays(a1, t1, a0, t0)
    except ValueError:
        raise MethodInputError("x1, n1, x0, n0: arrays of different shapes") from None
    for x, n, name in ((a1, t1, "x1"), (a0, t0, "x0")):
        if np.any(x > n):
            raise MethodInputError(f"{name}: more successes than trials ({x[x > n].flat[0]:g} > {n[x > n].flat[0]:g})")
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p0 = a1 / t1, a0 / t0
        ratio = p1 / p0
        ok = (a1 > 0) & (a0 > 0)
        low, high = np.full(ratio.shape, np.nan), np.full(ratio.shape, np.nan)
        if method == "katz":
            if ok.any():
                from statsmodels.stats.proportion import confint_proportions_2indep

                lo, hi = confint_proportions_2indep(
                    a1[ok], t1[ok], a0[ok], t0[ok], method="log", compare="ratio", alpha=alpha
                )
                low[ok], high[ok] = lo, hi
        elif method == "fieller":
            v1, v0 = p1 * (1 - p1) / t1, p0 * (1 - p0) / t0
            a = p0**2 - z**2 * v0
            disc = (p1 * p0) ** 2 - a * (p1**2 - z**2 * v1)
            bounded = ok & (a > 0) & (disc >= 0)
            root = np.sqrt(np.where(bounded, disc, 0.0))
            low = np.where(bounded, (p1 * p0 - root) / a, np.nan)
            high = np.where(bounded, (p1 * p0 + root) / a, np.nan)
        else:  # delta method on the ratio scale
            se = ratio * np.sqrt((1 - p1) / a1 + (1 - p0) / a0)
            low = np.where(ok, ratio - z * se, np.nan)
            high = np.where(ok, ratio + z * se, np.nan)
    return _out(scalar, ratio, low, high)


def proportion_interval(successes: Any, n: Any, *, method: str = "wilson", alpha: float = 0.05) -> tuple[Any, Any, Any]:
    """A proportion ``successes / n`` with a ``1 - alpha`` binomial interval (statsmodels ``proportion_confint``).

    Parameters
    ----------
    successes, n : counts (scalars or arrays, broadcast); ``n`` must be positive.
    method : ``"wilson"`` (score interval, the default), ``"beta"`` (Clopper-Pearson), ``"agresti_coull"``,
        ``"jeffreys"`` or ``"normal"``.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (proportion, low, high)
        Shares in [0, 1]; floats for scalar input, arrays otherwise.
    """
    if method not in PROPORTION_METHODS:
        raise MethodInputError(f"method: must be one of {', '.join(PROPORTION_METHODS)}, got {shown(method)}")
    alpha = check_alpha(alpha)
    scalar = _is_scalar(successes, n)
    k, m = _counts(successes, "successes"), _counts(n, "n", positive=True)
    try:
        k, m = np.broadcast_arrays(k, m)
    except ValueError:
        raise MethodInputError("successes, n: arrays of different shapes") from None
    if np.any(k > m):
        raise MethodInputError(f"successes: more successes than trials ({k[k > m].flat[0]:g} > {m[k > m].flat[0]:g})")
    from statsmodels.stats.proportion import proportion_confint

    if scalar:
        low, high = proportion_confint(int(k.flat[0]), int(m.flat[0]), alpha=alpha, method=method)
    else:
        low, high = proportion_confint(k, m, alpha=alpha, method=method)
    return _out(scalar, k / m, low, high)


def poisson_interval(count: Any, *, exposure: Any = 1.0, alpha: float = 0.05) -> tuple[Any, Any, Any]:
    """A Poisson rate ``count / exposure`` with its exact (Garwood, central) ``1 - alpha`` interval.

    Parameters
    ----------
    count : events observed, a count (scalar or array).
    exposure : exposure the count was observed over (time, area, or 1 for a plain count), > 0.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (rate, low, high)
        Events per unit of exposure; floats for scalar input, arrays otherwise (statsmodels ``confint_poisson``,
        ``method="exact-c"``: chi-square quantiles, lower bound 0 for a zero count).
    """
    alpha = check_alpha(alpha)
    scalar = _is_scalar(count, exposure)
    k = _counts(count, "count")
    if isinstance(exposure, (str, bool)) or exposure is None:
        raise MethodInputError(f"exposure: must be a positive number, got {shown(exposure)}")
    try:
        e = np.asarray(exposure, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"exposure: must be a positive number, got {shown(exposure)}") from None
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        bad = e[~(np.isfinite(e) & (e > 0))].flat[0]
        raise MethodInputError(f"exposure: must be finite and > 0 (a zero exposure has no rate), got {shown(bad)}")
    try:
        k, e = np.broadcast_arrays(k, e)
    except ValueError:
        raise MethodInputError("count, exposure: arrays of different shapes") from None
    from statsmodels.stats.rates import confint_poisson

    if scalar:
        low, high = confint_poisson(int(k.flat[0]), float(e.flat[0]), method="exact-c", alpha=alpha)
    else:
        low, high = confint_poisson(k, e, method="exact-c", alpha=alpha)
    low = np.where(k == 0, 0.0, np.nan_to_num(np.asarray(low, dtype=np.float64), nan=0.0))
    return _out(scalar, k / e, low, high)


def standardized_ratio(x1: Any, n1: Any, x0: Any, n0: Any, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """Ratio of proportions standardized over strata, with a ``1 - alpha`` interval (delta method on the log).

    The successes of the numerator group over those it would have had at the reference group's proportion in each
    stratum, ``sum(x1) / sum(n1 * x0 / n0)`` (indirect standardization, an SMR-type estimate: the effect on the
    numerator group's trials). The log ratio's variance adds ``sum(n1 p1 (1 - p1)) / sum(x1)^2`` and
    ``sum(n1^2 p0 (1 - p0) / n0) / expected^2``, taking the numerator group's allocation over strata as fixed.

    Parameters
    ----------
    x1, n1, x0, n0 : counts per stratum (1-d arrays of equal length): successes and trials of the numerator and
        the reference group. Every stratum with numerator trials needs reference trials.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (ratio, low, high)
        Floats; ``low``/``high`` are NaN when there are no numerator successes or no expected ones.
    """
    alpha = check_alpha(alpha)
    a1, t1, a0, t0 = (np.atleast_1d(_counts(v, name)) for v, name in ((x1, "x1"), (n1, "n1"), (x0, "x0"), (n0, "n0")))
    if not (a1.shape == t1.shape == a0.shape == t0.shape) or a1.ndim != 1:
        raise MethodInputError("x1, n1, x0, n0: must be 1-d arrays of equal length (one value per stratum)")
    for x, n, name in ((a1, t1, "x1"), (a0, t0, "x0")):
        if np.any(x > n):
            raise MethodInputError(f"{name}: more successes than trials ({x[x > n].flat[0]:g} > {n[x > n].flat[0]:g})")
    if np.any((t0 == 0) & (t1 > 0)):
        raise MethodInputError("n0: a stratum with numerator trials has no reference trials to compare with")
    from scipy import stats

    used = t1 > 0
    a1, t1, a0, t0 = a1[used], t1[used], a0[used], t0[used]
    p1, p0 = a1 / t1, a0 / t0
    observed, expected = float(a1.sum()), float(np.sum(t1 * p0))
    if observed <= 0 or expected <= 0:
        return (0.0 if expected > 0 else math.nan), math.nan, math.nan
    var_log = float(np.sum(t1 * p1 * (1 - p1))) / observed**2 + float(np.sum(t1**2 * p0 * (1 - p0) / t0)) / expected**2
    ratio = observed / expected
    half = float(stats.norm.ppf(1 - alpha / 2)) * math.sqrt(var_log)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def mantel_haenszel_odds_ratio(
    x1: Any, n1: Any, x0: Any, n0: Any, *, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Odds ratio of a success for the numerator over the reference group, pooled over strata (Mantel-Haenszel),
    with its ``1 - alpha`` interval (Robins-Breslow-Greenland variance of the log, statsmodels ``StratifiedTable``).

    The pooled odds ratio is ``sum(a d / n) / sum(b c / n)`` over the strata's 2 x 2 tables ``[[a, b], [c, d]]``
    (``a = x1``, ``b = n1 - x1``, ``c = x0``, ``d = n0 - x0``, ``n = n1 + n0``). Strata without trials in both groups
    carry no comparison and are left out.

    Parameters
    ----------
    x1, n1, x0, n0 : counts per stratum (1-d arrays of equal length): successes and trials of the numerator and
        the reference group.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (odds_ratio, low, high)
        Floats, unitless (close to the ratio of proportions when successes are rare).
    """
    alpha = check_alpha(alpha)
    a1, t1, a0, t0 = (np.atleast_1d(_counts(v, name)) for v, name in ((x1, "x1"), (n1, "n1"), (x0, "x0"), (n0, "n0")))
    if not (a1.shape == t1.shape == a0.shape == t0.shape) or a1.ndim != 1:
        raise MethodInputError("x1, n1, x0, n0: must be 1-d arrays of equal length (one value per stratum)")
    for x, n, name in ((a1, t1, "x1"), (a0, t0, "x0")):
        if np.any(x > n):
            raise MethodInputError(f"{name}: more successes than trials ({x[x > n].flat[0]:g} > {n[x > n].flat[0]:g})")
    used = (t1 > 0) & (t0 > 0)
    if not used.any():
        raise MethodInputError("n1, n0: no stratum has trials in both groups; there is nothing to compare")
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = np.stack([np.stack([a1, t1 - a1]), np.stack([a0, t0 - a0])])  # 2 x 2 x strata
    table = StratifiedTable(tables[:, :, used])
    low, high = table.oddsratio_pooled_confint(alpha=alpha)
    return float(table.oddsratio_pooled), float(low), float(high)


def quantile_interval(values: Any, *, q: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """The ``q`` quantile of a sample with a distribution-free ``1 - alpha`` interval.

    The value is numpy's default (linearly interpolated) sample quantile; the interval is the exact binomial one from
    order statistics (scipy ``quantile_test(...).confidence_interval``), valid for any continuous distribution.

    Parameters
    ----------
    values : 1-d array of finite numbers (the sample, in its own units: minutes, RMB...).
    q : the quantile's probability, in (0, 1) (0.95 for the 95th percentile).
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (value, low, high)
        Floats in the sample's units; ``low``/``high`` are NaN when the sample is too small for an interval at
        this level on that side.
    """
    alpha = check_alpha(alpha)
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q < 1:
        raise MethodInputError(f"q: must be a probability in (0, 1), got {shown(q)}")
    if isinstance(values, str) or values is None:
        raise MethodInputError(f"values: must be a 1-d array of numbers, got {shown(values)}")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"values: must be a 1-d array of numbers, got {type(values).__name__}") from None
    if x.ndim != 1 or x.size == 0:
        raise MethodInputError(f"values: must be a non-empty 1-d array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise MethodInputError("values: NaN or infinite value")
    from scipy import stats

    value = float(np.quantile(x, q))
    ci = stats.quantile_test(x, q=value, p=float(q)).confidence_interval(1.0 - alpha)
    return value, float(ci.low), float(ci.high)


def delta_log_interval(
    fn: Callable[[np.ndarray], float], params: Any, cov: Any, *, alpha: float = 0.05, step: float = 1e-5
) -> tuple[float, float, float]:
    """A positive, smooth function of estimated parameters with its ``1 - alpha`` interval by the delta method on
    the log scale: ``value x exp(-+ z se)``, ``se`` the standard error of ``log fn`` from its gradient (central
    differences) and the parameters' covariance.

    Parameters
    ----------
    fn : the function, ``fn(params) -> float``, positive near ``params`` (a peak rate, a decay time...).
    params : the parameter estimates, a 1-d array.
    cov : their covariance matrix (square, one row per parameter).
    alpha : 1 - confidence level, in (0, 0.5].
    step : the central differences' step in each parameter (> 0).

    Returns
    -------
    (value, low, high)
        Floats in the function's unit; the interval is always positive and asymmetric around the value.
    """
    alpha = check_alpha(alpha)
    theta = np.asarray(params, dtype=np.float64)
    if theta.ndim != 1 or theta.size == 0 or not np.all(np.isfinite(theta)):
        raise MethodInputError("params: must be a 1-d array of finite numbers")
    sigma = np.asarray(cov, dtype=np.float64)
    if sigma.shape != (theta.size, theta.size) or not np.all(np.isfinite(sigma)):
        raise MethodInputError(f"cov: must be a finite {theta.size} x {theta.size} matrix, got shape {sigma.shape}")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
        raise MethodInputError(f"step: must be a positive number, got {shown(step)}")
    value = float(fn(theta))
    if not (math.isfinite(value) and value > 0):
        raise MethodInputError(f"fn: must be positive at params (its log is taken), got {shown(value)}")
    from scipy import stats

    grad = np.array(
        [(np.log(fn(theta + step * e)) - np.log(fn(theta - step * e))) / (2 * step) for e in np.eye(theta.size)]
    )
    se = float(np.sqrt(max(grad @ sigma @ grad, 0.0)))
    z = float(stats.norm.ppf(1 - alpha / 2))
    return value, value * math.exp(-z * se), value * math.exp(z * se)
