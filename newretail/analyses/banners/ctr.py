"""Lu Ban's banners: how much more often AI creatives are clicked than human ones, and how much of that is causal.

The report's "100% higher" click-through rate is a ratio of two observed CTRs. This module estimates that ratio with
intervals (delta method on the log ratio, or Fieller), by placement and by brand; standardizes it over placements
(AI creatives are allocated to better slots, so the naive ratio mixes creative quality with slot quality); follows the
AI advantage over the hours of the day and over repeated exposures to the same creative (novelty); and sizes the A/B
test that would settle the question.

Inference counts impressions, not weighted totals: every banner partition of a dataset has the same sampling
fraction, so a CTR or a ratio is the same either way, while intervals need the numbers actually observed.

Functions whose name starts with ``true_`` read the ``truth_*`` tables: they are for validation sections and tests,
never for an estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
from scipy import optimize, stats

from newretail.methods.intervals import proportion_interval, ratio_interval, standardized_ratio
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "AbTestPlan",
    "CtrRatio",
    "ExposureRatios",
    "HourlyCtr",
    "NoveltyFit",
    "PlacementAdjusted",
    "ab_test_plan",
    "ab_test_power",
    "ctr_by_hour",
    "ctr_ratio",
    "novelty_decay_fit",
    "placement_adjusted_ratio",
    "ratio_by_exposure",
    "simulate_ab_power",
    "true_ctr_ratio",
]

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


# ----------------------------------------------------------------------------------------------------------------
# the naive ratio, overall and by group


@dataclass(frozen=True)
class CtrRatio:
    """CTR of AI over human creatives, overall or per group, with intervals.

    ``table`` has the group columns, then ``ai_impressions``, ``ai_clicks``, ``human_impressions``,
    ``human_clicks``, ``ai_ctr`` and ``human_ctr`` (clicks per impression), ``ai_share`` (share of the group's
    impressions with an AI creative), ``ratio`` and its ``ci_low``/``ci_high``.
    """

    table: pl.DataFrame
    by: tuple[str, ...]
    method: str
    alpha: float

    @property
    def ratio(self) -> float:
        """The overall ratio (ungrouped results only)."""
        return _single(self.table, "ratio", "this CTR ratio")

    @property
    def ci_low(self) -> float:
        return _single(self.table, "ci_low", "this CTR ratio")

    @property
    def ci_high(self) -> float:
        return _single(self.table, "ci_high", "this CTR ratio")

    def covers(self, value: float) -> pl.Series:
        """Whether each row's interval contains ``value``."""
        return ((self.table["ci_low"] <= value) & (self.table["ci_high"] >= value)).fill_null(False)

    def plot(
        self,
        *,
        reference: dict[str, float] | None = None,
        ax: Axes | None = None,
    ) -> Figure:
        """Forest plot of the ratio per group (a caterpillar plot, groups sorted, when there are many).

        ``reference`` draws vertical lines, e.g. ``{"report: 2.0": 2.0, "causal": 1.59}``.
        """
        t = self.table.drop_nulls("ratio")
        many = t.height > 25
        if many:
            t = t.sort("ratio")
        fig, ax = _axes(ax, figsize=(6.5, 3.8 if many else 0.45 * max(t.height, 2) + 1.2))
        labels = [", ".join(str(row[b]) for b in self.by) or "all" for row in t.iter_rows(named=True)]
        pos = np.arange(t.height)
        err = np.vstack([t["ratio"] - t["ci_low"], t["ci_high"] - t["ratio"]])
        if many:
            ax.errorbar(pos, t["ratio"], yerr=err, fmt=".", ms=3, lw=0.6, color="0.35", ecolor="0.7")
            ax.set_xlabel(f"{' x '.join(self.by)} (sorted by ratio)")
            ax.set_ylabel("CTR ratio, AI / human")
            ax.set_yscale("log")
            _plain_log_ticks(ax.yaxis)
        else:
            ax.errorbar(t["ratio"], pos, xerr=err, fmt="o", color="0.2", capsize=3)
            ax.set_yticks(pos, labels)
            ax.invert_yaxis()
            ax.set_xlabel("CTR ratio, AI / human")
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)

        def line(value: float, **style: object) -> None:
            (ax.axhline if many else ax.axvline)(value, **style)  # type: ignore[arg-type]

        for i, (name, value) in enumerate((reference or {}).items()):
            line(value, ls=("--", ":", "-.")[i % 3], color=("C3", "C0", "C2")[i % 3], lw=1, label=name)
        line(1.0, color="0.6", lw=0.6)
        if reference:
            ax.legend(frameon=False, fontsize=8)
        method = {"log": "delta method", "fieller": "Fieller"}.get(self.method, self.method)
        ax.set_title(f"{100 * (1 - self.alpha):.0f}% intervals ({method})", fontsize=9)
        return fig


