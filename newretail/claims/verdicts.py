"""Whether a reproduced figure supports a published one: the one judge of the claims table, the ledger, the stress
checks and their frontiers, and the notebooks.

A verdict has three parts, each written once here:

* a **direction** (:data:`Direction`), what kind of statement the figure is: ``two-sided`` (a measurement of the
  same quantity: the figure must be inside the interval), ``at-most`` (a promise such as "within 30 minutes": it
  holds unless the whole interval lies above the figure), ``at-least`` (a floor a stricter reading must reach: it
  holds unless the whole interval lies below it), ``exact`` (a count known without sampling error: the value itself
  must equal the figure) and ``covers-truth`` (an estimator's check: its interval must cover the true effect);
* the **stated precision** (:func:`stated_range`): a published figure stands for the values that round to it, half
  a unit of its last written digit each side, [low, high). "USD 25 billion" is 24.5 to 25.5 billion; "95%" is
  94.5% to 95.5%; a round figure is read to at least :data:`MIN_SIGNIFICANT` significant digits ("10,000 times":
  9,500 to 10,500; a ratio of 2: 1.95 to 2.05). The digits a figure is written with are read by
  :func:`newretail.fmt.significant_digits` and :func:`newretail.fmt.percent_decimals`, so the text and the range
  agree;
* a declared relative **tolerance** (:func:`margin`), added on each side before judging.

:func:`holds` judges an interval (or, with ``low == high == value``, a single expected value) against the exact
figure (``unit=None``) or against its stated range (``unit`` given).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

from newretail.fmt import SHARE_UNITS, percent_decimals, significant_digits

__all__ = ["DIRECTIONS", "MIN_SIGNIFICANT", "Direction", "holds", "margin", "stated_halfwidth", "stated_range"]

Direction = Literal["two-sided", "at-most", "at-least", "exact", "covers-truth"]
DIRECTIONS: tuple[str, ...] = get_args(Direction)
MIN_SIGNIFICANT = 2  # a round figure ("400 million", "10,000 times", "100% higher") is read to two significant digits


def _check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction = {direction!r}: must be one of {', '.join(map(repr, DIRECTIONS))}")
    return direction


def stated_halfwidth(target: float, unit: str) -> float:
    """Half a unit of the last written digit of a published figure: the values within it round to the figure.

    Shares are read in percent to their last written decimal ("95%": 0.005); other figures to their last significant
    digit, and at least :data:`MIN_SIGNIFICANT` of them ("10,000 times": 500; "USD 25 billion": 0.5 billion; a ratio
    of 2: 0.05). 0 for a zero or non-finite figure.
    """
    if not math.isfinite(target) or target == 0:
        return 0.0
    if unit.strip().lower() in SHARE_UNITS:
        return 0.5 * 10.0 ** (-percent_decimals(target)) / 100.0
    digits = max(significant_digits(target), MIN_SIGNIFICANT)
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(target))) - digits + 1)


def stated_range(target: float, unit: str, direction: str = "two-sided") -> tuple[float, float]:
    """The values that round to a published figure, [low, high): :func:`stated_halfwidth` each side. An exact count
    (``direction="exact"``) is its own range.

    Raises
    ------
    ValueError
        For a target that is not a finite number, or an unknown direction.
    """
    if isinstance(target, bool) or not (isinstance(target, (int, float)) and math.isfinite(target)):
        raise ValueError(f"target = {target!r}: must be a finite number")
    _check_direction(direction)
    if direction == "exact" or target == 0:
        return float(target), float(target)
    half = stated_halfwidth(float(target), unit)
    return float(target - half), float(target + half)


def margin(target: float, tolerance: float) -> float:
    """The declared tolerance as an absolute margin, added on each side of what supports the figure."""
    return tolerance * abs(target)


def holds(
    direction: str,
    target: float,
    value: float,
    low: float,
    high: float,
    *,
    unit: str | None = None,
    tolerance: float = 0.0,
) -> bool:
    """Whether a reproduced value and its interval [low, high] support a figure.

    Parameters
    ----------
    direction : see :data:`Direction`.
    target : the figure (for ``covers-truth``, the true effect).
    value, low, high : the estimate and its interval; for an expected value without sampling error, all three equal.
    unit : judge against the figure's stated range (:func:`stated_range`, read in this unit); None judges against
        the exact figure.
    tolerance : relative margin (:func:`margin`) added on each side.

    Against the exact figure: ``two-sided`` and ``covers-truth`` hold when the interval contains it, ``at-most``
    unless the whole interval lies above it, ``at-least`` unless the whole interval lies below it, ``exact`` when the
    value equals it. Against the stated range [s_low, s_high): the interval overlaps it (``two-sided``), its low end
    is under the range's top (``at-most``), its high end reaches the range's bottom (``at-least``), or the value lies
    in it (``exact``). Without a finite value and interval nothing holds.
    """
    _check_direction(direction)
    if not all(math.isfinite(x) for x in (target, value, low, high)):
        return False
    m = margin(target, tolerance)
    if unit is None:
        if direction == "exact":
            return abs(value - target) <= m
        if direction == "at-most":
            return low <= target + m
        if direction == "at-least":
            return high + m >= target
        return low - m <= target <= high + m
    s_low, s_high = stated_range(target, unit, direction)
    s_low, s_high = s_low - m, s_high + m
    if direction == "exact":
        return s_low <= value <= s_high
    if direction == "at-most":
        return low < s_high
    if direction == "at-least":
        return high >= s_low
    return low < s_high and high >= s_low
