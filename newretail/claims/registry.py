"""The registry: one :class:`Claim` per figure, keyed by the scenario's target (or press) key, and the only list of
the claims.

A claim says where its figure comes from (a short quoted reference to the report, or the press), what exactly is
measured (definition), in which unit, how its interval is made, how ``holds`` is judged (``direction`` and a
declared relative ``tolerance``, see :mod:`newretail.claims.verdicts`), and how it is computed: the analysis'
*measure* (its tallies and finishing function, built from the claim's :class:`~newretail.claims.metrics.Definition`)
and how to read the claim's estimate, note and side figures from the finished result. The single pass
(:meth:`Claim.compute`, which :func:`newretail.claims.evaluate` calls) and the per-partition pass
(:mod:`newretail.claims.partials`) both run that measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from newretail.analyses import banners, chatbot, gmv, personalization, stores
from newretail.claims import metrics
from newretail.claims.metrics import RANDOM_GROUPS, Context, Definition, Measured, Note
from newretail.claims.verdicts import Direction
from newretail.methods.resampling import Estimate
from newretail.tables import Measure

Kind = Literal["report", "press"]

REPORT = "Forrester via the source article"
PRESS = "press coverage of Alibaba's live dashboard on 11 November 2017 (not in the report)"


@dataclass(frozen=True)
class Claim:
    """One figure of the report (``kind="report"``) or of the press (``kind="press"``), made testable.

    Attributes
    ----------
    id : the scenario key the target is read from.
    label : a few plain words naming the figure for a reader (plot labels, tables): no identifiers.
    statement : the figure in our own words, with ``{target}`` (and for delivery claims ``{radius}``) to fill in.
    source : a short quoted reference to where the figure comes from.
    definition : the metric, precisely, in words: tables, columns, filters, and the interval's method.
    unit : ``USD``, ``RMB``, ``count``, ``share``, ``ratio``, ``minutes``, ``stores`` or ``per second``.
    direction : ``two-sided`` (holds when the target is inside the interval), ``at-most`` (a promise: holds unless
        the whole interval lies above the target), ``exact`` (a count known without sampling error).
    tolerance : relative margin added on each side of the interval before judging, with ``tolerance_reason``.
    measure : the analysis' measure of the figure (tallies and finishing function) for a definition; None for a
        figure read from a model fitted in one pass (the midnight peaks), which ``single_pass`` computes instead.
    estimate : how to read the claim's estimate (value and 95% interval) from the finished result.
    note : the claim's note and named side figures, from the finished result and the context.
    """

    id: str
    kind: Kind
    statement: str
    source: str
    definition: str
    unit: str
    measure: Callable[[Definition], Measure[Any]] | None
    estimate: Callable[[Any], Estimate]
    note: Callable[[Any, Context], Note] | None = None
    single_pass: Callable[[Context], Any] | None = None
    direction: Direction = "two-sided"
    tolerance: float = 0.0
    tolerance_reason: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:  # a figure without its own words reads as its id with spaces, never as an identifier
            object.__setattr__(self, "label", self.id.replace("_", " "))

    def result(self, ctx: Context) -> Any:
        """The analysis' finished result on the context's dataset (tallies shared through ``ctx.tallies``)."""
        if self.measure is not None:
            return self.measure(ctx.definition).run(ctx.ds, cache=ctx.tallies)
        assert self.single_pass is not None
        return self.single_pass(ctx)

    def compute(self, ctx: Context) -> Measured:
        """The claim's estimate, note and side figures on the context's dataset."""
        found = self.result(ctx)
        note, details = self.note(found, ctx) if self.note is not None else ("", {})
        return Measured(self.estimate(found), note=note, details=details)


def _itself(result: Any) -> Estimate:
    return cast(Estimate, result)


def _field(name: str) -> Callable[[Any], Estimate]:
    """Read the estimate from the result's attribute ``name``."""

    def read(result: Any) -> Estimate:
        return cast(Estimate, getattr(result, name))

    return read


def _delivery(kind: str) -> Callable[[Definition], Measure[Any]]:
    """The delivery promise's measure: radius and promise from the targets the claim is judged against."""

    def measure(d: Definition) -> Measure[Any]:
        promise = d.targets[f"{kind}_delivery_minutes"]
        return stores.delivery_measure(stores=kind, radius_km=d.targets["hema_radius_km"], promise_min=promise)

    return measure


