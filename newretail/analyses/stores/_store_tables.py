"""Hema and the Sanjiang pilot: the tables the store analyses read, and shared checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.tables import Dataset

if TYPE_CHECKING:
    pass


Source = Dataset | Mapping[str, pl.DataFrame]
FLEETS = ("hema", "sanjiang pilot")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha = {alpha!r}: must be in (0, 0.5), e.g. 0.05 for 95% intervals")


def _mean(series: pl.Series) -> float:
    return float(np.mean(series.to_numpy().astype(np.float64)))


def _tables(source: Source, names: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Read the named tables from a dataset, or take them from a mapping of frames (e.g. ``simulate_city``)."""
    if isinstance(source, Dataset):
        return {name: source.read(name) for name in names}
    if not isinstance(source, Mapping):
        raise ValueError(f"source: expected a Dataset or a mapping of table name to frame, got {type(source)!r}")
    missing = [name for name in names if name not in source]
    if missing:
        raise ValueError(f"source: missing table(s) {', '.join(missing)} (has {', '.join(map(str, source))})")
    return {name: source[name] for name in names}
