"""Every table's schema, declared once: column names carry units, descriptions say what a column means.

``newretail verify`` validates each partition against these, and ``docs/data_dictionary.md`` is generated
from them (``python -m newretail.tables``), so the two never disagree.
"""

from __future__ import annotations

import dataframely as dy
import polars as pl

from newretail.tables.categories import (
    AGE_BANDS,
    CHANNELS,
    CREATIVE_SOURCES,
    CUE_STYLES,
    DEVICES,
    HANDLERS,
    INTENTS,
    PAGE_TYPES,
    PLACEMENTS,
    SEGMENTS,
    SOURCES,
    STORE_TYPES,
)

__all__ = ["SCHEMAS", "data_dictionary", "polars_schema"]

TS = "microseconds since the event's local midnight"


class Users(dy.Schema):
    """Users active on the day (a sample of ``scale`` of them)."""

    user_id = dy.Int64(primary_key=True, description="user key")
    segment = dy.Enum(SEGMENTS, description="customer lifecycle segment")
    age_band = dy.Enum(AGE_BANDS, description="age band, years")
    city_tier = dy.Int8(min=1, max=5, description="tier of the user's city (1 = largest)")
    is_vip = dy.Bool(description="member of the paid VIP programme")
    cart_items = dy.Int16(min=0, description="items in the cart at midnight")
    past_orders_90d = dy.Int16(min=0, description="orders in the 90 days before the event")


class Visits(dy.Schema):
    """Shopping sessions; a visit is personalized when its pages are personalized."""

    visit_id = dy.Int64(primary_key=True, description="visit key")
    user_id = dy.Int64(description="user who visited (users.user_id)")
    ts_us = dy.Int64(description=f"end of the visit (the order time if it converted), {TS}")
    device = dy.Enum(DEVICES, description="device used")
    source = dy.Enum(SOURCES, description="how the visit started")
    n_pages = dy.Int32(min=1, description="pages viewed, count")
    personalized = dy.Bool(description="the visit was served personalized pages")
    converted = dy.Bool(description="the visit ended in an order")


class PageViews(dy.Schema):
    """Every page viewed on the day (for sampled users); the largest table."""

    page_view_id = dy.Int64(primary_key=True, description="page view key")
    visit_id = dy.Int64(description="visit the page belongs to (visits.visit_id)")
    user_id = dy.Int64(description="user (users.user_id)")
    ts_us = dy.Int64(description=f"time the page was shown, {TS}; negative for pages just before midnight")
    page_index = dy.Int32(min=0, description="position of the page in its visit, from 0")
    page_type = dy.Enum(PAGE_TYPES, description="kind of page")
    personalized = dy.Bool(description="the page was generated for this user")
    converted = dy.Bool(description="an order was placed from this page (the last page of a converted visit)")


class Orders(dy.Schema):
    """Paid orders: online orders of sampled users, and every store-fulfilled order in the city."""

    order_id = dy.Int64(primary_key=True, description="order key")
    visit_id = dy.Int64(nullable=True, description="visit that led to the order; null for store orders")
    user_id = dy.Int64(nullable=True, description="buyer; null for store orders")
    ts_us = dy.Int64(description=f"order placed, {TS}")
    paid_ts_us = dy.Int64(description=f"payment completed, {TS}")
    gmv_usd = dy.Float64(min=0, description="order value, USD")
    gmv_rmb = dy.Float64(min=0, description="order value, RMB")
    channel = dy.Enum(CHANNELS, description="online: parcel e-commerce; store: fulfilled by a city store")
    device = dy.Enum(DEVICES, description="device the order was placed on")
    parcel_delivery = dy.Bool(description="the order needs a parcel delivery")
    store_id = dy.Int32(nullable=True, description="fulfilling store (stores.store_id); null online")
    distance_km = dy.Float64(nullable=True, min=0, description="straight-line distance store to customer, km")
    delivery_min = dy.Float64(nullable=True, min=0, description="minutes from order to doorstep")


class BannerImpressions(dy.Schema):
    """Banner ads shown (sampled at scale x banner_oversample)."""

    impression_id = dy.Int64(primary_key=True, description="impression key")
    user_id = dy.Int64(description="user shown the banner")
    ts_us = dy.Int64(description=f"time shown, {TS}")
    brand_id = dy.Int32(min=0, description="advertising brand")
    creative_id = dy.Int64(description="creative shown; AI creatives are made for one user")
    design_id = dy.Int64(
        min=0,
        description="design the creative comes from: a human creative is its own design, an AI creative is "
        "generated from one of Lu Ban's templates; impressions of one design share its appeal",
    )
    creative_source = dy.Enum(CREATIVE_SOURCES, description="ai: made by Lu Ban; human: by a designer")
    placement = dy.Enum(PLACEMENTS, description="slot on the page")
    exposure_index = dy.Int16(min=1, description="how many times the user has now seen this creative")
    clicked = dy.Bool(description="the impression was clicked")


