"""SyntheticControl: the simplex least-squares weights against scipy's SLSQP, recovery of a known synthetic unit,
the placebo design (each donor in turn, never with the treated unit as a donor), and one-line input errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest
from scipy import optimize

from newretail.methods import MethodInputError, SyntheticControl
from newretail.methods.synth import simplex_least_squares


@pytest.mark.parametrize("seed", range(8))
def test_simplex_least_squares_is_at_least_as_good_as_slsqp_and_feasible(seed: int) -> None:
    rng = np.random.default_rng(seed)
    periods, donors = rng.integers(3, 25), rng.integers(2, 40)
    a = rng.normal(size=(periods, donors)).cumsum(axis=0)
    b = a[:, : max(2, donors // 3)] @ rng.dirichlet(np.ones(max(2, donors // 3))) + rng.normal(0, 0.5, periods)
    w = simplex_least_squares(a, b)
    ref = optimize.minimize(
        lambda x: np.sum((a @ x - b) ** 2),
        np.full(donors, 1 / donors),
        method="SLSQP",
        bounds=[(0, 1)] * donors,
        constraints={"type": "eq", "fun": lambda x: x.sum() - 1},
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    assert w.min() >= 0 and w.sum() == pytest.approx(1, abs=1e-12)
    assert np.sum((a @ w - b) ** 2) <= ref.fun + 1e-8 * max(1.0, ref.fun)


def _panel(seed: int = 0, *, donors: int = 8, periods: int = 12, t0: int = 8, effect: float = -3.0) -> pl.DataFrame:
    """Donors are random walks; unit 0 is exactly 0.6 donor 1 + 0.4 donor 2 before ``t0`` and that plus ``effect``
    from ``t0`` on."""
    rng = np.random.default_rng(seed)
    y = 50 + rng.normal(size=(donors + 1, periods)).cumsum(axis=1) * 3
    y[0] = 0.6 * y[1] + 0.4 * y[2] + effect * (np.arange(periods) >= t0)
    return pl.DataFrame(
        {
            "unit": np.repeat(np.arange(donors + 1), periods),
            "year": np.tile(np.arange(2000, 2000 + periods), donors + 1),
            "y": y.ravel(),
        }
    )


def test_a_unit_that_is_a_convex_combination_of_donors_is_recovered() -> None:
    sc = SyntheticControl("unit", "year", "y", 0, 2008).fit(_panel())
    assert sc.weights_[1] == pytest.approx(0.6, abs=1e-8) and sc.weights_[2] == pytest.approx(0.4, abs=1e-8)
    assert sc.pre_rmspe_ == pytest.approx(0.0, abs=1e-7)
    post = sc.gap_.filter(pl.col("time") >= 2008)["gap"].to_numpy()
    np.testing.assert_allclose(post, -3.0, atol=1e-7)
    assert sc.effect_ == pytest.approx(-3.0, abs=1e-7)
    assert sc.placebo_rank_ == 1 and sc.p_value_ == pytest.approx(1 / 9)


def test_placebos_are_every_donor_fitted_without_the_treated_unit() -> None:
    """Each placebo's ratio equals a synthetic control fitted on the panel with the treated unit removed."""
    frame = _panel(1)
    sc = SyntheticControl("unit", "year", "y", 0, 2008).fit(frame)
    assert sorted(sc.placebo_ratios_) == list(range(1, 9))
    without = frame.filter(pl.col("unit") != 0)
    for donor in (1, 5):
        alone = SyntheticControl("unit", "year", "y", donor, 2008).fit(without)
        assert sc.placebo_ratios_[donor] == pytest.approx(alone.rmspe_ratio_, rel=1e-9)
    ratios = np.array(list(sc.placebo_ratios_.values()))
    assert sc.placebo_rank_ == 1 + np.sum(ratios >= sc.rmspe_ratio_)
    assert sc.p_value_ == sc.placebo_rank_ / 9


def test_a_number_of_placebos_draws_that_many_or_enumerates_all() -> None:
    frame = _panel(2)
    assert len(SyntheticControl("unit", "year", "y", 0, 2008, placebos=20).fit(frame).placebo_ratios_) == 8
    some = SyntheticControl("unit", "year", "y", 0, 2008, placebos=5, random_state=3).fit(frame)
    assert len(some.placebo_ratios_) == 5 and some.p_value_ == some.placebo_rank_ / 6


def test_demeaned_design_ignores_a_level_shift_of_the_treated_unit() -> None:
    frame = _panel(3)
    base = SyntheticControl("unit", "year", "y", 0, 2008, design="demeaned").fit(frame)
    shifted = frame.with_columns(y=pl.when(pl.col("unit") == 0).then(pl.col("y") + 40).otherwise("y"))
    moved = SyntheticControl("unit", "year", "y", 0, 2008, design="demeaned").fit(shifted)
    assert moved.effect_ == pytest.approx(base.effect_, abs=1e-8)
    assert moved.weights_ == pytest.approx(base.weights_, abs=1e-8)


def test_predictors_design_fits_and_reports_predictor_weights() -> None:
    frame = _panel(4).with_columns(x=pl.col("y") * 0.1 + pl.col("unit"))
    sc = SyntheticControl("unit", "year", "y", 0, 2008, predictors=["x"]).fit(frame)
    assert sum(sc.weights_.values()) == pytest.approx(1, abs=1e-6)
    assert set(sc.v_weights_) == {"x", "y"}


