"""How a number is printed for a person to read: significant digits, thousands, millions and billions,
percentages, intervals, and published figures with the digits they were written with.

Every number a person reads goes through here, once: the paper (stored as text in ``results.json`` next to its value,
so the Typst source never formats a number and a test can find each printed text in the PDF), the ``newretail
claims`` table, the claims' statements, notes and consistency checks, the stress plots' labels and the notebooks'
:func:`newretail.notebook.in_words`. So a value prints the same wherever it appears.

Two kinds of number:

* a *measured* value (an estimate, an interval, a derived figure): :func:`format_value` and :func:`format_interval`,
  three significant digits by default, trailing zeros kept (``25.0 billion``: the digits say how precise it is);
* a *published* figure (a target as the report states it): :func:`format_stated`, with exactly the digits it was
  written with (``25 billion``, ``95%``, ``168.2 billion``): :func:`significant_digits` and
  :func:`percent_decimals` read them, and :mod:`newretail.claims.verdicts` turns them into the values that round
  to the figure.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "CI_LEVEL",
    "SHARE_UNITS",
    "format_cell",
    "format_interval",
    "format_stated",
    "format_value",
    "percent_decimals",
    "significant_digits",
    "unit_label",
]

CI_LEVEL = 0.95  # the level of every interval the notebooks, the claims and the paper report

SHARE_UNITS = frozenset({"share", "fraction", "proportion", "probability", "rate"})
"""Units whose values lie in [0, 1] and print as percentages."""

_RATIO_UNITS = frozenset({"ratio", "x", "times"})
_SILENT_UNITS = frozenset({"", "count", "number", "n", "rows"})
_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
MAX_DIGITS = 15  # a float carries about 15 significant decimal digits
MAX_DECIMALS = 6  # of a share written in percent


def significant_digits(value: float) -> int:
    """How many significant digits a figure is written with: the fewest that give back the same float (``25e9``: 2,
    ``168.2e9``: 4, ``1e4``: 1), at most :data:`MAX_DIGITS`."""
    return next((d for d in range(1, MAX_DIGITS + 1) if float(f"{value:.{d}g}") == value), MAX_DIGITS)


def percent_decimals(share: float) -> int:
    """How many decimals a share is written with in percent: ``0.95`` ("95%"): 0, ``0.951`` ("95.1%"): 1."""
    percent = share * 100.0
    return next((d for d in range(MAX_DECIMALS + 1) if abs(round(percent, d) - percent) < 1e-9), MAX_DECIMALS)


def unit_label(unit: str) -> str:
    """The unit as printed after a number: ``""`` for counts and shares, ``"×"`` for ratios, else the unit."""
    key = unit.strip().lower()
    if key in SHARE_UNITS or key in _SILENT_UNITS or key == "%":
        return ""
    if key in _RATIO_UNITS:
        return "×"
    return unit.strip()


def _sig(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant digits, trailing zeros kept (``25.0``, ``2.00``), thousands separated."""
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits - 1}e}")  # round to significant digits first, then read the magnitude
    magnitude = math.floor(math.log10(abs(rounded)))
    decimals = max(digits - 1 - magnitude, 0)
    if decimals > 6:
        return f"{x:.{digits - 1}e}"
    return f"{rounded:,.{decimals}f}"


def _scale(values: list[float], unit: str) -> tuple[float, str, str]:
    """Divisor, word and suffix shared by a value and its interval bounds."""
    key = unit.strip().lower()
    if key in SHARE_UNITS:
        return 0.01, "", "%"
    if key == "%":
        return 1.0, "", "%"
    label = unit_label(unit)
    suffix = "×" if label == "×" else ""
    biggest = max((abs(v) for v in values), default=0.0)
    for divisor, word in _WORDS:
        if biggest >= divisor:
            return divisor, word, suffix
    return 1.0, "", suffix


