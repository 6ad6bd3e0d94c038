"""The sales day's gross merchandise value: its total and growth, its course over 24 hours, the midnight rush,
and which of visitors, conversion and order value carries the growth over the 2016 event.

Every quantity is a weighted sum over sampled tables (``weight`` = rows of the full event a row stands for), read
with streaming polars queries. Intervals are 95% bootstrap intervals over random groups of users (2017) and of
visits (2016), see :mod:`newretail.methods.resampling`. Money is in USD unless a name says RMB; times are minutes or
seconds since the event's local midnight.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.resampling import (
    GROUPS,
    Estimate,
    bootstrap_interval,
    group_totals,
    ratio_interval,
    total_interval,
)
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "GrowthDecomposition",
    "MidnightSpike",
    "Timeline",
    "decompose_growth",
    "gmv_total",
    "midnight_spike",
    "timeline",
    "yoy_growth",
]

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
MINUTES = 1440
SPIKE_WINDOW_S = 3600  # the midnight-rush model is fitted to the first hour
COMPONENTS = ("visits", "conversion", "order_value")
CURRENCIES = ("usd", "rmb")


def _order_cluster() -> pl.Expr:
    """Cluster of an order: its buyer (online orders), or the order itself (store orders have no buyer)."""
    return pl.coalesce(pl.col("user_id"), pl.col("order_id"))


def _check_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise ValueError(f"currency = {currency!r}: must be one of {', '.join(CURRENCIES)}")
    return f"gmv_{currency}"


def gmv_total(ds: Dataset, *, currency: str = "usd", groups: int = GROUPS) -> Estimate:
    """GMV of the day (all orders, online and store-fulfilled), in USD or RMB, with its 95% interval.

    Parameters
    ----------
    ds : the dataset.
    currency : ``"usd"`` or ``"rmb"`` (the orders' own RMB values, at the day's exchange rate).
    groups : random groups of buyers for the interval.
    """
    column = _check_currency(currency)
    totals = group_totals(
        ds.scan("orders", weights=True),
        cluster=_order_cluster(),
        sums={"gmv": pl.col(column) * pl.col("weight")},
        groups=groups,
    )
    return total_interval(totals["gmv"])


def _baseline_gmv_groups(ds: Dataset, groups: int) -> np.ndarray:
    return group_totals(
        ds.scan("baseline_orders", weights=True),
        cluster=pl.col("visit_id"),
        sums={"gmv": pl.col("gmv_usd") * pl.col("weight")},
        groups=groups,
    )["gmv"]


def yoy_growth(ds: Dataset, *, groups: int = GROUPS) -> Estimate:
    """Growth of GMV (USD) over the 2016 event: GMV 2017 / GMV 2016 - 1, with its 95% interval.

    The 2017 and 2016 samples are independent; their random groups are paired arbitrarily for the bootstrap.
    """
    g17 = group_totals(
        ds.scan("orders", weights=True),
        cluster=_order_cluster(),
        sums={"gmv": pl.col("gmv_usd") * pl.col("weight")},
        groups=groups,
    )["gmv"]
    g16 = _baseline_gmv_groups(ds, groups)
    est = ratio_interval(g17, g16)
    return Estimate(est.value - 1.0, est.ci_low - 1.0, est.ci_high - 1.0)


# ----------------------------------------------------------------------------------------------------------------
# the day minute by minute


@dataclass(frozen=True)
class Timeline:
    """GMV minute by minute over the day, the 2016 event beside it, and the milestones of cumulative GMV.

    ``per_minute`` has one row per minute (``minute`` 0 to 1439): ``gmv_usd``, ``gmv_rmb``, ``orders`` (full-scale
    estimates for that minute), ``cum_gmv_usd``, and the 2016 event's ``gmv_usd_2016`` and ``cum_gmv_usd_2016``.
    ``milestones`` has ``label``, ``amount_usd`` and ``minute`` (minutes after midnight when cumulative GMV first
    reached the amount, interpolated within the minute; null if never reached).
    """

    per_minute: pl.DataFrame
    milestones: pl.DataFrame
    total_usd: float
    total_rmb: float
    total_usd_2016: float
    first_minute_usd: float  # GMV in the first minute after midnight, USD
    mean_minute_usd: float  # the day's mean GMV per minute, USD
    first_hour_share: float  # share of the day's GMV placed in the first hour
    peak_hour: int  # hour of day (0-23) with the most GMV outside the first hour

    @property
    def spike_ratio(self) -> float:
        """GMV of the first minute over the day's mean minute."""
        return self.first_minute_usd / self.mean_minute_usd

    def plot(self) -> Figure:
        """GMV per minute (USD, RMB on the right axis) over the day, 2017 against 2016, with the first hour
        magnified."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        df = self.per_minute.with_columns(hour=pl.col("minute") / 60.0)
        long = pl.concat(
            [
                df.select("hour", "minute", usd_m=pl.col("gmv_usd") / 1e6, event=pl.lit("2017")),
                df.select("hour", "minute", usd_m=pl.col("gmv_usd_2016") / 1e6, event=pl.lit("2016")),
            ]
        ).to_pandas()
        fx = self.total_rmb / self.total_usd
        with sns.axes_style("whitegrid"):
            fig, (ax, zoom) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[2.2, 1])
            sns.lineplot(data=long, x="hour", y="usd_m", hue="event", ax=ax, linewidth=0.8, palette=["C0", "0.6"])
            ax.set(xlabel="hour of the day", ylabel="GMV per minute (USD million)", xlim=(0, 24))
            ax.set_xticks(range(0, 25, 3))
            right = ax.secondary_yaxis("right", functions=(lambda u: u * fx, lambda r: r / fx))
            right.set_ylabel("RMB million")
            first = long[long["minute"] < 60]
            sns.lineplot(
                data=first,
                x="minute",
                y="usd_m",
                hue="event",
                ax=zoom,
                linewidth=1.0,
                palette=["C0", "0.6"],
                legend=False,
                marker=".",
            )
            zoom.set(xlabel="minutes after midnight", ylabel="", title="the first hour")
            fig.tight_layout()
        return fig

    def plot_cumulative(self) -> Figure:
        """Cumulative GMV over the day (USD billion), 2017 against 2016, with the milestones marked."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        df = self.per_minute.with_columns(hour=(pl.col("minute") + 1) / 60.0)
        long = pl.concat(
            [
                df.select("hour", bn=pl.col("cum_gmv_usd") / 1e9, event=pl.lit("2017")),
                df.select("hour", bn=pl.col("cum_gmv_usd_2016") / 1e9, event=pl.lit("2016")),
            ]
        ).to_pandas()
        with sns.axes_style("whitegrid"):
            fig, ax = plt.subplots(figsize=(7, 3.8))
            sns.lineplot(data=long, x="hour", y="bn", hue="event", ax=ax, palette=["C0", "0.6"])
            for row in self.milestones.drop_nulls("minute").iter_rows(named=True):
                h = row["minute"] / 60.0
                ax.plot([h], [row["amount_usd"] / 1e9], "o", color="C3", markersize=4)
                ax.annotate(
                    f"{row['label']}\n{_clock(row['minute'])}",
                    (h, row["amount_usd"] / 1e9),
                    textcoords="offset points",
                    xytext=(6, -14),
                    fontsize=7,
                )
            ax.set(xlabel="hour of the day", ylabel="cumulative GMV (USD billion)", xlim=(0, 24))
            ax.set_xticks(range(0, 25, 3))
            fig.tight_layout()
        return fig


