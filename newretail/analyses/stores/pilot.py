"""Hema and the Sanjiang pilot: the delivery promise, how many households the catchments reach, and the offline-store
uplift of the pilot stores, estimated the way a careful analyst would and set against the generator's truth.

Distances are in km, times in minutes, sales in RMB per store and day; effects on sales are on the log scale
(0.08 is about +8%). The pilot starts on ``day`` 0, the event day.

- :func:`delivery_promise`: share of orders within the radius delivered within the promise, by fleet and hour.
- :func:`household_coverage`: households within the catchments; its ``plot`` draws the city map.
- :func:`store_panel`, :func:`pilot_synthetic_control`: the pilot's panel for :mod:`newretail.methods` (DiD,
  EventStudy, SyntheticControl), which estimate the uplift.
- :func:`net_uplift`: store uplift less the online orders the pilot's catchment moved into the stores.
- :func:`failure_modes`: the estimators on fresh cities where pilots were chosen on growth or where the pilot takes
  sales from nearby control stores, against the true effect.

The estimators read only observed tables (``stores``, ``store_days``, ``households``, ``orders``); the functions
that read ``truth_*`` say so in their name (:func:`pilot_truth`) or compare with the truth by design
(:func:`failure_modes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy import stats

from newretail.generate.city import simulate_city
from newretail.methods import DiD, SyntheticControl
from newretail.methods._panel_data import read_panel, twfe_fit
from newretail.scenario import Scenario
from newretail.tables import Dataset
from newretail.tables.categories import STORE_TYPES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Coverage",
    "DeliveryPromise",
    "FailureModes",
    "NetUplift",
    "PilotTruth",
    "delivery_promise",
    "failure_modes",
    "household_coverage",
    "net_uplift",
    "pilot_synthetic_control",
    "pilot_truth",
    "store_panel",
]

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


# ---------------------------------------------------------------------------------------------------------------
# the delivery promise


@dataclass(frozen=True)
class DeliveryPromise:
    """Delivery times of the store-fulfilled orders against the promise.

    ``table``: one row per fleet (``hema``; ``sanjiang pilot``) with the promise in minutes, orders within the
    radius, the share of them delivered within the promise (Wilson interval), and the 95th percentile of their
    delivery minutes (order-statistic interval), plus the on-time share of orders from beyond the radius.
    ``by_hour``: on-time share within the radius by hour of the day, with the hour's share of the day's orders.
    ``by_distance``: delivery minutes by 0.25 km distance band (median and 95th percentile).
    """

    radius_km: float
    table: pl.DataFrame
    by_hour: pl.DataFrame
    by_distance: pl.DataFrame

    def plot(self) -> Figure:
        """Two panels: on-time share by hour, and delivery minutes against distance with the promise."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
        colours = {"hema": "#1f77b4", "sanjiang pilot": "#d62728"}
        for fleet in FLEETS:
            h = self.by_hour.filter(pl.col("fleet") == fleet).sort("hour")
            hour = h["hour"].to_numpy()
            left.plot(hour, h["on_time_share"].to_numpy(), marker="o", ms=3, color=colours[fleet], label=fleet)
            left.fill_between(hour, h["ci_low"].to_numpy(), h["ci_high"].to_numpy(), color=colours[fleet], alpha=0.2)
            d = self.by_distance.filter(pl.col("fleet") == fleet).sort("distance_km")
            right.plot(d["distance_km"], d["p95_min"], color=colours[fleet], label=f"{fleet}: 95th percentile")
            right.plot(d["distance_km"], d["median_min"], color=colours[fleet], ls=":", label=f"{fleet}: median")
            promise = float(self.table.filter(pl.col("fleet") == fleet)["promise_min"][0])
            right.axhline(promise, color=colours[fleet], lw=0.8, ls="--")
        ax2 = left.twinx()
        load = self.by_hour.filter(pl.col("fleet") == "hema").sort("hour")
        ax2.bar(load["hour"], load["order_share"], color="grey", alpha=0.25, width=0.8)
        ax2.set_ylabel("share of the day's orders")
        left.set_zorder(ax2.get_zorder() + 1)
        left.patch.set_visible(False)
        left.axhline(0.95, color="black", lw=0.8, ls="--")
        left.set(xlabel="hour of the day", ylabel="delivered within the promise", xlim=(-0.5, 23.5))
        left.set_title(f"On-time share, orders within {self.radius_km:g} km")
        left.legend(loc="lower left", fontsize=8)
        right.axvline(self.radius_km, color="black", lw=0.8)
        right.set(xlabel="straight-line distance, km", ylabel="delivery time, min")
        right.set_title("Delivery time by distance (dashed: the promise)")
        right.legend(fontsize=7, loc="upper left")
        return fig


