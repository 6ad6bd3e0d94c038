"""Edges of the methods' documented behaviours that the rest of the suite does not state (issue 30): each test names a
behaviour of the public API and compares it with an independent reference (numpy, scipy, pyfixest, a value built in
the test). Each docstring ends with the wrong edit of the code it was shown to fail on, by hand, before it was kept."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from scipy import stats

from newretail.methods import DiD, MethodInputError
from newretail.methods.intervals import poisson_interval, proportion_interval, ratio_interval, standardized_ratio
from newretail.methods.learners import LightGBMSettings, ProbabilityModel
from newretail.methods.queueing import ErlangC

# ---------------------------------------------------------------------------------------------- LightGBM subsamples


def test_rows_above_the_limit_are_that_many_distinct_sorted_members_of_the_index() -> None:
    """Fails if rows are drawn with replacement, left unsorted, or drawn from positions instead of the index."""
    index = np.arange(7, 7 + 3 * 400, 3)[::-1].copy()  # 400 labels, not positions, in descending order
    rows = LightGBMSettings(max_train_rows=150, random_state=4).rows(index, salt=2)
    assert rows.size == 150
    assert np.unique(rows).size == 150  # distinct: without replacement
    assert np.all(np.diff(rows) > 0)  # sorted ascending
    assert np.isin(rows, index).all()  # members of the index


def test_rows_are_the_same_for_the_same_seed_and_salt_and_differ_for_another() -> None:
    """Fails if the salt (or the random state) is left out of the subsample's seed."""
    index = np.arange(1000)
    settings = LightGBMSettings(max_train_rows=200, random_state=9)
    first = settings.rows(index, salt=5)
    assert np.array_equal(first, LightGBMSettings(max_train_rows=200, random_state=9).rows(index, salt=5))
    assert not np.array_equal(first, settings.rows(index, salt=6))
    assert not np.array_equal(first, LightGBMSettings(max_train_rows=200, random_state=10).rows(index, salt=5))


@pytest.mark.parametrize("size", [100, 299, 300])
def test_rows_at_or_below_the_limit_are_the_index_itself_in_its_order(size: int) -> None:
    """Fails if the limit is compared with ``<`` instead of ``<=`` (at the limit the rows would be resorted)."""
    index = np.random.default_rng(size).permutation(10_000)[:size]  # unsorted: a subsample would come back sorted
    out = LightGBMSettings(max_train_rows=300).rows(index, salt=1)
    assert np.array_equal(out, index)


