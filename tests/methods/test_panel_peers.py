"""DiD's and EventStudy's options against pyfixest 0.60 (``feols`` with absorbed fixed effects, CRV1 errors) and
closed forms: unbalanced panels with singletons, repeated cross-sections, weights, time-varying covariates,
clustering of the event study, the absorbed-regressor refusal, and the tidy/summary shape."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from newretail.methods import DiD, EventStudy, MethodInputError
from newretail.methods._results import TIDY_COLUMNS


def _feols(frame: pl.DataFrame, formula: str, cluster: str, **kwargs: object) -> tuple[object, object]:
    import pyfixest as pf

    fit = pf.feols(formula, data=frame.to_pandas(), vcov={"CRV1": cluster}, fixef_tol=1e-12, **kwargs)  # type: ignore[arg-type]
    return fit, fit.tidy()


def _staggered(seed: int, *, n_units: int = 40, n_times: int = 8, drop: float = 0.0) -> pl.DataFrame:
    """Staggered adoption at period 3 or 5 (a third never treated), covariate x varying in time, weights w, region;
    a share ``drop`` of the rows after the first period removed at random, and every fifth unit kept in its first
    period only (an unbalanced panel with singletons; every unit keeps an untreated period)."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(n_units), n_times), np.tile(np.arange(n_times), n_units)
    start = np.array([10**6, 3, 5])[np.arange(n_units) % 3]
    d = time >= start[unit]
    x = rng.normal(size=unit.size) + 0.1 * time
    y = rng.normal(size=n_units)[unit] + rng.normal(size=n_times)[time] + 0.5 * d + 0.8 * x + rng.normal(size=d.size)
    frame = pl.DataFrame(
        {"unit": unit, "time": time, "y": y, "d": d, "x": x, "w": rng.uniform(0.5, 2.0, d.size), "region": unit % 7}
    )
    if drop:
        kept = (rng.random(frame.height) >= drop) | (frame["time"] == 0).to_numpy()
        kept &= (frame["unit"] % 5 != 4).to_numpy() | (frame["time"] == 0).to_numpy()
        frame = frame.filter(pl.Series(kept))
    return frame


def test_an_unbalanced_panel_drops_singletons_and_equals_pyfixest() -> None:
    """Rows alone in their unit are dropped (pyfixest's fixef_rm='singleton'), counted, and the effect and its CRV1
    error are pyfixest's to 1e-10."""
    frame = _staggered(1, drop=0.3)
    alone = frame.group_by("unit").len().filter(pl.col("len") == 1).height
    assert alone >= 2  # the case the test is about: some units observed once
    fit = DiD("unit", "time", "y", "d").fit(frame)
    peer, tidy = _feols(frame.with_columns(pl.col("d").cast(pl.Float64)), "y ~ d | unit + time", "unit")
    assert fit.n_singletons_ == frame.height - peer._N == alone  # type: ignore[attr-defined]
    assert fit.n_obs_ == peer._N  # type: ignore[attr-defined]
    assert fit.effect_ == pytest.approx(tidy.loc["d", "Estimate"], abs=1e-10)  # type: ignore[attr-defined]
    assert fit.se_ == pytest.approx(tidy.loc["d", "Std. Error"], rel=1e-8)  # type: ignore[attr-defined]
    assert fit.summary().n_singletons == alone and f"{alone} singleton rows dropped" in fit.summary().summary()


def test_weights_and_covariates_equal_pyfixest() -> None:
    frame = _staggered(2, drop=0.1).with_columns(pl.col("d").cast(pl.Float64))
    fit = DiD("unit", "time", "y", "d", weights="w", covariates=["x"], cluster="region").fit(frame)
    _, tidy = _feols(frame, "y ~ d + x | unit + time", "region", weights="w")
    for term in ("d", "x"):
        row = fit.coefs_.filter(pl.col("term") == term).row(0, named=True)
        assert row["estimate"] == pytest.approx(tidy.loc[term, "Estimate"], abs=1e-10)  # type: ignore[attr-defined]
        assert row["se"] == pytest.approx(tidy.loc[term, "Std. Error"], rel=1e-8)  # type: ignore[attr-defined]
        assert row["ci_low"] == pytest.approx(tidy.loc[term, "2.5%"], rel=1e-8)  # type: ignore[attr-defined]
    assert fit.coefs_.filter(pl.col("term") == "x")["estimate"][0] == pytest.approx(0.8, abs=0.1)  # the true slope


def test_weights_that_are_whole_numbers_equal_repeating_the_rows() -> None:
    """Closed form: weight 2 on a row gives the same coefficient as the row written twice (WLS = OLS on copies)."""
    frame = _staggered(3).with_columns(w=(pl.col("unit") % 3 + 1).cast(pl.Float64))
    weighted = DiD("unit", "time", "y", "d", weights="w").fit(frame)
    copies = frame.select(pl.all().repeat_by("w").explode()).with_columns(
        copy=pl.int_range(pl.len()).over("unit", "time")
    )
    repeated = DiD("unit", "time", "y", "d", panel=False).fit(copies)
    assert weighted.effect_ == pytest.approx(repeated.effect_, abs=1e-10)