class Inquiries(dy.Schema):
    """Customer-service inquiries (sampled at scale x inquiry_oversample)."""

    inquiry_id = dy.Int64(primary_key=True, description="inquiry key")
    user_id = dy.Int64(description="customer")
    ts_us = dy.Int64(description=f"inquiry opened, {TS}")
    intent = dy.Enum(INTENTS, description="what the customer asks about")
    text = dy.String(description="the customer's message")
    sentiment_score = dy.Float64(min=0, max=1, description="the bot's anger reading of the text, 0 calm to 1 furious")
    handled_by = dy.Enum(HANDLERS, description="who handled the inquiry to its end")
    escalated = dy.Bool(description="the bot alerted staff on emotional cues")
    resolved = dy.Bool(description="the customer's problem was solved")
    repeat_contact = dy.Bool(description="the customer wrote again about the same problem")
    handle_s = dy.Float64(min=0, description="handling time, seconds")
    concurrent_sessions = dy.Int32(min=0, description="conversations the handler held at once (1 for a human)")


class Stores(dy.Schema):
    """Supermarkets of the Ningbo-like city."""

    store_id = dy.Int32(primary_key=True, description="store key")
    store_type = dy.Enum(STORE_TYPES, description="hema, sanjiang or other supermarket")
    pilot = dy.Bool(
        description="Sanjiang store in the Singles' Day pilot (with a rollout, the first wave: the later waves "
        "follow from the stores' positions, see Stores.rollout_waves_of)"
    )
    x_km = dy.Float64(description="west-east position, km")
    y_km = dy.Float64(description="south-north position, km")


class StoreDays(dy.Schema):
    """Daily sales of every store, before and after the pilot starts (day 0 is the event day)."""

    store_id = dy.Int32(primary_key=True, description="store (stores.store_id)")
    date = dy.Date(description="calendar date")
    day = dy.Int32(primary_key=True, description="days since the pilot started")
    sales_rmb = dy.Float64(min=0, description="sales, RMB per day")
    transactions = dy.Int64(min=0, description="till transactions per day, count")
    catchment_online_rmb = dy.Float64(
        min=0, description="online grocery orders delivered within hema_radius_km of the store, RMB per day"
    )


class Households(dy.Schema):
    """Residential blocks of the city and their households (for catchment coverage and the map)."""

    block_id = dy.Int32(primary_key=True, description="residential block key")
    x_km = dy.Float64(description="west-east position, km")
    y_km = dy.Float64(description="south-north position, km")
    households = dy.Int64(min=1, description="households living in the block, count")


class BaselineVisits(dy.Schema):
    """Visits of the 2016 event (sampled at scale)."""

    visit_id = dy.Int64(primary_key=True, description="visit key")
    ts_us = dy.Int64(description=f"end of the visit, {TS} of 11 November 2016")
    device = dy.Enum(DEVICES, description="device used")
    converted = dy.Bool(description="the visit ended in an order")


class BaselineOrders(dy.Schema):
    """Orders of the 2016 event (sampled at scale)."""

    order_id = dy.Int64(primary_key=True, description="order key")
    visit_id = dy.Int64(description="visit (baseline_visits.visit_id)")
    ts_us = dy.Int64(description=f"order placed, {TS} of 11 November 2016")
    gmv_usd = dy.Float64(min=0, description="order value, USD")
    gmv_rmb = dy.Float64(min=0, description="order value, RMB at the 2016 rate")
    device = dy.Enum(DEVICES, description="device used")


class TruthVisits(dy.Schema):
    """Ground truth of visits: read by tests and validation sections only, never by an estimator."""

    visit_id = dy.Int64(primary_key=True, description="visit (visits.visit_id)")
    intent_sd = dy.Float64(description="purchase intent, sd units (a function of observed features)")
    propensity = dy.Float64(min=0, max=1, description="true probability of being personalized")
    p_convert = dy.Float64(min=0, max=1, description="true conversion probability of the visit as served")
    p_convert_personalized = dy.Float64(min=0, max=1, description="... had it been personalized")
    p_convert_other = dy.Float64(min=0, max=1, description="... had it not been personalized")
    true_uplift = dy.Float64(min=-1, max=1, description="individual effect of personalization, probability")


