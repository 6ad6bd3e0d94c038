"""A unit-by-time panel read from a frame: validated, sorted, coded; and the two-way fixed-effects fit on it.

Shared by :mod:`newretail.methods.panel` (DiD, event study) and :mod:`newretail.methods.synth`. Every refusal is a
one-line :class:`~newretail.methods._frames.MethodInputError` that names the column or argument.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from newretail.methods._frames import (
    MethodInputError,
    as_polars,
    binary_indicator,
    finite_numeric,
    require_columns,
    unique_keys,
)

__all__ = ["Panel", "TwfeFit", "read_panel", "twfe_fit"]


@dataclass(frozen=True)
class Panel:
    """Rows sorted by (unit, time); ``u``/``t`` index ``units``/``times``; ``time_value`` is numeric (dates as
    days) for unit trends; ``d`` is the treatment indicator (all False when the panel has none)."""

    units: np.ndarray
    times: np.ndarray
    u: np.ndarray
    t: np.ndarray
    time_value: np.ndarray
    y: np.ndarray
    d: np.ndarray
    cluster: np.ndarray
    order: np.ndarray  # the input rows in this order

    @property
    def n_units(self) -> int:
        return int(self.units.size)

    @property
    def treated_units(self) -> np.ndarray:
        """Boolean per unit: treated in at least one period."""
        return np.bincount(self.u, weights=self.d.astype(float), minlength=self.n_units) > 0

    def first_treated(self) -> np.ndarray:
        """Per unit, the time index of its first treated period (-1 when never treated)."""
        first = np.full(self.n_units, -1)
        rows = np.flatnonzero(self.d)[::-1]  # last to first, so the earliest wins
        first[self.u[rows]] = self.t[rows]
        return first


def _time_values(series: pl.Series, name: str) -> np.ndarray:
    dtype = series.dtype
    if dtype == pl.Date:
        return series.cast(pl.Int64).to_numpy().astype(np.float64)
    if isinstance(dtype, pl.Datetime):
        return series.dt.epoch("s").to_numpy().astype(np.float64) / 86400.0
    if dtype == pl.Boolean or not dtype.is_numeric():
        raise MethodInputError(f"column '{name}': time must be numeric or a date (to order the periods), got {dtype}")
    values = series.cast(pl.Float64)
    if not values.is_finite().all():
        raise MethodInputError(f"column '{name}': NaN or infinite times")
    return values.to_numpy()


def _codes(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and each row's index into them (categoricals by their labels)."""
    if isinstance(series.dtype, (pl.Categorical, pl.Enum)):
        series = series.cast(pl.String)
    frame = pl.DataFrame({"v": series})
    levels = frame.select(pl.col("v").unique().sort())["v"]
    index = frame.join(levels.to_frame().with_row_index("i"), on="v", how="left", maintain_order="left")["i"]
    return levels.to_numpy(), index.to_numpy().astype(np.int64)


def read_panel(
    df: Any,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None,
    cluster: str | None = None,
    allow_reversal: bool = False,
) -> Panel:
    """Validate and code a long panel (one row per unit and time); rows in any order give the same panel."""
    frame = as_polars(df)
    names = [unit, time, outcome] + [c for c in (treated, cluster) if c is not None]
    require_columns(frame, names)
    if len({unit, time, outcome, treated} - {None}) < len([c for c in (unit, time, outcome, treated) if c]):
        raise MethodInputError(f"columns: unit, time, outcome and treated must be different columns, got {names}")
    if frame.height == 0:
        raise MethodInputError("df: the panel is empty")
    unique_keys(frame, [unit, time])
    y = finite_numeric(frame[outcome])
    d = binary_indicator(frame[treated]) if treated is not None else pl.Series(treated, [False] * frame.height)
    if cluster is not None and frame[cluster].null_count():
        raise MethodInputError(f"column '{cluster}': {frame[cluster].null_count()} missing cluster labels")
    time_value = _time_values(frame[time], time)
    units, u = _codes(frame[unit])
    times, t = _codes(frame[time])
    if units.size < 2:
        raise MethodInputError(f"column '{unit}': a panel needs at least two units, found {units.size}")
    if times.size < 2:
        raise MethodInputError(f"column '{time}': a panel needs at least two periods, found {times.size}")
    groups = _codes(frame[cluster])[1] if cluster is not None else u
    order = np.lexsort((t, u))
    panel = Panel(
        units,
        times,
        u[order],
        t[order],
        time_value[order],
        y.to_numpy()[order],
        d.to_numpy()[order],
        groups[order],
        order,
    )
    if treated is not None:
        _check_treatment(panel, treated, allow_reversal)
    return panel


