"""What a sweep evaluates at each point: for each claim, several *readings* of its figure, each estimated from the
point's small dataset with a 95% interval, judged against the figure, and set against the generator's truth.

A reading is one way to take the report's sentence. The *reported* reading is the one the claims table uses
(:func:`newretail.claims.evaluate`), so at the base scenario it holds by construction of the calibration; the
stricter readings ask what the sentence would need to mean to be true (the causal CTR ratio, the share of inquiries
the bot actually *resolved*, growth in RMB, ...).

Each reading has a direction: ``two-sided`` (the figure lies inside the interval: a measurement of the same
quantity), ``at-least`` (the figure is a floor the reading must reach: it holds unless the whole interval lies below
it) or ``covers-truth`` (an estimator is judged by whether its interval covers the true effect). ``holds`` judges
the data (what a study of the sweep's size would conclude); ``holds_truth`` judges the generator's expected value
(free of sampling noise) against the figure, reading a published figure as the values that round to it
(:func:`rounding_halfwidth`: "95%" is 94.5% to 95.5%, "10,000 times" 9,500 to 10,500).

The ``truth`` of a reading is computed from the ``truth_*`` tables and the parameters the data were drawn from: a
validation quantity, never an input of an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl

from newretail.generate.expected import bot_truth, gmv_growth_truth, population_truth
from newretail.scenario import Scenario

if TYPE_CHECKING:
    from newretail.generate import Calibration
from newretail.tables import Dataset

__all__ = ["CHECKS", "Check", "Measure", "PointContext", "Reading", "evaluate_check", "rounding_halfwidth"]

Direction = Literal["two-sided", "at-least", "covers-truth"]
MIN_SIGNIFICANT = 2  # a round figure ("10,000 times", "100% higher") is read to two significant digits
Z95 = 1.959963984540054  # two-sided 95% normal quantile
CTR_LATE_EXPOSURE = 3  # "after the novelty": the third and later exposure to a creative


@dataclass(frozen=True)
class PointContext:
    """What a check may use besides the data: the point's scenario (targets, definitions) and the parameters the
    data were drawn from (for the truth only)."""

    scenario: Scenario
    calibration: Calibration


@dataclass(frozen=True)
class Measure:
    """One reading measured at one point: estimate and 95% interval (NaN when the reading has no estimator), the
    generator's truth, and a note."""

    value: float
    ci_low: float
    ci_high: float
    truth: float
    note: str = ""
    holds: bool | None = None  # set when the claims table judged it


@dataclass(frozen=True)
class Reading:
    """One way to read a claim's figure."""

    name: str
    label: str
    direction: Direction
    definition: str


@dataclass(frozen=True)
class Check:
    """A claim as the sweep evaluates it: the generator groups it needs and its readings."""

    claim: str
    title: str
    unit: str
    groups: tuple[str, ...]
    readings: tuple[Reading, ...]
    compute: Callable[[Dataset, PointContext], dict[str, Measure]]
    target: Callable[[Scenario], float | None]  # None: judged against the truth (an estimator's check)
    reported: Callable[[Scenario], str]

    def reading(self, name: str) -> Reading:
        """The reading called ``name``."""
        for r in self.readings:
            if r.name == name:
                return r
        raise ValueError(f"reading = {name!r}: {self.claim} has readings {', '.join(r.name for r in self.readings)}")


NAN = math.nan


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def judge(direction: str, target: float, value: float, low: float, high: float) -> bool:
    """Whether a reading's interval supports the figure (see the module docstring)."""
    if not _finite(target, low, high):
        return False
    if direction == "at-least":
        return high >= target
    return low <= target <= high


def rounding_halfwidth(target: float, unit: str) -> float:
    """Half a unit in the last digit of a figure as published: the values within it round to the figure.

    Shares are read in percent to their last written decimal ("95%": 0.005); other figures to their last significant
    digit, and at least ``MIN_SIGNIFICANT`` of them ("10,000 times": 500; a ratio of 2: 0.05).
    """
    if not _finite(target) or target == 0:
        return 0.0
    if unit == "share":
        percent = target * 100.0
        decimals = next((d for d in range(7) if abs(round(percent, d) - percent) < 1e-9), 6)
        return 0.5 * 10.0 ** (-decimals) / 100.0
    digits = next((d for d in range(1, 16) if float(f"{target:.{d}g}") == target), 15)
    digits = max(digits, MIN_SIGNIFICANT)
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(target))) - digits + 1)


