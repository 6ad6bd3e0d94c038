"""Placebo groups for a treated unit that is the mean of several units.

Checked by simulation (no effect, units exchangeable): the p-value of a mean-of-k treated unit is close to uniform
with groups of k as placebos, and far from it with single-unit placebos (the reason the option exists); with
``treated_members`` and ``placebo_pool`` the rank test is the randomisation test, exactly uniform on its grid.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from newretail.methods import MethodInputError, SyntheticControl
from newretail.methods.synth import simplex_least_squares

K, DONORS, PERIODS, T0 = 5, 40, 24, 16


def _panel(rng: np.random.Generator) -> pl.DataFrame:
    """``DONORS`` units plus the mean of ``K`` others as the treated unit, all with a common factor and no effect."""
    n = DONORS + K
    factor = rng.normal(size=PERIODS).cumsum()
    y = rng.normal(size=(n, 1)) + np.outer(rng.uniform(0.5, 1.5, n), factor) + rng.normal(size=(n, PERIODS))
    treated = y[DONORS:].mean(axis=0)
    rows = [(u, t, float(y[u, t])) for u in range(DONORS) for t in range(PERIODS)]
    rows += [(-1, t, float(treated[t])) for t in range(PERIODS)]
    return pl.DataFrame(rows, schema=["unit", "time", "y"], orient="row")


def _p(panel: pl.DataFrame, size: int, seed: int) -> float:
    placebos = 39 if size > 1 else "all"
    sc = SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", placebos=placebos, placebo_size=size,
                          random_state=seed, progress=False)  # fmt: skip
    return sc.fit(panel).p_value_


@pytest.mark.slow
def test_group_placebos_give_uniform_p_values_single_units_do_not() -> None:
    """60 panels without an effect. Groups of K as placebos make the p-value nearly uniform on its grid k/40, single
    units make the mean of K rank first far too often. Nearly, not exactly: a group is fitted from K fewer donors
    than the treated unit (the reason for ``treated_members``, tested below), so the treated unit's ratio ranks high
    somewhat too often. Measured over 10,000 panels of this design: P(p <= 0.1) = 0.147 with groups (0.1 if
    uniform), mean 0.463 (0.5125), quarters of the grid 0.32, 0.25, 0.23, 0.21; with single units (grid k/41)
    P(p <= 0.1) = 0.587, mean 0.170. The checks asserted here before failed 3.5% of runs (the 10,000 panels drawn
    60 at a time 40,000 times): the KS test against a continuous uniform at 0.001, which rejects even exact k/40
    grids of 60 at 2e-3, rejected 1.2%, and at most 14 of 60 at or below 0.1 (a band for exact uniformity) failed
    2.5%.

    The checks: at most 19 of the 60 grouped p at or below 0.1, their mean in [0.32, 0.63], at least 20 of the 60
    single-unit p at or below 0.1. Drawing 60 of the 10,000 measured panels 1,000,000 times, they fail 2.2e-4,
    5.7e-5 and 2.3e-5 of the time: about 3e-4 per run (Binomial(60, 0.147) exceeds 19 with probability 2.3e-4;
    1.2e-4 to 4.4e-4 over the measured rate's 95% interval). The wrong answer, single-unit placebos, fails the
    grouped count band except with probability 2.3e-5 (35 of 60 expected at or below 0.1) and its mean band always
    (0.17)."""
    rng = np.random.default_rng(3)
    panels = [_panel(rng) for _ in range(60)]
    grouped = np.array([_p(panel, K, i) for i, panel in enumerate(panels)])
    single = np.array([_p(panel, 1, i) for i, panel in enumerate(panels)])
    assert np.allclose(np.round(grouped * 40) / 40, grouped) and np.allclose(np.round(single * 41) / 41, single)
    assert np.sum(grouped <= 0.1) <= 19 and 0.32 <= grouped.mean() <= 0.63  # groups of K: close to uniform
    assert np.sum(single <= 0.1) >= 20  # single units: the mean of K ranks first too often


def test_group_placebos_are_labelled_and_exclude_their_members() -> None:
    """The treated unit gets +30 after T0, some 20 times the noise of a mean of 5 units: its post/pre ratio is far
    above any of the 7 placebo groups' (no effect), so by hand its rank is 1 and p = 1/(7 + 1)."""
    panel = _panel(np.random.default_rng(0))
    panel = panel.with_columns(y=pl.col("y") + 30.0 * ((pl.col("unit") == -1) & (pl.col("time") >= T0)))
    sc = SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", placebos=7, placebo_size=K,
                          progress=False).fit(panel)  # fmt: skip
    assert sorted(sc.placebo_ratios_) == list(range(7)) and sc.placebo_gaps_["unit"].n_unique() == 7
    assert sc.rmspe_ratio_ > 3 * max(sc.placebo_ratios_.values())
    assert sc.placebo_rank_ == 1 and sc.p_value_ == pytest.approx(1 / 8)
    assert all(abs(sum(w.values()) - 1) < 1e-6 for w in sc.placebo_weights_.values())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"placebo_size": 0}, "placebo_size"), ({"placebo_size": 2.5}, "placebo_size"),
     ({"placebo_size": 3}, "placebos"), ({"placebo_size": DONORS, "placebos": 5}, "placebo_size")],
)  # fmt: skip
def test_bad_placebo_groups_are_refused(kwargs: dict, message: str) -> None:
    panel = _panel(np.random.default_rng(1))
    with pytest.raises(MethodInputError, match=message):
        SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", progress=False, **kwargs).fit(panel)


