"""Exercises of notebook 07 (the methods on real data): a placebo in time, a leave-one-out synthetic control, ADH's
placebo filter, and why a design's details move its answer.

The data ship inside pinned packages (``causaldata``, ``synthdid-py``); the dataset argument of the checker is not
read by these exercises.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import distribution
from typing import TYPE_CHECKING, Any

import polars as pl

from newretail.exercises._base import Exercise, Wrong

if TYPE_CHECKING:
    from newretail.tables import Dataset

POLICY_QUARTER = 20113  # California's active choice, from 2011 Q3 (quarters as year * 10 + quarter)
PLACEBO_QUARTER = 20112  # 07.1: pretend it started a quarter earlier, on the quarters before the policy
PROP99_YEAR = 1989
MSPE_FILTER = 5.0  # 07.3: ADH drop placebos whose pre-period MSPE exceeds this many times California's


def _packaged(package: str, path: str) -> str:
    return str(distribution(package).locate_file(path))


@cache
def organ_panel() -> pl.DataFrame:
    """State x quarter organ-donor registration rates, quarters as numbers (year * 10 + quarter)."""
    organ = pl.read_csv(_packaged("causaldata", "causaldata/organ_donations/organ_donation.csv"))
    year, quarter = pl.col("Quarter").str.slice(2, 4).cast(pl.Int32), pl.col("Quarter").str.slice(1, 1).cast(pl.Int32)
    return organ.with_columns(quarter=year * 10 + quarter)


@cache
def prop99_panel() -> pl.DataFrame:
    return pl.read_csv(_packaged("synthdid-py", "synthdid/data/california_prop99.csv"), separator=";")


def placebo_did(ds: Dataset | None = None, start: int = PLACEBO_QUARTER, before: int = POLICY_QUARTER) -> float:
    """DiD of California against the other states on the quarters before ``before``, as if treated from ``start``:
    (California after - before) - (others after - before), means of the registration rate."""
    panel = organ_panel().filter(pl.col("quarter") < before)
    m = panel.group_by(ca=pl.col("State") == "California", post=pl.col("quarter") >= start).agg(pl.col("Rate").mean())
    g = {(r["ca"], r["post"]): r["Rate"] for r in m.iter_rows(named=True)}
    return float((g[True, True] - g[True, False]) - (g[False, True] - g[False, False]))


def _synth(frame: pl.DataFrame) -> Any:
    from newretail.methods import SyntheticControl

    return SyntheticControl("State", "Year", "PacksPerCapita", "California", PROP99_YEAR).fit(frame)


@cache
def _prop99_fit() -> Any:
    return _synth(prop99_panel())


def _gap_2000(sc: Any) -> float:
    return float(sc.gap_.filter(pl.col("time") == 2000)["gap"][0])


def _ranked_donor(rank: int) -> str:
    weights = _prop99_fit().weights_
    return sorted(weights, key=lambda s: -weights[s])[rank]


def gap_without_donor(ds: Dataset | None = None, rank: int = 0) -> float:
    """Prop 99's gap in 2000 when the donor of the ``rank``-th largest weight (0: the largest) is left out."""
    return _gap_2000(_synth(prop99_panel().filter(pl.col("State") != _ranked_donor(rank))))


def filtered_p_value(ds: Dataset | None = None, limit: float | None = MSPE_FILTER) -> float:
    """The placebo p-value over the placebos whose pre-1989 MSPE is at most ``limit`` times California's."""
    sc = _prop99_fit()
    gaps = sc.placebo_gaps_.with_columns(pre=pl.col("time") < PROP99_YEAR)
    per = gaps.group_by("unit").agg(
        pre=(pl.col("gap") ** 2).filter(pl.col("pre")).mean(), post=(pl.col("gap") ** 2).filter(~pl.col("pre")).mean()
    )
    if limit is not None:
        per = per.filter(pl.col("pre") <= limit * sc.pre_rmspe_**2)
    ratios = (per["post"] / per["pre"]).sqrt()
    return float((1 + int((ratios >= sc.rmspe_ratio_).sum())) / (per.height + 1))


