"""Solutions to the exercises of notebook 03."""

import polars as pl


def _visits(ds):
    return ds.read("visits").join(ds.read("truth_visits"), on="visit_id")


def ex_03_1(ds):
    v = ds.read("visits")
    by = dict(v.group_by("personalized").agg(pl.col("converted").mean()).iter_rows())
    return by[True] - by[False]


def ex_03_2(ds):
    return _visits(ds).filter("personalized")["true_uplift"].mean()


def ex_03_3(ds):
    return _visits(ds).select(((pl.col("propensity") < 0.05) | (pl.col("propensity") > 0.95)).mean()).item()


def ex_03_4(ds):
    v = _visits(ds)
    t, y, e = (v[c].cast(pl.Float64).to_numpy() for c in ("personalized", "converted", "propensity"))
    return float((t * y / e).mean() - ((1 - t) * y / (1 - e)).mean())
