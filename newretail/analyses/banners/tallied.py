"""The banner figures of the report, as tallies and finishing functions: AI impressions (a full-scale count) and
the AI-to-human CTR ratio with its two-way cluster-robust interval.

The tallies are random-group totals of impressions and clicks by creative source, over four keys: shoppers,
designs, their intersection and single impressions (see :func:`impression_tallies`). The public functions run
them in one pass and finish; ``newretail.claims.partials`` runs the same tallies per partition and calls the same
finishing functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import polars as pl

from newretail.analyses.banners._counting import TABLE
from newretail.analyses.banners.ctr import ratio_of_ctrs
from newretail.analyses.inputs import check_dataset as _check_ds
from newretail.methods.intervals import poisson_interval, ratio_interval
from newretail.methods.resampling import CONFIDENCE, GROUPS, Clustered, Estimate, multiway_interval, total_interval
from newretail.tables import Dataset, Measure, Tally, group_arrays, group_key

ALPHA = 1.0 - CONFIDENCE
CTR_SUMS = ("ai_n", "ai_k", "hu_n", "hu_k")  # impressions and clicks, AI and human (unweighted counts)
SUMS = (*CTR_SUMS, "ai_w", "w")  # plus the weighted AI and all impressions
CLUSTERINGS = ("shopper", "design", "both", "row")
Totals = Mapping[str, pl.DataFrame]
Cache = dict[Any, pl.DataFrame] | None


@dataclass(frozen=True)
class AiImpressions:
    """Full-scale impressions of AI creatives (95% interval), all banner impressions and the AI share of them."""

    estimate: Estimate
    impressions: float
    ai_share: float


@dataclass(frozen=True)
class AiCtrRatio:
    """The observed CTR ratio (AI over human) with its interval, both CTRs, and the design effect of the clustered
    interval (``None`` for the iid one). ``clicked`` is False when one kind of creative has no impressions or no
    clicks (then everything is NaN)."""

    estimate: Estimate
    ctr_ai: float
    ctr_human: float
    design_effect: float | None
    clicked: bool


def impression_tallies(*, iid: bool = False, groups: int = GROUPS) -> dict[str, Tally]:
    """Random-group totals of :data:`SUMS` over shoppers, designs, shopper x design and single impressions (only
    the shopper totals under ``iid``: the naive intervals need the overall counts only)."""
    ai, clicked, w = pl.col("creative_source") == "ai", pl.col("clicked"), pl.col("weight")
    sums = (("ai_n", ai), ("ai_k", ai & clicked), ("hu_n", ~ai), ("hu_k", ~ai & clicked), ("ai_w", ai * w), ("w", w))
    user, design = pl.col("user_id"), pl.col("design_id")
    keys = {"shopper": user, "design": design, "both": user * 7919 + design, "row": pl.col("impression_id")}
    if iid:
        keys = {"shopper": user}
    return {name: Tally(TABLE, by=group_key(key, groups), sums=sums) for name, key in keys.items()}


def _overall(totals: Totals) -> dict[str, float]:
    frame = totals["shopper"]
    return {name: float(frame[name].sum()) for name in (*SUMS, "n")}


def finish_ai_impressions(totals: Totals, *, iid: bool = False, groups: int = GROUPS) -> AiImpressions:
    """AI impressions: bootstrap over whole shoppers (impressions come in bursts from one shopper), or under
    ``iid`` the exact Poisson interval of the sampled count scaled by the weight."""
    c = _overall(totals)
    if iid:
        weight = c["ai_w"] / c["ai_n"] if c["ai_n"] else 0.0
        _, low, high = poisson_interval(int(c["ai_n"]), alpha=ALPHA)
        est = Estimate(c["ai_n"] * weight, float(low) * weight, float(high) * weight)
    else:
        est = total_interval(group_arrays(totals["shopper"], ("ai_w",), groups)["ai_w"])
    share = c["ai_w"] / c["w"] if c["w"] else math.nan
    return AiImpressions(est, c["w"], share)


def finish_clustered(totals: Totals, *, groups: int = GROUPS) -> Clustered:
    """The CTR ratio's two-way (shopper, design) cluster-robust interval from the four clusterings' totals."""
    g = {name: group_arrays(totals[name], CTR_SUMS, groups) for name in CLUSTERINGS}
    return multiway_interval(
        {"shopper": g["shopper"], "design": g["design"]},
        ratio_of_ctrs,
        intersections={"shopper x design": g["both"]},
        iid=g["row"],
        log=True,
    )


def finish_ctr_ratio(totals: Totals, *, iid: bool = False, groups: int = GROUPS) -> AiCtrRatio:
    """The CTR ratio: two-way clustered (:func:`finish_clustered`), or under ``iid`` Katz's interval of two
    independent binomial proportions."""
    c = _overall(totals)
    if min(c["ai_n"], c["hu_n"], c["ai_k"], c["hu_k"]) <= 0:
        nan = math.nan
        return AiCtrRatio(Estimate(nan, nan, nan), nan, nan, None, clicked=False)
    ctr_ai, ctr_human = c["ai_k"] / c["ai_n"], c["hu_k"] / c["hu_n"]
    if iid:
        ratio, low, high = ratio_interval(c["ai_k"], c["ai_n"], c["hu_k"], c["hu_n"], method="katz", alpha=ALPHA)
        return AiCtrRatio(Estimate(float(ratio), float(low), float(high)), ctr_ai, ctr_human, None, clicked=True)
    res = finish_clustered(totals, groups=groups)
    return AiCtrRatio(res.estimate, ctr_ai, ctr_human, res.design_effect, clicked=True)


def ai_impressions_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[AiImpressions]:
    return Measure(impression_tallies(iid=iid, groups=groups), partial(finish_ai_impressions, iid=iid, groups=groups))


def ctr_ratio_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[AiCtrRatio]:
    return Measure(impression_tallies(iid=iid, groups=groups), partial(finish_ctr_ratio, iid=iid, groups=groups))


def ai_impressions(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> AiImpressions:
    """Full-scale impressions of AI creatives with a 95% interval over whole shoppers (see :class:`AiImpressions`).

    ``iid`` gives the naive Poisson interval; ``cache`` reuses tally results between calls on the same dataset.
    """
    _check_ds(ds)
    return ai_impressions_measure(iid=iid, groups=groups).run(ds, cache=cache)


def ai_ctr_ratio(ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None) -> AiCtrRatio:
    """The observed AI-to-human CTR ratio with its two-way cluster-robust 95% interval and both CTRs (see
    :class:`AiCtrRatio`); ``iid`` gives Katz's interval that treats impressions as independent."""
    _check_ds(ds)
    return ctr_ratio_measure(iid=iid, groups=groups).run(ds, cache=cache)


def ctr_ratio_clustered(ds: Dataset, *, groups: int = 100) -> Clustered:
    """The observed CTR ratio (AI over human creatives) with a two-way cluster-robust 95% interval.

    A shopper sees many banners and a design is shown many times, and each carries its own random effect on
    clicking, so impressions are not independent. The interval linearises the log ratio over ``groups`` random groups
    of whole shoppers and of whole designs (Cameron-Gelbach-Miller two-way variance, the shopper x design
    intersection subtracted); :attr:`Clustered.design_effect` says how much wider it is than the interval that
    treats impressions as independent (:func:`ctr_ratio` with ``method="katz"``).
    """
    _check_ds(ds)
    return Measure(impression_tallies(groups=groups), partial(finish_clustered, groups=groups)).run(ds)
