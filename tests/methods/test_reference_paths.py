"""Numerical paths the other method tests do not reach, each checked against an outside reference: pyfixest and
statsmodels (the sparse and iterative absorption of two-way fixed effects, the unit-trend guard), scikit-learn's
``roc_auc_score`` and a coverage simulation (DeLong), statsmodels (Newcomb, HC2/CR1), counts read off ``mpdta`` with
pandas (staggered DiD cells), Kish's closed form (overlap), a brute-force scan and scipy's closed-form Erlang C
(staffing), scipy's bootstrap, exact synthetic-control solutions and simulations with known parameters (burst and
decay fits).

Statistical tests state their false-failure rate in their docstring; all data come from fixed seeds, so a run either
always passes or always fails (the stated rate is that of the property over seeds, not of flakiness).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from newretail.methods import DiD, EventStudy
from newretail.methods._within import DENSE_LIMIT


def _feols(frame: pl.DataFrame, formula: str, cluster: str) -> object:
    import pyfixest as pf

    fit = pf.feols(formula, data=frame.to_pandas(), vcov={"CRV1": cluster}, fixef_tol=1e-12)  # type: ignore[arg-type]
    return fit.tidy()


def _sparse_panel(seed: int, n_units: int, n_times: int, per_unit: int) -> pl.DataFrame:
    """Each unit observed over ``per_unit`` consecutive periods at a random offset and as many random periods (an
    unbalanced, sparse panel without singletons whose units link distant periods), staggered adoption inside the
    consecutive run (a third never treated), unit and time effects, effect 0.5."""
    rng = np.random.default_rng(seed)
    offset = rng.integers(0, n_times - per_unit + 1, n_units)
    unit = np.repeat(np.arange(n_units), 2 * per_unit)
    run = offset[:, None] + np.arange(per_unit)[None, :]
    time = np.hstack([run, rng.integers(0, n_times, (n_units, per_unit))]).ravel()
    keep = np.ones(time.size, dtype=bool)
    keep[np.unique(unit * n_times + time, return_index=True)[1]] = False
    unit, time = unit[~keep], time[~keep]  # one row per unit and period
    start = np.where(np.arange(n_units) % 3 == 0, 10**9, offset + rng.integers(1, per_unit, n_units))
    d = time >= start[unit]
    y = rng.normal(size=n_units)[unit] + rng.normal(size=n_times)[time] + 0.5 * d + rng.normal(size=unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d.astype(np.float64)})


def _did_equals_pyfixest(frame: pl.DataFrame) -> None:
    fit = DiD("unit", "time", "y", "d").fit(frame)
    tidy = _feols(frame, "y ~ d | unit + time", "unit")
    assert fit.effect_ == pytest.approx(tidy.loc["d", "Estimate"], abs=1e-6)  # type: ignore[attr-defined]
    assert fit.se_ == pytest.approx(tidy.loc["d", "Std. Error"], rel=1e-6)  # type: ignore[attr-defined]


def test_the_iterative_absorption_path_equals_pyfixest() -> None:
    """Both sides above DENSE_LIMIT levels (5,000 units x 4,500 periods, about 60,000 rows): G is never formed and the
    time effects are solved by conjugate gradients; DiD's effect and CRV1 error and an event study's coefficients
    equal pyfixest's to 1e-6."""
    frame = _sparse_panel(0, 5000, 4500, 6)
    assert min(frame["unit"].n_unique(), frame["time"].n_unique()) > DENSE_LIMIT  # the path under test
    _did_equals_pyfixest(frame)
    fit = EventStudy("unit", "time", "y", "d", window=(-3, 3)).fit(frame)
    times = np.sort(frame["time"].unique().to_numpy())
    frame = frame.with_columns(pos=pl.col("time").map_batches(lambda s: pl.Series(np.searchsorted(times, s))))
    frame = frame.with_columns(first=pl.when(pl.col("d") == 1).then(pl.col("pos")).min().over("unit"))
    frame = frame.with_columns(e=(pl.col("pos") - pl.col("first")).clip(-3, 3).fill_null(-1))
    dummies = {f"e{e + 10}": (pl.col("e") == e).cast(pl.Float64) for e in range(-3, 4) if e != -1}
    tidy = _feols(frame.with_columns(**dummies), f"y ~ {' + '.join(dummies)} | unit + time", "unit")
    est = fit.coefs_.filter(pl.col("event_time") != -1)
    names = [f"e{e + 10}" for e in est["event_time"].to_list()]
    np.testing.assert_allclose(est["estimate"].to_numpy(), tidy.loc[names, "Estimate"], atol=1e-6)  # type: ignore[attr-defined]
    np.testing.assert_allclose(est["se"].to_numpy(), tidy.loc[names, "Std. Error"], rtol=1e-6)  # type: ignore[attr-defined]


