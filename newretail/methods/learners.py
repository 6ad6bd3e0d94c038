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
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, as_polars, binary_indicator, finite_numeric, require_columns

__all__ = [
    "CrossFit",
    "PropensityModel",
    "TLearner",
    "XLearner",
    "area_over_random",
    "cross_fit",
    "gain_curve",
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
            raise MethodInputError(f"num_threads: must be a whole number of at least 1, got {self.num_threads!r}")
        if self.max_train_rows is not None and self.max_train_rows < 100:
            raise MethodInputError(f"max_train_rows: must be None or at least 100, got {self.max_train_rows!r}")
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
            raise MethodInputError(
                "y: a model's training rows hold a single outcome; more data or other groups are needed"
            )
        return self._classifier().fit(X[rows], y[rows].astype(np.int8))

    def _fit_outcome(self, X: np.ndarray, y: np.ndarray, index: np.ndarray, salt: int, binary: bool) -> Any:
        """A classifier of a 0/1 outcome, or a regressor of a continuous one, on (a subsample of) ``index``."""
        if binary:
            return self._fit_classifier(X, y, index, salt)
        rows = self._rows(index, salt)
        if rows.size == 0:
            raise MethodInputError("treatment: an arm has no rows to fit its outcome model")
        return self._regressor().fit(X[rows], y[rows])


def _predict_outcome(model: Any, X: np.ndarray, binary: bool) -> np.ndarray:
    """Outcome probability (0/1 outcomes) or mean (continuous outcomes)."""
    if binary:
        return np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    return np.asarray(model.predict(X), dtype=np.float64)


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
    """Two outcome models, one per arm; the uplift is the difference of their predictions.

    A 0/1 outcome gets classifiers (the uplift is a difference in probability), any other outcome regressors (a
    difference in its unit); ``binary_`` records which.
    """

    def fit(self, X: np.ndarray, treatment: np.ndarray, y: np.ndarray) -> TLearner:
        """Fit the control and treated outcome models; returns self."""
        X, t, y = _check_xy(X, treatment, y)
        self.binary_ = is_binary(y)
        self.control_ = self._fit_outcome(X, y, np.flatnonzero(t == 0), 2, self.binary_)
        self.treated_ = self._fit_outcome(X, y, np.flatnonzero(t == 1), 3, self.binary_)
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
        imputed_treated = y[treated] - _predict_outcome(self.control_, X[treated], self.binary_)
        imputed_control = _predict_outcome(self.treated_, X[control], self.binary_) - y[control]
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
        raise MethodInputError(f"groups: expected {X.shape[0]} labels, got shape {groups.shape}")
    if isinstance(folds, bool) or not (isinstance(folds, int) and folds >= 2):
        raise MethodInputError(f"folds: must be a whole number of at least 2, got {folds!r}")
    labels, inverse = np.unique(groups, return_inverse=True)
    if labels.size < folds:
        raise MethodInputError(f"groups: {labels.size} distinct groups cannot fill {folds} folds")
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
