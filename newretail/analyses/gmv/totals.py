"""The day's GMV, its growth over 2016 and the order counts, with cluster-bootstrap intervals.

Each figure is a :class:`~newretail.tables.Measure`: the order tallies (random-group totals, see
:func:`order_tallies`) and a finishing function from their totals to the estimate. The public functions run the
tallies in one pass and finish; ``newretail.claims.partials`` runs the same tallies per partition and calls the
same finishing functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import polars as pl

from newretail.analyses.inputs import check_dataset as _check_ds
from newretail.methods.resampling import GROUPS, Estimate, ratio_interval, total_interval
from newretail.tables import Dataset, Measure, Tally, group_arrays, group_key

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
MINUTES = 1440
SPIKE_WINDOW_S = 3600  # the midnight-rush model is fitted to the first hour
COMPONENTS = ("visits", "conversion", "order_value")
CURRENCIES = ("usd", "rmb")
ORDER_SUMS = ("orders", "parcel", "gmv_usd", "gmv_rmb", "mobile_gmv")
Totals = Mapping[str, pl.DataFrame]
Cache = dict[Any, pl.DataFrame] | None


@dataclass(frozen=True)
class OrderCounts:
    """Full-scale payment transactions (orders) and parcel-delivered orders with 95% intervals, and the parcel
    orders' share of all orders."""

    payment_transactions: Estimate
    delivery_orders: Estimate
    delivery_share: float


def _order_cluster() -> pl.Expr:
    """Cluster of an order: its buyer (online orders), or the order itself (store orders have no buyer)."""
    return pl.coalesce(pl.col("user_id"), pl.col("order_id"))


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ValueError(f"currency = {currency!r}: must be one of {', '.join(CURRENCIES)}")
    return f"gmv_{currency}"


def order_tallies(*, iid: bool = False, groups: int = GROUPS) -> dict[str, Tally]:
    """Random-group totals of the 2017 orders (``orders``: buyers, or each order under ``iid``) and of the 2016
    orders (``baseline``: visits). Sums are weighted (full-scale counts and USD/RMB)."""
    w = pl.col("weight")
    return {
        "orders": Tally(
            "orders",
            by=group_key(pl.col("order_id") if iid else _order_cluster(), groups),
            sums=(
                ("orders", w),
                ("parcel", w * pl.col("parcel_delivery")),
                ("gmv_usd", w * pl.col("gmv_usd")),
                ("gmv_rmb", w * pl.col("gmv_rmb")),
                ("mobile_gmv", w * pl.col("gmv_usd") * (pl.col("device") == "mobile")),
            ),
        ),
        "baseline": Tally(
            "baseline_orders", by=group_key(pl.col("visit_id"), groups), sums=(("gmv", pl.col("gmv_usd") * w),)
        ),
    }


def finish_gmv(totals: Totals, *, currency: str = "usd", groups: int = GROUPS) -> Estimate:
    """GMV (USD or RMB) and its interval from the order tallies."""
    column = _check_currency(currency)
    return total_interval(group_arrays(totals["orders"], (column,), groups)[column])


def finish_growth(totals: Totals, *, groups: int = GROUPS) -> Estimate:
    """GMV 2017 / GMV 2016 - 1 and its interval; the two samples' groups are paired arbitrarily."""
    g17 = group_arrays(totals["orders"], ("gmv_usd",), groups)["gmv_usd"]
    g16 = group_arrays(totals["baseline"], ("gmv",), groups)["gmv"]
    est = ratio_interval(g17, g16)
    return Estimate(est.value - 1.0, est.ci_low - 1.0, est.ci_high - 1.0)


def finish_orders(totals: Totals, *, groups: int = GROUPS) -> OrderCounts:
    """Orders and parcel-delivered orders with their intervals."""
    g = group_arrays(totals["orders"], ("orders", "parcel"), groups)
    share = float(g["parcel"].sum() / g["orders"].sum()) if g["orders"].sum() else float("nan")
    return OrderCounts(total_interval(g["orders"]), total_interval(g["parcel"]), share)


def finish_mobile_share(totals: Totals, *, groups: int = GROUPS) -> Estimate:
    """Share of GMV (USD) ordered on mobile, and its interval."""
    g = group_arrays(totals["orders"], ("mobile_gmv", "gmv_usd"), groups)
    return ratio_interval(g["mobile_gmv"], g["gmv_usd"])


def gmv_measure(*, currency: str = "usd", iid: bool = False, groups: int = GROUPS) -> Measure[Estimate]:
    _check_currency(currency)
    return Measure(order_tallies(iid=iid, groups=groups), partial(finish_gmv, currency=currency, groups=groups))


def growth_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[Estimate]:
    return Measure(order_tallies(iid=iid, groups=groups), partial(finish_growth, groups=groups))


def orders_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[OrderCounts]:
    return Measure(order_tallies(iid=iid, groups=groups), partial(finish_orders, groups=groups))


def mobile_share_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[Estimate]:
    return Measure(order_tallies(iid=iid, groups=groups), partial(finish_mobile_share, groups=groups))


def gmv_total(
    ds: Dataset, *, currency: str = "usd", groups: int = GROUPS, iid: bool = False, cache: Cache = None
) -> Estimate:
    """GMV of the day (all orders, online and store-fulfilled), in USD or RMB, with its 95% interval.

    Parameters
    ----------
    ds : the dataset.
    currency : ``"usd"`` or ``"rmb"`` (the orders' own RMB values, at the day's exchange rate).
    groups : random groups of buyers for the interval.
    iid : resample single orders instead of whole buyers (the naive interval).
    cache : tally results to reuse between calls on the same dataset (see :func:`newretail.tables.tally`).
    """
    _check_ds(ds)
    return gmv_measure(currency=currency, iid=iid, groups=groups).run(ds, cache=cache)


def yoy_growth(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> Estimate:
    """Growth of GMV (USD) over the 2016 event: GMV 2017 / GMV 2016 - 1, with its 95% interval.

    The 2017 and 2016 samples are independent; their random groups are paired arbitrarily for the bootstrap.
    """
    _check_ds(ds)
    return growth_measure(iid=iid, groups=groups).run(ds, cache=cache)


def order_counts(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> OrderCounts:
    """Full-scale payment transactions and parcel-delivered orders, with 95% intervals (see :class:`OrderCounts`)."""
    _check_ds(ds)
    return orders_measure(iid=iid, groups=groups).run(ds, cache=cache)


def mobile_gmv_share(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> Estimate:
    """Share of the day's GMV (USD) ordered on mobile devices, with its 95% interval."""
    _check_ds(ds)
    return mobile_share_measure(iid=iid, groups=groups).run(ds, cache=cache)
