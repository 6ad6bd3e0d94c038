"""Small comparisons the analyses report beside their estimates: a mean of a few replications with its t interval,
the difference of two independent proportions with Newcomb's interval, McNemar's exact test of paired hits, the
difference of two means with a cluster-robust interval, and two scores' AUCs on the same rows with DeLong's paired
intervals.

Each wraps scipy or statsmodels (or, for DeLong, scipy's ranks), so that the analyses and studies validate their
input one way and never import a statistics library themselves (``tests/methods/test_comparisons.py`` checks each
against the library call it wraps, a peer or a hand computation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
from newretail.methods.effects import Effect

__all__ = [
    "AucComparison",
    "compare_auc",
    "difference_in_means",
    "difference_interval",
    "mcnemar_exact",
    "mean_interval",
]


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise MethodInputError(f"{name}: must be a whole number >= 0, got {shown(value)}")
    return int(value)


def mean_interval(values: Any, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """The mean of a small sample (replications of a simulation, say) with its ``1 - alpha`` Student t interval.

    Parameters
    ----------
    values : at least two finite numbers.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    (mean, low, high)
        ``mean -+ t(1 - alpha/2, n - 1) s / sqrt(n)``, s the sample standard deviation.
    """
    alpha = check_alpha(alpha)
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2:
        raise MethodInputError(f"values: need at least two finite numbers, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise MethodInputError(f"values: need at least two finite numbers, got {shown(x[~np.isfinite(x)][0])}")
    from scipy import stats

    mean = float(x.mean())
    half = float(stats.t.ppf(1 - alpha / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def difference_interval(x1: Any, n1: Any, x0: Any, n0: Any, *, alpha: float = 0.05) -> tuple[float, float, float]:
    """The difference of two independent proportions ``x1/n1 - x0/n0`` with Newcomb's ``1 - alpha`` interval
    (hybrid Wilson score, statsmodels ``confint_proportions_2indep(method="newcomb")``).

    Parameters
    ----------
    x1, n1, x0, n0 : successes and trials of the two groups (whole numbers; ``n1``, ``n0`` positive).
    alpha : 1 - confidence level, in (0, 0.5].
    """
    alpha = check_alpha(alpha)
    a1, t1, a0, t0 = (_count(v, name) for v, name in ((x1, "x1"), (n1, "n1"), (x0, "x0"), (n0, "n0")))
    if t1 == 0 or t0 == 0:
        raise MethodInputError("n1, n0: each group needs at least one trial")
    if a1 > t1 or a0 > t0:
        raise MethodInputError(f"x1, x0: more successes than trials ({a1}/{t1}, {a0}/{t0})")
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(a1, t1, a0, t0, compare="diff", method="newcomb", alpha=alpha)
    return a1 / t1 - a0 / t0, float(low), float(high)


def mcnemar_exact(table: Any) -> float:
    """McNemar's exact test of paired binary outcomes: the two-sided p-value that the discordant pairs split evenly.

    Parameters
    ----------
    table : 2 x 2 counts, ``[[both, first only], [second only, neither]]`` (statsmodels ``mcnemar(exact=True)``,
        a binomial test of ``first only`` among the discordant pairs).
    """
    t = np.asarray(table)
    if t.shape != (2, 2) or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t != np.round(t)):
        raise MethodInputError(f"table: must be 2 x 2 counts (whole numbers >= 0), got {t.tolist()!r}")
    from statsmodels.stats.contingency_tables import mcnemar

    return float(mcnemar(t.astype(np.int64), exact=True).pvalue)


def difference_in_means(
    df: Any, *, outcome: str, treatment: str, cluster: str | None = None, alpha: float = 0.05
) -> Effect:
    """The mean outcome of treated rows minus that of the others, with a robust normal ``1 - alpha`` interval: the
    slope of an OLS regression of the outcome on the treatment (statsmodels), its standard error cluster-robust over
    ``cluster`` (CR1, statsmodels' small-sample correction) or, without clusters, heteroskedasticity-robust (HC2,
    Neyman's variance of a difference in means).

    It compares different rows as well as different treatments, so it is the treatment's effect only when the
    treatment was assigned at random.

    Parameters
    ----------
    df : polars or pandas DataFrame, one row per unit.
    outcome : column of outcomes, 0/1 or continuous (finite numbers).
    treatment : column of the treatment, bool or 0/1, both arms present.
    cluster : column of cluster labels (a user, a store) whose rows may be correlated, or None.
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    Effect
        The difference in the outcome's unit (a difference in proportion for a 0/1 outcome), with ``se``, the
        interval and ``n`` rows; ``name`` ``"difference in means"``.
    """
    frame = as_polars(df)
    if cluster is not None and not isinstance(cluster, str):
        raise MethodInputError(f"cluster: a column name (str) or None expected, got {shown(cluster)}")
    require_columns(frame, [outcome, treatment, *([cluster] if cluster else [])])
    alpha = check_alpha(alpha)
    y = finite_numeric(frame[outcome]).to_numpy()
    t = binary_indicator(frame[treatment]).to_numpy().astype(np.float64)
    if t.size == 0 or t.min() == t.max():
        raise MethodInputError(f"column '{treatment}': every row is in the same arm; there is nothing to compare")
    import statsmodels.api as sm

    model = sm.OLS(y, np.column_stack([np.ones_like(t), t]))
    if cluster is None:
        fit, how = model.fit(cov_type="HC2"), "heteroskedasticity-robust (HC2)"
    else:
        groups = frame[cluster]
        if groups.null_count():
            raise MethodInputError(f"column '{cluster}': {groups.null_count()} missing cluster labels")
        if not groups.dtype.is_numeric():
            groups = groups.cast(pl.String).rank("dense")
        fit, how = (
            model.fit(cov_type="cluster", cov_kwds={"groups": groups.to_numpy()}),
            f"cluster-robust by '{cluster}'",
        )
    low, high = fit.conf_int(alpha=alpha)[1]
    return Effect(
        float(fit.params[1]),
        float(fit.bse[1]),
        float(low),
        float(high),
        int(t.size),
        "difference in means",
        f"OLS on the treatment; {how} normal interval",
    )


@dataclass(frozen=True)
class AucComparison(Tidy):
    """AUC of a score and of a reference score (e.g. the true probabilities) on the same rows, with DeLong
    intervals for each and for their difference ``gap`` (reference minus score); AUCs are probabilities in [0, 1]
    (the chance a random positive row scores above a random negative one), ``n`` the rows."""

    auc: float
    auc_ci_low: float
    auc_ci_high: float
    reference_auc: float
    reference_ci_low: float
    reference_ci_high: float
    gap: float
    gap_ci_low: float
    gap_ci_high: float
    n: int

    def _terms(self) -> list[Term]:
        return [
            Term("AUC", self.auc, ci_low=self.auc_ci_low, ci_high=self.auc_ci_high, n=self.n),
            Term("reference AUC", self.reference_auc, ci_low=self.reference_ci_low, ci_high=self.reference_ci_high,
                 n=self.n),
            Term("reference minus score", self.gap, ci_low=self.gap_ci_low, ci_high=self.gap_ci_high, n=self.n),
        ]  # fmt: skip

    def _design(self) -> str:
        return "DeLong's paired variance, normal interval"


def _delong_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong's placement values (per positive and per negative row) for each score column."""
    from scipy import stats

    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    rank_all = stats.rankdata(np.hstack([pos, neg]), axis=1)
    rank_pos, rank_neg = stats.rankdata(pos, axis=1), stats.rankdata(neg, axis=1)
    v10 = (rank_all[:, :m] - rank_pos) / n  # share of negatives below each positive
    v01 = 1.0 - (rank_all[:, m:] - rank_neg) / m  # share of positives above each negative
    return v10.mean(axis=1), v10, v01


def _labels(y: Any) -> np.ndarray:
    """0/1 (or boolean) labels as int8, both outcomes present."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise MethodInputError(f"y: must be 0/1 (or bool) labels, got {type(y).__name__}") from None
    if arr.ndim != 1:
        raise MethodInputError(f"y: must be a 1-d array of 0/1 labels, got shape {arr.shape}")
    bad = arr[(arr != 0) & (arr != 1)]
    if bad.size:
        raise MethodInputError(f"y: must be 0/1 (or bool) labels, found the value {shown(bad[0])}")
    if np.unique(arr).size != 2:
        raise MethodInputError("y: needs both outcomes (0 and 1) to compute an AUC")
    return arr.astype(np.int8)


def compare_auc(y: Any, score: Any, reference: Any, *, alpha: float = 0.05) -> AucComparison:
    """AUCs of ``score`` and ``reference`` for 0/1 labels ``y``, with DeLong's paired variance (DeLong, DeLong and
    Clarke-Pearson 1988, Biometrics 44(3)), computed from midranks (ties count one half).

    Parameters
    ----------
    y : 0/1 (or boolean) outcomes, both present.
    score : the scores to judge (any monotone scale: probabilities, log-odds), one per label.
    reference : the reference's scores on the same rows, e.g. the true probabilities (the best AUC any score could
        reach).
    alpha : 1 - confidence level, in (0, 0.5].

    Returns
    -------
    AucComparison
        Both AUCs and their difference (reference minus score) with normal ``1 - alpha`` intervals.
    """
    labels = _labels(y)
    alpha = check_alpha(alpha)
    try:
        both = np.vstack([np.asarray(score, float), np.asarray(reference, float)])
    except (TypeError, ValueError):
        raise MethodInputError("score, reference: need one value per label") from None
    if both.ndim != 2 or both.shape[1] != labels.size:
        raise MethodInputError("score, reference: need one value per label")
    if not np.all(np.isfinite(both)):
        raise MethodInputError("score, reference: NaN or infinite score")
    from scipy import stats

    auc, v10, v01 = _delong_components(labels, both)
    cov = np.cov(v10) / v10.shape[1] + np.cov(v01) / v01.shape[1]
    z = float(stats.norm.ppf(1 - alpha / 2))
    se = np.sqrt(np.diag(cov))
    gap = float(auc[1] - auc[0])
    se_gap = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    return AucComparison(
        auc=float(auc[0]),
        auc_ci_low=float(auc[0] - z * se[0]),
        auc_ci_high=float(auc[0] + z * se[0]),
        reference_auc=float(auc[1]),
        reference_ci_low=float(auc[1] - z * se[1]),
        reference_ci_high=float(auc[1] + z * se[1]),
        gap=gap,
        gap_ci_low=gap - z * se_gap,
        gap_ci_high=gap + z * se_gap,
        n=int(labels.size),
    )
