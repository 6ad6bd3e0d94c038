"""How fast a treatment's effect on a binary outcome fades with repetition: a binomial model whose treatment log-odds
effect decays exponentially with the number of repeats, fitted by profile likelihood over the decay rate.

Model, for a cell of trials in stratum ``s`` with ``r`` earlier repeats (``r = 0`` at the first exposure)::

    logit P(success) = alpha_s + effect x treated x exp(-decay x r)

For a fixed ``decay`` this is a logistic regression (statsmodels' binomial GLM on the cells' counts), so the fit
profiles the log-likelihood over ``decay`` (scipy's bounded scalar search) and reads the ``1 - alpha`` interval where
it has dropped by half the chi-square quantile with one degree of freedom (Wilks). ``tests/methods/test_decay.py``
checks it against a direct maximum-likelihood fit of all parameters at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, check_alpha, shown
from newretail.methods._results import Term, Tidy

__all__ = ["DecayFit", "decay_fit", "decay_ratio", "profile_threshold"]


@dataclass(frozen=True)
class DecayFit(Tidy):
    """The decay of a treatment's log-odds effect per repeat, with its profile-likelihood interval.

    ``decay`` is per repeat (unitless); ``ci_low``/``ci_high`` its ``1 - alpha`` profile-likelihood interval
    (``ci_high`` infinite when the likelihood stays above the threshold up to ``max_decay``). ``effect`` is the
    treatment's log-odds effect at the first exposure, ``loglik`` the maximum log-likelihood, ``threshold`` the drop
    that bounds the interval, ``profile`` the log-likelihood drop from the maximum (``loglik_drop``) over a grid of
    ``decay``; ``n`` the trials.
    """

    decay: float
    ci_low: float
    ci_high: float
    effect: float
    loglik: float
    threshold: float
    profile: pl.DataFrame
    alpha: float
    n: int

    def _terms(self) -> list[Term]:
        return [Term("decay", self.decay, ci_low=self.ci_low, ci_high=self.ci_high, n=self.n),
                Term("effect at first exposure", self.effect, n=self.n)]  # fmt: skip

    def _design(self) -> str:
        return f"binomial GLM, treatment log-odds effect x exp(-decay x repeats); profile likelihood, {self.alpha:g}"


def profile_threshold(alpha: float = 0.05) -> float:
    """The drop of the log-likelihood from its maximum at the edge of a ``1 - alpha`` profile-likelihood interval
    for one parameter: half the chi-square(1) quantile (1.92 at 95%).

    Parameters
    ----------
    alpha : 1 - confidence level, in (0, 0.5].
    """
    alpha = check_alpha(alpha)
    from scipy import stats

    return float(stats.chi2.ppf(1 - alpha, 1) / 2)


def decay_ratio(repeat: Any, *, p0: float, effect: float, decay: float) -> np.ndarray:
    """The ratio of the treated to the untreated chance of success after ``repeat`` earlier repeats, implied by the
    model at a reference chance ``p0``: ``expit(logit(p0) + effect exp(-decay repeat)) / p0``.

    Parameters
    ----------
    repeat : earlier repeats (0 at the first exposure), a number or an array.
    p0 : the untreated chance of success, in (0, 1).
    effect : the treatment's log-odds effect at the first exposure.
    decay : the decay per repeat.

    Returns
    -------
    numpy.ndarray
        Unitless ratios, one per ``repeat``.
    """
    if isinstance(p0, bool) or not isinstance(p0, (int, float)) or not 0 < p0 < 1:
        raise MethodInputError(f"p0: must be a probability in (0, 1), got {shown(p0)}")
    from scipy.special import expit, logit

    return np.asarray(expit(logit(p0) + effect * np.exp(-decay * np.asarray(repeat))) / p0)


def _cells(successes: Any, trials: Any, treated: Any, repeat: Any) -> tuple[np.ndarray, ...]:
    """The cells' counts, treatment flags and repeats, checked."""
    arrays = []
    for value, name in ((successes, "successes"), (trials, "trials"), (treated, "treated"), (repeat, "repeat")):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise MethodInputError(f"{name}: must be a 1-d array of numbers, got {type(value).__name__}") from None
        if arr.ndim != 1 or not np.all(np.isfinite(arr)):
            raise MethodInputError(f"{name}: must be a 1-d array of finite numbers")
        arrays.append(arr)
    k, n, t, r = arrays
    if not (k.size == n.size == t.size == r.size) or k.size == 0:
        raise MethodInputError("successes, trials, treated, repeat: need one value per cell, the same number of each")
    if np.any(k < 0) or np.any(k != np.round(k)) or np.any(n != np.round(n)) or np.any(k > n):
        i = int(np.argmax((k < 0) | (k != np.round(k)) | (n != np.round(n)) | (k > n)))
        raise MethodInputError(
            f"successes: must be whole numbers from 0 to the cell's trials, got {k[i]:g} of {n[i]:g} trials in cell {i}"
        )
    if np.any(n <= 0):
        i = int(np.argmax(n <= 0))
        raise MethodInputError(f"trials: every cell needs at least one trial, got {n[i]:g} in cell {i}")
    if not np.all((t == 0) | (t == 1)):
        raise MethodInputError(f"treated: must be 0/1 (or bool), found {shown(t[(t != 0) & (t != 1)][0])}")
    if np.any(r < 0):
        raise MethodInputError(f"repeat: must be >= 0 (0 at the first exposure), found {shown(r[r < 0][0])}")
    if np.unique(r[t == 1]).size < 2:
        raise MethodInputError("repeat: the treated cells are at a single repeat; the decay cannot be estimated")
    return k, n, t, r


