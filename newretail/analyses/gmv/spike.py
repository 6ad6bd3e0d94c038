"""The midnight rush, second by second: a peak-and-decay rate model fitted to the first hour's orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.bursts import burst_counts, burst_rate, fit_burst
from newretail.methods.resampling import Estimate
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.gmv.totals import SPIKE_WINDOW_S, US_PER_S

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


def _fit_spike(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rush model's parameters and their covariance (:func:`newretail.methods.bursts.fit_burst`)."""
    fit = fit_burst(counts)
    return fit.params, fit.cov


def _rate_at(theta: np.ndarray, t: float, window: float) -> float:
    """Orders per second at ``t`` seconds after midnight under the rush model (sampled scale)."""
    return burst_rate(theta, t, window_s=window)


def _estimate(interval: tuple[float, float, float]) -> Estimate:
    return Estimate(*interval, method="Poisson MLE, delta method on the log scale, 95%")


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

    fit = fit_burst(orders["n"].to_numpy().astype(np.float64))

    def pay_curve(th: np.ndarray) -> np.ndarray:
        return np.convolve(burst_counts(th, window_s), pmf)[:window_s]

    def peak_orders(th: np.ndarray) -> float:
        return weight * burst_rate(th, 0.5, window_s=float(window_s))

    def peak_payments(th: np.ndarray) -> float:
        return weight * float(pay_curve(th).max())

    orders_fit = fit.expected
    payments_fit = pay_curve(fit.params)
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
        peak_orders_per_second=_estimate(fit.interval(peak_orders)),
        peak_payments_per_second=_estimate(fit.interval(peak_payments)),
        decay_min=_estimate(fit.interval(lambda th: float(np.exp(th[1]) / 60.0))),
        peak_payment_second=float(np.argmax(payments_fit) + 0.5),
        per_second=table,
        weight=weight,
    )
