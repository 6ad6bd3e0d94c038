"""How each claim is computed from the generated tables: one function per claim, each calling one analysis
function (its tallies run in one pass, then the analysis' finishing function gives the value and 95% interval) and
adding the claim's note and side figures.

Every function takes a :class:`Context` (the dataset, the targets it is judged against and the definition
parameters) and returns a :class:`Measured`. Tallies shared by several claims run once per evaluation
(``Context.tallies``). Under ``Context.iid`` the analyses give the naive intervals of the coverage study.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from newretail.analyses import banners, chatbot, gmv, personalization, stores
from newretail.methods.resampling import Estimate
from newretail.tables import Dataset

RANDOM_GROUPS = 100  # random groups of clusters for the cluster-robust variances


@dataclass
class Context:
    """What a claim's computation may use: the dataset, the targets it is judged against, definition parameters,
    and a per-evaluation cache of shared queries."""

    ds: Dataset
    targets: dict[str, float]
    conversion_reading: str
    human_occupancy: float
    cache: dict[str, Any] = field(default_factory=dict)
    tallies: dict[Any, pl.DataFrame] = field(default_factory=dict)  # tally results, shared by the claims
    iid: bool = False  # compute every interval as if rows were independent (the coverage study's naive intervals)

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """Run ``compute`` the first time ``key`` is asked for, then reuse its result."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class Measured:
    """A claim's reproduced value and interval, with a short data-dependent note and named side figures."""

    estimate: Estimate
    note: str = ""
    details: dict[str, float] = field(default_factory=dict)


