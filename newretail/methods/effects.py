"""Average treatment effects: cross-fitted, doubly robust (AIPW) on LightGBM, with an influence-function interval.

:func:`average_effect` takes a polars or pandas frame and column names. The outcome may be 0/1 (the effect is a
difference in probability) or continuous (a difference in its unit). The chance of treatment is either known by design
(an experiment: a number, or a column of per-row probabilities) or estimated by LightGBM from the covariates. Nuisance
models are fitted on K-1 folds and predict the held-out fold (cross-fitting), so the interval from the influence
function is valid without restricting the models' complexity. :func:`aipw_effect` is the same estimator on arrays of
out-of-fold predictions, for callers that cross-fit their own models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
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
    shown,
)
from newretail.methods._results import Term, Tidy
from newretail.methods.learners import LightGBMSettings, assign_folds, check_folds, is_binary, out_of_fold

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Effect", "Overlap", "aipw_effect", "average_effect"]

OVERLAP_REFUSE_SHARE = 0.1  # refuse when more than this share of estimated propensities had to be clipped


@dataclass(frozen=True)
class Overlap:
    """How well the arms' propensities overlap, for reading an average effect's weights.

    ``treated_range`` and ``untreated_range`` are the (min, max) propensity in each arm (before clipping);
    ``clipped`` the rows whose estimated propensity was clipped to ``clip`` (``clipped_share`` of the rows the
    estimand weighs: all rows for the ATE, the treated rows for the ATT); ``ess_treated`` and ``ess_untreated`` the
    effective sample sizes (Kish: (sum w)^2 / sum w^2) of each arm under the estimand's weights (1/e and 1/(1-e) for
    the ATE; 1 and e/(1-e) for the ATT): far below the arm's rows, a few rows carry the estimate.
    """

    treated_range: tuple[float, float]
    untreated_range: tuple[float, float]
    clipped: int
    clipped_share: float
    ess_treated: float
    ess_untreated: float
    clip: float


@dataclass(frozen=True)
class Effect(Tidy):
    """An average effect with its ``1 - alpha`` interval.

    ``estimate``, ``ci_low`` and ``ci_high`` are in the outcome's unit (a difference in probability for a 0/1
    outcome), treated minus untreated; ``se`` is the standard error; ``n`` the rows used; ``name`` the estimand
    (``"ATE"``, ``"ATT"``, ...) and ``method`` how it was estimated; ``overlap`` the propensities' overlap
    (:class:`Overlap`, when a propensity was used). ``p_value`` is the two-sided normal p-value of no effect.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    name: str = "ATE"
    method: str = ""
    overlap: Overlap | None = None

    @property
    def value(self) -> float:
        """The estimate (the name the package's older results use)."""
        return self.estimate

    @property
    def p_value(self) -> float:
        """Two-sided p-value of no effect, from the normal approximation the interval uses (NaN without an SE)."""
        from scipy import stats

        if not (math.isfinite(self.se) and self.se > 0):
            return math.nan
        return float(2 * stats.norm.sf(abs(self.estimate) / self.se))

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return bool(self.ci_low <= value <= self.ci_high)

    def _terms(self) -> list[Term]:
        return [Term(self.name, self.estimate, self.se, self.ci_low, self.ci_high, self.p_value, self.n)]

    def _design(self) -> str:
        return self.method or self.name

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
        raise MethodInputError(f"clip: must be in [0, 0.5), got {shown(clip)}")
    if estimand not in ("ate", "att"):
        raise MethodInputError(f"estimand: must be 'ate' or 'att', got {shown(estimand)}")
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
        raise MethodInputError(f"propensity: must be None, a probability or a column name, got {shown(propensity)}")
    if not (np.all(np.isfinite(p)) and np.all((p > 0) & (p < 1))):
        bad = p[~(np.isfinite(p) & (p > 0) & (p < 1))][0]
        raise MethodInputError(f"{what}: a known propensity must lie strictly between 0 and 1, got {shown(bad)}")
    return p


@dataclass(frozen=True)
class _Rows:
    """The validated inputs of :func:`average_effect` in a canonical row order (sorted on every column used)."""

    y: np.ndarray
    t: np.ndarray
    X: np.ndarray | None
    e: np.ndarray | None
    groups: np.ndarray | None


