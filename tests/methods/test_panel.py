"""DiD and EventStudy against a peer library (linearmodels' PanelOLS), closed forms and simulated truth; equivalent
inputs (bool or 0/1, row order, pandas or polars) give identical answers, and bad inputs get one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from newretail.methods import DiD, EventStudy, MethodInputError


def _panel(seed: int = 0, *, n_units: int = 24, n_times: int = 10, drop: int = 0, effect: float = 0.5) -> pl.DataFrame:
    """Staggered adoption (a third never treated, the rest starting at time 4 or 7), unit and time effects, noise;
    ``drop`` rows removed at random (an unbalanced panel)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(n_times), n_units)
    start = np.where(np.arange(n_units) % 3 == 0, 10**6, np.where(np.arange(n_units) % 3 == 1, 4, 7))
    d = time >= start[unit]
    y = rng.normal(size=n_units)[unit] + rng.normal(size=n_times)[time] + effect * d + rng.normal(0, 0.3, unit.size)
    frame = pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d, "region": unit % 6})
    if drop:
        frame = frame.with_row_index("i").filter(~pl.col("i").is_in(rng.choice(frame.height, drop, replace=False)))
    return frame.drop("i", strict=False)


def _linearmodels(frame: pl.DataFrame, regressors: list[str], *, cluster: str = "unit") -> tuple[np.ndarray, ...]:
    """PanelOLS with unit effects absorbed and time dummies as regressors, clustered; the small-sample factor
    G/(G-1) (N-1)/(N-K) with K the regressors and time dummies (``debiased``, ``group_debias``; unit effects not
    counted since they are nested in the clusters). reghdfe, fixest and pyfixest count the nested unit effects as
    one parameter (fixest issue 554), so the SEs returned carry that one more: sqrt((N-K)/(N-K-1))."""
    from linearmodels import PanelOLS

    pdf = frame.to_pandas()
    times = sorted(pdf["time"].unique())
    for t in times[1:]:
        pdf[f"t{t}"] = (pdf["time"] == t).astype(float)
    exog = pdf[[*regressors, *[f"t{t}" for t in times[1:]]]].astype(float)
    data = pdf.set_index(["unit", "time"])
    exog.index = data.index
    model = PanelOLS(data["y"], exog, entity_effects=True)
    res = model.fit(
        cov_type="clustered",
        clusters=data[[cluster]] if cluster != "unit" else None,
        cluster_entity=cluster == "unit",
        debiased=True,
        count_effects=False,
        group_debias=True,
    )
    n, k = exog.shape
    one_more = np.sqrt((n - k) / (n - k - 1))
    return res.params[regressors].to_numpy(), res.std_errors[regressors].to_numpy() * one_more


@pytest.mark.parametrize("drop", [0, 17])
def test_did_equals_linearmodels_panelols_balanced_or_not(drop: int) -> None:
    frame = _panel(1, drop=drop)
    fit = DiD("unit", "time", "y", "d").fit(frame)
    coef, se = _linearmodels(frame.with_columns(pl.col("d").cast(pl.Float64)), ["d"])
    assert fit.effect_ == pytest.approx(coef[0], abs=1e-8)
    assert fit.se_ == pytest.approx(se[0], rel=1e-8)


