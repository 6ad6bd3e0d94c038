"""A Ningbo-like city: Hema stores, Sanjiang supermarkets (13 of them in the pilot), other supermarkets, their
delivery orders on the day, and a daily sales panel around the pilot.

Distances are in km on a flat plane, times in minutes. The pilot starts on the event day (``day`` 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from newretail.generate.shoppers import CHANNELS, DEVICES, _enum, _ids
from newretail.generate.traffic import sample_ts_us
from newretail.scenario import Stores

STORE_TYPES = ("hema", "sanjiang", "other")
STORE_SPREAD = {"hema": 0.10, "sanjiang": 0.20, "other": 0.22}  # sd of location, share of city width
LOG_SALES_RMB = {"hema": np.log(600_000.0), "sanjiang": np.log(180_000.0), "other": np.log(150_000.0)}
STORE_LEVEL_SD = 0.30
TREND_SD = 0.05  # sd of a store's own sales trend, log per 30 days
DAY_SHOCK_SD = 0.03
NOISE_SD = 0.06
NOISE_AR = 0.5
WEEKDAY_LOG = np.array([-0.05, -0.06, -0.04, -0.02, 0.04, 0.08, 0.05])  # Monday first
EVENT_DAY_LOG = 0.25  # every store sells more on Singles' Day itself
BASKET_RMB = 62.0
OUTER_ORDER_SHARE = 0.15  # share of orders from just outside the catchment (up to 1.6 radius)
TORTUOSITY = 1.35  # street distance over straight-line distance
LOAD_SENSITIVITY = 0.5  # prep time grows with the hour's order load
ORDER_VALUE_RMB = {"hema": 95.0, "sanjiang": 70.0}


@dataclass(frozen=True)
class CityParams:
    """Internal parameters of the city, solved by calibration."""

    hema_speed_kmh: float  # courier speed that keeps Hema's promise at the target percentile
    sanjiang_prep_multiplier: float  # Sanjiang picking time relative to Hema's
    sanjiang_speed_kmh: float
    radius_km: float
    pilot_stores: int


def draw_delivery(
    rng: np.random.Generator, n: int, radius_km: float, hourly_load: np.ndarray, density: np.ndarray
) -> dict[str, np.ndarray]:
    """Order time, straight-line distance and the parts of delivery time that do not depend on speed."""
    outer = rng.random(n) < OUTER_ORDER_SHARE
    r_in = radius_km * np.sqrt(rng.random(n))
    r_out = radius_km * np.sqrt(1.0 + (1.6**2 - 1.0) * rng.random(n))
    ts_us = sample_ts_us(rng, density, n)
    hour = (ts_us // 3_600_000_000).clip(0, 23)
    return {
        "ts_us": ts_us,
        "distance_km": np.where(outer, r_out, r_in),
        "angle": rng.random(n) * 2 * np.pi,
        "prep_unit": rng.gamma(4.0, 0.25, size=n) * (1.0 + LOAD_SENSITIVITY * (hourly_load[hour] - 1.0)),
        "handover_min": rng.gamma(2.0, 1.0, size=n),
        "travel_noise": rng.lognormal(0.0, 0.15, size=n),
    }


def delivery_minutes(draws: dict[str, np.ndarray], prep_min: float, speed_kmh: float) -> np.ndarray:
    """Minutes from order to doorstep: picking, handover and the ride."""
    ride = TORTUOSITY * draws["distance_km"] / speed_kmh * 60.0 * draws["travel_noise"]
    return prep_min * draws["prep_unit"] + draws["handover_min"] + ride


def hourly_load(density: np.ndarray) -> np.ndarray:
    """Each hour's order rate relative to the day's mean hour (24 values, mean 1)."""
    hours = density.reshape(24, 3600).sum(axis=1)
    return hours / hours.mean()


def _place(rng: np.random.Generator, n: int, spread: float, s: Stores) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(s.city_width_km / 2, spread * s.city_width_km, size=n).clip(0, s.city_width_km)
    y = rng.normal(s.city_height_km / 2, spread * s.city_width_km, size=n).clip(0, s.city_height_km)
    return x, y


def city_tables(
    rng: np.random.Generator,
    p: CityParams,
    s: Stores,
    density: np.ndarray,
    *,
    event_date: str,
    fx_rmb_per_usd: float,
    prep_min: float,
    partition: int,
) -> dict[str, pl.DataFrame]:
    """Stores, the store-fulfilled orders of the day, the daily store panel, and its ground truth."""
    counts = {"hema": s.hema_stores, "sanjiang": s.sanjiang_stores, "other": s.other_supermarkets}
    kinds = np.concatenate([np.full(counts[k], i, dtype=np.int8) for i, k in enumerate(STORE_TYPES)])
    n_st = kinds.size
    xs, ys = zip(*(_place(rng, counts[k], STORE_SPREAD[k], s) for k in STORE_TYPES), strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    level = np.array([LOG_SALES_RMB[STORE_TYPES[k]] for k in kinds]) + rng.normal(0, STORE_LEVEL_SD, n_st)
    trend = rng.normal(0.0, TREND_SD, n_st)

    # pilot choice among Sanjiang stores: random, or ranked on own sales growth as selection rises
    sanjiang = np.flatnonzero(kinds == 1)
    growth_z = (trend[sanjiang] - trend[sanjiang].mean()) / (trend[sanjiang].std() + 1e-12)
    score = 3.0 * s.pilot_selection_on_growth * growth_z + rng.gumbel(size=sanjiang.size)
    pilot = np.zeros(n_st, dtype=bool)
    pilot[sanjiang[np.argsort(-score, kind="stable")[: p.pilot_stores]]] = True
    dist_to_pilot = np.sqrt((x[:, None] - x[pilot][None, :]) ** 2 + (y[:, None] - y[pilot][None, :]) ** 2).min(1)
    exposed = ~pilot & (dist_to_pilot <= s.spillover_radius_km)
    store_id = np.arange(n_st, dtype=np.int32)
    stores = pl.DataFrame(
        {
            "store_id": store_id,
            "store_type": _enum(kinds, STORE_TYPES),
            "pilot": pilot,
            "x_km": np.round(x, 3),
            "y_km": np.round(y, 3),
        }
    )

    # daily panel
    days = np.arange(-s.panel_days_before, s.panel_days_after)
    n_d = days.size
    start = date.fromisoformat(event_date)
    dates = [start + timedelta(days=int(d)) for d in days]
    weekday = np.array([d.weekday() for d in dates])
    common = rng.normal(0.0, DAY_SHOCK_SD, n_d) + EVENT_DAY_LOG * (days == 0)
    noise = np.empty((n_st, n_d))
    noise[:, 0] = rng.normal(0.0, NOISE_SD, n_st)
    innovations = rng.normal(0.0, NOISE_SD * np.sqrt(1 - NOISE_AR**2), (n_st, n_d))
    for t in range(1, n_d):  # AR(1) over days: one step per day for all stores at once
        noise[:, t] = NOISE_AR * noise[:, t - 1] + innovations[:, t]
    base_log = level[:, None] + trend[:, None] * days[None, :] / 30.0 + WEEKDAY_LOG[weekday][None, :]
    base_log = base_log + common[None, :] + noise
    post = days[None, :] >= 0
    effect = post * (s.pilot_effect * pilot[:, None] + s.spillover_effect * exposed[:, None])
    sales = np.exp(base_log + effect)
    transactions = rng.poisson(sales / BASKET_RMB)
    store_days = pl.DataFrame(
        {
            "store_id": np.repeat(store_id, n_d),
            "date": pl.Series(np.tile(np.array(dates, dtype="datetime64[D]"), n_st)).cast(pl.Date),
            "day": np.tile(days, n_st).astype(np.int32),
            "sales_rmb": np.round(sales.ravel(), 2),
            "transactions": transactions.ravel().astype(np.int64),
        }
    )
    truth_store_days = pl.DataFrame(
        {
            "store_id": np.repeat(store_id, n_d),
            "day": np.tile(days, n_st).astype(np.int32),
            "sales_rmb_without_pilot": np.round(np.exp(base_log).ravel(), 2),
            "true_effect_log": effect.ravel(),
            "spillover_exposed": np.repeat(exposed, n_d),
            "trend_log_per_30d": np.repeat(trend, n_d),
        }
    )

    # delivery orders of the day from Hema stores and from the pilot stores
    load = hourly_load(density)
    frames = []
    for kind, mask, per_store, prep, speed in (
        ("hema", kinds == 0, s.hema_orders_per_store, prep_min, p.hema_speed_kmh),
        (
            "sanjiang",
            pilot,
            s.sanjiang_orders_per_pilot_store,
            prep_min * p.sanjiang_prep_multiplier,
            p.sanjiang_speed_kmh,
        ),
    ):
        ids = store_id[mask]
        n_each = rng.poisson(per_store, size=ids.size)
        owner = np.repeat(np.arange(ids.size), n_each)
        d = draw_delivery(rng, owner.size, p.radius_km, load, density)
        minutes = delivery_minutes(d, prep, speed)
        value_rmb = np.round(rng.lognormal(np.log(ORDER_VALUE_RMB[kind]) - 0.18, 0.6, owner.size), 2)
        frames.append(
            pl.DataFrame(
                {
                    "ts_us": d["ts_us"],
                    "store_id": ids[owner],
                    "distance_km": np.round(d["distance_km"], 4),
                    "delivery_min": np.round(minutes, 3),
                    "gmv_rmb": value_rmb,
                }
            )
        )
    store_orders = pl.concat(frames).sort("ts_us", "store_id")
    n_o = store_orders.height
    orders = pl.DataFrame(
        {
            "order_id": _ids(4, partition, n_o),
            "visit_id": pl.Series([None] * n_o, dtype=pl.Int64),
            "user_id": pl.Series([None] * n_o, dtype=pl.Int64),
            "ts_us": store_orders["ts_us"],
            "paid_ts_us": store_orders["ts_us"],
            "gmv_usd": (store_orders["gmv_rmb"] / fx_rmb_per_usd).round(2),
            "gmv_rmb": store_orders["gmv_rmb"],
            "channel": _enum(np.ones(n_o, dtype=np.int8), CHANNELS),
            "device": _enum(np.zeros(n_o, dtype=np.int8), DEVICES),
            "parcel_delivery": np.zeros(n_o, dtype=bool),
            "store_id": store_orders["store_id"],
            "distance_km": store_orders["distance_km"],
            "delivery_min": store_orders["delivery_min"],
        }
    )
    return {"stores": stores, "store_days": store_days, "truth_store_days": truth_store_days, "orders": orders}


def expected_store_orders(s: Stores, pilots: int) -> tuple[float, float]:
    """Expected store-fulfilled orders on the day and their expected GMV in RMB."""
    n_h = s.hema_stores * s.hema_orders_per_store
    n_s = pilots * s.sanjiang_orders_per_pilot_store
    return n_h + n_s, n_h * ORDER_VALUE_RMB["hema"] + n_s * ORDER_VALUE_RMB["sanjiang"]