class TruthBannerImpressions(dy.Schema):
    """Ground truth of banner impressions."""

    impression_id = dy.Int64(primary_key=True, description="impression")
    ai_allocation_prob = dy.Float64(min=0, max=1, description="true chance the slot got an AI creative")
    p_click = dy.Float64(min=0, max=1, description="true click probability as served")
    p_click_if_ai = dy.Float64(min=0, max=1, description="... with an AI creative")
    p_click_if_human = dy.Float64(min=0, max=1, description="... with a human creative")


class TruthInquiries(dy.Schema):
    """Ground truth of inquiries."""

    inquiry_id = dy.Int64(primary_key=True, description="inquiry")
    anger = dy.Float64(min=0, max=1, description="the customer's true anger, 0 to 1")
    needs_escalation = dy.Bool(description="a human was truly needed")
    p_resolved = dy.Float64(min=0, max=1, description="true chance of resolution as handled")
    cue_level = dy.Int8(min=0, max=4, description="strength of the emotional cue written in the text, 0 calm to 4")
    cue_style = dy.Enum(
        CUE_STYLES,
        description="how the cue reads: plain, explicit (angry words), implicit (anger without them), negated",
    )


class TruthStoreDays(dy.Schema):
    """Ground truth of the store panel."""

    store_id = dy.Int32(primary_key=True, description="store")
    day = dy.Int32(primary_key=True, description="days since the pilot started")
    sales_rmb_without_pilot = dy.Float64(min=0, description="sales had there been no pilot, RMB per day")
    true_effect_log = dy.Float64(
        description="true effect on log sales: of the store's opening (the pilot on day 0, or a later wave of a "
        "rollout, behaviour.stores.rollout_waves) or of the spill-over from an opening nearby"
    )
    spillover_exposed = dy.Bool(
        description="a control store within the spill-over radius of a pilot (or of any store of a rollout)"
    )
    trend_log_per_30d = dy.Float64(description="the store's own sales trend, log per 30 days")
    catchment_online_rmb_without_pilot = dy.Float64(
        min=0, description="catchment online grocery orders had there been no pilot, RMB per day"
    )
    true_online_effect_log = dy.Float64(
        description="true effect of the pilot on the log of catchment online orders (cannibalisation, <= 0)"
    )


SCHEMAS: dict[str, type[dy.Schema]] = {
    "users": Users,
    "visits": Visits,
    "page_views": PageViews,
    "orders": Orders,
    "banner_impressions": BannerImpressions,
    "inquiries": Inquiries,
    "stores": Stores,
    "store_days": StoreDays,
    "households": Households,
    "baseline_visits": BaselineVisits,
    "baseline_orders": BaselineOrders,
    "truth_visits": TruthVisits,
    "truth_banner_impressions": TruthBannerImpressions,
    "truth_inquiries": TruthInquiries,
    "truth_store_days": TruthStoreDays,
}


def polars_schema(table: str) -> pl.Schema:
    """The polars schema (names and dtypes) a table's partitions must have.

    Raises
    ------
    KeyError
        Naming the unknown table and the known ones.
    """
    if table not in SCHEMAS:
        raise KeyError(f"table = {table!r}: no such table (tables: {', '.join(SCHEMAS)})")
    return pl.Schema({name: col.dtype for name, col in SCHEMAS[table].columns().items()})


def data_dictionary() -> str:
    """Markdown data dictionary of every table, generated from the schemas above."""
    lines = [
        "# Data dictionary",
        "",
        "Generated from `newretail/tables/schemas.py` by `python -m newretail.tables`; do not edit by hand.",
        "Tables whose name starts with `truth_` hold the generator's ground truth: tests and validation",
        "sections read them, estimators never do.",
        "",
    ]
    for table, schema in SCHEMAS.items():
        lines += [
            f"## `{table}`",
            "",
            (schema.__doc__ or "").strip(),
            "",
            "| column | type | nullable | meaning |",
            "|---|---|---|---|",
        ]
        for name, col in schema.columns().items():
            dtype = str(col.dtype)
            if isinstance(col.dtype, pl.Enum):
                dtype = "enum: " + ", ".join(col.dtype.categories.to_list())
            lines.append(f"| `{name}` | {dtype} | {'yes' if col.nullable else 'no'} | {col.description or ''} |")
        lines.append("")
    return "\n".join(lines)
