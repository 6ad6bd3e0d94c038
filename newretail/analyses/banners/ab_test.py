"""Sizing the A/B test that would settle the AI creatives' advantage: closed-form power, a plan, a Monte Carlo check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from newretail.methods.power import ratio_test_power, ratio_test_size

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
from newretail.analyses.banners._counting import _axes, _check_alpha, _ratio_interval

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
    return np.asarray(
        ratio_test_power(impressions, ratio=ratio_alt, ratio_null=ratio_null, p0=human_ctr, share=ai_share, alpha=alpha)
    )


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
    n = ratio_test_size(ratio=ratio_alt, ratio_null=ratio_null, p0=human_ctr, share=ai_share, alpha=alpha, power=power)
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
