"""Shoppers on the day: users, their visits, the pages they see, and the online orders they place.

One partition is one shard of users with all their visits, page views and orders, so keys stay consistent
inside a partition and partitions are independent of each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from scipy.special import expit

from newretail.generate import random_effects
from newretail.generate.traffic import sample_ts_us
from newretail.tables.categories import AGE_BANDS, CHANNELS, DEVICES, PAGE_TYPES, SEGMENTS, SOURCES

SEGMENT_P = np.array([0.15, 0.35, 0.35, 0.15])
SEGMENT_INTENT = np.array([-0.6, -0.2, 0.2, 0.7])
SEGMENT_VIP_P = np.array([0.02, 0.05, 0.12, 0.35])
AGE_P = np.array([0.25, 0.38, 0.24, 0.13])
TIER_P = np.array([0.18, 0.27, 0.25, 0.18, 0.12])
SOURCE_P = np.array([0.35, 0.30, 0.20, 0.15])
SOURCE_LOGIT = np.array([0.20, 0.0, 0.30, -0.40])
PAGE_TYPE_P = np.array([0.15, 0.20, 0.45, 0.12, 0.08])


@dataclass(frozen=True)
class ShopperParams:
    """Internal parameters of the shopper model, solved by calibration (see ``calibrate.py``)."""

    intent_mean: float
    intent_sd: float
    targeting_intercept: float  # log-odds of personalization at average intent
    targeting_slope: float  # log-odds per sd of intent
    conversion_intercept: float  # log-odds of conversion at average intent, source "recommendation"
    intent_weight: float  # log-odds per sd of intent
    effect_intercept: float  # true log-odds effect of personalization at average intent
    effect_slope: float  # change of that effect per sd of intent
    visits_per_user: float  # mean visits per active user on the day
    pages_per_visit: float  # mean pages per visit
    pages_dispersion: float  # negative-binomial shape of (pages - 1)
    page_dwell_s: float  # s, mean time on a page
    user_activity_shape: float
    mobile_share: float
    parcel_share: float  # share of online orders that need a parcel delivery
    value_log_mean: float  # log-USD location of the order value of a non-VIP order
    value_log_sd: float
    vip_value_multiplier: float
    spike_height: float  # midnight spike relative to the diurnal curve
    payment_delay_s: float  # s, mean delay from order to payment
    fx_rmb_per_usd: float
    conversion_sd: float = 0.0  # log-odds sd of the shopper's random effect on converting


def cart_items_mean(latent: np.ndarray, segment: np.ndarray | int) -> np.ndarray:
    """Mean items in the cart at midnight given the latent propensity (sd units) and the segment."""
    return np.exp(0.8 + 0.6 * latent + 0.5 * SEGMENT_INTENT[segment])


def past_orders_mean(latent: np.ndarray, segment: np.ndarray | int, vip: np.ndarray | bool) -> np.ndarray:
    """Mean orders in the 90 days before the event given latent propensity, segment and VIP membership."""
    return np.exp(0.9 + 0.4 * latent + 0.6 * SEGMENT_INTENT[segment] + 0.5 * vip)


def user_feature_distribution(nodes: int = 64, tail: float = 1e-13) -> dict[str, np.ndarray]:
    """The exact joint distribution of the features that drive conversion and order value, for calibration.

    Cells of (segment, is_vip, cart_items, past_orders_90d) with their probability ``mass`` (summing to 1),
    integrating the latent propensity by Gauss-Hermite quadrature and the Poisson counts up to a tail of
    ``tail``. Expectations over it carry no sampling error, so calibration stays exact at any scale.

    Computed once per (``nodes``, ``tail``) and process (the frontier searches ask for it hundreds of times); the
    arrays are read-only, in a new dict on each call.
    """
    return dict(_user_feature_distribution(int(nodes), float(tail)))


@lru_cache(maxsize=4)
def _user_feature_distribution(nodes: int, tail: float) -> dict[str, np.ndarray]:
    from scipy import stats  # here, not at the top: the partition workers never need it (1 s of import each)

    x, wq = np.polynomial.hermite_e.hermegauss(nodes)
    wq = wq / wq.sum()
    x, wq = x[wq > 1e-20], wq[wq > 1e-20]
    cols: dict[str, list[np.ndarray]] = {
        "segment": [],
        "is_vip": [],
        "cart_items": [],
        "past_orders_90d": [],
        "mass": [],
    }
    for seg in range(len(SEGMENTS)):
        for vip in (False, True):
            p_sv = SEGMENT_P[seg] * (SEGMENT_VIP_P[seg] if vip else 1.0 - SEGMENT_VIP_P[seg])
            lam_c, lam_p = cart_items_mean(x, seg), past_orders_mean(x, seg, vip)
            c = np.arange(int(stats.poisson.isf(tail, lam_c.max())) + 1)
            p = np.arange(int(stats.poisson.isf(tail, lam_p.max())) + 1)
            pc = stats.poisson.pmf(c[:, None], lam_c[None, :])
            pp = stats.poisson.pmf(p[:, None], lam_p[None, :])
            joint = p_sv * np.einsum("cn,pn,n->cp", pc, pp, wq)
            ci, pi = np.nonzero(joint > tail * 1e-3)
            cols["segment"].append(np.full(ci.size, seg, dtype=np.int8))
            cols["is_vip"].append(np.full(ci.size, vip))
            cols["cart_items"].append(c[ci])
            cols["past_orders_90d"].append(p[pi])
            cols["mass"].append(joint[ci, pi])
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out["mass"] = out["mass"] / out["mass"].sum()
    for values in out.values():
        values.setflags(write=False)
    return out


def draw_users(rng: np.random.Generator, n: int, activity_shape: float) -> dict[str, np.ndarray]:
    """Observed user features, plus each user's activity multiplier (mean 1)."""
    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_P)
    latent = rng.standard_normal(n)
    vip = rng.random(n) < SEGMENT_VIP_P[segment]
    cart_items = rng.poisson(cart_items_mean(latent, segment))
    past_orders = rng.poisson(past_orders_mean(latent, segment, vip))
    return {
        "segment": segment.astype(np.int8),
        "age_band": rng.choice(len(AGE_BANDS), size=n, p=AGE_P).astype(np.int8),
        "city_tier": (rng.choice(len(TIER_P), size=n, p=TIER_P) + 1).astype(np.int8),
        "is_vip": vip,
        "cart_items": cart_items.astype(np.int16),
        "past_orders_90d": past_orders.astype(np.int16),
        "activity": rng.gamma(activity_shape, 1.0 / activity_shape, size=n),
    }


