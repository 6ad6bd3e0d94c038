"""Input checks shared by every estimator in :mod:`newretail.methods`.

Each check either returns a clean polars object or raises :class:`MethodInputError` with one line that names the
column (or argument) and the problem. Equivalent inputs come out identical: a pandas or a polars frame, a boolean or a
0/1 column, rows in any order (estimators sort by their keys after these checks).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable
from typing import Any

import polars as pl

__all__ = [
    "MethodInputError",
    "as_polars",
    "binary_indicator",
    "check_alpha",
    "finite_numeric",
    "plain",
    "require_columns",
    "shown",
    "unique_keys",
]


class MethodInputError(ValueError):
    """Bad input to a method: the message is one line naming the column or argument."""


def plain(value: Any) -> Any:
    """A value as Python prints it plainly: numpy scalars become Python numbers (``7``, not ``np.int64(7)``), inside
    lists, tuples and dicts too."""
    if hasattr(value, "item") and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    return value


def shown(value: Any) -> str:
    """A value for a message: plain numbers (``7``, ``2.5``), quoted strings (``'d'``), ``None``, ISO dates."""
    value = plain(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return repr(value)


def as_polars(df: Any, *, what: str = "df") -> pl.DataFrame:
    """A polars DataFrame from a polars DataFrame/LazyFrame or a pandas DataFrame (index dropped)."""
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    if isinstance(df, pl.DataFrame):
        return df
    module = type(df).__module__.split(".")[0]
    if module == "pandas" and hasattr(df, "columns"):
        return pl.from_pandas(df.reset_index(drop=True))
    raise MethodInputError(f"{what}: expected a polars or pandas DataFrame, got {type(df).__name__}")


def require_columns(df: pl.DataFrame, columns: Iterable[str], *, what: str = "df") -> None:
    """Every name in ``columns`` is a column of ``df``."""
    for column in columns:
        if not isinstance(column, str):
            raise MethodInputError(f"{what}: column names must be strings, got {shown(column)}")
        if column not in df.columns:
            names = ", ".join(df.columns[:12]) + (", ..." if df.width > 12 else "")
            raise MethodInputError(f"column '{column}' is not in {what} (columns: {names})")


def binary_indicator(series: pl.Series, *, name: str | None = None) -> pl.Series:
    """A treatment indicator as booleans: accepts bool, or integers/floats whose values are exactly 0 and 1.

    Strings, nulls, NaN and any other value are refused: an integer column is never read as row positions.
    """
    label = name or series.name
    if series.null_count():
        raise MethodInputError(f"column '{label}': {series.null_count()} missing values in a treatment indicator")
    dtype = series.dtype
    if dtype == pl.Boolean:
        return series.alias(label)
    if not dtype.is_numeric():
        raise MethodInputError(f"column '{label}': a treatment indicator must be bool or 0/1, got dtype {dtype}")
    if dtype.is_float() and series.is_nan().any():
        raise MethodInputError(f"column '{label}': NaN in a treatment indicator")
    bad = series.filter((series != 0) & (series != 1))
    if bad.len():
        raise MethodInputError(
            f"column '{label}': a treatment indicator must be bool or 0/1, found the value {shown(bad[0])}"
        )
    return (series == 1).alias(label)


def finite_numeric(series: pl.Series, *, name: str | None = None) -> pl.Series:
    """A numeric column as Float64 with no missing, NaN or infinite value (booleans count as 0/1)."""
    label = name or series.name
    dtype = series.dtype
    if dtype != pl.Boolean and not dtype.is_numeric():
        raise MethodInputError(f"column '{label}': must be numeric, got dtype {dtype}")
    values = series.cast(pl.Float64)
    if values.null_count():
        raise MethodInputError(f"column '{label}': {values.null_count()} missing values")
    if not values.is_finite().all():
        raise MethodInputError(f"column '{label}': NaN or infinite values")
    return values.alias(label)


def unique_keys(df: pl.DataFrame, keys: list[str], *, what: str = "df") -> None:
    """No two rows share the same ``keys`` (for example one row per unit and period)."""
    for key in keys:
        if df[key].null_count():
            raise MethodInputError(f"column '{key}': {df[key].null_count()} missing values in a key column")
    dup = df.group_by(keys).len().filter(pl.col("len") > 1)
    if dup.height:
        first = {k: dup[k][0] for k in keys}
        raise MethodInputError(f"{what}: duplicate rows for ({', '.join(keys)}) = {first}: one row per key expected")


def check_alpha(alpha: Any) -> float:
    """``alpha`` (the test's size, 1 - confidence) must lie in (0, 0.5]."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise MethodInputError(f"alpha: must be a number in (0, 0.5], got {shown(alpha)}")
    if not 0 < alpha <= 0.5:
        raise MethodInputError(f"alpha: must lie in (0, 0.5], got {alpha}")
    return float(alpha)