def test_did_with_unit_trends_equals_the_regression_with_every_dummy() -> None:
    """Unit trends partialled out unit by unit give the coefficient of the full dummy regression (statsmodels), and
    its clustered error once the trends and unit effects (nested in the clusters) leave the small-sample count but
    for one (reghdfe's and fixest's convention)."""
    import statsmodels.api as sm

    frame = _panel(2, drop=9).with_columns(y=pl.col("y") + 0.05 * pl.col("unit") * pl.col("time"))
    fit = DiD("unit", "time", "y", "d", unit_trends=True).fit(frame)
    u, t = frame["unit"].to_numpy(), frame["time"].to_numpy()
    units, times = np.unique(u), np.unique(t)
    cols = [frame["d"].to_numpy().astype(float)]
    cols += [(u == i).astype(float) for i in units] + [(u == i) * t for i in units[1:]]
    cols += [(t == s).astype(float) for s in times[1:]]
    x = np.column_stack(cols)
    res = sm.OLS(frame["y"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": u})
    n, k_all = x.shape
    k_not_nested = 1 + times.size - 2 + 1  # treatment, time dummies (one collinear with the trends), nested units
    assert fit.effect_ == pytest.approx(res.params[0], abs=1e-8)
    assert fit.se_ == pytest.approx(res.bse[0] * np.sqrt((n - k_all) / (n - k_not_nested)), rel=1e-6)


def test_did_clustered_by_a_coarser_column_equals_linearmodels() -> None:
    frame = _panel(3)
    fit = DiD("unit", "time", "y", "d", cluster="region").fit(frame)
    coef, se = _linearmodels(frame.with_columns(pl.col("d").cast(pl.Float64)), ["d"], cluster="region")
    assert fit.effect_ == pytest.approx(coef[0], abs=1e-8)
    assert fit.se_ == pytest.approx(se[0], rel=1e-8)


def test_two_by_two_did_is_the_difference_of_differences() -> None:
    rng = np.random.default_rng(4)
    frame = pl.DataFrame(
        {"unit": np.repeat(np.arange(8), 2), "time": np.tile([0, 1], 8), "y": rng.normal(size=16)}
    ).with_columns(d=(pl.col("unit") < 3) & (pl.col("time") == 1))
    means = frame.group_by(pl.col("unit") < 3, "time").agg(pl.col("y").mean())

    def m(treated: bool, time: int) -> float:
        return float(means.filter((pl.col("unit") == treated) & (pl.col("time") == time))["y"][0])

    closed = (m(True, 1) - m(True, 0)) - (m(False, 1) - m(False, 0))
    assert DiD("unit", "time", "y", "d").fit(frame).effect_ == pytest.approx(closed, abs=1e-12)


def test_did_intervals_cover_the_true_effect_in_about_95_percent_of_simulated_panels() -> None:
    """A rate over 200 simulated panels against a binomial band: the true coverage of this design is 0.955 (3,000
    panels, docs/statistical_tests.md), so at least 179 and at most 199 of 200 intervals cover the truth except with
    probability 2.1e-4 (scipy.stats.binom: 1.1e-4 below, 1.0e-4 at 200). The band it replaced, [0.9, 0.99], failed
    1.3e-3 (mostly above). Intervals that cover 87% of the time fail it with probability 0.83."""
    covers = [DiD("unit", "time", "y", "d").fit(_panel(s, n_units=30)).ci_ for s in range(200)]
    covered = sum(low <= 0.5 <= high for low, high in covers)
    assert 179 <= covered <= 199


def test_event_study_equals_linearmodels_with_event_dummies_and_finds_the_dynamic_truth() -> None:
    frame = _panel(5, n_units=60)
    frame = frame.with_columns(first=pl.when(pl.col("d")).then(pl.col("time")).min().over("unit"))
    frame = frame.with_columns(e=pl.col("time") - pl.col("first"))
    events = sorted(int(e) for e in frame["e"].drop_nulls().unique() if e != -1)
    dummies = {f"e{e}": (pl.col("e") == e).fill_null(False).cast(pl.Float64) for e in events}
    coef, se = _linearmodels(frame.with_columns(**dummies), list(dummies))
    fit = EventStudy("unit", "time", "y", "d").fit(frame)
    est = fit.coefs_.filter(pl.col("event_time") != -1)
    assert est["event_time"].to_list() == events
    np.testing.assert_allclose(est["estimate"].to_numpy(), coef, atol=1e-8)
    np.testing.assert_allclose(est["se"].to_numpy(), se, rtol=1e-8)
    # against the simulation's truth (0.5 in every post week, no pre-trend), with rates measured over 800 seeds of
    # this design (1000-1799): each post week within 4.5 clustered SE (the largest of the 6 weeks' |z| had its
    # 99.9% quantile at 3.84 and maximum 3.93; t tails with 59 degrees of freedom give about 2 in 10,000 for 6
    # weeks); the pre-trend test's p above 1e-5 (its p fell below 0.01 in 3.1% and below 0.001 in 0.4% of the
    # panels, 3-4 times the nominal rate: a Wald test with 60 clusters; the smallest p was 5e-5; at that
    # over-rejection 1e-5 fails about 4 in 100,000). The bands they replaced, 80% of the weeks covered and p > 0.01,
    # failed 5.4% and 3.1% of the seeds.
    post = est.filter(pl.col("event_time") >= 0)
    z = (post["estimate"] - 0.5) / post["se"]
    assert float(z.abs().max()) < 4.5  # type: ignore[arg-type]
    assert fit.pretrend_p_ > 1e-5


def test_event_study_pretrend_test_flags_a_treated_group_on_its_own_trend() -> None:
    """A power test: the ever-treated units drift by 0.3 per period (noise sd 0.3), so the joint test of the
    pre-treatment coefficients must reject, asserted at p < 0.001. Its false-failure rate is the chance it misses:
    over seeds 0-1,999 of this design (60 units) log10 p had mean -25.7 and standard deviation 2.8 (near normal:
    skew -0.18), largest -17.4; the bound (-3) lies 8.1 spreads above the mean, so a miss is far rarer than 1 in
    1,000,000 per run. A pre-trend test that does not see the leads (p uniform under this trend) fails it 999 times
    in 1,000; the test's size without a trend is checked in the test above (p > 1e-5)."""
    frame = _panel(6, n_units=60).with_columns(y=pl.col("y") + 0.3 * pl.col("time") * (pl.col("d").any().over("unit")))
    assert EventStudy("unit", "time", "y", "d").fit(frame).pretrend_p_ < 0.001


def test_event_study_window_pools_the_far_event_times() -> None:
    fit = EventStudy("unit", "time", "y", "d", window=(-2, 1)).fit(_panel(7))
    assert fit.coefs_["event_time"].to_list() == [-2, -1, 0, 1]


def test_equivalent_inputs_give_identical_answers() -> None:
    """Regression: the old estimators read a 0/1 integer treatment column as row positions."""
    frame = _panel(8, drop=5)
    base = DiD("unit", "time", "y", "d").fit(frame)
    base_es = EventStudy("unit", "time", "y", "d").fit(frame)
    variants = [
        frame.with_columns(pl.col("d").cast(pl.Int64)),
        frame.with_columns(pl.col("d").cast(pl.Float64)),
        frame.sample(fraction=1.0, shuffle=True, seed=1),
        frame.to_pandas(),
        frame.with_columns(pl.col("d").cast(pl.Int8)).to_pandas().sample(frac=1.0, random_state=2),
    ]
    for v in variants:
        fit = DiD("unit", "time", "y", "d").fit(v)
        assert (fit.effect_, fit.se_, fit.ci_) == (base.effect_, base.se_, base.ci_)
        assert EventStudy("unit", "time", "y", "d").fit(v).coefs_.equals(base_es.coefs_)
    # labels as categories: the units sort by name, so sums run in another order (equal to rounding)
    relabelled = DiD("unit", "time", "y", "d").fit(
        frame.with_columns(pl.col("unit").cast(pl.String).cast(pl.Categorical))
    )
    assert relabelled.effect_ == pytest.approx(base.effect_, abs=1e-12)
    assert relabelled.se_ == pytest.approx(base.se_, rel=1e-10)


def test_integer_treatment_regression_on_a_two_unit_example() -> None:
    """A 0/1 column whose first rows are 0 and 1 must not mark the units in rows 0 and 1 as treated."""
    frame = pd.DataFrame(
        {
            "u": [0, 0, 1, 1, 2, 2],
            "t": [0, 1, 0, 1, 0, 1],
            "y": [1.0, 2.0, 1.0, 1.5, 2.0, 2.2],
            "d": [0, 1, 0, 0, 0, 0],
        }
    )
    fit = DiD("u", "t", "y", "d").fit(frame)
    assert fit.n_treated_units_ == 1
    assert fit.effect_ == pytest.approx((2.0 - 1.0) - ((1.5 - 1.0) + (2.2 - 2.0)) / 2)


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda f: f.with_columns(pl.col("d").cast(pl.String)), "d"),
        (lambda f: f.with_columns(d=pl.col("d").cast(pl.Int64) * 2), "d"),
        (lambda f: f.with_columns(d=pl.col("unit") % 3 != 0), "d"),  # every treated unit treated throughout
        (lambda f: f.with_columns(d=pl.col("d") & (pl.col("time") != 8)), "d"),
        (lambda f: pl.concat([f, f.head(1)]), "columns 'unit', 'time' (unit, time = 0, 0)"),
        (lambda f: f.with_columns(y=pl.when(pl.col("time") == 3).then(float("nan")).otherwise("y")), "y"),
        (lambda f: f.with_columns(y=pl.when(pl.col("time") == 3).then(None).otherwise("y")), "y"),
        (lambda f: f.with_columns(y=pl.when(pl.col("time") == 3).then(float("inf")).otherwise("y")), "y"),
        (lambda f: f.with_columns(d=pl.col("time") >= 4), "d"),
        (lambda f: f.with_columns(d=False), "d"),
        (lambda f: f.filter(pl.col("unit") == 1), "unit"),
        (lambda f: f.head(0), "empty"),
        (lambda f: f.rename({"y": "sales"}), "y"),
        (lambda f: f.with_columns(pl.col("time").cast(pl.String)), "time"),
    ],
)
def test_bad_inputs_get_one_line_errors_naming_the_column(change, column: str) -> None:  # type: ignore[no-untyped-def]
    frame = change(_panel(9))
    for method in (DiD("unit", "time", "y", "d"), EventStudy("unit", "time", "y", "d")):
        with pytest.raises(MethodInputError) as err:
            method.fit(frame)
        message = str(err.value)
        assert "\n" not in message and column in message, message


