"""Lu Ban's banners: impressions of AI-generated and human-designed creatives, and whether they were clicked."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from scipy.special import expit, ndtri

from newretail.generate import random_effects
from newretail.generate.shoppers import _categorical, _enum, _ids
from newretail.generate.traffic import SECONDS_PER_DAY, sample_ts_us
from newretail.tables.categories import CREATIVE_SOURCES, PLACEMENTS

PLACEMENT_P = np.array([0.15, 0.20, 0.30, 0.20, 0.15])
PLACEMENT_QUALITY = np.array([0.8, 0.5, 0.0, -0.4, -0.7])  # log-odds of a click relative to search_feed
BRAND_SD = 0.35  # log-odds spread of brands' click appeal
MAX_EXPOSURE = 20


@dataclass(frozen=True)
class BannerParams:
    """Internal parameters of the banner model, solved by calibration."""

    allocation_intercept: float  # log-odds of an AI creative on an average placement
    allocation_slope: float  # log-odds of an AI creative per unit of placement quality
    click_intercept: float  # log-odds of a click on search_feed, average brand, human creative
    ai_effect: float  # log-odds added by an AI creative at first exposure
    novelty_decay: float  # per repeated exposure
    repeat_exposure_prob: float
    brands: int
    shopper_sd: float = 0.0  # log-odds sd of the shopper's random effect on clicking
    design_sd: float = 0.0  # log-odds sd of the design's random effect
    hour_sd: float = 0.0  # log-odds sd of the hour-of-day shock
    designs_per_brand: int = 16  # designs per brand and creative source
    burst_mean: float = 1.0  # impressions per burst of one shopper
    burst_shape: float = 1.0  # gamma shape of a burst's extra impressions
    allocation_sd: float = 0.0  # log-odds sd of the shopper's random effect on being shown an AI creative

    @property
    def effect_sd(self) -> float:
        """sd (log-odds) of the sum of the shopper, design and hour effects (independent normals)."""
        return float(np.sqrt(self.shopper_sd**2 + self.design_sd**2 + self.hour_sd**2))


def appeal_quantiles(brands: int) -> np.ndarray:
    """The brands' click appeals in log-odds: evenly spaced quantiles of a normal of sd ``BRAND_SD``."""
    return BRAND_SD * ndtri((np.arange(brands) + 0.5) / brands)  # the standard normal's quantiles


def brand_appeal(seed: int, brands: int) -> np.ndarray:
    """Each brand's click appeal in log-odds, the same in every partition of a dataset: the seed decides which
    brand gets which quantile, so the spread of appeals (and the calibrated CTR) does not depend on the seed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 - 1,)))
    return rng.permutation(appeal_quantiles(brands))


def exposure_distribution(repeat_exposure_prob: float, density: np.ndarray) -> np.ndarray:
    """P(exposure_index = k) for k = 1 .. MAX_EXPOSURE over the day, as :func:`draw_impressions` draws it.

    Computed once per (``repeat_exposure_prob``, ``density``) and process: the frontier searches ask for it
    hundreds of times with the same day.
    """
    density = np.ascontiguousarray(density, dtype=np.float64)
    return _exposure_distribution(float(repeat_exposure_prob), density.tobytes()).copy()


@lru_cache(maxsize=16)
def _exposure_distribution(repeat_exposure_prob: float, density_bytes: bytes) -> np.ndarray:
    density = np.frombuffer(density_bytes, dtype=np.float64)
    day_frac = (np.arange(density.size) + 0.5) / density.size
    repeat = np.clip(repeat_exposure_prob * (0.4 + 1.2 * day_frac), 0.0, 0.95)
    k = np.arange(1, MAX_EXPOSURE + 1)
    pmf = (1.0 - repeat[:, None]) * repeat[:, None] ** (k[None, :] - 1)
    pmf[:, -1] = repeat ** (MAX_EXPOSURE - 1)  # the cap collects the tail
    # a plain sum, not a BLAS product: the result must not depend on the number of BLAS threads
    return (density[:, None] * pmf).sum(axis=0) / density.sum()


def impression_grid(p: BannerParams, density: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every (placement, brand, exposure) cell with its probability: the exact distribution that
    :func:`draw_impressions` samples, for calibration without sampling error. Returns (cells, mass)."""
    k = exposure_distribution(p.repeat_exposure_prob, density)
    placement, brand, exposure = np.meshgrid(
        np.arange(len(PLACEMENTS)), np.arange(p.brands), np.arange(1, MAX_EXPOSURE + 1), indexing="ij"
    )
    mass = PLACEMENT_P[placement] * (1.0 / p.brands) * k[exposure - 1]
    cells = {
        "placement": placement.ravel(),
        "brand": brand.ravel(),
        "exposure_index": exposure.ravel(),
        "ai_prob": random_effects.expit_mean(
            p.allocation_intercept + p.allocation_slope * PLACEMENT_QUALITY[placement.ravel()], p.allocation_sd
        ),
    }
    return cells, mass.ravel()


