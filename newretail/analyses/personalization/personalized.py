"""The personalized-page figures of the report, as tallies and finishing functions: page views on personalized
visits (a full-scale total) and the "20% conversion", read as a rate per personalized visit or as a lift over the
other visits.

One tally: random-group totals of the visits over shoppers (single visits under ``iid``). The public functions run
it in one pass and finish; ``newretail.claims.partials`` runs the same tally per partition and calls the same
finishing functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from newretail.analyses.inputs import check_dataset as _check_ds
from newretail.methods.resampling import GROUPS, Estimate, bootstrap_interval, ratio_interval, total_interval
from newretail.tables import Dataset, Measure, Tally, group_arrays, group_key

READINGS = ("rate", "lift")
SUMS = ("visits_p", "visits_o", "pages_p", "conv_p", "conv_o")
Totals = Mapping[str, pl.DataFrame]
Cache = dict[Any, pl.DataFrame] | None


@dataclass(frozen=True)
class PersonalizedPages:
    """Full-scale page views on personalized visits (95% interval), pages per personalized visit and the
    personalized visits."""

    estimate: Estimate
    pages_per_visit: float
    personalized_visits: float


@dataclass(frozen=True)
class PersonalizedConversion:
    """The conversion figure under ``reading`` (a rate per personalized visit, or the lift of that rate over the
    other visits' rate, minus 1) with its 95% interval, and the rates it comes from."""

    estimate: Estimate
    reading: str
    conversion_personalized: float
    conversion_other: float
    orders_per_personalized_page: float


def visit_tallies(*, iid: bool = False, groups: int = GROUPS) -> dict[str, Tally]:
    """Random-group totals (weighted) of personalized and other visits, their conversions and personalized pages,
    over shoppers (or single visits under ``iid``)."""
    w, p, c = pl.col("weight"), pl.col("personalized"), pl.col("converted")
    return {
        "visits": Tally(
            "visits",
            by=group_key(pl.col("visit_id") if iid else pl.col("user_id"), groups),
            sums=(
                ("visits_p", w * p),
                ("visits_o", w * ~p),
                ("pages_p", w * p * pl.col("n_pages")),
                ("conv_p", w * (p & c)),
                ("conv_o", w * (~p & c)),
            ),
        )
    }


def finish_pages(totals: Totals, *, groups: int = GROUPS) -> PersonalizedPages:
    """Page views on personalized visits, with their bootstrap interval."""
    g = group_arrays(totals["visits"], SUMS, groups)
    visits = float(g["visits_p"].sum())
    return PersonalizedPages(total_interval(g["pages_p"]), float(g["pages_p"].sum()) / visits, visits)


def _lift(cp: np.ndarray, vp: np.ndarray, co: np.ndarray, vo: np.ndarray, axis: int = -1) -> np.ndarray:
    return (cp.sum(axis=axis) / vp.sum(axis=axis)) / (co.sum(axis=axis) / vo.sum(axis=axis)) - 1.0


def _check_reading(reading: str) -> str:
    if reading not in READINGS:
        raise ValueError(f"reading = {reading!r}: must be 'rate' or 'lift'")
    return reading


def finish_conversion(totals: Totals, *, reading: str = "rate", groups: int = GROUPS) -> PersonalizedConversion:
    """The conversion figure under ``reading``, with its bootstrap interval over the random groups."""
    _check_reading(reading)
    g = group_arrays(totals["visits"], SUMS, groups)
    rate_p = float(g["conv_p"].sum() / g["visits_p"].sum())
    rate_o = float(g["conv_o"].sum() / g["visits_o"].sum())
    per_page = float(g["conv_p"].sum() / g["pages_p"].sum())
    if reading == "rate":
        est = ratio_interval(g["conv_p"], g["visits_p"])
    else:
        samples = (g["conv_p"], g["visits_p"], g["conv_o"], g["visits_o"])
        low, high = bootstrap_interval(samples, _lift)
        est = Estimate(float(_lift(*samples)), float(low[0]), float(high[0]))
    return PersonalizedConversion(est, reading, rate_p, rate_o, per_page)


def pages_measure(*, iid: bool = False, groups: int = GROUPS) -> Measure[PersonalizedPages]:
    return Measure(visit_tallies(iid=iid, groups=groups), partial(finish_pages, groups=groups))


def conversion_measure(
    *, reading: str = "rate", iid: bool = False, groups: int = GROUPS
) -> Measure[PersonalizedConversion]:
    _check_reading(reading)
    return Measure(visit_tallies(iid=iid, groups=groups), partial(finish_conversion, reading=reading, groups=groups))


def personalized_pages(
    ds: Dataset, *, groups: int = GROUPS, iid: bool = False, cache: Cache = None
) -> PersonalizedPages:
    """Page views on personalized visits with a 95% interval over whole shoppers (single visits under ``iid``)."""
    _check_ds(ds)
    return pages_measure(iid=iid, groups=groups).run(ds, cache=cache)


def personalized_conversion(
    ds: Dataset, *, reading: str = "rate", groups: int = GROUPS, iid: bool = False, cache: Cache = None
) -> PersonalizedConversion:
    """The "20% conversion" of personalized pages, read as a ``"rate"`` per personalized visit or as a ``"lift"``
    over the other visits, with a 95% bootstrap interval over whole shoppers (single visits under ``iid``)."""
    _check_ds(ds)
    return conversion_measure(reading=reading, iid=iid, groups=groups).run(ds, cache=cache)
