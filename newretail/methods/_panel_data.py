"""A unit-by-time panel read from a frame: validated, sorted, coded; and the two-way fixed-effects fit on it.

Shared by :mod:`newretail.methods.panel` (DiD, event study), :mod:`newretail.methods.staggered` and
:mod:`newretail.methods.synth`. Every refusal is a one-line :class:`~newretail.methods._frames.MethodInputError` that
names the column or argument (quoted) and shows plain values (``7``, ``'NJ'``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
)
from newretail.methods._within import absorber, cluster_ols

__all__ = [
    "Panel",
    "TwfeFit",
    "always_treated",
    "check_treatment",
    "drop_singletons",
    "plain",
    "read_panel",
    "twfe_fit",
]


def plain(value: Any) -> str:
    """A value as a reader writes it: ``7`` (not ``np.int64(7)``), ``'NJ'``, ``2011-07-01``."""
    if hasattr(value, "item"):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Panel:
    """Rows sorted by (unit, time, input row); ``u``/``t`` index ``units``/``times``; ``time_value`` is numeric (dates
    as days) for unit trends; ``d`` is the treatment indicator (all False when the panel has none); ``w`` the row
    weights (None: unweighted); ``z`` the covariates (rows x ``z_names``); ``singletons`` the rows dropped by
    :func:`drop_singletons`."""

    units: np.ndarray
    times: np.ndarray
    u: np.ndarray
    t: np.ndarray
    time_value: np.ndarray
    y: np.ndarray
    d: np.ndarray
    cluster: np.ndarray
    order: np.ndarray  # the input rows in this order
    w: np.ndarray | None = None
    z: np.ndarray | None = None
    z_names: tuple[str, ...] = ()
    singletons: int = 0

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

    def subset(self, keep: np.ndarray) -> Panel:
        """The rows where ``keep`` is True, units and times that no longer occur removed (codes renumbered)."""
        u, t = self.u[keep], self.t[keep]
        unit_seen = np.bincount(u, minlength=self.n_units) > 0
        time_seen = np.bincount(t, minlength=self.times.size) > 0
        cluster = self.cluster[keep]
        return replace(
            self,
            units=self.units[unit_seen],
            times=self.times[time_seen],
            u=(np.cumsum(unit_seen) - 1)[u],
            t=(np.cumsum(time_seen) - 1)[t],
            time_value=self.time_value[keep],
            y=self.y[keep],
            d=self.d[keep],
            cluster=np.unique(cluster, return_inverse=True)[1].astype(np.int64),
            order=self.order[keep],
            w=None if self.w is None else self.w[keep],
            z=None if self.z is None else self.z[keep],
        )


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
    if series.dtype.is_integer():
        native = series.to_numpy()
        low, high = int(native.min()), int(native.max())
        if high - low < 4 * native.size:  # a compact range: code by position in it, O(n) (np.unique sorts)
            shifted = (native - low).astype(np.int64) if low >= 0 else native.astype(np.int64) - low
            seen = np.zeros(high - low + 1, dtype=bool)
            seen[shifted] = True
            return (np.flatnonzero(seen) + low).astype(native.dtype), (np.cumsum(seen) - 1)[shifted]
        values, codes = np.unique(native, return_inverse=True)
        return values, codes.astype(np.int64)
    frame = pl.DataFrame({"v": series})
    levels = frame.select(pl.col("v").unique().sort())["v"]
    index = frame.join(levels.to_frame().with_row_index("i"), on="v", how="left", maintain_order="left")["i"]
    return levels.to_numpy(), index.to_numpy().astype(np.int64)


def _weights(frame: pl.DataFrame, name: str) -> np.ndarray:
    values = finite_numeric(frame[name])
    if (values <= 0).any():
        raise MethodInputError(f"column '{name}': weights must be positive, found {plain(values.min())}")
    return values.to_numpy()


def read_panel(
    df: Any,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated: str | None,
    cluster: str | None = None,
    allow_reversal: bool = False,
    weights: str | None = None,
    covariates: tuple[str, ...] = (),
    panel: bool = True,
    check_treated: bool = True,
    duplicates_hint: str = "",
) -> Panel:
    """Validate and code a long panel; rows in any order give the same panel.

    ``panel=True``: one row per unit and time. ``panel=False``: repeated cross-sections, rows are individuals and
    ``unit`` their group; many rows per (group, time) are allowed, but the treatment must be the same within each.
    ``check_treated=False`` leaves :func:`check_treatment` to the caller (after :func:`drop_singletons`);
    ``duplicates_hint`` ends the message on duplicate keys (say what the caller offers instead).
    """
    frame = as_polars(df)
    names = [unit, time, outcome] + [c for c in (treated, cluster, weights) if c is not None] + list(covariates)
    require_columns(frame, names)
    roles = [c for c in (unit, time, outcome, treated, weights, *covariates) if c is not None]
    if len(set(roles)) < len(roles):
        raise MethodInputError(
            f"columns: unit, time, outcome, treated, weights and covariates must differ, got {roles}"
        )
    if frame.height == 0:
        raise MethodInputError("df: the panel is empty")
    for key in (unit, time):
        if frame[key].null_count():
            raise MethodInputError(f"column '{key}': {frame[key].null_count()} missing values in a key column")
    y = finite_numeric(frame[outcome])
    d = binary_indicator(frame[treated]) if treated is not None else pl.Series(treated, [False] * frame.height)
    if cluster is not None and frame[cluster].null_count():
        raise MethodInputError(f"column '{cluster}': {frame[cluster].null_count()} missing cluster labels")
    w = _weights(frame, weights) if weights is not None else None
    z = np.column_stack([finite_numeric(frame[c]).to_numpy() for c in covariates]) if covariates else None
    time_value = _time_values(frame[time], time)
    units, u = _codes(frame[unit])
    times, t = _codes(frame[time])
    if units.size < 2:
        raise MethodInputError(f"column '{unit}': a panel needs at least two units, found {units.size}")
    if times.size < 2:
        raise MethodInputError(f"column '{time}': a panel needs at least two periods, found {times.size}")
    groups = _codes(frame[cluster])[1] if cluster is not None else u
    key = u * times.size + t
    order = np.arange(u.size) if bool(np.all(key[1:] >= key[:-1])) else np.argsort(key, kind="stable")
    u, t = u[order], t[order]
    same_cell = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
    d_sorted = d.to_numpy()[order]
    if panel and same_cell.any():
        at = int(np.argmax(same_cell))
        raise MethodInputError(
            f"df: duplicate rows for columns '{unit}', '{time}' ({unit}, {time} = {plain(units[u[at]])}, "
            f"{plain(times[t[at]])}): one row per unit and period expected{duplicates_hint}"
        )
    if not panel and treated is not None and (same_cell & (d_sorted[1:] != d_sorted[:-1])).any():
        at = int(np.argmax(same_cell & (d_sorted[1:] != d_sorted[:-1])))
        raise MethodInputError(
            f"column '{treated}': the treatment differs within group {plain(units[u[at]])} at {time} "
            f"{plain(times[t[at]])}; repeated cross-sections need one treatment per group and period"
        )
    out = Panel(
        units,
        times,
        u,
        t,
        time_value[order],
        y.to_numpy()[order],
        d_sorted,
        groups[order],
        order,
        None if w is None else w[order],
        None if z is None else z[order],
        tuple(covariates),
    )
    if treated is not None and check_treated:
        check_treatment(out, treated, allow_reversal, unit=unit)
    return out


def drop_singletons(panel: Panel) -> Panel:
    """Drop, until none is left, the rows alone in their unit or their period (as pyfixest and fixest do): their
    fixed effect fits them exactly, so they carry no information. The count is in ``singletons``."""
    keep = np.ones(panel.u.size, dtype=bool)
    while True:
        unit_rows = np.bincount(panel.u[keep], minlength=panel.n_units)
        time_rows = np.bincount(panel.t[keep], minlength=panel.times.size)
        alone = keep & ((unit_rows[panel.u] == 1) | (time_rows[panel.t] == 1))
        if not alone.any():
            break
        keep &= ~alone
    dropped = int((~keep).sum())
    if dropped == 0:
        return panel
    return replace(panel.subset(keep), singletons=panel.singletons + dropped)


def check_treatment(panel: Panel, treated: str, allow_reversal: bool, *, unit: str = "unit") -> None:
    """A treated unit, a control unit, a treated unit also seen untreated, no switching off (unless allowed).

    Units treated in every period they are observed (an unbalanced panel's late entrants) are kept, as in every
    TWFE implementation: they inform the time effects only; :func:`always_treated` counts them.
    """
    if panel.u.size == 0:
        raise MethodInputError("df: no rows left once the singletons (rows alone in their unit or period) are dropped")
    ever = panel.treated_units
    if not ever.any():
        raise MethodInputError(f"column '{treated}': no unit is ever treated")
    if ever.all():
        raise MethodInputError(f"column '{treated}': no control unit (every unit is treated in some period)")
    if always_treated(panel) == int(ever.sum()):
        raise MethodInputError(
            f"column '{treated}': every treated {unit} is treated in every period it is observed (no treated {unit} "
            "has an untreated period to compare with)"
        )
    if not allow_reversal:
        same_unit = panel.u[1:] == panel.u[:-1]
        off_again = np.flatnonzero(same_unit & panel.d[:-1] & ~panel.d[1:])
        if off_again.size:
            row = off_again[0] + 1
            raise MethodInputError(
                f"column '{treated}': {unit} {plain(panel.units[panel.u[row]])} is treated and then untreated again "
                f"at time {plain(panel.times[panel.t[row]])}; pass allow_reversal=True if that is the design"
            )


def always_treated(panel: Panel) -> int:
    """The units treated in every period they are observed."""
    untreated_periods = np.bincount(panel.u, weights=(~panel.d).astype(float), minlength=panel.n_units)
    return int((panel.treated_units & (untreated_periods == 0)).sum())


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


def twfe_fit(panel: Panel, x: np.ndarray, *, trends: bool = False, names: tuple[str, ...] | None = None) -> TwfeFit:
    """(Weighted) OLS of ``y`` on the columns of ``x`` with unit and time fixed effects (and unit trends), errors
    clustered.

    Both sets of effects are absorbed exactly by :mod:`newretail.methods._within` (Frisch-Waugh-Lovell), so the
    coefficients equal the regression with every dummy, balanced panel or not. The covariance is the cluster-robust
    sandwich with the small-sample factor G/(G-1) (N-1)/(N-K) of Stata's ``reghdfe``, fixest and pyfixest (CRV1,
    ``k_fixef="nonnested"``): K counts the regressors, the identified time effects and the unit effects (and trends);
    when every unit lies within one cluster (nested, the default clustering by unit) the unit effects count as one.
    (linearmodels' ``count_effects=False`` counts them as none: its K is one less.) t and F tests use G-1 degrees of
    freedom. A regressor the effects absorb (or a collinear set) is refused, named by ``names``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(panel.u.size, -1)
    n_obs, k = x.shape
    w = np.ones(n_obs) if panel.w is None else panel.w
    fe = absorber(
        panel.u,
        panel.t,
        panel.n_units,
        panel.times.size,
        weights=panel.w,
        time_value=panel.time_value if trends else None,
    )
    resid = fe.residualise(np.column_stack([panel.y, x]))
    centred = x - (w @ x) / w.sum()
    n_clusters = int(panel.cluster.max()) + 1 if panel.cluster.size else 0
    ols = cluster_ols(resid[:, 0], resid[:, 1:], w, panel.cluster, n_clusters, scale=w @ (centred * centred))
    if ols.collinear.size:
        labels = names or tuple(f"x{i}" for i in range(k))
        bad = ", ".join(f"'{labels[i]}'" for i in ols.collinear)
        what = "is absorbed by" if ols.collinear.size == 1 else "are collinear given"
        raise MethodInputError(f"columns {bad}: {what} the unit and time effects (no variation left to estimate)")
    same_unit = panel.u[1:] == panel.u[:-1]
    nested = not bool((same_unit & (panel.cluster[1:] != panel.cluster[:-1])).any())  # rows sorted by unit
    # unit effects nested in the clusters leave K, less one kept for the level (fixest issue 554: reghdfe, pyfixest)
    absorbed = fe.a_rank + fe.b_rank - (panel.n_units * (2 if trends else 1) - 1 if nested else 0)
    saturated = n_obs - k - fe.a_rank - fe.b_rank <= 0  # no residual left: every error would be zero
    if saturated or n_obs - k - absorbed <= 0 or n_clusters < 2:
        raise MethodInputError("df: too few observations or clusters to estimate a clustered standard error")
    factor = n_clusters / (n_clusters - 1) * (n_obs - 1) / (n_obs - k - absorbed)
    return TwfeFit(ols.coef, ols.sandwich * factor, n_clusters - 1, n_obs, n_clusters)
