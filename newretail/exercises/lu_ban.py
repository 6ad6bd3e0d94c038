"""Exercises of notebook 02 (Lu Ban's banners): ratios, Simpson's paradox, standardisation, sample size."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise, z

if TYPE_CHECKING:
    from newretail.tables import Dataset


def _ctr(ds: Dataset, by: list[str]) -> pl.DataFrame:
    return (
        ds.scan("banner_impressions")
        .group_by(["creative_source", *by])
        .agg(n=pl.len(), clicks=pl.col("clicked").sum())
        .with_columns(creative_source=pl.col("creative_source").cast(pl.String))
        .collect()
    )


def observed_ratio(ds: Dataset) -> float:
    t = {r["creative_source"]: r["clicks"] / r["n"] for r in _ctr(ds, []).iter_rows(named=True)}
    return t["ai"] / t["human"]


def standardised_ratio(ds: Dataset) -> float:
    """AI over human CTR within placements, both weighted as the human impressions were spread."""
    t = _ctr(ds, ["placement"]).with_columns(ctr=pl.col("clicks") / pl.col("n"))
    ai = t.filter(pl.col("creative_source") == "ai").select("placement", ctr_ai="ctr")
    hu = t.filter(pl.col("creative_source") == "human").select("placement", n_human="n", ctr_human="ctr")
    j = ai.join(hu, on="placement")
    n_human, ctr_ai, ctr_human = (j[c].to_numpy() for c in ("n_human", "ctr_ai", "ctr_human"))
    return float((n_human * ctr_ai).sum() / (n_human * ctr_human).sum())


def true_causal_ratio(ds: Dataset) -> float:
    """Mean true click probability of AI-served impressions with an AI creative over that with a human one."""
    truth = ds.scan("truth_banner_impressions").join(
        ds.scan("banner_impressions").select("impression_id", "creative_source"), on="impression_id"
    )
    row = (
        truth.filter(pl.col("creative_source") == "ai")
        .select(ai=pl.col("p_click_if_ai").mean(), human=pl.col("p_click_if_human").mean())
        .collect()
    )
    return float(row["ai"][0] / row["human"][0])


def impressions_per_arm(ds: Dataset) -> float:
    """Per arm, to tell a ratio of 2.0 from 1.5 with 80% power at 5% (two-sided), at the observed human CTR."""
    t = {r["creative_source"]: r["clicks"] / r["n"] for r in _ctr(ds, []).iter_rows(named=True)}
    p0 = t["human"]
    p1 = 2.0 * p0
    variance = (1 - p1) / p1 + (1 - p0) / p0  # of the log ratio, times impressions per arm
    return (z(0.975) + z(0.8)) ** 2 * variance / (math.log(2.0) - math.log(1.5)) ** 2


EXERCISES = (
    Exercise(
        "02.1",
        "compute",
        "The observed CTR ratio: clicks over impressions of AI creatives, divided by the same for human ones.",
        "ratio",
        observed_ratio,
        "group `banner_impressions` by `creative_source`, take `clicked.mean()` for each, divide ai by human.",
        rel_tol=1e-9,
    ),
    Exercise(
        "02.2",
        "compute",
        "Standardise to the other group: the lesson weighted placements as the AI impressions were spread. Weight "
        "them instead as the *human* impressions were: sum(n_human ctr_ai) / sum(n_human ctr_human).",
        "ratio",
        standardised_ratio,
        "per placement take n_human, ctr_ai and ctr_human (CTR = clicks / impressions of that source there).",
        rel_tol=1e-9,
    ),
    Exercise(
        "02.3",
        "predict, then run",
        "Guess first whether the true causal ratio on the AI-served impressions is above or below your answer to "
        "02.2. Then compute it from `truth_banner_impressions`: the mean of `p_click_if_ai` over the mean of "
        "`p_click_if_human`, over the impressions that got an AI creative.",
        "ratio",
        true_causal_ratio,
        "join `truth_banner_impressions` to `banner_impressions` on `impression_id` and keep creative_source == 'ai'.",
        rel_tol=1e-9,
    ),
    Exercise(
        "02.4",
        "design",
        "Choose a sample size: how many impressions per arm would a randomised A/B test need to tell a CTR ratio "
        "of 2.0 from 1.5 with 80% power at a two-sided 5% level, at the human CTR observed here? Use the normal "
        "approximation on the log ratio: n = (z_0.975 + z_0.8)^2 [(1-p1)/p1 + (1-p0)/p0] / (log 2 - log 1.5)^2.",
        "impressions per arm",
        impressions_per_arm,
        "p0 is the observed human CTR and p1 = 2 p0; `scipy.stats.norm.ppf` gives the z quantiles.",
        rel_tol=0.02,
    ),
)
