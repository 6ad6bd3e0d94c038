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
