"""Exercises of notebook 02 (Lu Ban's banners): ratios, Simpson's paradox, standardisation, sample size."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise, Wrong, z

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


def true_causal_ratio(ds: Dataset, source: str = "human") -> float:
    """Mean true click probability with an AI creative over that with a human one, over the impressions that got a
    ``source`` creative (``"human"``: the effect the AI creatives would have had where people's ran)."""
    truth = ds.scan("truth_banner_impressions").join(
        ds.scan("banner_impressions").select("impression_id", "creative_source"), on="impression_id"
    )
    row = (
        truth.filter(pl.col("creative_source") == source)
        .select(ai=pl.col("p_click_if_ai").mean(), human=pl.col("p_click_if_human").mean())
        .collect()
    )
    return float(row["ai"][0] / row["human"][0])


def ai_standardised_ratio(ds: Dataset) -> float:
    """The lesson's standardised ratio: placements weighted as the AI impressions were spread."""
    t = _ctr(ds, ["placement"]).with_columns(ctr=pl.col("clicks") / pl.col("n"))
    ai = t.filter(pl.col("creative_source") == "ai").select("placement", n_ai="n", ctr_ai="ctr")
    hu = t.filter(pl.col("creative_source") == "human").select("placement", ctr_human="ctr")
    j = ai.join(hu, on="placement")
    n_ai, ctr_ai, ctr_human = (j[c].to_numpy() for c in ("n_ai", "ctr_ai", "ctr_human"))
    return float((n_ai * ctr_ai).sum() / (n_ai * ctr_human).sum())


RATIO_ALT, RATIO_NULL, POWER = 1.3, 1.0, 0.9  # 02.3: tell a 30% better creative from no difference


def impressions_per_arm(ds: Dataset, *, power: float = POWER, two_sided: bool = True, log_scale: bool = True) -> float:
    """Per arm, to tell a CTR ratio of 1.3 from 1.0 with ``power`` at 5%, at the observed human CTR (normal
    approximation on the log ratio; the variants give the mistakes the exercise lists)."""
    t = {r["creative_source"]: r["clicks"] / r["n"] for r in _ctr(ds, []).iter_rows(named=True)}
    p0 = t["human"]
    p1 = RATIO_ALT * p0
    variance = (1 - p1) / p1 + (1 - p0) / p0  # of the log ratio, times impressions per arm
    distance = math.log(RATIO_ALT) - math.log(RATIO_NULL) if log_scale else RATIO_ALT - RATIO_NULL
    return (z(0.975 if two_sided else 0.95) + z(power)) ** 2 * variance / distance**2


EXERCISES = (
    Exercise(
        "02.1",
        "compute",
        "A changed assumption: the lesson standardised to the AI impressions (placements weighted as the AI "
        "impressions were spread). Weight the placements instead as the *human* impressions were spread: "
        "sum over placements of n_human x ctr_ai, over the same sum with ctr_human.",
        "ratio",
        standardised_ratio,
        "Within each placement you need three numbers: how many human impressions it had, and the CTR of each "
        'source there. The weights answer "what if the AI creatives had run where the human ones did?"',
        rel_tol=1e-9,
        wrong=(
            Wrong(
                "the lesson's ratio, standardised to the AI impressions",
                ai_standardised_ratio,
                "weight each placement by its human impressions, not its AI ones.",
            ),
            Wrong(
                "the observed ratio over all placements",
                observed_ratio,
                "that pools the placements; compare within each placement first, then average with the weights.",
            ),
        ),
    ),
    Exercise(
        "02.2",
        "predict, then run",
        "Predict first whether the true causal ratio is larger on the impressions that got a *human* creative than "
        "on those that got an AI one. Then compute it from `truth_banner_impressions`: the mean of `p_click_if_ai` "
        "over the mean of `p_click_if_human`, over the impressions that got a human creative.",
        "ratio",
        true_causal_ratio,
        "The truth table holds both potential click probabilities of every impression; join it to the impressions "
        "to know which creative each one actually got, and keep the human ones.",
        rel_tol=1e-9,
        wrong=(
            Wrong(
                "the causal ratio on the AI-served impressions",
                lambda ds: true_causal_ratio(ds, "ai"),
                "keep the impressions that got a human creative (`creative_source == 'human'`).",
            ),
            Wrong(
                "the observed ratio",
                observed_ratio,
                "the observed ratio compares different impressions; the truth compares each impression with itself.",
            ),
            Wrong(
                "02.1's answer",
                standardised_ratio,
                "that is an estimate from the clicks; this exercise reads the true probabilities.",
            ),
        ),
    ),
    Exercise(
        "02.3",
        "design",
        "Choose a sample size: how many impressions per arm would a randomised A/B test need to tell a CTR ratio of "
        "1.3 from no difference (1.0) with 90% power at a two-sided 5% level, at the human CTR observed here? Use "
        "the normal approximation on the log ratio.",
        "impressions per arm",
        impressions_per_arm,
        "The log of a ratio of two CTRs has a variance of about (1-p1)/(n p1) + (1-p0)/(n p0) with n impressions "
        "per arm; the test needs the distance between log 1.3 and log 1.0 to be (z for the level + z for the power) "
        "standard errors.",
        rel_tol=0.02,
        wrong=(
            Wrong(
                "the size for 80% power",
                lambda ds: impressions_per_arm(ds, power=0.8),
                "90% power needs z = 1.28 for the power, not 0.84.",
            ),
            Wrong(
                "both arms together",
                lambda ds: 2 * impressions_per_arm(ds),
                "the question asks for one arm.",
            ),
            Wrong(
                "a one-sided test",
                lambda ds: impressions_per_arm(ds, two_sided=False),
                "a two-sided 5% level puts 2.5% in each tail: z = 1.96.",
            ),
            Wrong(
                "the distance of the ratios instead of their logs",
                lambda ds: impressions_per_arm(ds, log_scale=False),
                "the normal approximation is on the log ratio: the distance is log 1.3 - log 1.0.",
            ),
        ),
    ),
    Exercise(
        "02.4",
        "explain why",
        "On this day the observed CTR ratio is larger than the ratio within placements. Which reason is right?",
        "choice",
        lambda ds: "c",
        "Look at the bars of AI shares by placement next to each placement's CTR.",
        choices=(
            "AI creatives lose their novelty over the day, and the observed ratio counts the early hours more.",
            "There are more human impressions than AI ones, which pulls the human CTR down.",
            "AI creatives were given the placements that are clicked more whatever the creative, so part of their "
            "higher CTR belongs to the slot.",
            "The within-placement ratio uses the delta method, which shrinks ratios towards one.",
        ),
        wrong=(
            Wrong("a", "a", "novelty acts within placements too; it does not separate the two ratios."),
            Wrong("b", "b", "a CTR is a rate: the number of impressions does not move it, only where they ran."),
            Wrong("d", "d", "the delta method gives the interval, not the estimate; the estimates differ by design."),
        ),
    ),
)
