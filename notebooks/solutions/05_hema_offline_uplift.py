"""Solutions to the exercises of notebook 05."""

import polars as pl

from newretail.exercises.hema import selection_day


def did(ds, outcome, controls=("sanjiang", "other")):
    stores = ds.read("stores").filter(pl.col("pilot") | pl.col("store_type").cast(pl.String).is_in(controls))
    panel = ds.read("store_days").join(stores.select("store_id", "pilot"), on="store_id")
    panel = panel.filter((pl.col(outcome) > 0).all().over("store_id"))
    means = panel.group_by("pilot", pl.col("day") >= 0).agg(pl.col(outcome).cast(pl.Float64).log().mean())
    m = {(r[0], r[1]): r[2] for r in means.iter_rows()}
    return (m[True, True] - m[True, False]) - (m[False, True] - m[False, False])


def true_effect(ds):
    truth = ds.read("truth_store_days").join(ds.read("stores").select("store_id", "pilot"), on="store_id")
    return truth.filter(pl.col("pilot") & (pl.col("day") >= 0))["true_effect_log"].mean()


def ex_05_1(ds):
    return did(ds, "transactions")


def ex_05_2(ds):
    return did(ds, "sales_rmb", controls=("sanjiang",))


def ex_05_3(ds):
    city = selection_day(ds)  # variant_day({"behaviour.stores.pilot_selection_on_growth": 1.0}, ...)
    return did(city, "sales_rmb") - true_effect(city)


def ex_05_4(ds):
    return "d"


def ex_05_5(ds):
    from newretail import methods
    from newretail.analyses import stores
    from newretail.exercises.hema import rollout_day

    day = rollout_day(ds)  # the rollout day of section 6
    daily = stores.store_panel(day, controls=("sanjiang",), waves="all")
    weekly = daily.group_by("store_id", week=pl.col("day") // 7).agg(pl.col("y").mean(), pl.col("pilot_open").all())
    fit = methods.StaggeredDiD("store_id", "week", "y", "pilot_open", control="not_yet").fit(weekly)
    by_week = fit.event_.filter(pl.col("event_time") >= 0)  # weeks since opening: one effect each
    return by_week["estimate"].mean()


def ex_05_6(ds):
    return "c"