# --- placebo_pool and treated_members: the randomisation test -------------------------------------------------------

A, B, K2, PERIODS2, T02 = 30, 30, 6, 26, 20


def _typed_panel(rng: np.random.Generator) -> tuple[pl.DataFrame, list[int]]:
    """``A`` units of type a (a common factor) and ``B`` of type b (mostly a factor of their own): not exchangeable
    across types. ``K2`` units drawn at random among type a are the members; their mean is unit -1. No effect."""
    n = A + B
    f, h = rng.normal(size=PERIODS2).cumsum(), rng.normal(size=PERIODS2).cumsum()
    load = np.where(np.arange(n) < A, 1.0, 0.3)
    y = rng.normal(size=(n, 1)) + np.outer(load, f) + np.outer(1 - load, h) + rng.normal(size=(n, PERIODS2))
    members = sorted(int(m) for m in rng.choice(A, K2, replace=False))
    rows = [(u, t, float(y[u, t])) for u in range(n) for t in range(PERIODS2)]
    rows += [(-1, t, float(y[members, t].mean())) for t in range(PERIODS2)]
    return pl.DataFrame(rows, schema=["unit", "time", "y"], orient="row"), members


def _randomised(panel: pl.DataFrame, members: list[int], seed: int = 0, placebos: int = 39) -> SyntheticControl:
    return SyntheticControl("unit", "time", "y", -1, T02, design="demeaned", placebos=placebos, placebo_size=K2,
                            random_state=seed, progress=False, placebo_pool=list(range(A)),
                            treated_members=members).fit(panel)  # fmt: skip


def _reference_group_p(panel: pl.DataFrame, k: int, placebos: int, seed: int) -> float:
    """Today's group placebos written out from their description: the treated unit fitted from every donor; each
    of ``placebos`` groups of ``k`` donors (drawn with numpy's generator seeded ``seed``) fitted from the donors
    outside it; the demeaned design; p = (1 + placebos with a post/pre RMSPE ratio at least the treated's) / (n + 1)."""
    wide = panel.sort("unit", "time").pivot(on="time", index="unit", values="y")
    units, y = wide["unit"].to_numpy(), wide.drop("unit").to_numpy()
    series = y - y[:, :T0].mean(axis=1, keepdims=True)

    def ratio(target: np.ndarray, donors: np.ndarray) -> float:
        w = simplex_least_squares(series[donors, :T0].T, target[:T0])
        gap = target - w @ series[donors]
        return float(np.sqrt(np.mean(gap[T0:] ** 2)) / np.sqrt(np.mean(gap[:T0] ** 2)))

    donors = np.flatnonzero(units != -1)
    treated = ratio(series[units == -1][0], donors)
    rng = np.random.default_rng(seed)
    ratios = []
    for _ in range(placebos):
        group = np.sort(rng.choice(donors, size=k, replace=False))
        ratios.append(ratio(series[group].mean(axis=0), np.setdiff1d(donors, group)))
    return (1 + int(np.sum(np.asarray(ratios) >= treated))) / (placebos + 1)


