"""The stress checks of the online claims: the AI banners' CTR ratio, personalized-page conversion, GMV growth."""

from __future__ import annotations

import numpy as np
import polars as pl

from newretail.generate.expected import ctr_ratio_truth, gmv_growth_truth, population_truth
from newretail.stress.judging import (
    CTR_LATE_EXPOSURE,
    NAN,
    Check,
    PointContext,
    PointReading,
    Reading,
    claims_row,
    with_truth,
)
from newretail.tables import Dataset


# --------------------------------------------------------------------------------------------------------- banners
def _ctr_counts(ds: Dataset) -> pl.DataFrame:
    """Impressions and clicks by creative source, placement and exposure bucket (1, 2, 3+).

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
    ).rename({"source": "creative_source"})


def _standardized_ctr_ratio(counts: pl.DataFrame, buckets: list[int], truth: float) -> PointReading:
    """Clicks of AI impressions over the clicks human creatives would have had on the same placements and exposure
    buckets (indirect standardization on the human CTR of each stratum); delta-method interval on the log."""
    part = counts.filter(pl.col("bucket").is_in(buckets))
    ai = part.filter(pl.col("creative_source") == "ai")
    human = part.filter(pl.col("creative_source") == "human").select("placement", "bucket", n_h="n", k_h="clicks")
    strata = (
        ai.join(human, on=["placement", "bucket"], how="inner").filter(pl.col("n_h") > 0).sort("placement", "bucket")
    )
    if strata.height == 0:
        return PointReading(NAN, NAN, NAN, truth, note="no stratum with both kinds of creative")
    from newretail.methods.intervals import standardized_ratio

    n_a, k_a = strata["n"].to_numpy().astype(float), strata["clicks"].to_numpy().astype(float)
    n_h, k_h = strata["n_h"].to_numpy().astype(float), strata["k_h"].to_numpy().astype(float)
    if k_a.sum() <= 0 or np.sum(n_a * k_h / n_h) <= 0:
        return PointReading(NAN, NAN, NAN, truth, note="no clicks in the strata")
    ratio, low, high = standardized_ratio(k_a, n_a, k_h, n_h, alpha=0.05)
    dropped = int(ai.height - strata.height)
    note = f"{int(n_a.sum())} AI impressions in {strata.height} strata" + (
        f"; {dropped} strata without human impressions left out" if dropped else ""
    )
    return PointReading(ratio, low, high, truth, note=note)


def _ctr(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
    # truth: the expected ratios under the parameters drawn from, integrated over the shopper, design and hour
    # effects on clicking and the shopper effect on allocation as calibration does (not the sums of the rows'
    # p_click, which hold the few designs' and 24 hours' realized effects: one draw of them, not the world's ratio)
    everyone = ctr_ratio_truth(ctx.calibration, ctx.scenario)
    late = ctr_ratio_truth(ctx.calibration, ctx.scenario, min_exposure=CTR_LATE_EXPOSURE)
    counts = _ctr_counts(ds)
    return {
        "reported": with_truth(claims_row(ds, "ai_banner_ctr_ratio"), everyone["reported"]),
        "causal": _standardized_ctr_ratio(counts, [1, 2, CTR_LATE_EXPOSURE], everyone["causal"]),
        "causal_after_novelty": _standardized_ctr_ratio(counts, [CTR_LATE_EXPOSURE], late["causal"]),
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
def _conversion(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
    truth = population_truth(ctx.calibration.shoppers, ctx.scenario)
    rate, other = truth["conversion_personalized"], truth["conversion_other"]
    return {
        "rate": with_truth(claims_row(ds, "personalized_page_conversion", conversion_reading="rate"), rate),
        "lift": with_truth(
            claims_row(ds, "personalized_page_conversion", conversion_reading="lift"), rate / other - 1.0
        ),
        "causal_lift": PointReading(
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


# ------------------------------------------------------------------------------------------------------------- gmv
def _random_group_totals(lf: pl.LazyFrame, *, key: str, cluster: pl.Expr, value: pl.Expr) -> np.ndarray:
    """Totals of ``value`` within the random groups of clusters of :func:`newretail.methods.resampling.group_totals`
    (``cluster % GROUPS``), summed in numpy over rows in ``key`` order so that they are the same bits on every run."""
    from newretail.methods.resampling import GROUPS

    rows = lf.select(key, g=(cluster % GROUPS).cast(pl.Int64), v=value.cast(pl.Float64)).sort(key).collect()
    return np.bincount(rows["g"].to_numpy(), weights=rows["v"].to_numpy(), minlength=GROUPS)


def _growth(ds: Dataset, ctx: PointContext) -> dict[str, PointReading]:
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
        "usd": with_truth(claims_row(ds, "gmv_yoy_growth"), truth["usd"]),
        "rmb": PointReading(rmb, float(low[0]), float(high[0]), truth["rmb"]),
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
