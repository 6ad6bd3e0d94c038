"""The two readings of the report's "20% conversion", each calibrated from the scenario (a study: it recalibrates the
generator for every variant).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.scenario import Scenario

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# ----------------------------------------------------------------------------------------------------------------
# the two readings of "20% conversion"


__all__ = ["Readings", "conversion_readings"]


@dataclass(frozen=True)
class Readings:
    """What each reading of the report's conversion figure implies, from the calibrated scenario variants.

    ``table`` has one row per (reading, targeting strength): conversion of personalized and other visits, the naive
    difference and lift, the true ATE and ATT (differences in conversion probability), the true relative lift on the
    personalized visits, the calibrated effect at average intent (log-odds) and the implied visits and orders.
    """

    table: pl.DataFrame
    target: float

    def plot(self) -> Figure:
        """Naive difference against the true effect on personalized visits, per variant (percentage points)."""
        import matplotlib.pyplot as plt

        t = self.table
        labels = [f"{r['reading']}\ntargeting {r['targeting_strength']:g}" for r in t.iter_rows(named=True)]
        x = np.arange(t.height)
        fig, ax = plt.subplots(figsize=(6.8, 3.4), layout="constrained")
        ax.bar(x - 0.2, 100 * t["naive_difference"], width=0.4, color="0.6", label="naive difference (observed)")
        ax.bar(x + 0.2, 100 * t["true_att"], width=0.4, color="C3", label="true effect on personalized visits")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(x, labels)
        ax.set_ylabel("conversion, percentage points")
        ax.legend(frameon=False, fontsize=8)
        return fig


def conversion_readings(scenario: Scenario, *, targeting_strengths: Sequence[float] | None = None) -> Readings:
    """Calibrate the scenario under both readings of ``personalized_page_conversion`` ("rate": that share of
    personalized visits convert; "lift": they convert that much more often, relatively, than the others) and for
    each targeting strength (default: the scenario's and 0, random personalization).

    Returns
    -------
    Readings
        One row per variant; probabilities and differences as shares, lifts relative.
    """
    from newretail.generate.expected import expected_values

    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario: expected a Scenario, got {type(scenario).__name__}")
    pz = scenario.behaviour.personalization
    strengths = list(targeting_strengths) if targeting_strengths is not None else [pz.targeting_strength, 0.0]
    rows = []
    for reading in ("rate", "lift"):
        for strength in strengths:
            variant = scenario.with_changes(
                {
                    "behaviour.personalization.conversion_reading": reading,
                    "behaviour.personalization.targeting_strength": float(strength),
                }
            )
            e = expected_values(variant)
            cp, co, att = e["conversion_personalized"], e["conversion_other"], e["true_uplift_att"]
            rows.append(
                {
                    "reading": reading,
                    "targeting_strength": float(strength),
                    "conversion_personalized": cp,
                    "conversion_other": co,
                    "naive_difference": cp - co,
                    "naive_lift": cp / co - 1,
                    "true_ate": e["true_uplift_ate"],
                    "true_att": att,
                    "true_lift_personalized": att / (cp - att),
                    "effect_logodds_at_mean_intent": e["effect_logodds_at_mean_intent"],
                    "visits": e["visits"],
                    "online_orders": e["online_orders"],
                }
            )
    return Readings(pl.DataFrame(rows), float(scenario.targets.personalized_page_conversion))