@pytest.mark.parametrize("seed", range(3))
def test_default_placebo_pool_keeps_todays_p_value(seed: int) -> None:
    panel = _panel(np.random.default_rng(seed))
    expected = _reference_group_p(panel, K, 39, seed)
    kwargs = {"design": "demeaned", "placebos": 39, "placebo_size": K, "random_state": seed, "progress": False}
    default = SyntheticControl("unit", "time", "y", -1, T0, **kwargs).fit(panel)
    explicit = SyntheticControl("unit", "time", "y", -1, T0, placebo_pool=list(range(DONORS)), **kwargs).fit(panel)
    assert default.p_value_ == explicit.p_value_ == expected
    assert default.placebo_ratios_ == explicit.placebo_ratios_


def test_a_placebo_group_scores_as_it_would_as_the_treated_members() -> None:
    """The closed-form argument for exactness: with treated_members, a placebo group's statistic is the one the
    treated unit would have had, had that group been the members (same donors: every other unit). The members are a
    random draw from the pool, and so are the groups, so under no effect the treated statistic and the placebo
    statistics are exchangeable draws, and the rank p-value is uniform on {1, ..., n + 1} / (n + 1)."""
    panel, members = _typed_panel(np.random.default_rng(4))
    units = panel.filter(pl.col("unit") >= 0)
    sc = _randomised(panel, members, placebos=5)
    assert all(len(g) == K2 and set(g) <= set(range(A)) for g in sc.placebo_groups_.values())
    for r, group in sc.placebo_groups_.items():
        mean = units.filter(pl.col("unit").is_in(group)).group_by("time").agg(pl.col("y").mean())
        swapped = pl.concat([units, mean.select(pl.lit(-2, pl.Int64).alias("unit"), "time", "y")])
        as_treated = SyntheticControl("unit", "time", "y", -2, T02, design="demeaned", placebos=1, placebo_size=K2,
                                      progress=False, treated_members=group).fit(swapped)  # fmt: skip
        assert as_treated.rmspe_ratio_ == pytest.approx(sc.placebo_ratios_[r], rel=1e-9)
    # without treated_members a group is fitted from K2 fewer donors than the treated unit: not the same statistic
    legacy = SyntheticControl("unit", "time", "y", -1, T02, design="demeaned", placebos=5, placebo_size=K2,
                              progress=False).fit(panel.filter(~pl.col("unit").is_in(members)))  # fmt: skip
    assert sc.weights_.keys() == legacy.weights_.keys()  # the treated unit's donors: every non-member
    assert sc.effect_ == pytest.approx(legacy.effect_, rel=1e-12)


