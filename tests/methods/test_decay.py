"""The decay of a treatment's log-odds effect (newretail.methods.decay) against a direct maximum-likelihood fit of all
parameters at once, written here with scipy's optimizer on the binomial log-likelihood, and against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from newretail.methods import MethodInputError
from newretail.methods.decay import decay_fit, decay_ratio, profile_threshold

TRUE_DECAY, TRUE_EFFECT = 0.5, 0.8


def _cells(seed: int = 3) -> dict[str, np.ndarray]:
    """Four strata x (untreated, treated) x repeats 0-4, 20,000 trials a cell, clicks drawn from the model."""
    rng = np.random.default_rng(seed)
    base = np.array([-3.8, -3.2, -2.9, -4.1])
    stratum, treated, repeat = (a.ravel() for a in np.meshgrid(np.arange(4), [0.0, 1.0], np.arange(5.0), indexing="ij"))
    logit = base[stratum] + TRUE_EFFECT * treated * np.exp(-TRUE_DECAY * repeat)
    trials = np.full(stratum.size, 20_000)
    return {"successes": rng.binomial(trials, special.expit(logit)), "trials": trials, "strata": stratum,
            "treated": treated, "repeat": repeat}  # fmt: skip


def _loglik(params: np.ndarray, decay: float, cells: dict[str, np.ndarray]) -> float:
    """The binomial log-likelihood (without the binomial coefficients) at stratum baselines and effect ``params``."""
    logit = params[:4][cells["strata"]] + params[4] * cells["treated"] * np.exp(-decay * cells["repeat"])
    k, n = cells["successes"], cells["trials"]
    return float(np.sum(k * logit - n * np.logaddexp(0.0, logit)))


def _profile(decay: float, cells: dict[str, np.ndarray]) -> float:
    start = np.array([-3.5, -3.5, -3.5, -3.5, 0.5])
    res = optimize.minimize(lambda p: -_loglik(p, decay, cells), start, method="BFGS", options={"gtol": 1e-8})
    return -float(res.fun)


def test_the_fit_is_the_joint_maximum_likelihood_and_the_interval_is_wilks() -> None:
    cells = _cells()
    fit = decay_fit(
        cells["successes"], cells["trials"], strata=cells["strata"], treated=cells["treated"], repeat=cells["repeat"]
    )
    # all six parameters at once, by a general-purpose optimizer
    start = np.array([-3.5, -3.5, -3.5, -3.5, 0.5, 0.3])
    joint = optimize.minimize(
        lambda p: -_loglik(p[:5], p[5], cells),
        start,
        method="L-BFGS-B",
        bounds=[(None, None)] * 5 + [(0.0, 3.0)],
        options={"ftol": 1e-14, "gtol": 1e-10},
    )
    assert fit.decay == pytest.approx(joint.x[5], abs=2e-4)
    assert fit.effect == pytest.approx(joint.x[4], abs=2e-4)
    # the profile by hand has dropped by half the chi-square(1) quantile at both ends of the interval
    top = _profile(fit.decay, cells)
    for end in (fit.ci_low, fit.ci_high):
        assert _profile(end, cells) - top == pytest.approx(-stats.chi2.ppf(0.95, 1) / 2, abs=1e-4)
    assert fit.ci_low < TRUE_DECAY < fit.ci_high  # drawn from the model at a fixed seed
    # the stored profile is the drop by hand
    for d, drop in list(zip(fit.profile["decay"], fit.profile["loglik_drop"], strict=True))[::15]:
        assert drop == pytest.approx(_profile(d, cells) - top, abs=1e-4)
    assert fit.n == int(cells["trials"].sum())
    assert list(fit.tidy()["term"]) == ["decay", "effect at first exposure"]


def test_profile_threshold_is_half_the_chi_square_quantile() -> None:
    assert profile_threshold() == pytest.approx(3.841458820694124 / 2, rel=1e-12)  # the 3.84 of every table
    assert profile_threshold(0.1) == pytest.approx(stats.chi2.ppf(0.9, 1) / 2, rel=1e-12)


def test_decay_ratio_is_the_closed_form() -> None:
    p0, effect, decay = 0.02, 0.8, 0.5
    repeat = np.array([0.0, 1.0, 4.0])
    odds = p0 / (1 - p0) * np.exp(effect * np.exp(-decay * repeat))
    assert decay_ratio(repeat, p0=p0, effect=effect, decay=decay) == pytest.approx(odds / (1 + odds) / p0, rel=1e-12)
    with pytest.raises(MethodInputError, match=r"^p0: "):
        decay_ratio(repeat, p0=1.5, effect=effect, decay=decay)


def test_bad_cells_are_refused_naming_the_argument() -> None:
    c = _cells()
    args = {"strata": c["strata"], "treated": c["treated"], "repeat": c["repeat"]}
    with pytest.raises(MethodInputError, match=r"^successes: "):
        decay_fit(c["trials"] + 1, c["trials"], **args)
    with pytest.raises(MethodInputError, match=r"^treated: must be 0/1"):
        decay_fit(c["successes"], c["trials"], **{**args, "treated": c["treated"] * 2})
    with pytest.raises(MethodInputError, match=r"^repeat: the treated cells are at a single repeat"):
        decay_fit(c["successes"], c["trials"], **{**args, "repeat": np.zeros_like(c["repeat"])})
    with pytest.raises(MethodInputError, match=r"^strata: "):
        decay_fit(c["successes"], c["trials"], **{**args, "strata": c["strata"][:3]})
    with pytest.raises(MethodInputError, match=r"^max_decay: "):
        decay_fit(c["successes"], c["trials"], **args, max_decay=0.0)
    assert math.isfinite(decay_fit(c["successes"], c["trials"], **args, alpha=0.2).ci_high)