@pytest.mark.parametrize("n_units", [2**16, 2**16 + 1])
def test_the_gram_either_side_of_the_dense_cell_table_limit_equals_pyfixest(n_units: int) -> None:
    """256 periods and 2**16 units (a dense 2**24-cell table) or one unit more (the sparse product): the same
    effect and CRV1 error as pyfixest."""
    _did_equals_pyfixest(_sparse_panel(1, n_units, 256, 2))


def test_a_unit_seen_in_one_period_has_no_trend_and_the_rest_equal_statsmodels() -> None:
    """Unit trends on repeated cross-sections with times in seconds (1.7e9): group 7 is seen in one period only, so
    its within-group time variance is rounding noise (weights make its mean inexact) and its trend is not
    identified. The guard drops that trend; the effect equals statsmodels' WLS with every dummy and a trend for each
    other group (one left out, collinear with the time dummies)."""
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    g, k = np.array([(j, p) for j in range(8) for p in ([3] if j == 7 else range(6)) for _ in range(5)]).T
    d = ((g < 4) & (k >= 3)).astype(np.float64)
    y = rng.normal(size=8)[g] + 0.3 * g * k + rng.normal(size=6)[k] + 0.5 * d + rng.normal(size=g.size)
    w = rng.uniform(0.3, 3.0, g.size)
    frame = pl.DataFrame({"unit": g, "time": 1.7e9 + 86400.0 * k, "y": y, "d": d, "w": w})
    fit = DiD("unit", "time", "y", "d", unit_trends=True, panel=False, weights="w").fit(frame)
    columns = [d, *((g == j).astype(float) for j in range(8)), *((k == p).astype(float) for p in range(1, 6))]
    columns += [(g == j) * (k - 2.5) for j in range(1, 7)]
    reference = sm.WLS(y, np.column_stack(columns), weights=w).fit()
    assert np.linalg.matrix_rank(np.column_stack(columns)) == len(columns)
    assert fit.effect_ == pytest.approx(reference.params[0], abs=1e-9)


# ---------------------------------------------------------------- comparisons


def _binormal(rng: np.random.Generator, n: int, shift: float, noise: float) -> tuple[np.ndarray, ...]:
    """Labels, a reference score N(shift y, 1) and a noisier score (reference + N(0, noise^2)); true AUCs
    Phi(shift / sqrt 2) and Phi(shift / sqrt(2 (1 + noise^2)))."""
    y = (rng.random(n) < 0.4).astype(np.int8)
    reference = shift * y + rng.normal(size=n)
    return y, reference + noise * rng.normal(size=n), reference


def test_compare_auc_equals_sklearn_and_swapping_the_scores_swaps_the_results() -> None:
    from sklearn.metrics import roc_auc_score

    from newretail.methods import compare_auc

    y, score, reference = _binormal(np.random.default_rng(5), 400, 1.0, 1.0)
    score = np.round(score, 1)  # ties within and across the labels: midranks
    out = compare_auc(y, score, reference)
    assert out.auc == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert out.reference_auc == pytest.approx(roc_auc_score(y, reference), abs=1e-12)
    swapped = compare_auc(y, reference, score)
    assert (swapped.auc, swapped.auc_ci_low, swapped.auc_ci_high) == pytest.approx(
        (out.reference_auc, out.reference_ci_low, out.reference_ci_high), abs=1e-12
    )
    assert (swapped.reference_auc, swapped.reference_ci_low, swapped.reference_ci_high) == pytest.approx(
        (out.auc, out.auc_ci_low, out.auc_ci_high), abs=1e-12
    )
    assert (swapped.gap, swapped.gap_ci_low, swapped.gap_ci_high) == pytest.approx(
        (-out.gap, -out.gap_ci_high, -out.gap_ci_low), abs=1e-12
    )
    assert out.gap == pytest.approx(out.reference_auc - out.auc, abs=1e-12)
    tidy = out.tidy()
    assert tidy["term"].to_list() == ["AUC", "reference AUC", "reference minus score"]


