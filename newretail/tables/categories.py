"""The category values of the tables' enum columns, declared once: the generator draws them, the schemas declare them.

The order of each tuple is part of the contract: the generator codes categories by their position (index ``i`` of
``SOURCES`` is source ``i``), and the parquet files store the enum with these categories in this order.
"""

from __future__ import annotations

__all__ = [
    "AGE_BANDS",
    "CHANNELS",
    "CREATIVE_SOURCES",
    "CUE_STYLES",
    "DEVICES",
    "HANDLERS",
    "INTENTS",
    "PAGE_TYPES",
    "PLACEMENTS",
    "SEGMENTS",
    "SOURCES",
    "STORE_TYPES",
]

# users, visits, page views, orders
SEGMENTS = ("new", "casual", "regular", "loyal")
AGE_BANDS = ("18-24", "25-34", "35-44", "45+")
SOURCES = ("search", "recommendation", "campaign", "direct")
DEVICES = ("mobile", "pc")
PAGE_TYPES = ("home", "search", "product", "campaign", "cart")
CHANNELS = ("online", "store")

# banner impressions
PLACEMENTS = ("home_top", "campaign_hall", "search_feed", "product_side", "cart")
CREATIVE_SOURCES = ("ai", "human")

# inquiries
INTENTS = ("delivery", "refund", "size", "payment", "product", "coupon", "complaint")
HANDLERS = ("bot", "human")
CUE_STYLES = ("plain", "explicit", "implicit", "negated")

# stores
STORE_TYPES = ("hema", "sanjiang", "other")
