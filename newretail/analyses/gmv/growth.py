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
        """Left: each component's 2017/2016 ratio; right: its share of the log growth; both with 95% intervals."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        df = self.table.to_pandas()
        comps = df[df["component"] != "gmv"]
        with sns.axes_style("whitegrid"):
            fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
            sns.barplot(data=df, y="component", x="ratio", ax=left, color="C0", errorbar=None)
            left.errorbar(
                df["ratio"],
                range(len(df)),
                xerr=[df["ratio"] - df["ratio_ci_low"], df["ratio_ci_high"] - df["ratio"]],
                fmt="none",
                color="k",
                capsize=3,
            )
            left.axvline(1.0, color="0.3", linewidth=0.8)
            left.set(xlabel="2017 / 2016", ylabel="")
            sns.barplot(data=comps, y="component", x="log_share", ax=right, color="C2", errorbar=None)
            right.errorbar(
                comps["log_share"],
                range(len(comps)),
                xerr=[comps["log_share"] - comps["share_ci_low"], comps["share_ci_high"] - comps["log_share"]],
                fmt="none",
                color="k",
                capsize=3,
            )
            right.set(xlabel="share of the log growth", ylabel="")
            fig.tight_layout()
        return fig


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
