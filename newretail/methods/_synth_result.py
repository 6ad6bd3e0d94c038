"""The result of a synthetic control fit: :class:`SyntheticControlSummary` (frozen, tidy, plottable)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from newretail.methods._results import Term, Tidy

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SyntheticControlSummary"]


@dataclass(frozen=True)
class SyntheticControlSummary(Tidy):
    """A fitted synthetic control: ``gap`` (time, actual, synthetic, gap), the donor ``weights``, the RMSPEs and the
    placebo rank; ``placebo_gaps`` (unit, time, gap) for the in-space placebos.

    ``effect`` is the mean gap after the treatment (outcome units); ``ci`` the constant effects the placebo test
    does not reject; ``placebo_rank``/``p_value`` None/NaN when placebos were off. ``label`` names the treated unit
    in plots (its id when not given); ``time_name`` is the time column; ``units`` the units in the panel.
    ``tidy()``/``summary()`` give the effect as one row (``se`` NaN: the placebo test gives no standard error).
    """

    treated_unit: Any
    treatment_time: Any
    outcome: str
    weights: dict[Any, float]
    gap: pl.DataFrame
    pre_rmspe: float
    post_rmspe: float
    rmspe_ratio: float
    placebo_rank: int | None
    p_value: float
    effect: float
    placebo_gaps: pl.DataFrame = field(repr=False)
    ci: tuple[float, float] = (math.nan, math.nan)
    units: int = 0
    label: str | None = None
    time_name: str = "time"
    design: str = "synthetic control"

    @property
    def estimate(self) -> float:
        """The effect (mean post-treatment gap, outcome units): the name every result uses."""
        return self.effect

    @property
    def ci_low(self) -> float:
        return self.ci[0]

    @property
    def ci_high(self) -> float:
        return self.ci[1]

    @property
    def se(self) -> float:
        """NaN: the placebo test gives no standard error."""
        return math.nan

    @property
    def n(self) -> int:
        return self.units

    def _terms(self) -> list[Term]:
        name = f"effect on {self.outcome} from {self.treatment_time}"
        return [Term(name, self.effect, math.nan, self.ci[0], self.ci[1], self.p_value, self.units)]

    def _design(self) -> str:
        return self.design

    def plot(self, ax: Axes | None = None, *, truth: float | None = None) -> Figure:
        """Two panels: actual against synthetic, and the gap over the placebo gaps in grey (``ax``: 2 axes)."""
        import matplotlib.pyplot as plt

        if ax is None:
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, constrained_layout=True)
        else:
            top, bottom = ax  # type: ignore[misc]
            fig = top.get_figure()
        g = self.gap
        name = self.label if self.label is not None else str(self.treated_unit)
        times = g["time"].to_numpy()
        top.plot(times, g["actual"].to_numpy(), color="#d62728", label=name)
        top.plot(times, g["synthetic"].to_numpy(), color="#1f77b4", ls="--", label=f"synthetic {name}")
        for a in (top, bottom):
            a.axvline(self.treatment_time, color="grey", ls=":")
        top.set_ylabel(self.outcome)
        top.legend(fontsize=8, loc="best")
        for _, p in self.placebo_gaps.group_by("unit", maintain_order=True):
            bottom.plot(p["time"].to_numpy(), p["gap"].to_numpy(), color="grey", alpha=0.25, lw=0.6)
        bottom.plot(times, g["gap"].to_numpy(), color="#d62728", lw=1.6, label=f"{name} − synthetic")
        bottom.axhline(0, color="black", lw=0.8)
        if truth is not None:
            bottom.hlines(truth, self.treatment_time, times.max(), color="black", ls="--", label="true effect")
        bottom.set(xlabel=self.time_name, ylabel=f"gap (actual − synthetic, {self.outcome})")
        if self.placebo_rank is None:
            bottom.set_title("no placebos", fontsize=10)
        else:
            bottom.set_title(
                f"placebos in grey; post/pre RMSPE ratio rank {self.placebo_rank}, p = {self.p_value:.3f}",
                fontsize=10,
            )
        bottom.legend(fontsize=8, loc="best")
        return fig
