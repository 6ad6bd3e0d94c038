"""Behaviour of newretail.methods that the mutation run (benchmarks/mutation.py) found untested: each function against
a closed form, a peer library (scipy) or a brute-force loop, never against its own formula."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from newretail.methods import Effect, ErlangC, MethodInputError, cross_fit
from newretail.methods import learners as ln
from newretail.methods._frames import unique_keys
from newretail.methods.intervals import poisson_interval, proportion_interval

CHEAP = settings(max_examples=60, deadline=None, derandomize=True)


# --------------------------------------------------------------------------------------------- counts: intervals
@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.32])
@pytest.mark.parametrize("exposure", [1.0, 2.5])
@pytest.mark.parametrize("count", [0, 1, 4, 37, 900])
def test_poisson_interval_is_garwoods_chi_square_interval(count: int, exposure: float, alpha: float) -> None:
    rate, low, high = poisson_interval(count, exposure=exposure, alpha=alpha)
    want_low = 0.0 if count == 0 else stats.chi2.ppf(alpha / 2, 2 * count) / 2 / exposure
    want_high = stats.chi2.ppf(1 - alpha / 2, 2 * count + 2) / 2 / exposure
    assert rate == pytest.approx(count / exposure, rel=1e-12)
    assert low == pytest.approx(want_low, rel=1e-9, abs=1e-12)
    assert high == pytest.approx(want_high, rel=1e-9)
    assert isinstance(rate, float) and isinstance(low, float) and isinstance(high, float)


def test_poisson_interval_arrays_answer_element_by_element() -> None:
    counts = np.array([0, 3, 50])
    rate, low, high = poisson_interval(counts, exposure=np.array([2.0, 1.0, 5.0]))
    for i, (k, e) in enumerate(zip(counts, [2.0, 1.0, 5.0], strict=True)):
        one = poisson_interval(int(k), exposure=e)
        assert (rate[i], low[i], high[i]) == pytest.approx(one, rel=1e-12)
    assert low[0] == 0.0 and high[0] > 0
    for bad in ("1", True, None, 0.0, -1.0, math.inf):
        with pytest.raises(MethodInputError, match="exposure"):
            poisson_interval(3, exposure=bad)
    with pytest.raises(MethodInputError, match="count, exposure"):
        poisson_interval(np.array([1, 2, 3]), exposure=np.array([1.0, 2.0]))


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("alpha", [0.05, 0.2])
@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (45, 1000), (500, 1000)])
def test_proportion_interval_is_wilsons_and_clopper_pearsons(k: int, n: int, alpha: float) -> None:
    p, low, high = proportion_interval(k, n, alpha=alpha)
    assert p == pytest.approx(k / n)
    assert (low, high) == pytest.approx(_wilson(k, n, alpha), rel=1e-9, abs=1e-12)
    _, low_cp, high_cp = proportion_interval(k, n, method="beta", alpha=alpha)
    want_low = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
    want_high = 1.0 if k == n else stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
    assert (low_cp, high_cp) == pytest.approx((want_low, want_high), rel=1e-9, abs=1e-12)


def test_proportion_interval_arrays_and_refusals() -> None:
    p, low, high = proportion_interval(np.array([1, 5]), np.array([10, 20]))
    assert p == pytest.approx([0.1, 0.25])
    assert (low[1], high[1]) == pytest.approx(_wilson(5, 20, 0.05), rel=1e-9)
    with pytest.raises(MethodInputError, match="method"):
        proportion_interval(1, 10, method="wald")
    with pytest.raises(MethodInputError, match="more successes than trials"):
        proportion_interval(11, 10)
    with pytest.raises(MethodInputError, match="successes, n"):
        proportion_interval(np.array([1, 2, 3]), np.array([10, 20]))
    with pytest.raises(MethodInputError, match="n"):
        proportion_interval(0, 0)


# -------------------------------------------------------------------------------------------------- queueing
def _erlang_c(n: int, load: float) -> float:
    """Erlang C by its factorial sums (textbook form)."""
    top = load**n / math.factorial(n) * n / (n - load)
    return top / (sum(load**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("lam", "aht"), [(0.05, 180.0), (0.3, 40.0), (1 / 6, 240.0)])
def test_erlang_c_wait_probability_and_occupancy_by_hand(lam: float, aht: float) -> None:
    q = ErlangC(lam, aht)
    load = lam * aht
    for n in range(math.floor(load) + 1, math.floor(load) + 6):
        assert q.p_wait(n) == pytest.approx(_erlang_c(n, load), rel=1e-9)
        assert q.occupancy(n) == pytest.approx(load / n, rel=1e-12)
    under = math.floor(load)
    if under >= 1:
        assert q.p_wait(under) == 1.0  # no more agents than load: everybody waits
        assert q.occupancy(under) == pytest.approx(min(load / under, 1.0))
    assert math.isnan(q.occupancy(0))
    assert ErlangC(0.0, aht).p_wait(3) == 0.0  # nobody arrives, nobody waits
    both = q.occupancy(np.array([under + 1, under + 3]))
    assert both == pytest.approx([load / (under + 1), load / (under + 3)])


# ------------------------------------------------------------------------------------------------ curves
def _gain_by_loop(score: np.ndarray, values: np.ndarray, k: int) -> float:
    top = sorted(range(score.size), key=lambda i: (-score[i], i))[:k]
    return sum(values[i] for i in top) / score.size


def _qini_by_loop(score: np.ndarray, t: np.ndarray, y: np.ndarray, k: int) -> float:
    top = sorted(range(score.size), key=lambda i: (-score[i], i))[:k]
    nt = sum(t[i] for i in top)
    nc = k - nt
    yt = sum(y[i] for i in top if t[i] == 1)
    yc = sum(y[i] for i in top if t[i] == 0)
    return (yt - yc * nt / nc if nc > 0 else 0.0) / score.size


rows = st.integers(min_value=2, max_value=40)


@CHEAP
@given(n=rows, points=st.integers(min_value=2, max_value=15), seed=st.integers(0, 2**31 - 1))
def test_gain_and_qini_curves_equal_a_loop_over_the_top_rows(n: int, points: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 5, size=n).astype(float)  # ties on purpose: the order among ties is the row order
    values = rng.normal(size=n)
    t = rng.integers(0, 2, size=n)
    y = rng.integers(0, 2, size=n)
    share, gain = ln.gain_curve(score, values, points=points)
    counts = np.unique(np.linspace(0, n, points).round().astype(int))
    assert share == pytest.approx(counts / n)
    assert gain == pytest.approx([_gain_by_loop(score, values, k) for k in counts], abs=1e-12)
    share_q, qini = ln.qini_curve(score, t, y, points=points)
    assert share_q == pytest.approx(counts / n)
    assert qini == pytest.approx([_qini_by_loop(score, t, y, k) for k in counts], abs=1e-12)


def test_area_over_random_against_hand_computed_areas() -> None:
    # a perfect ranking of one positive among two rows: the curve rises to 1 at half, random is the diagonal
    assert ln.area_over_random(np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 1.0])) == pytest.approx(0.25)
    assert ln.area_over_random(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.0, 1.0])) == pytest.approx(-0.25)
    share = np.linspace(0, 1, 11)
    assert ln.area_over_random(share, 3 * share) == pytest.approx(0.0, abs=1e-12)  # random targeting
    curve = np.sqrt(share)
    assert ln.area_over_random(share, curve) == pytest.approx(
        float(np.sum((curve - share)[1:] + (curve - share)[:-1]) / 2 * 0.1)
    )
    half = np.array([0.0, 0.25, 0.5])  # the end point need not be the whole population
    assert ln.area_over_random(half, np.array([0.0, 2.0, 2.0])) == pytest.approx(0.25)


# --------------------------------------------------------------------------------------------- cross-fitting
def test_cross_fit_keeps_groups_in_one_fold_and_recovers_a_randomized_effect() -> None:
    """The fold and shape checks are exact. The statistical ones, measured over seeds 0-999 of this design (4,000
    rows, 3 folds, 40 trees): the mean T- and X-uplift minus the true 2.0 had means -0.0004 and -0.0004 and standard
    deviations 0.016 and 0.016 (near normal; largest error 0.049), so the band of 0.15 is 9.5 spreads wide; the
    share of propensities in (0.3, 0.7) had mean 0.990 and spread 0.0045 (bound 0.95: 8.8 spreads; smallest 0.972);
    the outcome model's correlation with x1 had mean 0.989 (spread 0.001; bound 0.8). False-failure rate far below
    1 in 1,000,000 per run. The uplift band fails an uplift of the wrong sign or none (2 away), and one shrunk or
    inflated by a tenth (0.2 off: 12 spreads from the mean, 3 beyond the band)."""
    rng = np.random.default_rng(3)
    n = 4000
    groups = np.repeat(np.arange(n // 4), 4)
    X = rng.normal(size=(n, 2)).astype(np.float32)
    t = (rng.random(n) < 0.5).astype(np.int8)
    y = 1.0 + X[:, 0] + 2.0 * t + rng.normal(0, 0.5, size=n)  # a continuous outcome, effect 2
    fit = cross_fit(X, t, y, groups=groups, folds=3, n_estimators=40, min_child_samples=50)
    assert set(np.unique(fit.fold)) == {0, 1, 2}
    per_group = pl.DataFrame({"g": groups, "f": fit.fold}).group_by("g").agg(pl.col("f").n_unique())
    assert (per_group["f"] == 1).all()  # a group never straddles folds
    sizes = np.bincount(fit.fold)
    assert sizes.min() > 0.25 * n
    for arr in (fit.propensity, fit.mu0, fit.mu1, fit.uplift_t, fit.uplift_x):
        assert arr.shape == (n,) and np.isfinite(arr).all()
    assert ((fit.propensity > 0.3) & (fit.propensity < 0.7)).mean() > 0.95  # randomized at one half
    assert fit.uplift_t == pytest.approx(fit.mu1 - fit.mu0)
    assert fit.uplift_t.mean() == pytest.approx(2.0, abs=0.15)
    assert fit.uplift_x.mean() == pytest.approx(2.0, abs=0.15)
    assert np.corrcoef(fit.mu0, X[:, 0])[0, 1] > 0.8  # the outcome model learnt the covariate
    again = cross_fit(X, t, y, groups=groups, folds=3, n_estimators=40, min_child_samples=50)
    assert np.array_equal(again.fold, fit.fold) and np.allclose(again.uplift_x, fit.uplift_x)
    other = cross_fit(X, t, y, groups=groups, folds=3, n_estimators=40, min_child_samples=50, random_state=1)
    assert not np.array_equal(other.fold, fit.fold)


def test_cross_fit_refusals_name_the_argument() -> None:
    X, t, y = np.zeros((6, 1)), np.array([0, 1] * 3), np.array([0, 1, 0, 1, 1, 0])
    with pytest.raises(MethodInputError, match="groups"):
        cross_fit(X, t, y, groups=np.arange(5))
    with pytest.raises(MethodInputError, match="folds"):
        cross_fit(X, t, y, groups=np.arange(6), folds=True)  # type: ignore[arg-type]
    with pytest.raises(MethodInputError, match="groups: 2 distinct groups cannot fill 3 folds"):
        cross_fit(X, t, y, groups=np.array([0, 0, 0, 1, 1, 1]), folds=3)


# ---------------------------------------------------------------------------------------------- frames, plots
def test_unique_keys_refuses_duplicates_and_missing_keys_by_name() -> None:
    ok = pl.DataFrame({"unit": [1, 1, 2], "week": [0, 1, 0]})
    unique_keys(ok, ["unit", "week"])
    with pytest.raises(MethodInputError, match=r"panel: duplicate rows for \(unit, week\) = \{'unit': 1, 'week': 0\}"):
        unique_keys(pl.DataFrame({"unit": [1, 1, 2], "week": [0, 0, 0]}), ["unit", "week"], what="panel")
    with pytest.raises(MethodInputError, match="column 'week': 1 missing values"):
        unique_keys(pl.DataFrame({"unit": [1, 2], "week": [0, None]}), ["unit", "week"])
    unique_keys(pl.DataFrame({"unit": [1, 2, 2], "week": [0, 0, 1]}), ["unit", "week"])


def test_effect_plot_draws_the_interval_and_the_references() -> None:
    effect = Effect(estimate=0.3, se=0.1, ci_low=0.1, ci_high=0.6, n=1234, name="ATT", method="AIPW")
    fig = effect.plot(reference={"truth": 0.25, "naive": 0.9})
    ax = fig.axes[0]
    segments = [seg for coll in ax.collections for seg in coll.get_segments()]
    xs = sorted({round(float(x), 9) for seg in segments for x, _ in seg})
    assert xs[0] == pytest.approx(0.1) and xs[-1] == pytest.approx(0.6)  # the error bar spans the interval
    point = [line for line in ax.lines if line.get_marker() == "o"]
    assert point and float(point[0].get_xdata()[0]) == pytest.approx(0.3)
    vertical = sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() != "o" and line.get_label())
    assert {0.0, 0.25, 0.9} <= set(np.round(vertical, 9)) | {0.0}
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["truth", "naive"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ATT"]
    assert "AIPW" in ax.get_title() and "1,234" in ax.get_title()
    _, own = plt.subplots()
    assert effect.plot(ax=own) is own.get_figure()
    assert own.get_legend() is None  # no references, no legend
    plt.close("all")


def test_erlang_c_answers_arrays_caps_occupancy_and_stays_silent() -> None:
    import warnings

    q = ErlangC(0.3, 40.0)  # 12 Erlangs
    agents = np.array([13, 15, 20])
    assert q.p_wait(agents) == pytest.approx([_erlang_c(int(n), 12.0) for n in agents], rel=1e-9)
    assert q.occupancy(8) == 1.0  # 12 Erlangs on 8 agents: busy all the time, not 150%
    assert ErlangC(0.5, 1.0).occupancy(1) == pytest.approx(0.5)  # one agent is a valid staff
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warning for zero agents: the answer is NaN, said so
        assert math.isnan(q.occupancy(0))
        assert np.isnan(q.occupancy(np.array([0, 12])))[0]


def test_unique_keys_names_the_frame_df_by_default() -> None:
    with pytest.raises(MethodInputError, match=r"^df: duplicate rows"):
        unique_keys(pl.DataFrame({"unit": [1, 1]}), ["unit"])


def test_curves_take_booleans_default_to_101_points_and_stay_silent() -> None:
    import warnings

    rng = np.random.default_rng(5)
    n = 300
    score, t, y = rng.random(n) < 0.4, rng.random(n) < 0.5, rng.random(n) < 0.3
    t[: n // 2] = True  # the top rows are all treated: no control yet, the qini guard must answer 0 silently
    score[: n // 2] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        share, qini = ln.qini_curve(score, t, y)
        _, gain = ln.gain_curve(score, y)
    _, qini_float = ln.qini_curve(score.astype(float), t.astype(float), y.astype(float))
    _, gain_float = ln.gain_curve(score.astype(float), y.astype(float))
    assert share.size == 101 and share[0] == 0.0 and share[-1] == 1.0
    assert qini == pytest.approx(qini_float) and gain == pytest.approx(gain_float)


def test_erlang_c_speed_of_answer_by_hand_and_staffing_refusals() -> None:
    import warnings

    for lam, aht in ((0.01, 100.0), (0.3, 40.0)):  # one Erlang exactly, and twelve
        q, load = ErlangC(lam, aht), lam * aht
        n = np.arange(math.floor(load) + 1, math.floor(load) + 5)
        want = [_erlang_c(int(k), load) * aht / (k - load) for k in n]
        assert q.asa_s(n) == pytest.approx(want, rel=1e-9)  # Erlang C wait x handle time / (agents - load)
        assert q.asa_s(int(n[0])) == pytest.approx(want[0], rel=1e-9)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unstable queue waits forever, without a warning
            assert math.isinf(q.asa_s(math.floor(load)))
    idle = ErlangC(0.0, 60.0)
    assert idle.asa_s(0) == 0.0 and idle.asa_s(3) == 0.0  # nobody arrives, nobody waits
    q = ErlangC(0.3, 40.0)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(MethodInputError, match=r"^service_level: must be a share"):
            q.agents(bad, 20.0)
    with pytest.raises(MethodInputError, match=r"^service_level: must be a number"):
        q.agents("0.8", 20.0)  # type: ignore[arg-type]
    with pytest.raises(MethodInputError, match=r"^shrinkage: must be a number"):
        q.agents(0.8, 20.0, shrinkage=math.nan)


# ----------------------------------------------------------------------- second run: panels, learners, queues
def _did_panel(seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(20), 8), np.tile(np.arange(8), 20)
    d = (unit % 2 == 1) & (time >= 4)
    y = rng.normal(size=20)[unit] + rng.normal(size=8)[time] + 0.4 * d + rng.normal(0, 0.5, unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d})


def test_did_p_value_is_where_its_interval_reaches_zero() -> None:
    """A t test and its interval agree: the interval at level 1 - p has zero at one end."""
    from newretail.methods import DiD

    fit = DiD("unit", "time", "y", "d").fit(_did_panel())
    assert 0.0 < fit.p_value_ < 1.0
    at_p = DiD("unit", "time", "y", "d", alpha=fit.p_value_).fit(_did_panel())
    assert min(abs(at_p.ci_[0]), abs(at_p.ci_[1])) == pytest.approx(0.0, abs=1e-8 * abs(fit.effect_))
    assert fit.summary().p_value == fit.p_value_


def test_panel_methods_refuse_a_summary_before_fit_and_bad_windows_naming_the_argument() -> None:
    from newretail.methods import DiD, EventStudy

    with pytest.raises(MethodInputError, match=r"^DiD: call fit\(df\) before summary\(\)$"):
        DiD("unit", "time", "y", "d").summary()
    with pytest.raises(MethodInputError, match=r"^treated: a column name"):
        EventStudy("unit", "time", "y", 123).fit(_did_panel())  # type: ignore[arg-type]
    with pytest.raises(MethodInputError, match=r"^window:"):
        EventStudy("unit", "time", "y", "d", window=(0, 5)).fit(_did_panel())  # the reference -1 is outside


def test_panel_plots_label_their_axes_with_the_outcome_and_the_event_time_unit() -> None:
    from newretail.methods import DiD, EventStudy

    ax = DiD("unit", "time", "y", "d").fit(_did_panel()).summary().plot(truth=0.4).axes[0]
    assert ax.get_xlabel() == "effect on y"
    assert "truth" in [t.get_text() for t in ax.get_legend().get_texts()]
    es = EventStudy("unit", "time", "y", "d").fit(_did_panel()).summary().plot(truth=0.4).axes[0]
    assert es.get_xlabel() == "event time (periods; -1 = reference)" and es.get_ylabel() == "effect on y"
    assert "true effect" in [t.get_text() for t in es.get_legend().get_texts()]
    binned = EventStudy("unit", "time", "y", "d", bin_width=2).fit(_did_panel()).summary().plot().axes[0]
    assert binned.get_xlabel().startswith("event time (bins of 2 periods;")
    plt.close("all")


def test_katz_ratio_has_no_interval_when_an_arm_has_no_successes_and_never_warns() -> None:
    import warnings

    from newretail.methods import ratio_interval

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x1, x0 in ((0, 5), (5, 0)):
            value, low, high = ratio_interval(x1, 100, x0, 100)
            assert math.isnan(low) and math.isnan(high)  # the log of a zero count has no interval
            assert value == (0.0 if x1 == 0 else math.inf)
        value, low, high = ratio_interval(np.array([0, 3]), np.array([10, 10]), np.array([0, 4]), np.array([10, 10]))
    assert math.isnan(value[0]) and math.isnan(low[0]) and np.isfinite(low[1])  # 0/0: no ratio, no warning


def test_quantile_interval_refuses_a_level_that_is_not_a_number() -> None:
    from newretail.methods import quantile_interval

    for q in ("0.5", None, True, 1.0):
        with pytest.raises(MethodInputError, match=r"^q"):
            quantile_interval(np.arange(50.0), q=q)  # type: ignore[arg-type]


def test_aipw_says_when_its_interval_is_cluster_robust() -> None:
    from newretail.methods import aipw_effect

    rng = np.random.default_rng(0)
    y, t = rng.normal(size=200), (rng.random(200) < 0.5).astype(np.int8)
    half, zero = np.full(200, 0.5), np.zeros(200)
    plain, _ = aipw_effect(y, t, half, zero, zero)
    clustered, _ = aipw_effect(y, t, half, zero, zero, groups=np.arange(200) // 4)
    assert not plain.method.endswith("cluster-robust")
    assert clustered.method == plain.method + ", cluster-robust"


def test_t_learner_on_a_binary_outcome_returns_probabilities_near_the_true_uplift() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    X = rng.normal(size=(n, 2)).astype(np.float32)
    t = (rng.random(n) < 0.5).astype(np.int8)
    p0 = 0.2 + 0.1 * (X[:, 0] > 0)
    uplift = 0.25 * (X[:, 1] > 0)
    y = (rng.random(n) < p0 + uplift * t).astype(np.float64)
    model = ln.TLearner(n_estimators=60, min_child_samples=100).fit(X, t, y)
    assert model.binary_
    mu0, mu1 = model.predict_outcomes(X)
    assert ((mu0 >= 0) & (mu0 <= 1) & (mu1 >= 0) & (mu1 <= 1)).all()
    assert np.abs(mu0 - p0).mean() < 0.05  # probabilities, not the 0/1 outcomes or classes
    assert np.abs(model.predict(X) - uplift).mean() < 0.07


def test_cross_fit_runs_with_its_default_two_folds_and_refuses_bad_outcomes_by_name() -> None:
    """The mean T-uplift lies within 0.15 of the true 1.0. Measured over seeds 0-999 of this design (2,000 rows, 2
    folds, 30 trees): error mean 0.0008, standard deviation 0.017 (near normal; largest 0.052), so the band is 9.0
    spreads wide: a false-failure rate far below 1 in 1,000,000 per run. It fails an uplift of the wrong sign or
    none (1 away) and one off by a fifth (0.2: 12 spreads from the mean, 3 beyond the band)."""
    rng = np.random.default_rng(8)
    n = 2000
    X = rng.normal(size=(n, 1)).astype(np.float32)
    t = (rng.random(n) < 0.5).astype(np.int8)
    y = X[:, 0] + t + rng.normal(0, 0.3, n)
    fit = cross_fit(X, t, y, groups=np.arange(n), n_estimators=30, min_child_samples=50)
    assert set(np.unique(fit.fold)) == {0, 1}
    assert fit.uplift_t.mean() == pytest.approx(1.0, abs=0.15)
    with pytest.raises(MethodInputError, match=r"^y: outcomes must be finite numbers"):
        ln.TLearner().fit(X, t, np.where(np.arange(n) == 3, np.nan, y))


def test_erlang_c_refusals_name_the_argument() -> None:
    for bad in ("fast", None, True, [1.0, "x"]):
        with pytest.raises(MethodInputError, match=r"^arrivals_per_s: must be a number"):
            ErlangC(bad, 300.0).service_level(3, 20)  # type: ignore[arg-type]


def test_erlang_c_service_level_at_one_erlang_is_the_closed_form() -> None:
    """One erlang on two agents: C(2, 1) = 1/3, so P(wait <= t) = 1 - exp(-t / AHT) / 3."""
    queue = ErlangC(1 / 300, 300.0)
    for t in (0.0, 20.0, 300.0):
        assert queue.service_level(2, t) == pytest.approx(1 - math.exp(-t / 300) / 3, rel=1e-12)


def test_erlang_c_answers_raise_no_numpy_warnings_on_edge_cases() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for arrivals in (0.0, 1e-9, 0.01, 1.0, 50.0):
            queue = ErlangC(arrivals, 240.0)
            load = arrivals * 240.0
            for agents in (0, 1, 2, 10, 200, 5000):
                levels = (queue.service_level(agents, 0.0), queue.service_level(agents, 30.0))
                asa = queue.asa_s(agents)
                if agents:
                    assert 0.0 <= queue.occupancy(agents) <= 1.0
                assert all(0.0 <= v <= 1.0 for v in levels) and levels[0] <= levels[1]
                if arrivals == 0.0:  # nobody arrives: everybody is answered at once
                    assert levels == (1.0, 1.0) and asa == 0.0
                elif agents <= load:  # unstable: the queue grows without bound
                    assert levels == (0.0, 0.0) and asa == math.inf
                else:
                    assert 0.0 <= asa < math.inf


def _sc_panel(seed: int = 0, *, donors: int = 25, periods: int = 12) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    y = 50 + rng.normal(size=(donors + 1, periods)).cumsum(axis=1) * 3
    y[0] = 0.6 * y[1] + 0.4 * y[2] - 3.0 * (np.arange(periods) >= 8) + rng.normal(0, 0.3, periods)
    unit = np.repeat(np.arange(donors + 1), periods)
    return pl.DataFrame({"unit": unit, "year": np.tile(np.arange(periods), donors + 1), "y": y.ravel()})


def test_synthetic_control_refuses_a_boolean_treatment_time_on_integer_times() -> None:
    from newretail.methods import SyntheticControl

    with pytest.raises(MethodInputError, match="treatment_time True is not in the data"):
        SyntheticControl("unit", "year", "y", 0, True).fit(_sc_panel())  # type: ignore[arg-type]


def test_synthetic_control_interval_needs_enough_placebos_and_summary_carries_the_rmspes() -> None:
    from newretail.methods import SyntheticControl

    few = SyntheticControl("unit", "year", "y", 0, 8).fit(_sc_panel(donors=12))  # 12 placebos: p >= 1/13 > 0.05
    assert few.ci_ == (-math.inf, math.inf)
    many = SyntheticControl("unit", "year", "y", 0, 8).fit(_sc_panel(donors=25))  # 25 placebos: p can reach 1/26
    assert np.isfinite(many.ci_).all() and many.ci_[0] < many.effect_ < many.ci_[1]
    post = many.gap_.filter(pl.col("time") >= 8)["gap"].to_numpy()
    summary = many.summary()
    assert summary.post_rmspe == pytest.approx(math.sqrt(np.mean(post**2)), rel=1e-12)
    assert summary.pre_rmspe == many.pre_rmspe_ and summary.post_rmspe == many.post_rmspe_


def test_synthetic_control_refuses_a_predictor_constant_across_units() -> None:
    """A predictor with one value in every unit cannot weigh donors; fed to the ADH search it turned every weight
    into 1/J without a word (found by the mutation run), so it is refused by name."""
    from newretail.methods import SyntheticControl

    frame = _sc_panel(2, donors=8).with_columns(
        x=pl.col("y").mean().over("unit") + pl.col("unit") % 3, flat=pl.lit(7.0)
    )
    flat = r"^predictors: 'flat' has the same pre-treatment mean in every unit, so it cannot weigh donors; drop it$"
    with pytest.raises(MethodInputError, match=flat):
        SyntheticControl("unit", "year", "y", 0, 8, design="adh", predictors=["x", "flat"]).fit(frame)
    fit = SyntheticControl("unit", "year", "y", 0, 8, design="adh", predictors=["x"]).fit(frame)
    assert max(fit.weights_.values()) > 0.5  # a real match, not the uniform 1/8


def test_a_treated_unit_copying_one_donor_has_an_infinite_rmspe_ratio_without_warnings() -> None:
    import warnings

    from newretail.methods import SyntheticControl

    rng = np.random.default_rng(0)
    y = 50 + rng.normal(size=(6, 10)).cumsum(axis=1)
    y[0] = y[3] + np.where(np.arange(10) >= 7, 2.0, 0.0)
    frame = pl.DataFrame({"u": np.repeat(np.arange(6), 10), "t": np.tile(np.arange(10), 6), "y": y.ravel()})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sc = SyntheticControl("u", "t", "y", 0, 7).fit(frame)
    assert sc.weights_[3] == 1.0 and sc.pre_rmspe_ == 0.0 and sc.rmspe_ratio_ == math.inf
    assert sc.effect_ == pytest.approx(2.0, abs=1e-12) and sc.placebo_rank_ == 1


def test_qini_curve_with_the_treated_rows_first_never_warns() -> None:
    import warnings

    score = np.arange(10.0)[::-1]
    t = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    y = np.array([1, 0, 1, 1, 0, 1, 0, 0, 1, 0], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _share, q = ln.qini_curve(score, t, y, points=11)
    assert q[0] == 0.0 and q[1] == 0.0  # no control row yet among the top rows: the curve is held at zero
    assert q[-1] == pytest.approx((3 - 2 * 5 / 5) / 10)  # all rows: 3 treated conversions - 2 control x 5/5


def test_synthetic_control_predictors_need_the_adh_design_said_first() -> None:
    from newretail.methods import SyntheticControl

    with pytest.raises(MethodInputError, match=r"^predictors: only the 'adh' design matches predictors$"):
        sc = SyntheticControl("unit", "year", "y", 0, 8, design="demeaned", predictors=["x"])
        sc.fit(_sc_panel().with_columns(x=pl.col("y")))


# ------------------------------------------------------------------------- messages, labels, summaries, warnings
def test_an_unknown_column_is_named_with_the_columns_the_frame_has() -> None:
    """One line a reader can act on: the missing name, the argument it was looked for in, the names there are."""
    from newretail.methods import DiD

    frame = pl.DataFrame({"unit": [0, 0, 1, 1], "time": [0, 1, 0, 1], "y": [1.0, 2.0, 1.5, 3.0], "d": [0, 1, 0, 0]})
    with pytest.raises(MethodInputError) as info:
        DiD("unit", "time", "sales", "d").fit(frame)
    assert str(info.value) == "column 'sales' is not in df (columns: unit, time, y, d)"
    wide = frame.with_columns(**{f"c{i}": pl.lit(0) for i in range(12)})
    with pytest.raises(MethodInputError, match=r"\(columns: unit, time, y, d, c0, .*c7, \.\.\.\)$"):
        DiD("unit", "time", "sales", "d").fit(wide)


def test_average_effect_says_whether_its_propensity_was_estimated_or_known() -> None:
    from newretail.methods import average_effect

    rng = np.random.default_rng(8)
    frame = pl.DataFrame({"x": rng.normal(size=400), "t": rng.random(400) < 0.5}).with_columns(
        y=pl.col("x") + pl.col("t").cast(pl.Float64) + rng.normal(size=400)
    )
    estimated = average_effect(frame, outcome="y", treatment="t", covariates=["x"], folds=2)
    known = average_effect(frame, outcome="y", treatment="t", covariates=["x"], propensity=0.5, folds=2)
    assert "estimated propensity" in estimated.method and "known propensity" not in estimated.method
    assert "known propensity" in known.method


def test_a_synthetic_control_summary_carries_the_unit_time_and_outcome_it_was_fitted_for() -> None:
    from newretail.methods import SyntheticControl

    rng = np.random.default_rng(9)
    y = 10 + rng.normal(size=(6, 10)).cumsum(axis=1)
    frame = pl.DataFrame({"store": np.repeat(np.arange(6), 10), "day": np.tile(np.arange(10), 6), "sales": y.ravel()})
    summary = SyntheticControl("store", "day", "sales", 3, 7, progress=False).fit(frame).summary()
    assert (summary.treated_unit, summary.treatment_time, summary.outcome) == (3, 7, "sales")


def test_settled_totals_keep_zeros_infinities_and_nan_without_a_warning() -> None:
    from newretail.methods.resampling import _settled

    with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _settled(np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1 / 3, 123456789.123456789]))
    np.testing.assert_array_equal(out[:5], [0.0, 0.0, np.inf, -np.inf, np.nan])
    assert out[5] == 0.333333333333 and out[6] == 123456789.123


def test_erlang_c_service_level_is_quiet_and_in_range_at_and_beyond_saturation() -> None:
    """At the load (agents = offered erlangs) and below it the queue never empties: the service level is 0 with no
    numpy warning, whatever the answer time (0, finite, or so long the exponential underflows)."""
    queue = ErlangC(1.0, 120.0)  # 120 erlangs
    with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        level = np.asarray(queue.service_level(np.array([1, 60, 119, 120, 121, 140, 400]), answer_s=1e9))
        zero = np.asarray(queue.service_level(np.array([120, 121]), answer_s=0.0))
    np.testing.assert_array_equal(level[:4], 0.0)
    assert np.all((level >= 0) & (level <= 1)) and level[-1] == pytest.approx(1.0)
    assert np.all((zero >= 0) & (zero <= 1))


# ----------------------------------------------------------------------- LightGBM's seed reaches the model (issue 30)
def test_the_seed_picks_lightgbms_binning_sample_above_200000_rows() -> None:
    """LightGBM places its histogram bins from a sample of 200,000 rows (``bin_construct_sample_cnt``) drawn with the
    model's seed, so above that many training rows the seed changes the model even without bagging: the same seed
    gives identical predictions, another seed different ones. Below it every row is read and the seed changes
    nothing (which is why a dropped seed went unnoticed on small inputs). Two trees keep it fast."""
    rng = np.random.default_rng(0)
    n = 250_000
    X = rng.normal(size=(n, 1)).astype(np.float32)
    t = (rng.random(n) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(np.int8)

    def predict(seed: int, rows: int) -> np.ndarray:
        model = ln.PropensityModel(n_estimators=2, num_leaves=4, max_train_rows=None, random_state=seed)
        return model.fit(X[:rows], t[:rows]).predict(X[:5_000])

    assert np.array_equal(predict(0, n), predict(0, n))
    assert not np.array_equal(predict(0, n), predict(1, n))
    assert np.array_equal(predict(0, 150_000), predict(1, 150_000))
    settings = ln.LightGBMSettings(random_state=7)
    assert settings.lightgbm_params()["random_state"] == 7 and settings.classifier().get_params()["random_state"] == 7
