"""Sampling intervals shared by the analyses and the claims: random-group totals and a bootstrap over them.

A sampled table's rows are correlated within a user (one user has several visits, orders and pages), so the
sampling error of a total or a ratio is estimated from *random groups* of whole clusters: every row goes to group
``cluster_id % groups``. The groups are independent and identically distributed, so the spread of their totals
measures the sampling error (the random-group variance estimator of survey sampling). One lazy ``group_by`` per
table gives all the totals, with memory bounded by ``groups``, and per-partition totals add up exactly, so the
same numbers can be computed partition by partition on a cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

GROUPS = 100  # random groups of clusters; the bootstrap resamples these
N_RESAMPLES = 2000
BOOTSTRAP_SEED = 20171111  # intervals are deterministic for a given dataset
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A value and its 95% confidence interval, in the unit of the quantity estimated."""

    value: float
    ci_low: float
    ci_high: float


def group_totals(
    lf: pl.LazyFrame, *, cluster: pl.Expr, sums: Mapping[str, pl.Expr], groups: int = GROUPS
) -> dict[str, np.ndarray]:
    """Totals of ``sums`` within each random group of clusters (``cluster % groups``), as arrays of ``groups``.

    Groups without rows (tiny samples) are zeros. The query streams.
    """
    if groups < 2:
        raise ValueError(f"groups = {groups}: must be at least 2")
    key = (cluster % groups).cast(pl.Int64).alias("_group")
    found = (
        lf.group_by(key)
        .agg(**{name: expr.cast(pl.Float64).sum() for name, expr in sums.items()})
        .collect(engine="streaming")
    )
    full = pl.DataFrame({"_group": np.arange(groups, dtype=np.int64)}).join(found, on="_group", how="left")
    return {name: full[name].fill_null(0.0).to_numpy().astype(np.float64) for name in sums}


def bootstrap_interval(
    samples: tuple[np.ndarray, ...],
    statistic: Callable[..., np.ndarray],
    *,
    confidence: float = CONFIDENCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap interval (BCa, percentile where BCa is undefined) of a statistic of paired group totals.

    ``statistic(*samples, axis=-1)`` must be vectorised and may return one value or a vector of values.
    Groups of independent samples may be paired arbitrarily (group b of one with group b of the other): the
    pairs are still independent and identically distributed, so resampling pairs is valid.
    """
    from scipy import stats

    kwargs = {
        "paired": True,
        "vectorized": True,
        "n_resamples": N_RESAMPLES,
        "confidence_level": confidence,
        "rng": np.random.default_rng(BOOTSTRAP_SEED),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap(samples, statistic, method="BCa", **kwargs)
        low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            kwargs["rng"] = np.random.default_rng(BOOTSTRAP_SEED)
            res = stats.bootstrap(samples, statistic, method="percentile", **kwargs)
            low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    return low.astype(np.float64), high.astype(np.float64)


def total_interval(groups: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """A total and its bootstrap interval, from its random-group totals."""

    def total(x: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(x, axis=axis)

    low, high = bootstrap_interval((groups,), total, confidence=confidence)
    return Estimate(float(groups.sum()), float(low[0]), float(high[0]))


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, *, confidence: float = CONFIDENCE) -> Estimate:
    """A ratio of two totals and its bootstrap interval, from their random-group totals."""

    def ratio(num: np.ndarray, den: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(num, axis=axis) / np.sum(den, axis=axis)

    low, high = bootstrap_interval((numerator, denominator), ratio, confidence=confidence)
    return Estimate(float(numerator.sum() / denominator.sum()), float(low[0]), float(high[0]))
