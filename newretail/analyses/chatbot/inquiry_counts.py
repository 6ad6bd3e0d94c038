"""The chatbot figures of the report, as tallies and finishing functions: inquiries the bot handled to their end
(a full-scale count), the bot's share of inquiries and the bot-to-human efficiency ratio.

One tally: random-group totals of the inquiries over shoppers (single inquiries under ``iid``), since shoppers write
in bursts. The public functions run it in one pass and finish; ``newretail.claims.partials`` runs the same tally
per partition and calls the same finishing functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from newretail.analyses.inputs import check_dataset as _check_ds
from newretail.methods.intervals import poisson_interval, proportion_interval
from newretail.methods.resampling import (
    CONFIDENCE,
    GROUPS,
    Estimate,
    bootstrap_interval,
    ratio_interval,
    total_interval,
)
from newretail.tables import Dataset, Measure, Tally, group_arrays, group_key

ALPHA = 1.0 - CONFIDENCE
EFFICIENCY_SUMS = ("n_bot", "conc_bot", "handle_bot", "n_human", "handle_human")  # unweighted
Totals = Mapping[str, pl.DataFrame]
Cache = dict[Any, pl.DataFrame] | None
_NAN = Estimate(math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class BotEfficiency:
    """Inquiries a bot instance handles per hour over those an agent handles per paid hour (95% interval), the
    bot's mean concurrent conversations and an agent's inquiries per paid hour at ``occupancy``."""

    estimate: Estimate
    bot_concurrency: float
    human_inquiries_per_hour: float
    occupancy: float


def inquiry_tallies(*, iid: bool = False, groups: int = GROUPS) -> dict[str, Tally]:
    """Random-group totals of the inquiries over shoppers (single inquiries under ``iid``): unweighted counts,
    concurrent sessions and handling seconds of bot and human inquiries, and the weighted bot and all inquiries
    (with the sum of squared weights, to tell whether every row has the same weight)."""
    w = pl.col("weight")
    bot, human = pl.col("handled_by") == "bot", pl.col("handled_by") == "human"
    return {
        "inquiries": Tally(
            "inquiries",
            by=group_key(pl.col("inquiry_id") if iid else pl.col("user_id"), groups),
            sums=(
                ("n_bot", bot),
                ("conc_bot", bot * pl.col("concurrent_sessions")),
                ("handle_bot", bot * pl.col("handle_s")),
                ("n_human", human),
                ("handle_human", human * pl.col("handle_s")),
                ("w_bot", w * bot),
                ("w_all", w),
                ("w2_all", w * w),
            ),
        )
    }


def _overall(totals: Totals) -> dict[str, float]:
    frame = totals["inquiries"]
    return {name: float(frame[name].sum()) for name in ("n_bot", "n", "w_bot", "w_all", "w2_all")}


def finish_bot_inquiries(totals: Totals, *, iid: bool = False, groups: int = GROUPS) -> Estimate:
    """Bot-handled inquiries: bootstrap over whole shoppers (the count is over-dispersed), or under ``iid`` the
    exact Poisson interval of the sampled count scaled by the weight."""
    c = _overall(totals)
    if iid:
        weight = c["w_bot"] / c["n_bot"] if c["n_bot"] else 0.0
        _, low, high = poisson_interval(int(c["n_bot"]), alpha=ALPHA)
        return Estimate(c["n_bot"] * weight, float(low) * weight, float(high) * weight)
    return total_interval(group_arrays(totals["inquiries"], ("w_bot",), groups)["w_bot"])


def finish_share(totals: Totals, *, iid: bool = False, groups: int = GROUPS) -> Estimate:
    """The bot's share of inquiries: a bootstrap ratio over the random groups, or under ``iid`` with rows of one
    weight Wilson's interval of a binomial proportion."""
    c = _overall(totals)
    if c["n"] == 0:
        return _NAN
    uniform = math.isclose(c["n"] * c["w2_all"], c["w_all"] ** 2, rel_tol=1e-12)
    if iid and uniform:
        share, low, high = proportion_interval(int(c["n_bot"]), int(c["n"]), alpha=ALPHA)
        return Estimate(float(share), float(low), float(high))
    g = group_arrays(totals["inquiries"], ("w_bot", "w_all"), groups)
    return ratio_interval(g["w_bot"], g["w_all"])


def finish_efficiency(totals: Totals, *, occupancy: float, groups: int = GROUPS) -> BotEfficiency:
    """Bot inquiries per instance-hour (concurrency x 3600 / mean handling seconds) over an agent's inquiries per
    paid hour (occupancy x 3600 / mean handling seconds), with its bootstrap interval."""
    if not 0 < occupancy <= 1:
        raise ValueError(f"occupancy = {occupancy!r}: must be in (0, 1]")
    g = group_arrays(totals["inquiries"], EFFICIENCY_SUMS, groups)
    if g["n_bot"].sum() == 0 or g["n_human"].sum() == 0:
        return BotEfficiency(_NAN, math.nan, math.nan, occupancy)

    def ratio(nb: np.ndarray, cb: np.ndarray, hb: np.ndarray, nh: np.ndarray, hh: np.ndarray, axis: int = -1) -> Any:
        bot_per_hour = (cb.sum(axis=axis) / nb.sum(axis=axis)) * 3600.0 / (hb.sum(axis=axis) / nb.sum(axis=axis))
        return bot_per_hour / (occupancy * 3600.0 / (hh.sum(axis=axis) / nh.sum(axis=axis)))

    samples = (g["n_bot"], g["conc_bot"], g["handle_bot"], g["n_human"], g["handle_human"])
    low, high = bootstrap_interval(samples, ratio)
    concurrency = float(g["conc_bot"].sum() / g["n_bot"].sum())
    human_per_hour = occupancy * 3600.0 / float(g["handle_human"].sum() / g["n_human"].sum())
    est = Estimate(float(ratio(*samples)), float(low[0]), float(high[0]))
    return BotEfficiency(est, concurrency, human_per_hour, occupancy)


def bot_inquiries_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[Estimate]:
    return Measure(inquiry_tallies(iid=iid, groups=groups), partial(finish_bot_inquiries, iid=iid, groups=groups))


def share_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[Estimate]:
    return Measure(inquiry_tallies(iid=iid, groups=groups), partial(finish_share, iid=iid, groups=groups))


def efficiency_measure(*, occupancy: float, iid: bool = False, groups: int = GROUPS) -> Measure[BotEfficiency]:
    return Measure(
        inquiry_tallies(iid=iid, groups=groups), partial(finish_efficiency, occupancy=occupancy, groups=groups)
    )


def bot_inquiries(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> Estimate:
    """Full-scale inquiries the bot handled to their end, with a 95% interval over whole shoppers (Poisson under
    ``iid``)."""
    _check_ds(ds)
    return bot_inquiries_measure(iid=iid, groups=groups).run(ds, cache=cache)


def bot_share(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> Estimate:
    """The bot's share of inquiries (weighted), with a 95% interval over whole shoppers (Wilson under ``iid``)."""
    _check_ds(ds)
    return share_measure(iid=iid, groups=groups).run(ds, cache=cache)


def bot_efficiency(
    ds: Dataset, *, occupancy: float, groups: int = GROUPS, iid: bool = False, cache: Cache = None
) -> BotEfficiency:
    """The bot-to-human efficiency ratio at the agents' ``occupancy`` (share of paid time on inquiries, 0-1)."""
    _check_ds(ds)
    return efficiency_measure(occupancy=occupancy, iid=iid, groups=groups).run(ds, cache=cache)
