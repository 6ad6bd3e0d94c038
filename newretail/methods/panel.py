"""Difference-in-differences and event studies on a unit-by-time panel, two-way fixed effects, clustered errors.

Both take a long frame (polars or pandas, rows in any order) and the names of its columns: the unit, the time (numeric
or a date), the outcome and the treatment indicator D_it (bool or 0/1, on in the periods a unit is treated; staggered
adoption allowed). Effects are in the outcome's units. Unbalanced panels are fine: rows alone in their unit or period
(singletons) are dropped, as pyfixest does, and counted (``n_singletons_``). The fixed effects are absorbed exactly
and sparsely (:mod:`newretail.methods._within`), so a million rows take well under a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, check_alpha, shown
from newretail.methods._panel_data import (
    Panel,
    always_treated,
    check_treatment,
    drop_singletons,
    read_panel,
    twfe_fit,
)
from newretail.methods._panel_summaries import DiDSummary, EventStudySummary
from newretail.methods._results import Term

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DiD", "DiDSummary", "EventStudy", "EventStudySummary"]


def _names(**columns: Any) -> None:
    for arg, value in columns.items():
        if value is not None and not isinstance(value, str):
            raise MethodInputError(f"{arg}: a column name (str) expected, got {shown(value)}")


def _column_list(arg: str, value: Any) -> tuple[str, ...]:
    """``covariates``: None, one name or a list of names (each a str, no repeats)."""
    if value is None:
        return ()
    names = (value,) if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(v, str) for v in names):
        raise MethodInputError(f"{arg}: a column name or a list of column names expected, got {shown(value)}")
    if len(set(names)) < len(names):
        raise MethodInputError(f"{arg}: each column once, got {list(names)}")
    return tuple(names)


def _flag(arg: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise MethodInputError(f"{arg}: True or False expected, got {shown(value)}")
    return bool(value)


def _design(panel: Panel, *, cluster: str | None, unit: str, n_clusters: int, extra: list[str]) -> str:
    """The design in words: clustering, weights, singletons and options, for ``tidy()`` and ``summary()``."""
    parts = [f"CRV1 by '{cluster or unit}' ({n_clusters:,} clusters)", *extra]
    if panel.singletons:
        parts.append(f"{panel.singletons:,} singleton rows dropped")
    always = always_treated(panel)
    if always:
        parts.append(f"{always:,} units treated in every period observed (they inform the time effects only)")
    return ", ".join(parts)


class DiD:
    """Two-way fixed-effects difference-in-differences with cluster-robust errors.

    y_it = a_i + b_t (+ c_i t) + effect * D_it (+ covariates_it' beta) + e_it, fitted by
    :func:`~newretail.methods._panel_data.twfe_fit` (unit and time effects absorbed exactly, small-sample factor of
    Stata/fixest/pyfixest's CRV1, t interval with clusters - 1 degrees of freedom). With staggered adoption this is
    the usual TWFE average, which weighs early against late adopters (see :class:`~newretail.methods.StaggeredDiD`).

    Parameters
    ----------
    unit, time, outcome, treated : column names; ``treated`` is D_it (bool or 0/1).
    cluster : column of cluster labels; None clusters by ``unit``.
    alpha : 1 - confidence level of ``ci_``, in (0, 0.5].
    unit_trends : add a linear time trend per unit (a remedy when units were treated for their growth).
    allow_reversal : accept units whose D_it switches off again (refused by default: usually a data error).
    weights : column of positive row weights (weighted least squares, pyfixest's ``weights=``); None: unweighted.
    covariates : time-varying control columns (numeric), entered linearly; one absorbed by the effects is refused.
    panel : True (default) for one row per unit and time. False for repeated cross-sections: rows are individuals,
        ``unit`` is their group (the level the treatment is assigned at), many rows per group and period, group and
        time effects; the treatment must be the same for every row of a group and period.

    Attributes
    ----------
    effect_, se_, ci_ (low, high), p_value_ : the effect in outcome units. coefs_ : frame (term, estimate, se,
    ci_low, ci_high, p_value) of the treatment and every covariate. n_units_, n_treated_units_, n_obs_ (rows fitted),
    n_singletons_ (rows dropped: alone in their unit or period, no information), n_always_treated_ (units treated in
    every period they are observed: kept, as in every TWFE implementation; they inform the time effects only),
    n_clusters_.
    """

    def __init__(
        self,
        unit: str,
        time: str,
        outcome: str,
        treated: str,
        *,
        cluster: str | None = None,
        alpha: float = 0.05,
        unit_trends: bool = False,
        allow_reversal: bool = False,
        weights: str | None = None,
        covariates: str | list[str] | tuple[str, ...] | None = None,
        panel: bool = True,
    ) -> None:
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.treated = treated
        self.cluster = cluster
        self.alpha = alpha
        self.unit_trends = unit_trends
        self.allow_reversal = allow_reversal
        self.weights = weights
        self.covariates = covariates
        self.panel = panel

    def fit(self, df: Any) -> DiD:
        """Fit on a long frame (polars or pandas); returns self."""
        alpha = check_alpha(self.alpha)
        _names(
            unit=self.unit,
            time=self.time,
            outcome=self.outcome,
            treated=self.treated,
            cluster=self.cluster,
            weights=self.weights,
        )
        covariates = _column_list("covariates", self.covariates)
        trends = _flag("unit_trends", self.unit_trends)
        is_panel = _flag("panel", self.panel)
        data = read_panel(
            df,
            unit=self.unit,
            time=self.time,
            outcome=self.outcome,
            treated=self.treated,
            cluster=self.cluster,
            weights=self.weights,
            covariates=covariates,
            panel=is_panel,
            check_treated=False,
            duplicates_hint=" (repeated cross-sections: panel=False)",
        )
        data = drop_singletons(data)
        check_treatment(data, self.treated, _flag("allow_reversal", self.allow_reversal), unit=self.unit)
        x = data.d.astype(np.float64)[:, None]
        if data.z is not None:
            x = np.column_stack([x, data.z])
        names = (self.treated, *covariates)
        fit = twfe_fit(data, x, trends=trends, names=names)
        low, high = fit.interval(alpha)
        p = fit.p_values()
        self.coefs_ = pl.DataFrame(
            {"term": list(names), "estimate": fit.coef, "se": fit.se, "ci_low": low, "ci_high": high, "p_value": p}
        )
        self.effect_ = float(fit.coef[0])
        self.se_ = float(fit.se[0])
        self.ci_ = (float(low[0]), float(high[0]))
        self.p_value_ = float(p[0])
        self.n_units_ = data.n_units
        self.n_treated_units_ = int(data.treated_units.sum())
        self.n_obs_ = fit.n_obs
        self.n_singletons_ = data.singletons
        self.n_always_treated_ = always_treated(data)
        self.n_clusters_ = fit.n_clusters
        extra = [f"weighted by '{self.weights}'"] if self.weights else []
        extra += [f"covariates {', '.join(repr(c) for c in covariates)}"] if covariates else []
        extra += [] if is_panel else [f"repeated cross-sections (group effects by '{self.unit}')"]
        self._design_ = _design(data, cluster=self.cluster, unit=self.unit, n_clusters=fit.n_clusters, extra=extra)
        return self

    def summary(self) -> DiDSummary:
        """The fitted effect as a frozen result (call :meth:`fit` first); ``.summary()``/``.tidy()`` on it print or
        tabulate it in the shared shape."""
        if not hasattr(self, "effect_"):
            raise MethodInputError("DiD: call fit(df) before summary()")
        rows = self.coefs_.slice(1).iter_rows()
        covariates = tuple(Term(r[0], r[1], r[2], r[3], r[4], r[5], self.n_obs_) for r in rows)
        return DiDSummary(
            self.outcome,
            self.effect_,
            self.se_,
            self.ci_[0],
            self.ci_[1],
            self.p_value_,
            float(self.alpha),
            self.n_units_,
            self.n_treated_units_,
            self.n_obs_,
            bool(self.unit_trends),
            self.treated,
            self.n_singletons_,
            covariates,
            self._design_,
        )

    def tidy(self) -> pl.DataFrame:
        """``summary().tidy()``: one row per term (the treatment, then each covariate) with ``TIDY_COLUMNS``."""
        return self.summary().tidy()


class EventStudy:
    """Dynamic two-way fixed-effects regression: one coefficient per event time, ``reference`` left out.

    Event time is the number of periods (positions among the panel's sorted times) since the unit's first treated
    period, floor-divided by ``bin_width``; never-treated units are the controls. ``window=(low, high)`` pools event
    times beyond it into the end bins. Errors clustered by ``cluster`` (None: by unit); ``pretrend_p_`` is the joint F
    test of the coefficients before the event (reference excluded). Unbalanced panels: singletons dropped, as DiD.

    Attributes
    ----------
    coefs_ : frame (event_time, estimate, se, ci_low, ci_high, p_value, n), one row per event-time bin including the
        reference (zeros); ``n`` counts the treated rows in the bin.
    pretrend_p_ : float (NaN when no pre-event bin besides the reference). n_obs_, n_singletons_, n_clusters_.
    """

    def __init__(
        self,
        unit: str,
        time: str,
        outcome: str,
        treated: str,
        *,
        window: tuple[int, int] | None = None,
        reference: int = -1,
        alpha: float = 0.05,
        bin_width: int = 1,
        cluster: str | None = None,
    ) -> None:
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.treated = treated
        self.window = window
        self.reference = reference
        self.alpha = alpha
        self.bin_width = bin_width
        self.cluster = cluster

    def _check(self) -> tuple[float, tuple[int, int] | None]:
        alpha = check_alpha(self.alpha)
        _names(unit=self.unit, time=self.time, outcome=self.outcome, treated=self.treated, cluster=self.cluster)
        if isinstance(self.bin_width, bool) or not isinstance(self.bin_width, int) or self.bin_width < 1:
            raise MethodInputError(f"bin_width: a whole number of periods, 1 or more, got {shown(self.bin_width)}")
        if isinstance(self.reference, bool) or not isinstance(self.reference, int):
            raise MethodInputError(f"reference: a whole event time, got {shown(self.reference)}")
        if self.window is None:
            return alpha, None
        w = self.window
        ok = isinstance(w, (tuple, list)) and len(w) == 2 and all(isinstance(v, int) for v in w)
        if not ok or not w[0] <= self.reference <= w[1] or w[0] >= w[1]:
            raise MethodInputError(f"window: (low, high) event times around reference={self.reference}, got {shown(w)}")
        return alpha, (int(w[0]), int(w[1]))

    def fit(self, df: Any) -> EventStudy:
        """Fit on a long frame (polars or pandas); returns self."""
        alpha, window = self._check()
        panel = read_panel(
            df,
            unit=self.unit,
            time=self.time,
            outcome=self.outcome,
            treated=self.treated,
            cluster=self.cluster,
            check_treated=False,
        )
        panel = drop_singletons(panel)
        check_treatment(panel, self.treated, False, unit=self.unit)
        first = panel.first_treated()[panel.u]
        ever = first >= 0
        event = np.floor_divide(panel.t - first, self.bin_width)
        if window is not None:
            event = np.clip(event, *window)
        bins, counts = np.unique(event[ever], return_counts=True)
        if self.reference not in bins:
            raise MethodInputError(f"reference: event time {self.reference} is not in the data (has {bins.tolist()})")
        n_ref = int(counts[bins == self.reference][0])
        counts = counts[bins != self.reference]
        bins = bins[bins != self.reference]
        x = ((event[:, None] == bins[None, :]) & ever[:, None]).astype(np.float64)
        fit = twfe_fit(panel, x, names=tuple(f"event_time {b}" for b in bins))
        low, high = fit.interval(alpha)
        schema = {"event_time": pl.Int64} | dict.fromkeys(
            ("estimate", "se", "ci_low", "ci_high", "p_value"), pl.Float64
        )
        coefs = pl.DataFrame(
            {
                "event_time": bins,
                "estimate": fit.coef,
                "se": fit.se,
                "ci_low": low,
                "ci_high": high,
                "p_value": fit.p_values(),
                "n": counts,
            },
            schema=schema | {"n": pl.Int64},
        )
        ref = pl.DataFrame(
            {"event_time": [self.reference], "estimate": [0.0], "se": [0.0], "ci_low": [0.0], "ci_high": [0.0]}
            | {"p_value": [float("nan")], "n": [n_ref]},
            schema=coefs.schema,
        )
        self.coefs_ = pl.concat([coefs, ref]).sort("event_time")
        pre = np.flatnonzero(bins < 0)
        self.pretrend_p_ = fit.joint_p_value(pre) if pre.size else float("nan")
        self.n_units_ = panel.n_units
        self.n_treated_units_ = int(panel.treated_units.sum())
        self.n_obs_ = fit.n_obs
        self.n_singletons_ = panel.singletons
        self.n_clusters_ = fit.n_clusters
        self._design_ = _design(panel, cluster=self.cluster, unit=self.unit, n_clusters=fit.n_clusters, extra=[])
        return self

    def summary(self) -> EventStudySummary:
        """The fitted coefficients as a frozen result (call :meth:`fit` first)."""
        if not hasattr(self, "coefs_"):
            raise MethodInputError("EventStudy: call fit(df) before summary()")
        return EventStudySummary(
            self.outcome,
            self.coefs_,
            self.pretrend_p_,
            float(self.alpha),
            int(self.reference),
            int(self.bin_width),
            self._design_,
        )

    def tidy(self) -> pl.DataFrame:
        """``summary().tidy()``: one row per event-time bin with ``TIDY_COLUMNS``."""
        return self.summary().tidy()

    def plot(self, ax: Axes | None = None, *, truth: float | None = None, title: str = "Event study") -> Figure:
        """Shortcut for ``summary().plot(...)``."""
        return self.summary().plot(ax, truth=truth, title=title)