def ctr_ratio(
    data: Impressions,
    *,
    by: Sequence[str] = (),
    alpha: float = 0.05,
    method: RatioMethod = "log",
) -> CtrRatio:
    """Observed CTR of AI creatives over that of human ones, with an interval.

    Parameters
    ----------
    data : a Dataset, or a frame of ``banner_impressions``.
    by : group columns among ``placement``, ``brand_id``, ``hour`` (hour of the day, 0-23) and ``exposure_index``;
        empty for the overall ratio.
    alpha : 1 - confidence level of the intervals.
    method : ``"log"``, the delta method on the log ratio (statsmodels, Katz), or ``"fieller"``.

    Returns
    -------
    CtrRatio
        A ratio (unitless, 2.0 means "100% higher") per group, with its interval.
    """
    by = _check_by(by)
    alpha = _check_alpha(alpha)
    if method not in ("log", "fieller"):
        raise ValueError(f"method = {method!r}: must be 'log' (delta method) or 'fieller'")
    table = _with_ratio(_counts(_impressions(data), by), alpha=alpha, method=method)
    return CtrRatio(table, by, method, alpha)


# ----------------------------------------------------------------------------------------------------------------
# standardizing over placements


def _standardized(counts: pl.DataFrame, groups: Sequence[str], alpha: float) -> pl.DataFrame:
    """AI CTR over the CTR human creatives have in the AI impressions' strata, per group.

    ``counts`` has one row per (group, stratum). The ratio weights each stratum's human CTR by the stratum's share
    of AI impressions, i.e. it is the effect on the AI-served impressions (an SMR-type estimate). Its variance on
    the log scale is the delta method's, taking the AI allocation over strata as fixed.
    """
    empty = counts.filter((pl.col("human_impressions") == 0) & (pl.col("ai_impressions") > 0))
    if empty.height:
        raise ValueError(
            f"strata: a stratum has AI impressions but no human ones to compare with ({empty.row(0, named=True)}); "
            "use coarser strata or more data"
        )
    aggs = [
        pl.col("ai_impressions").sum(),
        pl.col("ai_clicks").sum(),
        pl.col("human_impressions").sum(),
        pl.col("human_clicks").sum(),
        (pl.col("ai_impressions") * pl.col("human_clicks") / pl.col("human_impressions")).sum().alias("_expected"),
    ]
    out = counts.group_by(list(groups)).agg(aggs).sort(list(groups)) if groups else counts.select(aggs)
    parts = counts.partition_by(list(groups), as_dict=True) if groups else {(): counts}
    intervals = np.empty((out.height, 3))
    for i, row in enumerate(out.iter_rows(named=True)):
        cells = parts[tuple(row[g] for g in groups)]
        intervals[i] = standardized_ratio(
            *(cells[c].to_numpy() for c in ("ai_clicks", "ai_impressions", "human_clicks", "human_impressions")),
            alpha=alpha,
        )
    return (
        out.with_columns(
            ai_ctr=pl.col("ai_clicks") / pl.col("ai_impressions"),
            human_ctr_standardized=pl.col("_expected") / pl.col("ai_impressions"),
            ratio=pl.Series(intervals[:, 0]),
            ci_low=pl.Series(intervals[:, 1]),
            ci_high=pl.Series(intervals[:, 2]),
        )
        .drop("_expected")
        .fill_nan(None)
    )