def test_delong_intervals_cover_the_true_aucs_at_their_level() -> None:
    """Simulation: 400 binormal samples of 300 rows (correlated scores, true AUCs 0.760 and 0.682). Each of the
    three 95% DeLong intervals must cover its truth in 91.4%-98.6% of the samples: a band of 3.3 binomial standard
    errors around 95%, left by a correct interval about 1 time in 1,000 (an interval without the scores'
    covariance, or with the other AUC's error, falls outside it)."""
    from scipy import stats

    from newretail.methods import compare_auc

    shift, noise, draws = 1.0, 1.0, 400
    truth_ref = stats.norm.cdf(shift / math.sqrt(2))
    truth = stats.norm.cdf(shift / math.sqrt(2 * (1 + noise**2)))
    rng = np.random.default_rng(11)
    hits = np.zeros(3)
    for _ in range(draws):
        out = compare_auc(*_binormal(rng, 300, shift, noise))
        hits += [
            out.auc_ci_low <= truth <= out.auc_ci_high,
            out.reference_ci_low <= truth_ref <= out.reference_ci_high,
            out.gap_ci_low <= truth_ref - truth <= out.gap_ci_high,
        ]
    assert np.all((hits / draws >= 0.914) & (hits / draws <= 0.986)), hits / draws


def test_difference_interval_is_newcombs_hybrid_of_two_wilson_intervals() -> None:
    """Newcomb (1998) method 10 from its definition: the Wilson intervals (l, u) of each proportion combine as
    ``d - sqrt((p1 - l1)^2 + (u0 - p0)^2)`` and ``d + sqrt((u1 - p1)^2 + (p0 - l0)^2)`` (Newcomb's example
    56/70 vs 48/80 among the cases)."""
    from statsmodels.stats.proportion import proportion_confint

    from newretail.methods.comparisons import difference_interval

    for x1, n1, x0, n0, alpha in ((56, 70, 48, 80, 0.05), (9, 10, 3, 10, 0.1), (0, 20, 5, 40, 0.05)):
        l1, u1 = proportion_confint(x1, n1, alpha=alpha, method="wilson")
        l0, u0 = proportion_confint(x0, n0, alpha=alpha, method="wilson")
        p1, p0 = x1 / n1, x0 / n0
        diff, low, high = difference_interval(x1, n1, x0, n0, alpha=alpha)
        assert diff == pytest.approx(p1 - p0, abs=1e-15)
        assert low == pytest.approx(p1 - p0 - math.hypot(p1 - l1, u0 - p0), abs=1e-12)
        assert high == pytest.approx(p1 - p0 + math.hypot(u1 - p1, p0 - l0), abs=1e-12)