def _join(number: str, word: str, suffix: str, unit: str, with_unit: bool = True) -> str:
    if not with_unit and suffix == "×":
        suffix = ""  # the unit is said elsewhere: "ratio" in a table's unit column, "times" in a sentence
    text = number + (f" {word}" if word else "") + suffix
    label = unit_label(unit)
    if with_unit and label and label != "×":
        text += f" {label}"
    return text


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def format_value(value: Any, unit: str = "", *, digits: int = 3, with_unit: bool = True, missing: str = "n/a") -> str:
    """Print one measured value: ``25.0 billion USD``, ``95.0%``, ``2.00×``, ``13``, ``n/a`` for a missing value.

    Parameters
    ----------
    value : number, bool, string or None.
    unit : the unit recorded with the value (``share`` prints as a percentage, ``ratio`` as ``×``).
    digits : significant digits of non-integers.
    with_unit : append the unit's label (``USD``, ``minutes``, ``×``); False where the unit is said beside the
        number (the claims table's ``unit`` column, a statement that names the currency). ``%`` stays.
    missing : the text of a missing (None or not finite) value.
    """
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    x = float(value)
    if not math.isfinite(x):
        return missing
    divisor, word, suffix = _scale([x], unit)
    if _is_int(value) and divisor == 1.0:
        return _join(f"{value:,}", word, suffix, unit, with_unit)
    return _join(_sig(x / divisor, digits), word, suffix, unit, with_unit)


def format_stated(value: Any, unit: str = "", *, with_unit: bool = False, missing: str = "n/a") -> str:
    """Print a published figure with the digits it was written with: ``25 billion``, ``95%``, ``168.2 billion``,
    ``10,000``, ``2``. Shares to their written decimals in percent (:func:`percent_decimals`), other figures to
    their significant digits (:func:`significant_digits`). Used where a sentence quotes a figure (a claim's
    statement); a measured value prints with :func:`format_value`, whose digits say how precise it is.
    """
    if value is None or isinstance(value, (bool, str)):
        return format_value(value, unit, with_unit=with_unit, missing=missing)
    x = float(value)
    if not math.isfinite(x):
        return missing
    if unit.strip().lower() in SHARE_UNITS:
        return f"{x * 100.0:.{percent_decimals(x)}f}%"
    divisor, word, suffix = _scale([x], unit)
    return _join(_sig(x / divisor, significant_digits(x)), word, suffix, unit, with_unit)


def format_interval(
    value: Any, low: Any, high: Any, unit: str = "", *, digits: int = 3, with_unit: bool = True
) -> tuple[str, str]:
    """Print a value and its interval on one scale: ``("25.0 billion USD", "24.6–25.4 billion USD")``.

    The bounds get more significant digits (up to 6) until they print differently from each other, so a narrow
    interval never reads ``25.0–25.0``. Returns the value's text and the interval's (``""`` without bounds).
    ``with_unit`` as in :func:`format_value`.
    """
    bounds = [b for b in (low, high) if isinstance(b, (int, float)) and not isinstance(b, bool)]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or len(bounds) < 2:
        return format_value(value, unit, digits=digits, with_unit=with_unit), ""
    lo, hi, x = float(low), float(high), float(value)
    if not all(math.isfinite(v) for v in (lo, hi, x)):
        return format_value(value, unit, digits=digits, with_unit=with_unit), ""
    divisor, word, suffix = _scale([x, lo, hi], unit)
    for d in range(digits, 7):
        lo_text, hi_text = _sig(lo / divisor, d), _sig(hi / divisor, d)
        if lo_text != hi_text or lo == hi:
            break
    value_text = _join(_sig(x / divisor, max(d, digits)), word, suffix, unit, with_unit)
    return value_text, _join(f"{lo_text}–{hi_text}", word, suffix, unit, with_unit)


def format_cell(value: Any) -> str:
    """A table cell: integers with separators, floats with 4 significant digits, other values as text."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _is_int(value):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        for divisor, word in _WORDS:
            if abs(value) >= divisor:
                return f"{_sig(value / divisor, 4)} {word}"
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3e}"
        return _sig(value, 4)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items())
    return str(value)
