"""A result as the paper quotes it: value, interval and unit read off the result object, printed by one formatter.

A notebook hands the paper a result with one call, ``out.result(name, obj)`` (see
:meth:`newretail.notebook.Outputs.result`). :func:`read_result` reads ``obj`` whatever kind of result it is:

- a row of the claims table (``reproduced``, ``ci_low``, ``ci_high`` and its own ``unit``);
- a fitted estimator of :mod:`newretail.methods` (``effect_`` and ``ci_``), or a tidy result (``.tidy()``) with the
  row named by ``term``;
- a value with its interval (``value``, ``estimate``, ``ratio`` or ``decay``, with ``ci_low`` and ``ci_high``: an
  ``Estimate``, an ``Effect``, a CTR ratio, a decay fit);
- a row of a table (a mapping with those keys);
- a plain number, word or yes/no.

:func:`side_by_side` shows several results as a small table in a notebook; its text comes from
:mod:`newretail.fmt`, the formatter of the paper, so a number reads the same in the notebook, in
``results.json`` and in the PDF.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from newretail.fmt import CI_LEVEL, format_interval

__all__ = ["ResultError", "read_result", "side_by_side"]

VALUE_NAMES = ("reproduced", "value", "estimate", "ratio", "effect_", "decay", "share")
"""Where a result keeps its value, in the order they are looked for."""


class ResultError(TypeError):
    """A result that cannot be read as a value with an interval; the message names the result."""


def _number(x: Any) -> Any:
    """numpy scalars as Python values; other values unchanged."""
    return x.item() if isinstance(x, np.generic) else x


def _scalar(value: Any) -> bool:
    return isinstance(_number(value), (bool, int, float, str))


def _from_mapping(row: Mapping[str, Any], name: str) -> tuple[Any, Any, Any, str]:
    key = next((k for k in VALUE_NAMES if k in row), None)
    if key is None:
        raise ResultError(f"result {name!r}: the row has none of the columns {', '.join(VALUE_NAMES)}")
    return row[key], row.get("ci_low"), row.get("ci_high"), str(row.get("unit") or "")


def _from_tidy(obj: Any, name: str, term: str | None) -> tuple[Any, Any, Any, str]:
    frame = obj.tidy()
    terms = frame["term"].to_list()
    if term is None and len(terms) == 1:
        term = terms[0]
    if term not in terms:
        raise ResultError(f"result {name!r}: term = {term!r}; the result's terms are {', '.join(map(str, terms))}")
    row = frame.row(terms.index(term), named=True)
    return row["estimate"], row["ci_low"], row["ci_high"], ""


def read_result(obj: Any, *, name: str = "result", term: str | None = None) -> tuple[Any, Any, Any, str]:
    """``(value, ci_low, ci_high, unit)`` of a result object (see the module docstring); bounds None when it has none.

    Parameters
    ----------
    obj : the result.
    name : what the result is called, for the error message.
    term : for a tidy result with several rows, the row to read.
    """
    if obj is None:
        raise ResultError(f"result {name!r}: got None")
    if _scalar(obj):
        return _number(obj), None, None, ""
    if isinstance(obj, Mapping):
        return _from_mapping(obj, name)
    if hasattr(obj, "effect_") and hasattr(obj, "ci_"):
        low, high = obj.ci_
        return obj.effect_, low, high, ""
    if term is not None and hasattr(obj, "tidy"):
        return _from_tidy(obj, name, term)
    key = next((k for k in VALUE_NAMES if hasattr(obj, k) and _scalar(getattr(obj, k))), None)
    if key is not None:
        return getattr(obj, key), getattr(obj, "ci_low", None), getattr(obj, "ci_high", None), getattr(obj, "unit", "")
    if hasattr(obj, "tidy"):
        return _from_tidy(obj, name, term)
    raise ResultError(
        f"result {name!r}: a {type(obj).__name__} has no value to read (one of {', '.join(VALUE_NAMES)}, or "
        "effect_ and ci_, or tidy()); pass the number itself"
    )


def side_by_side(results: Mapping[str, Any]) -> Any:
    """Several results as one small table to read: a row each, its estimate and interval printed as the paper prints
    them (and, for a claim, its target and whether it holds).

    Parameters
    ----------
    results : label -> a result (anything :func:`read_result` reads), or ``(result, unit)`` to give its unit.

    Returns
    -------
    polars.DataFrame
        Columns ``result``, ``estimate``, ``95% interval`` (``target`` and ``holds`` when any result is a claim).
    """
    import polars as pl

    from newretail.fmt import format_value

    rows = []
    for label, item in results.items():
        obj, unit = item if isinstance(item, tuple) else (item, None)
        value, low, high, own = read_result(obj, name=label)
        unit = own if unit is None else unit
        text, interval = format_interval(value, low, high, unit)
        row = {"result": label, "estimate": text, f"{CI_LEVEL:.0%} interval": interval or "–"}
        if hasattr(obj, "target") and hasattr(obj, "holds"):
            row |= {"target": format_value(obj.target, unit), "holds": "yes" if obj.holds else "no"}
        rows.append(row)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return pl.DataFrame(
        [{c: row.get(c, "") for c in columns} for row in rows], schema=dict.fromkeys(columns, pl.String)
    )
