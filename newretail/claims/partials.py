"""Claims from per-partition partial aggregates: the same numbers as :func:`newretail.claims.evaluate`, computed
partition by partition, in this process or on a Dask cluster that sees the dataset on shared storage.

Most claims are sums, means, counts or ratios of them, and their intervals come from random-group totals
(``cluster % 100``, see :mod:`newretail.methods.resampling`), per-group counts or per-category counts. All of
these add up
exactly over partitions: each partition file is aggregated on its own (one task per file, one read of the file),
the small partial tables are summed by key, and the intervals are made from the combined totals with the same
functions the single-pass path uses. Up to the order of floating-point additions the values are the same.

Two kinds of claim are not plain sums:

- the delivery-time promises (``hema_delivery_minutes``, ``sanjiang_delivery_minutes``) are 95th percentiles. They
  use an exact second pass: each partition returns only its in-range store orders' delivery times (the city's store
  orders do not grow with the scale: about 18 thousand rows), and the quantile and its order-statistic interval are
  computed on them together, exactly as in the single pass. A mergeable sketch would be approximate, and is not
  needed at this size.
- the midnight-rush peaks (``peak_orders_per_second``, ``peak_payments_per_second``) are read from a model fitted
  to the first hour's per-second counts; they stay on the single-pass path
  (:func:`newretail.analyses.gmv.midnight_spike`), which reads only online orders of the first hour.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from newretail.analyses.banners import ratio_of_ctrs
from newretail.methods.intervals import poisson_interval, quantile_interval
from newretail.methods.resampling import (
    CONFIDENCE,
    GROUPS,
    Estimate,
    bootstrap_interval,
    multiway_interval,
    ratio_interval,
    total_interval,
)
from newretail.tables import Dataset, open_dataset

__all__ = ["PARTIAL_IDS", "SINGLE_PASS_IDS", "PartialQuery", "evaluate_partials", "partition_totals"]

ALPHA = 1.0 - CONFIDENCE
DELIVERY_QUANTILE = 0.95
ENGINES = ("local", "dask")
PARTIAL_IDS = (
    "gmv_usd",
    "gmv_yoy_growth",
    "ai_banners",
    "ai_banner_ctr_ratio",
    "personalized_pages",
    "personalized_page_conversion",
    "chatbot_inquiries",
    "chatbot_share",
    "chatbot_efficiency_ratio",
    "hema_delivery_minutes",
    "sanjiang_pilot_stores",
    "sanjiang_delivery_minutes",
    "gmv_rmb",
    "payment_transactions",
    "delivery_orders",
    "mobile_gmv_share",
)
SINGLE_PASS_IDS = ("peak_orders_per_second", "peak_payments_per_second")


@dataclass(frozen=True, eq=False)  # compared by identity: polars expressions have no truth value
class PartialQuery:
    """An aggregation that adds up over partitions: ``sums`` (and a row count ``n``) per key of ``by`` (or over
    the whole table when ``by`` is empty), after ``where``; or, with ``rows``, the selected columns of the rows kept
    by ``where`` (for an exact second pass over a small subset)."""

    table: str
    sums: tuple[tuple[str, pl.Expr], ...] = ()
    by: tuple[tuple[str, pl.Expr], ...] = ()
    where: pl.Expr | None = None
    rows: tuple[str, ...] = ()

    def on(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        """The query on one partition (or, equally, on the whole table)."""
        if self.where is not None:
            lf = lf.filter(self.where)
        if self.rows:
            return lf.select(self.rows)
        aggs = {name: expr.cast(pl.Float64).sum() for name, expr in self.sums} | {"n": pl.len()}
        if not self.by:
            return lf.select(**aggs)
        return lf.group_by([expr.alias(name) for name, expr in self.by]).agg(**aggs)

    def combine(self, parts: list[pl.DataFrame]) -> pl.DataFrame:
        """Partial results of several partitions as one result (sums added by key)."""
        frame = pl.concat(parts, how="vertical") if parts else self.on(_empty(self.table)).collect()
        if self.rows:
            return frame
        totals = [pl.col(name).sum() for name, _ in self.sums] + [pl.col("n").sum()]
        if not self.by:
            return frame.select(totals)
        return frame.group_by([name for name, _ in self.by]).agg(totals).sort([name for name, _ in self.by])


def _empty(table: str) -> pl.LazyFrame:
    from newretail.tables import polars_schema

    return pl.LazyFrame(schema=polars_schema(table)).with_columns(weight=pl.lit(1.0, dtype=pl.Float64))


def _partials_of_file(path: str, fraction: float, queries: list[PartialQuery]) -> list[pl.DataFrame]:
    """Every query of one table on one partition file (the task a worker runs; the file is read once)."""
    lf = pl.scan_parquet(path).with_columns(weight=pl.lit(1.0 / fraction, dtype=pl.Float64))
    frames = pl.collect_all([q.on(lf) for q in queries], engine="streaming")
    return list(frames)


def _run(
    ds: Dataset, queries: list[PartialQuery], mapper: Callable[..., Iterable[list[pl.DataFrame]]]
) -> dict[PartialQuery, pl.DataFrame]:
    by_table: dict[str, list[PartialQuery]] = {}
    for q in queries:
        by_table.setdefault(q.table, []).append(q)
    out: dict[PartialQuery, pl.DataFrame] = {}
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
    queries: list[PartialQuery],
    *,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int = 2,
) -> dict[PartialQuery, pl.DataFrame]:
    """Run partial queries partition by partition and combine them.

    Parameters
    ----------
    dataset : a dataset or its folder (on storage the Dask workers share, with ``engine="dask"``).
    queries : the aggregations, see :class:`PartialQuery`.
    engine : ``"local"`` (one partition after another in this process) or ``"dask"`` (one task per file).
    scheduler : Dask scheduler address; without one a ``LocalCluster`` of ``workers`` processes is started.
    workers : processes of that LocalCluster.
    """
    ds = dataset if isinstance(dataset, Dataset) else open_dataset(dataset)
    if engine not in ENGINES:
        raise ValueError(f"engine = {engine!r}: must be one of {', '.join(ENGINES)}")
    if engine == "local":

        def local(paths: list[str], fractions: list[float], qs: list[PartialQuery]) -> Iterable[list[pl.DataFrame]]:
            return (_partials_of_file(p, f, qs) for p, f in zip(paths, fractions, strict=True))

        return _run(ds, queries, local)
    from newretail.generate.distributed import dask_client

    with ExitStack() as stack:
        client = dask_client(stack, workers=workers, scheduler=scheduler)

        def on_dask(paths: list[str], fractions: list[float], qs: list[PartialQuery]) -> Iterable[list[pl.DataFrame]]:
            futures = client.map(_partials_of_file, paths, fractions, [qs] * len(paths), pure=False)
            return client.gather(futures)

        return _run(ds, queries, on_dask)


# ----------------------------------------------------------------------------------------------------------------
# the claims


def _group_key(cluster: pl.Expr) -> tuple[tuple[str, pl.Expr], ...]:
    return (("_group", (cluster % GROUPS).cast(pl.Int64)),)


def _groups(frame: pl.DataFrame, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Random-group totals as arrays of GROUPS (groups without rows are zeros), as intervals.group_totals gives."""
    full = pl.DataFrame({"_group": np.arange(GROUPS, dtype=np.int64)}).join(frame, on="_group", how="left")
    return {name: full[name].fill_null(0.0).to_numpy().astype(np.float64) for name in names}


