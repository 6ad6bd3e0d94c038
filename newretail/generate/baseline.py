"""The 2016 event, the baseline against which the day's growth is measured: visits and their orders only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from newretail.generate.shoppers import _enum, _ids
from newretail.generate.traffic import sample_ts_us
from newretail.tables.categories import DEVICES


@dataclass(frozen=True)
class BaselineParams:
    """The 2016 event's components, from the growth target and how it splits (solved by calibration)."""

    visits: float  # visits on the 2016 day, full scale
    conversion: float  # orders per visit
    value_log_mean: float  # log-USD location of the order value
    value_log_sd: float
    mobile_share: float
    fx_rmb_per_usd: float


def baseline_tables(
    rng: np.random.Generator, p: BaselineParams, density: np.ndarray, *, partition: int, n: int
) -> dict[str, pl.DataFrame]:
    """``n`` visits of the 2016 day and the orders they led to."""
    visit_id = _ids(7, partition, n)
    ts_us = sample_ts_us(rng, density, n)
    mobile = rng.random(n) < p.mobile_share
    converted = rng.random(n) < p.conversion
    buyer = np.flatnonzero(converted)
    value = np.round(np.exp(p.value_log_mean + p.value_log_sd * rng.standard_normal(buyer.size)), 2)
    visits = pl.DataFrame(
        {
            "visit_id": visit_id,
            "ts_us": ts_us,
            "device": _enum(np.where(mobile, 0, 1), DEVICES),
            "converted": converted,
        }
    )
    orders = pl.DataFrame(
        {
            "order_id": _ids(8, partition, buyer.size),
            "visit_id": visit_id[buyer],
            "ts_us": ts_us[buyer],
            "gmv_usd": value,
            "gmv_rmb": np.round(value * p.fx_rmb_per_usd, 2),
            "device": _enum(np.where(mobile[buyer], 0, 1), DEVICES),
        }
    )
    return {"baseline_visits": visits, "baseline_orders": orders}
