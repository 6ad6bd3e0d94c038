"""A two-way fixed-effects regression with several regressors, for an analysis that needs the joint covariance of
its coefficients (the stores' stacked difference-in-differences of store sales and displaced online orders).

The fit is :mod:`newretail.methods.panel`'s (the same panel reading, the same within transformation and the same
cluster-robust covariance with the small-sample factor of fixest and Stata), so its coefficients and standard errors
are those :class:`~newretail.methods.DiD` reports for one regressor; ``tests/methods/test_comparisons.py`` checks
them against statsmodels' regression with every dummy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, as_polars, check_alpha, finite_numeric, require_columns
from newretail.methods._panel_data import read_panel, twfe_fit

__all__ = ["TwfeRegression", "twfe_regression"]


@dataclass(frozen=True)
class TwfeRegression:
    """Coefficients of the named regressors (outcome units per unit of each), their cluster-robust covariance,
    and the t degrees of freedom (clusters - 1)."""

    names: tuple[str, ...]
    coef: np.ndarray
    cov: np.ndarray
    dof: int
    n_obs: int
    n_clusters: int

    def critical(self, alpha: float = 0.05) -> float:
        """The two-sided ``1 - alpha`` critical value of the t distribution with :attr:`dof` degrees of freedom."""
        from scipy import stats

        return float(stats.t.ppf(1 - check_alpha(alpha) / 2, self.dof))


def twfe_regression(
    df: Any, *, unit: str, time: str, outcome: str, regressors: Sequence[str], cluster: str | None = None
) -> TwfeRegression:
    """OLS of ``outcome`` on ``regressors`` with unit and time fixed effects, errors clustered by ``cluster``
    (default: the unit).

    Parameters
    ----------
    df : a long polars or pandas frame, one row per unit and time.
    unit, time, outcome : column names; ``time`` numeric or a date.
    regressors : numeric (or boolean) columns whose coefficients are reported, at least one.
    cluster : the column errors are clustered by.
    """
    if isinstance(regressors, str) or not regressors:
        raise MethodInputError("regressors: a non-empty sequence of column names expected")
    frame = as_polars(df)
    require_columns(frame, list(regressors))
    x = np.column_stack([finite_numeric(frame[r]).to_numpy() for r in regressors])
    panel = read_panel(frame, unit=unit, time=time, outcome=outcome, treated=None, cluster=cluster)
    fit = twfe_fit(panel, x.astype(np.float64)[panel.order])
    return TwfeRegression(tuple(regressors), fit.coef, fit.cov, fit.dof, fit.n_obs, fit.n_clusters)