def test_equivalent_inputs_give_identical_answers() -> None:
    frame = _panel(5)
    base = SyntheticControl("unit", "year", "y", 0, 2008).fit(frame)
    for v in (frame.sample(fraction=1.0, shuffle=True, seed=2), frame.to_pandas()):
        fit = SyntheticControl("unit", "year", "y", 0, 2008).fit(v)
        assert fit.weights_ == base.weights_ and fit.gap_.equals(base.gap_) and fit.p_value_ == base.p_value_


@pytest.mark.parametrize(
    ("change", "kwargs", "column"),
    [
        (lambda f: f, {"treated_unit": 99}, "unit"),
        (lambda f: f, {"treated_unit": "0"}, "unit"),
        (lambda f: f, {"treatment_time": 1999}, "year"),
        (lambda f: f, {"treatment_time": 2001}, "year"),
        (lambda f: f.filter((pl.col("unit") != 3) | (pl.col("year") != 2004)), {}, "year"),
        (lambda f: pl.concat([f, f.head(1)]), {}, "unit, year"),
        (lambda f: f.with_columns(y=pl.when(pl.col("year") == 2003).then(float("nan")).otherwise("y")), {}, "y"),
        (lambda f: f.with_columns(y=pl.when(pl.col("year") == 2003).then(None).otherwise("y")), {}, "y"),
        (lambda f: f.filter(pl.col("unit") == 0), {}, "unit"),
        (lambda f: f.head(0), {}, "empty"),
        (lambda f: f, {"outcome": "sales"}, "sales"),
        (lambda f: f, {"alpha": 0.9}, "alpha"),
        (lambda f: f, {"design": "sdid"}, "design"),
        (lambda f: f, {"placebos": -1}, "placebos"),
    ],
)
def test_bad_inputs_get_one_line_errors(change, kwargs, column: str) -> None:  # type: ignore[no-untyped-def]
    args = {"unit": "unit", "time": "year", "outcome": "y", "treated_unit": 0, "treatment_time": 2008} | kwargs
    with pytest.raises(MethodInputError) as err:
        SyntheticControl(**args).fit(change(_panel(6)))
    assert "\n" not in str(err.value) and column in str(err.value), str(err.value)


def test_summary_is_frozen_and_plots_actual_synthetic_and_placebo_gaps() -> None:
    import matplotlib

    matplotlib.use("Agg")
    summary = SyntheticControl("unit", "year", "y", 0, 2008).fit(_panel(7)).summary()
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.p_value = 0.0  # type: ignore[misc]
    fig = summary.plot()
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) >= 9


def test_the_demeaned_synthetic_path_is_the_weighted_donors_shifted_to_the_treated_units_pre_period_level() -> None:
    """Demeaned SC (Ferman and Pinto): the counterfactual is the donors' weighted path plus the gap between the
    treated unit's and the weighted donors' pre-period means, built here from the reported weights."""
    frame = _panel(5).with_columns(y=pl.when(pl.col("unit") == 0).then(pl.col("y") + 25).otherwise("y"))
    sc = SyntheticControl("unit", "year", "y", 0, 2008, design="demeaned", progress=False).fit(frame)
    y = frame.sort("unit", "year")["y"].to_numpy().reshape(9, 12)
    w = np.array([sc.weights_.get(u, 0.0) for u in range(1, 9)])
    synthetic = w @ y[1:] + (y[0, :8].mean() - w @ y[1:, :8].mean(axis=1))
    np.testing.assert_allclose(sc.gap_["synthetic"].to_numpy(), synthetic, atol=1e-8)
    np.testing.assert_allclose(sc.gap_["gap"].to_numpy(), y[0] - synthetic, atol=1e-8)


@pytest.mark.parametrize(("placebos", "alpha"), [(8, 0.1), (18, 0.1), (19, 0.1), (39, 0.05), (30, 0.2)])
def test_the_interval_is_the_set_of_effects_the_placebo_test_does_not_reject(placebos: int, alpha: float) -> None:
    """Test inversion by brute force: a constant effect c is rejected when (1 + placebos whose |mean post gap| is
    at least |effect - c|) / (placebos + 1) <= alpha. With 8 placebos no p-value reaches 0.1: nothing is rejected
    and the interval is the whole line."""
    sc = SyntheticControl(
        "unit", "year", "y", 0, 2008, design="demeaned", placebos=placebos, alpha=alpha, random_state=1, progress=False
    ).fit(_panel(6, donors=40))
    sizes = np.sort(np.abs(sc.placebo_effects_))
    assert sizes.size == placebos

    def accepted(distance: float) -> bool:
        return (1 + np.sum(sizes >= distance)) / (placebos + 1) > alpha

    kept = [d for d in sizes if accepted(d)]
    if len(kept) == placebos and accepted(np.inf):  # every distance accepted
        assert sc.ci_ == (-np.inf, np.inf)
        return
    half = max(kept)
    assert not accepted(np.nextafter(half, np.inf))  # just beyond it the test rejects
    assert sc.ci_ == pytest.approx((sc.effect_ - half, sc.effect_ + half), rel=1e-12)
