"""One result shape: every estimator in ``newretail.methods`` is fitted on a small input and its result read two
ways, ``tidy()`` (a polars frame with exactly :data:`TIDY_COLUMNS`) and ``summary()`` (a printed table, a ``str``,
showing each estimate), with the same field names (``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
``n``) wherever a result holds one estimate.

Each public name of ``newretail.methods`` is either an estimator with a recipe below or listed in
``NOT_AN_ESTIMATE`` with the reason, so a new estimator without a recipe fails here. Results whose class does not
mix in :class:`~newretail.methods._results.Tidy` and say their terms fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pytest

import newretail.methods as methods
from newretail.methods import TIDY_COLUMNS
from newretail.methods._results import Tidy
from newretail.methods.resampling import multiway_interval, ratio_interval, total_interval

NOT_AN_ESTIMATE = {
    "TIDY_COLUMNS": "the column names themselves",
    "MAX_OCCUPANCY": "a number: the default ceiling on agents' occupancy in ErlangC.agents",
    "MethodInputError": "an exception",
    "CrossFit": "out-of-fold predictions per row, not an estimate",
    "LightGBMSettings": "hyperparameters",
    "Overlap": "diagnostics carried by an Effect",
    "ProbabilityModel": "a learner: predictions per row",
    "PropensityModel": "a learner: predictions per row",
    "TLearner": "a learner: individual effects per row",
    "XLearner": "a learner: individual effects per row",
    "cross_fit": "returns a CrossFit",
    "ErlangC": "a queue model: staffing numbers, no estimate or interval",
    "poisson_interval": "returns (low, high) numbers or arrays",
    "proportion_interval": "returns (value, low, high) numbers or arrays",
    "quantile_interval": "returns (value, low, high) numbers",
    "ratio_interval": "returns (ratio, low, high) numbers or arrays",
    "Effect": "a result (checked through average_effect and aipw_effect)",
    "Estimate": "a result (checked through the resampling intervals)",
    "SyntheticControlSummary": "a result (checked through SyntheticControl)",
    "AucComparison": "a result (checked through compare_auc)",
    "BurstFit": "a result (checked through fit_burst)",
    "DecayFit": "a result (checked through decay_fit)",
    "delta_log_interval": "returns (value, low, high) numbers",
    "mantel_haenszel_odds_ratio": "returns (odds ratio, low, high) numbers",
    "normal_quantile": "a quantile of the normal distribution, no estimate",
    "ratio_test_power": "a planned test's power, no estimate",
    "ratio_test_size": "a planned test's size, no estimate",
}


def _effect_frame(n: int = 300, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.random(n) < 1 / (1 + np.exp(-x))
    return pl.DataFrame({"y": x + 0.5 * t + rng.normal(size=n), "t": t, "x": x, "g": np.arange(n) // 3})


def _panel(units: int = 12, periods: int = 8, seed: int = 1) -> pl.DataFrame:
    """Units 0-2 treated from period 5 (effect 2), the rest never; unit and time effects."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    treated = (unit < 3) & (time >= 5)
    y = rng.normal(size=units)[unit] + 0.3 * time + 2.0 * treated + rng.normal(0, 0.5, unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": treated})


def _staggered(units: int = 30, periods: int = 10, seed: int = 2) -> pl.DataFrame:
    """Three cohorts (first treated in period 4, 6, never), absorbing treatment, effect 1."""
    rng = np.random.default_rng(seed)
    unit, time = np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)
    start = np.where(unit % 3 == 0, 4, np.where(unit % 3 == 1, 6, periods + 1))[unit]
    treated = time >= start
    y = rng.normal(size=units)[unit] + 0.2 * time + 1.0 * treated + rng.normal(0, 0.3, unit.size)
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": treated})


def _resampling() -> list[Any]:
    rng = np.random.default_rng(3)
    num, den = rng.poisson(50, 100).astype(float), rng.poisson(400, 100).astype(float)
    clustered = multiway_interval(
        {"user": {"num": num, "den": den}}, lambda num, den: num / den, iid={"num": num, "den": den}, log=True
    )
    return [total_interval(num), ratio_interval(num, den), clustered.estimate]