def test_difference_in_means_is_neymans_variance_and_pyfixests_crv1() -> None:
    """Without clusters HC2 is exactly Neyman's ``s1^2/n1 + s0^2/n0``; with clusters the error equals pyfixest's
    CRV1 (the same G/(G-1) (N-1)/(N-k) factor) and the interval is normal."""
    import pyfixest as pf
    from scipy import stats

    from newretail.methods import difference_in_means

    rng = np.random.default_rng(8)
    t = rng.random(300) < 0.3
    c = rng.integers(0, 25, 300)
    y = rng.normal(size=25)[c] + 0.4 * t + rng.normal(size=300) * np.where(t, 2.0, 1.0)
    frame = pl.DataFrame({"y": y, "t": t, "c": c})
    plain = difference_in_means(frame, outcome="y", treatment="t", alpha=0.1)
    neyman = math.sqrt(y[t].var(ddof=1) / t.sum() + y[~t].var(ddof=1) / (~t).sum())
    assert plain.estimate == pytest.approx(y[t].mean() - y[~t].mean(), abs=1e-12)
    assert plain.se == pytest.approx(neyman, rel=1e-10)
    z = stats.norm.ppf(0.95)
    assert (plain.ci_low, plain.ci_high) == pytest.approx((plain.estimate - z * neyman, plain.estimate + z * neyman))
    clustered = difference_in_means(frame, outcome="y", treatment="t", cluster="c")
    peer = pf.feols("y ~ t", data=frame.with_columns(pl.col("t").cast(pl.Float64)).to_pandas(), vcov={"CRV1": "c"})
    assert clustered.se == pytest.approx(float(peer.tidy().loc["t", "Std. Error"]), rel=1e-10)
    assert clustered.estimate == pytest.approx(plain.estimate, abs=1e-12)


# ---------------------------------------------------------------- staggered


def test_staggered_cells_count_the_cohort_and_its_controls_as_read_off_mpdta() -> None:
    """Callaway & Sant'Anna's mpdta (moderndid's copy): each ATT(g,t)'s ``n_treated`` is the counties first
    treated in g, ``n_control`` the never treated (or, not yet treated, those first treated after t and not in g),
    counted with pandas; the event table's times are csdid's and its ``n`` the counties of the cohorts reaching
    that event time; the cohort table's ``n`` each cohort's counties."""
    import importlib.metadata

    import pandas as pd

    from newretail.methods import StaggeredDiD

    path = importlib.metadata.distribution("moderndid").locate_file("moderndid/core/datasets/mpdta_long.pkl.gz")
    data = pd.read_pickle(str(path))
    data["d"] = (data["first.treat"] > 0) & (data["year"] >= data["first.treat"])
    first = data.groupby("countyreal")["first.treat"].first()
    for control in ("never", "not_yet"):
        fit = StaggeredDiD("countyreal", "year", "lemp", "d", control=control).fit(data)
        for row in fit.att_gt_.iter_rows(named=True):
            g, t = row["cohort"], row["time"]
            assert row["event_time"] == t - g
            assert row["n_treated"] == int((first == g).sum())
            later = (first == 0) | ((first > t) & (first != g)) if control == "not_yet" else first == 0
            assert row["n_control"] == int(later.sum()), (control, g, t)
        events = fit.event_["event_time"].to_list()
        assert events == list(range(2004 - 2007, 2007 - 2004 + 1))  # -3..3, csdid's dynamic event times
        for e, n in zip(events, fit.event_["n"].to_list(), strict=True):
            assert n == int(first[(first > 0) & (first + e >= 2004) & (first + e <= 2007)].size)
        cohorts = fit.group_["cohort"].to_list()
        assert fit.group_["n"].to_list() == [int((first == g).sum()) for g in cohorts]


# ---------------------------------------------------------------- effects


def _arms(seed: int, n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.1, 0.8, n)
    t = rng.random(n) < e
    return pl.DataFrame({"y": 1.0 * t + rng.normal(size=n), "t": t, "e": e, "half": np.full(n, 0.3)})


def _kish(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (w**2).sum())


@pytest.mark.parametrize("estimand", ["ate", "att"])
def test_overlap_effective_sizes_are_kishs_of_the_estimands_weights(estimand: str) -> None:
    """Closed form: with a known propensity e, the ATE weighs the treated 1/e and the untreated 1/(1-e), the ATT
    the treated 1 and the untreated e/(1-e); each arm's effective size is Kish's (sum w)^2 / sum w^2."""
    from newretail.methods import average_effect

    frame = _arms(2)
    e, t = frame["e"].to_numpy(), frame["t"].to_numpy()
    out = average_effect(frame, outcome="y", treatment="t", propensity="e", estimand=estimand)  # type: ignore[arg-type]
    assert out.overlap is not None
    w1, w0 = (1 / e[t], 1 / (1 - e[~t])) if estimand == "ate" else (np.ones(t.sum()), e[~t] / (1 - e[~t]))
    assert out.overlap.ess_treated == pytest.approx(_kish(w1), rel=1e-12)
    assert out.overlap.ess_untreated == pytest.approx(_kish(w0), rel=1e-12)
    assert out.overlap.treated_range == pytest.approx((e[t].min(), e[t].max()))
    assert out.overlap.untreated_range == pytest.approx((e[~t].min(), e[~t].max()))
    assert out.overlap.clipped == 0 and "known propensity" in out.method


