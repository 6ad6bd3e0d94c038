"""Lu Ban's banners: reading the impressions, counting clicks and the interval helpers shared by the ratio, novelty
and A/B modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from newretail.methods.intervals import proportion_interval, ratio_interval
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


TABLE = "banner_impressions"
TRUTH = "truth_banner_impressions"
COLUMNS = ("creative_source", "placement", "brand_id", "ts_us", "exposure_index", "clicked")
GROUPABLE = ("placement", "brand_id", "hour", "exposure_index")
US_PER_HOUR = 3_600_000_000
RatioMethod = Literal["log", "fieller"]
_METHODS: dict[str, Literal["katz", "fieller"]] = {"log": "katz", "fieller": "fieller"}  # names in methods
Impressions = Dataset | pl.LazyFrame | pl.DataFrame

AI_COLOR = "#d95f02"
HUMAN_COLOR = "#1b9e77"


# ----------------------------------------------------------------------------------------------------------------
# inputs and counting


def _impressions(data: Impressions) -> pl.LazyFrame:
    """The impressions as a lazy frame with an ``hour`` column (0-23), whatever the caller passed."""
    if isinstance(data, Dataset):
        lf = data.scan(TABLE)
    elif isinstance(data, pl.DataFrame):
        lf = data.lazy()
    elif isinstance(data, pl.LazyFrame):
        lf = data
    else:
        raise ValueError(f"data: expected a Dataset or a polars frame of {TABLE}, got {type(data).__name__}")
    names = lf.collect_schema().names()
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise ValueError(f"data: the {TABLE} frame lacks column(s) {', '.join(missing)}")
    hour = (pl.col("ts_us") // US_PER_HOUR).clip(0, 23).cast(pl.Int8)
    return lf.with_columns(hour=hour)


def _check_by(by: Sequence[str]) -> tuple[str, ...]:
    if isinstance(by, str):
        by = (by,)
    bad = [b for b in by if b not in GROUPABLE]
    if bad:
        raise ValueError(f"by: {', '.join(map(repr, bad))} not allowed; group by any of {', '.join(GROUPABLE)}")
    return tuple(by)


def _check_alpha(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha = {alpha!r}: must be in (0, 1), e.g. 0.05 for 95% intervals")
    return float(alpha)


def _counts(lf: pl.LazyFrame, by: Sequence[str]) -> pl.DataFrame:
    """Impressions and clicks of AI and human creatives per group (one row when ``by`` is empty)."""
    ai = pl.col("creative_source") == "ai"
    human = pl.col("creative_source") == "human"
    aggs = [
        ai.sum().cast(pl.Int64).alias("ai_impressions"),
        (ai & pl.col("clicked")).sum().cast(pl.Int64).alias("ai_clicks"),
        human.sum().cast(pl.Int64).alias("human_impressions"),
        (human & pl.col("clicked")).sum().cast(pl.Int64).alias("human_clicks"),
    ]
    if not by:
        return lf.select(aggs).collect()
    return lf.group_by(list(by)).agg(aggs).sort(list(by)).collect()


def _ratio_interval(
    a_clicks: np.ndarray,
    a_n: np.ndarray,
    h_clicks: np.ndarray,
    h_n: np.ndarray,
    *,
    alpha: float,
    method: RatioMethod,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ratio of two independent proportions and its interval per group (:func:`newretail.methods.ratio_interval`);
    NaN for groups without impressions of one kind."""
    if method not in ("log", "fieller"):
        raise ValueError(f"method = {method!r}: must be 'log' (delta method) or 'fieller'")
    a_clicks, a_n = np.asarray(a_clicks, float), np.asarray(a_n, float)
    h_clicks, h_n = np.asarray(h_clicks, float), np.asarray(h_n, float)
    ratio, low, high = np.full(a_n.shape, np.nan), np.full(a_n.shape, np.nan), np.full(a_n.shape, np.nan)
    seen = (a_n > 0) & (h_n > 0)
    if seen.any():
        ratio[seen], low[seen], high[seen] = ratio_interval(
            a_clicks[seen], a_n[seen], h_clicks[seen], h_n[seen], method=_METHODS[method], alpha=alpha
        )
    return ratio, low, high


def _proportion(clicks: np.ndarray, n: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval of clicks per impression per group (:func:`newretail.methods.proportion_interval`); NaN
    where a group has no impressions."""
    clicks, n = np.asarray(clicks, float), np.asarray(n, float)
    low, high = np.full(n.shape, np.nan), np.full(n.shape, np.nan)
    seen = n > 0
    if seen.any():
        _, low[seen], high[seen] = proportion_interval(clicks[seen], n[seen], alpha=alpha)
    return low, high


def _with_ratio(counts: pl.DataFrame, *, alpha: float, method: RatioMethod) -> pl.DataFrame:
    ratio, low, high = _ratio_interval(
        counts["ai_clicks"].to_numpy(),
        counts["ai_impressions"].to_numpy(),
        counts["human_clicks"].to_numpy(),
        counts["human_impressions"].to_numpy(),
        alpha=alpha,
        method=method,
    )
    return counts.with_columns(
        ai_ctr=pl.col("ai_clicks") / pl.col("ai_impressions"),
        human_ctr=pl.col("human_clicks") / pl.col("human_impressions"),
        ai_share=pl.col("ai_impressions") / (pl.col("ai_impressions") + pl.col("human_impressions")),
        ratio=pl.Series(ratio),
        ci_low=pl.Series(low),
        ci_high=pl.Series(high),
    ).fill_nan(None)


def _single(table: pl.DataFrame, column: str, what: str) -> float:
    if table.height != 1:
        raise ValueError(f"{what} has {table.height} rows (grouped); read .table instead of a single value")
    value = table[column][0]
    return float("nan") if value is None else float(value)


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis with plain numbers (0.5, 1, 2, 5) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _axes(ax: Axes | None, *, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is not None:
        fig = ax.get_figure()
        assert fig is not None  # an Axes always belongs to a figure
        return fig, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _exposure_bucket(cap: int) -> pl.Expr:
    return pl.col("exposure_index").cast(pl.Int64).clip(1, cap).alias("exposure")