def intent_raw(users: dict[str, np.ndarray]) -> np.ndarray:
    """Purchase intent before standardisation: a fixed function of observed features only, so the true
    conversion probability is learnable from the data (the oracle is the best a model can do)."""
    return (
        SEGMENT_INTENT[users["segment"]]
        + 0.55 * np.log1p(users["cart_items"])
        + 0.35 * np.log1p(users["past_orders_90d"])
        + 0.30 * users["is_vip"]
    )


def conversion_logit(p: ShopperParams, intent: np.ndarray, source: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """True log-odds of conversion of a visit."""
    effect = p.effect_intercept + p.effect_slope * intent
    return p.conversion_intercept + p.intent_weight * intent + SOURCE_LOGIT[source] + effect * treated


def _enum(values: np.ndarray, categories: tuple[str, ...]) -> pl.Series:
    code = np.uint8 if len(categories) <= 255 else np.uint32  # the Enum's physical type: no widening copy
    return pl.Series(np.asarray(values).astype(code, copy=False)).cat.to(pl.Enum(list(categories)))


def _ids(tag: int, partition: int, n: int) -> np.ndarray:
    """Globally unique int64 ids: table tag in the top byte, partition in the next 24 bits."""
    first = (tag << 56) | (partition << 32)
    return np.arange(first, first + n, dtype=np.int64)


def _categorical(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``n`` category codes (uint8) drawn with probabilities ``p``.

    The same numbers as ``rng.choice(len(p), size=n, p=p)`` (one uniform per draw, compared with the cumulative
    probabilities), by a few vectorised comparisons instead of a binary search: several times faster for short ``p``.
    """
    cdf = np.cumsum(p)
    cdf /= cdf[-1]
    u = rng.random(n)
    codes = np.zeros(n, dtype=np.uint8)
    for edge in cdf[:-1]:
        codes += u >= edge
    return codes


def _within_group_index(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each consecutive group of the given sizes (int32)."""
    total = int(counts.sum())
    dtype = np.int32 if total < 2**31 else np.int64
    starts = np.cumsum(counts, dtype=dtype) - counts.astype(dtype, copy=False)
    return (np.arange(total, dtype=dtype) - np.repeat(starts, counts)).astype(np.int32, copy=False)


@dataclass(frozen=True)
class _Visits:
    """A shard's visits as arrays, for the tables drawn from them (page views, orders)."""

    owner: np.ndarray  # each visit's user, as an index into the shard's users
    visit_id: np.ndarray
    mobile: np.ndarray
    personalized: np.ndarray
    converted: np.ndarray
    n_pages: np.ndarray
    end_ts: np.ndarray


def shopper_tables(
    rng: np.random.Generator,
    p: ShopperParams,
    density: np.ndarray,
    *,
    partition: int,
    first_user_id: int,
    n_users: int,
    seed: int = 0,
) -> dict[str, pl.DataFrame]:
    """One shard of users with their visits, page views, online orders and the visits' ground truth.

    Each shopper's random effect on converting (``p.conversion_sd`` times a normal fixed by ``seed`` and the
    user id) is shared by all the shopper's visits. The draws come from ``rng`` in a fixed order: users, visits,
    page views, orders.
    """
    users = draw_users(rng, n_users, p.user_activity_shape)
    user_id = np.arange(first_user_id, first_user_id + n_users, dtype=np.int64)
    visits, truth_visits, v = _visit_tables(rng, p, density, users, user_id, partition=partition, seed=seed)
    return {
        "users": _users_frame(users, user_id),
        "visits": visits,
        "page_views": _page_views(rng, p, v, user_id, partition=partition),
        "orders": _orders(rng, p, v, users, user_id, partition=partition),
        "truth_visits": truth_visits,
    }


def _visit_tables(
    rng: np.random.Generator,
    p: ShopperParams,
    density: np.ndarray,
    users: dict[str, np.ndarray],
    user_id: np.ndarray,
    *,
    partition: int,
    seed: int,
) -> tuple[pl.DataFrame, pl.DataFrame, _Visits]:
    """The visits (Poisson per user around the user's activity) and their ground truth."""
    n_users = user_id.size
    intent_user = (intent_raw(users) - p.intent_mean) / p.intent_sd
    shift_user = p.conversion_sd * random_effects.entity_normal(seed, random_effects.SHOPPER_CONVERSION, user_id)
    n_visits = rng.poisson(p.visits_per_user * users["activity"])
    n_v = int(n_visits.sum())
    owner = np.repeat(np.arange(n_users), n_visits)
    intent = intent_user[owner]
    visit_id = _ids(1, partition, n_v)
    source = _categorical(rng, SOURCE_P, n_v)
    mobile = rng.random(n_v) < p.mobile_share
    propensity = expit(p.targeting_intercept + p.targeting_slope * intent)
    personalized = rng.random(n_v) < propensity
    shift = shift_user[owner]
    p0 = expit(conversion_logit(p, intent, source, np.zeros(n_v)) + shift)
    p1 = expit(conversion_logit(p, intent, source, np.ones(n_v)) + shift)
    p_actual = np.where(personalized, p1, p0)
    converted = rng.random(n_v) < p_actual
    extra = rng.negative_binomial(
        p.pages_dispersion, p.pages_dispersion / (p.pages_dispersion + p.pages_per_visit - 1.0), size=n_v
    )
    n_pages = (1 + extra).astype(np.int32)
    end_ts = sample_ts_us(rng, density, n_v)

    visits = pl.DataFrame(
        {
            "visit_id": visit_id,
            "user_id": user_id[owner],
            "ts_us": end_ts,
            "device": _enum(np.where(mobile, 0, 1), DEVICES),
            "source": _enum(source, SOURCES),
            "n_pages": n_pages,
            "personalized": personalized,
            "converted": converted,
        }
    )
    truth_visits = pl.DataFrame(
        {
            "visit_id": visit_id,
            "intent_sd": intent.astype(np.float64),
            "propensity": propensity,
            "p_convert": p_actual,
            "p_convert_personalized": p1,
            "p_convert_other": p0,
            "true_uplift": p1 - p0,
        }
    )
    return visits, truth_visits, _Visits(owner, visit_id, mobile, personalized, converted, n_pages, end_ts)


def _page_views(
    rng: np.random.Generator, p: ShopperParams, v: _Visits, user_id: np.ndarray, *, partition: int
) -> pl.DataFrame:
    """Page views stamped backwards from the end of the visit, one dwell time per page; per-visit values are spread
    to pages with np.repeat (faster than gathering by index, and the same numbers)."""
    n_pages = v.n_pages
    n_pv = int(n_pages.sum())
    dwell_us = rng.exponential(p.page_dwell_s * 1e6, size=n_pv)
    page_index = _within_group_index(n_pages)
    cum = np.cumsum(dwell_us)
    last = np.cumsum(n_pages, dtype=np.int64) - 1  # index of each visit's last page
    after = np.repeat(cum[last], n_pages)
    after -= cum  # dwell of the pages after this one in the same visit
    page_ts = np.repeat(v.end_ts, n_pages)
    page_ts -= after.astype(np.int64)
    page_type = _categorical(rng, PAGE_TYPE_P, n_pv)
    page_converted = np.zeros(n_pv, dtype=bool)
    page_converted[last[v.converted]] = True  # the order is placed from the last page of a converted visit
    pages_per_user = np.bincount(v.owner, weights=n_pages, minlength=user_id.size).astype(np.int64)
    return pl.DataFrame(
        {
            "page_view_id": _ids(2, partition, n_pv),
            "visit_id": np.repeat(v.visit_id, n_pages),
            "user_id": np.repeat(user_id, pages_per_user),
            "ts_us": page_ts,
            "page_index": page_index,
            "page_type": _enum(page_type, PAGE_TYPES),
            "personalized": np.repeat(v.personalized, n_pages),
            "converted": page_converted,
        }
    )


def _orders(
    rng: np.random.Generator,
    p: ShopperParams,
    v: _Visits,
    users: dict[str, np.ndarray],
    user_id: np.ndarray,
    *,
    partition: int,
) -> pl.DataFrame:
    """One online order per converted visit, placed at the end of the visit."""
    buyer = np.flatnonzero(v.converted)
    n_o = buyer.size
    vip = users["is_vip"][v.owner[buyer]]
    value = np.exp(p.value_log_mean + p.value_log_sd * rng.standard_normal(n_o))
    value = np.round(value * np.where(vip, p.vip_value_multiplier, 1.0), 2)
    paid = v.end_ts[buyer] + rng.exponential(p.payment_delay_s * 1e6, size=n_o).astype(np.int64)
    return pl.DataFrame(
        {
            "order_id": _ids(3, partition, n_o),
            "visit_id": v.visit_id[buyer],
            "user_id": user_id[v.owner[buyer]],
            "ts_us": v.end_ts[buyer],
            "paid_ts_us": paid,
            "gmv_usd": value,
            "gmv_rmb": np.round(value * p.fx_rmb_per_usd, 2),
            "channel": _enum(np.zeros(n_o, dtype=np.int8), CHANNELS),
            "device": _enum(np.where(v.mobile[buyer], 0, 1), DEVICES),
            "parcel_delivery": rng.random(n_o) < p.parcel_share,
            "store_id": pl.Series([None] * n_o, dtype=pl.Int32),
            "distance_km": pl.Series([None] * n_o, dtype=pl.Float64),
            "delivery_min": pl.Series([None] * n_o, dtype=pl.Float64),
        }
    )


def _users_frame(users: dict[str, np.ndarray], user_id: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": user_id,
            "segment": _enum(users["segment"], SEGMENTS),
            "age_band": _enum(users["age_band"], AGE_BANDS),
            "city_tier": users["city_tier"],
            "is_vip": users["is_vip"],
            "cart_items": users["cart_items"],
            "past_orders_90d": users["past_orders_90d"],
        }
    )