def test_repeated_cross_sections_equal_pyfixest_with_group_and_time_effects() -> None:
    """Individuals in 12 groups over 6 periods (several per group and period, a different draw each time): DiD with
    panel=False is the regression on individual rows with group and time effects, clustered by group."""
    rng = np.random.default_rng(4)
    n = 3000
    group, time = rng.integers(0, 12, n), rng.integers(0, 6, n)
    d = (group < 5) & (time >= 3)
    y = rng.normal(size=12)[group] + 0.3 * time + 1.5 * d + rng.normal(size=n)
    frame = pl.DataFrame({"state": group, "wave": time, "y": y, "d": d})
    fit = DiD("state", "wave", "y", "d", panel=False).fit(frame)
    _, tidy = _feols(frame.with_columns(pl.col("d").cast(pl.Float64)), "y ~ d | state + wave", "state")
    assert fit.effect_ == pytest.approx(tidy.loc["d", "Estimate"], abs=1e-10)  # type: ignore[attr-defined]
    assert fit.se_ == pytest.approx(tidy.loc["d", "Std. Error"], rel=1e-8)  # type: ignore[attr-defined]
    assert fit.n_units_ == 12 and fit.n_obs_ == n
    with pytest.raises(
        MethodInputError,
        match=r"^df: duplicate rows for columns 'state', 'wave' \(state, wave = \d+, \d+\): one row per unit and ",
    ):
        DiD("state", "wave", "y", "d").fit(frame)
    mixed = frame.with_columns(d=pl.when(pl.int_range(pl.len()) == 0).then(~pl.col("d")).otherwise("d"))
    with pytest.raises(MethodInputError, match=r"^column 'd': the treatment differs within group \d+ at wave \d+;"):
        DiD("state", "wave", "y", "d", panel=False).fit(mixed)


def test_event_study_clustered_by_region_equals_pyfixest() -> None:
    frame = _staggered(5, n_units=60, drop=0.05)
    fit = EventStudy("unit", "time", "y", "d", cluster="region").fit(frame)
    frame = frame.with_columns(first=pl.when(pl.col("d")).then(pl.col("time")).min().over("unit"))
    frame = frame.with_columns(e=(pl.col("time") - pl.col("first")).fill_null(-1))  # never treated: in the reference
    events = sorted(e for e in frame["e"].unique().to_list() if e != -1)
    dummies = {f"e{e + 10}": (pl.col("e") == e).cast(pl.Float64) for e in events}
    _, tidy = _feols(frame.with_columns(**dummies), f"y ~ {' + '.join(dummies)} | unit + time", "region")
    est = fit.coefs_.filter(pl.col("event_time") != -1)
    names = [f"e{e + 10}" for e in est["event_time"].to_list()]
    np.testing.assert_allclose(est["estimate"].to_numpy(), tidy.loc[names, "Estimate"], atol=1e-10)  # type: ignore[attr-defined]
    np.testing.assert_allclose(est["se"].to_numpy(), tidy.loc[names, "Std. Error"], rtol=1e-8)  # type: ignore[attr-defined]
    assert fit.n_clusters_ == 7
    by_unit = EventStudy("unit", "time", "y", "d").fit(frame)
    assert not np.allclose(by_unit.coefs_["se"].to_numpy()[1:], fit.coefs_["se"].to_numpy()[1:])


def test_a_covariate_the_unit_effects_absorb_is_refused_by_name() -> None:
    frame = _staggered(6).with_columns(size=pl.col("unit") * 2.0)
    with pytest.raises(MethodInputError) as err:
        DiD("unit", "time", "y", "d", covariates=["x", "size"]).fit(frame)
    assert str(err.value) == (
        "columns 'size': is absorbed by the unit and time effects (no variation left to estimate)"
    )


def test_results_share_the_tidy_shape() -> None:
    frame = _staggered(7)
    did = DiD("unit", "time", "y", "d", covariates="x").fit(frame)
    tidy = did.tidy()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert tidy["term"].to_list() == ["d", "x"]
    assert tidy["estimate"][0] == did.effect_ and tidy["se"][0] == did.se_ and tidy["n"][0] == did.n_obs_
    assert did.summary().tidy().equals(tidy)
    assert "DiD, TWFE, CRV1 by 'unit' (40 clusters), covariates 'x'" in did.summary().summary()
    es = EventStudy("unit", "time", "y", "d").fit(frame)
    es_tidy = es.tidy()
    assert tuple(es_tidy.columns) == TIDY_COLUMNS
    assert es_tidy.height == es.coefs_.height and "event_time -1 (reference)" in es_tidy["term"].to_list()
    assert es_tidy.to_pandas().shape == (es.coefs_.height, len(TIDY_COLUMNS))