@dataclass(frozen=True)
class PlacementAdjusted:
    """The naive CTR ratio next to the ratio standardized over placements (a Simpson's-paradox check).

    ``by_placement`` has one row per placement (impressions, clicks, CTRs, AI share and the within-placement ratio
    with its interval). ``ratio`` is the AI CTR over the CTR human creatives would have had in the AI impressions'
    placements (the effect on AI-served impressions); ``odds_ratio`` is the Mantel-Haenszel odds ratio of a click,
    pooled over the same strata (a conditional odds ratio, close to the CTR ratio when CTRs are small).
    """

    naive: CtrRatio
    by_placement: pl.DataFrame
    strata: tuple[str, ...]
    ratio: float
    ci_low: float
    ci_high: float
    odds_ratio: float
    odds_ratio_ci_low: float
    odds_ratio_ci_high: float
    alpha: float

    def plot(self) -> Figure:
        """Two panels: CTR of each creative source by placement, and the AI share of each placement's impressions."""
        import matplotlib.pyplot as plt

        t = self.by_placement
        fig, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained", width_ratios=(3, 2))
        x = np.arange(t.height)
        for dx, src, color in ((-0.2, "ai", AI_COLOR), (0.2, "human", HUMAN_COLOR)):
            left.bar(x + dx, 100 * t[f"{src}_ctr"], width=0.4, color=color, label=f"{src} creative")
        naive = self.naive.table.row(0, named=True)
        left.axhline(100 * naive["ai_ctr"], color=AI_COLOR, ls="--", lw=1, label="AI, all placements")
        left.axhline(100 * naive["human_ctr"], color=HUMAN_COLOR, ls="--", lw=1, label="human, all placements")
        left.set_xticks(x, t["placement"].cast(pl.String).to_list(), rotation=20)
        left.set_ylabel("CTR, %")
        left.legend(frameon=False, fontsize=8)
        left.set_title(
            f"naive ratio {self.naive.ratio:.2f}, within placements {self.ratio:.2f} "
            f"[{self.ci_low:.2f}, {self.ci_high:.2f}]",
            fontsize=9,
        )
        right.bar(x, 100 * t["ai_share"], color="0.5")
        right.set_xticks(x, t["placement"].cast(pl.String).to_list(), rotation=20)
        right.set_ylabel("impressions with an AI creative, %")
        right.set_ylim(0, 100)
        return fig