def test_a_learner_at_its_row_limit_trains_on_every_row_and_below_it_on_a_seeded_subsample() -> None:
    """Through the public :class:`ProbabilityModel`: ``max_train_rows`` equal to the rows is the same model as None
    (every row), while fewer rows give a model that depends on ``random_state``. Fails if the classifier is fitted
    on every row of ``index`` instead of the subsample (``max_train_rows`` ignored)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + rng.normal(0, 1, 400) > 0).astype(np.int8)
    common = {"n_estimators": 5, "num_leaves": 4, "min_child_samples": 10}
    every = ProbabilityModel(max_train_rows=None, **common).fit(X, y).predict(X)
    at_limit = ProbabilityModel(max_train_rows=400, **common).fit(X, y).predict(X)
    assert np.array_equal(every, at_limit)
    sub = [ProbabilityModel(max_train_rows=150, random_state=s, **common).fit(X, y).predict(X) for s in (0, 1)]
    assert not np.allclose(sub[0], every) and not np.allclose(sub[0], sub[1])


# ---------------------------------------------------------------------------------------------- count intervals


def test_scalar_inputs_give_floats_and_one_array_among_scalars_gives_arrays_of_its_shape() -> None:
    """Documented: floats for scalar input, arrays (broadcast) otherwise. Numpy scalars count as scalars. Fails if the
    result is scalar when *any* input is (``all`` -> ``any``), or if broadcasting is dropped."""
    out = ratio_interval(np.int64(30), 1000, 20, np.float64(1000.0))
    assert all(type(v) is float for v in out)
    n1 = np.array([[800, 1000, 1200], [1500, 2000, 4000]])
    ratio, low, high = ratio_interval(30, n1, 20, 1000)
    for arr in (ratio, low, high):
        assert isinstance(arr, np.ndarray) and arr.shape == (2, 3) and arr.dtype == np.float64
    for i, j in np.ndindex(2, 3):
        one = ratio_interval(30, int(n1[i, j]), 20, 1000)
        assert (ratio[i, j], low[i, j], high[i, j]) == pytest.approx(one, rel=1e-12)
        assert ratio[i, j] == pytest.approx((30 / n1[i, j]) / (20 / 1000), rel=1e-12)  # by hand
    exposure = np.array([0.5, 2.0, 10.0])
    rate, plow, phigh = poisson_interval(7, exposure=exposure)
    assert rate.shape == plow.shape == phigh.shape == (3,)
    for e, r, lo, hi in zip(exposure, rate, plow, phigh, strict=True):
        assert (r, lo, hi) == pytest.approx(poisson_interval(7, exposure=float(e)), rel=1e-12)
    p, _, _ = proportion_interval(np.array([3]), 10)
    assert isinstance(p, np.ndarray) and p.shape == (1,)  # a one-element array stays an array


def test_more_successes_than_trials_is_refused_naming_the_first_offending_element() -> None:
    """Earlier elements have x == n, which is allowed; the message shows the first element with x > n (plain
    numbers). Fails if x == n is refused (``>`` -> ``>=``) or if another element's values are shown."""
    x = np.array([5, 9, 7, 12])
    n = np.array([5, 9, 6, 10])  # 5 == 5 and 9 == 9 allowed; 7 > 6 is the first offender, 12 > 10 the second
    ok_x0, ok_n0 = np.array([1, 1, 1, 1]), np.array([4, 4, 4, 4])
    with pytest.raises(MethodInputError, match=r"^x1: more successes than trials \(7 > 6\)$"):
        ratio_interval(x, n, ok_x0, ok_n0)
    with pytest.raises(MethodInputError, match=r"^x0: more successes than trials \(7 > 6\)$"):
        ratio_interval(ok_x0, ok_n0, x, n)
    with pytest.raises(MethodInputError, match=r"^successes: more successes than trials \(7 > 6\)$"):
        proportion_interval(x, n)
    ratio, low, high = ratio_interval(x[:2], n[:2], ok_x0[:2], ok_n0[:2])  # x == n everywhere: an answer
    assert ratio == pytest.approx([4.0, 4.0]) and np.all(low < 4.0) and np.all(high > 4.0)
    share, _, top = proportion_interval(x[:2], n[:2])
    assert share == pytest.approx([1.0, 1.0]) and top == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_a_zero_count_has_a_lower_bound_of_exactly_zero_and_garwoods_upper_bound(alpha: float) -> None:
    """A zero count: lower bound exactly 0, upper bound chi2(1 - alpha/2, 2) / 2 / exposure (Garwood, scipy), as a
    scalar and inside an array. Fails if the array path uses another Poisson interval (Jeffreys', score) or drops
    ``alpha``."""
    rate, low, high = poisson_interval(0, exposure=4.0, alpha=alpha)
    assert (rate, low) == (0.0, 0.0)
    assert high == pytest.approx(stats.chi2.ppf(1 - alpha / 2, 2) / 2 / 4.0, rel=1e-12)
    counts = np.array([3, 0, 0, 8])
    exposures = np.array([1.0, 2.0, 5.0, 1.0])
    rates, lows, highs = poisson_interval(counts, exposure=exposures, alpha=alpha)
    assert np.array_equal(rates, counts / exposures)
    assert lows[1] == 0.0 and lows[2] == 0.0 and not np.isnan(lows).any()
    assert lows[0] == pytest.approx(stats.chi2.ppf(alpha / 2, 6) / 2, rel=1e-12)
    assert highs[2] == pytest.approx(stats.chi2.ppf(1 - alpha / 2, 2) / 2 / 5.0, rel=1e-12)


def test_strata_without_numerator_trials_are_left_out_of_the_standardized_ratio() -> None:
    """Strata with no numerator trials (one of them with no reference trials either) carry nothing: the ratio and
    its interval are the documented closed forms over the other strata, written out here. Fails if those strata
    are kept (``t1 > 0`` -> ``t1 >= 0``: their 0/0 proportions turn the answer into NaN)."""
    x1, n1 = np.array([30, 12, 0, 0]), np.array([1000, 400, 0, 0])
    x0, n0 = np.array([20, 10, 3, 0]), np.array([1000, 500, 100, 0])
    ratio, low, high = standardized_ratio(x1, n1, x0, n0)
    observed, expected = 42.0, 1000 * 0.02 + 400 * 0.02  # p1 = 0.03 and p0 = 0.02 in both kept strata
    var = (1000 * 0.03 * 0.97 + 400 * 0.03 * 0.97) / observed**2
    var += (1000**2 * 0.02 * 0.98 / 1000 + 400**2 * 0.02 * 0.98 / 500) / expected**2
    half = stats.norm.ppf(0.975) * np.sqrt(var)
    assert (ratio, low, high) == pytest.approx((1.5, 1.5 * np.exp(-half), 1.5 * np.exp(half)), rel=1e-12)


