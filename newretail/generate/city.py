"""A Ningbo-like city: Hema stores, Sanjiang supermarkets (13 of them in the pilot), other supermarkets, their
delivery orders on the day, a daily sales panel around the pilot, and the households of the city.

Distances are in km on a flat plane, times in minutes. The pilot starts on the event day (``day`` 0). A scenario
may roll the pilot's format out further (``behaviour.stores.rollout_waves``): more Sanjiang stores open it in later
waves (:meth:`newretail.scenario.Stores.rollout_waves_of` says which and when), each store's effect on its log sales
growing with the weeks since it opened and differing by wave; the day's delivery orders stay the pilot's.

Households live in residential blocks drawn from a density (a dense core, a few satellite towns, a thin
background). Each store's panel carries the online grocery orders delivered within the catchment radius of the
store; households within a pilot's catchment shift part of those orders into the pilot stores
(``behaviour.stores.cannibalisation_log``), so a pilot's store uplift is not all new sales.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from newretail.generate.shoppers import _enum, _ids
from newretail.generate.traffic import sample_ts_us
from newretail.scenario import Stores
from newretail.tables.categories import CHANNELS, DEVICES, STORE_TYPES

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
HOUSEHOLD_SHARES = {"core": 0.70, "satellite": 0.15}  # the rest is a uniform background
HOUSEHOLD_CORE_SPREAD = 0.16  # sd of the core's households, share of city width
SATELLITE_TOWNS = 5
SATELLITE_SPREAD_KM = 2.5
BLOCK_SIZE_SHAPE = 2.0  # gamma shape of households per block
ONLINE_WEEKDAY_LOG = np.array([0.01, 0.0, 0.0, -0.01, -0.02, 0.03, 0.04])  # Monday first
ONLINE_EVENT_DAY_LOG = 1.2  # online grocery orders on Singles' Day itself
ONLINE_PRE_EVENT_LOG = -0.08  # households wait for the sale in the three days before it
ONLINE_DAY_SHOCK_SD = 0.03
ONLINE_NOISE_SD = 0.03  # day-to-day noise of a catchment's orders beyond Poisson counting noise
ONLINE_BASKET_RMB = 60.0


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


def _fold(v: np.ndarray, extent: float) -> np.ndarray:
    """Reflect positions at the city's edges back into [0, extent] (no pile-up on the boundary)."""
    m = np.mod(v, 2.0 * extent)
    return np.where(m > extent, 2.0 * extent - m, m)


def _place(rng: np.random.Generator, n: int, spread: float, s: Stores) -> tuple[np.ndarray, np.ndarray]:
    x = _fold(rng.normal(s.city_width_km / 2, spread * s.city_width_km, size=n), s.city_width_km)
    y = _fold(rng.normal(s.city_height_km / 2, spread * s.city_width_km, size=n), s.city_height_km)
    return x, y


@dataclass(frozen=True)
class Panel:
    """The store panel as arrays (stores by days), before it is written out."""

    kinds: np.ndarray  # store type index per store
    x: np.ndarray  # km
    y: np.ndarray  # km
    pilot: np.ndarray  # bool per store
    wave: np.ndarray  # wave of the rollout per store (0: the pilot; -1: never opens)
    open_day: np.ndarray  # day the store opens the pilot's format (0 for stores that never do), per store
    days: np.ndarray  # days since the pilot started
    dates: np.ndarray  # datetime64[D] per day
    weekday: np.ndarray  # 0 = Monday, per day
    sales_without_pilot: np.ndarray  # RMB, stores x days
    effect_log: np.ndarray  # stores x days
    exposed: np.ndarray  # bool per store
    trend: np.ndarray  # log per 30 days, per store
    transactions: np.ndarray  # stores x days


def draw_store_panel(rng: np.random.Generator, s: Stores, *, pilot_stores: int, event_date: str) -> Panel:
    """Place the stores, choose the pilots (and the later waves of a rollout) and draw the daily sales panel (log
    sales = level + own trend + weekday + common day shocks + AR(1) noise + the effect of the store's opening, from
    day 0 for the pilots and later for a rollout's later waves, or of the spill-over from an opening nearby)."""
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
    pilot[sanjiang[np.argsort(-score, kind="stable")[:pilot_stores]]] = True
    # the rollout: the pilot on day 0, later waves of Sanjiang stores from the centre outwards (positions as stored)
    wave = s.rollout_waves_of(sanjiang=kinds == 1, pilot=pilot, x_km=np.round(x, 3), y_km=np.round(y, 3))
    opens = wave >= 0
    open_day = np.where(opens, wave, 0) * s.rollout_days_between_waves
    dist = np.sqrt((x[:, None] - x[opens][None, :]) ** 2 + (y[:, None] - y[opens][None, :]) ** 2)
    near = dist <= s.spillover_radius_km
    exposed = ~opens & near.any(axis=1)
    # the day each store's effect starts: its opening; for a control near the rollout, the first opening nearby
    first_near = np.where(near, open_day[opens][None, :], np.iinfo(np.int64).max).min(axis=1)
    effect_from = np.where(opens, open_day, np.where(exposed, first_near, 0))

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
    effect = store_effects(s, wave=wave, open_day=open_day, effect_from=effect_from, exposed=exposed, days=days)
    transactions = rng.poisson(np.exp(base_log + effect) / BASKET_RMB)
    return Panel(
        kinds=kinds,
        x=x,
        y=y,
        pilot=pilot,
        wave=wave,
        open_day=open_day,
        days=days,
        dates=np.array(dates, dtype="datetime64[D]"),
        weekday=weekday,
        sales_without_pilot=np.exp(base_log),
        effect_log=effect,
        exposed=exposed,
        trend=trend,
        transactions=transactions,
    )


