"""Predictors of a synthetic control: a column, the times it is read over and how they are summarised per unit.

A predictor is given as

- ``"beer"``: the column's mean over the pre-period (or, in ADH 2015's cross-validation, over the training or the
  validation period);
- ``("cigsale", 1988)``: the column's value at that one time;
- ``("beer", (1984, 1988))`` or ``("beer", (1984, 1988), "median")``: over the times from 1984 to 1988 inclusive,
  summarised by ``"mean"`` (default) or ``"median"``;
- ``("retprice", [1980, 1985, 1988], "mean")``: over exactly the listed times.

Only the times a predictor is read over need values: a column missing (null or NaN) elsewhere is fine, and a unit
missing some of its window's times is summarised over the rest (as R's Synth does); a unit with none is refused by
name. Every window must lie before the treatment (a predictor read after it would carry the effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from newretail.methods._frames import MethodInputError, require_columns, shown
from newretail.methods._panel_data import Panel

__all__ = ["AGGREGATIONS", "Predictor", "parse_predictors", "predictor_matrix"]

AGGREGATIONS = ("mean", "median")


@dataclass(frozen=True)
class Predictor:
    """One matching variable: ``column`` read at ``times`` (None: the whole period of the fit; a 2-tuple with
    ``span``: every time from the first to the second) and summarised per unit by ``how``; ``label`` names it."""

    column: str
    times: tuple[Any, ...] | None
    span: bool
    how: str
    label: str


def _label(column: str, times: tuple[Any, ...] | None, span: bool, how: str) -> str:
    if times is None:
        return column
    if span:
        return f"{column} {how} {times[0]}-{times[1]}"
    if len(times) == 1:
        return f"{column} {times[0]}"
    return f"{column} {how} {', '.join(map(str, times))}"


def _one(spec: Any) -> Predictor:
    """A predictor from one of the forms the module docstring lists."""
    if isinstance(spec, str):
        return Predictor(spec, None, False, "mean", spec)
    if not isinstance(spec, tuple) or len(spec) not in (2, 3) or not isinstance(spec[0], str):
        raise MethodInputError(
            f"predictors: {shown(spec)} is not a column name, (column, time), (column, (first, last)[, how]) or "
            "(column, [times][, how])"
        )
    column, when = spec[0], spec[1]
    how = spec[2] if len(spec) == 3 else "mean"
    if how not in AGGREGATIONS:
        raise MethodInputError(
            f"predictors: {shown(spec)} aggregates by {shown(how)}; one of {', '.join(AGGREGATIONS)}"
        )
    if isinstance(when, tuple):
        if len(when) != 2:
            raise MethodInputError(f"predictors: {shown(spec)}: a window is (first, last), two times")
        return Predictor(column, when, True, how, _label(column, when, True, how))
    if isinstance(when, list):
        if not when:
            raise MethodInputError(f"predictors: {shown(spec)}: an empty list of times")
        times = tuple(when)
        return Predictor(column, times, False, how, _label(column, times, False, how))
    return Predictor(column, (when,), False, how, _label(column, (when,), False, how))


def parse_predictors(specs: Any, outcome: str) -> list[Predictor]:
    """Predictors from the user's list; the outcome's mean over the fit's period joins them unless one already reads
    the outcome (the package's original design: the columns' pre-period means and the outcome's)."""
    if isinstance(specs, (str, tuple)):
        specs = [specs]
    predictors = [_one(spec) for spec in specs]
    labels = [p.label for p in predictors]
    if len(set(labels)) != len(labels):
        raise MethodInputError(f"predictors: {shown(labels)} names a predictor twice")
    if predictors and all(p.column != outcome for p in predictors):
        predictors.append(Predictor(outcome, None, False, "mean", outcome))
    return predictors


def _window(p: Predictor, panel: Panel, period: np.ndarray, t0: int, time: str) -> np.ndarray:
    """Indices into ``panel.times`` of the times predictor ``p`` reads (``period`` when it has no times)."""
    if p.times is None:
        return period
    times = panel.times
    for value in p.times:
        if not _comparable(times, value):
            raise MethodInputError(f"predictors: '{p.label}': {shown(value)} is not a time of column '{time}'")
    if p.span:
        first, last = p.times
        where = np.flatnonzero((times >= first) & (times <= last))
        if where.size == 0:
            raise MethodInputError(f"predictors: '{p.label}': no time of column '{time}' lies in that window")
    else:
        where = np.array([int(np.flatnonzero(times == v)[0]) if (times == v).any() else -1 for v in p.times])
        if (where < 0).any():
            missing = p.times[int(np.argmax(where < 0))]
            raise MethodInputError(f"predictors: '{p.label}': {shown(missing)} is not a time of column '{time}'")
    if where.max() >= t0:
        raise MethodInputError(
            f"predictors: '{p.label}' reads {shown(times[where[where >= t0].min()])}, not before the treatment (or, in "
            "cross-validation, before the validation period): it would carry the effect it is matched on"
        )
    return np.sort(where)


def predictor_matrix(
    frame: pl.DataFrame, panel: Panel, predictors: list[Predictor], period: np.ndarray, t0: int, *, time: str
) -> np.ndarray:
    """Units x predictors: each predictor summarised per unit over its window (``period``: the indices into
    ``panel.times`` a predictor without times reads; every window must end before index ``t0``)."""
    require_columns(frame, sorted({p.column for p in predictors}))
    out = np.empty((panel.n_units, len(predictors)))
    for k, p in enumerate(predictors):
        dtype = frame[p.column].dtype
        if dtype != pl.Boolean and not dtype.is_numeric():
            raise MethodInputError(f"column '{p.column}': a predictor must be numeric, got dtype {dtype}")
        values = frame[p.column].cast(pl.Float64).fill_null(np.nan).to_numpy()[panel.order]
        where = _window(p, panel, period, t0, time)
        grid = np.full((panel.n_units, panel.times.size), np.nan)
        grid[panel.u, panel.t] = values
        grid = grid[:, where]
        grid[~np.isfinite(grid)] = np.nan
        empty = np.flatnonzero(np.isnan(grid).all(axis=1))
        if empty.size:
            raise MethodInputError(
                f"predictors: '{p.label}' has no value for unit {shown(panel.units[empty[0]])} in its window"
            )
        out[:, k] = np.nanmean(grid, axis=1) if p.how == "mean" else np.nanmedian(grid, axis=1)
        if np.ptp(out[:, k]) == 0:  # standardized predictors: a zero spread would weigh nothing
            what = "pre-treatment mean" if p.times is None else "value"
            raise MethodInputError(
                f"predictors: '{p.label}' has the same {what} in every unit, so it cannot weigh donors; drop it"
            )
    return out


def _comparable(values: np.ndarray, value: Any) -> bool:
    """Whether ``value`` can be compared with the entries of ``values`` (a string never equals a number)."""
    if values.dtype.kind in "OUS":
        return isinstance(value, str)
    if values.dtype.kind in "iuf":
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return True
