"""Average treatment effects: cross-fitted, doubly robust (AIPW) on LightGBM, with an influence-function interval.

:func:`average_effect` takes a polars or pandas frame and column names. The outcome may be 0/1 (the effect is a
difference in probability) or continuous (a difference in its unit). The chance of treatment is either known by design
(an experiment: a number, or a column of per-row probabilities) or estimated by LightGBM from the covariates. Nuisance
models are fitted on K-1 folds and predict the held-out fold (cross-fitting), so the interval from the influence
function is valid without restricting the models' complexity. :func:`aipw_effect` is the same estimator on arrays of
out-of-fold predictions, for callers that cross-fit their own models.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from newretail.methods._frames import (
    MethodInputError,
    as_polars,
    binary_indicator,
    check_alpha,
    finite_numeric,
    require_columns,
)
from newretail.methods.learners import _LightGBMLearner, is_binary

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Effect", "aipw_effect", "average_effect"]

OVERLAP_REFUSE_SHARE = 0.1  # refuse when more than this share of estimated propensities had to be clipped


@dataclass(frozen=True)
class Effect:
    """An average effect with its ``1 - alpha`` interval.

    ``estimate``, ``ci_low`` and ``ci_high`` are in the outcome's unit (a difference in probability for a 0/1
    outcome), treated minus untreated; ``se`` is the standard error; ``n`` the rows used; ``name`` the estimand
    (``"ATE"``, ``"ATT"``, ...) and ``method`` how it was estimated.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    name: str = "ATE"
    method: str = ""

    @property
    def value(self) -> float:
        """The estimate (the name the package's older results use)."""
        return self.estimate

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return bool(self.ci_low <= value <= self.ci_high)

    def plot(self, ax: Axes | None = None, *, reference: dict[str, float] | None = None) -> Figure:
        """The estimate with its interval as a horizontal error bar; ``reference`` draws labelled vertical lines."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(5.5, 1.8), layout="constrained")
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
        err = [[self.estimate - self.ci_low], [self.ci_high - self.estimate]]
        ax.errorbar([self.estimate], [0], xerr=err, fmt="o", color="0.2", capsize=4)
        ax.axvline(0.0, color="0.6", lw=0.6)
        for i, (label, value) in enumerate((reference or {}).items()):
            ax.axvline(value, ls=("--", ":", "-.")[i % 3], color=("C3", "C0", "C2")[i % 3], lw=1, label=label)
        if reference:
            ax.legend(frameon=False, fontsize=8)
        ax.set_yticks([0], [self.name])
        ax.set_xlabel("effect (treated minus untreated)")
        ax.set_title(f"{self.method or self.name} (n = {self.n:,})", fontsize=9)
        return fig


def _mean_with_se(scores: np.ndarray, groups: np.ndarray | None) -> tuple[float, float]:
    """Mean of per-row scores and its standard error (cluster-robust over ``groups`` when given, statsmodels)."""
    import statsmodels.api as sm

    ones = np.ones((scores.size, 1))
    if groups is None:
        fit = sm.OLS(scores, ones).fit()
    else:
        fit = sm.OLS(scores, ones).fit(cov_type="cluster", cov_kwds={"groups": np.asarray(groups)})
    return float(fit.params[0]), float(fit.bse[0])


def aipw_effect(
    y: np.ndarray,
    treatment: np.ndarray,
    propensity: np.ndarray,
    mu0: np.ndarray,
    mu1: np.ndarray,
    *,
    estimand: Literal["ate", "att"] = "ate",
    groups: np.ndarray | None = None,
    clip: float = 0.01,
    alpha: float = 0.05,
) -> tuple[Effect, np.ndarray]:
    """Doubly robust (augmented inverse-propensity) average effect from out-of-fold predictions.

    Parameters
    ----------
    y, treatment : outcomes (0/1 or continuous) and 0/1 treatments.
    propensity, mu0, mu1 : out-of-fold predictions of the treatment probability and of the outcome without and with
        treatment.
    estimand : ``"ate"`` (all rows) or ``"att"`` (treated rows).
    groups : cluster labels (e.g. user ids) for a cluster-robust standard error.
    clip : propensities are clipped to [clip, 1 - clip].
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (Effect, numpy.ndarray)
        The effect (outcome's unit) and each row's score (its contribution; mean = effect).
    """
    from scipy import stats

    y, t = np.asarray(y, float), np.asarray(treatment, float)
    alpha = check_alpha(alpha)
    if not 0 <= clip < 0.5:
        raise MethodInputError(f"clip: must be in [0, 0.5), got {clip!r}")
    if estimand not in ("ate", "att"):
        raise MethodInputError(f"estimand: must be 'ate' or 'att', got {estimand!r}")
    e = np.clip(np.asarray(propensity, float), clip, 1 - clip)
    mu0, mu1 = np.asarray(mu0, float), np.asarray(mu1, float)
    z = float(stats.norm.ppf(1 - alpha / 2))
    if estimand == "ate":
        scores = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        value, se = _mean_with_se(scores, groups)
        method = "AIPW, cross-fitted; interval from the influence function"
    else:
        share = t.mean()
        raw = t * (y - mu0) - (1 - t) * e / (1 - e) * (y - mu0)
        value = float(raw.sum() / t.sum())
        scores = (raw - value * t) / share + value  # mean = value; deviations are the influence function
        _, se = _mean_with_se(scores, groups)
        method = "AIPW for the treated, cross-fitted; interval from the influence function"
    if groups is not None:
        method += ", cluster-robust"
    effect = Effect(value, se, value - z * se, value + z * se, int(y.size), estimand.upper(), method)
    return effect, scores


def _known_propensity(frame: pl.DataFrame, propensity: Any) -> np.ndarray:
    if isinstance(propensity, str):
        p = finite_numeric(frame[propensity]).to_numpy()
        what = f"column '{propensity}'"
    elif isinstance(propensity, (int, float)) and not isinstance(propensity, bool):
        p = np.full(frame.height, float(propensity))
        what = "propensity"
    else:
        raise MethodInputError(f"propensity: must be None, a probability or a column name, got {propensity!r}")
    if not (np.all(np.isfinite(p)) and np.all((p > 0) & (p < 1))):
        raise MethodInputError(f"{what}: a known propensity must lie strictly between 0 and 1")
    return p


def average_effect(
    df: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str] = (),
    propensity: float | str | None = None,
    folds: int = 5,
    alpha: float = 0.05,
    random_state: int = 0,
    num_threads: int = 1,
    n_estimators: int = 200,
    learning_rate: float = 0.05,
    num_leaves: int = 15,
    min_child_samples: int = 20,
    clip: float = 0.01,
) -> Effect:
    """Average effect of a binary treatment on an outcome: cross-fitted AIPW with LightGBM nuisance models.

    Parameters
    ----------
    df : polars or pandas DataFrame, one row per unit.
    outcome : column of outcomes, 0/1 or continuous (finite numbers).
    treatment : column of the treatment, bool or 0/1 (both read the same).
    covariates : numeric (or bool) columns the outcome and propensity models may use; none gives the
        difference in means, augmented only by the arms' fold means.
    propensity : the chance of treatment when known by design (a number in (0, 1), or a column of per-row
        probabilities); ``None`` estimates it from ``covariates`` (LightGBM, cross-fitted), clipped to
        ``[clip, 1 - clip]``: a warning names the covariates when some rows are clipped, an error when more than
        10% are or when the arms' estimated propensities do not overlap at all.
    folds : cross-fitting folds (>= 2), stratified by treatment.
    alpha : 1 - confidence level, in (0, 0.5].
    random_state, num_threads : LightGBM's seed and thread count; the fold split uses ``random_state`` too, after
        the rows are put in a canonical order, so the answer does not depend on the rows' order or the frame's type.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM's hyperparameters for every nuisance model.
    clip : bound for estimated propensities.

    Returns
    -------
    Effect
        The ATE in the outcome's unit with its influence-function interval and ``n`` rows.
    """
    frame = as_polars(df)
    if isinstance(covariates, str):
        covariates = (covariates,)
    covariates = tuple(covariates)
    names = [outcome, treatment, *covariates] + ([propensity] if isinstance(propensity, str) else [])
    require_columns(frame, names)
    if len(set(names)) != len(names):
        raise MethodInputError(f"covariates: a column is used twice among {', '.join(names)}")
    if frame.height == 0:
        raise MethodInputError("df: no rows")
    alpha = check_alpha(alpha)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise MethodInputError(f"folds: must be a whole number of at least 2, got {folds!r}")
    if not (isinstance(clip, float) and 0 < clip < 0.5):
        raise MethodInputError(f"clip: must be a number in (0, 0.5), got {clip!r}")
    y = finite_numeric(frame[outcome])
    t = binary_indicator(frame[treatment])
    xs = [finite_numeric(frame[c]) for c in covariates]
    e_known = None if propensity is None else _known_propensity(frame, propensity)
    data = pl.DataFrame([y.alias("_y"), t.cast(pl.Int8).alias("_t"), *[x.alias(f"_x{i}") for i, x in enumerate(xs)]])
    if e_known is not None:
        data = data.with_columns(_e=pl.Series(e_known))
    data = data.sort(data.columns)  # canonical row order: same folds whatever order or frame type came in
    yv, tv = data["_y"].to_numpy(), data["_t"].to_numpy().astype(np.int8)
    X = data.select([f"_x{i}" for i in range(len(xs))]).to_numpy().astype(np.float32) if xs else None
    for arm, label in ((1, "treated"), (0, "untreated")):
        if int(np.sum(tv == arm)) < folds:
            raise MethodInputError(
                f"column '{treatment}': {int(np.sum(tv == arm))} {label} rows; each arm needs at least folds = {folds}"
            )
    learner = _LightGBMLearner(
        n_estimators=n_estimators,
        learning_rate=learning_rate,
        num_leaves=num_leaves,
        min_child_samples=min_child_samples,
        max_train_rows=None,
        num_threads=num_threads,
        random_state=random_state,
    )
    binary = is_binary(yv)
    fold = _stratified_folds(tv, folds, random_state)
    n = yv.size
    mu0, mu1, e = np.empty(n), np.empty(n), np.empty(n)
    for k in range(folds):
        train, held = fold != k, fold == k
        for arm, out in ((0, mu0), (1, mu1)):
            rows = train & (tv == arm)
            out[held] = _fit_predict(learner, X, yv, rows, held, binary, salt=10 * k + arm)
        if e_known is None:
            e[held] = _fit_predict(learner, X, tv.astype(np.float64), train, held, True, salt=10 * k + 2)
    if e_known is None:
        if e[tv == 1].min() > e[tv == 0].max() or e[tv == 0].min() > e[tv == 1].max():
            raise MethodInputError(
                f"covariates ({', '.join(covariates)}): the estimated propensities of the treated and untreated do "
                "not overlap at all; no average effect"
            )
        outside = (e < clip) | (e > 1 - clip)
        if outside.any():
            share = float(outside.mean())
            message = (
                f"covariates ({', '.join(covariates) or 'none'}): {int(outside.sum())} of {n} estimated propensities "
                f"outside [{clip}, {1 - clip}]"
            )
            if share > OVERLAP_REFUSE_SHARE:
                raise MethodInputError(f"{message}: the treated and untreated do not overlap; no average effect")
            warnings.warn(f"{message}: clipped (poor overlap)", RuntimeWarning, stacklevel=2)
        e = np.clip(e, clip, 1 - clip)
        how = "estimated propensity"
    else:
        e = data["_e"].to_numpy()
        how = "known propensity"
    effect, _ = aipw_effect(yv, tv, e, mu0, mu1, clip=0.0, alpha=alpha)
    method = f"AIPW, {folds}-fold cross-fitted LightGBM, {how}; influence-function interval"
    return Effect(effect.estimate, effect.se, effect.ci_low, effect.ci_high, n, "ATE", method)


def _stratified_folds(t: np.ndarray, folds: int, random_state: int) -> np.ndarray:
    """Fold of each row: within each arm, a seeded permutation of 0..folds-1 repeated."""
    rng = np.random.default_rng([random_state, 11])
    fold = np.empty(t.size, dtype=np.int64)
    for arm in (0, 1):
        idx = np.flatnonzero(t == arm)
        fold[idx] = rng.permutation(np.arange(idx.size) % folds)
    return fold


def _fit_predict(
    learner: _LightGBMLearner,
    X: np.ndarray | None,
    y: np.ndarray,
    train: np.ndarray,
    held: np.ndarray,
    binary: bool,
    *,
    salt: int,
) -> np.ndarray:
    """Out-of-fold prediction of ``y`` (probability if ``binary``) on ``held`` from a model fitted on ``train``.

    Without covariates, or when the training rows hold a single value, the prediction is the training mean.
    """
    y_train = y[train]
    if X is None or np.unique(y_train).size < 2:
        return np.full(int(held.sum()), float(y_train.mean()))
    model = learner._classifier() if binary else learner._regressor()
    model.set_params(random_state=learner.random_state + salt)
    model.fit(X[train], y_train.astype(np.int8) if binary else y_train)
    if binary:
        return np.asarray(model.predict_proba(X[held])[:, 1], dtype=np.float64)
    return np.asarray(model.predict(X[held]), dtype=np.float64)
