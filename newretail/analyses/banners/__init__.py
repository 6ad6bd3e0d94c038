"""Lu Ban's banners: how much more often AI creatives are clicked than human ones, and how much of that is causal.

The report's "100% higher" click-through rate is a ratio of two observed CTRs. This module estimates that ratio with
intervals (delta method on the log ratio, or Fieller), by placement and by brand; standardizes it over placements
(AI creatives are allocated to better slots, so the naive ratio mixes creative quality with slot quality); follows the
AI advantage over the hours of the day and over repeated exposures to the same creative (novelty); and sizes the A/B
test that would settle the question.

Inference counts impressions, not weighted totals: every banner partition of a dataset has the same sampling
fraction, so a CTR or a ratio is the same either way, while intervals need the numbers actually observed.

Functions whose name starts with ``true_`` read the ``truth_*`` tables: they are for validation sections and tests,
never for an estimate.
"""

from __future__ import annotations

from newretail.analyses.banners._counting import AI_COLOR as AI_COLOR
from newretail.analyses.banners._counting import COLUMNS as COLUMNS
from newretail.analyses.banners._counting import GROUPABLE as GROUPABLE
from newretail.analyses.banners._counting import HUMAN_COLOR as HUMAN_COLOR
from newretail.analyses.banners._counting import TABLE as TABLE
from newretail.analyses.banners._counting import TRUTH as TRUTH
from newretail.analyses.banners._counting import US_PER_HOUR as US_PER_HOUR
from newretail.analyses.banners._counting import Impressions as Impressions
from newretail.analyses.banners._counting import RatioMethod as RatioMethod
from newretail.analyses.banners.ab_test import AbTestPlan, ab_test_plan, ab_test_power, simulate_ab_power
from newretail.analyses.banners.ctr import (
    CtrRatio,
    PlacementAdjusted,
    ctr_ratio,
    placement_adjusted_ratio,
    ratio_of_ctrs,
    true_ctr_ratio,
)
from newretail.analyses.banners.novelty import (
    ExposureRatios,
    HourlyCtr,
    NoveltyFit,
    ctr_by_hour,
    novelty_decay_fit,
    ratio_by_exposure,
)
from newretail.analyses.banners.tallied import (
    AiCtrRatio,
    AiImpressions,
    ai_ctr_ratio,
    ai_impressions,
    ai_impressions_measure,
    ctr_ratio_clustered,
    ctr_ratio_measure,
    finish_ai_impressions,
    finish_clustered,
    finish_ctr_ratio,
    impression_tallies,
)

__all__ = [
    "AbTestPlan",
    "AiCtrRatio",
    "AiImpressions",
    "CtrRatio",
    "ExposureRatios",
    "HourlyCtr",
    "NoveltyFit",
    "PlacementAdjusted",
    "ab_test_plan",
    "ab_test_power",
    "ai_ctr_ratio",
    "ai_impressions",
    "ai_impressions_measure",
    "ctr_by_hour",
    "ctr_ratio",
    "ctr_ratio_clustered",
    "ctr_ratio_measure",
    "finish_ai_impressions",
    "finish_clustered",
    "finish_ctr_ratio",
    "impression_tallies",
    "novelty_decay_fit",
    "placement_adjusted_ratio",
    "ratio_by_exposure",
    "ratio_of_ctrs",
    "simulate_ab_power",
    "true_ctr_ratio",
]
