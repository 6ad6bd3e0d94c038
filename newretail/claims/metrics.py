"""How each claim is computed from the generated tables: one function per claim, each a streaming polars query
followed by a 95% interval from :mod:`newretail.methods`.

Every function takes a :class:`Context` (the dataset, the targets it is judged against and the definition
parameters) and returns a :class:`Measured`. Queries shared by several claims run once per evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from newretail.analyses import banners, gmv
from newretail.methods.intervals import poisson_interval, proportion_interval, quantile_interval
from newretail.methods.intervals import ratio_interval as ratio_interval_counts
from newretail.methods.resampling import (
    CONFIDENCE,
    Estimate,
    bootstrap_interval,
    group_totals,
    ratio_interval,
    total_interval,
)
from newretail.tables import Dataset

ALPHA = 1.0 - CONFIDENCE
DELIVERY_QUANTILE = 0.95
RANDOM_GROUPS = 100  # random groups of clusters for the cluster-robust variances


@dataclass
class Context:
    """What a claim's computation may use: the dataset, the targets it is judged against, definition parameters,
    and a per-evaluation cache of shared queries."""

    ds: Dataset
    targets: dict[str, float]
    conversion_reading: str
    human_occupancy: float
    cache: dict[str, Any] = field(default_factory=dict)
    iid: bool = False  # compute every interval as if rows were independent (the coverage study's naive intervals)

    def cluster(self, clustered: pl.Expr, row: pl.Expr) -> pl.Expr:
        """The random-group key: the claim's cluster, or the row's own key under ``iid``."""
        return row if self.iid else clustered

    def once(self, key: str, compute: Callable[[], Any]) -> Any:
        """Run ``compute`` the first time ``key`` is asked for, then reuse its result."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@dataclass(frozen=True)
class Measured:
    """A claim's reproduced value and interval, with a short data-dependent note and named side figures."""

    estimate: Estimate
    note: str = ""
    details: dict[str, float] = field(default_factory=dict)