def _poisson(n: float, w: float) -> Estimate:
    weight = w / n if n else 0.0
    _, low, high = poisson_interval(int(n), alpha=ALPHA)
    return Estimate(n * weight, float(low) * weight, float(high) * weight)


def _nan() -> Estimate:
    return Estimate(math.nan, math.nan, math.nan)


def _ctr_sums() -> tuple[tuple[str, pl.Expr], ...]:
    """The banner sums of the CTR ratio (in :func:`newretail.analyses.banners.ctr_ratio_clustered`'s order), plus
    the weighted AI impressions."""
    ai, clicked = pl.col("creative_source") == "ai", pl.col("clicked")
    return (
        ("ai_n", ai),
        ("ai_k", ai & clicked),
        ("hu_n", ~ai),
        ("hu_k", ~ai & clicked),
        ("ai_w", ai * pl.col("weight")),
    )


def _queries(radius_km: float) -> dict[str, PartialQuery]:
    w = pl.col("weight")
    p, c = pl.col("personalized"), pl.col("converted")
    bot, human = pl.col("handled_by") == "bot", pl.col("handled_by") == "human"
    return {
        "orders": PartialQuery(
            "orders",
            by=_group_key(pl.coalesce(pl.col("user_id"), pl.col("order_id"))),
            sums=(
                ("orders", w),
                ("parcel", w * pl.col("parcel_delivery")),
                ("gmv", w * pl.col("gmv_usd")),
                ("gmv_rmb", w * pl.col("gmv_rmb")),
                ("mobile_gmv", w * pl.col("gmv_usd") * (pl.col("device") == "mobile")),
            ),
        ),
        "store_orders": PartialQuery(
            "orders",
            where=(pl.col("channel") == "store") & (pl.col("distance_km") <= radius_km),
            rows=("store_id", "delivery_min"),
        ),
        "baseline": PartialQuery(
            "baseline_orders", by=_group_key(pl.col("visit_id")), sums=(("gmv", pl.col("gmv_usd") * w),)
        ),
        "visits": PartialQuery(
            "visits",
            by=_group_key(pl.col("user_id")),
            sums=(
                ("visits_p", w * p),
                ("visits_o", w * ~p),
                ("pages_p", w * p * pl.col("n_pages")),
                ("conv_p", w * (p & c)),
                ("conv_o", w * (~p & c)),
            ),
        ),
        "banners": PartialQuery(
            "banner_impressions",
            by=(("creative_source", pl.col("creative_source").cast(pl.String)),),
            sums=(("clicks", pl.col("clicked")), ("w", w)),
        ),
        **{
            f"banner_{name}": PartialQuery("banner_impressions", by=_group_key(key), sums=_ctr_sums())
            for name, key in (
                ("shopper", pl.col("user_id")),
                ("design", pl.col("design_id")),
                ("both", pl.col("user_id") * 7919 + pl.col("design_id")),
                ("row", pl.col("impression_id")),
            )
        },
        "inquiries": PartialQuery(
            "inquiries", by=(("handled_by", pl.col("handled_by").cast(pl.String)),), sums=(("w", w),)
        ),
        "inquiry_groups": PartialQuery(
            "inquiries",
            by=_group_key(pl.col("user_id")),  # clusters: shoppers (bursts of repeat inquiries)
            sums=(
                ("n_bot", bot),
                ("conc_bot", bot * pl.col("concurrent_sessions")),
                ("handle_bot", bot * pl.col("handle_s")),
                ("n_human", human),
                ("handle_human", human * pl.col("handle_s")),
                ("w_bot", w * bot),
                ("w_all", w),
            ),
        ),
        "stores": PartialQuery("stores", sums=(("pilot", pl.col("pilot")),)),
        "store_kinds": PartialQuery(
            "stores", where=(pl.col("store_type") == "hema") | pl.col("pilot"), rows=("store_id", "store_type", "pilot")
        ),
    }


