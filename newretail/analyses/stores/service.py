"""The store figures of the report, as tallies and finishing functions: the 95th percentile of delivery minutes of
in-range store orders (Hema stores, or the Sanjiang pilot stores) and the number of pilot stores.

The delivery quantile is not a sum: its tally keeps the in-range store orders' delivery times (a city's store
orders do not grow with the scale) and the quantile and its order-statistic interval are computed on them. The
public functions run the tallies in one pass and finish; ``newretail.claims.partials`` runs the same tallies per
partition and calls the same finishing functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from newretail.analyses.inputs import check_dataset as _check_ds
from newretail.methods.intervals import quantile_interval
from newretail.methods.resampling import CONFIDENCE, Estimate
from newretail.tables import Dataset, Measure, Tally

ALPHA = 1.0 - CONFIDENCE
DELIVERY_QUANTILE = 0.95
MIN_ORDERS = 20  # fewer in-range orders give no interval
STORE_KINDS = ("hema", "sanjiang")
Totals = Mapping[str, pl.DataFrame]
Cache = dict[Any, pl.DataFrame] | None


@dataclass(frozen=True)
class DeliveryP95:
    """The 95th percentile of delivery minutes of in-range orders of one kind of store (95% order-statistic
    interval; NaN with fewer than 20 orders), the orders it is read from and their share delivered within the
    promise."""

    estimate: Estimate
    orders: int
    share_within_promise: float


def _check_radius(radius_km: float) -> float:
    if isinstance(radius_km, bool) or not isinstance(radius_km, (int, float)) or not radius_km > 0:
        raise ValueError(f"radius_km = {radius_km!r}: must be a positive number of km")
    return float(radius_km)


def store_tallies(*, radius_km: float) -> dict[str, Tally]:
    """Delivery minutes of store orders within ``radius_km`` of their store, the Hema and pilot stores, and the
    pilot count."""
    radius = _check_radius(radius_km)
    return {
        "store_orders": Tally(
            "orders",
            where=(pl.col("channel") == "store") & (pl.col("distance_km") <= radius),
            rows=("store_id", "delivery_min"),
        ),
        "store_kinds": Tally(
            "stores", where=(pl.col("store_type") == "hema") | pl.col("pilot"), rows=("store_id", "store_type", "pilot")
        ),
    }


def pilot_tallies() -> dict[str, Tally]:
    """The number of pilot stores (the stores table lists every store)."""
    return {"stores": Tally("stores", sums=(("pilot", pl.col("pilot")),))}


def _check_kind(stores: str) -> str:
    if stores not in STORE_KINDS:
        raise ValueError(f"stores = {stores!r}: must be one of {', '.join(STORE_KINDS)}")
    return stores


def finish_delivery_p95(totals: Totals, *, stores: str, promise_min: float) -> DeliveryP95:
    """The delivery-time quantile of ``stores`` (``"hema"`` or ``"sanjiang"``, the pilot stores) with its exact
    order-statistic interval, and the share of those orders delivered within ``promise_min`` minutes."""
    kinds = totals["store_kinds"]
    chosen = kinds.filter(pl.col("store_type") == "hema") if _check_kind(stores) == "hema" else kinds.filter("pilot")
    minutes = (
        totals["store_orders"].join(chosen.select("store_id"), on="store_id", how="semi")["delivery_min"].to_numpy()
    )
    within = float(np.mean(minutes <= promise_min)) if minutes.size else math.nan
    if minutes.size < MIN_ORDERS:
        return DeliveryP95(Estimate(math.nan, math.nan, math.nan), int(minutes.size), within)
    value, low, high = quantile_interval(minutes, q=DELIVERY_QUANTILE, alpha=ALPHA)
    return DeliveryP95(Estimate(value, low, high), int(minutes.size), within)


def finish_pilots(totals: Totals) -> Estimate:
    """The pilot stores: an exact count (the interval is the value)."""
    n = float(totals["stores"]["pilot"][0])
    return Estimate(n, n, n)


def delivery_measure(*, stores: str, radius_km: float, promise_min: float) -> Measure[DeliveryP95]:
    _check_kind(stores)
    return Measure(
        store_tallies(radius_km=radius_km), partial(finish_delivery_p95, stores=stores, promise_min=promise_min)
    )


def pilots_measure() -> Measure[Estimate]:
    return Measure(pilot_tallies(), finish_pilots)


def delivery_p95(
    ds: Dataset, *, stores: str = "hema", radius_km: float, promise_min: float, cache: Cache = None
) -> DeliveryP95:
    """The 95th percentile of delivery minutes (and its interval) of store orders within ``radius_km`` km of a
    ``stores`` store (``"hema"`` or ``"sanjiang"``), with the share delivered within ``promise_min`` minutes."""
    _check_ds(ds)
    return delivery_measure(stores=stores, radius_km=radius_km, promise_min=promise_min).run(ds, cache=cache)


def pilot_stores(ds: Dataset, *, cache: Cache = None) -> Estimate:
    """The number of Sanjiang pilot stores (exact: the stores table lists every store)."""
    _check_ds(ds)
    return pilots_measure().run(ds, cache=cache)
