"""How the package's LightGBM models are set up and cross-fitted: :class:`LightGBMSettings` (the hyperparameters, in
one place), :func:`assign_folds` (each row's fold) and :func:`out_of_fold` (the cross-fitting loop). The learners
(:mod:`newretail.methods.learners`) and :func:`newretail.methods.effects.average_effect` use them; both re-export
what is public."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, shown

__all__ = ["LightGBMSettings", "assign_folds", "check_folds", "out_of_fold"]


@dataclass(frozen=True, kw_only=True)
class LightGBMSettings:
    """The LightGBM hyperparameters of every model the package's learners fit: their one definition.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM's (trees, shrinkage, leaves per tree,
        fewest training rows in a leaf).
    max_train_rows : each model trains on a seeded subsample of at most this many rows (None: all of them).
    num_threads : LightGBM's threads (explicit: its default of every core is slow on a shared machine).
    random_state : seed of the subsamples and of LightGBM; above 200,000 training rows it also picks the rows
        LightGBM reads to place its histogram bins, so it changes the model there.
    """

    n_estimators: int = 150
    learning_rate: float = 0.1
    num_leaves: int = 15
    min_child_samples: int = 200
    max_train_rows: int | None = 100_000
    num_threads: int = 1
    random_state: int = 0

    def lightgbm_params(self, *, random_state: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``LGBMClassifier``/``LGBMRegressor`` (deterministic, row-wise, silent); ``random_state``
        overrides the seed (a model per fold or per arm gets its own)."""
        if not (isinstance(self.num_threads, int) and self.num_threads >= 1):
            raise MethodInputError(f"num_threads: must be a whole number of at least 1, got {shown(self.num_threads)}")
        if self.max_train_rows is not None and self.max_train_rows < 100:
            raise MethodInputError(f"max_train_rows: must be None or at least 100, got {shown(self.max_train_rows)}")
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "n_jobs": self.num_threads,
            "random_state": self.random_state if random_state is None else random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def classifier(self, *, random_state: int | None = None) -> Any:
        """An unfitted LightGBM classifier with these settings."""
        from lightgbm import LGBMClassifier

        return LGBMClassifier(**self.lightgbm_params(random_state=random_state))

    def regressor(self, *, random_state: int | None = None) -> Any:
        """An unfitted LightGBM regressor with these settings."""
        from lightgbm import LGBMRegressor

        return LGBMRegressor(**self.lightgbm_params(random_state=random_state))

    def rows(self, index: np.ndarray, salt: int) -> np.ndarray:
        """At most ``max_train_rows`` of ``index``, drawn without replacement (seeded by ``random_state`` and
        ``salt``, so each model of a learner draws its own)."""
        if self.max_train_rows is None or index.size <= self.max_train_rows:
            return index
        rng = np.random.default_rng([self.random_state, salt])
        return np.sort(rng.choice(index, size=self.max_train_rows, replace=False))

    def fit_classifier(self, X: np.ndarray, y: np.ndarray, index: np.ndarray, salt: int) -> Any:
        """A classifier of the 0/1 ``y`` fitted on (a subsample of) the rows ``index``."""
        rows = self.rows(index, salt)
        if np.unique(y[rows]).size < 2:
            raise MethodInputError(
                "y: a model's training rows hold a single outcome; more data or other groups are needed"
            )
        return self.classifier().fit(X[rows], y[rows].astype(np.int8))

    def fit_outcome(self, X: np.ndarray, y: np.ndarray, index: np.ndarray, salt: int, binary: bool) -> Any:
        """A classifier of a 0/1 outcome, or a regressor of a continuous one, on (a subsample of) ``index``."""
        if binary:
            return self.fit_classifier(X, y, index, salt)
        rows = self.rows(index, salt)
        if rows.size == 0:
            raise MethodInputError("treatment: an arm has no rows to fit its outcome model")
        return self.regressor().fit(X[rows], y[rows])


def assign_folds(
    folds: int,
    *,
    random_state: int,
    salt: int,
    groups: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    size: int | None = None,
) -> np.ndarray:
    """Fold (0 to ``folds - 1``) of each row for cross-fitting.

    Whole ``groups`` (e.g. a user's visits; every row its own group when None) are dealt into ``folds`` near-equal
    parts by a permutation seeded with ``random_state`` and ``salt``. With ``strata`` (e.g. the treatment, rows
    ungrouped) the rows of each stratum are dealt separately, so every fold holds each stratum's share. ``size`` is
    the number of rows when neither is given.
    """
    rng = np.random.default_rng([random_state, salt])
    if strata is not None:
        strata = np.asarray(strata)
        fold = np.empty(strata.size, dtype=np.int64)
        for stratum in np.unique(strata):
            idx = np.flatnonzero(strata == stratum)
            fold[idx] = rng.permutation(np.arange(idx.size) % folds)
        return fold
    if groups is None:
        if size is None:
            raise MethodInputError("groups: give the groups, the strata or the number of rows")
        return np.asarray(rng.permutation(np.arange(size) % folds), dtype=np.int64)
    labels, inverse = np.unique(np.asarray(groups), return_inverse=True)
    return np.asarray(rng.permutation(np.arange(labels.size) % folds)[inverse], dtype=np.int64)


def out_of_fold(
    fold: np.ndarray, folds: int, fit_predict: Callable[[np.ndarray, np.ndarray, int], Mapping[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Cross-fitted predictions: for each fold ``k``, ``fit_predict(train, held, k)`` fits on the rows ``train`` of
    the other folds and returns named predictions for the rows ``held`` of fold ``k``; each name's predictions are
    gathered into one array over all rows (every row predicted by models that never saw it)."""
    out: dict[str, np.ndarray] = {}
    for k in range(folds):
        train, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        for name, values in fit_predict(train, held, k).items():
            out.setdefault(name, np.empty(fold.size))[held] = values
    return out


def check_folds(folds: Any) -> int:
    """``folds`` must be a whole number of at least 2."""
    if isinstance(folds, bool) or not (isinstance(folds, int) and folds >= 2):
        raise MethodInputError(f"folds: must be a whole number of at least 2, got {shown(folds)}")
    return int(folds)
