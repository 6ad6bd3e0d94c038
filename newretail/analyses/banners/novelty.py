"""Novelty: the AI advantage over the hours of the day and over repeated exposures, and the decay model fitted to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.decay import decay_fit, decay_ratio, profile_threshold

if TYPE_CHECKING:
    from matplotlib.figure import Figure
from newretail.analyses.banners._counting import (
    AI_COLOR,
    HUMAN_COLOR,
    Impressions,
    _axes,
    _check_alpha,
    _counts,
    _exposure_bucket,
    _impressions,
    _proportion,
    _with_ratio,
)
from newretail.analyses.banners.ctr import _standardized

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
        return decay_ratio(np.asarray(k) - 1.0, p0=self.human_ctr, effect=self.ai_effect, decay=self.decay)

    def plot(self, *, true_decay: float | None = None) -> Figure:
        """Profile log-likelihood of the decay, with the interval's threshold."""
        fig, ax = _axes(None, figsize=(5.5, 3.4))
        ax.plot(self.profile["decay"], self.profile["loglik_drop"], color="0.2")
        ax.axhline(-profile_threshold(self.alpha), color="0.5", ls=":", lw=1, label="interval threshold")
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
    fit = decay_fit(
        cells["k"].to_numpy(),
        cells["n"].to_numpy(),
        strata=cells.select(pl.col("placement").to_physical()).to_series().to_numpy(),
        treated=(cells["creative_source"] == "ai").to_numpy(),
        repeat=cells["exposure_index"].to_numpy().astype(float) - 1.0,
        max_decay=max_decay,
        alpha=alpha,
    )
    human = cells.filter(pl.col("creative_source") == "human")
    human_ctr = float(human["k"].to_numpy().sum() / human["n"].to_numpy().sum())
    return NoveltyFit(fit.decay, fit.ci_low, fit.ci_high, fit.effect, human_ctr, fit.profile, alpha)
