"""The sales day's gross merchandise value: its total and growth, its course over 24 hours, the midnight rush,
and which of visitors, conversion and order value carries the growth over the 2016 event.

Every quantity is a weighted sum over sampled tables (``weight`` = rows of the full event a row stands for), read
with streaming polars queries. Intervals are 95% bootstrap intervals over random groups of users (2017) and of
visits (2016), see :mod:`newretail.methods.resampling`. Money is in USD unless a name says RMB; times are minutes or
seconds since the event's local midnight.
"""

from __future__ import annotations

from newretail.analyses.gmv.growth import GrowthDecomposition, decompose_growth
from newretail.analyses.gmv.spike import MidnightSpike, midnight_spike
from newretail.analyses.gmv.spike import _fit_spike as _fit_spike
from newretail.analyses.gmv.spike import _rate_at as _rate_at
from newretail.analyses.gmv.timeline import Timeline, timeline
from newretail.analyses.gmv.totals import COMPONENTS as COMPONENTS
from newretail.analyses.gmv.totals import CURRENCIES as CURRENCIES
from newretail.analyses.gmv.totals import MINUTES as MINUTES
from newretail.analyses.gmv.totals import SPIKE_WINDOW_S as SPIKE_WINDOW_S
from newretail.analyses.gmv.totals import US_PER_MIN as US_PER_MIN
from newretail.analyses.gmv.totals import US_PER_S as US_PER_S
from newretail.analyses.gmv.totals import (
    OrderCounts,
    finish_gmv,
    finish_growth,
    finish_mobile_share,
    finish_orders,
    gmv_measure,
    gmv_total,
    growth_measure,
    mobile_gmv_share,
    mobile_share_measure,
    order_counts,
    order_tallies,
    orders_measure,
    yoy_growth,
)

__all__ = [
    "GrowthDecomposition",
    "MidnightSpike",
    "OrderCounts",
    "Timeline",
    "decompose_growth",
    "finish_gmv",
    "finish_growth",
    "finish_mobile_share",
    "finish_orders",
    "gmv_measure",
    "gmv_total",
    "growth_measure",
    "midnight_spike",
    "mobile_gmv_share",
    "mobile_share_measure",
    "order_counts",
    "order_tallies",
    "orders_measure",
    "timeline",
    "yoy_growth",
]