def _rows(frame: pl.DataFrame, outcome: str, treatment: str, covariates: tuple[str, ...], propensity: Any,
          cluster: str | None) -> _Rows:  # fmt: skip
    """Check the columns and put the rows in a canonical order: the same folds whatever order or frame type came in."""
    names = [outcome, treatment, *covariates] + [c for c in (propensity, cluster) if isinstance(c, str)]
    require_columns(frame, names)
    if len(set(names)) != len(names):
        raise MethodInputError(f"covariates: a column is used twice among {', '.join(map(shown, names))}")
    if frame.height == 0:
        raise MethodInputError("df: no rows")
    columns = [finite_numeric(frame[outcome]).alias("_y"), binary_indicator(frame[treatment]).cast(pl.Int8).alias("_t")]
    columns += [finite_numeric(frame[c]).alias(f"_x{i}") for i, c in enumerate(covariates)]
    if propensity is not None:
        columns.append(pl.Series("_e", _known_propensity(frame, propensity)))
    if cluster is not None:
        if frame[cluster].null_count():
            raise MethodInputError(f"column '{cluster}': {frame[cluster].null_count()} missing cluster labels")
        columns.append(frame[cluster].alias("_g"))
    data = pl.DataFrame(columns)
    data = data.sort(data.columns)  # the cluster labels last: they only break ties
    xs = [f"_x{i}" for i in range(len(covariates))]
    groups = None
    if cluster is not None:  # clusters numbered by first appearance: renaming them changes nothing
        _, first, inverse = np.unique(data["_g"].to_numpy(), return_index=True, return_inverse=True)
        groups = np.argsort(np.argsort(first))[inverse]
    return _Rows(
        data["_y"].to_numpy(),
        data["_t"].to_numpy().astype(np.int8),
        data.select(xs).to_numpy().astype(np.float32) if xs else None,
        data["_e"].to_numpy() if propensity is not None else None,
        groups,
    )


def average_effect(
    df: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str] = (),
    propensity: float | str | None = None,
    estimand: Literal["ate", "att"] = "ate",
    cluster: str | None = None,
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
        probabilities); ``None`` estimates it from ``covariates`` (LightGBM, cross-fitted) and clips it: to
        ``[clip, 1 - clip]`` for the ATE, to at most ``1 - clip`` for the ATT (an untreated row with a propensity
        near 0 gets a weight near 0 there, which needs no clipping). A warning names the covariates when some rows
        are clipped, an error when more than 10% of the rows the estimand weighs are (all rows for the ATE, the
        treated for the ATT) or when the arms' propensities do not overlap at all.
    estimand : ``"ate"`` (the average effect over all rows) or ``"att"`` (over the treated rows).
    cluster : column of cluster labels (e.g. a user or a store) or None: with it, a cluster's rows stay in one
        fold and the standard error is cluster-robust.
    folds : cross-fitting folds (>= 2), stratified by treatment (or of whole clusters).
    alpha : 1 - confidence level, in (0, 0.5].
    random_state, num_threads : LightGBM's seed and thread count; the fold split uses ``random_state`` too, after
        the rows are put in a canonical order, so the answer does not depend on the rows' order or the frame's type.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM's hyperparameters for every nuisance model.
    clip : bound for estimated propensities.

    Returns
    -------
    Effect
        The ATE or ATT in the outcome's unit with its influence-function interval, ``n`` rows and ``overlap``.
    """
    frame = as_polars(df)
    covariates = (covariates,) if isinstance(covariates, str) else tuple(covariates)
    if estimand not in ("ate", "att"):
        raise MethodInputError(f"estimand: must be 'ate' or 'att', got {shown(estimand)}")
    if cluster is not None and not isinstance(cluster, str):
        raise MethodInputError(f"cluster: a column name (str) or None expected, got {shown(cluster)}")
    alpha, folds = check_alpha(alpha), check_folds(folds)
    if not (isinstance(clip, float) and 0 < clip < 0.5):
        raise MethodInputError(f"clip: must be a number in (0, 0.5), got {shown(clip)}")
    rows = _rows(frame, outcome, treatment, covariates, propensity, cluster)
    settings = LightGBMSettings(n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
                                min_child_samples=min_child_samples, max_train_rows=None, num_threads=num_threads,
                                random_state=random_state)  # fmt: skip
    fold = _folds(rows, folds, random_state, treatment, cluster)
    binary = is_binary(rows.y)

    def fit_predict(train: np.ndarray, held: np.ndarray, k: int) -> dict[str, np.ndarray]:
        out = {}
        for arm in (0, 1):
            arm_rows = train[rows.t[train] == arm]
            out[f"mu{arm}"] = _fit_predict(settings, rows.X, rows.y, arm_rows, held, binary, salt=10 * k + arm)
        if rows.e is None:
            out["e"] = _fit_predict(settings, rows.X, rows.t.astype(np.float64), train, held, True, salt=10 * k + 2)
        return out

    fitted = out_of_fold(fold, folds, fit_predict)
    e, overlap = _overlap(
        fitted["e"] if rows.e is None else rows.e, rows.t, estimand, clip, covariates, estimated=rows.e is None
    )
    effect, _ = aipw_effect(rows.y, rows.t, e, fitted["mu0"], fitted["mu1"], estimand=estimand, groups=rows.groups,
                            clip=0.0, alpha=alpha)  # fmt: skip
    how = "known propensity" if rows.e is not None else "estimated propensity"
    what = "AIPW" if estimand == "ate" else "AIPW for the treated"
    method = f"{what}, {folds}-fold cross-fitted LightGBM, {how}; influence-function interval"
    if cluster is not None:
        method += f", cluster-robust by '{cluster}'"
    return replace(effect, n=rows.y.size, method=method, overlap=overlap)


def _folds(rows: _Rows, folds: int, random_state: int, treatment: str, cluster: str | None) -> np.ndarray:
    """Each row's fold: stratified by treatment, or whole clusters; every training set must hold both arms."""
    for arm, label in ((1, "treated"), (0, "untreated")):
        if int(np.sum(rows.t == arm)) < folds:
            raise MethodInputError(
                f"column '{treatment}': {int(np.sum(rows.t == arm))} {label} rows; each arm needs at least "
                f"folds = {folds}"
            )
    if rows.groups is None:
        return assign_folds(folds, random_state=random_state, salt=11, strata=rows.t)
    clusters = np.unique(rows.groups).size
    if clusters < folds:
        raise MethodInputError(f"column '{cluster}': {clusters} clusters cannot fill folds = {folds}")
    fold = assign_folds(folds, random_state=random_state, salt=11, groups=rows.groups)
    for k in range(folds):
        if np.unique(rows.t[fold != k]).size < 2:
            raise MethodInputError(
                f"column '{cluster}': the clusters outside fold {k} hold one arm only; use fewer folds"
            )
    return fold


