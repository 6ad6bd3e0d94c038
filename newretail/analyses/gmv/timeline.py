"""The day minute by minute: cumulative GMV and the clock times it crosses the milestones."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.gmv.totals import MINUTES, US_PER_MIN

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