# ---------------------------------------------------------------------------------------------- queueing


def test_a_zero_handle_time_in_an_array_is_refused_with_one_line_naming_handle_s() -> None:
    """Fails if a zero handle time is allowed (``allow_zero=True``): the queue would divide by it."""
    with pytest.raises(MethodInputError) as caught:
        ErlangC(np.array([0.1, 0.2, 0.3]), np.array([60.0, 0.0, 30.0]))
    assert str(caught.value) == "handle_s: must be a finite number > 0, got 0.0"
    assert ErlangC(0.0, 60.0).load_erlangs == 0.0  # no arrivals is allowed: only the handle time must be positive


# ---------------------------------------------------------------------------------------------- panels


def _gapped_panel(seed: int) -> pl.DataFrame:
    """Ten units over six periods, a third treated from period 3, some rows missing at random; then a unit 99 seen
    only in period 0 and a period 9 seen only by unit 99: the last unit and the last period, both left without
    rows once the singletons are dropped (unit 99 loses its period-9 row first, then its period-0 row)."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(10), 6), np.tile(np.arange(6), 10)
    d = (unit % 3 == 0) & (time >= 3)
    y = rng.normal(size=10)[unit] + 0.3 * time + 1.5 * d + rng.normal(size=unit.size)
    keep = (rng.random(unit.size) > 0.15) | (time == 0)
    frame = pl.DataFrame({"unit": unit[keep], "time": time[keep], "y": y[keep], "d": d[keep]})
    extra = pl.DataFrame({"unit": [99, 99], "time": [0, 9], "y": [0.4, -2.0], "d": [False, False]})
    return pl.concat([frame, extra])


def test_a_panel_whose_last_unit_and_period_lose_every_row_equals_pyfixest() -> None:
    """The highest unit and period codes end up with no rows after the singletons go: effect and CRV1 error are
    pyfixest's. Fails if the singleton counts are taken without ``minlength`` (the emptied last codes go missing)."""
    import pyfixest as pf

    frame = _gapped_panel(3)
    fit = DiD("unit", "time", "y", "d").fit(frame)
    peer = pf.feols(
        "y ~ d | unit + time",
        data=frame.with_columns(pl.col("d").cast(pl.Float64)).to_pandas(),
        vcov={"CRV1": "unit"},
        fixef_tol=1e-12,
    )
    tidy = peer.tidy()
    assert fit.n_obs_ == peer._N == frame.height - 2
    assert fit.n_singletons_ == 2 and fit.n_units_ == 10
    assert fit.effect_ == pytest.approx(tidy.loc["d", "Estimate"], abs=1e-10)
    assert fit.se_ == pytest.approx(tidy.loc["d", "Std. Error"], rel=1e-8)


def test_shuffled_rows_and_a_pandas_frame_give_identical_results() -> None:
    """Rows in any order, as polars or pandas, give bit-identical results. Fails if the rows are kept in their input
    order instead of sorted by (unit, time)."""
    frame = _gapped_panel(5)
    base = DiD("unit", "time", "y", "d").fit(frame)
    for seed in (1, 2):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        assert not shuffled.equals(frame)
        other = DiD("unit", "time", "y", "d").fit(shuffled.to_pandas() if seed == 2 else shuffled)
        assert (other.effect_, other.se_, other.p_value_, other.n_obs_) == (
            base.effect_,
            base.se_,
            base.p_value_,
            base.n_obs_,
        )


def test_a_fit_without_warnings_on_the_gapped_panel() -> None:
    """The gapped panel with emptied last codes fits silently (no numpy division or empty-slice warnings). Fails if
    the subset keeps the emptied unit and period codes (a group mean then divides by a zero weight)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = DiD("unit", "time", "y", "d").fit(_gapped_panel(7))
    assert np.isfinite([fit.effect_, fit.se_, fit.p_value_]).all()
