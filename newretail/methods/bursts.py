"""A burst of arrivals over a slowly changing base rate, fitted to counts per second by Poisson maximum likelihood.

The rate at ``t`` seconds after the burst starts is ``A exp(-t / tau) + exp(g0 + g1 t / W)``: a rush that decays with
e-folding time ``tau`` over a base rate that changes log-linearly across the fitted window of ``W`` seconds. The
counts of one-second bins are independent Poisson with means the rate's integral over each second. The fit is
scipy's L-BFGS-B on the exact gradient; the covariance is the inverse of the expected (Fisher) information. A smooth
positive function of the parameters (a peak rate, the decay time) gets its interval from
:func:`newretail.methods.intervals.delta_log_interval`. ``tests/methods/test_bursts.py`` checks the fit against
statsmodels' general maximum-likelihood model and the information against a numerical one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, shown
from newretail.methods._results import Term, Tidy
from newretail.methods.intervals import delta_log_interval

__all__ = ["PARAMETERS", "BurstFit", "burst_counts", "burst_rate", "fit_burst"]

PARAMETERS = ("log_amplitude", "log_tau", "g0", "g1")  # log A (events per s), log tau (s), base's log rate and slope
MIN_SECONDS = 120


def _params(params: Any) -> np.ndarray:
    theta = np.asarray(params, dtype=np.float64)
    if theta.shape != (4,) or not np.all(np.isfinite(theta)):
        raise MethodInputError(f"params: must be 4 finite numbers ({', '.join(PARAMETERS)}), got {shown(params)}")
    return theta


def _design(theta: np.ndarray, seconds: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected count per one-second bin and its Jacobian in (log A, log tau, g0, g1)."""
    a, log_tau, g0, g1 = theta
    amp, tau = np.exp(a), np.exp(log_tau)
    e0, e1 = np.exp(-seconds / tau), np.exp(-(seconds + 1.0) / tau)
    spike = amp * tau * (e0 - e1)  # integral of A exp(-t/tau) over the second
    x = (seconds + 0.5) / window
    base = np.exp(g0 + g1 * x)
    d_tau = amp * tau * ((e0 - e1) + (seconds * e0 - (seconds + 1.0) * e1) / tau)
    jac = np.column_stack([spike, d_tau, base, base * x])
    return spike + base, jac


def burst_counts(params: Any, window_s: int) -> np.ndarray:
    """Expected events in each one-second bin of the window under the burst model.

    Parameters
    ----------
    params : the model's parameters, in the order of :data:`PARAMETERS` (log events per second, log seconds, the
        base's log rate per second at the start and its change over the window).
    window_s : seconds in the window (a whole number >= 1); the base's slope is per window.

    Returns
    -------
    numpy.ndarray
        ``window_s`` expected counts, events per second.
    """
    if isinstance(window_s, bool) or not isinstance(window_s, (int, np.integer)) or window_s < 1:
        raise MethodInputError(f"window_s: must be a whole number of seconds >= 1, got {shown(window_s)}")
    mu, _ = _design(_params(params), np.arange(window_s, dtype=np.float64), float(window_s))
    return mu


def burst_rate(params: Any, t: float, *, window_s: float) -> float:
    """The burst model's rate at ``t`` seconds after the start, events per second.

    Parameters
    ----------
    params : as for :func:`burst_counts`.
    t : seconds after the start.
    window_s : seconds in the window the parameters were fitted to.
    """
    a, log_tau, g0, g1 = _params(params)
    return float(np.exp(a - t / np.exp(log_tau)) + np.exp(g0 + g1 * t / window_s))


@dataclass(frozen=True, eq=False)
class BurstFit(Tidy):
    """The burst model fitted to counts per second.

    ``params`` in the order of :data:`PARAMETERS`; ``cov`` their covariance (inverse Fisher information); ``window_s``
    the seconds fitted; ``n`` the events counted. ``expected`` the fitted counts per second.
    """

    params: np.ndarray
    cov: np.ndarray
    window_s: int
    n: float
    expected: np.ndarray = field(repr=False)

    @property
    def tau_s(self) -> float:
        """The burst's e-folding time, seconds."""
        return float(np.exp(self.params[1]))

    def rate(self, t: float) -> float:
        """Fitted events per second at ``t`` seconds after the start."""
        return burst_rate(self.params, t, window_s=float(self.window_s))

    def interval(self, fn: Callable[[np.ndarray], float], *, alpha: float = 0.05) -> tuple[float, float, float]:
        """A positive function of the parameters (``fn(params)``) with its ``1 - alpha`` delta-method interval on
        the log scale: ``(value, low, high)`` in the function's unit."""
        return delta_log_interval(fn, self.params, self.cov, alpha=alpha)

    def _terms(self) -> list[Term]:
        terms = []
        for name, fn in (("peak rate, per s", lambda th: burst_rate(th, 0.5, window_s=float(self.window_s))),
                         ("decay time, s", lambda th: float(np.exp(th[1])))):  # fmt: skip
            value, low, high = self.interval(fn)
            terms.append(Term(name, value, ci_low=low, ci_high=high, n=round(self.n)))
        return terms

    def _design(self) -> str:
        return "decaying burst over a log-linear base, Poisson MLE per second; delta method on the log scale, 95%"


def fit_burst(counts: Any) -> BurstFit:
    """Fit the burst model to events per one-second bin by Poisson maximum likelihood.

    Parameters
    ----------
    counts : events in each second from the burst's start (1-d, at least 120 seconds, finite, >= 0; expected
        counts that are not whole numbers are accepted, as a quasi-likelihood).

    Returns
    -------
    BurstFit
        The parameters, their covariance and the fitted counts.
    """
    if isinstance(counts, str) or counts is None:
        raise MethodInputError(f"counts: must be a 1-d array of counts per second, got {shown(counts)}")
    try:
        y = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(
            f"counts: must be a 1-d array of counts per second, got {type(counts).__name__}"
        ) from None
    if y.ndim != 1 or y.size < MIN_SECONDS:
        raise MethodInputError(f"counts: need a 1-d array of at least {MIN_SECONDS} seconds, got shape {y.shape}")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise MethodInputError(f"counts: must be finite and >= 0, got {shown(y[~(np.isfinite(y) & (y >= 0))][0])}")
    if not y.sum() > 0:
        raise MethodInputError("counts: no events; there is no burst to fit")
    from scipy import optimize

    seconds = np.arange(y.size, dtype=np.float64)
    window = float(y.size)
    tail = max(float(y[-y.size // 4 :].mean()), 1e-3)
    head = max(float(y[:60].mean()) - tail, 1e-3)
    start = np.array([np.log(head), np.log(180.0), np.log(tail), 0.0])

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mu, jac = _design(theta, seconds, window)
        mu = np.maximum(mu, 1e-300)
        return float(np.sum(mu - y * np.log(mu))), jac.T @ (1.0 - y / mu)

    bounds = [(-30.0, 30.0), (np.log(1.0), np.log(10.0 * window)), (-30.0, 30.0), (-20.0, 20.0)]
    res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds)
    mu, jac = _design(res.x, seconds, window)
    info = jac.T @ (jac / np.maximum(mu, 1e-300)[:, None])
    return BurstFit(res.x, np.linalg.pinv(info), int(y.size), float(y.sum()), mu)
