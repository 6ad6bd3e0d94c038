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

    def plot(
        self,
        ax: Axes | None = None,
        *,
        truth: float | None = None,
        outcome_label: str | None = None,
        time_label: str | None = None,
    ) -> Figure:
        """Two panels: the treated unit against its synthetic control, and the gap over the placebos' gaps in grey
        (``ax``: 2 axes), under a one-line takeaway (the mean gap after the treatment and the placebo p-value).

        Parameters
        ----------
        ax : two matplotlib axes to draw on, or None for a new figure.
        truth : the true effect, drawn as a dashed line over the post-treatment gap (outcome units).
        outcome_label : the outcome in words with its unit (e.g. ``"cigarette packs per person"``); default the
            outcome column's name.
        time_label : the time axis in words with its unit (e.g. ``"days since the pilot started"``); default the
            time column's name.
        """
        import textwrap

        import matplotlib.pyplot as plt

        for value, arg in ((outcome_label, "outcome_label"), (time_label, "time_label")):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{arg}: a label (str) or None expected, got {type(value).__name__}")
        own = ax is None
        if ax is None:
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.4), sharex=True, layout="constrained")
        else:
            top, bottom = ax  # type: ignore[misc]
            fig = top.get_figure()
        outcome = outcome_label or self.outcome.replace("_", " ")
        g = self.gap
        name = self.label if self.label is not None else str(self.treated_unit)
        times = g["time"].to_numpy()
        top.plot(times, g["actual"].to_numpy(), color="#d62728", label=name)
        top.plot(times, g["synthetic"].to_numpy(), color="#1f77b4", ls="--", label="its synthetic control")
        for a in (top, bottom):
            a.axvline(self.treatment_time, color="grey", ls=":")
        top.set_ylabel(textwrap.fill(outcome, 30), fontsize=10)
        top.legend(fontsize=10, loc="best")
        for i, (_, p) in enumerate(self.placebo_gaps.group_by("unit", maintain_order=True)):
            label = "placebos (each donor as if treated)" if i == 0 else None
            bottom.plot(p["time"].to_numpy(), p["gap"].to_numpy(), color="grey", alpha=0.25, lw=0.6, label=label)
        bottom.plot(times, g["gap"].to_numpy(), color="#d62728", lw=1.6, label=f"{name} minus synthetic")
        bottom.axhline(0, color="black", lw=0.8)
        if truth is not None:
            bottom.hlines(truth, self.treatment_time, times.max(), color="black", ls="--", label="true effect")
        bottom.set_xlabel(time_label or self.time_name.replace("_", " "), fontsize=10)
        bottom.set_ylabel(textwrap.fill(f"gap, {outcome}", 30), fontsize=10)
        if own:
            fig.legend(*bottom.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=10,
                       frameon=False)  # fmt: skip
        else:
            bottom.legend(fontsize=10, loc="best")
        side = "above" if self.effect > 0 else "below"
        takeaway = f"{name[:1].upper() + name[1:]} ran {abs(self.effect):.3g} {side} its synthetic control once treated"
        if self.placebo_rank is not None:
            takeaway += f" (placebo\u00a0p\u00a0=\u00a0{self.p_value:.2f})"  # no line break inside
        fig.suptitle(takeaway, fontsize=11, wrap=True)
        return fig
