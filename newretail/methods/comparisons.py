"""Small comparisons the analyses report beside their estimates: a mean of a few replications with its t interval,
the difference of two independent proportions with Newcomb's interval, and McNemar's exact test of paired hits.

Each is one call of scipy or statsmodels, wrapped so that the analyses and studies validate their input one way and
never import a statistics library themselves (``tests/methods/test_comparisons.py`` checks each against the library
call it wraps and a hand computation).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, check_alpha

__all__ = ["difference_interval", "mcnemar_exact", "mean_interval"]


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise MethodInputError(f"{name}: must be a whole number >= 0, got {value!r}")
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
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise MethodInputError(f"values: need at least two finite numbers, got {x.size}")
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
