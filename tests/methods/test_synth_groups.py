"""Placebo groups for a treated unit that is the mean of several units: the rank test is exact again.

Checked by simulation (no effect, units exchangeable): the p-value of a mean-of-k treated unit is close to uniform
with groups of k as placebos, and far from it with single-unit placebos (the reason the option exists).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from newretail.methods import MethodInputError, SyntheticControl

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
    rng = np.random.default_rng(3)
    panels = [_panel(rng) for _ in range(60)]
    grouped = np.array([_p(panel, K, i) for i, panel in enumerate(panels)])
    single = np.array([_p(panel, 1, i) for i, panel in enumerate(panels)])
    assert stats.kstest(grouped, "uniform").pvalue > 0.01  # groups of K: no evidence against uniform
    assert np.mean(grouped <= 0.1) < 0.25
    assert np.mean(single <= 0.1) > np.mean(grouped <= 0.1)  # single units: the mean of K ranks first too often


def test_group_placebos_are_labelled_and_exclude_their_members() -> None:
    panel = _panel(np.random.default_rng(0))
    sc = SyntheticControl("unit", "time", "y", -1, T0, design="demeaned", placebos=7, placebo_size=K,
                          progress=False).fit(panel)  # fmt: skip
    assert sorted(sc.placebo_ratios_) == list(range(7)) and sc.placebo_gaps_["unit"].n_unique() == 7
    assert sc.p_value_ == sc.placebo_rank_ / 8
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
