"""What a claim's computation may use, and how each claim reads its figure's note and side figures.

A claim's figure comes from one analysis: its *measure* (the tallies and the finishing function, see
:class:`newretail.tables.Measure`), declared with the claim in :mod:`newretail.claims.registry`. The single pass
(:meth:`~newretail.claims.registry.Claim.compute`) runs the measure's tallies over the dataset, shared between claims
through ``Context.tallies``, finishes them, reads the estimate, and adds the note and side figures written here (one
``*_note`` function per claim that has one). :mod:`newretail.claims.partials` runs the same measures partition by
partition. Under ``Definition.iid`` the analyses give the naive intervals of the coverage study.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from newretail.analyses import gmv
from newretail.fmt import format_stated, format_value
from newretail.methods.resampling import Estimate
from newretail.tables import Dataset

if TYPE_CHECKING:
    from newretail.analyses.banners import AiCtrRatio, AiImpressions
    from newretail.analyses.chatbot import BotEfficiency
    from newretail.analyses.personalization import PersonalizedConversion, PersonalizedPages
    from newretail.analyses.stores import DeliveryP95
    from newretail.scenario import Scenario

RANDOM_GROUPS = 100  # random groups of clusters for the cluster-robust variances

Note = tuple[str, dict[str, float]]  # a claim's note and its named side figures


@dataclass(frozen=True)
class Definition:
    """The parameters a claim's figure is defined with: the targets it is judged against (the delivery claims read
    their radius and promise there), how conversion is read (``"rate"`` or ``"lift"``), the agents' occupancy, and
    whether intervals treat rows as independent (``iid``: the coverage study's naive intervals)."""

    targets: Mapping[str, float]
    conversion_reading: str
    human_occupancy: float
    iid: bool = False

    @classmethod
    def of(cls, scenario: Scenario, *, conversion_reading: str | None = None, iid: bool = False) -> Definition:
        """A scenario's own definition (its targets, its reading and occupancy)."""
        targets = {k: float(v) for k, v in {**scenario.targets.model_dump(), **scenario.press.model_dump()}.items()}
        reading = conversion_reading or scenario.behaviour.personalization.conversion_reading
        return cls(targets, reading, scenario.behaviour.chatbot.human_occupancy, iid)


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

    @property
    def definition(self) -> Definition:
        """The definition parameters alone (what a claim's measure is built from)."""
        return Definition(self.targets, self.conversion_reading, self.human_occupancy, self.iid)

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
    """A large count in words (:func:`newretail.fmt.format_value`): 3.68e6 -> '3.68 million'."""
    return format_value(count, "count")


# ----------------------------------------------------------------------------------------------------------------
# GMV and orders


def growth_note(est: Estimate, ctx: Context) -> Note:
    implied = ctx.targets["gmv_usd"] / (1.0 + ctx.targets["gmv_yoy_growth"])
    return (
        f"the targets imply a 2016 GMV of USD {format_value(implied, 'count')}",
        {"implied_gmv_2016_usd": implied},
    )


def gmv_rmb_note(est: Estimate, ctx: Context) -> Note:
    usd = ctx.once("gmv_usd", lambda: gmv.gmv_total(ctx.ds, currency="usd", cache=ctx.tallies)).value
    rate = est.value / usd
    press, report = ctx.targets["gmv_rmb"], ctx.targets["gmv_usd"]
    return (
        f"the report's USD {format_stated(report, 'count')} at the day's {format_value(rate, 'count')} RMB/USD is "
        f"RMB {format_value(report * rate, 'count', digits=4)}; the press figure is {press / (report * rate) - 1:+.1%}"
        f" off it and implies {format_value(press / report, 'count', digits=4)} RMB/USD",
        {"fx_rmb_per_usd": rate, "implied_fx_rmb_per_usd": press / report},
    )


def spike(ctx: Context) -> gmv.MidnightSpike:
    """The midnight rush's fitted model, once per evaluation (both peaks read it)."""
    return ctx.once("spike", lambda: gmv.midnight_spike(ctx.ds))


def peak_orders_note(s: gmv.MidnightSpike, ctx: Context) -> Note:
    decay = s.decay_min.value
    return f"fitted rush decays with an e-folding time of {format_value(decay, 'min')}", {"decay_min": decay}


def peak_payments_note(s: gmv.MidnightSpike, ctx: Context) -> Note:
    second = s.peak_payment_second
    return f"payments peak {second:.0f} s after midnight", {"peak_payment_second": second}


def delivery_note(counts: gmv.OrderCounts, ctx: Context) -> Note:
    share = counts.delivery_share
    return f"{format_value(share, 'share')} of all orders", {"share": share}


# ----------------------------------------------------------------------------------------------------------------
# banners


def ai_banners_note(res: AiImpressions, ctx: Context) -> Note:
    return (
        f"{format_value(res.ai_share, 'share')} of {_words(res.impressions)} banner impressions carried an AI creative",
        {"banner_impressions": res.impressions, "ai_share": res.ai_share},
    )


def ctr_ratio_note(res: AiCtrRatio, ctx: Context) -> Note:
    if not res.clicked:
        return "no clicks on one of the two kinds of creative", {}
    details = {"ctr_ai": res.ctr_ai, "ctr_human": res.ctr_human}
    if res.design_effect is not None:
        details["design_effect"] = res.design_effect
    return (
        f"CTR {format_value(res.ctr_ai, 'share')} (AI) against {format_value(res.ctr_human, 'share')} (human), "
        "not adjusted for placement",
        details,
    )


# ----------------------------------------------------------------------------------------------------------------
# personalized pages


def pages_note(res: PersonalizedPages, ctx: Context) -> Note:
    return (
        f"{format_value(res.pages_per_visit, 'pages')} per personalized visit",
        {"pages_per_personalized_visit": res.pages_per_visit, "personalized_visits": res.personalized_visits},
    )


def conversion_note(res: PersonalizedConversion, ctx: Context) -> Note:
    rate_p, rate_o, per_page = res.conversion_personalized, res.conversion_other, res.orders_per_personalized_page
    details = {"conversion_personalized": rate_p, "conversion_other": rate_o, "orders_per_personalized_page": per_page}
    p, o, pp = (format_value(x, "share") for x in (rate_p, rate_o, per_page))
    if res.reading == "rate":
        return f"read as a rate per visit; other visits convert at {o}; per page view it is {pp}", details
    return f"read as a lift: personalized visits convert at {p}, others at {o}", details


# ----------------------------------------------------------------------------------------------------------------
# chatbot


def inquiries_note(est: Estimate, ctx: Context) -> Note:
    share = ctx.targets["chatbot_share"]
    total = _words(ctx.targets["chatbot_inquiries"] / share)
    return f"with the {format_stated(share, 'share')} share, all inquiries would be {total}", {}


def share_note(est: Estimate, ctx: Context) -> Note:
    return ("no inquiries" if math.isnan(est.value) else ""), {}


def efficiency_note(res: BotEfficiency, ctx: Context) -> Note:
    if math.isnan(res.bot_concurrency):
        return "no bot or no human inquiries", {}
    return (
        f"a bot instance holds {format_value(res.bot_concurrency, 'count')} conversations at once; an agent handles "
        f"{format_value(res.human_inquiries_per_hour, 'count')} inquiries per paid hour at "
        f"{format_stated(res.occupancy, 'share')} occupancy",
        {"bot_concurrency": res.bot_concurrency, "human_inquiries_per_hour": res.human_inquiries_per_hour},
    )


# ----------------------------------------------------------------------------------------------------------------
# stores


def delivery_p95_note(kind: str) -> Callable[[DeliveryP95, Context], Note]:
    """The note of a delivery promise (``kind``: ``"hema"`` or ``"sanjiang"``)."""

    def note(res: DeliveryP95, ctx: Context) -> Note:
        radius = ctx.targets["hema_radius_km"]
        if math.isnan(res.estimate.value):
            return f"only {res.orders} {kind} orders in range", {}
        return (
            f"{res.orders} orders within {format_stated(radius, 'km', with_unit=True)}; "
            f"{format_value(res.share_within_promise, 'share')} delivered within the promise",
            {"orders": float(res.orders), "share_within_promise": res.share_within_promise},
        )

    return note


def pilots_note(est: Estimate, ctx: Context) -> Note:
    return "the stores table lists every store: the count is exact", {}
