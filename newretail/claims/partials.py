"""Claims from per-partition partial aggregates: the same numbers as :func:`newretail.claims.evaluate`, computed
partition by partition, in this process or on a Dask cluster that sees the dataset on shared storage.

There is one implementation of every figure: each analysis owns its figures' tallies (mergeable aggregations,
:class:`newretail.tables.Tally`) and the functions that finish them (totals -> estimate and interval), paired in a
:class:`newretail.tables.Measure`. The single pass (:func:`newretail.claims.evaluate`) runs a measure's tallies over
whole tables; here the same tallies run on each partition file on its own (one task per file, one read of the
file), the small partial tables are summed by key (:meth:`Tally.combine`), and the same finishing functions make
the figures. Up to the order of floating-point additions (which the intervals round away) the values are the same.
This module holds no statistics.

Not every tally is a sum: the delivery-time promises (``hema_delivery_minutes``, ``sanjiang_delivery_minutes``) are
95th percentiles, whose tally keeps the in-range store orders' delivery times (the city's store orders do not grow
with the scale: about 18 thousand rows); the quantile is computed on them together, exactly as in the single pass.
The midnight-rush peaks (``peak_orders_per_second``, ``peak_payments_per_second``) are read from a model fitted
to the first hour's per-second counts; they stay on the single-pass path
(:func:`newretail.analyses.gmv.midnight_spike`), which reads only online orders of the first hour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from newretail.claims.metrics import Definition
from newretail.claims.registry import CLAIMS
from newretail.methods.resampling import Estimate
from newretail.tables import Dataset, Measure, Tally, open_dataset

if TYPE_CHECKING:
    from newretail.scenario import Scenario

__all__ = ["PARTIAL_IDS", "SINGLE_PASS_IDS", "PartialQuery", "evaluate_partials", "measures", "partition_totals"]

PartialQuery = Tally  # the former name of the mergeable aggregation
ENGINES = ("local", "dask")
PARTIAL_IDS: tuple[str, ...] = tuple(c.id for c in CLAIMS if c.measure is not None)
"""The claims whose measure is a sum of tallies (all but the midnight peaks), in the registry's order."""
SINGLE_PASS_IDS: tuple[str, ...] = tuple(c.id for c in CLAIMS if c.measure is None)


def _partials_of_file(path: str, fraction: float, queries: list[Tally]) -> list[pl.DataFrame]:
    """Every query of one table on one partition file (the task a worker runs; the file is read once)."""
    lf = pl.scan_parquet(path).with_columns(weight=pl.lit(1.0 / fraction, dtype=pl.Float64))
    frames = pl.collect_all([q.on(lf) for q in queries], engine="streaming")
    return list(frames)


def _run(
    ds: Dataset, queries: list[Tally], mapper: Callable[..., Iterable[list[pl.DataFrame]]]
) -> dict[Tally, pl.DataFrame]:
    by_table: dict[str, list[Tally]] = {}
    for q in queries:
        by_table.setdefault(q.table, []).append(q)
    out: dict[Tally, pl.DataFrame] = {}
    for table, qs in by_table.items():
        files = ds.files(table)
        paths = [str(ds.path / rec["path"]) for rec in files]
        fractions = [float(rec["fraction"]) for rec in files]
        results = list(mapper(paths, fractions, qs))
        for i, q in enumerate(qs):
            out[q] = q.combine([r[i] for r in results])
    return out


def partition_totals(
    dataset: Dataset | str | Path,
    queries: list[Tally],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
) -> dict[Tally, pl.DataFrame]:
    """Run partial queries partition by partition and combine them.

    Parameters
    ----------
    dataset : a dataset or its folder (on storage the Dask workers share, with ``engine="dask"``).
    queries : the aggregations, see :class:`newretail.tables.Tally`.
    engine : ``"local"`` (one partition after another in this process) or ``"dask"`` (one task per file).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` of ``workers`` processes is started.
    workers : processes of that LocalCluster.
    """
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    if engine not in ENGINES:
        raise ValueError(f"engine = {engine!r}: must be one of {', '.join(ENGINES)}")
    if engine == "local":

        def local(paths: list[str], fractions: list[float], qs: list[Tally]) -> Iterable[list[pl.DataFrame]]:
            return (_partials_of_file(p, f, qs) for p, f in zip(paths, fractions, strict=True))

        return _run(ds, queries, local)
    from newretail.generate.distributed import dask_client

    with ExitStack() as stack:
        client = dask_client(stack, workers=workers, scheduler=scheduler)

        def on_dask(paths: list[str], fractions: list[float], qs: list[Tally]) -> Iterable[list[pl.DataFrame]]:
            futures = client.map(_partials_of_file, paths, fractions, [qs] * len(paths), pure=False)
            return client.gather(futures)

        return _run(ds, queries, on_dask)


# ----------------------------------------------------------------------------------------------------------------
# the claims


def measures(sc: Scenario, *, conversion_reading: str) -> dict[str, tuple[Measure[Any], Callable[[Any], Estimate]]]:
    """For each claim of ``PARTIAL_IDS``: the analysis' measure (its tallies and finishing function, the same the
    single pass runs: :attr:`newretail.claims.registry.Claim.measure` for the scenario's definition) and how to read
    the claim's estimate from the finished result (:attr:`~newretail.claims.registry.Claim.estimate`)."""
    definition = Definition.of(sc, conversion_reading=conversion_reading)
    return {c.id: (c.measure(definition), c.estimate) for c in CLAIMS if c.measure is not None}


def evaluate_partials(
    dataset: Dataset | str | Path,
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
    conversion_reading: str | None = None,
) -> dict[str, Estimate]:
    """The values and 95% intervals of the claims in ``PARTIAL_IDS``, from per-partition partial aggregates.

    Equal to the ``reproduced``, ``ci_low`` and ``ci_high`` of :func:`newretail.claims.evaluate` for the same claims
    (to the order of floating-point additions). ``SINGLE_PASS_IDS`` are not computed here.

    Parameters
    ----------
    dataset : a dataset or its folder (on storage every Dask worker sees, with ``engine="dask"``).
    engine : ``"local"`` (partition after partition in this process) or ``"dask"`` (one task per partition file).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` of ``workers`` processes is started.
    workers : processes of that LocalCluster.
    conversion_reading : ``"rate"`` or ``"lift"`` (default: the dataset's scenario).
    """
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    sc = ds.scenario
    reading = conversion_reading or sc.behaviour.personalization.conversion_reading
    if reading not in ("rate", "lift"):
        raise ValueError(f"conversion_reading = {reading!r}: must be 'rate' or 'lift'")
    plan = measures(sc, conversion_reading=reading)
    distinct: dict[Any, Tally] = {}
    for measure, _ in plan.values():
        for t in measure.tallies.values():
            distinct.setdefault(t.key, t)
    res = partition_totals(ds, list(distinct.values()), engine=engine, scheduler=scheduler, workers=workers)
    by_key = {key: res[t] for key, t in distinct.items()}
    out: dict[str, Estimate] = {}
    for claim, (measure, read) in plan.items():
        out[claim] = read(measure.finish({name: by_key[t.key] for name, t in measure.tallies.items()}))
    return out