def _pooled_odds_ratio(counts: pl.DataFrame, alpha: float) -> tuple[float, float, float]:
    """Mantel-Haenszel odds ratio of a click for AI over human creatives, pooled over the strata (statsmodels)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    a, n1 = counts["ai_clicks"].to_numpy(), counts["ai_impressions"].to_numpy()
    c, n0 = counts["human_clicks"].to_numpy(), counts["human_impressions"].to_numpy()
    tables = np.stack([np.stack([a, n1 - a]), np.stack([c, n0 - c])]).astype(float)  # 2 x 2 x strata
    table = StratifiedTable(tables[:, :, (n1 > 0) & (n0 > 0)])
    low, high = table.oddsratio_pooled_confint(alpha=alpha)
    return float(table.oddsratio_pooled), float(low), float(high)


def placement_adjusted_ratio(
    data: Impressions,
    *,
    strata: Sequence[str] = ("placement",),
    alpha: float = 0.05,
) -> PlacementAdjusted:
    """The CTR ratio with and without adjusting for where AI creatives were shown.

    Parameters
    ----------
    data : a Dataset, or a frame of ``banner_impressions``.
    strata : columns to standardize over; ``placement`` by default (add ``brand_id`` for placement x brand).
    alpha : 1 - confidence level.

    Returns
    -------
    PlacementAdjusted
        Naive ratio, within-placement ratios, the standardized ratio (unitless) with its delta-method interval,
        and the Mantel-Haenszel odds ratio.
    """
    strata = _check_by(strata)
    if not strata:
        raise ValueError("strata: give at least one column to standardize over, e.g. ('placement',)")
    alpha = _check_alpha(alpha)
    lf = _impressions(data)
    cells = _counts(lf, strata)
    adjusted = _standardized(cells, (), alpha).row(0, named=True)
    by_placement = _with_ratio(_counts(lf, ("placement",)), alpha=alpha, method="log")
    odds = _pooled_odds_ratio(cells, alpha)
    naive = CtrRatio(_with_ratio(_counts(lf, ()), alpha=alpha, method="log"), (), "log", alpha)
    return PlacementAdjusted(
        naive=naive,
        by_placement=by_placement,
        strata=strata,
        ratio=float(adjusted["ratio"]),
        ci_low=float(adjusted["ci_low"]),
        ci_high=float(adjusted["ci_high"]),
        odds_ratio=odds[0],
        odds_ratio_ci_low=odds[1],
        odds_ratio_ci_high=odds[2],
        alpha=alpha,
    )


# ----------------------------------------------------------------------------------------------------------------
# novelty: the hour of the day, and repeated exposures


@dataclass(frozen=True)
class HourlyCtr:
    """CTR of each creative source per hour of the day, and their ratio.

    ``table`` has ``hour`` (0-23), the counts and CTRs with Wilson intervals (``ai_ctr_low`` ...), ``ratio`` with
    ``ci_low``/``ci_high``, and ``mean_exposure`` (mean exposure index of the hour's impressions).
    """

    table: pl.DataFrame
    alpha: float

    def plot(self) -> Figure:
        """Two panels: CTR by hour for each source; the ratio by hour with the mean exposure index."""
        import matplotlib.pyplot as plt

        t = self.table
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.0, 5.0), sharex=True, layout="constrained")
        h = t["hour"].to_numpy()
        for src, color in (("ai", AI_COLOR), ("human", HUMAN_COLOR)):
            top.plot(h, 100 * t[f"{src}_ctr"], color=color, marker=".", label=f"{src} creative")
            top.fill_between(h, 100 * t[f"{src}_ctr_low"], 100 * t[f"{src}_ctr_high"], color=color, alpha=0.2)
        top.set_ylabel("CTR, %")
        top.legend(frameon=False, fontsize=8)
        bottom.plot(h, t["ratio"], color="0.2", marker=".", label="CTR ratio, AI / human")
        bottom.fill_between(h, t["ci_low"], t["ci_high"], color="0.6", alpha=0.3)
        bottom.set_ylabel("CTR ratio")
        bottom.set_xlabel("hour of the day")
        twin = bottom.twinx()
        twin.plot(h, t["mean_exposure"], color="C4", ls="--", label="mean exposure index")
        twin.set_ylabel("mean exposure index", color="C4")
        lines = bottom.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        bottom.legend(lines, [str(x.get_label()) for x in lines], frameon=False, fontsize=8, loc="upper right")
        bottom.set_xticks(range(0, 24, 3))
        return fig


def ctr_by_hour(data: Impressions, *, alpha: float = 0.05) -> HourlyCtr:
    """CTR of AI and human creatives per hour of the day (Wilson intervals), and their ratio (delta method).

    Returns
    -------
    HourlyCtr
        One row per hour, CTRs as clicks per impression.
    """
    alpha = _check_alpha(alpha)
    lf = _impressions(data)
    table = _with_ratio(_counts(lf, ("hour",)), alpha=alpha, method="log")
    cols = {}
    for src in ("ai", "human"):
        low, high = _proportion(table[f"{src}_clicks"].to_numpy(), table[f"{src}_impressions"].to_numpy(), alpha)
        cols[f"{src}_ctr_low"], cols[f"{src}_ctr_high"] = pl.Series(low), pl.Series(high)
    exposure = lf.group_by("hour").agg(mean_exposure=pl.col("exposure_index").cast(pl.Float64).mean()).collect()
    table = table.with_columns(**cols).join(exposure, on="hour", how="left").sort("hour")
    return HourlyCtr(table, alpha)


@dataclass(frozen=True)
class ExposureRatios:
    """The placement-standardized CTR ratio at the k-th exposure of a user to the same creative.

    ``table`` has ``exposure`` (1, 2, ..., ``cap`` meaning cap or more), counts, ``ratio`` and its interval.
    """

    table: pl.DataFrame
    cap: int
    alpha: float

    def plot(self, *, truth: pl.DataFrame | None = None, fit: NoveltyFit | None = None) -> Figure:
        """The ratio by exposure with intervals; optionally the true ratio (``truth``: columns exposure, ratio)
        and a fitted decay curve."""
        fig, ax = _axes(None, figsize=(6.0, 3.6))
        t = self.table
        k = t["exposure"].to_numpy()
        err = np.vstack([t["ratio"] - t["ci_low"], t["ci_high"] - t["ratio"]])
        ax.errorbar(k, t["ratio"], yerr=err, fmt="o", color="0.2", capsize=3, label="estimated (within placements)")
        if truth is not None:
            ax.plot(truth["exposure"], truth["ratio"], "s--", color="C3", ms=4, label="true (ground truth)")
        if fit is not None:
            grid = np.linspace(1, self.cap, 60)
            ax.plot(grid, fit.ratio_curve(grid), color="C0", lw=1, label=f"fitted decay {fit.decay:.2f}/exposure")
        ax.axhline(1.0, color="0.6", lw=0.6)
        ax.set_xticks(k, [str(v) if v < self.cap else f"{v}+" for v in k])
        ax.set_xlabel("exposure to the same creative (k-th time seen)")
        ax.set_ylabel("CTR ratio, AI / human")
        ax.legend(frameon=False, fontsize=8)
        return fig


def _exposure_bucket(cap: int) -> pl.Expr:
    return pl.col("exposure_index").cast(pl.Int64).clip(1, cap).alias("exposure")


def ratio_by_exposure(data: Impressions, *, max_exposure: int = 5, alpha: float = 0.05) -> ExposureRatios:
    """The CTR ratio standardized over placements, per exposure index (capped at ``max_exposure``).

    Returns
    -------
    ExposureRatios
        One row per exposure bucket; ratios are unitless.
    """
    if not (isinstance(max_exposure, int) and max_exposure >= 2):
        raise ValueError(f"max_exposure = {max_exposure!r}: must be a whole number of at least 2")
    alpha = _check_alpha(alpha)
    lf = _impressions(data).with_columns(_exposure_bucket(max_exposure))
    ai = pl.col("creative_source") == "ai"
    human = pl.col("creative_source") == "human"
    cells = (
        lf.group_by("exposure", "placement")
        .agg(
            ai_impressions=ai.sum().cast(pl.Int64),
            ai_clicks=(ai & pl.col("clicked")).sum().cast(pl.Int64),
            human_impressions=human.sum().cast(pl.Int64),
            human_clicks=(human & pl.col("clicked")).sum().cast(pl.Int64),
        )
        .collect()
    )
    table = _standardized(cells, ("exposure",), alpha)
    return ExposureRatios(table, max_exposure, alpha)


@dataclass(frozen=True)
class NoveltyFit:
    """The decay of the AI creatives' advantage with repeated exposure, by profile likelihood.

    Model: log-odds of a click = placement effect + ``ai_effect`` x exp(-``decay`` x (k - 1)) for an AI creative
    seen for the k-th time. ``decay`` is per repeated exposure (unitless); its interval is the profile-likelihood
    one, with ``ci_high`` infinite when the likelihood stays within the threshold up to ``max_decay``.
    ``profile`` holds the grid of decays and the log-likelihood drop from the maximum.
    """

    decay: float
    ci_low: float
    ci_high: float
    ai_effect: float
    human_ctr: float
    profile: pl.DataFrame
    alpha: float

    def ratio_curve(self, k: np.ndarray) -> np.ndarray:
        """Approximate CTR ratio at exposure ``k`` implied by the fit (at the average human CTR)."""
        from scipy.special import expit, logit

        base = logit(self.human_ctr)
        return expit(base + self.ai_effect * np.exp(-self.decay * (np.asarray(k) - 1.0))) / self.human_ctr

    def plot(self, *, true_decay: float | None = None) -> Figure:
        """Profile log-likelihood of the decay, with the interval's threshold."""
        fig, ax = _axes(None, figsize=(5.5, 3.4))
        ax.plot(self.profile["decay"], self.profile["loglik_drop"], color="0.2")
        ax.axhline(-stats.chi2.ppf(1 - self.alpha, 1) / 2, color="0.5", ls=":", lw=1, label="interval threshold")
        high = min(self.ci_high, float(self.profile["decay"].to_numpy().max()))
        ax.axvspan(self.ci_low, high, color="C0", alpha=0.15, label=f"{100 * (1 - self.alpha):.0f}% interval")
        if true_decay is not None:
            ax.axvline(true_decay, color="C3", ls="--", lw=1, label="true decay (scenario)")
        ax.set_ylim(max(-20.0, float(self.profile["loglik_drop"].to_numpy().min())), 0.5)
        ax.set_xlabel("decay of the AI log-odds effect per repeated exposure")
        ax.set_ylabel("log-likelihood - maximum")
        ax.legend(frameon=False, fontsize=8)
        return fig


def novelty_decay_fit(
    data: Impressions,
    *,
    max_decay: float = 3.0,
    alpha: float = 0.05,
) -> NoveltyFit:
    """Fit how fast the AI advantage fades with repeated exposure (binomial GLMs profiled over the decay).

    Parameters
    ----------
    data : a Dataset, or a frame of ``banner_impressions``.
    max_decay : upper end of the decay searched, per exposure.
    alpha : 1 - confidence level of the profile-likelihood interval.

    Returns
    -------
    NoveltyFit
        The decay per exposure, its interval, and the AI log-odds effect at first exposure.
    """
    import statsmodels.api as sm

    if not max_decay > 0:
        raise ValueError(f"max_decay = {max_decay!r}: must be positive")
    alpha = _check_alpha(alpha)
    cells = (
        _impressions(data)
        .group_by("placement", "creative_source", "exposure_index")
        .agg(n=pl.len().cast(pl.Int64), k=pl.col("clicked").sum().cast(pl.Int64))
        .sort("placement", "creative_source", "exposure_index")
        .collect()
    )
    if cells.filter(pl.col("creative_source") == "ai").select(pl.col("exposure_index").n_unique()).item() < 2:
        raise ValueError("data: AI creatives are seen at a single exposure index; the decay cannot be estimated")
    placement = cells.select(pl.col("placement").to_physical()).to_series().to_numpy()
    dummies = (placement[:, None] == np.unique(placement)[None, :]).astype(float)
    is_ai = (cells["creative_source"] == "ai").to_numpy().astype(float)
    repeat = cells["exposure_index"].to_numpy().astype(float) - 1.0
    endog = np.column_stack([cells["k"].to_numpy(), (cells["n"] - cells["k"]).to_numpy()]).astype(float)

    def fit(decay: float) -> tuple[float, float]:
        exog = np.column_stack([dummies, is_ai * np.exp(-decay * repeat)])
        res = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
        return float(res.llf), float(res.params[-1])

    best = optimize.minimize_scalar(lambda d: -fit(d)[0], bounds=(0.0, max_decay), method="bounded")
    decay = float(best.x)
    top, ai_effect = fit(decay)
    drop = stats.chi2.ppf(1 - alpha, 1) / 2

    def gap(d: float) -> float:
        return fit(d)[0] - top + drop

    low = float(optimize.brentq(gap, 0.0, decay)) if decay > 0 and gap(0.0) < 0 else 0.0
    high = float(optimize.brentq(gap, decay, max_decay)) if gap(max_decay) < 0 else float("inf")
    grid = np.linspace(0.0, min(max_decay, max(4 * decay, 1.0)), 61)
    profile = pl.DataFrame({"decay": grid, "loglik_drop": [fit(d)[0] - top for d in grid]})
    human = cells.filter(pl.col("creative_source") == "human")
    human_ctr = float(human["k"].to_numpy().sum() / human["n"].to_numpy().sum())
    return NoveltyFit(decay, low, high, ai_effect, human_ctr, profile, alpha)


# ----------------------------------------------------------------------------------------------------------------
# sizing an A/B test


def _check_power_args(ratio_alt: float, ratio_null: float, human_ctr: float, ai_share: float, alpha: float) -> None:
    if not (ratio_alt > 0 and ratio_null > 0) or ratio_alt == ratio_null:
        raise ValueError(f"ratio_alt = {ratio_alt!r}, ratio_null = {ratio_null!r}: must be positive and differ")
    if not 0 < human_ctr < 1 or not 0 < human_ctr * ratio_alt < 1:
        raise ValueError(f"human_ctr = {human_ctr!r}: it and human_ctr x ratio_alt must be in (0, 1)")
    if not 0 < ai_share < 1:
        raise ValueError(f"ai_share = {ai_share!r}: must be in (0, 1), the share of test impressions given to AI")
    _check_alpha(alpha)


def _log_se_unit(ratio_alt: float, human_ctr: float, ai_share: float) -> float:
    """Standard error of the log CTR ratio for one impression in all (scale by 1/sqrt(n))."""
    p1, p0 = human_ctr * ratio_alt, human_ctr
    return float(np.sqrt((1 - p1) / (ai_share * p1) + (1 - p0) / ((1 - ai_share) * p0)))


def ab_test_power(
    impressions: float | np.ndarray,
    *,
    ratio_alt: float = 2.0,
    ratio_null: float = 1.5,
    human_ctr: float = 0.02,
    ai_share: float = 0.5,
    alpha: float = 0.05,
) -> np.ndarray:
    """Chance that a randomized test's two-sided interval for the CTR ratio excludes ``ratio_null`` on the side of
    ``ratio_alt`` when the true ratio is ``ratio_alt``.

    Parameters
    ----------
    impressions : total impressions in the test (AI and human arms together), count.
    ratio_alt, ratio_null : the true ratio and the one to tell it from (unitless).
    human_ctr : CTR of the human arm, clicks per impression.
    ai_share : share of the test's impressions given to AI creatives.
    alpha : 1 - confidence level of the interval.

    Returns
    -------
    numpy.ndarray
        Power, in [0, 1], for each number of impressions (normal approximation on the log ratio).
    """
    _check_power_args(ratio_alt, ratio_null, human_ctr, ai_share, alpha)
    n = np.asarray(impressions, dtype=float)
    se = _log_se_unit(ratio_alt, human_ctr, ai_share) / np.sqrt(n)
    return np.asarray(stats.norm.cdf(abs(np.log(ratio_alt / ratio_null)) / se - stats.norm.ppf(1 - alpha / 2)))


@dataclass(frozen=True)
class AbTestPlan:
    """Impressions a randomized A/B test needs to tell ``ratio_alt`` from ``ratio_null`` with the given power.

    ``curve`` holds power against total impressions for the plot.
    """

    impressions: int
    ai_impressions: int
    human_impressions: int
    expected_clicks: float
    ratio_alt: float
    ratio_null: float
    human_ctr: float
    ai_share: float
    alpha: float
    power: float
    curve: pl.DataFrame

    def plot(self, *, ax: Axes | None = None) -> Figure:
        """Power against total impressions (log axis), with the planned size marked."""
        fig, ax = _axes(ax, figsize=(5.8, 3.4))
        ax.plot(self.curve["impressions"], self.curve["power"], color="0.2")
        ax.axhline(self.power, color="0.6", ls=":", lw=1)
        ax.axvline(self.impressions, color="C3", ls="--", lw=1, label=f"{self.impressions:,} impressions")
        ax.set_xscale("log")
        ax.set_xlabel("impressions in the test (both arms)")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1)
        ax.set_title(
            f"telling a CTR ratio of {self.ratio_alt:g} from {self.ratio_null:g} "
            f"(human CTR {100 * self.human_ctr:.1f}%)",
            fontsize=9,
        )
        ax.legend(frameon=False, fontsize=8)
        return fig