def judge_truth(direction: str, target: float, truth: float, unit: str) -> bool | None:
    """Whether the generator's expected value rounds to the figure (``two-sided``) or reaches it (``at-least``);
    None for checks of an estimator (whose target is the truth itself)."""
    if direction == "covers-truth":
        return None
    if not _finite(target, truth):
        return False
    half = rounding_halfwidth(target, unit)
    if direction == "at-least":
        return truth >= target - half
    return abs(truth - target) <= half


def evaluate_check(check: Check, ds: Dataset, ctx: PointContext) -> list[dict[str, object]]:
    """Rows (one per reading) of a check on one point's dataset."""
    measures = check.compute(ds, ctx)
    reported = check.reported(ctx.scenario)
    rows: list[dict[str, object]] = []
    for r in check.readings:
        m = measures[r.name]
        target = check.target(ctx.scenario)
        if target is None:
            target = m.truth
        if m.holds is not None:
            holds = m.holds
        elif not math.isfinite(m.value):  # no estimator: the data cannot say more than the truth
            holds = bool(judge_truth(r.direction, target, m.truth, check.unit))
        else:
            holds = judge(r.direction, target, m.value, m.ci_low, m.ci_high)
        rows.append(
            {
                "claim": check.claim,
                "reading": r.name,
                "reported": r.name == reported,
                "direction": r.direction,
                "unit": check.unit,
                "target": float(target),
                "value": float(m.value),
                "ci_low": float(m.ci_low),
                "ci_high": float(m.ci_high),
                "truth": float(m.truth),
                "holds": bool(holds),
                "holds_truth": judge_truth(r.direction, target, m.truth, check.unit),
                "note": m.note,
            }
        )
    return rows


def _claims_row(ds: Dataset, claim: str, *, conversion_reading: str | None = None) -> Measure:
    """The claims table's value, interval and verdict for one claim (the reported reading)."""
    from newretail.claims import evaluate

    row = evaluate(ds, [claim], conversion_reading=conversion_reading, check_files=False)[claim]
    return Measure(row.reproduced, row.ci_low, row.ci_high, NAN, note=row.note, holds=row.holds)


def _with_truth(m: Measure, truth: float) -> Measure:
    return Measure(m.value, m.ci_low, m.ci_high, float(truth), m.note, m.holds)


def _log_interval(value: float, var_log: float) -> tuple[float, float]:
    """Normal interval on the log scale (delta method), back on the ratio scale."""
    if not (value > 0 and var_log >= 0 and _finite(value, var_log)):
        return NAN, NAN
    half = Z95 * math.sqrt(var_log)
    return value * math.exp(-half), value * math.exp(half)


def _wilson(count: int, n: int) -> tuple[float, float]:
    """Wilson interval of a share (:func:`newretail.methods.proportion_interval`); NaN without trials."""
    from newretail.methods.intervals import proportion_interval

    if n == 0:
        return NAN, NAN
    _, low, high = proportion_interval(count, n, alpha=0.05)
    return float(low), float(high)