def draw_impressions(
    rng: np.random.Generator,
    n: int,
    p: BannerParams,
    density: np.ndarray,
    allocation_shift: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Placement, brand, time and exposure count of ``n`` impressions, and each one's chance of an AI creative
    (with ``allocation_shift``, the log-odds the impression's shopper adds to it).

    Repeat exposures grow over the day: the chance of seeing a creative again rises from 0.4x to 1.6x
    ``repeat_exposure_prob`` between midnight and the end of the day.
    """
    placement = _categorical(rng, PLACEMENT_P, n).astype(np.int8)  # the numbers of rng.choice(5, n, p=...)
    ts_us = sample_ts_us(rng, density, n)
    day_frac = np.clip(ts_us / (SECONDS_PER_DAY * 1e6), 0.0, 1.0)
    repeat = np.clip(p.repeat_exposure_prob * (0.4 + 1.2 * day_frac), 0.0, 0.95)
    exposure = np.minimum(rng.geometric(1.0 - repeat), MAX_EXPOSURE).astype(np.int16)
    allocation = (p.allocation_intercept + p.allocation_slope * PLACEMENT_QUALITY)[placement]  # per placement
    if allocation_shift is not None:
        allocation += allocation_shift
    return {
        "placement": placement,
        "brand": rng.integers(0, p.brands, size=n).astype(np.int32),
        "ts_us": ts_us,
        "exposure_index": exposure,
        "ai_prob": expit(allocation),
    }


def _base_logit(p: BannerParams, draws: dict[str, np.ndarray], appeal: np.ndarray) -> np.ndarray:
    """Log-odds of a click with a human creative, before the shopper, design and hour effects."""
    return np.asarray(p.click_intercept + PLACEMENT_QUALITY[draws["placement"]] + appeal[draws["brand"]])


def _ai_lift(p: BannerParams, exposure_index: np.ndarray) -> np.ndarray:
    """Log-odds an AI creative adds at each exposure: ``ai_effect`` fading by ``novelty_decay`` per repeat (from a
    table of the :data:`MAX_EXPOSURE` values)."""
    novelty = np.exp(-p.novelty_decay * (np.arange(MAX_EXPOSURE + 1) - 1.0))
    return np.asarray((p.ai_effect * novelty)[exposure_index])


def click_logit(p: BannerParams, draws: dict[str, np.ndarray], appeal: np.ndarray, ai: np.ndarray) -> np.ndarray:
    """Log-odds of a click of each impression given its creative source (``ai`` of 0 or 1), before the shopper,
    design and hour effects."""
    return np.asarray(_base_logit(p, draws, appeal) + ai * _ai_lift(p, draws["exposure_index"]))


def click_probability(
    p: BannerParams, draws: dict[str, np.ndarray], appeal: np.ndarray, ai: np.ndarray, shift: np.ndarray | None = None
) -> np.ndarray:
    """Click probability of each impression given its creative source (``ai`` of 0 or 1).

    With ``shift`` (the impression's shopper + design + hour effects, log-odds) the impression's own probability;
    without it, the expectation over those effects (what calibration matches to the targets).
    """
    logit = click_logit(p, draws, appeal, ai)
    if shift is None:
        return random_effects.expit_mean(logit, p.effect_sd)
    return np.asarray(expit(logit + shift))


def banner_tables(
    rng: np.random.Generator,
    p: BannerParams,
    density: np.ndarray,
    appeal: np.ndarray,
    *,
    partition: int,
    n: int | None = None,
    n_users: int,
    seed: int = 0,
    expected: float | None = None,
) -> dict[str, pl.DataFrame]:
    """Banner impressions with their clicks, and their ground truth: exactly ``n``, or a compound Poisson number
    of mean ``expected`` (bursts arriving as a Poisson process).

    Impressions come in bursts from one shopper; the chance of an AI creative carries the shopper's random effect
    (Lu Ban targets some shoppers more), and a click's log-odds the shopper's, the design's and the hour's, each
    a normal fixed by ``seed`` and the entity's id (the same in every partition).
    """
    # effects are drawn once per entity and gathered: per burst of one shopper, per design, per hour
    shopper, burst = random_effects.burst_shoppers(rng, n_users, p.burst_mean, p.burst_shape, n=n, expected=expected)
    user_id = shopper[burst]
    n = user_id.size
    allocation_shift = p.allocation_sd * random_effects.entity_normal(seed, random_effects.SHOPPER_ALLOCATION, shopper)
    draws = draw_impressions(rng, n, p, density, allocation_shift[burst])
    ai = rng.random(n) < draws["ai_prob"]
    d = p.designs_per_brand
    design_id = (
        np.where(ai, p.brands * d, 0) + draws["brand"].astype(np.int64) * d + rng.integers(0, d, size=n)
    ).astype(np.int64)
    hour = (draws["ts_us"] // 3_600_000_000).clip(0, 23)
    shopper_shift = p.shopper_sd * random_effects.entity_normal(seed, random_effects.SHOPPER_CLICK, shopper)
    if 2 * p.brands * d <= n:  # every design's effect once, gathered (the same numbers as per row)
        designs = np.arange(2 * p.brands * d, dtype=np.int64)
        design_shift = (p.design_sd * random_effects.entity_normal(seed, random_effects.DESIGN_CLICK, designs))[
            design_id
        ]
    else:  # more designs than impressions: per row
        design_shift = p.design_sd * random_effects.entity_normal(seed, random_effects.DESIGN_CLICK, design_id)
    hour_shift = p.hour_sd * random_effects.entity_normal(seed, random_effects.HOUR_CLICK, np.arange(24))
    shift = shopper_shift[burst] + design_shift + hour_shift[hour]
    base = _base_logit(p, draws, appeal)
    p_ai = expit(base + _ai_lift(p, draws["exposure_index"]) + shift)  # click_probability(p, draws, appeal, 1, shift)
    p_human = expit(base + shift)  # click_probability(p, draws, appeal, 0, shift)
    p_click = np.where(ai, p_ai, p_human)
    clicked = rng.random(n) < p_click
    impression_id = _ids(5, partition, n)
    creative_id = np.where(ai, impression_id, design_id)
    impressions = pl.DataFrame(
        {
            "impression_id": impression_id,
            "user_id": user_id,
            "ts_us": draws["ts_us"],
            "brand_id": draws["brand"],
            "creative_id": creative_id,
            "design_id": design_id,
            "creative_source": _enum(np.where(ai, 0, 1), CREATIVE_SOURCES),
            "placement": _enum(draws["placement"], PLACEMENTS),
            "exposure_index": draws["exposure_index"],
            "clicked": clicked,
        }
    )
    truth = pl.DataFrame(
        {
            "impression_id": impression_id,
            "ai_allocation_prob": draws["ai_prob"],
            "p_click": p_click,
            "p_click_if_ai": p_ai,
            "p_click_if_human": p_human,
        }
    )
    return {"banner_impressions": impressions, "truth_banner_impressions": truth}
