"""Uplift learners on LightGBM: T- and X-learners of individual effects, a propensity model, K-fold cross-fitting,
and uplift (Qini) curves.

The learners follow scikit-learn's conventions: ``__init__`` stores hyperparameters, ``fit(X, treatment, y)``
returns ``self``, fitted models end in ``_``. Inputs are numpy arrays: ``X`` a float matrix, ``treatment`` 0/1 or
bool, ``y`` an outcome: 0/1 (a classifier models its probability) or any finite number (a regressor models its mean).
LightGBM runs with an explicit thread count and seed, so fits are deterministic. The doubly robust average effect
built on these predictions is :func:`newretail.methods.effects.aipw_effect` (frames: :func:`average_effect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import polars as pl

from newretail.methods._frames import (
    MethodInputError,
    as_polars,
    binary_indicator,
    finite_numeric,
    require_columns,
)
from newretail.methods._lightgbm import LightGBMSettings, assign_folds, check_folds, out_of_fold

__all__ = [
    "CrossFit",
    "LightGBMSettings",
    "ProbabilityModel",
    "PropensityModel",
    "TLearner",
    "XLearner",
    "area_over_random",
    "assign_folds",
    "cross_fit",
    "gain_curve",
    "out_of_fold",
    "qini_curve",
]


def _check_xy(X: np.ndarray, treatment: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Features as float32, treatment as int8 (0/1 or bool), outcome as float64 (any finite number)."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError):
        raise MethodInputError("X: expected a numeric feature matrix") from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise MethodInputError(f"X: expected a non-empty 2-D feature matrix, got shape {X.shape}")
    out: list[np.ndarray] = [X]
    for name, arr in (("treatment", treatment), ("y", y)):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.shape != (X.shape[0],):
            raise MethodInputError(f"{name}: expected {X.shape[0]} values (one per row of X), got shape {arr.shape}")
        if name == "treatment":
            if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
                raise MethodInputError("treatment: values must be 0/1 (or booleans)")
            out.append(arr.astype(np.int8))
        else:
            if arr.dtype.kind not in "biuf" or not np.all(np.isfinite(arr.astype(np.float64))):
                raise MethodInputError("y: outcomes must be finite numbers (0/1 or continuous)")
            out.append(arr.astype(np.float64))
    return tuple(out)


def _features(frame: pl.DataFrame, covariates: tuple[str, ...]) -> np.ndarray:
    if not covariates:
        raise MethodInputError("covariates: a learner needs at least one covariate column")
    return np.column_stack([finite_numeric(frame[c]).to_numpy() for c in covariates]).astype(np.float32)


def is_binary(y: np.ndarray) -> bool:
    """Whether an outcome holds only 0 and 1 (modelled as a probability) rather than continuous values."""
    return bool(np.isin(y, (0.0, 1.0)).all())


_DEFAULT = LightGBMSettings()
SETTINGS_FIELDS = tuple(f.name for f in fields(LightGBMSettings))


class _LightGBMLearner:
    """A learner's hyperparameters, stored as scikit-learn stores them; :attr:`settings` holds them as one value."""

    def __init__(
        self,
        *,
        n_estimators: int = _DEFAULT.n_estimators,
        learning_rate: float = _DEFAULT.learning_rate,
        num_leaves: int = _DEFAULT.num_leaves,
        min_child_samples: int = _DEFAULT.min_child_samples,
        max_train_rows: int | None = _DEFAULT.max_train_rows,
        num_threads: int = _DEFAULT.num_threads,
        random_state: int = _DEFAULT.random_state,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_train_rows = max_train_rows
        self.num_threads = num_threads
        self.random_state = random_state

    @property
    def settings(self) -> LightGBMSettings:
        """The hyperparameters as a :class:`LightGBMSettings`."""
        return LightGBMSettings(**{name: getattr(self, name) for name in SETTINGS_FIELDS})

    @classmethod
    def from_settings(cls, settings: LightGBMSettings, **others: Any) -> Any:
        """A learner with ``settings`` (and any other keyword of its own, e.g. ``fit_propensity``)."""
        return cls(**{name: getattr(settings, name) for name in SETTINGS_FIELDS}, **others)


def _predict_outcome(model: Any, X: np.ndarray, binary: bool) -> np.ndarray:
    """Outcome probability (0/1 outcomes) or mean (continuous outcomes)."""
    if binary:
        return np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    return np.asarray(model.predict(X), dtype=np.float64)


class ProbabilityModel(_LightGBMLearner):
    """Probability of a 0/1 outcome given features: a LightGBM classifier fitted on a seeded subsample of at most
    ``max_train_rows`` rows (the subsample's seed is ``random_state`` with the class's own salt)."""

    _SALT = 13

    def fit(self, X: np.ndarray, y: np.ndarray) -> ProbabilityModel:
        """Fit on features ``X`` and 0/1 (or bool) outcomes ``y``; returns self."""
        X, y = _check_xy(X, None, y)
        if not is_binary(y):
            raise MethodInputError("y: outcomes must be 0/1 (or booleans) for a probability model")
        self.model_ = self.settings.fit_classifier(X, y, np.arange(X.shape[0]), salt=self._SALT)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probability of each row."""
        return np.asarray(self.model_.predict_proba(np.asarray(X, dtype=np.float32))[:, 1])

    def predict_margin(self, X: np.ndarray) -> np.ndarray:
        """Raw output of each row, log-odds."""
        return np.asarray(self.model_.predict(np.asarray(X, dtype=np.float32), raw_score=True))


class PropensityModel(ProbabilityModel):
    """Chance of treatment given features, a LightGBM classifier."""

    _SALT = 1

    def fit(self, X: np.ndarray, treatment: np.ndarray) -> PropensityModel:
        """Fit on features ``X`` and 0/1 ``treatment``; returns self."""
        X, t = _check_xy(X, treatment, None)
        self.model_ = self.settings.fit_classifier(X, t, np.arange(X.shape[0]), salt=self._SALT)
        return self


class TLearner(_LightGBMLearner):
    """Two outcome models, one per arm; the uplift is the difference of their predictions.

    A 0/1 outcome gets classifiers (the uplift is a difference in probability), any other outcome regressors (a
    difference in its unit); ``binary_`` records which.
    """

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> TLearner:
        """Fit the control and treated outcome models; returns self."""
        X, t, y = _check_xy(X, treatment, y)
        self.binary_ = is_binary(y)
        settings = self.settings
        self.control_ = settings.fit_outcome(X, y, np.flatnonzero(t == 0), 2, self.binary_)
        self.treated_ = settings.fit_outcome(X, y, np.flatnonzero(t == 1), 3, self.binary_)
        return self

    def predict_outcomes(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted outcome (probability for 0/1 outcomes) without and with treatment."""
        X = np.asarray(X, dtype=np.float32)
        return _predict_outcome(self.control_, X, self.binary_), _predict_outcome(self.treated_, X, self.binary_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Individual uplift: difference in outcome probability (0/1 outcomes) or in the outcome's unit."""
        mu0, mu1 = self.predict_outcomes(X)
        return np.asarray(mu1 - mu0)

    def fit_frame(self, df: Any, *, outcome: str, treatment: str, covariates: Sequence[str]) -> TLearner:
        """Fit from a polars or pandas frame and column names (bool or 0/1 ``treatment``); returns self."""
        self.covariates_ = tuple(covariates)
        frame = as_polars(df)
        require_columns(frame, [outcome, treatment, *self.covariates_])
        if frame.height == 0:
            raise MethodInputError("df: no rows")
        t = binary_indicator(frame[treatment]).cast(pl.Int8).to_numpy()
        return self.fit(_features(frame, self.covariates_), t, finite_numeric(frame[outcome]).to_numpy())

    def predict_frame(self, df: Any) -> np.ndarray:
        """Individual uplift of each row of a frame holding the covariates :meth:`fit_frame` used."""
        frame = as_polars(df)
        require_columns(frame, self.covariates_)
        return self.predict(_features(frame, self.covariates_))


class XLearner(TLearner):
    """Künzel et al.'s X-learner: outcome models per arm, then models of the imputed individual effects in each
    arm, blended by the propensity (the arm with fewer rows gets less weight where it is rare).

    With ``fit_propensity=False`` no propensity model is fitted and :meth:`predict` needs the propensities. The other
    keywords are :class:`LightGBMSettings`'.
    """

    def __init__(
        self,
        *,
        n_estimators: int = _DEFAULT.n_estimators,
        learning_rate: float = _DEFAULT.learning_rate,
        num_leaves: int = _DEFAULT.num_leaves,
        min_child_samples: int = _DEFAULT.min_child_samples,
        max_train_rows: int | None = _DEFAULT.max_train_rows,
        num_threads: int = _DEFAULT.num_threads,
        random_state: int = _DEFAULT.random_state,
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
        settings = self.settings
        treated = settings.rows(np.flatnonzero(t == 1), 4)
        control = settings.rows(np.flatnonzero(t == 0), 5)
        imputed_treated = y[treated] - _predict_outcome(self.control_, X[treated], self.binary_)
        imputed_control = _predict_outcome(self.treated_, X[control], self.binary_) - y[control]
        self.effect_treated_ = settings.regressor().fit(X[treated], imputed_treated)
        self.effect_control_ = settings.regressor().fit(X[control], imputed_control)
        self.propensity_: PropensityModel | None = None
        if self.fit_propensity:
            self.propensity_ = PropensityModel.from_settings(settings).fit(X, t)
        return self

    def predict(self, X: np.ndarray, *, propensity: np.ndarray | None = None) -> np.ndarray:
        """Individual uplift, difference in outcome probability."""
        X = np.asarray(X, dtype=np.float32)
        if propensity is None:
            if self.propensity_ is None:
                raise MethodInputError("propensity: fitted with fit_propensity=False; pass the propensities to predict")
            propensity = self.propensity_.predict(X)
        g = np.asarray(propensity, dtype=float)
        return np.asarray(g * self.effect_control_.predict(X) + (1 - g) * self.effect_treated_.predict(X))


@dataclass(frozen=True)
class CrossFit:
    """Out-of-fold predictions of a K-fold cross-fit: every row is predicted by models that never saw its group.

    Arrays are per row: ``fold``, ``propensity``, ``mu0``/``mu1`` (outcome, a probability for 0/1 outcomes,
    without/with treatment),
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
    n_estimators: int = _DEFAULT.n_estimators,
    learning_rate: float = _DEFAULT.learning_rate,
    num_leaves: int = _DEFAULT.num_leaves,
    min_child_samples: int = _DEFAULT.min_child_samples,
    max_train_rows: int | None = _DEFAULT.max_train_rows,
    num_threads: int = _DEFAULT.num_threads,
    random_state: int = _DEFAULT.random_state,
    settings: LightGBMSettings | None = None,
) -> CrossFit:
    """Cross-fit a propensity model, a T-learner and an X-learner over ``folds`` folds of ``groups``.

    Rows of one group (e.g. a user's visits) stay in one fold. Each model is trained on at most ``max_train_rows``
    rows of its training folds (a seeded subsample) and predicts the held-out fold. The LightGBM keywords are
    :class:`LightGBMSettings`'; ``settings``, when given, replaces them all.
    """
    X, t, y = _check_xy(X, treatment, y)
    groups = np.asarray(groups)
    if groups.shape != (X.shape[0],):
        raise MethodInputError(f"groups: expected {X.shape[0]} labels, got shape {groups.shape}")
    folds = check_folds(folds)
    if settings is None:
        settings = LightGBMSettings(
            n_estimators=n_estimators,
            learning_rate=learning_rate,
            num_leaves=num_leaves,
            min_child_samples=min_child_samples,
            max_train_rows=max_train_rows,
            num_threads=num_threads,
            random_state=random_state,
        )
    labels = np.unique(groups).size
    if labels < folds:
        raise MethodInputError(f"groups: {labels} distinct groups cannot fill {folds} folds")
    fold = assign_folds(folds, random_state=settings.random_state, salt=7, groups=groups)

    def fit_predict(train: np.ndarray, held: np.ndarray, k: int) -> dict[str, np.ndarray]:
        fold_settings = replace(settings, random_state=settings.random_state + 101 * k)
        e_model = PropensityModel.from_settings(fold_settings).fit(X[train], t[train])
        learner = XLearner.from_settings(fold_settings, fit_propensity=False).fit(X[train], t[train], y[train])
        e_held = e_model.predict(X[held])
        mu0, mu1 = learner.predict_outcomes(X[held])
        uplift_x = learner.predict(X[held], propensity=e_held)
        return {"propensity": e_held, "mu0": mu0, "mu1": mu1, "uplift_t": mu1 - mu0, "uplift_x": uplift_x}

    return CrossFit(fold=fold, **out_of_fold(fold, folds, fit_predict))


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
