"""The stress checks of the service claims: the chatbot's share and efficiency, and the Sanjiang pilot's uplift."""

from __future__ import annotations

import numpy as np
import polars as pl

from newretail.generate.expected import bot_truth
from newretail.stress.judging import (
    NAN,
    Check,
    PointContext,
    PointReading,
    Reading,
    claims_row,
    log_interval,
    wilson,
    with_truth,
)
from newretail.tables import Dataset


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


def _chatbot_share(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
    f = _inquiry_frame(ds)
    truth = bot_truth(ctx.calibration)
    n = f.height
    bot = f["bot"].to_numpy()
    no_repeat = int(np.sum(bot & ~f["repeat_contact"].to_numpy()))
    resolved = int(np.sum(bot & f["resolved"].to_numpy()))
    return {
        "handled": with_truth(claims_row(ds, "chatbot_share"), truth["handled"]),
        "handled_no_repeat": PointReading(no_repeat / n, *wilson(no_repeat, n), truth["handled_no_repeat"]),
        "resolved": PointReading(resolved / n, *wilson(resolved, n), truth["resolved"]),
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


def _efficiency(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
    f = _inquiry_frame(ds)
    occupancy = ctx.scenario.behaviour.chatbot.human_occupancy
    p = ctx.calibration.inquiries
    bot, human = f.filter("bot"), f.filter(~pl.col("bot"))
    shares = bot_truth(ctx.calibration)
    truth_r_bot, truth_r_human = shares["resolved"] / shares["handled"], p.human_resolution_rate
    truth_instance = p.bot_concurrency * p.human_handle_s / (occupancy * p.bot_handle_s)
    truth_conv = p.human_handle_s / (occupancy * p.bot_handle_s)
    reported = with_truth(claims_row(ds, "chatbot_efficiency_ratio"), truth_instance)
    if bot.height < 2 or human.height < 2:
        empty = PointReading(NAN, NAN, NAN, NAN, note="too few bot or human inquiries")
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
        "conversation_hour": PointReading(conversation, *log_interval(conversation, v_conv), truth_conv),
        "resolved_instance_hour": PointReading(
            resolved, *log_interval(resolved, v_res), truth_instance * truth_r_bot / truth_r_human
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
def _pilot(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
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
            out[name] = PointReading(NAN, NAN, NAN, truth, note=str(exc))
            continue
        out[name] = PointReading(fit.effect_, fit.ci_[0], fit.ci_[1], truth, note=f"{fit.n_units_} stores")
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
