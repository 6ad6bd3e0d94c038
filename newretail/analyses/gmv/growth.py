"""Growth over 2016 decomposed into visitors x conversion x order value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.resampling import (
    GROUPS,
    Estimate,
    bootstrap_interval,
    group_totals,
)
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.gmv.totals import COMPONENTS, gmv_total

# ----------------------------------------------------------------------------------------------------------------
# growth over 2016: visitors x conversion x order value


@dataclass(frozen=True)
class GrowthDecomposition:
    """Online GMV = visits x conversion (orders per visit) x average order value, 2016 against 2017.

    ``table`` has one row per component (``visits``, ``conversion``, ``order_value``, then ``gmv``):
    ``value_2016``, ``value_2017`` (full-scale visits, orders per visit, USD per order, USD), ``ratio``
    (2017 over 2016) with ``ratio_ci_low``/``ratio_ci_high``, and ``log_share`` (the component's share of the log
    growth; the three shares add up to 1) with ``share_ci_low``/``share_ci_high``. Store-fulfilled orders, which
    have no visit, are left out; ``store_gmv_share`` says how much of the day's GMV that is.
    """

    table: pl.DataFrame
    carried_by: str  # the component with the largest share of the growth
    growth: Estimate  # online GMV 2017 / 2016 - 1
    store_gmv_share: float
    implied_gmv_2016_usd: float  # the 2016 GMV implied by the scenario's targets: gmv_usd / (1 + gmv_yoy_growth)

    def plot(self) -> Figure:
        """Left: each component's growth over 2016, %; right: its share of the log growth, %; 95% intervals; the
        title says which component carries the growth."""
        import matplotlib.pyplot as plt

        t = self.table
        names = [GROWTH_LABELS[c] for c in t["component"]]
        with plt.rc_context({"font.size": 11}):
            fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6), layout="constrained", width_ratios=(1, 1))
            y = np.arange(t.height)[::-1]
            growth = 100 * (t["ratio"].to_numpy() - 1)
            low, high = 100 * (t["ratio_ci_low"].to_numpy() - 1), 100 * (t["ratio_ci_high"].to_numpy() - 1)
            colours = ["0.35" if c == "gmv" else "tab:blue" for c in t["component"]]
            left.barh(y, growth, color=colours)
            left.errorbar(growth, y, xerr=[growth - low, high - growth], fmt="none", color="black", capsize=3)
            left.set_yticks(y, names)
            left.axvline(0, color="0.3", lw=0.8)
            left.set_xlabel("growth over 2016, %")
            parts = t.filter(pl.col("component") != "gmv")
            y3 = np.arange(parts.height)[::-1]
            share = 100 * parts["log_share"].to_numpy()
            s_low, s_high = 100 * parts["share_ci_low"].to_numpy(), 100 * parts["share_ci_high"].to_numpy()
            right.barh(y3, share, color="tab:green")
            right.errorbar(share, y3, xerr=[share - s_low, s_high - share], fmt="none", color="black", capsize=3)
            right.set_yticks(y3, [GROWTH_LABELS[c] for c in parts["component"]])
            right.axvline(0, color="0.3", lw=0.8)
            right.set_xlabel("share of the growth (of its log), %")
            fig.suptitle(
                f"{GROWTH_WORDS[self.carried_by]} carry the largest share of the growth over 2016", fontsize=12
            )
        return fig


GROWTH_LABELS = {
    "visits": "visits",
    "conversion": "orders per visit",
    "order_value": "value per order",
    "gmv": "online GMV",
}
"""The components in plain words, for the plots."""
GROWTH_WORDS = {"visits": "More visits", "conversion": "More orders per visit", "order_value": "Bigger orders"}


def decompose_growth(ds: Dataset, *, groups: int = GROUPS) -> GrowthDecomposition:
    """Split the online GMV growth over 2016 into visits, conversion and average order value.

    The log growth ``log(G17 / G16)`` is the sum of the three components' log ratios, so each component's share
    is its log ratio over the log growth. Intervals: bootstrap over random groups of 2017 users and 2016 visits.
    """
    w = pl.col("weight")
    visits17 = group_totals(
        ds.scan("visits", weights=True), cluster=pl.col("user_id"), sums={"visits": w}, groups=groups
    )
    orders17 = group_totals(
        ds.scan("orders", weights=True).filter(pl.col("channel") == "online"),
        cluster=pl.col("user_id"),
        sums={"orders": w, "gmv": pl.col("gmv_usd") * w},
        groups=groups,
    )
    visits16 = group_totals(
        ds.scan("baseline_visits", weights=True), cluster=pl.col("visit_id"), sums={"visits": w}, groups=groups
    )
    orders16 = group_totals(
        ds.scan("baseline_orders", weights=True),
        cluster=pl.col("visit_id"),
        sums={"orders": w, "gmv": pl.col("gmv_usd") * w},
        groups=groups,
    )
    samples = (
        visits17["visits"],
        orders17["orders"],
        orders17["gmv"],
        visits16["visits"],
        orders16["orders"],
        orders16["gmv"],
    )

    def stat(v7: np.ndarray, o7: np.ndarray, g7: np.ndarray, v6: np.ndarray, o6: np.ndarray, g6: np.ndarray,
             axis: int = -1) -> np.ndarray:  # fmt: skip
        V7, O7, G7 = v7.sum(axis=axis), o7.sum(axis=axis), g7.sum(axis=axis)
        V6, O6, G6 = v6.sum(axis=axis), o6.sum(axis=axis), g6.sum(axis=axis)
        ratios = np.stack([V7 / V6, (O7 / V7) / (O6 / V6), (G7 / O7) / (G6 / O6), G7 / G6])
        log_growth = np.log(ratios[3])
        return np.concatenate([ratios, np.log(ratios[:3]) / log_growth])

    point = stat(*samples)
    low, high = bootstrap_interval(samples, stat)
    V7, O7, G7, V6, O6, G6 = (float(s.sum()) for s in samples)
    table = pl.DataFrame(
        {
            "component": [*COMPONENTS, "gmv"],
            "value_2016": [V6, O6 / V6, G6 / O6, G6],
            "value_2017": [V7, O7 / V7, G7 / O7, G7],
            "ratio": point[:4],
            "ratio_ci_low": low[:4],
            "ratio_ci_high": high[:4],
            "log_share": [*point[4:], 1.0],
            "share_ci_low": [*low[4:], 1.0],
            "share_ci_high": [*high[4:], 1.0],
        }
    )
    all_gmv = gmv_total(ds, groups=groups).value
    targets = ds.scenario.targets
    return GrowthDecomposition(
        table=table,
        carried_by=COMPONENTS[int(np.argmax(point[4:]))],
        growth=Estimate(float(point[3] - 1.0), float(low[3] - 1.0), float(high[3] - 1.0)),
        store_gmv_share=float(1.0 - G7 / all_gmv),
        implied_gmv_2016_usd=targets.gmv_usd / (1.0 + targets.gmv_yoy_growth),
    )