def _clock(minute: float) -> str:
    """Minutes after midnight as hh:mm."""
    whole = math.floor(minute)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _per_minute(lf: pl.LazyFrame, columns: dict[str, pl.Expr]) -> pl.DataFrame:
    minute = (pl.col("ts_us") // US_PER_MIN).clip(0, MINUTES - 1).cast(pl.Int32).alias("minute")
    found = lf.group_by(minute).agg(**columns).collect(engine="streaming")
    grid = pl.DataFrame({"minute": np.arange(MINUTES, dtype=np.int32)})
    return grid.join(found, on="minute", how="left").fill_null(0.0).sort("minute")


def _crossing_minute(cumulative: np.ndarray, amount: float) -> float | None:
    """First time (minutes, interpolated within the minute) a per-minute cumulative series reaches ``amount``."""
    index = int(np.searchsorted(cumulative, amount, side="left"))
    if index >= cumulative.size:
        return None
    before = cumulative[index - 1] if index > 0 else 0.0
    step = cumulative[index] - before
    return float(index + ((amount - before) / step if step > 0 else 0.0))


def timeline(ds: Dataset, *, milestones_usd: tuple[float, ...] | None = None) -> Timeline:
    """GMV minute by minute and its milestones.

    Parameters
    ----------
    ds : the dataset.
    milestones_usd : cumulative amounts (USD) whose time of crossing to report; by default the round powers of ten
        between 1% and 100% of the day's GMV, and the whole 2016 event's GMV.
    """
    w = pl.col("weight")
    day = _per_minute(
        ds.scan("orders", weights=True),
        {
            "gmv_usd": (pl.col("gmv_usd") * w).sum(),
            "gmv_rmb": (pl.col("gmv_rmb") * w).sum(),
            "orders": w.sum(),
        },
    )
    base = _per_minute(ds.scan("baseline_orders", weights=True), {"gmv_usd_2016": (pl.col("gmv_usd") * w).sum()})
    per_minute = day.join(base, on="minute").with_columns(
        cum_gmv_usd=pl.col("gmv_usd").cum_sum(), cum_gmv_usd_2016=pl.col("gmv_usd_2016").cum_sum()
    )
    total = float(per_minute["gmv_usd"].sum())
    total16 = float(per_minute["gmv_usd_2016"].sum())
    if total <= 0:
        raise ValueError(f"{ds.path}: the orders table holds no GMV")
    if milestones_usd is None:
        powers = [10.0**k for k in range(0, 16) if 0.01 * total <= 10.0**k < total]
        labels = [f"USD {_money(a)}" for a in powers] + ["all of 2016"]
        amounts = [*powers, total16]
    else:
        if any(not (math.isfinite(a) and a > 0) for a in milestones_usd):
            raise ValueError(f"milestones_usd = {milestones_usd!r}: amounts must be positive numbers (USD)")
        amounts = list(milestones_usd)
        labels = [f"USD {_money(a)}" for a in amounts]
    cumulative = per_minute["cum_gmv_usd"].to_numpy()
    milestones = pl.DataFrame(
        {
            "label": labels,
            "amount_usd": amounts,
            "minute": [_crossing_minute(cumulative, a) for a in amounts],
        },
        schema={"label": pl.String, "amount_usd": pl.Float64, "minute": pl.Float64},
    ).sort("amount_usd")
    gmv = per_minute["gmv_usd"].to_numpy()
    hourly = gmv.reshape(24, 60).sum(axis=1)
    return Timeline(
        per_minute=per_minute,
        milestones=milestones,
        total_usd=total,
        total_rmb=float(per_minute["gmv_rmb"].sum()),
        total_usd_2016=total16,
        first_minute_usd=float(gmv[0]),
        mean_minute_usd=total / MINUTES,
        first_hour_share=float(hourly[0] / total),
        peak_hour=int(np.argmax(hourly[1:]) + 1),
    )


def _money(amount: float) -> str:
    """USD amounts in words: 1e9 -> '1 billion'."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if amount >= size:
            return f"{amount / size:g} {word}"
    return f"{amount:g}"


# ----------------------------------------------------------------------------------------------------------------
# the midnight rush, second by second


@dataclass(frozen=True)
class MidnightSpike:
    """The rush just after midnight: a model of orders and payments per second fitted to the first hour.

    Orders per second follow ``A exp(-t / tau) + exp(g0 + g1 t / 3600 s)`` (a decaying rush over a slowly changing
    base), fitted by Poisson maximum likelihood to the online orders' per-second counts; payments per second are
    that curve convolved with the observed distribution of the delay from order to payment. Peaks are rates at full
    scale (rows per second of the whole event); intervals come from the fit's Fisher information (delta method on
    the log scale), with the delay distribution taken as known (it is measured on every sampled order).
    """

    peak_orders_per_second: Estimate
    peak_payments_per_second: Estimate
    decay_min: Estimate  # e-folding time of the rush, minutes
    peak_payment_second: float  # seconds after midnight when payments per second peak
    per_second: pl.DataFrame  # second, orders, payments (observed, full scale), orders_fit, payments_fit
    weight: float  # rows of the full event per sampled online order

    def plot(self, *, bin_s: int = 10) -> Figure:
        """Observed orders and payments per second in the first 30 minutes (in bins of ``bin_s`` seconds) with the
        fitted curves, at full scale (thousands per second)."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        if bin_s < 1:
            raise ValueError(f"bin_s = {bin_s}: must be a whole number of seconds, at least 1")
        first = self.per_second.filter(pl.col("second") < 1800)
        binned = (
            first.group_by((pl.col("second") // bin_s).alias("bin"))
            .agg(pl.col("orders").mean(), pl.col("payments").mean())
            .sort("bin")  # group_by's order varies between runs; plots must not
            .with_columns(minute=(pl.col("bin") * bin_s + bin_s / 2) / 60.0)
            .unpivot(index="minute", on=["orders", "payments"], variable_name="series", value_name="per_s")
            .with_columns(pl.col("per_s") / 1e3)
            .to_pandas()
        )
        with sns.axes_style("whitegrid"):
            fig, ax = plt.subplots(figsize=(7, 3.6))
            sns.scatterplot(data=binned, x="minute", y="per_s", hue="series", s=10, alpha=0.6, ax=ax)
            minutes = (first["second"].to_numpy() + 0.5) / 60.0
            ax.plot(minutes, first["orders_fit"].to_numpy() / 1e3, color="C0", label="orders, fitted")
            ax.plot(minutes, first["payments_fit"].to_numpy() / 1e3, color="C1", label="payments, fitted")
            ax.set(xlabel="minutes after midnight", ylabel="per second (thousands, full scale)")
            ax.legend(fontsize=8)
            fig.tight_layout()
        return fig


def _spike_design(theta: np.ndarray, seconds: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Expected count per one-second bin and its Jacobian in (log A, log tau, g0, g1)."""
    a, log_tau, g0, g1 = theta
    amp, tau = np.exp(a), np.exp(log_tau)
    e0, e1 = np.exp(-seconds / tau), np.exp(-(seconds + 1.0) / tau)
    spike = amp * tau * (e0 - e1)  # integral of A exp(-t/tau) over the second
    x = (seconds + 0.5) / window
    base = np.exp(g0 + g1 * x)
    d_tau = amp * tau * ((e0 - e1) + (seconds * e0 - (seconds + 1.0) * e1) / tau)
    jac = np.column_stack([spike, d_tau, base, base * x])
    return spike + base, jac


def _rate_at(theta: np.ndarray, t: float, window: float) -> float:
    a, log_tau, g0, g1 = theta
    return float(np.exp(a - t / np.exp(log_tau)) + np.exp(g0 + g1 * t / window))


def _fit_spike(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson maximum likelihood of the rush model; returns the parameters and their covariance."""
    from scipy import optimize

    seconds = np.arange(counts.size, dtype=np.float64)
    window = float(counts.size)
    tail = max(float(counts[-counts.size // 4 :].mean()), 1e-3)
    head = max(float(counts[:60].mean()) - tail, 1e-3)
    start = np.array([np.log(head), np.log(180.0), np.log(tail), 0.0])

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mu, jac = _spike_design(theta, seconds, window)
        mu = np.maximum(mu, 1e-300)
        return float(np.sum(mu - counts * np.log(mu))), jac.T @ (1.0 - counts / mu)

    bounds = [(-30.0, 30.0), (np.log(1.0), np.log(10.0 * window)), (-30.0, 30.0), (-20.0, 20.0)]
    res = optimize.minimize(nll, start, jac=True, method="L-BFGS-B", bounds=bounds)
    mu, jac = _spike_design(res.x, seconds, window)
    info = jac.T @ (jac / np.maximum(mu, 1e-300)[:, None])
    return res.x, np.linalg.pinv(info)


def _delta_log_interval(fn: Callable[[np.ndarray], float], theta: np.ndarray, cov: np.ndarray) -> Estimate:
    """Value of a positive function of the parameters and its 95% interval by the delta method on the log scale."""
    from scipy import stats

    value = float(fn(theta))
    step = 1e-5
    grad = np.array(
        [(np.log(fn(theta + step * e)) - np.log(fn(theta - step * e))) / (2 * step) for e in np.eye(theta.size)]
    )
    se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
    z = float(stats.norm.ppf(0.975))
    return Estimate(value, value * math.exp(-z * se), value * math.exp(z * se))


def midnight_spike(ds: Dataset, *, window_s: int = SPIKE_WINDOW_S) -> MidnightSpike:
    """Fit the midnight rush and estimate peak orders and payments per second at full scale.

    Parameters
    ----------
    ds : the dataset.
    window_s : seconds after midnight the model is fitted to (default one hour).
    """
    if not (isinstance(window_s, int) and 300 <= window_s <= 6 * 3600):
        raise ValueError(f"window_s = {window_s!r}: must be a whole number of seconds from 300 to 21600")
    online = ds.scan("orders", weights=True).filter(pl.col("channel") == "online")
    grid = pl.DataFrame({"second": np.arange(window_s, dtype=np.int64)})

    def per_second(column: str) -> pl.DataFrame:
        found = (
            online.filter(pl.col(column) < window_s * US_PER_S)
            .group_by((pl.col(column) // US_PER_S).alias("second"))
            .agg(n=pl.len(), w=pl.col("weight").sum())
            .collect(engine="streaming")
        )
        return grid.join(found, on="second", how="left").fill_null(0).sort("second")

    orders, payments = per_second("ts_us"), per_second("paid_ts_us")
    n_rows = int(orders["n"].sum())
    if n_rows < 20:
        raise ValueError(f"{ds.path}: only {n_rows} online orders in the first {window_s} s; generate a larger scale")
    weight = float(orders["w"].sum()) / n_rows
    # delay from the order's second to the payment's second, over every sampled online order
    delays = (
        online.select(lag=(pl.col("paid_ts_us") // US_PER_S - pl.col("ts_us") // US_PER_S).clip(0, window_s))
        .group_by("lag")
        .agg(n=pl.len())
        .collect(engine="streaming")
    )
    pmf = np.zeros(window_s + 1)
    pmf[delays["lag"].to_numpy()] = delays["n"].to_numpy()
    pmf = pmf[:window_s] / pmf.sum()

    counts = orders["n"].to_numpy().astype(np.float64)
    theta, cov = _fit_spike(counts)
    seconds = np.arange(window_s, dtype=np.float64)
    window = float(window_s)

    def pay_curve(th: np.ndarray) -> np.ndarray:
        mu, _ = _spike_design(th, seconds, window)
        return np.convolve(mu, pmf)[:window_s]

    def peak_orders(th: np.ndarray) -> float:
        return weight * _rate_at(th, 0.5, window)

    def peak_payments(th: np.ndarray) -> float:
        return weight * float(pay_curve(th).max())

    orders_fit, _ = _spike_design(theta, seconds, window)
    payments_fit = pay_curve(theta)
    table = pl.DataFrame(
        {
            "second": orders["second"],
            "orders": orders["w"].cast(pl.Float64),
            "payments": payments["w"].cast(pl.Float64),
            "orders_fit": orders_fit * weight,
            "payments_fit": payments_fit * weight,
        }
    )
    return MidnightSpike(
        peak_orders_per_second=_delta_log_interval(peak_orders, theta, cov),
        peak_payments_per_second=_delta_log_interval(peak_payments, theta, cov),
        decay_min=_delta_log_interval(lambda th: float(np.exp(th[1]) / 60.0), theta, cov),
        peak_payment_second=float(np.argmax(payments_fit) + 0.5),
        per_second=table,
        weight=weight,
    )


# ----------------------------------------------------------------------------------------------------------------
# growth over 2016: visitors x conversion x order value


@dataclass(frozen=True)
class GrowthDecomposition:
    """Online GMV = visits x conversion (orders per visit) x average order value, 2016 against 2017.

    ``table`` has one row per component (``visits``, ``conversion``, ``order_value``, then ``gmv``):
    ``value_2016``, ``value_2017`` (full-scale visits, orders per visit, USD per order, USD), ``ratio``
    (2017 over 2016) with ``ratio_ci_low``/``ratio_ci_high``, and ``log_share`` (the component's share of the log
    growth; the three shares add up to 1) with ``share_ci_low``/``share_ci_high``. Store-fulfilled orders, which
    have no visit, are left out; ``store_gmv_share`` says how much of the day's GMV that is.
    """

    table: pl.DataFrame
    carried_by: str  # the component with the largest share of the growth
    growth: Estimate  # online GMV 2017 / 2016 - 1
    store_gmv_share: float
    implied_gmv_2016_usd: float  # the 2016 GMV implied by the scenario's targets: gmv_usd / (1 + gmv_yoy_growth)

    def plot(self) -> Figure:
        """Left: each component's 2017/2016 ratio; right: its share of the log growth; both with 95% intervals."""
        import matplotlib.pyplot as plt
        import seaborn as sns

        df = self.table.to_pandas()
        comps = df[df["component"] != "gmv"]
        with sns.axes_style("whitegrid"):
            fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
            sns.barplot(data=df, y="component", x="ratio", ax=left, color="C0", errorbar=None)
            left.errorbar(
                df["ratio"],
                range(len(df)),
                xerr=[df["ratio"] - df["ratio_ci_low"], df["ratio_ci_high"] - df["ratio"]],
                fmt="none",
                color="k",
                capsize=3,
            )
            left.axvline(1.0, color="0.3", linewidth=0.8)
            left.set(xlabel="2017 / 2016", ylabel="")
            sns.barplot(data=comps, y="component", x="log_share", ax=right, color="C2", errorbar=None)
            right.errorbar(
                comps["log_share"],
                range(len(comps)),
                xerr=[comps["log_share"] - comps["share_ci_low"], comps["share_ci_high"] - comps["log_share"]],
                fmt="none",
                color="k",
                capsize=3,
            )
            right.set(xlabel="share of the log growth", ylabel="")
            fig.tight_layout()
        return fig


def decompose_growth(ds: Dataset, *, groups: int = GROUPS) -> GrowthDecomposition:
    """Split the online GMV growth over 2016 into visits, conversion and average order value.

    The log growth ``log(G17 / G16)`` is the sum of the three components' log ratios, so each component's share
    is its log ratio over the log growth. Intervals: bootstrap over random groups of 2017 users and 2016 visits.
    """
    w = pl.col("weight")
    visits17 = group_totals(
        ds.scan("visits", weights=True), cluster=pl.col("user_id"), sums={"visits": w}, groups=groups
    )
    orders17 = group_totals(
        ds.scan("orders", weights=True).filter(pl.col("channel") == "online"),
        cluster=pl.col("user_id"),
        sums={"orders": w, "gmv": pl.col("gmv_usd") * w},
        groups=groups,
    )
    visits16 = group_totals(
        ds.scan("baseline_visits", weights=True), cluster=pl.col("visit_id"), sums={"visits": w}, groups=groups
    )
    orders16 = group_totals(
        ds.scan("baseline_orders", weights=True),
        cluster=pl.col("visit_id"),
        sums={"orders": w, "gmv": pl.col("gmv_usd") * w},
        groups=groups,
    )
    samples = (
        visits17["visits"],
        orders17["orders"],
        orders17["gmv"],
        visits16["visits"],
        orders16["orders"],
        orders16["gmv"],
    )

    def stat(v7: np.ndarray, o7: np.ndarray, g7: np.ndarray, v6: np.ndarray, o6: np.ndarray, g6: np.ndarray,
             axis: int = -1) -> np.ndarray:  # fmt: skip
        V7, O7, G7 = v7.sum(axis=axis), o7.sum(axis=axis), g7.sum(axis=axis)
        V6, O6, G6 = v6.sum(axis=axis), o6.sum(axis=axis), g6.sum(axis=axis)
        ratios = np.stack([V7 / V6, (O7 / V7) / (O6 / V6), (G7 / O7) / (G6 / O6), G7 / G6])
        log_growth = np.log(ratios[3])
        return np.concatenate([ratios, np.log(ratios[:3]) / log_growth])

    point = stat(*samples)
    low, high = bootstrap_interval(samples, stat)
    V7, O7, G7, V6, O6, G6 = (float(s.sum()) for s in samples)
    table = pl.DataFrame(
        {
            "component": [*COMPONENTS, "gmv"],
            "value_2016": [V6, O6 / V6, G6 / O6, G6],
            "value_2017": [V7, O7 / V7, G7 / O7, G7],
            "ratio": point[:4],
            "ratio_ci_low": low[:4],
            "ratio_ci_high": high[:4],
            "log_share": [*point[4:], 1.0],
            "share_ci_low": [*low[4:], 1.0],
            "share_ci_high": [*high[4:], 1.0],
        }
    )
    all_gmv = gmv_total(ds, groups=groups).value
    targets = ds.scenario.targets
    return GrowthDecomposition(
        table=table,
        carried_by=COMPONENTS[int(np.argmax(point[4:]))],
        growth=Estimate(float(point[3] - 1.0), float(low[3] - 1.0), float(high[3] - 1.0)),
        store_gmv_share=float(1.0 - G7 / all_gmv),
        implied_gmv_2016_usd=targets.gmv_usd / (1.0 + targets.gmv_yoy_growth),
    )
