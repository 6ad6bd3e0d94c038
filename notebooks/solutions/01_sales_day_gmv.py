"""Solutions to the exercises of notebook 01."""

import numpy as np
import polars as pl
from scipy.stats import norm


def _buyer_totals(ds, device=None):
    online = ds.read("orders", weights=True).filter(pl.col("channel") == "online")
    if device is not None:
        online = online.filter(pl.col("device") == device)
    return online.group_by("user_id").agg(t=(pl.col("gmv_usd") * pl.col("weight")).sum())["t"].to_numpy()


def _bootstrap_se(totals, resamples, seed=0):
    rng = np.random.default_rng(seed)
    draws = [rng.choice(totals, size=totals.size).sum() for _ in range(resamples)]
    return float(np.std(draws, ddof=1))


def ex_01_1(ds, resamples=2000):
    return _bootstrap_se(_buyer_totals(ds, "mobile"), resamples)


def ex_01_2(ds):
    def weighted(table, value=None, online=False):
        frame = ds.read(table, weights=True).filter(pl.col("device") == "mobile")
        if online:
            frame = frame.filter(pl.col("channel") == "online")
        return float((frame["weight"] * (frame[value] if value else 1.0)).sum())

    conversion = (weighted("orders", online=True) / weighted("visits")) / (
        weighted("baseline_orders") / weighted("baseline_visits")
    )
    gmv = weighted("orders", "gmv_usd", online=True) / weighted("baseline_orders", "gmv_usd")
    return np.log(conversion) / np.log(gmv)


def ex_01_3(ds, resamples=5000):
    totals = _buyer_totals(ds)
    se = _bootstrap_se(totals, resamples)
    return (norm.ppf(0.975) * se / (0.005 * totals.sum())) ** 2


def ex_01_4(ds):
    return "b"
