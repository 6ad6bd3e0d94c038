"""One result shape for every estimator: ``.tidy()`` (a polars frame, one row per estimated term, the same columns for
every method) and ``.summary()`` (that frame as a printed table with the design underneath), as pyfixest's and
statsmodels' results read.

A frozen result class mixes in :class:`Tidy` and says what its rows are in :meth:`Tidy._terms`; the columns are
:data:`TIDY_COLUMNS`, in that order, with NaN where a method has no such number (a synthetic control has no standard
error). ``design`` names the method and its main choices in words ("DiD, TWFE, CRV1 by store").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = ["TIDY_COLUMNS", "SummaryTable", "Term", "Tidy"]

TIDY_COLUMNS = ("term", "estimate", "se", "ci_low", "ci_high", "p_value", "n", "design")
_SCHEMA = {
    "term": pl.String,
    "estimate": pl.Float64,
    "se": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "n": pl.Int64,
    "design": pl.String,
}


@dataclass(frozen=True)
class Term:
    """One row of a tidy result: an estimated quantity (outcome units), its standard error, interval and p-value
    (NaN where the method gives none), and the rows (or units, for a panel's units) it rests on."""

    term: str
    estimate: float
    se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    p_value: float = math.nan
    n: int = 0


class SummaryTable(str):
    """A printed table that also shows itself as the table (not a quoted string) at a notebook's prompt."""

    def __repr__(self) -> str:
        return str(self)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


class Tidy:
    """Mixin for frozen results: implement :meth:`_terms` (and :meth:`_design`), get ``tidy()`` and ``summary()``."""

    def _terms(self) -> list[Term]:  # pragma: no cover - each result says its own
        raise NotImplementedError

    def _design(self) -> str:
        return type(self).__name__

    def tidy(self) -> pl.DataFrame:
        """One row per estimated term with the columns of :data:`TIDY_COLUMNS` (``.to_pandas()`` for pandas)."""
        design = self._design()
        rows = [
            {
                "term": t.term,
                "estimate": float(t.estimate),
                "se": float(t.se),
                "ci_low": float(t.ci_low),
                "ci_high": float(t.ci_high),
                "p_value": float(t.p_value),
                "n": int(t.n),
                "design": design,
            }
            for t in self._terms()
        ]
        return pl.DataFrame(rows, schema=_SCHEMA)

    def summary(self) -> SummaryTable:
        """The tidy rows as a printed table (estimate, se, interval, p, n), with the design on the last line."""
        frame = self.tidy()
        header = ("term", "estimate", "se", "ci_low", "ci_high", "p_value", "n")
        rows = [list(header)] + [[_cell(row[c]) for c in header] for row in frame.iter_rows(named=True)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        lines = [line(rows[0]), "  ".join("-" * w for w in widths), *(line(r) for r in rows[1:])]
        lines.append(f"design: {self._design()}")
        return SummaryTable("\n".join(lines))
