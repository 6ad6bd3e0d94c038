"""Personalized pages: the visit frame, the design matrix, the user split, and the truth for validation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.tables import Dataset

if TYPE_CHECKING:
    pass


US_PER_HOUR = 3_600_000_000
USER_FEATURES = ("segment", "age_band", "city_tier", "is_vip", "cart_items", "past_orders_90d")
VISIT_FEATURES = ("device", "source", "n_pages", "hour")
FEATURES: tuple[str, ...] = USER_FEATURES + VISIT_FEATURES
"""Features a model may use: what the platform knows of the user and the visit (not whether it converted)."""
TREATMENT = "personalized"
OUTCOME = "converted"


# ----------------------------------------------------------------------------------------------------------------
# data


def visit_frame(ds: Dataset) -> pl.DataFrame:
    """One row per visit: ``visit_id``, ``user_id``, the :data:`FEATURES`, ``personalized`` and ``converted``.

    ``hour`` is the hour of the day the visit ended (0-23); enums keep their categories.
    """
    hour = (pl.col("ts_us") // US_PER_HOUR).clip(0, 23).cast(pl.Int8).alias("hour")
    visits = ds.scan("visits").select("visit_id", "user_id", "device", "source", "n_pages", hour, TREATMENT, OUTCOME)
    users = ds.scan("users").select("user_id", *USER_FEATURES)
    return (
        visits.join(users, on="user_id", how="inner")
        .select("visit_id", "user_id", *FEATURES, TREATMENT, OUTCOME)
        .sort("visit_id")
        .collect()
    )


def _check_frame(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(frame, pl.DataFrame):
        raise ValueError(f"frame: expected a polars DataFrame from visit_frame(), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame: missing column(s) {', '.join(missing)} (build it with visit_frame(ds))")
    if frame.height == 0:
        raise ValueError("frame: no visits")


def design_matrix(frame: pl.DataFrame, *, features: Sequence[str] = FEATURES) -> np.ndarray:
    """Float32 feature matrix for LightGBM: enums as their category codes (segment and age band are ordered),
    booleans as 0/1."""
    _check_frame(frame, features)
    cols = [pl.col(c).to_physical().cast(pl.Float32) for c in features]
    return frame.select(cols).to_numpy().astype(np.float32, copy=False)


def _split_users(user_id: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Boolean mask of rows whose user falls in a seeded random ``share`` of users."""
    users, inverse = np.unique(user_id, return_inverse=True)
    rng = np.random.default_rng([seed, 11])
    return (rng.random(users.size) < share)[inverse]


# ----------------------------------------------------------------------------------------------------------------
# validation against the ground truth (tests and validation sections only)


def true_visits(ds: Dataset) -> pl.DataFrame:
    """Ground truth, for validation only: ``truth_visits`` (visit_id, propensity, p_convert, ..., true_uplift) and
    ``p_features``, the best conversion probability any model of the observed features can reach.

    ``p_convert`` holds each shopper's unobserved random effect on converting, so no model of the features reaches
    its AUC; ``p_features`` integrates that effect out given the features (``expected.conversion_given_features``).
    """
    from newretail.generate.expected import conversion_given_features, shopper_params

    truth = ds.read("truth_visits")
    served = ds.scan("visits").select("visit_id", "source", TREATMENT).collect()
    joined = truth.select("visit_id", "intent_sd").join(served, on="visit_id", how="left", maintain_order="left")
    if joined[TREATMENT].null_count():
        raise ValueError("truth_visits: has visits that the visits table does not")
    p_features = conversion_given_features(
        shopper_params(ds.scenario),
        joined["intent_sd"].to_numpy(),
        joined["source"].cast(pl.String).to_numpy(),
        joined[TREATMENT].to_numpy(),
    )
    return truth.with_columns(p_features=pl.Series(p_features, dtype=pl.Float64))