_BOOT = (
    "95% BCa bootstrap over 100 random groups of whole users (random-group totals), so rows of one user stay together"
    " (clusters: shoppers, who carry a random effect on converting and several visits and orders each)"
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        id="gmv_usd",
        label="GMV in USD",
        kind="report",
        statement="The day's gross merchandise value was USD {target}.",
        source='"USD 25 billion in gross merchandise value in just 24 hours" (' + REPORT + ")",
        definition=(
            "Sum of orders.gmv_usd over all orders of the 24 hours, online and store-fulfilled, each weighted by the "
            "rows of the full event it stands for. Interval: " + _BOOT + "."
        ),
        unit="USD",
        measure=lambda d: gmv.gmv_measure(currency="usd", iid=d.iid),
        estimate=_itself,
    ),
    Claim(
        id="gmv_yoy_growth",
        label="GMV growth over 2016",
        kind="report",
        statement="GMV grew by {target} over the 2016 event.",
        source='"an increase of 39% over the 2016 event" (' + REPORT + ")",
        definition=(
            "Weighted GMV (USD) of the day over the weighted GMV (USD) of baseline_orders (the 2016 event), minus 1; "
            "both in USD, so the change of the RMB/USD rate between the events is not growth. Interval: bootstrap "
            "over random groups of 2017 users and 2016 visits."
        ),
        unit="share",
        measure=lambda d: gmv.growth_measure(iid=d.iid),
        estimate=_itself,
        note=metrics.growth_note,
    ),
    Claim(
        id="ai_banners",
        label="AI banners served",
        kind="report",
        statement="Lu Ban delivered {target} customized banner ads.",
        source='"deliver 400 million customized ads" (' + REPORT + ")",
        definition=(
            "Weighted count of banner_impressions with creative_source = 'ai': impressions delivered with an "
            "AI-made creative, each made for one user. Interval: BCa bootstrap over 100 random groups of whole "
            "shoppers (clusters: shoppers; impressions come in bursts from one shopper, so the count is "
            "over-dispersed and the exact Poisson interval of independent rows is too narrow)."
        ),
        unit="count",
        measure=lambda d: banners.ai_impressions_measure(iid=d.iid),
        estimate=_field("estimate"),
        note=metrics.ai_banners_note,
    ),
    Claim(
        id="ai_banner_ctr_ratio",
        label="AI banners' CTR over human",
        kind="report",
        statement="AI banners were clicked {target} times as often as human-designed ones.",
        source='"click-through rate that is 100% higher than those created by people" (' + REPORT + ")",
        definition=(
            "Observed click-through rate of AI creatives over that of human creatives (clicks over impressions in "
            "banner_impressions), as a vendor would report it: not adjusted for where the banners were placed. "
            "Interval: two-way cluster-robust variance (clusters: shoppers and designs, design_id; Cameron-Gelbach-"
            "Miller) of the linearised log ratio over 100 random groups of each, normal on the log scale: clicks of "
            "one shopper, and of one design, share a random effect."
        ),
        unit="ratio",
        measure=lambda d: banners.ctr_ratio_measure(iid=d.iid, groups=RANDOM_GROUPS),
        estimate=_field("estimate"),
        note=metrics.ctr_ratio_note,
    ),
    Claim(
        id="personalized_pages",
        label="personalized pages",
        kind="report",
        statement="AI generated {target} personalized pages.",
        source='"generate 60 billion personalized pages" (' + REPORT + ")",
        definition=(
            "Weighted count of page views in personalized visits (the sum of visits.n_pages over visits with "
            "personalized = true, equal to the count of page_views rows with personalized = true, but read from the "
            "much smaller visits table). Interval: " + _BOOT + "."
        ),
        unit="count",
        measure=lambda d: personalization.pages_measure(iid=d.iid),
        estimate=_field("estimate"),
        note=metrics.pages_note,
    ),
    Claim(
        id="personalized_page_conversion",
        label="conversion of personalized pages",
        kind="report",
        statement="Personalized pages drove a conversion rate of {target}.",
        source='"personalized pages helped to drive 20% conversion rates" (' + REPORT + ")",
        definition=(
            "Per visit, not per page: 20% of 60 billion page views would be 12 billion orders against 1.48 billion "
            "payment transactions. Under the scenario's 'rate' reading, the share of personalized visits that end "
            "in an order; under the 'lift' reading, the conversion of personalized visits over that of the other "
            "visits, minus 1. Pages per personalized visit then follow from this figure and personalized_pages. "
            "Interval: " + _BOOT + "."
        ),
        unit="share",
        measure=lambda d: personalization.conversion_measure(reading=d.conversion_reading, iid=d.iid),
        estimate=_field("estimate"),
        note=metrics.conversion_note,
    ),
    Claim(
        id="chatbot_inquiries",
        label="inquiries the chatbot handled",
        kind="report",
        statement="Ali Xiaomi handled {target} customer inquiries.",
        source='"handle 3.5 million customer inquiries" (' + REPORT + ")",
        definition=(
            "Weighted count of inquiries with handled_by = 'bot': inquiries the bot handled to the end (all "
            "inquiries are this over chatbot_share). Interval: BCa bootstrap over 100 random groups of whole "
            "shoppers (clusters: shoppers; customers write in bursts about one problem, so arrivals are "
            "over-dispersed)."
        ),
        unit="count",
        measure=lambda d: chatbot.bot_inquiries_measure(iid=d.iid),
        estimate=_itself,
        note=metrics.inquiries_note,
    ),
    Claim(
        id="chatbot_share",
        label="share of inquiries the chatbot handled",
        kind="report",
        statement="Ali Xiaomi handled {target} of customer inquiries.",
        source='"handled 95% of customer inquiries" (' + REPORT + ")",
        definition=(
            "Share of inquiries with handled_by = 'bot' (handled to the end without a human; an inquiry the bot "
            "passed to staff counts as human). Interval: BCa bootstrap of the ratio over 100 random groups of whole "
            "shoppers (clusters: shoppers; repeat inquiries share intent, anger and the shopper's effect on "
            "transfer, so Wilson's interval of independent inquiries is too narrow)."
        ),
        unit="share",
        measure=lambda d: chatbot.share_measure(iid=d.iid),
        estimate=_itself,
        note=metrics.share_note,
    ),
    Claim(
        id="chatbot_efficiency_ratio",
        label="chatbot's efficiency over humans",
        kind="report",
        statement="The chatbot was {target} times as efficient as human customer service.",
        source='"10,000 times more efficient than human customer service" (' + REPORT + ")",
        definition=(
            "Inquiries per bot instance-hour over inquiries per paid agent-hour: (mean concurrent_sessions of bot "
            "inquiries x 3600 s / mean handle_s of bot inquiries) / (human_occupancy x 3600 s / mean handle_s of "
            "human inquiries), with human_occupancy the scenario's share of a paid hour an agent spends on "
            "inquiries. Interval: bootstrap over 100 random groups of whole shoppers (clusters: shoppers)."
        ),
        unit="ratio",
        measure=lambda d: chatbot.efficiency_measure(occupancy=d.human_occupancy, iid=d.iid),
        estimate=_field("estimate"),
        note=metrics.efficiency_note,
    ),
    Claim(
        id="hema_delivery_minutes",
        label="Hema's delivery time",
        kind="report",
        statement="Hema delivers within {target} minutes to customers within {radius} km.",
        source='"30-minute delivery to customers who live within 3 km" (' + REPORT + ")",
        definition=(
            "95th percentile of orders.delivery_min over store-fulfilled orders of Hema stores (stores.store_type = "
            "'hema') placed within hema_radius_km of the store. A promise: it holds when that percentile is at or "
            "under the target, i.e. unless the whole interval lies above it. Interval: distribution-free order-"
            "statistic interval of the quantile (scipy.stats.quantile_test)."
        ),
        unit="minutes",
        direction="at-most",
        measure=_delivery("hema"),
        estimate=_field("estimate"),
        note=metrics.delivery_p95_note("hema"),
    ),
    Claim(
        id="sanjiang_pilot_stores",
        label="Sanjiang pilot stores",
        kind="report",
        statement="{target} Sanjiang supermarkets took part in the pilot.",
        source='"13 Sanjiang Supermarket stores in Ningbo" (' + REPORT + ")",
        definition="Count of stores with pilot = true. The stores table lists every store, so the count is exact.",
        unit="stores",
        direction="exact",
        measure=lambda d: stores.pilots_measure(),
        estimate=_itself,
        note=metrics.pilots_note,
    ),
    Claim(
        id="sanjiang_delivery_minutes",
        label="pilot stores' delivery time",
        kind="report",
        statement="The pilot stores deliver within {target} minutes to customers within {radius} km.",
        source='"1-hour delivery for customers who live within the 3-km range" (' + REPORT + ")",
        definition=(
            "95th percentile of orders.delivery_min over store-fulfilled orders of the pilot stores (stores.pilot) "
            "placed within hema_radius_km. A promise, judged like hema_delivery_minutes. Interval: order-statistic "
            "interval of the quantile (scipy.stats.quantile_test)."
        ),
        unit="minutes",
        direction="at-most",
        measure=_delivery("sanjiang"),
        estimate=_field("estimate"),
        note=metrics.delivery_p95_note("sanjiang"),
    ),
    Claim(
        id="gmv_rmb",
        label="GMV in RMB",
        kind="press",
        statement="The day's gross merchandise value was RMB {target}.",
        source=PRESS,
        definition=(
            "Sum of orders.gmv_rmb (each order's value at the day's RMB/USD rate), weighted. The report's USD figure "
            "fixes the day's GMV, so this row shows whether the press's RMB figure agrees with it at the day's "
            "rate. Interval: " + _BOOT + "."
        ),
        unit="RMB",
        measure=lambda d: gmv.gmv_measure(currency="rmb", iid=d.iid),
        estimate=_itself,
        note=metrics.gmv_rmb_note,
    ),
    Claim(
        id="peak_orders_per_second",
        label="peak orders per second",
        kind="press",
        statement="Orders peaked at {target} per second just after midnight.",
        source=PRESS,
        definition=(
            "Online orders created per second at the peak (the first second after midnight), at full scale. At a "
            "sample's scale a second holds a handful of orders, so the rate is read from a model, A exp(-t/tau) "
            "plus a slowly changing base, fitted by Poisson maximum likelihood to the per-second counts of the "
            "first hour. Interval: the fit's Fisher information, delta method on the log scale."
        ),
        unit="per second",
        measure=None,
        single_pass=metrics.spike,
        estimate=_field("peak_orders_per_second"),
        note=metrics.peak_orders_note,
    ),
    Claim(
        id="peak_payments_per_second",
        label="peak payments per second",
        kind="press",
        statement="Payments peaked at {target} per second.",
        source=PRESS,
        definition=(
            "Payments completed per second at their peak, at full scale: the fitted order curve convolved with the "
            "observed distribution of the delay from order to payment (orders.paid_ts_us - ts_us), and its maximum. "
            "Interval: delta method from the order fit (the delay distribution is measured on every sampled order "
            "and taken as known)."
        ),
        unit="per second",
        measure=None,
        single_pass=metrics.spike,
        estimate=_field("peak_payments_per_second"),
        note=metrics.peak_payments_note,
    ),
    Claim(
        id="payment_transactions",
        label="payment transactions",
        kind="press",
        statement="{target} payment transactions were processed.",
        source=PRESS,
        definition="Weighted count of orders (every order is paid once), online and store. Interval: " + _BOOT + ".",
        unit="count",
        measure=lambda d: gmv.orders_measure(iid=d.iid),
        estimate=_field("payment_transactions"),
    ),
    Claim(
        id="delivery_orders",
        label="orders needing a parcel delivery",
        kind="press",
        statement="{target} orders needed a parcel delivery.",
        source=PRESS,
        definition="Weighted count of orders with parcel_delivery = true. Interval: " + _BOOT + ".",
        unit="count",
        measure=lambda d: gmv.orders_measure(iid=d.iid),
        estimate=_field("delivery_orders"),
        note=metrics.delivery_note,
    ),
    Claim(
        id="mobile_gmv_share",
        label="share of GMV on mobile",
        kind="press",
        statement="{target} of GMV was placed on mobile devices.",
        source=PRESS,
        definition="Weighted GMV (USD) of orders with device = 'mobile' over all weighted GMV. Interval: "
        + _BOOT
        + ".",
        unit="share",
        measure=lambda d: gmv.mobile_share_measure(iid=d.iid),
        estimate=_itself,
    ),
)

REGISTRY: dict[str, Claim] = {claim.id: claim for claim in CLAIMS}
REPORT_IDS: tuple[str, ...] = tuple(c.id for c in CLAIMS if c.kind == "report")
PRESS_IDS: tuple[str, ...] = tuple(c.id for c in CLAIMS if c.kind == "press")
