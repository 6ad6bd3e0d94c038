"""Solutions to the exercises of notebook 03."""

import polars as pl


def _visits(ds):
    return ds.read("visits").join(ds.read("truth_visits"), on="visit_id")


def ex_03_1(ds):
    empty = ds.read("users").filter(pl.col("cart_items") == 0).select("user_id")
    v = ds.read("visits").join(empty, on="user_id")
    by = dict(v.group_by("personalized").agg(pl.col("converted").mean()).iter_rows())
    return by[True] - by[False]


def ex_03_2(ds):
    return _visits(ds).filter(~pl.col("personalized"))["true_uplift"].mean()


def ex_03_3(ds):
    v = _visits(ds).filter(pl.col("propensity").is_between(0.05, 0.95))
    t, y, e = (v[c].cast(pl.Float64).to_numpy() for c in ("personalized", "converted", "propensity"))
    return float((t * y / e - (1 - t) * y / (1 - e)).mean())


def ex_03_4(ds):
    return "b"
