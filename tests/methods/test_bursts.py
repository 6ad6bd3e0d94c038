"""The burst model (newretail.methods.bursts) against statsmodels' general maximum-likelihood model on the Poisson
log-likelihood written out here, and its covariance against the Fisher information computed here by finite
differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from newretail.methods import MethodInputError
from newretail.methods.bursts import burst_counts, burst_rate, fit_burst

WINDOW = 1800
TRUE = np.array([math.log(40.0), math.log(150.0), math.log(6.0), 0.3])  # 40/s rush, tau 150 s, base 6/s rising


def _mu(params: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Expected count in each second: the rush's integral over the second plus the base at the second's middle."""
    amp, tau, g0, g1 = math.exp(params[0]), math.exp(params[1]), params[2], params[3]
    s = np.arange(window, dtype=float)
    rush = amp * tau * (np.exp(-s / tau) - np.exp(-(s + 1) / tau))
    return rush + np.exp(g0 + g1 * (s + 0.5) / window)


def _counts(seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).poisson(_mu(TRUE)).astype(float)


@pytest.mark.filterwarnings("ignore:df_:UserWarning")  # the generic model counts one regressor, not four parameters
def test_the_fit_is_statsmodels_maximum_likelihood() -> None:
    from statsmodels.base.model import GenericLikelihoodModel

    y = _counts()

    class Burst(GenericLikelihoodModel):  # type: ignore[misc]
        def loglike(self, params: np.ndarray) -> float:
            mu = _mu(params)
            return float(np.sum(y * np.log(mu) - mu - np.vectorize(math.lgamma)(y + 1)))

    fit = fit_burst(y)
    peer = Burst(y, np.ones((y.size, 1))).fit(start_params=TRUE + 0.05, method="nm", maxiter=20_000, disp=False)
    peer = Burst(y, np.ones((y.size, 1))).fit(start_params=peer.params, method="bfgs", maxiter=2_000, disp=False)
    assert fit.params == pytest.approx(peer.params, abs=2e-4)
    assert fit.expected == pytest.approx(_mu(fit.params), rel=1e-12)
    assert burst_counts(fit.params, WINDOW) == pytest.approx(_mu(fit.params), rel=1e-12)
    assert fit.n == y.sum()


def test_the_covariance_is_the_inverse_fisher_information() -> None:
    """I = sum over seconds of grad(mu) grad(mu)' / mu, the gradient by central differences here."""
    fit = fit_burst(_counts())
    h = 1e-6
    grad = np.column_stack([(_mu(fit.params + h * e) - _mu(fit.params - h * e)) / (2 * h) for e in np.eye(4)])
    info = grad.T @ (grad / _mu(fit.params)[:, None])
    assert fit.cov == pytest.approx(np.linalg.inv(info), rel=1e-4, abs=1e-12)


def test_rate_and_intervals_are_the_closed_forms() -> None:
    fit = fit_burst(_counts())
    a, log_tau, g0, g1 = fit.params
    t = 30.0
    assert fit.rate(t) == pytest.approx(math.exp(a - t / math.exp(log_tau)) + math.exp(g0 + g1 * t / WINDOW))
    assert burst_rate(fit.params, t, window_s=WINDOW) == fit.rate(t)
    # the decay time is exp(log tau): its log is a parameter, so the interval is exp(log tau -+ z sd)
    tau, low, high = fit.interval(lambda th: float(np.exp(th[1])))
    sd, z = math.sqrt(fit.cov[1, 1]), stats.norm.ppf(0.975)
    assert tau == pytest.approx(fit.tau_s)
    assert (low, high) == pytest.approx((tau * math.exp(-z * sd), tau * math.exp(z * sd)), rel=1e-7)
    assert low < math.exp(TRUE[1]) < high  # drawn from the model at a fixed seed
    assert list(fit.tidy()["term"]) == ["peak rate, per s", "decay time, s"]


def test_bad_counts_are_refused() -> None:
    for bad, message in (
        (np.ones(60), "at least 120 seconds"),
        (np.r_[np.ones(200), -1.0], "finite and >= 0"),
        (np.zeros(200), "no events"),
        ("counts", "1-d array"),
    ):
        with pytest.raises(MethodInputError, match=rf"^counts: .*{message}"):
            fit_burst(bad)
    with pytest.raises(MethodInputError, match=r"^params: "):
        burst_counts([1.0, 2.0], 300)
    with pytest.raises(MethodInputError, match=r"^window_s: "):
        burst_counts(TRUE, 0)
