"""Data-agnostic estimators: the only implementation of each method the analyses, claims and stress tests use.

Every estimator takes a polars or pandas frame and the names of its columns, validates them (one-line errors naming
the column, see :class:`MethodInputError`) and follows scikit-learn's conventions: ``__init__`` stores keyword
arguments, ``fit(df)`` returns ``self``, results end in ``_``.
"""

from __future__ import annotations

from newretail.methods._frames import MethodInputError
from newretail.methods._results import TIDY_COLUMNS
from newretail.methods.effects import Effect, Overlap, aipw_effect, average_effect
from newretail.methods.intervals import poisson_interval, proportion_interval, quantile_interval, ratio_interval
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
from newretail.methods.queueing import ErlangC
from newretail.methods.resampling import Estimate
from newretail.methods.staggered import StaggeredDiD
from newretail.methods.synth import SyntheticControl, SyntheticControlSummary

__all__ = [
    "TIDY_COLUMNS",
    "CrossFit",
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
    "cross_fit",
    "poisson_interval",
    "proportion_interval",
    "quantile_interval",
    "ratio_interval",
]
