"""Exercises of notebook 01 (the sales day in GMV): sampling weights and the bootstrap."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise, z

if TYPE_CHECKING:
    from newretail.tables import Dataset

HOUR_US = 3_600_000_000


def day_gmv_rmb(ds: Dataset) -> float:
    """Weighted GMV of all orders, RMB."""
    return float(ds.scan("orders", weights=True).select((pl.col("gmv_rmb") * pl.col("weight")).sum()).collect().item())


def first_hour_share(ds: Dataset) -> float:
    """Share of the day's weighted GMV placed in the first hour after midnight."""
    frame = ds.scan("orders", weights=True).select(
        gmv=pl.col("gmv_usd") * pl.col("weight"), first=pl.col("ts_us") < HOUR_US
    )
    row = frame.select(first=pl.col("gmv").filter(pl.col("first")).sum(), all=pl.col("gmv").sum()).collect()
    return float(row["first"][0] / row["all"][0])


def online_gmv_se(ds: Dataset) -> float:
    """Standard error of the online GMV when buyers are resampled: the bootstrap's closed form, sqrt(n) sd(totals)."""
    totals = (
        ds.scan("orders", weights=True)
        .filter(pl.col("channel") == "online")
        .group_by("user_id")
        .agg(total=(pl.col("gmv_usd") * pl.col("weight")).sum())
        .collect()["total"]
    )
    values = totals.to_numpy()
    return float(math.sqrt(len(values)) * values.std())


def online_gmv(ds: Dataset) -> float:
    lf = ds.scan("orders", weights=True).filter(pl.col("channel") == "online")
    return float(lf.select((pl.col("gmv_usd") * pl.col("weight")).sum()).collect().item())


def sample_factor(ds: Dataset) -> float:
    """How many times more buyers would give a 95% half-width of 0.5% of the online GMV."""
    return (z(0.975) * online_gmv_se(ds) / (0.005 * online_gmv(ds))) ** 2


EXERCISES = (
    Exercise(
        "01.1",
        "compute",
        "The day's GMV in renminbi: the weighted sum of `gmv_rmb` over all orders, online and store.",
        "RMB",
        day_gmv_rmb,
        "scan the orders with `weights=True` and sum `gmv_rmb * weight`; an unweighted sum is the sample's total.",
        rel_tol=1e-6,
    ),
    Exercise(
        "01.2",
        "predict, then run",
        "Write down your guess first: what share of the day's GMV is placed in the first hour after midnight "
        "(`ts_us` below 3.6e9)? Then compute it, weighted.",
        "share",
        first_hour_share,
        "weight each order by `weight`, sum those with `ts_us < 3_600_000_000`, divide by the weighted total.",
        abs_tol=1e-6,
    ),
    Exercise(
        "01.3",
        "compute",
        "Bootstrap the standard error of the online GMV (USD): resample the online buyers (`user_id`) with "
        "replacement at least 500 times, recompute the weighted GMV of each resample, take the standard deviation.",
        "USD",
        online_gmv_se,
        "resample whole buyers, not orders (one buyer's orders go together); sum each buyer's weighted GMV first, "
        "then draw buyer totals with numpy's `rng.choice(totals, size=len(totals))`.",
        rel_tol=0.15,
    ),
    Exercise(
        "01.4",
        "design",
        "Choose a sample size: by what factor would the number of sampled buyers have to grow for the 95% interval "
        "of the online GMV to be +/- 0.5% of it? (The standard error shrinks like one over the square root of n.)",
        "times the current sample",
        sample_factor,
        "the half-width is 1.96 x SE; solve 1.96 x SE / sqrt(k) = 0.005 x GMV for k.",
        rel_tol=0.35,
    ),
)