def _wilson(successes: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    from newretail.methods.intervals import proportion_interval

    _, low, high = proportion_interval(successes, np.maximum(n, 1), alpha=alpha)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def delivery_promise(ds: Dataset, *, radius_km: float | None = None, alpha: float = 0.05) -> DeliveryPromise:
    """Share of store-fulfilled orders within ``radius_km`` (default: the scenario's ``hema_radius_km``) delivered
    within the promise (``hema_delivery_minutes`` for Hema, ``sanjiang_delivery_minutes`` for the pilot stores),
    with ``1 - alpha`` intervals. Minutes, km."""
    _check_alpha(alpha)
    t = ds.scenario.targets
    radius = t.hema_radius_km if radius_km is None else float(radius_km)
    if not radius > 0:
        raise ValueError(f"radius_km = {radius_km!r}: must be a positive distance in km")
    fleet = (
        pl.when(pl.col("store_type") == "hema")
        .then(pl.lit(FLEETS[0]))
        .when(pl.col("pilot"))
        .then(pl.lit(FLEETS[1]))
        .otherwise(None)
    )
    promise = (
        pl.when(pl.col("store_type") == "hema").then(t.hema_delivery_minutes).otherwise(t.sanjiang_delivery_minutes)
    )
    orders = (
        ds.scan("orders")
        .filter(pl.col("channel") == "store")
        .select("store_id", "ts_us", "distance_km", "delivery_min")
        .join(ds.scan("stores").select("store_id", "store_type", "pilot"), on="store_id")
        .with_columns(fleet=fleet, promise_min=promise)
        .filter(pl.col("fleet").is_not_null())
        .with_columns(
            inside=pl.col("distance_km") <= radius,
            on_time=pl.col("delivery_min") <= pl.col("promise_min"),
            hour=(pl.col("ts_us") // 3_600_000_000).clip(0, 23).cast(pl.Int32),
        )
        .collect()
    )
    rows = []
    for name in FLEETS:
        f = orders.filter(pl.col("fleet") == name)
        inside = f.filter("inside")
        outside = f.filter(~pl.col("inside"))
        n_in = inside.height
        if n_in < 20:
            raise ValueError(f"{name}: only {n_in} orders within {radius:g} km; cannot judge the promise")
        hits = int(inside["on_time"].sum())
        low, high = _wilson(np.array([hits]), np.array([n_in]), alpha)
        minutes = inside["delivery_min"].to_numpy()
        q = stats.quantile_test(minutes, q=float(np.quantile(minutes, 0.95)), p=0.95)
        ci = q.confidence_interval(confidence_level=1 - alpha)
        rows.append(
            {
                "fleet": name,
                "promise_min": float(f["promise_min"][0]),
                "orders_within": n_in,
                "on_time_share": hits / n_in,
                "ci_low": float(low[0]),
                "ci_high": float(high[0]),
                "p95_min": float(np.quantile(minutes, 0.95)),
                "p95_ci_low": float(ci.low),
                "p95_ci_high": float(ci.high),
                "orders_beyond": outside.height,
                "on_time_share_beyond": _mean(outside["on_time"]) if outside.height else float("nan"),
            }
        )
    by_hour = (
        orders.filter("inside")
        .group_by("fleet", "hour")
        .agg(orders=pl.len(), on_time=pl.col("on_time").sum(), mean_delivery_min=pl.col("delivery_min").mean())
        .with_columns(
            on_time_share=pl.col("on_time") / pl.col("orders"),
            order_share=pl.col("orders") / pl.col("orders").sum().over("fleet"),
        )
        .sort("fleet", "hour")
    )
    low, high = _wilson(by_hour["on_time"].to_numpy(), by_hour["orders"].to_numpy(), alpha)
    by_hour = by_hour.with_columns(ci_low=pl.Series(low), ci_high=pl.Series(high))
    by_distance = (
        orders.with_columns(distance_km=((pl.col("distance_km") / 0.25).floor() * 0.25 + 0.125))
        .group_by("fleet", "distance_km")
        .agg(
            orders=pl.len(),
            median_min=pl.col("delivery_min").median(),
            p95_min=pl.col("delivery_min").quantile(0.95, interpolation="linear"),
        )
        .filter(pl.col("orders") >= 20)
        .sort("fleet", "distance_km")
    )
    return DeliveryPromise(radius, pl.DataFrame(rows), by_hour, by_distance)


# ---------------------------------------------------------------------------------------------------------------
# households and catchments


@dataclass(frozen=True)
class Coverage:
    """Households within ``radius_km`` of a store, by catchment.

    ``table``: one row per catchment (Hema stores, the pilot stores, all Sanjiang stores, Hema or pilot), with the
    stores, the households covered and their share of the city's households. ``overlap_share``: of the households
    within a pilot's catchment, the share within two or more pilot catchments. ``stores`` and ``blocks`` keep what
    the map needs.
    """

    radius_km: float
    households: int
    table: pl.DataFrame
    overlap_share: float
    stores: pl.DataFrame = field(repr=False)
    blocks: pl.DataFrame = field(repr=False)

    def share(self, catchment: str) -> float:
        """Share of the city's households in ``catchment`` (a value of ``table["catchment"]``)."""
        row = self.table.filter(pl.col("catchment") == catchment)
        if row.height != 1:
            raise ValueError(f"catchment = {catchment!r}: must be one of {self.table['catchment'].to_list()}")
        return float(row["share"][0])

    def plot(self) -> Figure:
        """Map of the city: household density, stores by type, and the catchments of Hema and pilot stores."""
        import matplotlib.pyplot as plt
        from matplotlib.patches import Circle

        fig, ax = plt.subplots(figsize=(8.5, 6.6), constrained_layout=True)
        b = self.blocks
        hb = ax.hexbin(
            b["x_km"].to_numpy(),
            b["y_km"].to_numpy(),
            C=b["households"].to_numpy(),
            reduce_C_function=np.sum,
            gridsize=36,
            cmap="Greys",
            mincnt=1,
            linewidths=0.1,
        )
        fig.colorbar(hb, ax=ax, shrink=0.7, label="households per hexagon")
        style = {
            "hema": ("#1f77b4", "s", "Hema"),
            "sanjiang": ("#ff7f0e", "o", "Sanjiang (not in the pilot)"),
            "pilot": ("#d62728", "*", "Sanjiang pilot"),
            "other": ("#2ca02c", "^", "other supermarket"),
        }
        s = self.stores.with_columns(
            kind=pl.when(pl.col("pilot")).then(pl.lit("pilot")).otherwise(pl.col("store_type").cast(pl.String))
        )
        for kind, (colour, marker, label) in style.items():
            k = s.filter(pl.col("kind") == kind)
            ax.scatter(
                k["x_km"],
                k["y_km"],
                c=colour,
                marker=marker,
                s=90 if kind == "pilot" else 28,
                edgecolors="white",
                linewidths=0.5,
                label=label,
                zorder=3,
            )
            if kind in ("hema", "pilot"):
                for x, y in zip(k["x_km"].to_list(), k["y_km"].to_list(), strict=True):
                    ax.add_patch(Circle((x, y), self.radius_km, fill=False, ec=colour, lw=1.0, alpha=0.8, zorder=2))
        ax.set_aspect("equal")
        xs = np.concatenate([b["x_km"].to_numpy(), s["x_km"].to_numpy()])
        ys = np.concatenate([b["y_km"].to_numpy(), s["y_km"].to_numpy()])
        ax.set_xlim(min(0.0, xs.min()) - 1, xs.max() + 1)
        ax.set_ylim(min(0.0, ys.min()) - 1, ys.max() + 1)
        ax.set(xlabel="west-east, km", ylabel="south-north, km")
        ax.set_title(f"Stores, households and the {self.radius_km:g} km catchments of Hema and pilot stores")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4, fontsize=8, frameon=False)
        return fig


def household_coverage(source: Source, *, radius_km: float) -> Coverage:
    """Households within ``radius_km`` (km, straight line) of Hema stores, pilot stores and all Sanjiang stores."""
    if not (isinstance(radius_km, (int, float)) and radius_km > 0):
        raise ValueError(f"radius_km = {radius_km!r}: must be a positive distance in km")
    tb = _tables(source, ("stores", "households"))
    stores, blocks = tb["stores"], tb["households"]
    sx, sy = stores["x_km"].to_numpy(), stores["y_km"].to_numpy()
    bx, by = blocks["x_km"].to_numpy(), blocks["y_km"].to_numpy()
    hh = blocks["households"].to_numpy().astype(np.int64)
    within = np.hypot(sx[:, None] - bx[None, :], sy[:, None] - by[None, :]) <= radius_km  # stores x blocks
    kind = stores["store_type"].cast(pl.String).to_numpy()
    pilot = stores["pilot"].to_numpy()
    masks = {
        "Hema": kind == "hema",
        "Sanjiang pilot": pilot,
        "all Sanjiang": kind == "sanjiang",
        "Hema or pilot": (kind == "hema") | pilot,
    }
    total = int(hh.sum())
    rows = []
    for name, mask in masks.items():
        covered = within[mask].any(axis=0)
        rows.append(
            {
                "catchment": name,
                "stores": int(mask.sum()),
                "households_covered": int(hh[covered].sum()),
                "share": float(hh[covered].sum() / total),
            }
        )
    pilot_hits = within[pilot].sum(axis=0)
    in_pilot = int(hh[pilot_hits >= 1].sum())
    overlap = float(hh[pilot_hits >= 2].sum() / in_pilot) if in_pilot else float("nan")
    return Coverage(float(radius_km), total, pl.DataFrame(rows), overlap, stores, blocks)


# ---------------------------------------------------------------------------------------------------------------
# the pilot's store panel


def store_panel(
    source: Source,
    *,
    outcome: str = "sales_rmb",
    controls: Sequence[str] = ("sanjiang", "other"),
    buffer_km: float = 0.0,
) -> pl.DataFrame:
    """The pilot stores and their candidate controls, one row per store and day.

    Parameters
    ----------
    source : a dataset, or a mapping with ``stores`` and ``store_days`` frames.
    outcome : ``store_days`` column to analyse on the log scale (``sales_rmb``, ``transactions`` or
        ``catchment_online_rmb``); stores with a non-positive value on any day are left out.
    controls : store types whose non-pilot stores serve as controls.
    buffer_km : leave out controls within this distance (km) of a pilot store (a guard against spill-over).

    Returns
    -------
    Columns ``store_id``, ``day``, ``treated`` (the store is a pilot), ``pilot_open`` (a pilot store on day 0 or
    later: the treatment indicator of :class:`newretail.methods.DiD`), ``y`` (log of the outcome) and
    ``distance_to_pilot_km``.
    """
    allowed_outcomes = ("sales_rmb", "transactions", "catchment_online_rmb")
    if outcome not in allowed_outcomes:
        raise ValueError(f"outcome = {outcome!r}: must be one of {', '.join(allowed_outcomes)}")
    bad = [c for c in controls if c not in STORE_TYPES]
    if bad or not controls:
        raise ValueError(f"controls = {list(controls)!r}: must be a non-empty list of {', '.join(STORE_TYPES)}")
    if not buffer_km >= 0:
        raise ValueError(f"buffer_km = {buffer_km!r}: must be a distance in km, 0 or more")
    tb = _tables(source, ("stores", "store_days"))
    stores = tb["stores"]
    pilots = stores.filter("pilot")
    if pilots.height == 0:
        raise ValueError("source: no pilot store in the stores table")
    px, py = pilots["x_km"].to_numpy(), pilots["y_km"].to_numpy()
    dist = np.hypot(stores["x_km"].to_numpy()[:, None] - px, stores["y_km"].to_numpy()[:, None] - py).min(axis=1)
    stores = stores.with_columns(distance_to_pilot_km=pl.Series(dist))
    keep = pl.col("pilot") | (
        pl.col("store_type").cast(pl.String).is_in(list(controls)) & (pl.col("distance_to_pilot_km") > buffer_km)
    )
    chosen = stores.filter(keep).select(
        "store_id", treated=pl.col("pilot"), distance_to_pilot_km="distance_to_pilot_km"
    )
    panel = (
        tb["store_days"]
        .select("store_id", "day", pl.col(outcome).cast(pl.Float64).alias("value"))
        .join(chosen, on="store_id")
        .filter((pl.col("value") > 0).all().over("store_id"))
        .select(
            "store_id",
            "day",
            "treated",
            pilot_open=pl.col("treated") & (pl.col("day") >= 0),
            y=pl.col("value").log(),
            distance_to_pilot_km="distance_to_pilot_km",
        )
        .sort("store_id", "day")
    )
    if panel.filter("treated").height == 0 or panel.filter(~pl.col("treated")).height == 0:
        raise ValueError("store_panel: needs both pilot and control stores with a positive outcome")
    return panel


PILOT_UNIT = -1  # store_id of the pilots' average in :func:`pilot_synthetic_control`


def pilot_synthetic_control(
    panel: pl.DataFrame,
    *,
    design: str = "demeaned",
    placebos: int | str = "all",
    alpha: float = 0.05,
    random_state: int = 0,
) -> SyntheticControl:
    """Synthetic control of the pilot stores' average log outcome (one unit, ``store_id`` = ``PILOT_UNIT``) from
    the control stores of a :func:`store_panel`, the pilot starting on day 0; in-space placebos are single control
    stores (:class:`newretail.methods.SyntheticControl`). ``effect_`` is the mean gap on the log scale."""
    for column in ("store_id", "day", "treated", "y"):
        if column not in panel.columns:
            raise ValueError(f"panel: missing column {column!r}; build it with store_panel()")
    pilots = panel.filter("treated").group_by("day").agg(pl.col("y").mean())
    units = pl.concat(
        [
            pilots.select(pl.lit(PILOT_UNIT, pl.Int64).alias("store_id"), "day", "y"),
            panel.filter(~pl.col("treated")).select(pl.col("store_id").cast(pl.Int64), "day", "y"),
        ]
    )
    sc = SyntheticControl(
        "store_id", "day", "y", PILOT_UNIT, 0, design=design, placebos=placebos, alpha=alpha, random_state=random_state
    )
    return sc.fit(units)


# ---------------------------------------------------------------------------------------------------------------
# truth, for validation


@dataclass(frozen=True)
class PilotTruth:
    """The generator's truth about the pilot (read from ``truth_store_days``: for tests and validation only).

    effect_log: mean true effect on the pilots' log sales after day 0. extra_rmb: mean true extra sales per pilot
    store and day. online_effect_log: mean true effect on the log of the pilots' catchment online orders.
    online_lost_rmb: mean online orders per pilot catchment and day moved into the stores. spillover_stores: control
    stores exposed to spill-over.
    """

    effect_log: float
    extra_rmb: float
    online_effect_log: float
    online_lost_rmb: float
    spillover_stores: int

    @property
    def net_rmb(self) -> float:
        """Extra sales less the online orders they displaced, RMB per pilot store and day."""
        return self.extra_rmb - self.online_lost_rmb


def pilot_truth(source: Source) -> PilotTruth:
    """The true pilot effects of a dataset or simulated city (validation only: reads ``truth_store_days``)."""
    tb = _tables(source, ("stores", "truth_store_days"))
    truth = tb["truth_store_days"].join(tb["stores"].select("store_id", "pilot"), on="store_id")
    post = truth.filter(pl.col("pilot") & (pl.col("day") >= 0))
    return PilotTruth(
        effect_log=_mean(post["true_effect_log"]),
        extra_rmb=_mean(post["sales_rmb_without_pilot"] * (post["true_effect_log"].exp() - 1)),
        online_effect_log=_mean(post["true_online_effect_log"]),
        online_lost_rmb=_mean(post["catchment_online_rmb_without_pilot"] * (1 - post["true_online_effect_log"].exp())),
        spillover_stores=int(truth.filter(pl.col("spillover_exposed"))["store_id"].n_unique()),
    )


# ---------------------------------------------------------------------------------------------------------------
# cannibalisation: store uplift is not total uplift


@dataclass(frozen=True)
class NetUplift:
    """The pilot's store uplift, the online orders it displaced from the pilots' catchments, and the difference.

    ``table``: rows ``store uplift``, ``online orders displaced``, ``net uplift`` in RMB per pilot store and day,
    with ``1 - alpha`` intervals (delta method on a stacked difference-in-differences of log store sales and log
    catchment online orders, clustered by store). ``store_effect_log`` and ``online_effect_log`` are the two DiD
    effects; ``cannibalised_share`` is displaced over uplift.
    """

    table: pl.DataFrame
    store_effect_log: float
    online_effect_log: float
    cannibalised_share: float
    cannibalised_share_ci: tuple[float, float]
    online_controls: int

    def value(self, row: str) -> float:
        """The estimate of one row of ``table`` (RMB per pilot store and day)."""
        return float(self.table.filter(pl.col("quantity") == row)["estimate"][0])

    def plot(self, *, truth: PilotTruth | None = None) -> Figure:
        """Bars of store uplift, displaced online orders and net uplift, with intervals (and the truth)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6), constrained_layout=True)
        t = self.table
        x = np.arange(t.height)
        est = t["estimate"].to_numpy()
        ax.bar(x, est, color=["#1f77b4", "#ff7f0e", "#2ca02c"], alpha=0.8)
        ax.errorbar(
            x,
            est,
            yerr=[est - t["ci_low"].to_numpy(), t["ci_high"].to_numpy() - est],
            fmt="none",
            ecolor="black",
            capsize=4,
        )
        if truth is not None:
            values = [truth.extra_rmb, truth.online_lost_rmb, truth.net_rmb]
            ax.scatter(x, values, marker="D", color="#d62728", zorder=3, label="truth")
            ax.legend(fontsize=8)
        ax.set_xticks(x, t["quantity"].to_list())
        ax.set_ylabel("RMB per pilot store and day")
        ax.set_title(f"Store uplift less displaced online orders ({self.cannibalised_share:.0%} cannibalised)")
        return fig


def net_uplift(source: Source, *, radius_km: float, alpha: float = 0.05) -> NetUplift:
    """Store uplift, displaced online orders and net uplift of the pilot, RMB per pilot store and day.

    Store uplift: DiD of log sales, pilots against non-pilot Sanjiang and other supermarkets. Displaced online
    orders: DiD of log online grocery orders within ``radius_km`` of each store, pilots against stores whose
    catchment does not overlap a pilot's (farther than twice ``radius_km``). Both are fitted in one stacked
    regression clustered by store, so the net uplift's interval accounts for their covariance.
    """
    _check_alpha(alpha)
    sales = store_panel(source, outcome="sales_rmb")
    online = store_panel(source, outcome="catchment_online_rmb", buffer_km=2 * radius_km)
    # one regression for both outcomes: each store-outcome pair its own unit, each outcome its own day effects
    stacked = pl.concat(
        [
            frame.select(
                unit=pl.col("store_id").cast(pl.Int64) * 2 + k,
                time=pl.col("day").cast(pl.Int64) + k * 1_000_000,
                cluster=pl.col("store_id").cast(pl.Int64),
                y="y",
                d_sales=pl.col("pilot_open") & (k == 0),
                d_online=pl.col("pilot_open") & (k == 1),
            )
            for k, frame in enumerate((sales, online))
        ]
    )
    panel = read_panel(stacked, unit="unit", time="time", outcome="y", treated=None, cluster="cluster")
    x = stacked.select("d_sales", "d_online").to_numpy().astype(np.float64)[panel.order]
    fit = twfe_fit(panel, x)
    tau, delta = float(fit.coef[0]), float(fit.coef[1])
    cov = fit.cov
    crit = float(stats.t.ppf(1 - alpha / 2, fit.dof))

    d_s, d_o = sales["pilot_open"].to_numpy(), online["pilot_open"].to_numpy()
    lay_s_y, lay_o_y = sales["y"].to_numpy(), online["y"].to_numpy()
    sales_post = np.exp(lay_s_y[d_s])
    online_post = np.exp(lay_o_y[d_o])
    extra = float(np.mean(sales_post * (1 - np.exp(-tau))))
    lost = float(np.mean(online_post * (np.exp(-delta) - 1)))
    g_extra = np.array([np.mean(sales_post * np.exp(-tau)), 0.0])
    g_lost = np.array([0.0, -np.mean(online_post * np.exp(-delta))])
    rows = []
    for name, value, grad in (
        ("store uplift", extra, g_extra),
        ("online orders displaced", lost, g_lost),
        ("net uplift", extra - lost, g_extra - g_lost),
    ):
        se = float(np.sqrt(grad @ cov @ grad))
        rows.append({"quantity": name, "estimate": value, "ci_low": value - crit * se, "ci_high": value + crit * se})
    share = lost / extra if extra != 0 else float("nan")
    g_share = (g_lost * extra - g_extra * lost) / extra**2 if extra != 0 else np.zeros(2)
    se_share = float(np.sqrt(g_share @ cov @ g_share))
    return NetUplift(
        table=pl.DataFrame(rows),
        store_effect_log=tau,
        online_effect_log=delta,
        cannibalised_share=share,
        cannibalised_share_ci=(share - crit * se_share, share + crit * se_share),
        online_controls=int(online.filter(~pl.col("treated"))["store_id"].n_unique()),
    )


# ---------------------------------------------------------------------------------------------------------------
# failure modes on fresh cities


@dataclass(frozen=True)
class FailureModes:
    """Estimators of the pilot effect on fresh simulated cities under three designs, against the truth.

    ``draws``: one row per city, design and estimator (estimate, ci_low, ci_high, truth, covers).
    ``table``: per design and estimator, the mean estimate, its bias, the share of intervals covering the truth.
    """

    draws: pl.DataFrame
    table: pl.DataFrame

    def plot(self) -> Figure:
        """Each city's estimate and interval, by design and estimator, with the true effect."""
        import matplotlib.pyplot as plt

        designs = self.table["design"].unique(maintain_order=True).to_list()
        fig, axes = plt.subplots(
            1, len(designs), figsize=(4.2 * len(designs), 3.8), sharey=True, constrained_layout=True, squeeze=False
        )
        for ax, design in zip(axes[0], designs, strict=True):
            d = self.draws.filter(pl.col("design") == design)
            names = d["estimator"].unique(maintain_order=True).to_list()
            for i, name in enumerate(names):
                e = d.filter(pl.col("estimator") == name).sort("city")
                n = e.height
                offs = i + np.linspace(-0.3, 0.3, n) if n > 1 else np.array([float(i)])
                colours = np.where(e["covers"].to_numpy(), "#1f77b4", "#d62728")
                ax.vlines(offs, e["ci_low"], e["ci_high"], colors=colours, lw=0.8, alpha=0.7)
                ax.scatter(offs, e["estimate"], c=colours, s=8, zorder=3)
            truth = _mean(d["truth"])
            ax.axhline(truth, color="black", ls="--", lw=1)
            ax.axhline(0, color="grey", lw=0.6)
            ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
            ax.set_title(design, fontsize=10)
        axes[0][0].set_ylabel("pilot effect on log sales (dashed: truth)")
        from matplotlib.lines import Line2D

        handles = [
            Line2D([], [], color="#1f77b4", marker="o", ms=3, label="interval covers the truth"),
            Line2D([], [], color="#d62728", marker="o", ms=3, label="interval misses the truth"),
        ]
        axes[0][-1].legend(handles=handles, fontsize=8, loc="upper right")
        return fig


def _estimates(
    tables: Mapping[str, pl.DataFrame], design: str, *, placebos: int, seed: int, buffer_km: float
) -> list[dict[str, Any]]:
    panel = store_panel(tables)

    def did(frame: pl.DataFrame, *, trends: bool = False) -> tuple[float, tuple[float, float]]:
        fit = DiD("store_id", "day", "y", "pilot_open", unit_trends=trends).fit(frame)
        return fit.effect_, fit.ci_

    out = [("DiD", did(panel))]
    if design == "pilots chosen on growth":
        out.append(("DiD + store trends", did(panel, trends=True)))
    if design == "spill-over to nearby controls":
        out.append((f"DiD, {buffer_km:g} km buffer", did(store_panel(tables, buffer_km=buffer_km))))
    sc = pilot_synthetic_control(panel, placebos=placebos, random_state=seed)
    out.append(("synthetic control", (sc.effect_, sc.ci_)))
    return [{"estimator": name, "estimate": e, "ci_low": ci[0], "ci_high": ci[1]} for name, (e, ci) in out]


def failure_modes(
    scenario: Scenario,
    *,
    seed: int,
    cities: int = 10,
    selection: float = 1.0,
    spillover_effect: float = -0.08,
    spillover_radius_km: float = 5.0,
    placebos: int = 60,
) -> FailureModes:
    """Run the estimators on ``cities`` fresh cities drawn from ``scenario`` under three designs.

    Designs: ``random pilots`` (pilots drawn at random, no spill-over); ``pilots chosen on growth`` (selection on
    the stores' own sales trend set to ``selection``); ``spill-over to nearby controls`` (control stores within
    ``spillover_radius_km`` of a pilot change by ``spillover_effect``, log: the pilot draws customers from nearby
    supermarkets). Each city uses the same random stream
    under every design, so the designs differ only by the mechanism. Reads the simulated truth by design.
    """
    if not (isinstance(cities, int) and cities >= 1):
        raise ValueError(f"cities = {cities!r}: must be a whole number, 1 or more")
    if not 0.0 <= selection <= 1.0:
        raise ValueError(f"selection = {selection!r}: must be in [0, 1]")
    base = scenario.with_changes(
        {"behaviour.stores.pilot_selection_on_growth": 0.0, "behaviour.stores.spillover_effect": 0.0}
    )
    designs = {
        "random pilots": base,
        "pilots chosen on growth": base.with_changes({"behaviour.stores.pilot_selection_on_growth": selection}),
        "spill-over to nearby controls": base.with_changes(
            {
                "behaviour.stores.spillover_effect": spillover_effect,
                "behaviour.stores.spillover_radius_km": spillover_radius_km,
            }
        ),
    }
    t = scenario.targets
    rows: list[dict[str, Any]] = []
    for city in range(cities):
        for design, sc in designs.items():
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(city,)))
            s = sc.behaviour.stores
            tables = simulate_city(
                rng, s, pilot_stores=t.sanjiang_pilot_stores, radius_km=t.hema_radius_km, event_date=scenario.event_date
            )
            truth = pilot_truth(tables).effect_log
            estimates = _estimates(tables, design, placebos=placebos, seed=seed + city, buffer_km=s.spillover_radius_km)
            rows.extend({"city": city, "design": design, **r, "truth": truth} for r in estimates)
    draws = pl.DataFrame(rows).with_columns(
        covers=(pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))
    )
    table = draws.group_by("design", "estimator", maintain_order=True).agg(
        cities=pl.len(),
        mean_estimate=pl.col("estimate").mean(),
        truth=pl.col("truth").mean(),
        bias=(pl.col("estimate") - pl.col("truth")).mean(),
        coverage=pl.col("covers").mean(),
        mean_ci_width=(pl.col("ci_high") - pl.col("ci_low")).mean(),
    )
    return FailureModes(draws, table)
