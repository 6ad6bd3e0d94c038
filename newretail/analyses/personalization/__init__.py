"""Personalized pages: who converts, what personalization truly adds, and what "20% conversion" can mean.

Analyses on the ``visits`` joined with ``users``:

- a LightGBM model of conversion from the visit and user features (held-out AUC, with SHAP explanations);
- the effect of personalization on conversion: the naive gap between personalized and other visits, and the
  doubly robust average effect from cross-fitted T- and X-learners (``newretail.methods.learners``), with Qini curves;
- the two readings of the report's "20% conversion" (a rate, or a lift) are a study that recalibrates the scenario:
  :func:`newretail.studies.readings.conversion_readings`.

Visits of one user share the user's features, so splits keep a user's visits together and intervals are
cluster-robust over users. Every visit of a dataset carries the same sampling weight, so unweighted rates and
effects estimate the full-scale ones.

Functions whose name starts with ``true_`` read the ``truth_*`` tables: they are for validation sections and tests,
never for an estimate.
"""

from __future__ import annotations

from newretail.analyses.personalization.conversion import (
    AucComparison,
    ConversionFit,
    ConversionModel,
    compare_auc,
    fit_conversion,
)
from newretail.analyses.personalization.personalized import (
    PersonalizedConversion,
    PersonalizedPages,
    conversion_measure,
    finish_conversion,
    finish_pages,
    pages_measure,
    personalized_conversion,
    personalized_pages,
    visit_tallies,
)
from newretail.analyses.personalization.shapley import ShapExplanation, explain
from newretail.analyses.personalization.uplift import UpliftAnalysis, naive_effect, uplift_analysis
from newretail.analyses.personalization.visits import FEATURES, design_matrix, true_visits, visit_frame
from newretail.analyses.personalization.visits import OUTCOME as OUTCOME
from newretail.analyses.personalization.visits import TREATMENT as TREATMENT
from newretail.analyses.personalization.visits import US_PER_HOUR as US_PER_HOUR
from newretail.analyses.personalization.visits import USER_FEATURES as USER_FEATURES
from newretail.analyses.personalization.visits import VISIT_FEATURES as VISIT_FEATURES

__all__ = [
    "FEATURES",
    "AucComparison",
    "ConversionFit",
    "ConversionModel",
    "PersonalizedConversion",
    "PersonalizedPages",
    "ShapExplanation",
    "UpliftAnalysis",
    "compare_auc",
    "conversion_measure",
    "design_matrix",
    "explain",
    "finish_conversion",
    "finish_pages",
    "fit_conversion",
    "naive_effect",
    "pages_measure",
    "personalized_conversion",
    "personalized_pages",
    "true_visits",
    "uplift_analysis",
    "visit_frame",
    "visit_tallies",
]