RECIPES: dict[str, Callable[[], list[Any]]] = {
    "average_effect": lambda: [
        methods.average_effect(_effect_frame(), outcome="y", treatment="t", covariates=["x"], n_estimators=20),
        methods.average_effect(
            _effect_frame(), outcome="y", treatment="t", covariates=["x"], n_estimators=20, estimand="att", cluster="g"
        ),
    ],
    "aipw_effect": lambda: [
        methods.aipw_effect(np.arange(8.0), np.arange(8) % 2, np.full(8, 0.5), np.zeros(8), np.ones(8))[0]
    ],
    "SyntheticControl": lambda: [
        methods.SyntheticControl("unit", "time", "y", 0, 5, placebos=4).fit(_panel()).summary()
    ],
    "DiD": lambda: [methods.DiD("unit", "time", "y", "d").fit(_panel()).summary()],
    "EventStudy": lambda: [methods.EventStudy("unit", "time", "y", "d").fit(_panel()).summary()],
    "StaggeredDiD": lambda: [methods.StaggeredDiD("unit", "time", "y", "d").fit(_staggered()).att_],
    "resampling": _resampling,
    "difference_in_means": lambda: [
        methods.difference_in_means(_effect_frame(), outcome="y", treatment="t", cluster="g"),
        methods.difference_in_means(_effect_frame(), outcome="y", treatment="t"),
    ],
    "compare_auc": lambda: [
        methods.compare_auc(np.arange(40) % 3 == 0, np.arange(40.0) % 5, (np.arange(40) % 3 == 0) + np.arange(40) / 80)
    ],
    "decay_fit": lambda: [
        methods.decay_fit(
            [30, 20, 15, 60, 40, 31, 28],
            [1000] * 7,
            strata=[0, 0, 0, 1, 1, 1, 1],
            treated=[1, 1, 1, 1, 1, 0, 0],
            repeat=[0, 1, 2, 0, 1, 0, 1],
        )
    ],
    "fit_burst": lambda: [methods.fit_burst(np.random.default_rng(0).poisson(5 + 40 * np.exp(-np.arange(600) / 60)))],
}


def test_every_public_name_is_an_estimator_with_a_recipe_or_said_not_to_be_one() -> None:
    missing = [name for name in methods.__all__ if name not in RECIPES and name not in NOT_AN_ESTIMATE]
    assert not missing, f"add a recipe (or a reason) for {missing}"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_results_read_as_a_tidy_frame_and_a_printed_summary(name: str) -> None:
    for result in RECIPES[name]():
        assert isinstance(result, Tidy), f"{type(result).__name__} does not mix in Tidy"
        assert "_terms" in {k for c in type(result).__mro__[:-2] for k in vars(c)}, type(result).__name__
        frame = result.tidy()
        assert isinstance(frame, pl.DataFrame) and tuple(frame.columns) == TIDY_COLUMNS
        assert frame.height >= 1 and frame["design"].n_unique() == 1
        assert frame.to_pandas().shape == frame.shape
        text = result.summary()
        assert isinstance(text, str)
        for value in frame["estimate"]:
            assert f"{value:.4g}" in text, (value, text)
        if frame.height == 1:
            row = frame.row(0, named=True)
            for field in ("estimate", "se", "ci_low", "ci_high", "p_value", "n"):
                ours, theirs = getattr(result, field), row[field]
                assert ours == theirs or (np.isnan(ours) and np.isnan(theirs)), (field, ours, theirs)


def test_old_names_still_read() -> None:
    """``Effect.value`` and ``Estimate.value`` stay aliases of ``estimate``; ``SyntheticControl.effect_`` stays."""
    effect = RECIPES["average_effect"]()[0]
    estimate = _resampling()[0]
    assert effect.value == effect.estimate and estimate.value == estimate.estimate
    sc = methods.SyntheticControl("unit", "time", "y", 0, 5, placebos=4).fit(_panel())
    assert sc.effect_ == sc.summary().estimate == sc.tidy()["estimate"][0]