def store_effects(
    s: Stores,
    *,
    wave: np.ndarray,
    open_day: np.ndarray,
    effect_from: np.ndarray,
    exposed: np.ndarray,
    days: np.ndarray,
) -> np.ndarray:
    """True effect on each store's log sales per day (stores x days): for a store of wave ``w`` open for ``e``
    days, ``pilot_effect + w * rollout_effect_change_per_wave + e / 7 * pilot_effect_growth_per_week``; for a
    control store within the spill-over radius, ``spillover_effect`` from ``effect_from`` (its first nearby
    opening).

    With the single-day pilot every term is as it always was (``post * (effect * pilot + spill * exposed)``), so the
    default scenario's bytes do not change."""
    opens = wave >= 0
    since = days[None, :] - open_day[:, None]  # days since the store opened
    size = s.pilot_effect + s.rollout_effect_change_per_wave * wave[:, None]
    size = size + s.pilot_effect_growth_per_week * (np.maximum(since, 0) / 7.0)
    on = days[None, :] >= effect_from[:, None]
    return on * (size * opens[:, None] + s.spillover_effect * exposed[:, None])


def draw_households(rng: np.random.Generator, s: Stores) -> pl.DataFrame:
    """Residential blocks of the city with their households: a dense core, satellite towns, a thin background."""
    n = s.household_blocks
    part = rng.choice(
        3, size=n, p=[HOUSEHOLD_SHARES["core"], HOUSEHOLD_SHARES["satellite"], 1 - sum(HOUSEHOLD_SHARES.values())]
    )
    w, h = s.city_width_km, s.city_height_km
    towns = np.column_stack(
        [rng.uniform(0.15 * w, 0.85 * w, SATELLITE_TOWNS), rng.uniform(0.15 * h, 0.85 * h, SATELLITE_TOWNS)]
    )
    town = rng.integers(0, SATELLITE_TOWNS, size=n)
    core = rng.normal(0.0, HOUSEHOLD_CORE_SPREAD * w, size=(n, 2)) + np.array([w / 2, h / 2])
    satellite = towns[town] + rng.normal(0.0, SATELLITE_SPREAD_KM, size=(n, 2))
    background = rng.uniform(0.0, 1.0, size=(n, 2)) * np.array([w, h])
    xy = np.where((part == 0)[:, None], core, np.where((part == 1)[:, None], satellite, background))
    xy = np.column_stack([_fold(xy[:, 0], w), _fold(xy[:, 1], h)])
    size = rng.gamma(BLOCK_SIZE_SHAPE, 1.0, size=n)
    households = np.maximum(1, np.round(size / size.sum() * s.households)).astype(np.int64)
    return pl.DataFrame(
        {
            "block_id": np.arange(n, dtype=np.int32),
            "x_km": np.round(xy[:, 0], 3),
            "y_km": np.round(xy[:, 1], 3),
            "households": households,
        }
    )


def catchment_online(
    rng: np.random.Generator, panel: Panel, households: pl.DataFrame, s: Stores, *, radius_km: float
) -> dict[str, np.ndarray]:
    """Online grocery orders delivered within ``radius_km`` of each store, RMB per day (stores x days), with and
    without the pilot's cannibalisation, and the true effect on their log. Households within the catchment of a
    store that has opened the pilot's format (the pilot from day 0, later waves of a rollout from their opening)
    shift part of their orders into it."""
    bx, by = households["x_km"].to_numpy(), households["y_km"].to_numpy()
    hh = households["households"].to_numpy().astype(np.float64)
    member = np.hypot(panel.x[:, None] - bx[None, :], panel.y[:, None] - by[None, :]) <= radius_km
    # plain sums, not BLAS products: the bytes must not depend on the number of BLAS threads
    h_all = np.where(member, hh[None, :], 0.0).sum(axis=1)
    kept = np.exp(-s.cannibalisation_log)
    days = panel.days
    n_st, n_d = panel.sales_without_pilot.shape
    effect = np.zeros((n_st, n_d))
    opens = panel.wave >= 0
    for day in np.unique(panel.open_day[opens]):  # one step per wave of openings
        near_open = member[opens & (panel.open_day <= day)].any(axis=0)  # blocks within an open store's catchment
        h_open = np.where(member, (hh * near_open)[None, :], 0.0).sum(axis=1)
        share_left = np.divide(h_all - (1.0 - kept) * h_open, h_all, out=np.ones_like(h_all), where=h_all > 0)
        effect = np.where(days[None, :] >= day, np.log(share_left)[:, None], effect)
    common = (
        rng.normal(0.0, ONLINE_DAY_SHOCK_SD, n_d)
        + ONLINE_WEEKDAY_LOG[panel.weekday]
        + ONLINE_EVENT_DAY_LOG * (days == 0)
        + ONLINE_PRE_EVENT_LOG * ((days >= -3) & (days < 0))
    )
    mean_rmb = h_all * s.online_grocery_rmb_per_household
    counting_sd = np.sqrt(ONLINE_BASKET_RMB / np.maximum(mean_rmb, ONLINE_BASKET_RMB))
    sd = np.sqrt(ONLINE_NOISE_SD**2 + counting_sd**2)
    noise = np.empty((n_st, n_d))
    noise[:, 0] = rng.normal(0.0, 1.0, n_st) * sd
    innovations = rng.normal(0.0, 1.0, (n_st, n_d)) * (sd * np.sqrt(1 - NOISE_AR**2))[:, None]
    for t in range(1, n_d):  # AR(1) over days, all stores at once
        noise[:, t] = NOISE_AR * noise[:, t - 1] + innovations[:, t]
    without = mean_rmb[:, None] * np.exp(common[None, :] + noise)
    return {"without": without, "with": without * np.exp(effect), "effect_log": effect}


