"""Solutions to the exercises of notebook 01."""

import numpy as np
import polars as pl
from scipy.stats import norm


def ex_01_1(ds):
    orders = ds.read("orders", weights=True)
    return float((orders["gmv_rmb"] * orders["weight"]).sum())


def ex_01_2(ds):
    orders = ds.read("orders", weights=True).with_columns(gmv=pl.col("gmv_usd") * pl.col("weight"))
    return orders.filter(pl.col("ts_us") < 3_600_000_000)["gmv"].sum() / orders["gmv"].sum()


def _buyer_totals(ds):
    online = ds.read("orders", weights=True).filter(pl.col("channel") == "online")
    return online.group_by("user_id").agg(t=(pl.col("gmv_usd") * pl.col("weight")).sum())["t"].to_numpy()


def ex_01_3(ds, resamples=500):
    totals = _buyer_totals(ds)
    rng = np.random.default_rng(0)
    draws = [rng.choice(totals, size=totals.size).sum() for _ in range(resamples)]
    return float(np.std(draws, ddof=1))


def ex_01_4(ds):
    se = ex_01_3(ds)
    gmv = _buyer_totals(ds).sum()
    return (norm.ppf(0.975) * se / (0.005 * gmv)) ** 2
