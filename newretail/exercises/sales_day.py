"""Exercises of notebook 01 (the sales day in GMV): sampling weights, the cluster bootstrap, the log decomposition."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.exercises._base import Exercise, Wrong, z

if TYPE_CHECKING:
    from newretail.tables import Dataset

GMV = pl.col("gmv_usd") * pl.col("weight")
HALF_WIDTH = 0.005  # 01.3: the 95% interval to reach, +/- this share of the online GMV


def _online(ds: Dataset, device: str | None = None) -> pl.LazyFrame:
    lf = ds.scan("orders", weights=True).filter(pl.col("channel") == "online")
    return lf if device is None else lf.filter(pl.col("device") == device)


def _bootstrap_se(values: np.ndarray) -> float:
    """The bootstrap's standard error of a sum of ``values`` resampled with replacement, in closed form:
    sqrt(n) x their standard deviation (ddof 0), what an infinite number of resamples would give."""
    return float(math.sqrt(values.size) * values.std())


def shopper_se(ds: Dataset, device: str | None = None) -> float:
    """Standard error of the online GMV (USD) when whole shoppers are resampled."""
    totals = _online(ds, device).group_by("user_id").agg(total=GMV.sum()).collect()["total"].to_numpy()
    return _bootstrap_se(totals)


def order_se(ds: Dataset, device: str | None = None) -> float:
    """The same, resampling single orders as if independent (the mistake the lesson warns about)."""
    return _bootstrap_se(_online(ds, device).select(GMV.alias("g")).collect()["g"].to_numpy())


def unweighted_se(ds: Dataset, device: str | None = None) -> float:
    """The shopper bootstrap on the sample's own order values, without the weights."""
    lf = _online(ds, device).group_by("user_id").agg(total=pl.col("gmv_usd").sum())
    return _bootstrap_se(lf.collect()["total"].to_numpy())


def mobile_se(ds: Dataset) -> float:
    return shopper_se(ds, "mobile")


def conversion_share(ds: Dataset, device: str | None = "mobile") -> float:
    """Conversion's share of the log growth of online GMV over 2016, for one device's visits and orders (or all)."""
    parts = _growth_parts(ds, device)
    return parts["conversion"] / parts["gmv"]


def _growth_parts(ds: Dataset, device: str | None) -> dict[str, float]:
    """Log ratios 2017/2016 of GMV and of conversion (online orders per visit), weighted, for one device or all."""

    def total(table: str, expr: pl.Expr, online: bool = False) -> float:
        lf = ds.scan(table, weights=True)
        if online:
            lf = lf.filter(pl.col("channel") == "online")
        if device is not None:
            lf = lf.filter(pl.col("device") == device)
        return float(lf.select(expr.sum()).collect().item())

    w = pl.col("weight")
    visits17, visits16 = total("visits", w), total("baseline_visits", w)
    orders17, orders16 = total("orders", w, online=True), total("baseline_orders", w)
    gmv17, gmv16 = total("orders", GMV, online=True), total("baseline_orders", GMV)
    return {
        "gmv": math.log(gmv17 / gmv16),
        "conversion": math.log((orders17 / visits17) / (orders16 / visits16)),
    }


def sample_factor(ds: Dataset, level: float = 0.95, se: float | None = None) -> float:
    """How many times more buyers would give a ``level`` half-width of 0.5% of the online GMV."""
    gmv = float(_online(ds).select(GMV.sum()).collect().item())
    se = shopper_se(ds) if se is None else se
    return (z(0.5 + level / 2) * se / (HALF_WIDTH * gmv)) ** 2


