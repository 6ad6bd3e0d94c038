"""How a stress check judges a reading: the point's context, a reading's value with its interval and truth, a
check (one claim's readings), and the rows :func:`evaluate_check` writes (see :mod:`newretail.stress.checks`).

The verdicts themselves are the claims' (:func:`newretail.claims.verdicts.holds`): the data's interval against the
exact figure, and the generator's expected value against the values that round to the figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from newretail.claims import evaluate
from newretail.claims.verdicts import MIN_SIGNIFICANT as MIN_SIGNIFICANT
from newretail.claims.verdicts import Direction as Direction
from newretail.claims.verdicts import holds, stated_halfwidth
from newretail.scenario import Scenario

if TYPE_CHECKING:
    from newretail.generate import Calibration
from newretail.tables import Dataset

Z95 = 1.959963984540054  # two-sided 95% normal quantile
CTR_LATE_EXPOSURE = 3  # "after the novelty": the third and later exposure to a creative


@dataclass(frozen=True)
class PointContext:
    """What a check may use besides the data: the point's scenario (targets, definitions) and the parameters the
    data were drawn from (for the truth only)."""

    scenario: Scenario
    calibration: Calibration


@dataclass(frozen=True)
class PointReading:
    """One reading at one point: estimate and 95% interval (NaN when the reading has no estimator), the generator's
    truth, a note, and the claims table's verdict when the reading is the table's own."""

    value: float
    ci_low: float
    ci_high: float
    truth: float
    note: str = ""
    holds: bool | None = None  # set when the claims table judged it


@dataclass(frozen=True)
class Reading:
    """One way to read a claim's figure."""

    name: str
    label: str
    direction: Direction
    definition: str


@dataclass(frozen=True)
class Check:
    """A claim as the sweep evaluates it: the generator groups it needs and its readings."""

    claim: str
    title: str
    unit: str
    groups: tuple[str, ...]
    readings: tuple[Reading, ...]
    compute: Callable[[Dataset, PointContext], dict[str, PointReading]]
    target: Callable[[Scenario], float | None]  # None: judged against the truth (an estimator's check)
    reported: Callable[[Scenario], str]

    def reading(self, name: str) -> Reading:
        """The reading called ``name``."""
        for r in self.readings:
            if r.name == name:
                return r
        raise ValueError(f"reading = {name!r}: {self.claim} has readings {', '.join(r.name for r in self.readings)}")


NAN = math.nan


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


rounding_halfwidth = stated_halfwidth  # the stress tests' former name of the claims' stated-precision rule


def judge_truth(direction: str, target: float, truth: float, unit: str) -> bool | None:
    """Whether the generator's expected value lies among the values that round to the figure (``two-sided``) or
    reaches them (``at-least``); None for checks of an estimator (whose target is the truth itself)."""
    if direction == "covers-truth":
        return None
    return holds(direction, target, truth, truth, truth, unit=unit)


def evaluate_check(check: Check, ds: Dataset, ctx: PointContext) -> list[dict[str, object]]:
    """Rows (one per reading) of a check on one point's dataset."""
    measures = check.compute(ds, ctx)
    reported = check.reported(ctx.scenario)
    rows: list[dict[str, object]] = []
    for r in check.readings:
        m = measures[r.name]
        target = check.target(ctx.scenario)
        if target is None:
            target = m.truth
        if m.holds is not None:
            verdict = m.holds
        elif not math.isfinite(m.value):  # no estimator: the data cannot say more than the truth
            verdict = bool(judge_truth(r.direction, target, m.truth, check.unit))
        else:
            verdict = holds(r.direction, target, m.value, m.ci_low, m.ci_high)
        rows.append(
            {
                "claim": check.claim,
                "reading": r.name,
                "reported": r.name == reported,
                "direction": r.direction,
                "unit": check.unit,
                "target": float(target),
                "value": float(m.value),
                "ci_low": float(m.ci_low),
                "ci_high": float(m.ci_high),
                "truth": float(m.truth),
                "holds": bool(verdict),
                "holds_truth": judge_truth(r.direction, target, m.truth, check.unit),
                "note": m.note,
            }
        )
    return rows


def claims_row(ds: Dataset, claim: str, *, conversion_reading: str | None = None) -> PointReading:
    """The claims table's value, interval and verdict for one claim (the reported reading)."""
    row = evaluate(ds, [claim], conversion_reading=conversion_reading, check_files=False)[claim]
    return PointReading(row.reproduced, row.ci_low, row.ci_high, NAN, note=row.note, holds=row.holds)


def with_truth(m: PointReading, truth: float) -> PointReading:
    """The reading with the generator's truth set."""
    return PointReading(m.value, m.ci_low, m.ci_high, float(truth), m.note, m.holds)


def log_interval(value: float, var_log: float) -> tuple[float, float]:
    """Normal interval on the log scale (delta method), back on the ratio scale."""
    if not (value > 0 and var_log >= 0 and _finite(value, var_log)):
        return NAN, NAN
    half = Z95 * math.sqrt(var_log)
    return value * math.exp(-half), value * math.exp(half)


def wilson(count: int, n: int) -> tuple[float, float]:
    """Wilson interval of a share (:func:`newretail.methods.proportion_interval`); NaN without trials."""
    from newretail.methods.intervals import proportion_interval

    if n == 0:
        return NAN, NAN
    _, low, high = proportion_interval(count, n, alpha=0.05)
    return float(low), float(high)
