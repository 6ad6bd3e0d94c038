"""The AI-to-human click-through ratio: naive, by group, standardized over placements, and the truth for validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.intervals import mantel_haenszel_odds_ratio, standardized_ratio
from newretail.tables import Dataset

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
from newretail.analyses.banners._counting import (
    AI_COLOR,
    GROUPABLE,
    HUMAN_COLOR,
    TRUTH,
    Impressions,
    RatioMethod,
    _axes,
    _check_alpha,
    _check_by,
    _counts,
    _exposure_bucket,
    _impressions,
    _plain_log_ticks,
    _single,
    _with_ratio,
)

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
        names = [str(p).replace("_", "\n") for p in t["placement"].cast(pl.String)]
        with plt.rc_context({"font.size": 11}):
            fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 4.0), layout="constrained", width_ratios=(3, 2))
            x = np.arange(t.height)
            for dx, src, color, label in ((-0.2, "ai", AI_COLOR, "AI creative"), (0.2, "human", HUMAN_COLOR, "human")):
                left.bar(x + dx, 100 * t[f"{src}_ctr"], width=0.4, color=color, label=label)
            naive = self.naive.table.row(0, named=True)
            left.axhline(100 * naive["ai_ctr"], color=AI_COLOR, ls="--", lw=1, label="AI, all slots")
            left.axhline(100 * naive["human_ctr"], color=HUMAN_COLOR, ls="--", lw=1, label="human, all slots")
            left.set_xticks(x, names)
            left.set_ylabel("click-through rate, %")
            top = 100 * float(np.max(t.select("ai_ctr", "human_ctr").to_numpy()))
            left.set_ylim(0, 1.4 * top)  # room above the bars for the legend
            left.legend(frameon=False, fontsize=10, ncols=2, loc="upper right")
            left.set_title(
                f"observed ratio {self.naive.ratio:.2f}; within slots {self.ratio:.2f} "
                f"({self.ci_low:.2f} to {self.ci_high:.2f})",
                fontsize=11,
            )
            right.barh(x[::-1], 100 * t["ai_share"], color="0.5")
            right.set_yticks(x[::-1], [name.replace("\n", " ") for name in names])
            right.set_xlabel("impressions with an AI creative, %")
            right.set_xlim(0, 100)
            slot = np.corrcoef(t["ai_share"].to_numpy(), t["human_ctr"].to_numpy())[0, 1] if t.height > 2 else 0.0
            where = "more" if slot > 0.3 else "fewer" if slot < -0.3 else "about as many"
            fig.suptitle(f"AI creatives got {where} of the impressions in the slots clicked most", fontsize=12)
        return fig


def _pooled_odds_ratio(counts: pl.DataFrame, alpha: float) -> tuple[float, float, float]:
    """Mantel-Haenszel odds ratio of a click for AI over human creatives, pooled over the strata."""
    x1, n1 = counts["ai_clicks"].to_numpy(), counts["ai_impressions"].to_numpy()
    x0, n0 = counts["human_clicks"].to_numpy(), counts["human_impressions"].to_numpy()
    return mantel_haenszel_odds_ratio(x1, n1, x0, n0, alpha=alpha)


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


def ratio_of_ctrs(ai_n: float, ai_k: float, hu_n: float, hu_k: float) -> float:
    """The CTR ratio from totals: (AI clicks / AI impressions) / (human clicks / human impressions)."""
    return (ai_k / ai_n) / (hu_k / hu_n)