def _words(count: float) -> str:
    """A large count in words: 3.68e6 -> '3.68 million'."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if abs(count) >= size:
            return f"{count / size:.3g} {word}"
    return f"{count:.3g}"


# ----------------------------------------------------------------------------------------------------------------
# GMV and orders


def gmv_usd(ctx: Context) -> Measured:
    return Measured(gmv.gmv_total(ctx.ds, currency="usd", iid=ctx.iid, cache=ctx.tallies))


def gmv_yoy_growth(ctx: Context) -> Measured:
    est = gmv.yoy_growth(ctx.ds, iid=ctx.iid, cache=ctx.tallies)
    implied = ctx.targets["gmv_usd"] / (1.0 + ctx.targets["gmv_yoy_growth"])
    return Measured(
        est,
        note=f"the targets imply a 2016 GMV of USD {implied / 1e9:.3g} billion",
        details={"implied_gmv_2016_usd": implied},
    )


def gmv_rmb(ctx: Context) -> Measured:
    est = gmv.gmv_total(ctx.ds, currency="rmb", iid=ctx.iid, cache=ctx.tallies)
    usd = ctx.once("gmv_usd", lambda: gmv.gmv_total(ctx.ds, currency="usd", cache=ctx.tallies)).value
    rate = est.value / usd
    press, report = ctx.targets["gmv_rmb"], ctx.targets["gmv_usd"]
    return Measured(
        est,
        note=(
            f"the report's USD {report / 1e9:.3g} billion at the day's {rate:.3g} RMB/USD is RMB "
            f"{report * rate / 1e9:.4g} billion; the press figure is {press / (report * rate) - 1:+.1%} off it and "
            f"implies {press / report:.4g} RMB/USD"
        ),
        details={"fx_rmb_per_usd": rate, "implied_fx_rmb_per_usd": press / report},
    )


def _spike(ctx: Context) -> gmv.MidnightSpike:
    return ctx.once("spike", lambda: gmv.midnight_spike(ctx.ds))


def peak_orders_per_second(ctx: Context) -> Measured:
    spike = _spike(ctx)
    return Measured(
        spike.peak_orders_per_second,
        note=f"fitted rush decays with an e-folding time of {spike.decay_min.value:.3g} min",
        details={"decay_min": spike.decay_min.value},
    )


def peak_payments_per_second(ctx: Context) -> Measured:
    spike = _spike(ctx)
    return Measured(
        spike.peak_payments_per_second,
        note=f"payments peak {spike.peak_payment_second:.0f} s after midnight",
        details={"peak_payment_second": spike.peak_payment_second},
    )


def _orders(ctx: Context) -> gmv.OrderCounts:
    return ctx.once("orders", lambda: gmv.order_counts(ctx.ds, iid=ctx.iid, cache=ctx.tallies))


def payment_transactions(ctx: Context) -> Measured:
    return Measured(_orders(ctx).payment_transactions)


def delivery_orders(ctx: Context) -> Measured:
    counts = _orders(ctx)
    share = counts.delivery_share
    return Measured(counts.delivery_orders, note=f"{share:.1%} of all orders", details={"share": share})


def mobile_gmv_share(ctx: Context) -> Measured:
    return Measured(gmv.mobile_gmv_share(ctx.ds, iid=ctx.iid, cache=ctx.tallies))


# ----------------------------------------------------------------------------------------------------------------
# banners


def ai_banners(ctx: Context) -> Measured:
    res = banners.ai_impressions(ctx.ds, iid=ctx.iid, cache=ctx.tallies)
    return Measured(
        res.estimate,
        note=f"{res.ai_share:.0%} of {_words(res.impressions)} banner impressions carried an AI creative",
        details={"banner_impressions": res.impressions, "ai_share": res.ai_share},
    )


def ai_banner_ctr_ratio(ctx: Context) -> Measured:
    res = banners.ai_ctr_ratio(ctx.ds, groups=RANDOM_GROUPS, iid=ctx.iid, cache=ctx.tallies)
    if not res.clicked:
        return Measured(res.estimate, note="no clicks on one of the two kinds of creative")
    details = {"ctr_ai": res.ctr_ai, "ctr_human": res.ctr_human}
    if res.design_effect is not None:
        details["design_effect"] = res.design_effect
    return Measured(
        res.estimate,
        note=f"CTR {res.ctr_ai:.2%} (AI) against {res.ctr_human:.2%} (human), not adjusted for placement",
        details=details,
    )


# ----------------------------------------------------------------------------------------------------------------
# personalized pages


def personalized_pages(ctx: Context) -> Measured:
    res = personalization.personalized_pages(ctx.ds, iid=ctx.iid, cache=ctx.tallies)
    return Measured(
        res.estimate,
        note=f"{res.pages_per_visit:.3g} pages per personalized visit",
        details={"pages_per_personalized_visit": res.pages_per_visit, "personalized_visits": res.personalized_visits},
    )


def personalized_page_conversion(ctx: Context) -> Measured:
    res = personalization.personalized_conversion(
        ctx.ds, reading=ctx.conversion_reading, iid=ctx.iid, cache=ctx.tallies
    )
    rate_p, rate_o, per_page = res.conversion_personalized, res.conversion_other, res.orders_per_personalized_page
    details = {"conversion_personalized": rate_p, "conversion_other": rate_o, "orders_per_personalized_page": per_page}
    if res.reading == "rate":
        note = f"read as a rate per visit; other visits convert at {rate_o:.1%}; per page view it is {per_page:.2%}"
    else:
        note = f"read as a lift: personalized visits convert at {rate_p:.1%}, others at {rate_o:.1%}"
    return Measured(res.estimate, note=note, details=details)


# ----------------------------------------------------------------------------------------------------------------
# chatbot


def chatbot_inquiries(ctx: Context) -> Measured:
    est = chatbot.bot_inquiries(ctx.ds, iid=ctx.iid, cache=ctx.tallies)
    share = ctx.targets["chatbot_share"]
    return Measured(
        est,
        note=f"with the {share:.0%} share, all inquiries would be {_words(ctx.targets['chatbot_inquiries'] / share)}",
    )


def chatbot_share(ctx: Context) -> Measured:
    est = chatbot.bot_share(ctx.ds, iid=ctx.iid, cache=ctx.tallies)
    return Measured(est, note="no inquiries" if math.isnan(est.value) else "")


def chatbot_efficiency_ratio(ctx: Context) -> Measured:
    res = chatbot.bot_efficiency(ctx.ds, occupancy=ctx.human_occupancy, iid=ctx.iid, cache=ctx.tallies)
    if math.isnan(res.bot_concurrency):
        return Measured(res.estimate, note="no bot or no human inquiries")
    return Measured(
        res.estimate,
        note=(
            f"a bot instance holds {res.bot_concurrency:.0f} conversations at once; an agent handles "
            f"{res.human_inquiries_per_hour:.1f} inquiries per paid hour at {res.occupancy:.0%} occupancy"
        ),
        details={"bot_concurrency": res.bot_concurrency, "human_inquiries_per_hour": res.human_inquiries_per_hour},
    )


# ----------------------------------------------------------------------------------------------------------------
# stores


def _delivery_p95(ctx: Context, what: str) -> Measured:
    radius = ctx.targets["hema_radius_km"]
    res = stores.delivery_p95(
        ctx.ds,
        stores=what,
        radius_km=radius,
        promise_min=ctx.targets[f"{what}_delivery_minutes"],
        cache=ctx.tallies,
    )
    if math.isnan(res.estimate.value):
        return Measured(res.estimate, note=f"only {res.orders} {what} orders in range")
    return Measured(
        res.estimate,
        note=f"{res.orders} orders within {radius:g} km; {res.share_within_promise:.1%} delivered within the promise",
        details={"orders": float(res.orders), "share_within_promise": res.share_within_promise},
    )


def hema_delivery_minutes(ctx: Context) -> Measured:
    return _delivery_p95(ctx, "hema")


def sanjiang_delivery_minutes(ctx: Context) -> Measured:
    return _delivery_p95(ctx, "sanjiang")


def sanjiang_pilot_stores(ctx: Context) -> Measured:
    est = stores.pilot_stores(ctx.ds, cache=ctx.tallies)
    return Measured(est, note="the stores table lists every store: the count is exact")