EXERCISES = (
    Exercise(
        "07.1",
        "compute",
        "A placebo in time: keep only the quarters before the policy (before 2011 Q3) and pretend California "
        "switched to active choice in 2011 Q2. What DiD estimate does that give?",
        "registration rate",
        placebo_did,
        "Nothing happened in 2011 Q2, so a good design should find about nothing; with one treated state and one "
        "treated quarter, the DiD is California's change from its earlier quarters minus the other states' change.",
        abs_tol=1e-9,
        wrong=(
            Wrong(
                "the DiD of the real policy",
                lambda ds: placebo_did(ds, start=POLICY_QUARTER, before=99999),
                "drop every quarter from 2011 Q3 on and move the pretend start to 2011 Q2.",
            ),
            Wrong(
                "a placebo starting in 2011 Q1",
                lambda ds: placebo_did(ds, start=20111),
                "the pretend start is 2011 Q2.",
            ),
        ),
    ),
    Exercise(
        "07.2",
        "compute",
        "Leave one out: fit Proposition 99's synthetic control again without the donor state that had the largest "
        "weight. What is the gap between California and its synthetic control in 2000, in packs per person?",
        "packs per capita",
        gap_without_donor,
        "Read the largest weight off the lesson's weights table, drop that state from the panel, and refit (by "
        "hand or with the package). A result resting on one donor would move a lot: does this one?",
        abs_tol=0.05,
        wrong=(
            Wrong(
                "the gap with every donor",
                lambda ds: _gap_2000(_prop99_fit()),
                "drop the state with the largest weight before fitting.",
            ),
            Wrong(
                "the gap without the second-largest donor",
                lambda ds: gap_without_donor(ds, rank=1),
                "drop the state with the largest weight.",
            ),
        ),
    ),
    Exercise(
        "07.3",
        "compute",
        "ADH's filter: their figures leave out placebo states whose pre-1989 fit is poor. Keep only the placebos "
        "whose pre-1989 mean squared gap (MSPE) is at most 5 times California's, and compute California's "
        "placebo p-value among them: its rank by post/pre RMSPE ratio over (placebos kept + 1).",
        "probability",
        filtered_p_value,
        "The placebo loop gives each state's gap path; split it at 1989, compare its pre-period MSPE with "
        "California's, and rank the ratios of the states you keep.",
        abs_tol=1e-6,
        wrong=(
            Wrong(
                "the p-value over every placebo",
                lambda ds: filtered_p_value(ds, None),
                "drop the placebos whose pre-1989 MSPE exceeds 5 times California's first.",
            ),
            Wrong(
                "the filter at 20 times California's MSPE",
                lambda ds: filtered_p_value(ds, 20.0),
                "the limit is 5 times.",
            ),
            Wrong(
                "the filter at 2 times California's MSPE",
                lambda ds: filtered_p_value(ds, 2.0),
                "the limit is 5 times.",
            ),
            Wrong(
                "ADH's published 1/39",
                lambda ds: 1 / 39,
                "that came from their design with predictors; compute the rank for this fit.",
            ),
        ),
    ),
    Exercise(
        "07.4",
        "explain why",
        "California's gap after 1989 is among the largest, yet it ranks only third of 39 in the "
        "placebo test. Which reason is right?",
        "choice",
        lambda ds: "c",
        "Look at what is ranked: a ratio, and what its denominator is for each state.",
        choices=(
            "Proposition 99 had no effect on cigarette sales.",
            "The placebo fits use California as a donor.",
            "The rank is of post/pre RMSPE ratios: two states fitted almost perfectly before 1989 get huge ratios "
            "from modest gaps afterwards.",
            "There are too few donor states for a p-value below 0.05.",
        ),
        wrong=(
            Wrong("a", "a", "the gap is large and lasting; the rank is about how unusual it is, relative to the fit."),
            Wrong("b", "b", "the treated unit is never a placebo's donor."),
            Wrong("d", "d", "with 38 placebos the smallest possible p-value is 1/39, about 0.026."),
        ),
    ),
    Exercise(
        "07.5",
        "explain why",
        "In the NSW experiment the doubly robust estimate with covariates has a wider interval than "
        "the plain difference in means. Which reason is right?",
        "choice",
        lambda ds: "b",
        "Covariates help when they predict the outcome well; look at how 1978 earnings are spread.",
        choices=(
            "Covariates bias a randomised comparison.",
            "With 445 people and earnings that are zero for many and large for a few, the fitted outcome models "
            "predict 1978 earnings poorly, and the noise of fitting them outweighs what they explain.",
            "The doubly robust estimate targets the effect on the treated, which is harder to estimate.",
            "The known propensity was passed wrongly.",
        ),
        wrong=(
            Wrong("a", "a", "with a known propensity the doubly robust estimate stays unbiased whatever the models."),
            Wrong("c", "c", "here it targets the same average effect as the difference in means."),
            Wrong("d", "d", "it is the share treated, the design's own probability."),
        ),
    ),
)