# --------------------------------------------------------------------------------------------------------- banners
def _ctr_counts(ds: Dataset) -> pl.DataFrame:
    """Impressions and clicks by creative source, placement and exposure bucket (1, 2, 3+), with the truth's sums
    of click probabilities (the truth columns are used for ``truth`` only).

    The sums run in numpy over rows in impression order, so they are the same bits on every run.
    """
    rows = (
        ds.scan("banner_impressions")
        .select(
            "impression_id",
            source=pl.col("creative_source").cast(pl.String),
            placement=pl.col("placement").cast(pl.String),
            bucket=pl.col("exposure_index").clip(upper_bound=CTR_LATE_EXPOSURE).cast(pl.Int64),
            clicked=pl.col("clicked"),
        )
        .join(ds.scan("truth_banner_impressions"), on="impression_id")
        .sort("impression_id")
        .collect()
    )
    strata = rows.select("source", "placement", "bucket").unique().sort("source", "placement", "bucket")
    code = rows.join(strata.with_row_index("code"), on=["source", "placement", "bucket"], how="left")["code"]
    idx, k = code.to_numpy().astype(np.int64), strata.height

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=values.astype(np.float64), minlength=k)

    return strata.with_columns(
        n=pl.Series(np.bincount(idx, minlength=k).astype(np.int64)),
        clicks=pl.Series(total(rows["clicked"].to_numpy()).astype(np.int64)),
        p=pl.Series(total(rows["p_click"].to_numpy())),
        p_ai=pl.Series(total(rows["p_click_if_ai"].to_numpy())),
        p_human=pl.Series(total(rows["p_click_if_human"].to_numpy())),
    ).rename({"source": "creative_source"})


def _standardized_ctr_ratio(counts: pl.DataFrame, buckets: list[int]) -> Measure:
    """Clicks of AI impressions over the clicks human creatives would have had on the same placements and exposure
    buckets (indirect standardization on the human CTR of each stratum); delta-method interval on the log."""
    part = counts.filter(pl.col("bucket").is_in(buckets))
    ai = part.filter(pl.col("creative_source") == "ai")
    human = part.filter(pl.col("creative_source") == "human").select("placement", "bucket", n_h="n", k_h="clicks")
    strata = (
        ai.join(human, on=["placement", "bucket"], how="inner").filter(pl.col("n_h") > 0).sort("placement", "bucket")
    )
    truth = float(np.sum(ai["p_ai"].to_numpy()) / np.sum(ai["p_human"].to_numpy())) if ai.height else NAN
    if strata.height == 0:
        return Measure(NAN, NAN, NAN, truth, note="no stratum with both kinds of creative")
    from newretail.methods.intervals import standardized_ratio

    n_a, k_a = strata["n"].to_numpy().astype(float), strata["clicks"].to_numpy().astype(float)
    n_h, k_h = strata["n_h"].to_numpy().astype(float), strata["k_h"].to_numpy().astype(float)
    if k_a.sum() <= 0 or np.sum(n_a * k_h / n_h) <= 0:
        return Measure(NAN, NAN, NAN, truth, note="no clicks in the strata")
    ratio, low, high = standardized_ratio(k_a, n_a, k_h, n_h, alpha=0.05)
    dropped = int(ai.height - strata.height)
    note = f"{int(n_a.sum())} AI impressions in {strata.height} strata" + (
        f"; {dropped} strata without human impressions left out" if dropped else ""
    )
    return Measure(ratio, low, high, truth, note=note)


