"""The arrays a synthetic control fit works on, read from a long frame: outcomes (units x times), the predictors
(units x predictors; for a cross-validated V also those of the training period), the first treated time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from newretail.methods._frames import MethodInputError, as_polars, require_columns, shown
from newretail.methods._panel_data import read_panel
from newretail.methods._synth_predictors import Predictor, _comparable, predictor_matrix

__all__ = ["read_synth_data"]


@dataclass(frozen=True)
class _Data:
    """The arrays a fit works on: outcomes (units x times), predictors (units x k; ``x_train`` for the training
    period of a cross-validated V), the first treated and the first validation time index."""

    y: np.ndarray
    x: np.ndarray
    x_train: np.ndarray
    t0: int
    split: int

    def with_mean_of(self, group: np.ndarray) -> _Data:
        """The same data with one more row: the mean of the rows ``group`` (a placebo group's unit)."""

        def add(a: np.ndarray) -> np.ndarray:
            return np.vstack([a, a[group].mean(axis=0)])

        return _Data(add(self.y), add(self.x), add(self.x_train), self.t0, self.split)


def _time_index(times: np.ndarray, value: Any, name: str, time: str) -> int:
    when = np.flatnonzero(times == value) if _comparable(times, value) else None
    if when is None or when.size != 1:
        raise MethodInputError(f"column '{time}': {name} {shown(value)} is not in the data")
    return int(when[0])


def read_synth_data(
    df: Any,
    *,
    unit: str,
    time: str,
    outcome: str,
    treated_unit: Any,
    treatment_time: Any,
    predictors: list[Predictor],
    cv_split: tuple[Any, list[Predictor]] | None,
) -> tuple[_Data, np.ndarray, np.ndarray, int]:
    """The fit's data, the times, the units and the treated unit's row, from a balanced long panel.

    ``cv_split`` is None, or (the first validation time or None for the pre-period's middle, the training fit's
    predictors) for a cross-validated V: then the final predictors read the validation period.
    """
    frame = as_polars(df)
    require_columns(frame, [unit, time, outcome])
    panel = read_panel(frame, unit=unit, time=time, outcome=outcome, treated=None)
    if panel.u.size != panel.n_units * panel.times.size:
        counts = np.bincount(panel.u, minlength=panel.n_units)
        short = panel.units[int(np.argmin(counts))]
        raise MethodInputError(
            f"column '{time}': unit {shown(short)} is missing some times; synthetic control needs every unit at "
            "every time"
        )
    hit = np.flatnonzero(panel.units == treated_unit) if _comparable(panel.units, treated_unit) else None
    if hit is None or hit.size != 1:
        raise MethodInputError(f"column '{unit}': treated_unit {shown(treated_unit)} is not in the data")
    t0 = _time_index(panel.times, treatment_time, "treatment_time", time)
    if t0 < 2:
        raise MethodInputError(
            f"column '{time}': synthetic control needs at least two periods before treatment_time, found {t0}"
        )
    y = np.empty((panel.n_units, panel.times.size))
    y[panel.u, panel.t] = panel.y
    split = t0
    if cv_split is not None:
        when, train = cv_split
        split = t0 // 2 if when is None else _time_index(panel.times, when, "cv_split", time)
        if not 2 <= split <= t0 - 1:
            raise MethodInputError(
                f"cv_split: {shown(when)} must leave at least two training times and one validation time before "
                "treatment_time"
            )
        if len(train) != len(predictors):
            raise MethodInputError(
                f"cv_predictors: {len(train)} predictors for the training fit, {len(predictors)} in predictors"
            )
    x = x_train = np.empty((panel.n_units, 0))
    if predictors:
        x = predictor_matrix(frame, panel, predictors, np.arange(split if cv_split else 0, t0), t0, time=time)
        if cv_split is not None:
            x_train = predictor_matrix(frame, panel, cv_split[1], np.arange(split), split, time=time)
    return _Data(y, x, x_train, t0, split), panel.times, panel.units, int(hit[0])


def _standardized(x: np.ndarray, target: int, donors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Donors' (k x donors) and the target's (k) predictors, each divided by its standard deviation across them."""
    cols = np.concatenate([donors, [target]])
    xs = x / x[cols].std(axis=0, ddof=1).clip(1e-12)
    return xs[donors].T, xs[target]


def _rmspe(gap: np.ndarray, t0: int) -> tuple[float, float]:
    """Root mean squared gap before and after the time index ``t0``."""
    return float(np.sqrt(np.mean(gap[:t0] ** 2))), float(np.sqrt(np.mean(gap[t0:] ** 2)))
