"""The day's GMV and its growth over 2016, with cluster-bootstrap intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.resampling import (
    GROUPS,
    Estimate,
    group_totals,
    ratio_interval,
    total_interval,
)
from newretail.tables import Dataset

if TYPE_CHECKING:
    pass


US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
MINUTES = 1440
SPIKE_WINDOW_S = 3600  # the midnight-rush model is fitted to the first hour
COMPONENTS = ("visits", "conversion", "order_value")
CURRENCIES = ("usd", "rmb")


def _order_cluster() -> pl.Expr:
    """Cluster of an order: its buyer (online orders), or the order itself (store orders have no buyer)."""
    return pl.coalesce(pl.col("user_id"), pl.col("order_id"))


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ValueError(f"currency = {currency!r}: must be one of {', '.join(CURRENCIES)}")
    return f"gmv_{currency}"


def gmv_total(ds: Dataset, *, currency: str = "usd", groups: int = GROUPS) -> Estimate:
    """GMV of the day (all orders, online and store-fulfilled), in USD or RMB, with its 95% interval.

    Parameters
    ----------
    ds : the dataset.
    currency : ``"usd"`` or ``"rmb"`` (the orders' own RMB values, at the day's exchange rate).
    groups : random groups of buyers for the interval.
    """
    column = _check_currency(currency)
    totals = group_totals(
        ds.scan("orders", weights=True),
        cluster=_order_cluster(),
        sums={"gmv": pl.col(column) * pl.col("weight")},
        groups=groups,
    )
    return total_interval(totals["gmv"])


def _baseline_gmv_groups(ds: Dataset, groups: int) -> np.ndarray:
    return group_totals(
        ds.scan("baseline_orders", weights=True),
        cluster=pl.col("visit_id"),
        sums={"gmv": pl.col("gmv_usd") * pl.col("weight")},
        groups=groups,
    )["gmv"]


def yoy_growth(ds: Dataset, *, groups: int = GROUPS) -> Estimate:
    """Growth of GMV (USD) over the 2016 event: GMV 2017 / GMV 2016 - 1, with its 95% interval.

    The 2017 and 2016 samples are independent; their random groups are paired arbitrarily for the bootstrap.
    """
    g17 = group_totals(
        ds.scan("orders", weights=True),
        cluster=_order_cluster(),
        sums={"gmv": pl.col("gmv_usd") * pl.col("weight")},
        groups=groups,
    )["gmv"]
    g16 = _baseline_gmv_groups(ds, groups)
    est = ratio_interval(g17, g16)
    return Estimate(est.value - 1.0, est.ci_low - 1.0, est.ci_high - 1.0)
