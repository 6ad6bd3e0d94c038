"""Hema's delivery promise: the share of orders within the radius delivered in time, by fleet and hour."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.intervals import quantile_interval
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.stores._store_tables import FLEETS, _check_alpha, _mean

# ---------------------------------------------------------------------------------------------------------------
# the delivery promise


@dataclass(frozen=True)
class DeliveryPromise:
    """Delivery times of the store-fulfilled orders against the promise.

    ``table``: one row per fleet (``hema``; ``sanjiang pilot``) with the promise in minutes, orders within the
    radius, the share of them delivered within the promise (Wilson interval), and the 95th percentile of their
    delivery minutes (order-statistic interval), plus the on-time share of orders from beyond the radius.
    ``by_hour``: on-time share within the radius by hour of the day, with the hour's share of the day's orders.
    ``by_distance``: delivery minutes by 0.25 km distance band (median and 95th percentile).
    """

    radius_km: float
    table: pl.DataFrame
    by_hour: pl.DataFrame
    by_distance: pl.DataFrame

    def plot(self) -> Figure:
        """Two panels: on-time share by hour, and delivery minutes against distance with the promise."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
        colours = {"hema": "#1f77b4", "sanjiang pilot": "#d62728"}
        for fleet in FLEETS:
            h = self.by_hour.filter(pl.col("fleet") == fleet).sort("hour")
            hour = h["hour"].to_numpy()
            left.plot(hour, h["on_time_share"].to_numpy(), marker="o", ms=3, color=colours[fleet], label=fleet)
            left.fill_between(hour, h["ci_low"].to_numpy(), h["ci_high"].to_numpy(), color=colours[fleet], alpha=0.2)
            d = self.by_distance.filter(pl.col("fleet") == fleet).sort("distance_km")
            right.plot(d["distance_km"], d["p95_min"], color=colours[fleet], label=f"{fleet}: 95th percentile")
            right.plot(d["distance_km"], d["median_min"], color=colours[fleet], ls=":", label=f"{fleet}: median")
            promise = float(self.table.filter(pl.col("fleet") == fleet)["promise_min"][0])
            right.axhline(promise, color=colours[fleet], lw=0.8, ls="--")
        ax2 = left.twinx()
        load = self.by_hour.filter(pl.col("fleet") == "hema").sort("hour")
        ax2.bar(load["hour"], load["order_share"], color="grey", alpha=0.25, width=0.8)
        ax2.set_ylabel("share of the day's orders")
        left.set_zorder(ax2.get_zorder() + 1)
        left.patch.set_visible(False)
        left.axhline(0.95, color="black", lw=0.8, ls="--")
        left.set(xlabel="hour of the day", ylabel="delivered within the promise", xlim=(-0.5, 23.5))
        left.set_title(f"On-time share, orders within {self.radius_km:g} km")
        left.legend(loc="lower left", fontsize=8)
        right.axvline(self.radius_km, color="black", lw=0.8)
        right.set(xlabel="straight-line distance, km", ylabel="delivery time, min")
        right.set_title("Delivery time by distance (dashed: the promise)")
        right.legend(fontsize=7, loc="upper left")
        return fig


def _wilson(successes: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    from newretail.methods.intervals import proportion_interval

    _, low, high = proportion_interval(successes, np.maximum(n, 1), alpha=alpha)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def delivery_promise(ds: Dataset, *, radius_km: float | None = None, alpha: float = 0.05) -> DeliveryPromise:
    """Share of store-fulfilled orders within ``radius_km`` (default: the scenario's ``hema_radius_km``) delivered
    within the promise (``hema_delivery_minutes`` for Hema, ``sanjiang_delivery_minutes`` for the pilot stores),
    with ``1 - alpha`` intervals. Minutes, km."""
    _check_alpha(alpha)
    t = ds.scenario.targets
    radius = t.hema_radius_km if radius_km is None else float(radius_km)
    if not radius > 0:
        raise ValueError(f"radius_km = {radius_km!r}: must be a positive distance in km")
    fleet = (
        pl.when(pl.col("store_type") == "hema")
        .then(pl.lit(FLEETS[0]))
        .when(pl.col("pilot"))
        .then(pl.lit(FLEETS[1]))
        .otherwise(None)
    )
    promise = (
        pl.when(pl.col("store_type") == "hema").then(t.hema_delivery_minutes).otherwise(t.sanjiang_delivery_minutes)
    )
    orders = (
        ds.scan("orders")
        .filter(pl.col("channel") == "store")
        .select("store_id", "ts_us", "distance_km", "delivery_min")
        .join(ds.scan("stores").select("store_id", "store_type", "pilot"), on="store_id")
        .with_columns(fleet=fleet, promise_min=promise)
        .filter(pl.col("fleet").is_not_null())
        .with_columns(
            inside=pl.col("distance_km") <= radius,
            on_time=pl.col("delivery_min") <= pl.col("promise_min"),
            hour=(pl.col("ts_us") // 3_600_000_000).clip(0, 23).cast(pl.Int32),
        )
        .collect()
    )
    rows = []
    for name in FLEETS:
        f = orders.filter(pl.col("fleet") == name)
        inside = f.filter("inside")
        outside = f.filter(~pl.col("inside"))
        n_in = inside.height
        if n_in < 20:
            raise ValueError(f"{name}: only {n_in} orders within {radius:g} km; cannot judge the promise")
        hits = int(inside["on_time"].sum())
        low, high = _wilson(np.array([hits]), np.array([n_in]), alpha)
        p95, p95_low, p95_high = quantile_interval(inside["delivery_min"].to_numpy(), q=0.95, alpha=alpha)
        rows.append(
            {
                "fleet": name,
                "promise_min": float(f["promise_min"][0]),
                "orders_within": n_in,
                "on_time_share": hits / n_in,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "p95_min": p95,
                "p95_ci_low": p95_low,
                "p95_ci_high": p95_high,
                "orders_beyond": outside.height,
                "on_time_share_beyond": _mean(outside["on_time"]) if outside.height else float("nan"),
            }
        )
    by_hour = (
        orders.filter("inside")
        .group_by("fleet", "hour")
        .agg(orders=pl.len(), on_time=pl.col("on_time").sum(), mean_delivery_min=pl.col("delivery_min").mean())
        .with_columns(
            on_time_share=pl.col("on_time") / pl.col("orders"),
            order_share=pl.col("orders") / pl.col("orders").sum().over("fleet"),
        )
        .sort("fleet", "hour")
    )
    low, high = _wilson(by_hour["on_time"].to_numpy(), by_hour["orders"].to_numpy(), alpha)
    by_hour = by_hour.with_columns(ci_low=pl.Series(low), ci_high=pl.Series(high))
    by_distance = (
        orders.with_columns(distance_km=((pl.col("distance_km") / 0.25).floor() * 0.25 + 0.125))
        .group_by("fleet", "distance_km")
        .agg(
            orders=pl.len(),
            median_min=pl.col("delivery_min").median(),
            p95_min=pl.col("delivery_min").quantile(0.95, interpolation="linear"),
        )
        .filter(pl.col("orders") >= 20)
        .sort("fleet", "distance_km")
    )
    return DeliveryPromise(radius, pl.DataFrame(rows), by_hour, by_distance)