def ab_test_plan(
    *,
    ratio_alt: float = 2.0,
    ratio_null: float = 1.5,
    human_ctr: float = 0.02,
    ai_share: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> AbTestPlan:
    """Size a randomized test of AI against human creatives (normal approximation on the log CTR ratio).

    Parameters
    ----------
    ratio_alt : the true CTR ratio assumed (unitless).
    ratio_null : the ratio the test must rule out.
    human_ctr : CTR of human creatives, clicks per impression.
    ai_share : share of the test's impressions given to AI creatives.
    alpha : 1 - confidence level of the interval (two-sided).
    power : wanted chance of ruling out ``ratio_null``.

    Returns
    -------
    AbTestPlan
        Total impressions (count), split into arms, and the power curve.
    """
    _check_power_args(ratio_alt, ratio_null, human_ctr, ai_share, alpha)
    if not 0 < power < 1:
        raise ValueError(f"power = {power!r}: must be in (0, 1), e.g. 0.8")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = int(np.ceil((z * _log_se_unit(ratio_alt, human_ctr, ai_share) / np.log(ratio_alt / ratio_null)) ** 2))
    grid = np.unique(np.geomspace(max(n / 30, 10), n * 10, 120).astype(np.int64))
    curve = pl.DataFrame(
        {
            "impressions": grid,
            "power": ab_test_power(
                grid, ratio_alt=ratio_alt, ratio_null=ratio_null, human_ctr=human_ctr, ai_share=ai_share, alpha=alpha
            ),
        }
    )
    n_ai = int(np.ceil(n * ai_share))
    return AbTestPlan(
        impressions=n,
        ai_impressions=n_ai,
        human_impressions=n - n_ai,
        expected_clicks=n_ai * human_ctr * ratio_alt + (n - n_ai) * human_ctr,
        ratio_alt=float(ratio_alt),
        ratio_null=float(ratio_null),
        human_ctr=float(human_ctr),
        ai_share=float(ai_share),
        alpha=float(alpha),
        power=float(power),
        curve=curve,
    )


def simulate_ab_power(
    impressions: int,
    *,
    ratio_alt: float = 2.0,
    ratio_null: float = 1.5,
    human_ctr: float = 0.02,
    ai_share: float = 0.5,
    alpha: float = 0.05,
    simulations: int = 4000,
    seed: int = 0,
) -> float:
    """Monte Carlo power of the same test: share of simulated randomized tests whose delta-method interval for the
    ratio lies wholly beyond ``ratio_null`` (a check of :func:`ab_test_power`)."""
    _check_power_args(ratio_alt, ratio_null, human_ctr, ai_share, alpha)
    if impressions < 2 or simulations < 1:
        raise ValueError("impressions must be at least 2 and simulations at least 1")
    rng = np.random.default_rng(seed)
    n1 = round(impressions * ai_share)
    n0 = impressions - n1
    k1 = rng.binomial(n1, human_ctr * ratio_alt, size=simulations)
    k0 = rng.binomial(n0, human_ctr, size=simulations)
    _, low, high = _ratio_interval(
        k1, np.full(simulations, n1), k0, np.full(simulations, n0), alpha=alpha, method="log"
    )
    beyond = low > ratio_null if ratio_alt > ratio_null else high < ratio_null
    return float(np.mean(np.nan_to_num(beyond, nan=0.0)))


# ----------------------------------------------------------------------------------------------------------------
# validation against the ground truth (tests and validation sections only)


def true_ctr_ratio(ds: Dataset, *, by: Sequence[str] = (), max_exposure: int = 5) -> pl.DataFrame:
    """Ground truth, for validation only: the causal CTR ratio on AI-served impressions.

    It is the mean true click probability of AI impressions over the mean they would have had with a human
    creative (``truth_banner_impressions``), per group; ``by`` may also hold ``exposure`` (the exposure index
    capped at ``max_exposure``, as in :func:`ratio_by_exposure`). Also returns ``naive_expected``, the expected
    naive ratio (true CTR of AI impressions over that of human ones).
    """
    allowed = (*GROUPABLE, "exposure")
    if isinstance(by, str):
        by = (by,)
    bad = [b for b in by if b not in allowed]
    if bad:
        raise ValueError(f"by: {', '.join(map(repr, bad))} not allowed; group by any of {', '.join(allowed)}")
    lf = (
        _impressions(ds)
        .with_columns(_exposure_bucket(max_exposure))
        .join(ds.scan(TRUTH), on="impression_id", how="inner")
    )
    ai = pl.col("creative_source") == "ai"
    aggs = [
        (pl.col("p_click_if_ai").filter(ai).mean() / pl.col("p_click_if_human").filter(ai).mean()).alias("ratio"),
        (pl.col("p_click").filter(ai).mean() / pl.col("p_click").filter(~ai).mean()).alias("naive_expected"),
    ]
    if not by:
        return lf.select(aggs).collect()
    return lf.group_by(list(by)).agg(aggs).sort(list(by)).collect()
