"""Data-agnostic estimators: the only implementation of each method the analyses, claims and stress tests use.

Every estimator takes a polars or pandas frame and the names of its columns, validates them (one-line errors naming
the column, see :class:`MethodInputError`) and follows scikit-learn's conventions: ``__init__`` stores keyword
arguments, ``fit(df)`` returns ``self``, results end in ``_``.
"""

from __future__ import annotations

from newretail.methods._frames import MethodInputError
from newretail.methods._results import TIDY_COLUMNS
from newretail.methods.bursts import BurstFit, fit_burst
from newretail.methods.comparisons import AucComparison, compare_auc, difference_in_means
from newretail.methods.decay import DecayFit, decay_fit
from newretail.methods.effects import Effect, Overlap, aipw_effect, average_effect
from newretail.methods.intervals import (
    delta_log_interval,
    mantel_haenszel_odds_ratio,
    poisson_interval,
    proportion_interval,
    quantile_interval,
    ratio_interval,
)
from newretail.methods.learners import (
    CrossFit,
    LightGBMSettings,
    ProbabilityModel,
    PropensityModel,
    TLearner,
    XLearner,
    cross_fit,
)
from newretail.methods.panel import DiD, EventStudy
from newretail.methods.power import normal_quantile, ratio_test_power, ratio_test_size
from newretail.methods.queueing import MAX_OCCUPANCY, ErlangC
from newretail.methods.resampling import Estimate
from newretail.methods.staggered import StaggeredDiD
from newretail.methods.synth import SyntheticControl, SyntheticControlSummary

__all__ = [
    "MAX_OCCUPANCY",
    "TIDY_COLUMNS",
    "AucComparison",
    "BurstFit",
    "CrossFit",
    "DecayFit",
    "DiD",
    "Effect",
    "ErlangC",
    "Estimate",
    "EventStudy",
    "LightGBMSettings",
    "MethodInputError",
    "Overlap",
    "ProbabilityModel",
    "PropensityModel",
    "StaggeredDiD",
    "SyntheticControl",
    "SyntheticControlSummary",
    "TLearner",
    "XLearner",
    "aipw_effect",
    "average_effect",
    "compare_auc",
    "cross_fit",
    "decay_fit",
    "delta_log_interval",
    "difference_in_means",
    "fit_burst",
    "mantel_haenszel_odds_ratio",
    "normal_quantile",
    "poisson_interval",
    "proportion_interval",
    "quantile_interval",
    "ratio_interval",
    "ratio_test_power",
    "ratio_test_size",
]
