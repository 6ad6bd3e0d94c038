"""Solutions to the exercises of notebook 02."""

import numpy as np
import polars as pl
from scipy.stats import norm


def _ctr(ds, by=()):
    return (
        ds.read("banner_impressions")
        .group_by("creative_source", *by)
        .agg(n=pl.len(), ctr=pl.col("clicked").mean())
        .with_columns(pl.col("creative_source").cast(pl.String))
    )


def ex_02_1(ds):
    t = _ctr(ds, ("placement",)).pivot("creative_source", index="placement", values=["n", "ctr"])
    return float((t["n_human"] * t["ctr_ai"]).sum() / (t["n_human"] * t["ctr_human"]).sum())


def ex_02_2(ds):
    served = ds.read("banner_impressions").filter(pl.col("creative_source") == "human").select("impression_id")
    truth = ds.read("truth_banner_impressions").join(served, on="impression_id")
    return truth["p_click_if_ai"].mean() / truth["p_click_if_human"].mean()


def ex_02_3(ds):
    p0 = dict(_ctr(ds).select("creative_source", "ctr").iter_rows())["human"]
    p1 = 1.3 * p0
    return (norm.ppf(0.975) + norm.ppf(0.9)) ** 2 * ((1 - p1) / p1 + (1 - p0) / p0) / np.log(1.3) ** 2


def ex_02_4(ds):
    return "c"
