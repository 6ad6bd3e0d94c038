"""A staggered rollout of the pilot's format: stores opening in waves, estimated by two-way fixed effects (TWFE) and
by Callaway & Sant'Anna's group-time difference-in-differences, and set against the generator's truth.

With every store opening on one day, TWFE is the 2x2 difference-in-differences. With stores opening in waves and
effects that grow with the weeks since opening, TWFE also compares stores that open late with stores already open
(whose own effect is still growing, so their change is no "no pilot" path) and gives some effects negative weight: it
no longer estimates an average effect of the stores that opened. :class:`newretail.methods.StaggeredDiD` estimates
one effect per wave (cohort) and period, ATT(g,t), each against stores not open by then, and averages them.

The daily panel is averaged into periods (weeks by default) that start on day 0, so each wave opens at the start of a
period; effects are on log sales (0.1 is about +10%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from newretail.analyses.stores._store_tables import Source, _check_alpha, _tables
from newretail.analyses.stores.pilot import store_panel
from newretail.fmt import format_value
from newretail.methods import DiD, Effect, StaggeredDiD

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from newretail.scenario import Stores

__all__ = ["RolloutTruth", "StaggeredRollout", "rollout_truth", "staggered_rollout"]

CONTROLS = ("never", "not_yet")


@dataclass(frozen=True)
class RolloutTruth:
    """The rollout's true effects on log sales per store and period (from ``truth_store_days``: validation only),
    aggregated as :class:`newretail.methods.StaggeredDiD` aggregates its estimates.

    att : the cohorts' mean effects averaged with cohort-size weights (what ``att_`` estimates).
    simple : the mean over every store-period after opening (``att_simple_``).
    dynamic : the mean over periods since opening of the mean effect at each (``att_dynamic_``).
    event : frame (event_time, effect): periods since opening, from 0, and the stores' mean effect then.
    group : frame (cohort, effect): each cohort's (first period open) mean effect over its periods open.
    twfe : what TWFE reports when fitted to the true effects alone, without any noise: its estimand on this
        rollout. ``twfe - att`` is the bias its comparisons and weights make, whatever the noise of a draw.
    """

    att: float
    simple: float
    dynamic: float
    event: pl.DataFrame
    group: pl.DataFrame
    twfe: float


@dataclass(frozen=True)
class StaggeredRollout:
    """TWFE and Callaway & Sant'Anna's estimator on a rollout's store-period panel (see :func:`staggered_rollout`).

    panel : the fitted panel (store_id, period, y = mean log sales of the period, pilot_open, treated, open_day).
    period_days : days per period. twfe : the fitted :class:`~newretail.methods.DiD` (store and period effects).
    staggered : the fitted :class:`~newretail.methods.StaggeredDiD`. cohorts : frame (cohort, open_day, stores): each
    wave's first period open, its opening day and its stores. truth : the true effects, or None.
    """

    panel: pl.DataFrame
    period_days: int
    twfe: DiD
    staggered: StaggeredDiD
    cohorts: pl.DataFrame
    truth: RolloutTruth | None

    @property
    def att(self) -> Effect:
        """The overall ATT (cohort effects averaged by cohort size), log sales."""
        return self.staggered.att_

    @property
    def event(self) -> pl.DataFrame:
        """Effects by periods since opening (event_time, estimate, se, ci_low, ci_high, n)."""
        return self.staggered.event_

    @property
    def group(self) -> pl.DataFrame:
        """Effects by cohort (cohort, estimate, se, ci_low, ci_high, n)."""
        return self.staggered.group_

    @property
    def table(self) -> pl.DataFrame:
        """One row per estimate: estimator, estimate, ci_low, ci_high, and with the truth the true value of what it
        is compared with and the difference (bias). Rows: TWFE; Callaway & Sant'Anna's overall ATT (``att_``), its
        mean over store-periods (``att_simple_``) and over periods since opening (``att_dynamic_``); with the truth,
        TWFE fitted to the true effects (its estimand)."""
        s, t = self.staggered, self.truth
        rows: list[tuple[str, float, float | None, float | None, float | None]] = [
            ("TWFE (store, period effects)", self.twfe.effect_, *self.twfe.ci_, None if t is None else t.att),
            ("group-time DiD: overall", *_bounds(s.att_), None if t is None else t.att),
            ("group-time: store-periods", *_bounds(s.att_simple_), None if t is None else t.simple),
            ("group-time: by periods open", *_bounds(s.att_dynamic_), None if t is None else t.dynamic),
        ]
        if t is not None:
            rows.append(("TWFE on true effects, no noise", t.twfe, None, None, t.att))
        table = pl.DataFrame(
            rows,
            schema={k: pl.Float64 if k != "estimator" else pl.String for k in _TABLE},
            orient="row",
        )
        return table.with_columns(bias=pl.col("estimate") - pl.col("truth"))

    def plot(self, ax: Axes | None = None) -> Figure:
        """Effects by periods since opening with their intervals, the true effect at each, and TWFE's one number."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
        else:
            fig = ax.get_figure()  # type: ignore[assignment]
        unit = "weeks" if self.period_days == 7 else f"periods of {self.period_days} days"
        e = self.event["event_time"].to_numpy()
        est = self.event["estimate"].to_numpy()
        low, high = self.event["ci_low"].to_numpy(), self.event["ci_high"].to_numpy()
        for before, color, label in ((True, "#7f7f7f", "before opening (should be 0)"), (False, "#1f77b4", None)):
            k = (e < 0) == before
            ax.errorbar(
                e[k], est[k], yerr=[est[k] - low[k], high[k] - est[k]], fmt="o", ms=4, capsize=2, color=color,
                label=label or f"group-time DiD, {1 - self.staggered.alpha:.0%} interval",
            )  # fmt: skip
        after = (-0.5, float(e.max()) + 0.5)  # the averages are over the periods after opening
        if self.truth is not None:
            true = dict(zip(self.truth.event["event_time"], self.truth.event["effect"], strict=True))
            xs = np.arange(int(e.min()), int(e.max()) + 1)
            ax.step(xs, [true.get(int(x), 0.0) for x in xs], where="mid", color="#d62728", lw=1.6, label="true effect")
            ax.hlines(self.truth.att, *after, color="#d62728", ls=":", lw=1.4, label="true average effect")
        ax.hlines(self.twfe.effect_, *after, color="#ff7f0e", ls="--", lw=1.8, label="TWFE, one number for all")
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls=":", lw=1)
        ax.set_xlabel(f"{unit} since the store opened", fontsize=11)
        ax.set_ylabel("effect on log sales (0.1 = about +10%)", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.legend(fontsize=10, loc="upper left", frameon=False)
        cs, twfe = (format_value(v, with_unit=False) for v in (self.att.estimate, self.twfe.effect_))
        title = f"group-time DiD finds {cs}, TWFE {twfe}"
        if self.truth is not None:
            title = f"True average effect {format_value(self.truth.att, with_unit=False)}: {title}"
        ax.set_title(title[0].upper() + title[1:], fontsize=12)
        return fig


_TABLE = ("estimator", "estimate", "ci_low", "ci_high", "truth")


def _bounds(effect: Effect) -> tuple[float, float, float]:
    return effect.estimate, effect.ci_low, effect.ci_high


def _periods(panel: pl.DataFrame, period_days: int) -> pl.DataFrame:
    """The daily panel averaged into periods of ``period_days`` days counted from day 0 (log sales: the mean)."""
    late = panel.filter(pl.col("open_day") % period_days != 0)
    if late.height:
        day = int(late["open_day"].min())  # type: ignore[arg-type]
        raise ValueError(
            f"period_days = {period_days}: a wave opens on day {day}, not at the start of a period; use a number of "
            "days that divides every opening day (1 always does)"
        )
    return (
        panel.with_columns(period=pl.col("day") // period_days)
        .group_by("store_id", "period")
        .agg(
            pl.col("y").mean(),
            pl.col("pilot_open").all(),
            pl.col("treated").first(),
            pl.col("open_day").first(),
            pl.col("store_type").first(),
        )
        .sort("store_id", "period")
    )


def staggered_rollout(
    source: Source,
    *,
    rollout: Stores | None = None,
    period_days: int = 7,
    controls: Sequence[str] = ("sanjiang", "other"),
    control: Literal["never", "not_yet"] = "never",
    alpha: float = 0.05,
    truth: bool = True,
) -> StaggeredRollout:
    """TWFE and Callaway & Sant'Anna's group-time DiD of log sales on a rollout where stores open in waves.

    Parameters
    ----------
    source : a dataset, or a mapping with ``stores`` and ``store_days`` (and ``truth_store_days`` with ``truth``).
    rollout : the store behaviour whose rollout plan says when each store opens; default the dataset's scenario
        (see :func:`store_panel`).
    period_days : days per period; the daily panel is averaged into periods from day 0, and every wave must open
        at the start of one.
    controls : store types whose stores that never open are the comparison group.
    control : ``"never"`` compares each wave with the stores that never open; ``"not_yet"`` also with the waves not
        open yet.
    alpha : 1 - confidence level of the intervals.
    truth : also read the generator's ``truth_store_days`` (validation only: no estimate sees it).

    Returns
    -------
    StaggeredRollout
    """
    _check_alpha(alpha)
    if isinstance(period_days, bool) or not isinstance(period_days, int) or period_days < 1:
        raise ValueError(f"period_days = {period_days!r}: must be a whole number of days, 1 or more")
    if control not in CONTROLS:
        raise ValueError(f"control = {control!r}: must be 'never' or 'not_yet'")
    daily = store_panel(source, controls=controls, waves="all", rollout=rollout)
    panel = _periods(daily, period_days)
    twfe = DiD("store_id", "period", "y", "pilot_open", alpha=alpha).fit(panel)
    staggered = StaggeredDiD("store_id", "period", "y", "pilot_open", control=control, alpha=alpha).fit(panel)
    cohorts = (
        panel.filter("treated")
        .group_by("open_day")
        .agg(stores=pl.col("store_id").n_unique())
        .sort("open_day")
        .select(pl.col("open_day").floordiv(period_days).alias("cohort"), "open_day", "stores")
    )
    found = rollout_truth(source, panel, period_days) if truth else None
    return StaggeredRollout(panel, period_days, twfe, staggered, cohorts, found)


def rollout_truth(source: Source, panel: pl.DataFrame, period_days: int) -> RolloutTruth:
    """The true effects behind a :class:`StaggeredRollout`'s ``panel`` (validation only: reads ``truth_store_days``),
    averaged into the same periods and aggregated as :class:`newretail.methods.StaggeredDiD` aggregates."""
    true = (
        _tables(source, ("truth_store_days",))["truth_store_days"]
        .join(panel.select("store_id").unique(), on="store_id")
        .group_by("store_id", period=pl.col("day") // period_days)
        .agg(effect=pl.col("true_effect_log").mean())
    )
    cells = panel.join(true, on=["store_id", "period"], how="left").with_columns(pl.col("effect").fill_null(0.0))
    treated = cells.filter("pilot_open").with_columns(
        event_time=pl.col("period") - pl.col("open_day") // period_days,
        cohort=pl.col("open_day") // period_days,
    )
    event = treated.group_by("event_time").agg(pl.col("effect").mean()).sort("event_time")
    group = treated.group_by("cohort").agg(pl.col("effect").mean(), stores=pl.col("store_id").n_unique())
    group = group.sort("cohort")
    sizes = group["stores"].to_numpy().astype(np.float64)
    att = float(group["effect"].to_numpy() @ sizes / sizes.sum())
    twfe = DiD("store_id", "period", "effect", "pilot_open").fit(cells).effect_
    return RolloutTruth(
        att=att,
        simple=float(treated["effect"].mean()),  # type: ignore[arg-type]
        dynamic=float(event["effect"].mean()),  # type: ignore[arg-type]
        event=event.with_columns(pl.col("event_time").cast(pl.Int64)),
        group=group.select("cohort", "effect"),
        twfe=float(twfe),
    )