EXERCISES = (
    Exercise(
        "01.1",
        "compute",
        "A subgroup: the standard error, in USD, of the day's online GMV placed on mobile devices "
        "(`orders.device == 'mobile'`). Resample the shoppers who ordered on mobile with replacement, at least "
        "2,000 times, recompute the weighted mobile GMV of each resample and take the standard deviation.",
        "USD",
        mobile_se,
        "The sampling unit is the shopper, not the order: add up each shopper's weighted mobile orders first, then "
        "resample those totals. The bootstrap's standard error of a sum of n resampled totals is also sqrt(n) times "
        "their standard deviation, if you want to check your loop.",
        rel_tol=0.06,  # a bootstrap of 2,000 resamples has a relative standard error of 1.6%
        wrong=(
            Wrong(
                "the order-level bootstrap",
                lambda ds: order_se(ds, "mobile"),
                "resampling single orders treats a shopper's orders as independent; they are not, and the standard "
                "error comes out about half as large as it should.",
            ),
            Wrong(
                "the standard error of all online GMV",
                lambda ds: shopper_se(ds),
                "keep only the orders placed on mobile devices before adding up each shopper's orders.",
            ),
            Wrong(
                "the half-width of a 95% interval",
                lambda ds: z(0.975) * mobile_se(ds),
                "that is 1.96 standard errors; the question asks for one.",
            ),
            Wrong(
                "the sample's standard error without the weights",
                lambda ds: unweighted_se(ds, "mobile"),
                "each sampled order stands for 1/f orders of the day: multiply the order values by `weight`.",
            ),
        ),
    ),
    Exercise(
        "01.2",
        "predict, then run",
        "Predict first: on mobile devices, does conversion carry a larger or a smaller share of the growth over "
        "2016 than over the whole day? Then compute conversion's share of the log growth of online GMV for mobile "
        "visits and orders only: log(conversion 2017 / conversion 2016) over log(GMV 2017 / GMV 2016), conversion "
        "being online orders per visit, everything weighted (`visits`, `orders`, `baseline_visits`, "
        "`baseline_orders`).",
        "share",
        conversion_share,
        "GMV = visits x conversion x order value, so the log growth is the sum of the three log ratios; each "
        "component's share is its log ratio over the log growth. Filter every table to mobile first, and count "
        "only online orders in 2017 (store orders have no visit).",
        rel_tol=1e-6,
        wrong=(
            Wrong(
                "the whole day's share (every device)",
                lambda ds: conversion_share(ds, None),
                "filter the visits and orders of both years to `device == 'mobile'`.",
            ),
            Wrong(
                "the share on PCs",
                lambda ds: conversion_share(ds, "pc"),
                "the question asks about mobile devices.",
            ),
            Wrong(
                "conversion's growth, not its share of the growth",
                lambda ds: math.exp(_growth_parts(ds, "mobile")["conversion"]) - 1,
                "divide the log of conversion's ratio by the log of GMV's ratio.",
            ),
            Wrong(
                "the log ratio of conversion alone",
                lambda ds: _growth_parts(ds, "mobile")["conversion"],
                "divide it by the log growth of GMV to get a share.",
            ),
        ),
    ),
    Exercise(
        "01.3",
        "design",
        "Choose a sample size: by what factor would the number of sampled buyers have to grow for the 95% interval "
        "of the whole day's online GMV to be +/- 0.5% of it? Use the shopper bootstrap's standard error (at least "
        "5,000 resamples, or its closed form); the standard error shrinks like one over the square root of n.",
        "times the current sample",
        sample_factor,
        "Write the half-width after growing the sample k-fold as 1.96 x SE / sqrt(k), set it equal to 0.5% of the "
        "online GMV and solve for k.",
        rel_tol=0.10,  # the factor is a squared standard error: 5,000 resamples leave it a 2% standard error
        wrong=(
            Wrong(
                "the factor for a 90% interval",
                lambda ds: sample_factor(ds, level=0.90),
                "a 95% interval is 1.96 standard errors on each side, not 1.645.",
            ),
            Wrong(
                "the factor from the order-level standard error",
                lambda ds: sample_factor(ds, se=order_se(ds)),
                "resampling orders as if independent understates the standard error, and so the sample needed.",
            ),
            Wrong(
                "the factor for the standard error, not for the sample",
                lambda ds: math.sqrt(sample_factor(ds)),
                "the standard error falls like 1/sqrt(k): shrinking it m-fold takes m squared times the sample.",
            ),
        ),
    ),
    Exercise(
        "01.4",
        "explain why",
        "Resampling single orders gives a narrower interval for the day's GMV than resampling "
        "shoppers. Which reason is right?",
        "choice",
        lambda ds: "b",
        "Ask what a second sample of the same size would change: which shoppers were drawn, or which orders?",
        choices=(
            "There are more orders than shoppers, so each order resample averages over more draws.",
            "A shopper's orders rise and fall together (a keen shopper buys several times); resampling them one by one "
            "breaks that up and understates how much the total varies from one sample of shoppers to another.",
            "The order bootstrap leaves out the store orders.",
            "The order bootstrap uses a 90% interval.",
        ),
        wrong=(
            Wrong(
                "a",
                "a",
                "both resamples use every row of the sample once on average; what differs is whether the rows that "
                "move together are kept together.",
            ),
            Wrong("c", "c", "both add the store orders, which are not sampled, as a constant."),
            Wrong("d", "d", "both intervals here are 95% intervals."),
        ),
    ),
)