def _grid_quarters(p: np.ndarray) -> np.ndarray:
    """How many p-values on the grid k/40 (k = 1..40) fall in each quarter of it (k 1-10, 11-20, 21-30, 31-40):
    Multinomial(n, 1/4 each) for a p-value uniform on the grid."""
    k = np.round(p * 40).astype(int)
    assert np.allclose(k / 40, p) and k.min() >= 1 and k.max() <= 40, "p off the grid k/40"
    return np.bincount((k - 1) // 10, minlength=4)


@pytest.mark.slow
def test_randomisation_placebos_give_uniform_p_values_a_mixed_pool_does_not() -> None:
    """300 panels without an effect. With ``treated_members`` and the members' pool the rank test is exact, so p is
    uniform on the grid k/40 (measured: 10,000 panels gave quarters 0.247, 0.248, 0.251, 0.254, P(p <= 0.1) = 0.100
    and mean 0.515; uniform: 1/4, 0.1, 0.5125). Three checks that are exact for that discrete grid: a chi-square
    test of the quarters' counts at level 1e-4 (it rejects an exactly uniform grid of 300 at 1.2e-4, from 1,000,000
    simulated grids), the number of p at most 0.1 in [12, 50] (Binomial(300, 0.1): 3.3e-5 below, 1.3e-4 above)
    and the mean in [0.45, 0.575] (the exact distribution of a sum of 300 uniform draws on 1..40, by convolution:
    8.5e-5 each side). Together they reject 4.1e-4 of the million simulated grids; with the power check below the
    false-failure rate is about 4.5e-4 per run.

    The wrong answer, placebo groups drawn from both types and fitted from fewer donors (the legacy groups on a
    mixed pool), ranks the treated unit low: measured over the same 10,000 panels, mean 0.639, P(p <= 0.1) =
    0.036, quarters 0.12, 0.20, 0.28, 0.41. Its mean must exceed the fair band's upper end, 0.575 (4.1 of its
    spreads below its mean, 3.8 of the fair one's above 0.5125); drawing 300 of the measured panels 1,000,000
    times it did not in 4e-5 of the draws. The Kolmogorov-Smirnov test against a continuous uniform, asserted at
    0.01 before on 80 panels, rejected exact grids of 80 1.3% of the time."""
    rng = np.random.default_rng(5)
    panels = [_typed_panel(rng) for _ in range(300)]
    fair = np.array([_randomised(panel, members, seed=i).p_value_ for i, (panel, members) in enumerate(panels)])
    mixed = np.array(
        [_p_legacy(panel.filter(~pl.col("unit").is_in(members)), seed=i) for i, (panel, members) in enumerate(panels)]
    )
    quarters = _grid_quarters(fair)
    assert stats.chisquare(quarters).pvalue > 1e-4, quarters
    assert 12 <= np.sum(fair <= 0.1) <= 50 and 0.45 <= fair.mean() <= 0.575
    _grid_quarters(mixed)
    assert mixed.mean() > 0.575  # groups of both types, fitted from fewer donors: the treated unit ranks low


def _p_legacy(panel: pl.DataFrame, seed: int) -> float:
    sc = SyntheticControl("unit", "time", "y", -1, T02, design="demeaned", placebos=39, placebo_size=K2,
                          random_state=seed, progress=False)  # fmt: skip
    return sc.fit(panel).p_value_


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"placebo_pool": [0, 1, 99]}, "placebo_pool: \\[99\\]"), ({"placebo_pool": ["a"]}, "placebo_pool"),
     ({"placebo_pool": [-1, *range(10)]}, "placebo_pool: holds the treated unit"),
     ({"placebo_pool": [0, 1, 2]}, "placebo_pool: 3 ids, fewer than placebo_size"),
     ({"placebo_pool": [0, 0, 1, 2, 3, 4]}, "placebo_pool: ids must be distinct"),
     ({"placebo_pool": 7}, "placebo_pool: a sequence"),
     ({"treated_members": [0, 1]}, "treated_members: placebo_size \\(6\\)"),
     ({"treated_members": [0, 1, 2, 3, 4, 77]}, "treated_members: \\[77\\]"),
     ({"treated_members": [-1, 1, 2, 3, 4, 5]}, "treated_members: holds the treated unit")],
)  # fmt: skip
def test_bad_placebo_pools_and_members_are_refused(kwargs: dict, message: str) -> None:
    panel, _ = _typed_panel(np.random.default_rng(1))
    args = {"design": "demeaned", "placebos": 5, "placebo_size": K2, "progress": False, **kwargs}
    with pytest.raises(MethodInputError, match=message) as err:
        SyntheticControl("unit", "time", "y", -1, T02, **args).fit(panel)
    assert "\n" not in str(err.value)


def test_group_placebos_may_leave_a_single_donor_but_not_none() -> None:
    """With D donors a placebo group of D - 1 units is fitted from the one donor left outside it (its weight is 1);
    a group of D units would leave none and is refused naming placebo_size."""
    panel = _panel(np.random.default_rng(1)).filter(pl.col("unit") < 6)  # five donors and the treated unit
    donors = panel.filter(pl.col("unit") >= 0)["unit"].n_unique()
    sc = SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", placebos=3, placebo_size=donors - 1,
                          progress=False).fit(panel)  # fmt: skip
    for r, group in sc.placebo_groups_.items():
        (left,) = set(range(donors)) - set(group)
        assert sc.placebo_weights_[r] == pytest.approx({left: 1.0})
    with pytest.raises(MethodInputError, match="placebo_size"):
        SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", placebos=3, placebo_size=donors,
                         progress=False).fit(panel)  # fmt: skip