def _overlap(
    e: np.ndarray, t: np.ndarray, estimand: str, clip: float, covariates: tuple[str, ...], *, estimated: bool
) -> tuple[np.ndarray, Overlap]:
    """Clip estimated propensities for the estimand (refusing or warning as :func:`average_effect` says) and
    describe the overlap of the arms."""
    treated, untreated = e[t == 1], e[t == 0]
    clipped = np.zeros(e.size, dtype=bool)
    if estimated:
        names = ", ".join(f"'{c}'" for c in covariates) or "none"
        if treated.min() > untreated.max() or (estimand == "ate" and untreated.min() > treated.max()):
            raise MethodInputError(
                f"covariates ({names}): the estimated propensities of the treated and untreated do not overlap at "
                f"all; no average effect"
            )
        clipped = (e > 1 - clip) | ((e < clip) if estimand == "ate" else False)
        base = e.size if estimand == "ate" else int(t.sum())
        if clipped.any():
            bound = f"[{clip}, {1 - clip}]" if estimand == "ate" else f"(0, {1 - clip}]"
            message = f"covariates ({names}): {int(clipped.sum())} of {e.size} estimated propensities outside {bound}"
            if clipped.sum() / base > OVERLAP_REFUSE_SHARE:
                raise MethodInputError(f"{message}: the treated and untreated do not overlap; no {estimand.upper()}")
            warnings.warn(f"{message}: clipped (poor overlap)", RuntimeWarning, stacklevel=3)
        e = np.clip(e, clip if estimand == "ate" else 0.0, 1 - clip)
    if estimand == "ate":
        w1, w0 = 1 / e[t == 1], 1 / (1 - e[t == 0])
    else:
        w1, w0 = np.ones(int(t.sum())), e[t == 0] / (1 - e[t == 0])
    base = e.size if estimand == "ate" else max(int(t.sum()), 1)
    overlap = Overlap(
        (float(treated.min()), float(treated.max())),
        (float(untreated.min()), float(untreated.max())),
        int(clipped.sum()),
        float(clipped.sum() / base),
        _kish(w1),
        _kish(w0),
        clip,
    )
    return e, overlap


def _kish(w: np.ndarray) -> float:
    """Kish's effective sample size of weights ``w``: (sum w)^2 / sum w^2 (0 when every weight is 0)."""
    total = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / total) if total > 0 else 0.0


def _fit_predict(
    settings: LightGBMSettings,
    X: np.ndarray | None,
    y: np.ndarray,
    train: np.ndarray,
    held: np.ndarray,
    binary: bool,
    *,
    salt: int,
) -> np.ndarray:
    """Out-of-fold prediction of ``y`` (probability if ``binary``) on the rows ``held`` from a model fitted on the
    rows ``train``, seeded by ``random_state + salt``.

    Without covariates, or when the training rows hold a single value, the prediction is the training mean.
    """
    y_train = y[train]
    if X is None or np.unique(y_train).size < 2:
        return np.full(held.size, float(y_train.mean()))
    seed = settings.random_state + salt
    if binary:
        model = settings.classifier(random_state=seed).fit(X[train], y_train.astype(np.int8))
        return np.asarray(model.predict_proba(X[held])[:, 1], dtype=np.float64)
    model = settings.regressor(random_state=seed).fit(X[train], y_train)
    return np.asarray(model.predict(X[held]), dtype=np.float64)
