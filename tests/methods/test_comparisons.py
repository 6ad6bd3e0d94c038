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


def _delong_by_pairs(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) from the Mann-Whitney kernel over every (positive, negative) pair: the AUCs and the
    covariance S10/m + S01/n of the two."""
    aucs, v10s, v01s = [], [], []
    for s in (a, b):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        aucs.append(psi.mean())
        v10s.append(psi.mean(axis=1))
        v01s.append(psi.mean(axis=0))
    m, n = len(v10s[0]), len(v01s[0])
    return np.array(aucs), np.cov(np.vstack(v10s)) / m + np.cov(np.vstack(v01s)) / n


def test_compare_auc_is_delongs_pairwise_computation_and_scikit_learns_auc() -> None:
    from sklearn.metrics import roc_auc_score

    from newretail.methods.comparisons import compare_auc

    rng = np.random.default_rng(5)
    y = rng.random(600) < 0.3
    a = np.round(y + rng.normal(0, 1.2, y.size), 1)  # rounded: ties count one half
    b = y + rng.normal(0, 0.8, y.size)
    cmp = compare_auc(y, a, b, alpha=0.1)
    auc, cov = _delong_by_pairs(y, a, b)
    z = 1.6448536269514722
    assert (cmp.auc, cmp.reference_auc) == pytest.approx((roc_auc_score(y, a), roc_auc_score(y, b)), rel=1e-12)
    assert (cmp.auc, cmp.reference_auc) == pytest.approx(tuple(auc), rel=1e-12)
    assert cmp.auc_ci_high - cmp.auc == pytest.approx(z * math.sqrt(cov[0, 0]), rel=1e-9)
    assert cmp.reference_ci_high - cmp.reference_auc == pytest.approx(z * math.sqrt(cov[1, 1]), rel=1e-9)
    se_gap = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert cmp.gap == pytest.approx(auc[1] - auc[0], rel=1e-12)
    assert (cmp.gap_ci_low, cmp.gap_ci_high) == pytest.approx((cmp.gap - z * se_gap, cmp.gap + z * se_gap), rel=1e-9)
    assert cmp.n == 600 and cmp.tidy().height == 3
    with pytest.raises(MethodInputError, match=r"^y: needs both outcomes"):
        compare_auc(np.ones(5), a[:5], b[:5])
    with pytest.raises(MethodInputError, match=r"^y: must be 0/1"):
        compare_auc(np.r_[0, 2, 1], a[:3], b[:3])
    with pytest.raises(MethodInputError, match=r"^score, reference: need one value per label"):
        compare_auc(y, a[:10], b)


def _frame(n_clusters: int = 150, seed: int = 2) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 6, n_clusters)
    g = np.repeat(np.arange(n_clusters), size)
    t = rng.random(g.size) < 0.4
    y = (rng.random(g.size) < 0.1 + 0.05 * t + 0.1 * rng.random(n_clusters)[g]).astype(int)
    return pl.DataFrame({"y": y, "t": t, "g": g})


def test_difference_in_means_is_the_sandwich_by_hand() -> None:
    """Cluster-robust (CR1: G/(G-1) x (N-1)/(N-K) times the sandwich) and, without clusters, HC2, which for a
    difference in means is Neyman's s1^2/n1 + s0^2/n0."""
    from newretail.methods.comparisons import difference_in_means

    df = _frame()
    y, t, g = df["y"].to_numpy().astype(float), df["t"].to_numpy(), df["g"].to_numpy()
    diff = y[t].mean() - y[~t].mean()
    x = np.column_stack([np.ones(y.size), t.astype(float)])
    bread = np.linalg.inv(x.T @ x)
    e = y - x @ (bread @ x.T @ y)
    scores = np.vstack([(x[g == c] * e[g == c, None]).sum(axis=0) for c in np.unique(g)])
    n, k, clusters = y.size, 2, np.unique(g).size
    cr1 = clusters / (clusters - 1) * (n - 1) / (n - k) * bread @ scores.T @ scores @ bread
    effect = difference_in_means(df, outcome="y", treatment="t", cluster="g")
    assert effect.estimate == pytest.approx(diff, rel=1e-12)
    assert effect.se == pytest.approx(math.sqrt(cr1[1, 1]), rel=1e-10)
    z = 1.959963984540054
    assert (effect.ci_low, effect.ci_high) == pytest.approx((diff - z * effect.se, diff + z * effect.se), rel=1e-10)
    neyman = math.sqrt(y[t].var(ddof=1) / t.sum() + y[~t].var(ddof=1) / (~t).sum())
    assert difference_in_means(df, outcome="y", treatment="t").se == pytest.approx(neyman, rel=1e-10)
    # a pandas frame, 0/1 instead of bool, and string cluster labels answer alike
    same = df.with_columns(pl.col("t").cast(pl.Int8), pl.format("u{}", pl.col("g")).alias("g"))
    again = difference_in_means(same.to_pandas(), outcome="y", treatment="t", cluster="g")
    assert (again.estimate, again.se) == pytest.approx((effect.estimate, effect.se), rel=1e-12)
    with pytest.raises(MethodInputError, match=r"^column 't': every row is in the same arm"):
        difference_in_means(df.filter(pl.col("t")), outcome="y", treatment="t")
    with pytest.raises(MethodInputError, match=r"^column 'nope' is not in df"):
        difference_in_means(df, outcome="y", treatment="t", cluster="nope")