def test_reversal_is_accepted_when_asked_and_alpha_is_checked() -> None:
    frame = _panel(10).with_columns(d=pl.col("d") & (pl.col("time") != 8))
    assert np.isfinite(DiD("unit", "time", "y", "d", allow_reversal=True).fit(frame).effect_)
    for alpha in (0.0, 0.7, -1, float("nan"), "0.05"):
        with pytest.raises(MethodInputError, match="alpha"):
            DiD("unit", "time", "y", "d", alpha=alpha).fit(frame)  # type: ignore[arg-type]


def test_summaries_are_frozen_and_plot() -> None:
    import dataclasses

    import matplotlib

    matplotlib.use("Agg")
    frame = _panel(11)
    summary = DiD("unit", "time", "y", "d").fit(frame).summary()
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.effect = 0.0  # type: ignore[misc]
    assert summary.plot().axes
    assert EventStudy("unit", "time", "y", "d").fit(frame).summary().plot(truth=0.5).axes


@pytest.mark.parametrize("trends", [False, True])
def test_did_clustered_across_units_counts_the_absorbed_effects_like_the_full_dummy_regression(trends: bool) -> None:
    """Clusters that cut across units (here a block of unit and time): the unit effects (and trends) are no longer
    nested in the clusters, so the small-sample factor counts them, one per unit (two with trends), exactly as
    statsmodels does for the regression with every dummy written out."""
    import statsmodels.api as sm

    frame = _panel(5, drop=7).with_columns(block=(pl.col("unit") + 3 * pl.col("time")) % 7)
    if trends:
        frame = frame.with_columns(y=pl.col("y") + 0.05 * pl.col("unit") * pl.col("time"))
    fit = DiD("unit", "time", "y", "d", cluster="block", unit_trends=trends).fit(frame)
    u, t = frame["unit"].to_numpy(), frame["time"].to_numpy()
    units, times = np.unique(u), np.unique(t)
    cols = [frame["d"].to_numpy().astype(float)] + [(u == i).astype(float) for i in units]
    cols += [(u == i) * t for i in units[1:]] if trends else []
    cols += [(t == s).astype(float) for s in times[1:]]
    x = np.column_stack(cols)
    assert np.linalg.matrix_rank(x) == x.shape[1]  # full rank: statsmodels' factor counts every column
    res = sm.OLS(frame["y"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": frame["block"].to_numpy()})
    assert fit.effect_ == pytest.approx(res.params[0], abs=1e-8)
    assert fit.se_ == pytest.approx(res.bse[0], rel=1e-6)


def test_did_with_no_residual_degrees_of_freedom_is_refused() -> None:
    """Two units over three periods with unit trends and clusters across units: six observations, four absorbed
    (a level and a slope per unit) and two regressors left in the partialled design, so none remains to estimate
    a variance from. The fit says so instead of dividing by zero."""
    frame = pl.DataFrame(
        {"unit": [0, 0, 0, 1, 1, 1], "time": [0, 1, 2] * 2, "y": [1.0, 2.0, 2.5, 0.5, 1.0, 3.0]}
    ).with_columns(d=(pl.col("unit") == 1) & (pl.col("time") == 2), block=pl.col("time") % 2)
    with pytest.raises(MethodInputError, match="too few observations or clusters"):
        DiD("unit", "time", "y", "d", cluster="block", unit_trends=True).fit(frame)
