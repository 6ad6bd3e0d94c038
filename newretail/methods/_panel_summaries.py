"""The frozen results of :class:`~newretail.methods.DiD` and :class:`~newretail.methods.EventStudy`: the numbers,
a plot, and the shared ``tidy()``/``summary()`` shape (:mod:`newretail.methods._results`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from newretail.methods._results import Term, Tidy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DiDSummary", "EventStudySummary"]


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size, constrained_layout=True)
        return fig, ax
    return ax.get_figure(), ax  # type: ignore[return-value]


@dataclass(frozen=True)
class DiDSummary(Tidy):
    """A fitted DiD: the effect of D_it on the outcome (outcome units) with its ``1 - alpha`` t interval.

    ``n_obs`` counts the rows fitted (after dropping ``n_singletons``); ``covariates`` holds the rows of the
    covariates' coefficients; ``design`` says the clustering and options in words. ``tidy()``/``summary()`` give the
    shared result shape (:mod:`newretail.methods._results`).
    """

    outcome: str
    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    n_units: int
    n_treated_units: int
    n_obs: int
    unit_trends: bool
    treated: str = "treated"
    n_singletons: int = 0
    covariates: tuple[Term, ...] = ()
    design: str = ""

    @property
    def estimate(self) -> float:
        """The effect (the name every result of ``newretail.methods`` uses; ``effect`` stays)."""
        return self.effect

    @property
    def n(self) -> int:
        """The rows the fit used (``n_obs``)."""
        return self.n_obs

    def _terms(self) -> list[Term]:
        own = Term(self.treated, self.effect, self.se, self.ci_low, self.ci_high, self.p_value, self.n_obs)
        return [own, *self.covariates]

    def _design(self) -> str:
        return f"DiD, TWFE{', unit trends' if self.unit_trends else ''}" + (f", {self.design}" if self.design else "")

    def plot(self, ax: Axes | None = None, *, truth: float | None = None) -> Figure:
        """The estimate with its interval (and ``truth``, when known, as a dashed line)."""
        fig, ax = _axes(ax, (5.0, 2.2))
        ax.errorbar(
            [self.effect], [0], xerr=[[self.effect - self.ci_low], [self.ci_high - self.effect]], fmt="o", capsize=5
        )
        ax.axvline(0, color="black", lw=0.8)
        if truth is not None:
            ax.axvline(truth, color="#d62728", ls="--", label="truth")
            ax.legend(fontsize=8)
        ax.set_yticks([])
        ax.set_xlabel(f"effect on {self.outcome.replace('_', ' ')}")
        ax.set_title(
            f"DiD {self.effect:+.4g}, {1 - self.alpha:.0%} interval [{self.ci_low:+.4g}, {self.ci_high:+.4g}]",
            fontsize=10,
        )
        return fig


@dataclass(frozen=True)
class EventStudySummary(Tidy):
    """Coefficients by event time (periods since each unit's first treated period, binned by ``bin_width``) with
    ``1 - alpha`` intervals; the ``reference`` bin is 0 by construction. ``pretrend_p``: joint Wald F test that every
    coefficient before the event is zero. ``tidy()`` has one row per event-time bin (term ``event_time -2``, ...; the
    reference with NaN errors), ``n`` the treated rows in the bin."""

    outcome: str
    coefs: pl.DataFrame
    pretrend_p: float
    alpha: float
    reference: int
    bin_width: int
    design: str = ""

    def _terms(self) -> list[Term]:
        rows = self.coefs.iter_rows(named=True)
        nan = float("nan")
        return [
            Term(
                f"event_time {r['event_time']}", r["estimate"], r["se"], r["ci_low"], r["ci_high"], r["p_value"], r["n"]
            )
            if r["event_time"] != self.reference
            else Term(f"event_time {r['event_time']} (reference)", 0.0, nan, nan, nan, nan, r["n"])
            for r in rows
        ]

    def _design(self) -> str:
        width = "" if self.bin_width == 1 else f", bins of {self.bin_width} periods"
        return f"event study, TWFE, reference {self.reference}{width}" + (f", {self.design}" if self.design else "")

    def plot(self, ax: Axes | None = None, *, truth: float | None = None, title: str = "Event study") -> Figure:
        """Coefficient plot: estimate and interval by event time (``truth``: a dashed line after the event)."""
        fig, ax = _axes(ax, (7.0, 3.8))
        c = self.coefs
        est = c["estimate"].to_numpy()
        ax.errorbar(
            c["event_time"].to_numpy(),
            est,
            yerr=[est - c["ci_low"].to_numpy(), c["ci_high"].to_numpy() - est],
            fmt="o",
            capsize=3,
            color="#1f77b4",
            label=f"estimate, {1 - self.alpha:.0%} interval",
        )
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls=":", lw=1)
        if truth is not None:
            top = float(c["event_time"].max()) + 0.5  # type: ignore[arg-type]
            ax.hlines(truth, -0.5, top, color="#d62728", ls="--", label="true effect")
        unit = "periods" if self.bin_width == 1 else f"bins of {self.bin_width} periods"
        ax.set(
            xlabel=f"event time ({unit}; {self.reference} = reference)",
            ylabel=f"effect on {self.outcome.replace('_', ' ')}",
        )
        ax.set_title(f"{title} (pre-trend test p = {self.pretrend_p:.2g})")
        ax.legend(fontsize=8, loc="upper left")
        return fig
