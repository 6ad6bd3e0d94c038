"""The store estimators on fresh simulated cities (a study: it re-simulates the city with the generator) where pilots
were chosen on growth or take sales from nearby control stores, against the true effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from newretail.generate.city import simulate_city
from newretail.methods import DiD
from newretail.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.stores.pilot import pilot_synthetic_control, pilot_truth, store_panel

# ---------------------------------------------------------------------------------------------------------------
# failure modes on fresh cities


__all__ = ["FailureModes", "failure_modes"]


@dataclass(frozen=True)
class FailureModes:
    """Estimators of the pilot effect on fresh simulated cities under three designs, against the truth.

    ``draws``: one row per city, design and estimator (estimate, ci_low, ci_high, truth, covers).
    ``table``: per design and estimator, the mean estimate, its bias, the share of intervals covering the truth.
    """

    draws: pl.DataFrame
    table: pl.DataFrame

    def plot(self) -> Figure:
        """Each city's estimate and interval, by design and estimator, with the true effect."""
        import matplotlib.pyplot as plt

        designs = self.table["design"].unique(maintain_order=True).to_list()
        fig, axes = plt.subplots(
            1, len(designs), figsize=(4.2 * len(designs), 3.8), sharey=True, constrained_layout=True, squeeze=False
        )
        for ax, design in zip(axes[0], designs, strict=True):
            d = self.draws.filter(pl.col("design") == design)
            names = d["estimator"].unique(maintain_order=True).to_list()
            for i, name in enumerate(names):
                e = d.filter(pl.col("estimator") == name).sort("city")
                n = e.height
                offs = i + np.linspace(-0.3, 0.3, n) if n > 1 else np.array([float(i)])
                colours = np.where(e["covers"].to_numpy(), "#1f77b4", "#d62728")
                ax.vlines(offs, e["ci_low"], e["ci_high"], colors=colours, lw=0.8, alpha=0.7)
                ax.scatter(offs, e["estimate"], c=colours, s=8, zorder=3)
            truth = float(np.mean(d["truth"].to_numpy().astype(np.float64)))
            ax.axhline(truth, color="black", ls="--", lw=1)
            ax.axhline(0, color="grey", lw=0.6)
            ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
            ax.set_title(design, fontsize=10)
        axes[0][0].set_ylabel("pilot effect on log sales (dashed: truth)")
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color="#1f77b4", marker="o", ms=3, label="interval covers the truth"),
            Line2D([], [], color="#d62728", marker="o", ms=3, label="interval misses the truth"),
        ]
        axes[0][-1].legend(handles=handles, fontsize=8, loc="upper right")
        return fig


def _estimates(
    tables: Mapping[str, pl.DataFrame], design: str, *, placebos: int, seed: int, buffer_km: float
) -> list[dict[str, Any]]:
    panel = store_panel(tables)

    def did(frame: pl.DataFrame, *, trends: bool = False) -> tuple[float, tuple[float, float]]:
        fit = DiD("store_id", "day", "y", "pilot_open", unit_trends=trends).fit(frame)
        return fit.effect_, fit.ci_

    out = [("DiD", did(panel))]
    if design == "pilots chosen on growth":
        out.append(("DiD + store trends", did(panel, trends=True)))
    if design == "spill-over to nearby controls":
        out.append((f"DiD, {buffer_km:g} km buffer", did(store_panel(tables, buffer_km=buffer_km))))
    sc = pilot_synthetic_control(panel, placebos=placebos, random_state=seed)
    out.append(("synthetic control", (sc.effect_, sc.ci_)))
    return [{"estimator": name, "estimate": e, "ci_low": ci[0], "ci_high": ci[1]} for name, (e, ci) in out]


def failure_modes(
    scenario: Scenario,
    *,
    seed: int,
    cities: int = 10,
    selection: float = 1.0,
    spillover_effect: float = -0.08,
    spillover_radius_km: float = 5.0,
    placebos: int = 60,
) -> FailureModes:
    """Run the estimators on ``cities`` fresh cities drawn from ``scenario`` under three designs.

    Designs: ``random pilots`` (pilots drawn at random, no spill-over); ``pilots chosen on growth`` (selection on
    the stores' own sales trend set to ``selection``); ``spill-over to nearby controls`` (control stores within
    ``spillover_radius_km`` of a pilot change by ``spillover_effect``, log: the pilot draws customers from nearby
    supermarkets). Each city uses the same random stream
    under every design, so the designs differ only by the mechanism. Reads the simulated truth by design.
    """
    if not (isinstance(cities, int) and cities >= 1):
        raise ValueError(f"cities = {cities!r}: must be a whole number, 1 or more")
    if not 0.0 <= selection <= 1.0:
        raise ValueError(f"selection = {selection!r}: must be in [0, 1]")
    base = scenario.with_changes(
        {"behaviour.stores.pilot_selection_on_growth": 0.0, "behaviour.stores.spillover_effect": 0.0}
    )
    designs = {
        "random pilots": base,
        "pilots chosen on growth": base.with_changes({"behaviour.stores.pilot_selection_on_growth": selection}),
        "spill-over to nearby controls": base.with_changes(
            {
                "behaviour.stores.spillover_effect": spillover_effect,
                "behaviour.stores.spillover_radius_km": spillover_radius_km,
            }
        ),
    }
    t = scenario.targets
    rows: list[dict[str, Any]] = []
    for city in range(cities):
        for design, sc in designs.items():
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(city,)))
            s = sc.behaviour.stores
            tables = simulate_city(
                rng, s, pilot_stores=t.sanjiang_pilot_stores, radius_km=t.hema_radius_km, event_date=scenario.event_date
            )
            truth = pilot_truth(tables).effect_log
            estimates = _estimates(tables, design, placebos=placebos, seed=seed + city, buffer_km=s.spillover_radius_km)
            rows.extend({"city": city, "design": design, **r, "truth": truth} for r in estimates)
    draws = pl.DataFrame(rows).with_columns(
        covers=(pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))
    )
    table = draws.group_by("design", "estimator", maintain_order=True).agg(
        cities=pl.len(),
        mean_estimate=pl.col("estimate").mean(),
        truth=pl.col("truth").mean(),
        bias=(pl.col("estimate") - pl.col("truth")).mean(),
        coverage=pl.col("covers").mean(),
        mean_ci_width=(pl.col("ci_high") - pl.col("ci_low")).mean(),
    )
    return FailureModes(draws, table)
