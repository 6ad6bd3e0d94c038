"""What the chatbot analyses share: the inquiries scan, its sampling weight, and random-group sums for intervals."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from newretail.methods.resampling import group_totals
from newretail.tables import Dataset

US_PER_S = 1_000_000
SECONDS_PER_DAY = 86_400
BOT, HUMAN = pl.col("handled_by") == "bot", pl.col("handled_by") == "human"


def inquiries(ds: Dataset) -> pl.LazyFrame:
    """Lazy scan of ``inquiries`` with its ``weight`` (full-scale inquiries each row stands for)."""
    return ds.scan("inquiries", weights=True)


def weight(ds: Dataset) -> float:
    """Full-scale inquiries per sampled row (the inquiries are sampled at one fraction)."""
    return 1.0 / ds.fraction("inquiries")


def group_sums(ds: Dataset, sums: Mapping[str, pl.Expr]) -> dict[str, np.ndarray]:
    """Weighted sums of ``sums`` within random groups of whole shoppers (a shopper's repeat inquiries depend on each
    other); feed them to :func:`newretail.methods.resampling.bootstrap_interval`."""
    w = pl.col("weight")
    return group_totals(inquiries(ds), cluster=pl.col("user_id"), sums={k: w * e for k, e in sums.items()})


def interval_index(interval_min: int) -> pl.Expr:
    """Index of the ``interval_min``-minute interval of the day each inquiry opened in."""
    if not (isinstance(interval_min, int) and interval_min > 0 and 1440 % interval_min == 0):
        raise ValueError(f"interval_min = {interval_min!r}: must be a whole number of minutes dividing 1440")
    return (pl.col("ts_us") // (interval_min * 60 * US_PER_S)).cast(pl.Int32)
