"""The small comparisons (newretail.methods.comparisons) and the several-regressor two-way fixed-effects regression
(newretail.methods.twfe) against the libraries they wrap, a peer (pyfixest) and hand computations."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from newretail.methods import MethodInputError
from newretail.methods.comparisons import difference_interval, mcnemar_exact, mean_interval
from newretail.methods.twfe import twfe_regression


def test_mean_interval_is_students_t_by_hand_and_by_scipy() -> None:
    from scipy import stats

    x = np.array([0.81, 0.78, 0.84, 0.80])
    mean, low, high = mean_interval(x)
    se = x.std(ddof=1) / 2.0
    assert mean == pytest.approx(0.8075, abs=1e-15)
    assert (low, high) == pytest.approx(stats.t.interval(0.95, 3, loc=x.mean(), scale=se), rel=1e-12)
    assert high - mean == pytest.approx(3.182446305284263 * se, rel=1e-12)  # t(0.975, 3), a printed table value
    for bad in ([1.0], [1.0, math.nan]):
        with pytest.raises(MethodInputError, match="values"):
            mean_interval(bad)


def test_difference_interval_is_newcombs_by_hand_and_by_statsmodels() -> None:
    """Newcomb's hybrid score interval of p1 - p0: each proportion's Wilson interval combined by squares."""
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    diff, low, high = difference_interval(56, 70, 48, 80)
    p1, p0 = 56 / 70, 48 / 80
    l1, u1 = proportion_confint(56, 70, method="wilson")
    l0, u0 = proportion_confint(48, 80, method="wilson")
    assert diff == pytest.approx(p1 - p0, abs=1e-15)
    assert low == pytest.approx(diff - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), rel=1e-12)
    assert high == pytest.approx(diff + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2), rel=1e-12)
    lib = confint_proportions_2indep(56, 70, 48, 80, compare="diff", method="newcomb")
    assert (low, high) == pytest.approx(tuple(map(float, lib)), rel=1e-12)
    with pytest.raises(MethodInputError, match="trials"):
        difference_interval(3, 2, 1, 5)
    with pytest.raises(MethodInputError, match="n1, n0"):
        difference_interval(0, 0, 1, 5)


def test_mcnemar_exact_is_a_binomial_test_of_the_discordant_pairs() -> None:
    from scipy import stats

    table = [[30, 12], [4, 54]]
    assert mcnemar_exact(table) == pytest.approx(stats.binomtest(4, 16, 0.5).pvalue, rel=1e-12)
    assert mcnemar_exact([[5, 3], [3, 5]]) == pytest.approx(1.0)
    with pytest.raises(MethodInputError, match="table"):
        mcnemar_exact([[1, 2, 3]])
    with pytest.raises(MethodInputError, match="table"):
        mcnemar_exact([[1, -2], [3, 4]])


def _stacked(seed: int = 0, units: int = 40, periods: int = 12) -> pl.DataFrame:
    """Two regressors switched on at staggered times, unit and time effects, clusters of two units."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    start_a = rng.integers(3, periods + 4, units)
    start_b = rng.integers(2, periods + 4, units)
    a = time >= start_a[unit]
    b = (time >= start_b[unit]) & (unit % 3 > 0)
    y = (
        rng.normal(size=units)[unit]
        + rng.normal(size=periods)[time]
        + 0.4 * a
        - 0.2 * b
        + rng.normal(0, 0.3, unit.size)
    )
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "a": a, "b": b, "pair": unit // 2})


@pytest.mark.parametrize("cluster", [None, "pair"])
def test_twfe_regression_agrees_with_pyfixest_and_linearmodels(cluster: str | None) -> None:
    """``y ~ a + b | unit + time``: the coefficients equal pyfixest's and linearmodels' PanelOLS's (1e-9); the
    clustered standard errors are pyfixest's CRV1 up to one small-sample factor shared by both coefficients (the
    sandwich is the same; the factor is :class:`~newretail.methods.DiD`'s, which the next test pins and
    ``tests/methods/test_panel.py`` checks against the peers)."""
    import pyfixest as pf
    from linearmodels import PanelOLS

    frame = _stacked()
    fit = twfe_regression(frame, unit="unit", time="time", outcome="y", regressors=("a", "b"), cluster=cluster)
    pdf = frame.with_columns(pl.col("a").cast(float), pl.col("b").cast(float)).to_pandas()
    peer = pf.feols("y ~ a + b | unit + time", data=pdf, vcov={"CRV1": cluster or "unit"})
    assert fit.coef == pytest.approx(peer.coef()[["a", "b"]].to_numpy(), rel=1e-9)
    ratio = np.sqrt(np.diag(fit.cov)) / peer.se()[["a", "b"]].to_numpy()
    assert ratio[0] == pytest.approx(ratio[1], rel=1e-9) and 0.99 < ratio[0] < 1.01
    times = sorted(pdf["time"].unique())
    for t in times[1:]:
        pdf[f"t{t}"] = (pdf["time"] == t).astype(float)
    data = pdf.set_index(["unit", "time"])
    exog = data[["a", "b", *[f"t{t}" for t in times[1:]]]]
    res = PanelOLS(data["y"], exog, entity_effects=True).fit()
    assert fit.coef == pytest.approx(res.params[["a", "b"]].to_numpy(), rel=1e-9)
    assert fit.names == ("a", "b") and fit.n_obs == frame.height
    assert fit.critical(0.05) == pytest.approx(2.093024 if cluster == "pair" else 2.022691, rel=1e-6)  # t tables


def test_one_regressor_is_the_did_estimate() -> None:
    from newretail.methods import DiD

    frame = _stacked()
    fit = twfe_regression(frame, unit="unit", time="time", outcome="y", regressors=("a",))
    did = DiD("unit", "time", "y", "a").fit(frame)
    assert fit.coef[0] == pytest.approx(did.effect_, rel=1e-12)
    assert math.sqrt(fit.cov[0, 0]) == pytest.approx(did.se_, rel=1e-12)


def test_twfe_regression_refuses_what_it_cannot_fit() -> None:
    frame = _stacked()
    with pytest.raises(MethodInputError, match="regressors"):
        twfe_regression(frame, unit="unit", time="time", outcome="y", regressors=())
    with pytest.raises(MethodInputError, match="'c'"):
        twfe_regression(frame, unit="unit", time="time", outcome="y", regressors=("a", "c"))
    with pytest.raises(MethodInputError, match="'a'"):
        twfe_regression(frame.with_columns(a=pl.lit("x")), unit="unit", time="time", outcome="y", regressors=("a",))