def _words(count: float) -> str:
    """A large count in words: 3.68e6 -> '3.68 million'."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if abs(count) >= size:
            return f"{count / size:.3g} {word}"
    return f"{count:.3g}"


def _mean_weight(lf: pl.LazyFrame) -> tuple[int, float]:
    """Rows and the mean weight of a (filtered) scan; rows of one table share one sampling fraction."""
    out = lf.select(n=pl.len(), w=pl.col("weight").sum()).collect(engine="streaming")
    n, w = int(out["n"][0]), float(out["w"][0] or 0.0)
    return n, (w / n if n else 0.0)


def _poisson_count(lf: pl.LazyFrame) -> Estimate:
    """Full-scale count of rows drawn as a Poisson number of independent rows: exact (Garwood) interval of the
    sampled count, scaled by the weight."""
    n, weight = _mean_weight(lf)
    _, low, high = poisson_interval(n, alpha=ALPHA)
    return Estimate(n * weight, float(low) * weight, float(high) * weight)


# ----------------------------------------------------------------------------------------------------------------
# GMV


def gmv_usd(ctx: Context) -> Measured:
    if ctx.iid:
        return Measured(total_interval(_order_groups(ctx)["gmv"]))
    est = ctx.once("gmv_usd", lambda: gmv.gmv_total(ctx.ds, currency="usd"))
    return Measured(est)


def _yoy_iid(ctx: Context) -> Estimate:
    g16 = group_totals(
        ctx.ds.scan("baseline_orders", weights=True),
        cluster=pl.col("visit_id"),
        sums={"gmv": pl.col("gmv_usd") * pl.col("weight")},
    )["gmv"]
    g17 = _order_groups(ctx)["gmv"]

    def growth(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(a, axis=axis) / np.sum(b, axis=axis) - 1.0

    low, high = bootstrap_interval((g17, g16), growth)
    return Estimate(float(g17.sum() / g16.sum() - 1.0), float(low[0]), float(high[0]))


def gmv_yoy_growth(ctx: Context) -> Measured:
    est = _yoy_iid(ctx) if ctx.iid else gmv.yoy_growth(ctx.ds)
    implied = ctx.targets["gmv_usd"] / (1.0 + ctx.targets["gmv_yoy_growth"])
    return Measured(
        est,
        note=f"the targets imply a 2016 GMV of USD {implied / 1e9:.3g} billion",
        details={"implied_gmv_2016_usd": implied},
    )


def gmv_rmb(ctx: Context) -> Measured:
    est = gmv.gmv_total(ctx.ds, currency="rmb")
    usd = ctx.once("gmv_usd", lambda: gmv.gmv_total(ctx.ds, currency="usd")).value
    rate = est.value / usd
    press, report = ctx.targets["gmv_rmb"], ctx.targets["gmv_usd"]
    return Measured(
        est,
        note=(
            f"the report's USD {report / 1e9:.3g} billion at the day's {rate:.3g} RMB/USD is RMB "
            f"{report * rate / 1e9:.4g} billion; the press figure is {press / (report * rate) - 1:+.1%} off it and "
            f"implies {press / report:.4g} RMB/USD"
        ),
        details={"fx_rmb_per_usd": rate, "implied_fx_rmb_per_usd": press / report},
    )


def _spike(ctx: Context) -> gmv.MidnightSpike:
    return ctx.once("spike", lambda: gmv.midnight_spike(ctx.ds))


def peak_orders_per_second(ctx: Context) -> Measured:
    spike = _spike(ctx)
    return Measured(
        spike.peak_orders_per_second,
        note=f"fitted rush decays with an e-folding time of {spike.decay_min.value:.3g} min",
        details={"decay_min": spike.decay_min.value},
    )


def peak_payments_per_second(ctx: Context) -> Measured:
    spike = _spike(ctx)
    return Measured(
        spike.peak_payments_per_second,
        note=f"payments peak {spike.peak_payment_second:.0f} s after midnight",
        details={"peak_payment_second": spike.peak_payment_second},
    )


# ----------------------------------------------------------------------------------------------------------------
# orders (press rows)


def _order_groups(ctx: Context) -> dict[str, np.ndarray]:
    w = pl.col("weight")
    return ctx.once(
        "order_groups",
        lambda: group_totals(
            ctx.ds.scan("orders", weights=True),
            cluster=ctx.cluster(pl.coalesce(pl.col("user_id"), pl.col("order_id")), pl.col("order_id")),
            sums={
                "orders": w,
                "parcel": w * pl.col("parcel_delivery"),
                "gmv": w * pl.col("gmv_usd"),
                "mobile_gmv": w * pl.col("gmv_usd") * (pl.col("device") == "mobile"),
            },
        ),
    )


def payment_transactions(ctx: Context) -> Measured:
    return Measured(total_interval(_order_groups(ctx)["orders"]))


def delivery_orders(ctx: Context) -> Measured:
    g = _order_groups(ctx)
    share = float(g["parcel"].sum() / g["orders"].sum())
    return Measured(total_interval(g["parcel"]), note=f"{share:.1%} of all orders", details={"share": share})


def mobile_gmv_share(ctx: Context) -> Measured:
    g = _order_groups(ctx)
    return Measured(ratio_interval(g["mobile_gmv"], g["gmv"]))


# ----------------------------------------------------------------------------------------------------------------
# banners


def _banner_counts(ctx: Context) -> dict[str, float]:
    def compute() -> dict[str, float]:
        out = (
            ctx.ds.scan("banner_impressions", weights=True)
            .group_by("creative_source")
            .agg(n=pl.len(), clicks=pl.col("clicked").sum(), w=pl.col("weight").sum())
            .collect(engine="streaming")
        )
        counts: dict[str, float] = {}
        for row in out.iter_rows(named=True):
            counts[f"{row['creative_source']}_n"] = float(row["n"])
            counts[f"{row['creative_source']}_clicks"] = float(row["clicks"])
            counts[f"{row['creative_source']}_w"] = float(row["w"])
        return counts

    return ctx.once("banners", compute)


def ai_banners(ctx: Context) -> Measured:
    ai = ctx.ds.scan("banner_impressions", weights=True).filter(pl.col("creative_source") == "ai")
    if ctx.iid:
        est = _poisson_count(ai)
    else:  # impressions come in bursts from one shopper: the count is over-dispersed, bootstrap whole shoppers
        est = total_interval(group_totals(ai, cluster=pl.col("user_id"), sums={"n": pl.col("weight")})["n"])
    c = _banner_counts(ctx)
    total = c.get("ai_w", 0.0) + c.get("human_w", 0.0)
    share = c.get("ai_w", 0.0) / total if total else math.nan
    return Measured(
        est,
        note=f"{share:.0%} of {_words(total)} banner impressions carried an AI creative",
        details={"banner_impressions": total, "ai_share": share},
    )


def ai_banner_ctr_ratio(ctx: Context) -> Measured:
    c = _banner_counts(ctx)
    ai_n, ai_k = c.get("ai_n", 0.0), c.get("ai_clicks", 0.0)
    hu_n, hu_k = c.get("human_n", 0.0), c.get("human_clicks", 0.0)
    if min(ai_n, hu_n, ai_k, hu_k) <= 0:
        return Measured(Estimate(math.nan, math.nan, math.nan), note="no clicks on one of the two kinds of creative")
    ctr_ai, ctr_human = ai_k / ai_n, hu_k / hu_n
    details = {"ctr_ai": ctr_ai, "ctr_human": ctr_human}
    if ctx.iid:
        ratio, low, high = ratio_interval_counts(ai_k, ai_n, hu_k, hu_n, method="katz", alpha=ALPHA)
        est = Estimate(float(ratio), float(low), float(high))
    else:  # clicks depend within a shopper and within a design: two-way cluster-robust variance
        res = banners.ctr_ratio_clustered(ctx.ds, groups=RANDOM_GROUPS)
        est = res.estimate
        details["design_effect"] = res.design_effect
    return Measured(
        est, note=f"CTR {ctr_ai:.2%} (AI) against {ctr_human:.2%} (human), not adjusted for placement", details=details
    )


# ----------------------------------------------------------------------------------------------------------------
# personalized pages


def _visit_groups(ctx: Context) -> dict[str, np.ndarray]:
    w = pl.col("weight")
    p, c = pl.col("personalized"), pl.col("converted")
    return ctx.once(
        "visit_groups",
        lambda: group_totals(
            ctx.ds.scan("visits", weights=True),
            cluster=ctx.cluster(pl.col("user_id"), pl.col("visit_id")),
            sums={
                "visits_p": w * p,
                "visits_o": w * ~p,
                "pages_p": w * p * pl.col("n_pages"),
                "conv_p": w * (p & c),
                "conv_o": w * (~p & c),
            },
        ),
    )


def personalized_pages(ctx: Context) -> Measured:
    g = _visit_groups(ctx)
    per_visit = float(g["pages_p"].sum() / g["visits_p"].sum())
    return Measured(
        total_interval(g["pages_p"]),
        note=f"{per_visit:.3g} pages per personalized visit",
        details={"pages_per_personalized_visit": per_visit, "personalized_visits": float(g["visits_p"].sum())},
    )


def personalized_page_conversion(ctx: Context) -> Measured:
    g = _visit_groups(ctx)
    rate_p = float(g["conv_p"].sum() / g["visits_p"].sum())
    rate_o = float(g["conv_o"].sum() / g["visits_o"].sum())
    per_page = float(g["conv_p"].sum() / g["pages_p"].sum())
    details = {"conversion_personalized": rate_p, "conversion_other": rate_o, "orders_per_personalized_page": per_page}
    if ctx.conversion_reading == "rate":
        est = ratio_interval(g["conv_p"], g["visits_p"])
        note = f"read as a rate per visit; other visits convert at {rate_o:.1%}; per page view it is {per_page:.2%}"
    else:

        def lift(cp: np.ndarray, vp: np.ndarray, co: np.ndarray, vo: np.ndarray, axis: int = -1) -> np.ndarray:
            return (cp.sum(axis=axis) / vp.sum(axis=axis)) / (co.sum(axis=axis) / vo.sum(axis=axis)) - 1.0

        samples = (g["conv_p"], g["visits_p"], g["conv_o"], g["visits_o"])
        low, high = bootstrap_interval(samples, lift)
        est = Estimate(float(lift(*samples)), float(low[0]), float(high[0]))
        note = f"read as a lift: personalized visits convert at {rate_p:.1%}, others at {rate_o:.1%}"
    return Measured(est, note=note, details=details)


# ----------------------------------------------------------------------------------------------------------------
# chatbot


def chatbot_inquiries(ctx: Context) -> Measured:
    bot = ctx.ds.scan("inquiries", weights=True).filter(pl.col("handled_by") == "bot")
    if ctx.iid:
        est = _poisson_count(bot)
    else:  # shoppers write in bursts (gamma-Poisson): the count is over-dispersed, bootstrap whole shoppers
        est = total_interval(group_totals(bot, cluster=pl.col("user_id"), sums={"n": pl.col("weight")})["n"])
    share = ctx.targets["chatbot_share"]
    return Measured(
        est,
        note=f"with the {share:.0%} share, all inquiries would be {_words(ctx.targets['chatbot_inquiries'] / share)}",
    )


def chatbot_share(ctx: Context) -> Measured:
    out = (
        ctx.ds.scan("inquiries", weights=True)
        .select(n=pl.len(), bot=(pl.col("handled_by") == "bot").sum(), w=pl.col("weight").n_unique())
        .collect(engine="streaming")
    )
    n, bot = int(out["n"][0]), int(out["bot"][0])
    if int(out["w"][0]) > 1 or not ctx.iid:  # weighted rows, or repeat inquiries: bootstrap whole shoppers
        w = pl.col("weight")
        g = group_totals(
            ctx.ds.scan("inquiries", weights=True),
            cluster=ctx.cluster(pl.col("user_id"), pl.col("inquiry_id")),
            sums={"bot": w * (pl.col("handled_by") == "bot"), "all": w},
        )
        return Measured(ratio_interval(g["bot"], g["all"]))
    if n == 0:
        return Measured(Estimate(math.nan, math.nan, math.nan), note="no inquiries")
    share, low, high = proportion_interval(bot, n, alpha=ALPHA)
    return Measured(Estimate(share, float(low), float(high)))


def chatbot_efficiency_ratio(ctx: Context) -> Measured:
    bot, human = pl.col("handled_by") == "bot", pl.col("handled_by") == "human"
    g = group_totals(
        ctx.ds.scan("inquiries", weights=True),
        cluster=ctx.cluster(pl.col("user_id"), pl.col("inquiry_id")),
        sums={
            "n_bot": bot,
            "conc_bot": bot * pl.col("concurrent_sessions"),
            "handle_bot": bot * pl.col("handle_s"),
            "n_human": human,
            "handle_human": human * pl.col("handle_s"),
        },
    )
    occupancy = ctx.human_occupancy

    def ratio(
        nb: np.ndarray, cb: np.ndarray, hb: np.ndarray, nh: np.ndarray, hh: np.ndarray, axis: int = -1
    ) -> np.ndarray:
        bot_per_hour = (cb.sum(axis=axis) / nb.sum(axis=axis)) * 3600.0 / (hb.sum(axis=axis) / nb.sum(axis=axis))
        human_per_hour = occupancy * 3600.0 / (hh.sum(axis=axis) / nh.sum(axis=axis))
        return bot_per_hour / human_per_hour

    samples = (g["n_bot"], g["conc_bot"], g["handle_bot"], g["n_human"], g["handle_human"])
    if g["n_bot"].sum() == 0 or g["n_human"].sum() == 0:
        return Measured(Estimate(math.nan, math.nan, math.nan), note="no bot or no human inquiries")
    low, high = bootstrap_interval(samples, ratio)
    concurrency = float(g["conc_bot"].sum() / g["n_bot"].sum())
    human_per_hour = occupancy * 3600.0 / float(g["handle_human"].sum() / g["n_human"].sum())
    return Measured(
        Estimate(float(ratio(*samples)), float(low[0]), float(high[0])),
        note=(
            f"a bot instance holds {concurrency:.0f} conversations at once; an agent handles "
            f"{human_per_hour:.1f} inquiries per paid hour at {occupancy:.0%} occupancy"
        ),
        details={"bot_concurrency": concurrency, "human_inquiries_per_hour": human_per_hour},
    )


# ----------------------------------------------------------------------------------------------------------------
# stores


def _delivery_p95(ctx: Context, stores: pl.Expr, what: str) -> Measured:
    radius = ctx.targets["hema_radius_km"]
    chosen = ctx.ds.scan("stores").filter(stores).select("store_id")
    minutes = (
        ctx.ds.scan("orders")
        .filter((pl.col("channel") == "store") & (pl.col("distance_km") <= radius))
        .join(chosen, on="store_id", how="semi")
        .select("delivery_min")
        .collect(engine="streaming")["delivery_min"]
        .to_numpy()
    )
    if minutes.size < 20:
        return Measured(Estimate(math.nan, math.nan, math.nan), note=f"only {minutes.size} {what} orders in range")
    value, low, high = quantile_interval(minutes, q=DELIVERY_QUANTILE, alpha=ALPHA)
    within = float(np.mean(minutes <= ctx.targets[f"{what}_delivery_minutes"]))
    return Measured(
        Estimate(value, low, high),
        note=f"{minutes.size} orders within {radius:g} km; {within:.1%} delivered within the promise",
        details={"orders": float(minutes.size), "share_within_promise": within},
    )


def hema_delivery_minutes(ctx: Context) -> Measured:
    return _delivery_p95(ctx, pl.col("store_type") == "hema", "hema")


def sanjiang_delivery_minutes(ctx: Context) -> Measured:
    return _delivery_p95(ctx, pl.col("pilot"), "sanjiang")


def sanjiang_pilot_stores(ctx: Context) -> Measured:
    out = ctx.ds.scan("stores").select(pl.col("pilot").sum()).collect(engine="streaming")
    n = float(out["pilot"][0])
    return Measured(Estimate(n, n, n), note="the stores table lists every store: the count is exact")
