"""The counting step every figure starts from: mergeable aggregations of one table (a :class:`Tally`), run once
over the whole table (:func:`tally`) or partition by partition and merged (``newretail.claims.partials``), and a
:class:`Measure` that pairs the tallies of a figure with the function that finishes it (totals -> estimate).

A tally's results add up over partitions: sums (and a row count ``n``) per key, e.g. per random group of clusters
(``cluster % groups``, see :func:`group_key`), or the selected columns of the few rows a filter keeps. So the same
finishing function gives the same figure whichever way the totals were counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import polars as pl

from newretail.tables.schemas import polars_schema

if TYPE_CHECKING:
    from newretail.tables.dataset import Dataset

__all__ = ["GROUPS", "Measure", "Tally", "group_arrays", "group_key", "tally"]

GROUPS = 100  # random groups of clusters (the same number as newretail.methods.resampling.GROUPS)
T = TypeVar("T")
# Each tally of a table scans the files on its own. With common-subplan elimination (polars' default) the queries of
# one collect_all share a single scan, which the streaming engine caches whole in memory: 1 GiB for the banner
# tallies at 3e8 page views, 3 GiB at 1e9. Separate scans stream file by file, so memory does not grow with the
# scale, for about the same CPU time (each query reads only its own columns).
_STREAMED = pl.QueryOptFlags(comm_subplan_elim=False)
_COUNT_LIMIT = 2**32  # polars sums a boolean column as a UInt32 count


@dataclass(frozen=True, eq=False)  # compared by identity: polars expressions have no truth value; see .key
class Tally:
    """An aggregation of ``table`` that adds up over partitions.

    Parameters
    ----------
    table : the table's name.
    sums : named expressions, summed (as Float64) per key of ``by``, or over the whole table when ``by`` is empty;
        a row count ``n`` is always added.
    by : named key expressions.
    where : a filter applied first.
    rows : instead of sums, the selected columns of the rows ``where`` keeps (an exact pass over a small subset).
    """

    table: str
    sums: tuple[tuple[str, pl.Expr], ...] = ()
    by: tuple[tuple[str, pl.Expr], ...] = ()
    where: pl.Expr | None = None
    rows: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.table, str) or not self.table:
            raise ValueError(f"table = {self.table!r}: must be a table's name")
        if not self.rows and not self.sums:
            raise ValueError("sums: give at least one named expression to total (or rows to select)")

    @property
    def key(self) -> tuple[Any, ...]:
        """What the tally computes, comparable between separately built tallies (to run each only once)."""

        def ser(expr: pl.Expr | None) -> bytes | None:
            return None if expr is None else expr.meta.serialize()

        return (
            self.table,
            tuple((n, ser(e)) for n, e in self.sums),
            tuple((n, ser(e)) for n, e in self.by),
            ser(self.where),
            self.rows,
        )

    def on(self, lf: pl.LazyFrame, *, max_rows: int | None = None) -> pl.LazyFrame:
        """The query on one partition (or, equally, on the whole table).

        ``max_rows``, an upper bound on the rows ``lf`` holds (the manifest's count), lets the sums of true/false
        expressions be counted as whole numbers and converted to Float64 once per key, which gives the same totals
        with a third less CPU than converting every row first. Polars counts them in 32 bits, so only below
        2**32 rows; without a bound every row is converted.
        """
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 0):
            raise ValueError(f"max_rows = {max_rows!r}: must be a whole number of rows (or None)")
        if self.where is not None:
            lf = lf.filter(self.where)
        if self.rows:
            return lf.select(self.rows)
        counted: set[str] = set()
        if max_rows is not None and max_rows < _COUNT_LIMIT:
            schema = lf.select([expr.alias(name) for name, expr in self.sums]).collect_schema()
            counted = {name for name, dtype in schema.items() if dtype == pl.Boolean}
        aggs = {
            name: expr.sum().cast(pl.Float64) if name in counted else expr.cast(pl.Float64).sum()
            for name, expr in self.sums
        } | {"n": pl.len()}
        if not self.by:
            return lf.select(**aggs)
        return lf.group_by([expr.alias(name) for name, expr in self.by]).agg(**aggs)

    def combine(self, parts: list[pl.DataFrame]) -> pl.DataFrame:
        """Results of several partitions as one result (sums added by key, keys sorted)."""
        frame = pl.concat(parts, how="vertical") if parts else self.on(_empty(self.table)).collect()
        if self.rows:
            return frame
        totals = [pl.col(name).sum() for name, _ in self.sums] + [pl.col("n").sum()]
        if not self.by:
            return frame.select(totals)
        return frame.group_by([name for name, _ in self.by]).agg(totals).sort([name for name, _ in self.by])


def _empty(table: str) -> pl.LazyFrame:
    return pl.LazyFrame(schema=polars_schema(table)).with_columns(weight=pl.lit(1.0, dtype=pl.Float64))


def group_key(cluster: pl.Expr, groups: int = GROUPS) -> tuple[tuple[str, pl.Expr], ...]:
    """The ``by`` of a random-group tally: every row goes to group ``cluster % groups``."""
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 2:
        raise ValueError(f"groups = {groups!r}: must be a whole number of at least 2")
    return (("_group", (cluster % groups).cast(pl.Int64)),)


def group_arrays(frame: pl.DataFrame, names: Iterable[str], groups: int = GROUPS) -> dict[str, np.ndarray]:
    """A random-group tally's result as arrays of ``groups`` totals per name (groups without rows are zeros)."""
    if "_group" not in frame.columns:
        raise ValueError("frame: no _group column; give the result of a tally keyed by group_key")
    full = pl.DataFrame({"_group": np.arange(groups, dtype=np.int64)}).join(frame, on="_group", how="left")
    return {name: full[name].fill_null(0.0).to_numpy().astype(np.float64) for name in names}


def tally(
    ds: Dataset, tallies: Iterable[Tally], *, cache: dict[Any, pl.DataFrame] | None = None
) -> dict[Tally, pl.DataFrame]:
    """Run tallies over whole tables in one pass: one streaming ``collect_all`` per table, each distinct tally once.

    Parameters
    ----------
    ds : the dataset (rows carry ``weight``, the rows of the full event each stands for).
    tallies : the aggregations.
    cache : results of earlier calls on the same dataset, by :attr:`Tally.key` (filled in).
    """
    tallies = list(tallies)
    if any(not isinstance(t, Tally) for t in tallies):
        raise TypeError("tallies: expected Tally objects")
    cache = {} if cache is None else cache
    todo: dict[str, dict[Any, Tally]] = {}
    for t in tallies:
        if t.key not in cache:
            todo.setdefault(t.table, {})[t.key] = t
    for table, pending in todo.items():
        lf = ds.scan(table, weights=True)
        rows = sum(int(rec["rows"]) for rec in ds.files(table))
        queries = [t.on(lf, max_rows=rows) for t in pending.values()]
        frames = pl.collect_all(queries, engine="streaming", optimizations=_STREAMED)
        for (key, t), frame in zip(pending.items(), frames, strict=True):
            cache[key] = t.combine([frame])
    return {t: cache[t.key] for t in tallies}


@dataclass(frozen=True)
class Measure(Generic[T]):
    """A figure as its tallies (by name) and the function that finishes it from their results (by the same
    names). :meth:`run` is the single pass; ``newretail.claims.partials`` runs the same tallies per partition and
    calls the same ``finish``."""

    tallies: Mapping[str, Tally]
    finish: Callable[[Mapping[str, pl.DataFrame]], T]

    def run(self, ds: Dataset, *, cache: dict[Any, pl.DataFrame] | None = None) -> T:
        """Count over the whole dataset, then finish."""
        found = tally(ds, self.tallies.values(), cache=cache)
        return self.finish({name: found[t] for name, t in self.tallies.items()})
