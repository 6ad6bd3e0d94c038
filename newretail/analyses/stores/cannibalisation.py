"""Cannibalisation: store uplift less the online orders the pilot's catchment moved into the stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.twfe import twfe_regression

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.stores._store_tables import Source, _check_alpha
from newretail.analyses.stores.pilot import PilotTruth, store_panel

# ---------------------------------------------------------------------------------------------------------------
# cannibalisation: store uplift is not total uplift


@dataclass(frozen=True)
class NetUplift:
    """The pilot's store uplift, the online orders it displaced from the pilots' catchments, and the difference.

    ``table``: rows ``store uplift``, ``online orders displaced``, ``net uplift`` in RMB per pilot store and day,
    with ``1 - alpha`` intervals (delta method on a stacked difference-in-differences of log store sales and log
    catchment online orders, clustered by store). ``store_effect_log`` and ``online_effect_log`` are the two DiD
    effects; ``cannibalised_share`` is displaced over uplift.
    """

    table: pl.DataFrame
    store_effect_log: float
    online_effect_log: float
    cannibalised_share: float
    cannibalised_share_ci: tuple[float, float]
    online_controls: int

    def value(self, row: str) -> float:
        """The estimate of one row of ``table`` (RMB per pilot store and day)."""
        return float(self.table.filter(pl.col("quantity") == row)["estimate"][0])

    def plot(self, *, truth: PilotTruth | None = None) -> Figure:
        """Bars of store uplift, displaced online orders and net uplift, with intervals (and the truth)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
        t = self.table
        x = np.arange(t.height)
        est = t["estimate"].to_numpy()
        ax.bar(x, est, color=["#1f77b4", "#ff7f0e", "#2ca02c"], alpha=0.8)
        ax.errorbar(
            x,
            est,
            yerr=[est - t["ci_low"].to_numpy(), t["ci_high"].to_numpy() - est],
            fmt="none",
            ecolor="black",
            capsize=4,
        )
        if truth is not None:
            values = [truth.extra_rmb, truth.online_lost_rmb, truth.net_rmb]
            ax.scatter(x, values, marker="D", color="#d62728", zorder=3, label="truth")
            ax.legend(fontsize=8)
        ax.set_xticks(x, t["quantity"].to_list())
        ax.set_ylabel("RMB per pilot store and day")
        ax.set_title(f"Store uplift less displaced online orders ({self.cannibalised_share:.0%} cannibalised)")
        return fig


def net_uplift(source: Source, *, radius_km: float, alpha: float = 0.05) -> NetUplift:
    """Store uplift, displaced online orders and net uplift of the pilot, RMB per pilot store and day.

    Store uplift: DiD of log sales, pilots against non-pilot Sanjiang and other supermarkets. Displaced online
    orders: DiD of log online grocery orders within ``radius_km`` of each store, pilots against stores whose
    catchment does not overlap a pilot's (farther than twice ``radius_km``). Both are fitted in one stacked
    regression clustered by store, so the net uplift's interval accounts for their covariance.
    """
    _check_alpha(alpha)
    sales = store_panel(source, outcome="sales_rmb")
    online = store_panel(source, outcome="catchment_online_rmb", buffer_km=2 * radius_km)
    # one regression for both outcomes: each store-outcome pair its own unit, each outcome its own day effects
    stacked = pl.concat(
        [
            frame.select(
                unit=pl.col("store_id").cast(pl.Int64) * 2 + k,
                time=pl.col("day").cast(pl.Int64) + k * 1_000_000,
                cluster=pl.col("store_id").cast(pl.Int64),
                y="y",
                d_sales=pl.col("pilot_open") & (k == 0),
                d_online=pl.col("pilot_open") & (k == 1),
            )
            for k, frame in enumerate((sales, online))
        ]
    )
    fit = twfe_regression(
        stacked, unit="unit", time="time", outcome="y", regressors=("d_sales", "d_online"), cluster="cluster"
    )
    tau, delta = float(fit.coef[0]), float(fit.coef[1])
    cov = fit.cov
    crit = fit.critical(alpha)

    d_s, d_o = sales["pilot_open"].to_numpy(), online["pilot_open"].to_numpy()
    lay_s_y, lay_o_y = sales["y"].to_numpy(), online["y"].to_numpy()
    sales_post = np.exp(lay_s_y[d_s])
    online_post = np.exp(lay_o_y[d_o])
    extra = float(np.mean(sales_post * (1 - np.exp(-tau))))
    lost = float(np.mean(online_post * (np.exp(-delta) - 1)))
    g_extra = np.array([np.mean(sales_post * np.exp(-tau)), 0.0])
    g_lost = np.array([0.0, -np.mean(online_post * np.exp(-delta))])
    rows = []
    for name, value, grad in (
        ("store uplift", extra, g_extra),
        ("online orders displaced", lost, g_lost),
        ("net uplift", extra - lost, g_extra - g_lost),
    ):
        se = float(np.sqrt(grad @ cov @ grad))
        rows.append({"quantity": name, "estimate": value, "ci_low": value - crit * se, "ci_high": value + crit * se})
    share = lost / extra if extra != 0 else float("nan")
    g_share = (g_lost * extra - g_extra * lost) / extra**2 if extra != 0 else np.zeros(2)
    se_share = float(np.sqrt(g_share @ cov @ g_share))
    return NetUplift(
        table=pl.DataFrame(rows),
        store_effect_log=tau,
        online_effect_log=delta,
        cannibalised_share=share,
        cannibalised_share_ci=(share - crit * se_share, share + crit * se_share),
        online_controls=int(online.filter(~pl.col("treated"))["store_id"].n_unique()),
    )