def test_a_known_propensity_as_a_number_or_a_column_gives_the_same_fit() -> None:
    """A propensity of 0.3 given as a number or as a column of 0.3 is the same design: identical effect, error and
    overlap (Kish's size of equal weights: every row of the arm)."""
    from newretail.methods import average_effect

    frame = _arms(4)
    number = average_effect(frame, outcome="y", treatment="t", propensity=0.3)
    column = average_effect(frame, outcome="y", treatment="t", propensity="half")
    assert (number.estimate, number.se) == (column.estimate, column.se)
    assert number.overlap == column.overlap
    assert number.overlap is not None
    assert number.overlap.ess_treated == pytest.approx(frame["t"].sum(), rel=1e-12)
    varying = average_effect(frame, outcome="y", treatment="t", propensity="e")
    assert varying.estimate != number.estimate  # the column's values are used, not a constant


# ---------------------------------------------------------------- intervals and queues


def test_standardized_ratio_with_an_expected_count_at_most_one() -> None:
    """No numerator success with an expected count in (0, 1] is a ratio of 0 without an interval; with successes and
    one stratum the standardized ratio is the plain ratio with Katz's interval (statsmodels)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    from newretail.methods.intervals import standardized_ratio

    for n1 in (10, 20):  # expected 0.5 and exactly 1
        ratio, low, high = standardized_ratio([0], [n1], [1], [20])
        assert ratio == 0.0 and math.isnan(low) and math.isnan(high)
    assert math.isnan(standardized_ratio([0], [10], [0], [20])[0])  # nothing expected: no ratio
    ratio, low, high = standardized_ratio([2], [10], [1], [20])  # expected 0.5
    assert ratio == pytest.approx(4.0)
    assert (low, high) == pytest.approx(confint_proportions_2indep(2, 10, 1, 20, compare="ratio", method="log"))


def _erlang_c(n: int, load: float) -> float:
    """Erlang C from its textbook closed form with factorials (scipy.special)."""
    from scipy.special import factorial

    top = load**n / factorial(n) * n / (n - load)
    return float(top / (sum(load**k / factorial(k) for k in range(n)) + top))


def test_erlang_c_equals_the_closed_form_and_stays_a_share() -> None:
    from newretail.methods import ErlangC

    queue = ErlangC(0.2, 30.0)  # 6 Erlangs
    for n in (7, 9, 12):
        assert queue.p_wait(n) == pytest.approx(_erlang_c(n, 6.0), rel=1e-10)
        expected = 1 - _erlang_c(n, 6.0) * math.exp(-(n - 6.0) * 20 / 30.0)
        assert queue.service_level(n, 20) == pytest.approx(expected, rel=1e-10)
    loads = ErlangC(np.linspace(0.01, 50, 400), 1.0)
    for n in (1, 5, 51):
        for answer in (0.0, 0.1, 1e3):
            level = np.asarray(loads.service_level(n, answer))
            assert np.all((level >= 0) & (level <= 1))


def test_agents_is_the_fewest_meeting_a_target_met_exactly() -> None:
    """Targets equal to the service level some N reaches exactly: the answer is N itself, as a brute-force scan of
    service_level finds (the fewest agents with a level >= the target)."""
    from newretail.methods import ErlangC

    for load in (3.0, 17.5, 140.0):
        queue = ErlangC(load / 60.0, 60.0)
        levels = np.asarray(queue.service_level(np.arange(1, int(load) + 60), 20.0))
        for n in range(int(load) + 1, int(load) + 2 * int(math.sqrt(load)) + 6):
            target = float(queue.service_level(n, 20.0))
            if not 0 < target < 1:
                continue
            scan = int(np.flatnonzero(levels >= target)[0]) + 1
            assert scan == n
            assert queue.agents(target, 20.0, max_occupancy=None) == n, (load, n)


def test_bootstrap_interval_of_a_constant_sample_is_the_constant() -> None:
    """BCa is undefined on a constant sample (no jackknife spread); the documented fallback, the percentile
    interval, is the constant itself (scipy's percentile bootstrap), finite at both ends."""
    from scipy import stats

    from newretail.methods.resampling import bootstrap_interval

    def mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(x, axis=axis)

    low, high = bootstrap_interval((np.full(25, 3.0),), mean)
    peer = stats.bootstrap((np.full(25, 3.0),), mean, method="percentile", rng=0).confidence_interval
    assert (low[0], high[0]) == pytest.approx((peer.low, peer.high)) == (3.0, 3.0)
    x = np.random.default_rng(1).gamma(2.0, size=40)
    low, high = bootstrap_interval((x,), mean)
    assert np.isfinite(low[0]) and low[0] < x.mean() < high[0]


# ---------------------------------------------------------------- synthetic control weights and fits


def test_predictor_weights_recover_a_convex_combination_and_report_its_mean_squared_gap() -> None:
    """The treated unit's predictors are an exact convex combination of the donors' (unique: more predictors than
    donors) and its outcomes that combination plus 0.3 in every period: the weights are recovered and the loss is
    the mean squared gap, 0.3^2 = 0.09."""
    from newretail.methods._synth_weights import predictor_weights

    rng = np.random.default_rng(6)
    x0, z0 = rng.normal(size=(8, 4)), rng.normal(size=(10, 4))
    truth = np.array([0.5, 0.2, 0.3, 0.0])
    w, loss = predictor_weights(x0, x0 @ truth, z0, z0 @ truth + 0.3, np.full(8, 1 / 8))
    np.testing.assert_allclose(w, truth, atol=1e-6)
    assert loss == pytest.approx(0.09, rel=1e-5)
    assert loss == pytest.approx(float(np.mean((z0 @ truth + 0.3 - z0 @ w) ** 2)), rel=1e-12)


def test_fit_burst_recovers_simulated_parameters_within_their_errors() -> None:
    """Simulation: Poisson counts of a known burst over 900 s; the Wald statistic of the truth under the fit's
    covariance stays below chi-square(4)'s 0.999 quantile (a correct fit and covariance fail 1 time in 1,000)."""
    from scipy import stats

    from newretail.methods.bursts import burst_counts, fit_burst

    truth = np.array([np.log(40.0), np.log(120.0), np.log(5.0), 0.4])
    counts = np.random.default_rng(9).poisson(burst_counts(truth, 900))
    fit = fit_burst(counts)
    gap = fit.params - truth
    assert float(gap @ np.linalg.solve(fit.cov, gap)) < stats.chi2.ppf(0.999, 4)
    assert np.all(np.abs(gap) < 4 * np.sqrt(np.diag(fit.cov)))


def test_decay_fit_interval_covers_a_simulated_decay() -> None:
    """Simulation: binomial cells with a known decay 0.5 and effect 0.6 over 3 strata and repeats 0-5; the 99.9%
    profile-likelihood interval covers the decay (Wilks: a correct interval fails 1 time in 1,000) and is finite."""
    from scipy.special import expit

    from newretail.methods import decay_fit

    rng = np.random.default_rng(12)
    strata, treated, repeat = (a.ravel() for a in np.meshgrid(np.arange(3), [0, 1], np.arange(6), indexing="ij"))
    p = expit(np.array([-2.0, -1.5, -1.0])[strata] + 0.6 * treated * np.exp(-0.5 * repeat))
    trials = np.full(p.size, 4000)
    fit = decay_fit(rng.binomial(trials, p), trials, strata=strata, treated=treated, repeat=repeat, alpha=0.001)
    assert fit.ci_low <= 0.5 <= fit.ci_high < math.inf
