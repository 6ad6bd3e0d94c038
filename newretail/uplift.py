"""Uplift on LightGBM: T- and X-learners of individual effects, a cross-fitted doubly robust (AIPW) average effect
with an influence-function interval, and uplift (Qini) curves.

The learners follow scikit-learn's conventions: ``__init__`` stores hyperparameters, ``fit(X, treatment, y)``
returns ``self``, fitted models end in ``_``. Inputs are numpy arrays: ``X`` a float matrix, ``treatment`` 0/1,
``y`` 0/1 outcomes. LightGBM runs with an explicit thread count and seed, so fits are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

__all__ = [
    "CrossFit",
    "Effect",
    "PropensityModel",
    "TLearner",
    "XLearner",
    "aipw_effect",
    "area_over_random",
    "cross_fit",
    "gain_curve",
    "qini_curve",
]


def _check_xy(X: np.ndarray, treatment: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, ...]:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X: expected a non-empty 2-D feature matrix, got shape {X.shape}")
    out: list[np.ndarray] = [X]
    for name, arr in (("treatment", treatment), ("y", y)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.shape != (X.shape[0],):
            raise ValueError(f"{name}: expected {X.shape[0]} values (one per row of X), got shape {arr.shape}")
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name}: values must be 0/1 (or booleans)")
        out.append(arr.astype(np.int8))
    return tuple(out)


class _LightGBMLearner:
    """Shared hyperparameters of the LightGBM models a learner fits."""

    def __init__(
        self,
        *,
        n_estimators: int = 150,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        max_train_rows: int | None = 100_000,
        num_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_train_rows = max_train_rows
        self.num_threads = num_threads
        self.random_state = random_state

    def _settings(self) -> dict[str, Any]:
        if not (isinstance(self.num_threads, int) and self.num_threads >= 1):
            raise ValueError(f"num_threads = {self.num_threads!r}: must be a whole number of at least 1")
        if self.max_train_rows is not None and self.max_train_rows < 100:
            raise ValueError(f"max_train_rows = {self.max_train_rows!r}: must be None or at least 100")
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "n_jobs": self.num_threads,
            "random_state": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _classifier(self) -> Any:
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**self._settings())

    def _regressor(self) -> Any:
        from lightgbm import LGBMRegressor

        return LGBMRegressor(**self._settings())

    def _rows(self, index: np.ndarray, salt: int) -> np.ndarray:
        """At most ``max_train_rows`` of ``index``, drawn without replacement (seeded)."""
        if self.max_train_rows is None or index.size <= self.max_train_rows:
            return index
        rng = np.random.default_rng([self.random_state, salt])
        return np.sort(rng.choice(index, size=self.max_train_rows, replace=False))

    def _fit_classifier(self, X: np.ndarray, y: np.ndarray, index: np.ndarray, salt: int) -> Any:
        rows = self._rows(index, salt)
        if np.unique(y[rows]).size < 2:
            raise ValueError("y: a model's training rows hold a single outcome; more data or other groups are needed")
        return self._classifier().fit(X[rows], y[rows])


class PropensityModel(_LightGBMLearner):
    """Chance of treatment given features, a LightGBM classifier."""

    def fit(self, X: np.ndarray, treatment: np.ndarray) -> PropensityModel:
        """Fit on features ``X`` and 0/1 ``treatment``; returns self."""
        X, t = _check_xy(X, treatment, None)
        self.model_ = self._fit_classifier(X, t, np.arange(X.shape[0]), salt=1)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Propensity of each row, a probability."""
        return np.asarray(self.model_.predict_proba(np.asarray(X, dtype=np.float32))[:, 1])