def simulate_city(
    rng: np.random.Generator, s: Stores, *, pilot_stores: int, radius_km: float, event_date: str
) -> dict[str, pl.DataFrame]:
    """The city's stores, households, store panel and its ground truth, without the day's delivery orders.

    With the random stream of the dataset's city partition this gives the dataset's tables (other than
    ``orders``); with any other stream, a fresh city under the same behaviour (fast: for simulations).
    """
    household_rng, online_rng = rng.spawn(2)
    panel = draw_store_panel(rng, s, pilot_stores=pilot_stores, event_date=event_date)
    return _panel_tables(panel, household_rng, online_rng, s, radius_km=radius_km)


def _panel_tables(
    panel: Panel, household_rng: np.random.Generator, online_rng: np.random.Generator, s: Stores, *, radius_km: float
) -> dict[str, pl.DataFrame]:
    households = draw_households(household_rng, s)
    online = catchment_online(online_rng, panel, households, s, radius_km=radius_km)
    n_st, n_d = panel.sales_without_pilot.shape
    store_id = np.arange(n_st, dtype=np.int32)
    stores = pl.DataFrame(
        {
            "store_id": store_id,
            "store_type": _enum(panel.kinds, STORE_TYPES),
            "pilot": panel.pilot,
            "x_km": np.round(panel.x, 3),
            "y_km": np.round(panel.y, 3),
        }
    )
    sales = panel.sales_without_pilot * np.exp(panel.effect_log)
    store_days = pl.DataFrame(
        {
            "store_id": np.repeat(store_id, n_d),
            "date": pl.Series(np.tile(panel.dates, n_st)).cast(pl.Date),
            "day": np.tile(panel.days, n_st).astype(np.int32),
            "sales_rmb": np.round(sales.ravel(), 2),
            "transactions": panel.transactions.ravel().astype(np.int64),
            "catchment_online_rmb": np.round(online["with"].ravel(), 2),
        }
    )
    truth_store_days = pl.DataFrame(
        {
            "store_id": np.repeat(store_id, n_d),
            "day": np.tile(panel.days, n_st).astype(np.int32),
            "sales_rmb_without_pilot": np.round(panel.sales_without_pilot.ravel(), 2),
            "true_effect_log": panel.effect_log.ravel(),
            "spillover_exposed": np.repeat(panel.exposed, n_d),
            "trend_log_per_30d": np.repeat(panel.trend, n_d),
            "catchment_online_rmb_without_pilot": np.round(online["without"].ravel(), 2),
            "true_online_effect_log": online["effect_log"].ravel(),
        }
    )
    return {
        "stores": stores,
        "households": households,
        "store_days": store_days,
        "truth_store_days": truth_store_days,
    }


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
    """Stores, households, the store-fulfilled orders of the day, the daily store panel, and its ground truth."""
    household_rng, online_rng = rng.spawn(2)
    panel = draw_store_panel(rng, s, pilot_stores=p.pilot_stores, event_date=event_date)
    kinds, pilot = panel.kinds, panel.pilot
    store_id = np.arange(kinds.size, dtype=np.int32)

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
    tables = _panel_tables(panel, household_rng, online_rng, s, radius_km=p.radius_km)
    return {**tables, "orders": orders}


def expected_store_orders(s: Stores, pilots: int) -> tuple[float, float]:
    """Expected store-fulfilled orders on the day and their expected GMV in RMB."""
    n_h = s.hema_stores * s.hema_orders_per_store
    n_s = pilots * s.sanjiang_orders_per_pilot_store
    return n_h + n_s, n_h * ORDER_VALUE_RMB["hema"] + n_s * ORDER_VALUE_RMB["sanjiang"]