def _row(frame: pl.DataFrame, key: str, value: str) -> dict[str, float]:
    found = frame.filter(pl.col(key) == value)
    return {k: float(v) for k, v in found.row(0, named=True).items() if k != key} if found.height else {}


def _delivery(minutes: np.ndarray) -> Estimate:
    if minutes.size < 20:
        return _nan()
    value, low, high = quantile_interval(minutes, q=DELIVERY_QUANTILE, alpha=ALPHA)
    return Estimate(value, low, high)


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
    radius = float(sc.targets.hema_radius_km)
    q = _queries(radius)
    res = partition_totals(ds, list(q.values()), engine=engine, scheduler=scheduler, workers=workers)
    r = {name: res[query] for name, query in q.items()}
    out: dict[str, Estimate] = {}

    orders = _groups(r["orders"], ("orders", "parcel", "gmv", "gmv_rmb", "mobile_gmv"))
    out["gmv_usd"] = total_interval(orders["gmv"])
    out["gmv_rmb"] = total_interval(orders["gmv_rmb"])
    out["payment_transactions"] = total_interval(orders["orders"])
    out["delivery_orders"] = total_interval(orders["parcel"])
    out["mobile_gmv_share"] = ratio_interval(orders["mobile_gmv"], orders["gmv"])
    growth = ratio_interval(orders["gmv"], _groups(r["baseline"], ("gmv",))["gmv"])
    out["gmv_yoy_growth"] = Estimate(growth.value - 1.0, growth.ci_low - 1.0, growth.ci_high - 1.0)

    v = _groups(r["visits"], ("visits_p", "visits_o", "pages_p", "conv_p", "conv_o"))
    out["personalized_pages"] = total_interval(v["pages_p"])
    if reading == "rate":
        out["personalized_page_conversion"] = ratio_interval(v["conv_p"], v["visits_p"])
    else:

        def lift(cp: np.ndarray, vp: np.ndarray, co: np.ndarray, vo: np.ndarray, axis: int = -1) -> np.ndarray:
            return (cp.sum(axis=axis) / vp.sum(axis=axis)) / (co.sum(axis=axis) / vo.sum(axis=axis)) - 1.0

        samples = (v["conv_p"], v["visits_p"], v["conv_o"], v["visits_o"])
        low, high = bootstrap_interval(samples, lift)
        out["personalized_page_conversion"] = Estimate(float(lift(*samples)), float(low[0]), float(high[0]))

    ai, human = _row(r["banners"], "creative_source", "ai"), _row(r["banners"], "creative_source", "human")
    ctr_names = ("ai_n", "ai_k", "hu_n", "hu_k")
    banner = {k: _groups(r[f"banner_{k}"], (*ctr_names, "ai_w")) for k in ("shopper", "design", "both", "row")}
    out["ai_banners"] = total_interval(banner["shopper"]["ai_w"])
    ai_n, ai_k, hu_n, hu_k = ai.get("n", 0.0), ai.get("clicks", 0.0), human.get("n", 0.0), human.get("clicks", 0.0)
    if min(ai_n, hu_n, ai_k, hu_k) <= 0:
        out["ai_banner_ctr_ratio"] = _nan()
    else:
        sub = {k: {n: banner[k][n] for n in ctr_names} for k in banner}
        out["ai_banner_ctr_ratio"] = multiway_interval(
            {"shopper": sub["shopper"], "design": sub["design"]},
            ratio_of_ctrs,
            intersections={"shopper x design": sub["both"]},
            iid=sub["row"],
            log=True,
        ).estimate

    n_all = float(r["inquiries"]["n"].sum())
    g = _groups(r["inquiry_groups"], ("n_bot", "conc_bot", "handle_bot", "n_human", "handle_human", "w_bot", "w_all"))
    out["chatbot_inquiries"] = total_interval(g["w_bot"])
    out["chatbot_share"] = _nan() if n_all == 0 else ratio_interval(g["w_bot"], g["w_all"])
    occupancy = sc.behaviour.chatbot.human_occupancy

    def ratio(nb: np.ndarray, cb: np.ndarray, hb: np.ndarray, nh: np.ndarray, hh: np.ndarray, axis: int = -1) -> Any:
        bot_per_hour = (cb.sum(axis=axis) / nb.sum(axis=axis)) * 3600.0 / (hb.sum(axis=axis) / nb.sum(axis=axis))
        return bot_per_hour / (occupancy * 3600.0 / (hh.sum(axis=axis) / nh.sum(axis=axis)))

    if g["n_bot"].sum() == 0 or g["n_human"].sum() == 0:
        out["chatbot_efficiency_ratio"] = _nan()
    else:
        inq = (g["n_bot"], g["conc_bot"], g["handle_bot"], g["n_human"], g["handle_human"])
        low, high = bootstrap_interval(inq, ratio)
        out["chatbot_efficiency_ratio"] = Estimate(float(ratio(*inq)), float(low[0]), float(high[0]))

    pilots = float(r["stores"]["pilot"][0])
    out["sanjiang_pilot_stores"] = Estimate(pilots, pilots, pilots)
    kinds, store_orders = r["store_kinds"], r["store_orders"]
    for claim, chosen in (
        ("hema_delivery_minutes", kinds.filter(pl.col("store_type") == "hema")),
        ("sanjiang_delivery_minutes", kinds.filter(pl.col("pilot"))),
    ):
        minutes = store_orders.join(chosen.select("store_id"), on="store_id", how="semi")["delivery_min"].to_numpy()
        out[claim] = _delivery(minutes)
    return {claim: out[claim] for claim in PARTIAL_IDS}