class TLearner(_LightGBMLearner):
    """Two outcome models, one per arm; the uplift is the difference of their predictions."""

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> TLearner:
        """Fit the control and treated outcome models; returns self."""
        X, t, y = _check_xy(X, treatment, y)
        self.control_ = self._fit_classifier(X, y, np.flatnonzero(t == 0), salt=2)
        self.treated_ = self._fit_classifier(X, y, np.flatnonzero(t == 1), salt=3)
        return self

    def predict_outcomes(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcome probability without and with treatment."""
        X = np.asarray(X, dtype=np.float32)
        return self.control_.predict_proba(X)[:, 1], self.treated_.predict_proba(X)[:, 1]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Individual uplift, difference in outcome probability."""
        mu0, mu1 = self.predict_outcomes(X)
        return np.asarray(mu1 - mu0)


class XLearner(TLearner):
    """Künzel et al.'s X-learner: outcome models per arm, then models of the imputed individual effects in each
    arm, blended by the propensity (the arm with fewer rows gets less weight where it is rare).

    With ``fit_propensity=False`` no propensity model is fitted and :meth:`predict` needs the propensities.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 150,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 200,
        max_train_rows: int | None = 100_000,
        num_threads: int = 1,
        random_state: int = 0,
        fit_propensity: bool = True,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            max_train_rows=max_train_rows,
            num_threads=num_threads,
            random_state=random_state,
        )
        self.fit_propensity = fit_propensity

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> XLearner:
        """Fit both stages (and the propensity model if ``fit_propensity``); returns self."""
        X, t, y = _check_xy(X, treatment, y)
        super().fit(X, t, y)
        treated = self._rows(np.flatnonzero(t == 1), 4)
        control = self._rows(np.flatnonzero(t == 0), 5)
        imputed_treated = y[treated] - self.control_.predict_proba(X[treated])[:, 1]
        imputed_control = self.treated_.predict_proba(X[control])[:, 1] - y[control]
        self.effect_treated_ = self._regressor().fit(X[treated], imputed_treated)
        self.effect_control_ = self._regressor().fit(X[control], imputed_control)
        self.propensity_: PropensityModel | None = None
        if self.fit_propensity:
            self.propensity_ = PropensityModel(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                max_train_rows=self.max_train_rows,
                num_threads=self.num_threads,
                random_state=self.random_state,
            ).fit(X, t)
        return self

    def predict(self, X: np.ndarray, *, propensity: np.ndarray | None = None) -> np.ndarray:
        """Individual uplift, difference in outcome probability."""
        X = np.asarray(X, dtype=np.float32)
        if propensity is None:
            if self.propensity_ is None:
                raise ValueError("propensity: fitted with fit_propensity=False, so pass the propensities to predict")
            propensity = self.propensity_.predict(X)
        g = np.asarray(propensity, dtype=float)
        return np.asarray(g * self.effect_control_.predict(X) + (1 - g) * self.effect_treated_.predict(X))


@dataclass(frozen=True)
class Effect:
    """An average effect with its interval.

    ``value``, ``ci_low`` and ``ci_high`` are differences in outcome probability (treated minus untreated);
    ``se`` its standard error; ``method`` says how it was estimated and how the interval was built.
    """

    name: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    method: str

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return bool(self.ci_low <= value <= self.ci_high)


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
    """Doubly robust (augmented inverse-propensity) average effect, with an influence-function interval.

    Parameters
    ----------
    y, treatment : 0/1 outcomes and treatments.
    propensity, mu0, mu1 : out-of-fold predictions of the treatment probability and of the outcome probability
        without and with treatment.
    estimand : ``"ate"`` (all rows) or ``"att"`` (treated rows).
    groups : cluster labels (e.g. user ids) for a cluster-robust standard error.
    clip : propensities are clipped to [clip, 1 - clip].
    alpha : 1 - confidence level.

    Returns
    -------
    (Effect, numpy.ndarray)
        The effect (difference in outcome probability) and each row's score (its contribution; mean = effect).
    """
    y, t = np.asarray(y, float), np.asarray(treatment, float)
    if not 0 <= clip < 0.5:
        raise ValueError(f"clip = {clip!r}: must be in [0, 0.5)")
    if estimand not in ("ate", "att"):
        raise ValueError(f"estimand = {estimand!r}: must be 'ate' or 'att'")
    e = np.clip(np.asarray(propensity, float), clip, 1 - clip)
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
    return Effect(estimand.upper(), value, se, value - z * se, value + z * se, method), scores


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold predictions of a K-fold cross-fit: every row is predicted by models that never saw its group.

    Arrays are per row: ``fold``, ``propensity``, ``mu0``/``mu1`` (outcome probability without/with treatment),
    ``uplift_t`` (T-learner) and ``uplift_x`` (X-learner).
    """

    fold: np.ndarray
    propensity: np.ndarray
    mu0: np.ndarray
    mu1: np.ndarray
    uplift_t: np.ndarray
    uplift_x: np.ndarray


def cross_fit(
    X: np.ndarray,
    treatment: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray,
    folds: int = 2,
    n_estimators: int = 150,
    learning_rate: float = 0.1,
    num_leaves: int = 15,
    min_child_samples: int = 200,
    max_train_rows: int | None = 100_000,
    num_threads: int = 1,
    random_state: int = 0,
) -> CrossFit:
    """Cross-fit a propensity model, a T-learner and an X-learner over ``folds`` folds of ``groups``.

    Rows of one group (e.g. a user's visits) stay in one fold. Each model is trained on at most ``max_train_rows``
    rows of its training folds (a seeded subsample) and predicts the held-out fold.
    """
    X, t, y = _check_xy(X, treatment, y)
    groups = np.asarray(groups)
    if groups.shape != (X.shape[0],):
        raise ValueError(f"groups: expected {X.shape[0]} labels, got shape {groups.shape}")
    if not (isinstance(folds, int) and folds >= 2):
        raise ValueError(f"folds = {folds!r}: must be a whole number of at least 2")
    labels, inverse = np.unique(groups, return_inverse=True)
    if labels.size < folds:
        raise ValueError(f"groups: {labels.size} distinct groups cannot fill {folds} folds")
    rng = np.random.default_rng([random_state, 7])
    fold = rng.permutation(np.arange(labels.size) % folds)[inverse]
    n = X.shape[0]
    out = {k: np.empty(n) for k in ("propensity", "mu0", "mu1", "uplift_t", "uplift_x")}
    params: dict[str, Any] = {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "num_leaves": num_leaves,
        "min_child_samples": min_child_samples,
        "max_train_rows": max_train_rows,
        "num_threads": num_threads,
    }
    for k in range(folds):
        train, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        seed = random_state + 101 * k
        e_model = PropensityModel(**params, random_state=seed).fit(X[train], t[train])
        learner = XLearner(**params, random_state=seed, fit_propensity=False).fit(X[train], t[train], y[train])
        e_held = e_model.predict(X[held])
        mu0, mu1 = learner.predict_outcomes(X[held])
        out["propensity"][held] = e_held
        out["mu0"][held], out["mu1"][held] = mu0, mu1
        out["uplift_t"][held] = mu1 - mu0
        out["uplift_x"][held] = learner.predict(X[held], propensity=e_held)
    return CrossFit(fold=fold, **out)


def _curve_points(n: int, points: int) -> np.ndarray:
    return np.unique(np.linspace(0, n, points).round().astype(np.int64))


def gain_curve(score: np.ndarray, values: np.ndarray, *, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative gain of treating the rows with the highest ``score`` first.

    ``values`` are per-row effects (true individual uplifts, or doubly robust scores whose mean is the effect).
    Returns the share of rows treated and the summed values over all rows (effect per row of the whole population),
    at ``points`` evenly spaced shares.
    """
    score, values = np.asarray(score, float), np.asarray(values, float)
    order = np.argsort(-score, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(values[order])])
    k = _curve_points(score.size, points)
    return k / score.size, cum[k] / score.size


def qini_curve(
    score: np.ndarray, treatment: np.ndarray, y: np.ndarray, *, points: int = 101
) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve from observed outcomes: for the top share of rows by ``score``, treated conversions minus control
    conversions scaled to the treated count, per row of the whole population. Valid as a causal gain only when
    treatment was randomized."""
    score = np.asarray(score, float)
    t, y = np.asarray(treatment, float), np.asarray(y, float)
    order = np.argsort(-score, kind="stable")
    t, y = t[order], y[order]
    nt, nc = np.concatenate([[0.0], np.cumsum(t)]), np.concatenate([[0.0], np.cumsum(1 - t)])
    yt, yc = np.concatenate([[0.0], np.cumsum(y * t)]), np.concatenate([[0.0], np.cumsum(y * (1 - t))])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(nc > 0, yt - yc * nt / nc, 0.0)
    k = _curve_points(score.size, points)
    return k / score.size, q[k] / score.size


def area_over_random(share: np.ndarray, gain: np.ndarray) -> float:
    """Area between a gain curve and the straight line of random targeting to the same end point (a Qini
    coefficient when the curve is a Qini curve): positive when the ranking beats chance."""
    share, gain = np.asarray(share, float), np.asarray(gain, float)
    random = gain[-1] * share / share[-1]
    return float(np.trapezoid(gain - random, share))
