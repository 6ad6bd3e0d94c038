"""What a sweep evaluates at each point: for each claim, several *readings* of its figure, each estimated from the
point's small dataset with a 95% interval, judged against the figure, and set against the generator's truth.

A reading is one way to take the report's sentence. The *reported* reading is the one the claims table uses
(:func:`newretail.claims.evaluate`), so at the base scenario it holds by construction of the calibration; the
stricter readings ask what the sentence would need to mean to be true (the causal CTR ratio, the share of inquiries
the bot actually *resolved*, growth in RMB, ...).

Each reading has a direction: ``two-sided`` (the figure lies inside the interval: a measurement of the same
quantity), ``at-least`` (the figure is a floor the reading must reach: it holds unless the whole interval lies below
it) or ``covers-truth`` (an estimator is judged by whether its interval covers the true effect). ``holds`` judges
the data (what a study of the sweep's size would conclude); ``holds_truth`` judges the generator's expected value
(free of sampling noise) against the figure, reading a published figure as the values that round to it
(:func:`newretail.claims.verdicts.stated_range`: "95%" is 94.5% to 95.5%, "10,000 times" 9,500 to 10,500). Both
verdicts are :func:`newretail.claims.verdicts.holds`, the claims table's judge.

The ``truth`` of a reading is computed from the ``truth_*`` tables and the parameters the data were drawn from: a
validation quantity, never an input of an estimate.
"""

from __future__ import annotations

from newretail.stress.checks_online import CONVERSION as CONVERSION
from newretail.stress.checks_online import CTR as CTR
from newretail.stress.checks_online import GROWTH as GROWTH
from newretail.stress.checks_service import CHATBOT_SHARE as CHATBOT_SHARE
from newretail.stress.checks_service import EFFICIENCY as EFFICIENCY
from newretail.stress.checks_service import PILOT as PILOT
from newretail.stress.judging import CTR_LATE_EXPOSURE as CTR_LATE_EXPOSURE
from newretail.stress.judging import MIN_SIGNIFICANT as MIN_SIGNIFICANT
from newretail.stress.judging import NAN as NAN
from newretail.stress.judging import Z95 as Z95
from newretail.stress.judging import Check as Check
from newretail.stress.judging import Direction as Direction
from newretail.stress.judging import PointContext as PointContext
from newretail.stress.judging import PointReading as PointReading
from newretail.stress.judging import Reading as Reading
from newretail.stress.judging import evaluate_check as evaluate_check
from newretail.stress.judging import judge_truth as judge_truth
from newretail.stress.judging import rounding_halfwidth as rounding_halfwidth

__all__ = ["CHECKS", "Check", "PointContext", "PointReading", "Reading", "evaluate_check", "rounding_halfwidth"]


CHECKS: dict[str, Check] = {c.claim: c for c in (CTR, CONVERSION, CHATBOT_SHARE, EFFICIENCY, PILOT, GROWTH)}
"""Every claim a sweep can stress, by id (the claims registry's id, or ``sanjiang_pilot_uplift``)."""
