"""Exercises of notebook 05 (Hema and the Sanjiang pilot): difference-in-differences and its failure modes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from newretail.exercises._base import Exercise

if TYPE_CHECKING:
    from newretail.tables import Dataset

SELECTION_CHANGE = {"behaviour.stores.pilot_selection_on_growth": 1.0}


def _panel(ds: Dataset, outcome: str = "sales_rmb") -> pl.DataFrame:
    """Pilots and non-pilot Sanjiang and other supermarkets (no Hema), log outcome, stores positive on every day."""
    stores = ds.read("stores").with_columns(store_type=pl.col("store_type").cast(pl.String))
    keep = stores.filter(pl.col("pilot") | pl.col("store_type").is_in(["sanjiang", "other"]))
    days = ds.read("store_days").join(keep.select("store_id", "pilot"), on="store_id")
    positive = days.group_by("store_id").agg(ok=(pl.col(outcome) > 0).all()).filter("ok")
    return days.join(positive.select("store_id"), on="store_id").with_columns(y=pl.col(outcome).cast(pl.Float64).log())


def did_2x2(ds: Dataset, outcome: str = "sales_rmb") -> float:
    """(pilots after - pilots before) - (controls after - controls before), log-outcome means; after: day >= 0."""
    m = _panel(ds, outcome).group_by("pilot", post=pl.col("day") >= 0).agg(pl.col("y").mean())
    get = {(r["pilot"], r["post"]): r["y"] for r in m.iter_rows(named=True)}
    return float((get[True, True] - get[True, False]) - (get[False, True] - get[False, False]))


def did_transactions(ds: Dataset) -> float:
    return did_2x2(ds, "transactions")


def true_effect(ds: Dataset) -> float:
    truth = ds.read("truth_store_days").join(ds.read("stores").select("store_id", "pilot"), on="store_id")
    return float(truth.filter(pl.col("pilot") & (pl.col("day") >= 0))["true_effect_log"].mean())  # type: ignore[arg-type]


def selection_day(ds: Dataset) -> Dataset:
    """The city of ``ds`` (same scale and seed) with pilots chosen on growth, kept in a folder beside ``ds``."""
    from newretail.notebook import variant_day

    path = ds.path.with_name(f"{ds.path.name}-pilots-on-growth")
    return variant_day(SELECTION_CHANGE, scale=ds.scale, seed=ds.seed, recalibrate=False, groups=("city",), path=path)


def selection_bias(ds: Dataset) -> float:
    """DiD minus the true effect on a city whose pilots were chosen on growth (same scale and seed)."""
    city = selection_day(ds)
    return did_2x2(city) - true_effect(city)


EXERCISES = (
    Exercise(
        "05.1",
        "compute",
        "Another outcome: the 2x2 difference-in-differences of log *till transactions* (`store_days.transactions`): "
        "pilots after (day >= 0) minus before, minus the same for the controls (non-pilot Sanjiang and other "
        "supermarkets; no Hema stores).",
        "log transactions",
        did_transactions,
        "four means of `log(transactions)`: pilot/control x before/after; keep stores with transactions every day.",
        abs_tol=1e-9,
    ),
    Exercise(
        "05.2",
        "compute",
        "The truth: the mean of `truth_store_days.true_effect_log` over the pilot stores' days from day 0 on.",
        "log sales",
        true_effect,
        "join `truth_store_days` to `stores` on `store_id`; keep `pilot` and `day >= 0`.",
        abs_tol=1e-9,
    ),
    Exercise(
        "05.3",
        "design",
        "Predict the DiD's bias when Sanjiang picks pilots among stores already growing, then run it: open the "
        "variant day `variant_day({'behaviour.stores.pilot_selection_on_growth': 1.0}, scale=ds.scale, "
        "seed=ds.seed, recalibrate=False, groups=('city',))` and report DiD minus the true effect there.",
        "log sales",
        selection_bias,
        "parallel trends fail: the pilots' own trend continues after day 0. Compute 05.1 and 05.2 on the variant "
        "day and subtract.",
        abs_tol=1e-6,
    ),
)