def _check_treatment(panel: Panel, treated: str, allow_reversal: bool) -> None:
    ever = panel.treated_units
    if not ever.any():
        raise MethodInputError(f"column '{treated}': no unit is ever treated")
    if ever.all():
        raise MethodInputError(f"column '{treated}': no control unit (every unit is treated in some period)")
    untreated_periods = np.bincount(panel.u, weights=(~panel.d).astype(float), minlength=panel.n_units)
    always = np.flatnonzero(ever & (untreated_periods == 0))
    if always.size:
        raise MethodInputError(f"column '{treated}': unit {panel.units[always[0]]!r} has no untreated period")
    if not allow_reversal:
        same_unit = panel.u[1:] == panel.u[:-1]
        off_again = np.flatnonzero(same_unit & panel.d[:-1] & ~panel.d[1:])
        if off_again.size:
            row = off_again[0] + 1
            raise MethodInputError(
                f"column '{treated}': unit {panel.units[panel.u[row]]!r} is treated and then untreated again at "
                f"time {panel.times[panel.t[row]]!r}; pass allow_reversal=True if that is the design"
            )


@dataclass(frozen=True)
class TwfeFit:
    """Coefficients of the named regressors, their cluster-robust covariance and the t degrees of freedom."""

    coef: np.ndarray
    cov: np.ndarray
    dof: int
    n_obs: int
    n_clusters: int

    @property
    def se(self) -> np.ndarray:
        """Standard errors; NaN where the clustered covariance is degenerate (e.g. one treated cluster per bin)."""
        diag = np.diag(self.cov)
        return np.sqrt(np.where(diag >= 0, diag, np.nan))

    def interval(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        half = stats.t.ppf(1 - alpha / 2, self.dof) * self.se
        return self.coef - half, self.coef + half

    def p_values(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 2 * stats.t.sf(np.abs(self.coef / self.se), self.dof)

    def joint_p_value(self, index: np.ndarray) -> float:
        """Wald F test that the coefficients at ``index`` are all zero, F(q, clusters - 1)."""
        b = self.coef[index]
        stat = float(b @ np.linalg.lstsq(self.cov[np.ix_(index, index)], b, rcond=None)[0]) / index.size
        return float(stats.f.sf(stat, index.size, self.dof))


def _unit_residuals(panel: Panel, values: np.ndarray, *, trends: bool) -> np.ndarray:
    """Residuals of each column of ``values`` on unit intercepts (and unit-specific linear time trends)."""
    n = panel.n_units
    count = np.bincount(panel.u, minlength=n).astype(float)

    def unit_mean(v: np.ndarray) -> np.ndarray:
        sums = np.stack([np.bincount(panel.u, weights=col, minlength=n) for col in v.T], axis=1)
        return sums / count[:, None]

    out = values - unit_mean(values)[panel.u]
    if trends:
        tc = panel.time_value - unit_mean(panel.time_value[:, None])[panel.u, 0]
        sxx = np.bincount(panel.u, weights=tc * tc, minlength=n)
        sxy = np.stack([np.bincount(panel.u, weights=tc * col, minlength=n) for col in out.T], axis=1)
        slope = np.divide(sxy, sxx[:, None], out=np.zeros_like(sxy), where=sxx[:, None] > 0)
        out = out - slope[panel.u] * tc[:, None]
    return out


def twfe_fit(panel: Panel, x: np.ndarray, *, trends: bool = False) -> TwfeFit:
    """OLS of ``y`` on the columns of ``x`` with unit and time fixed effects (and unit trends), errors clustered.

    Unit effects (and trends) are partialled out exactly, unit by unit, and the time effects enter as dummies, so the
    coefficients equal the regression with every dummy, balanced panel or not (Frisch-Waugh-Lovell). The covariance is
    the cluster-robust sandwich (statsmodels) with the small-sample factor G/(G-1) (N-1)/(N-K) of Stata's ``xtreg,
    fe``/``reghdfe`` and fixest: K counts the regressors, the time effects and the unit effects (and trends) unless
    every unit lies within one cluster (nested, the default clustering by unit). t and F tests use G-1 degrees of
    freedom.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import SingularMatrixWarning

    n_obs, k = x.shape
    n_t = panel.times.size
    dummies = (panel.t[:, None] == np.arange(1, n_t)[None, :]).astype(np.float64)
    resid = _unit_residuals(panel, np.column_stack([panel.y, x, dummies]), trends=trends)
    with warnings.catch_warnings():  # with unit trends one combination of the time dummies is collinear
        warnings.simplefilter("ignore", category=SingularMatrixWarning)
        res = sm.OLS(resid[:, 0], resid[:, 1:]).fit(cov_type="cluster", cov_kwds={"groups": panel.cluster})
    n_cols = resid.shape[1] - 1  # statsmodels' factor counts these columns
    rank = int(np.linalg.matrix_rank(resid[:, 1:]))
    nested = bool(np.all(np.diff(np.unique(np.column_stack([panel.u, panel.cluster]), axis=0)[:, 0]) > 0))
    absorbed = 0 if nested else panel.n_units * (2 if trends else 1)
    n_clusters = int(np.unique(panel.cluster).size)
    if n_obs - rank - absorbed <= 0 or n_clusters < 2:
        raise MethodInputError("df: too few observations or clusters to estimate a clustered standard error")
    cov = np.asarray(res.cov_params())[:k, :k] * (n_obs - n_cols) / (n_obs - rank - absorbed)
    return TwfeFit(np.asarray(res.params, dtype=np.float64)[:k], cov, n_clusters - 1, n_obs, n_clusters)
