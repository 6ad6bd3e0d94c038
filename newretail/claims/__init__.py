"""Claims: every figure of the report (and the press figures that shape the day) as a testable object.

``evaluate(ds)`` computes each claim from a dataset's tables with a 95% interval and judges it against the
targets of the scenario the dataset was generated from (or against ``targets=`` given explicitly)::

    from newretail.claims import REGISTRY, evaluate
    table = evaluate("data/synthetic/singles_day_2017")
    table["gmv_usd"].holds, table.to_polars(), table.plot()

Whether a figure holds is :func:`holds` (:mod:`newretail.claims.verdicts`), the judge the stress tests use too;
every number is printed by :mod:`newretail.fmt`.
"""

from newretail.claims.metrics import Context, Measured
from newretail.claims.registry import CLAIMS, PRESS_IDS, REGISTRY, REPORT_IDS, Claim
from newretail.claims.table import JSON_KEYS, ClaimResult, ClaimsTable, Consistency, evaluate
from newretail.claims.verdicts import Direction, holds, stated_range
from newretail.fmt import format_value

__all__ = [
    "CLAIMS",
    "JSON_KEYS",
    "PRESS_IDS",
    "REGISTRY",
    "REPORT_IDS",
    "Claim",
    "ClaimResult",
    "ClaimsTable",
    "Consistency",
    "Context",
    "Direction",
    "Measured",
    "evaluate",
    "format_value",
    "holds",
    "stated_range",
]