def _ctr(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    counts = _ctr_counts(ds)
    ai, human = counts.filter(pl.col("creative_source") == "ai"), counts.filter(pl.col("creative_source") == "human")
    p_ai, n_ai = np.sum(ai["p"].to_numpy()), np.sum(ai["n"].to_numpy())
    p_hu, n_hu = np.sum(human["p"].to_numpy()), np.sum(human["n"].to_numpy())
    truth = float((p_ai / n_ai) / (p_hu / n_hu)) if n_ai and n_hu else NAN
    return {
        "reported": _with_truth(_claims_row(ds, "ai_banner_ctr_ratio"), truth),
        "causal": _standardized_ctr_ratio(counts, [1, 2, CTR_LATE_EXPOSURE]),
        "causal_after_novelty": _standardized_ctr_ratio(counts, [CTR_LATE_EXPOSURE]),
    }


CTR = Check(
    claim="ai_banner_ctr_ratio",
    title="AI banners' CTR over human banners' (\"100% higher\")",
    unit="ratio",
    groups=("banners",),
    readings=(
        Reading(
            "reported",
            "observed CTR ratio",
            "two-sided",
            "Observed CTR of AI creatives over that of human ones, as the claims table computes it.",
        ),
        Reading(
            "causal",
            "causal ratio (same slots)",
            "at-least",
            "Clicks of AI impressions over the clicks human creatives would have had in the same placements and "
            "exposure buckets (indirect standardization); truth: expected clicks of the AI impressions with their AI "
            "creative over the same impressions with a human one.",
        ),
        Reading(
            "causal_after_novelty",
            f"causal ratio, exposure {CTR_LATE_EXPOSURE}+",
            "at-least",
            f"The causal ratio among impressions seen for the {CTR_LATE_EXPOSURE}rd time or more: the advantage once "
            "the novelty has worn off.",
        ),
    ),
    compute=_ctr,
    target=lambda sc: sc.targets.ai_banner_ctr_ratio,
    reported=lambda sc: "reported",
)


# ------------------------------------------------------------------------------------------------- personalization
def _conversion(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    truth = population_truth(ctx.calibration.shoppers, ctx.scenario)
    rate, other = truth["conversion_personalized"], truth["conversion_other"]
    return {
        "rate": _with_truth(_claims_row(ds, "personalized_page_conversion", conversion_reading="rate"), rate),
        "lift": _with_truth(
            _claims_row(ds, "personalized_page_conversion", conversion_reading="lift"), rate / other - 1.0
        ),
        "causal_lift": Measure(
            NAN,
            NAN,
            NAN,
            truth["causal_lift"],
            note="truth only: conversion of personalized visits over their conversion without personalization",
        ),
    }


CONVERSION = Check(
    claim="personalized_page_conversion",
    title='Personalized pages\' "20% conversion"',
    unit="share",
    groups=("shoppers",),
    readings=(
        Reading(
            "rate",
            "conversion of personalized visits",
            "two-sided",
            "Share of personalized visits that end in an order (the 'rate' reading).",
        ),
        Reading(
            "lift",
            "lift over other visits",
            "two-sided",
            "Conversion of personalized visits over that of the other visits, minus 1 (the 'lift' reading).",
        ),
        Reading(
            "causal_lift",
            "causal lift (truth)",
            "at-least",
            "What personalization did: expected conversion of the personalized visits over their expected "
            "conversion without personalization, minus 1. From the truth only (no estimator in the sweep).",
        ),
    ),
    compute=_conversion,
    target=lambda sc: sc.targets.personalized_page_conversion,
    reported=lambda sc: sc.behaviour.personalization.conversion_reading,
)


# --------------------------------------------------------------------------------------------------------- chatbot
def _inquiry_frame(ds: Dataset) -> pl.DataFrame:
    return (
        ds.scan("inquiries")
        .select(
            "inquiry_id",
            "handled_by",
            "resolved",
            "repeat_contact",
            "handle_s",
            "concurrent_sessions",
        )
        .with_columns(bot=pl.col("handled_by") == "bot")
        .sort("inquiry_id")
        .collect()
    )


def _chatbot_share(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    f = _inquiry_frame(ds)
    truth = bot_truth(ctx.calibration)
    n = f.height
    bot = f["bot"].to_numpy()
    no_repeat = int(np.sum(bot & ~f["repeat_contact"].to_numpy()))
    resolved = int(np.sum(bot & f["resolved"].to_numpy()))
    return {
        "handled": _with_truth(_claims_row(ds, "chatbot_share"), truth["handled"]),
        "handled_no_repeat": Measure(no_repeat / n, *_wilson(no_repeat, n), truth["handled_no_repeat"]),
        "resolved": Measure(resolved / n, *_wilson(resolved, n), truth["resolved"]),
    }


CHATBOT_SHARE = Check(
    claim="chatbot_share",
    title='Ali Xiaomi "handled 95%" of inquiries',
    unit="share",
    groups=("inquiries",),
    readings=(
        Reading(
            "handled",
            "handled by the bot",
            "two-sided",
            "Share of inquiries the bot handled to the end without passing them to staff (the claims table).",
        ),
        Reading(
            "handled_no_repeat",
            "handled, customer did not write again",
            "at-least",
            "Share of inquiries the bot handled and after which the customer did not contact again.",
        ),
        Reading(
            "resolved", "resolved by the bot", "at-least", "Share of inquiries the bot handled and actually resolved."
        ),
    ),
    compute=_chatbot_share,
    target=lambda sc: sc.targets.chatbot_share,
    reported=lambda sc: "handled",
)


def _efficiency(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    f = _inquiry_frame(ds)
    occupancy = ctx.scenario.behaviour.chatbot.human_occupancy
    p = ctx.calibration.inquiries
    bot, human = f.filter("bot"), f.filter(~pl.col("bot"))
    shares = bot_truth(ctx.calibration)
    truth_r_bot, truth_r_human = shares["resolved"] / shares["handled"], p.human_resolution_rate
    truth_instance = p.bot_concurrency * p.human_handle_s / (occupancy * p.bot_handle_s)
    truth_conv = p.human_handle_s / (occupancy * p.bot_handle_s)
    reported = _with_truth(_claims_row(ds, "chatbot_efficiency_ratio"), truth_instance)
    if bot.height < 2 or human.height < 2:
        empty = Measure(NAN, NAN, NAN, NAN, note="too few bot or human inquiries")
        return {"instance_hour": reported, "conversation_hour": empty, "resolved_instance_hour": empty}
    c, hb, rb = (bot[col].to_numpy().astype(float) for col in ("concurrent_sessions", "handle_s", "resolved"))
    hh, rh = (human[col].to_numpy().astype(float) for col in ("handle_s", "resolved"))
    mc, mhb, mrb, mhh, mrh = c.mean(), hb.mean(), rb.mean(), hh.mean(), rh.mean()

    def var_log(bot_terms: np.ndarray, human_terms: np.ndarray) -> float:
        """Variance of a log ratio from the per-inquiry influence terms of its bot and human means."""
        return float(np.sum(bot_terms**2) / bot_terms.size**2 + np.sum(human_terms**2) / human_terms.size**2)

    conversation = mhh / (occupancy * mhb)
    v_conv = var_log(-(hb - mhb) / mhb, (hh - mhh) / mhh)
    if mrb > 0 and mrh > 0:
        resolved = mc * mhh * mrb / (occupancy * mhb * mrh)
        v_res = var_log((c - mc) / mc - (hb - mhb) / mhb + (rb - mrb) / mrb, (hh - mhh) / mhh - (rh - mrh) / mrh)
    else:
        resolved, v_res = NAN, NAN
    return {
        "instance_hour": reported,
        "conversation_hour": Measure(conversation, *_log_interval(conversation, v_conv), truth_conv),
        "resolved_instance_hour": Measure(
            resolved, *_log_interval(resolved, v_res), truth_instance * truth_r_bot / truth_r_human
        ),
    }


EFFICIENCY = Check(
    claim="chatbot_efficiency_ratio",
    title='Ali Xiaomi "10,000 times more efficient"',
    unit="ratio",
    groups=("inquiries",),
    readings=(
        Reading(
            "instance_hour",
            "inquiries per bot instance-hour",
            "two-sided",
            "Inquiries per bot instance-hour (with its concurrent sessions) over inquiries per paid agent-hour "
            "(the claims table).",
        ),
        Reading(
            "conversation_hour",
            "per conversation-hour",
            "at-least",
            "Without concurrency: one conversation at a time for the bot as for an agent, i.e. the ratio of "
            "handling times (with the agents' occupancy).",
        ),
        Reading(
            "resolved_instance_hour",
            "resolved inquiries per instance-hour",
            "at-least",
            "The instance-hour ratio counting only resolved inquiries on both sides.",
        ),
    ),
    compute=_efficiency,
    target=lambda sc: sc.targets.chatbot_efficiency_ratio,
    reported=lambda sc: "instance_hour",
)


# ---------------------------------------------------------------------------------------------------------- stores
def _pilot(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    from newretail.analyses import stores
    from newretail.methods import DiD

    truth = float(stores.pilot_truth(ds).effect_log)
    radius = ctx.scenario.targets.hema_radius_km
    out = {}
    for name, buffer_km, trends in (("did", 0.0, False), ("did_buffer", radius, False), ("did_trends", 0.0, True)):
        try:
            panel = stores.store_panel(ds, buffer_km=buffer_km)
            fit = DiD("store_id", "day", "y", "pilot_open", unit_trends=trends).fit(panel)
        except ValueError as exc:
            out[name] = Measure(NAN, NAN, NAN, truth, note=str(exc))
            continue
        out[name] = Measure(fit.effect_, fit.ci_[0], fit.ci_[1], truth, note=f"{fit.n_units_} stores")
    return out


PILOT = Check(
    claim="sanjiang_pilot_uplift",
    title="The Sanjiang pilot's uplift, estimated by difference-in-differences",
    unit="log",
    groups=("city",),
    readings=(
        Reading(
            "did",
            "DiD, all other supermarkets as controls",
            "covers-truth",
            "Difference-in-differences of log daily sales, pilot stores against the other Sanjiang and other "
            "supermarkets, store and day fixed effects, store-clustered interval (newretail.methods.DiD).",
        ),
        Reading(
            "did_buffer",
            "DiD, controls beyond the catchment",
            "covers-truth",
            "The same, leaving out controls within hema_radius_km of a pilot (a guard against spill-over).",
        ),
        Reading(
            "did_trends",
            "DiD with store trends",
            "covers-truth",
            "The same with a linear trend per store (a guard against pilots chosen on their growth).",
        ),
    ),
    compute=_pilot,
    target=lambda sc: None,
    reported=lambda sc: "did",
)


# ------------------------------------------------------------------------------------------------------------- gmv
def _random_group_totals(lf: pl.LazyFrame, *, key: str, cluster: pl.Expr, value: pl.Expr) -> np.ndarray:
    """Totals of ``value`` within the random groups of clusters of :func:`newretail.methods.resampling.group_totals`
    (``cluster % GROUPS``), summed in numpy over rows in ``key`` order so that they are the same bits on every run."""
    from newretail.methods.resampling import GROUPS

    rows = lf.select(key, g=(cluster % GROUPS).cast(pl.Int64), v=value.cast(pl.Float64)).sort(key).collect()
    return np.bincount(rows["g"].to_numpy(), weights=rows["v"].to_numpy(), minlength=GROUPS)


def _growth(ds: Dataset, ctx: PointContext) -> dict[str, Measure]:
    from newretail.methods.resampling import bootstrap_interval

    rmb_value = pl.col("weight") * pl.col("gmv_rmb")
    g17 = _random_group_totals(
        ds.scan("orders", weights=True),
        key="order_id",
        cluster=pl.coalesce(pl.col("user_id"), pl.col("order_id")),
        value=rmb_value,
    )
    g16 = _random_group_totals(
        ds.scan("baseline_orders", weights=True), key="order_id", cluster=pl.col("visit_id"), value=rmb_value
    )

    def growth(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(a, axis=axis) / np.sum(b, axis=axis) - 1.0

    low, high = bootstrap_interval((g17, g16), growth)
    rmb = float(growth(g17, g16))
    # truth: the whole event's expected GMV under the parameters drawn from, stores included
    truth = gmv_growth_truth(ctx.calibration, ctx.scenario)
    return {
        "usd": _with_truth(_claims_row(ds, "gmv_yoy_growth"), truth["usd"]),
        "rmb": Measure(rmb, float(low[0]), float(high[0]), truth["rmb"]),
    }


GROWTH = Check(
    claim="gmv_yoy_growth",
    title='GMV "39% over the 2016 event"',
    unit="share",
    groups=("shoppers", "city", "baseline"),
    readings=(
        Reading(
            "usd",
            "growth in USD",
            "two-sided",
            "GMV in USD over the 2016 event's GMV in USD, minus 1 (the claims table).",
        ),
        Reading(
            "rmb",
            "growth in RMB",
            "two-sided",
            "GMV in RMB over the 2016 event's GMV in RMB, each at its own day's exchange rate, minus 1.",
        ),
    ),
    compute=_growth,
    target=lambda sc: sc.targets.gmv_yoy_growth,
    reported=lambda sc: "usd",
)


CHECKS: dict[str, Check] = {c.claim: c for c in (CTR, CONVERSION, CHATBOT_SHARE, EFFICIENCY, PILOT, GROWTH)}
"""Every claim a sweep can stress, by id (the claims registry's id, or ``sanjiang_pilot_uplift``)."""
