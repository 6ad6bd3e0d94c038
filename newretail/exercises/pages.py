"""Exercises of notebook 03 (personalized pages): confounding in a subgroup, the effect on the untreated, overlap
and trimmed weights."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.exercises._base import Exercise, Wrong

if TYPE_CHECKING:
    from newretail.tables import Dataset

TRIM = (0.05, 0.95)  # 03.3: keep the visits whose true propensity lies in this range


def _visits(ds: Dataset, truth: bool = False) -> pl.DataFrame:
    lf = ds.scan("visits").select("visit_id", "user_id", "personalized", "converted")
    lf = lf.join(ds.scan("users").select("user_id", "cart_items"), on="user_id")
    if truth:
        lf = lf.join(ds.scan("truth_visits"), on="visit_id")
    return lf.collect()


def _gap(v: pl.DataFrame) -> float:
    t, y = v["personalized"].to_numpy(), v["converted"].to_numpy()
    return float(y[t].mean() - y[~t].mean())


def empty_cart(v: pl.DataFrame) -> pl.DataFrame:
    return v.filter(pl.col("cart_items") == 0)


def naive_gap(ds: Dataset) -> float:
    """Conversion of personalized minus other visits, over all visits."""
    return _gap(_visits(ds))


def naive_gap_empty_cart(ds: Dataset) -> float:
    """The same among visits of shoppers with nothing in their cart at midnight."""
    return _gap(empty_cart(_visits(ds)))


def lift_empty_cart(ds: Dataset) -> float:
    v = empty_cart(_visits(ds))
    t, y = v["personalized"].to_numpy(), v["converted"].to_numpy()
    return float(y[t].mean() / y[~t].mean() - 1)


def true_effect(ds: Dataset, who: str = "untreated", cart: bool = False) -> float:
    """Mean true uplift over the untreated (``"untreated"``), treated or all visits; ``cart``: empty carts only."""
    v = _visits(ds, truth=True)
    v = empty_cart(v) if cart else v
    if who != "all":
        v = v.filter(pl.col("personalized") == (who == "treated"))
    return float(v["true_uplift"].mean())  # type: ignore[arg-type]


def ipw_ate(ds: Dataset, trim: tuple[float, float] | None = TRIM) -> float:
    """Horvitz-Thompson ATE with the true propensity e, over the visits with e inside ``trim`` (None: all)."""
    v = _visits(ds, truth=True)
    if trim is not None:
        v = v.filter(pl.col("propensity").is_between(*trim))
    t, y = v["personalized"].cast(pl.Float64).to_numpy(), v["converted"].cast(pl.Float64).to_numpy()
    e = v["propensity"].to_numpy()
    return float(np.mean(t * y / e - (1 - t) * y / (1 - e)))


def true_trimmed_ate(ds: Dataset) -> float:
    v = _visits(ds, truth=True).filter(pl.col("propensity").is_between(*TRIM))
    return float(v["true_uplift"].mean())  # type: ignore[arg-type]


EXERCISES = (
    Exercise(
        "03.1",
        "predict, then run",
        "Predict first: among visits of shoppers with an empty cart at midnight (`users.cart_items == 0`), is the "
        "naive gap closer to the true effect than over all visits? Then compute it there: conversion of the "
        "personalized visits minus conversion of the others.",
        "conversion probability",
        naive_gap_empty_cart,
        "Join each visit to its shopper to know the cart, keep the empty carts, then compare the two groups' "
        "conversion rates as the lesson did for all visits.",
        abs_tol=1e-9,
        wrong=(
            Wrong(
                "the naive gap over all visits",
                naive_gap,
                "keep only the visits of shoppers whose cart was empty at midnight.",
            ),
            Wrong(
                "the true effect among those visits",
                lambda ds: true_effect(ds, "all", cart=True),
                "that reads the truth; the question asks what the observed conversion rates say.",
            ),
            Wrong(
                "the relative lift",
                lift_empty_cart,
                "the gap is a difference of two conversion rates, not their ratio minus one.",
            ),
        ),
    ),
    Exercise(
        "03.2",
        "compute",
        "The other group: the true effect of personalization on the visits that were *not* personalized (the "
        "effect on the untreated), the mean of `truth_visits.true_uplift` over them.",
        "conversion probability",
        true_effect,
        "The truth table has every visit's own effect; which visits you average over decides the estimand.",
        abs_tol=1e-9,
        wrong=(
            Wrong(
                "the effect on the personalized visits (ATT)",
                lambda ds: true_effect(ds, "treated"),
                "average over the visits that were not personalized.",
            ),
            Wrong(
                "the effect over all visits (ATE)",
                lambda ds: true_effect(ds, "all"),
                "average over the visits that were not personalized only.",
            ),
            Wrong("the naive gap", naive_gap, "that mixes the effect with who was chosen; read the truth table."),
        ),
    ),
    Exercise(
        "03.3",
        "compute",
        "Trimming: weight by the true propensity e (`truth_visits.propensity`), but only over the visits with "
        "0.05 <= e <= 0.95, where both groups have comparable visits: the mean of T Y / e - (1 - T) Y / (1 - e) "
        "over them (T personalized, Y converted).",
        "conversion probability",
        ipw_ate,
        "Drop the visits with extreme propensities first, then weight the rest as the lesson did. Trimming changes "
        "the population the effect is about, not only the noise.",
        abs_tol=1e-9,
        wrong=(
            Wrong(
                "the untrimmed weighting estimate",
                lambda ds: ipw_ate(ds, None),
                "keep only the visits whose true propensity lies between 0.05 and 0.95.",
            ),
            Wrong(
                "the true effect on the trimmed visits",
                true_trimmed_ate,
                "that reads the true uplift; the question asks for the weighting estimate from the outcomes.",
            ),
            Wrong("the naive gap", naive_gap, "weight each visit by one over its chance of the treatment it got."),
        ),
    ),
    Exercise(
        "03.4",
        "explain why",
        "Weighting by the *true* propensity can land far from the true average effect on one day, "
        "while the doubly robust estimate lands close. Which reason is right?",
        "choice",
        lambda ds: "b",
        "Look at the largest weights 1 / (1 - e) among the visits that were not personalized.",
        choices=(
            "The true propensity is not what decided which visits were personalized.",
            "Where e is near 1, the few visits that were not personalized get weights in the hundreds, so the "
            "estimate rests on a handful of visits and swings from sample to sample; the doubly robust score "
            "weights only what the outcome models miss, which is small.",
            "Weighting estimates the effect on the personalized visits, not the average effect.",
            "Weighting cannot handle a 0/1 outcome such as conversion.",
        ),
        wrong=(
            Wrong("a", "a", "the lesson checks it: within each band of e, the share personalized matches e."),
            Wrong(
                "c", "c", "with weights 1/e and 1/(1 - e) on both groups, the target is the average over all visits."
            ),
            Wrong("d", "d", "weighting works for any outcome whose mean exists; the trouble is the weights."),
        ),
    ),
)
