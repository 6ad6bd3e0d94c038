"""Exercises of notebook 03 (personalized pages): confounding, propensity, overlap, ATT, weighting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise

if TYPE_CHECKING:
    from newretail.tables import Dataset


def _visits(ds: Dataset, truth: bool = False) -> pl.DataFrame:
    lf = ds.scan("visits").select("visit_id", "personalized", "converted")
    if truth:
        lf = lf.join(ds.scan("truth_visits"), on="visit_id")
    return lf.collect()


def naive_gap(ds: Dataset) -> float:
    v = _visits(ds)
    t, y = v["personalized"].to_numpy(), v["converted"].to_numpy()
    return float(y[t].mean() - y[~t].mean())


def true_att(ds: Dataset) -> float:
    return float(_visits(ds, truth=True).filter("personalized")["true_uplift"].mean())  # type: ignore[arg-type]


def poor_overlap_share(ds: Dataset) -> float:
    e = _visits(ds, truth=True)["propensity"].to_numpy()
    return float(((e < 0.05) | (e > 0.95)).mean())


def ipw_ate_true_propensity(ds: Dataset) -> float:
    """Horvitz-Thompson ATE with the true propensity."""
    v = _visits(ds, truth=True)
    t = v["personalized"].cast(pl.Float64)
    y = v["converted"].cast(pl.Float64)
    e = v["propensity"]
    return float((t * y / e - (1 - t) * y / (1 - e)).mean())  # type: ignore[arg-type]


EXERCISES = (
    Exercise(
        "03.1",
        "compute",
        "The naive gap: conversion of personalized visits minus conversion of the other visits.",
        "conversion probability",
        naive_gap,
        "`visits.converted` averaged by `personalized`; the answer is a difference of two shares.",
        abs_tol=1e-9,
    ),
    Exercise(
        "03.2",
        "predict, then run",
        "Predict whether the true effect on the personalized visits (ATT) is larger or smaller than the naive gap. "
        "Then compute it: the mean of `truth_visits.true_uplift` over the personalized visits.",
        "conversion probability",
        true_att,
        "join `truth_visits` to `visits` on `visit_id` and average `true_uplift` where `personalized`.",
        abs_tol=1e-9,
    ),
    Exercise(
        "03.3",
        "compute",
        "Overlap: the share of visits whose true propensity (`truth_visits.propensity`) is below 0.05 or above "
        "0.95, where one group has almost no comparable visits.",
        "share of visits",
        poor_overlap_share,
        "`((e < 0.05) | (e > 0.95)).mean()` over all visits.",
        abs_tol=1e-9,
    ),
    Exercise(
        "03.4",
        "compute",
        "Inverse propensity weighting with the true propensity e: the mean over all visits of "
        "T Y / e - (1 - T) Y / (1 - e). Compare it with the naive gap and with the true ATE.",
        "conversion probability",
        ipw_ate_true_propensity,
        "T is `personalized` and Y is `converted` as 0/1 floats; e comes from `truth_visits`.",
        abs_tol=1e-9,
    ),
)