def decay_fit(
    successes: Any,
    trials: Any,
    *,
    strata: Any,
    treated: Any,
    repeat: Any,
    max_decay: float = 3.0,
    alpha: float = 0.05,
) -> DecayFit:
    """Fit how fast a treatment's log-odds effect fades with repeats, by profile likelihood over the decay.

    Parameters
    ----------
    successes, trials : per cell, the successes (clicks) and trials (impressions), counts.
    strata : per cell, its stratum label (a placement, say): each stratum gets its own baseline log-odds.
    treated : per cell, 1 (or True) when the cell's trials were treated (an AI creative), else 0.
    repeat : per cell, the earlier repeats of its trials (exposure index - 1), >= 0.
    max_decay : the largest decay searched, per repeat (> 0).
    alpha : 1 - confidence level of the profile-likelihood interval, in (0, 0.5].

    Returns
    -------
    DecayFit
        The decay per repeat with its interval, and the effect at the first exposure (log-odds).
    """
    k, n, is_treated, rep = _cells(successes, trials, treated, repeat)
    labels = np.asarray(strata)
    if labels.shape != k.shape:
        raise MethodInputError("strata: need one label per cell")
    if isinstance(max_decay, bool) or not isinstance(max_decay, (int, float)) or not max_decay > 0:
        raise MethodInputError(f"max_decay: must be a positive number, got {shown(max_decay)}")
    alpha = check_alpha(alpha)
    import statsmodels.api as sm
    from scipy import optimize

    dummies = (labels[:, None] == np.unique(labels)[None, :]).astype(float)
    endog = np.column_stack([k, n - k])

    def fit(decay: float) -> tuple[float, float]:
        exog = np.column_stack([dummies, is_treated * np.exp(-decay * rep)])
        res = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
        return float(res.llf), float(res.params[-1])

    best = optimize.minimize_scalar(lambda d: -fit(d)[0], bounds=(0.0, max_decay), method="bounded")
    decay = float(best.x)
    top, effect = fit(decay)
    drop = profile_threshold(alpha)

    def gap(d: float) -> float:
        return fit(d)[0] - top + drop

    low = float(optimize.brentq(gap, 0.0, decay)) if decay > 0 and gap(0.0) < 0 else 0.0
    high = float(optimize.brentq(gap, decay, max_decay)) if gap(max_decay) < 0 else math.inf
    grid = np.linspace(0.0, min(max_decay, max(4 * decay, 1.0)), 61)
    profile = pl.DataFrame({"decay": grid, "loglik_drop": [fit(d)[0] - top for d in grid]})
    return DecayFit(decay, low, high, effect, top, drop, profile, alpha, int(n.sum()))
