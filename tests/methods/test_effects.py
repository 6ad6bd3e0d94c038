"""average_effect and the learners against simulated truths, with bad inputs refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from newretail.methods import MethodInputError, TLearner, XLearner, average_effect

FAST = {"n_estimators": 40, "folds": 3}


def _observational(n: int, seed: int, *, binary: bool) -> tuple[pl.DataFrame, float]:
    """Treatment chosen on x1 (confounded), true average effect known."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    e = 1 / (1 + np.exp(-0.8 * x1))
    t = rng.random(n) < e
    tau = 1.0 + 0.5 * (x2 > 0)
    if binary:
        p = np.clip(0.3 + 0.15 * x1 + 0.1 * t * tau, 0.01, 0.99)
        y = (rng.random(n) < p).astype(np.int8)
        truth = float(np.mean(np.clip(0.3 + 0.15 * x1 + 0.1 * tau, 0.01, 0.99) - np.clip(0.3 + 0.15 * x1, 0.01, 0.99)))
    else:
        y = 2.0 * x1 + tau * t + rng.normal(size=n)
        truth = float(tau.mean())
    return pl.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2}), truth


@pytest.mark.parametrize("binary", [False, True])
def test_recovers_a_confounded_effect(binary: bool) -> None:
    df, truth = _observational(3_000, 1, binary=binary)
    naive = df.filter(pl.col("t"))["y"].mean() - df.filter(~pl.col("t"))["y"].mean()  # type: ignore[operator]
    effect = average_effect(df, outcome="y", treatment="t", covariates=("x1", "x2"), n_estimators=60, folds=3)
    assert effect.covers(truth)
    assert not effect.ci_low <= naive <= effect.ci_high  # the adjustment matters here
    assert effect.n == 3_000 and effect.ci_low < effect.estimate < effect.ci_high


def test_without_covariates_it_is_near_the_difference_in_means() -> None:
    """No covariates and the design's propensity (the treated share): the outcome models are the arms' training-fold
    means, so AIPW is the difference in means up to the folds' differing means (far below one SE)."""
    df, _ = _observational(500, 2, binary=False)
    dim = df.filter(pl.col("t"))["y"].mean() - df.filter(~pl.col("t"))["y"].mean()  # type: ignore[operator]
    effect = average_effect(df, outcome="y", treatment="t", propensity=float(df["t"].mean()))
    assert effect.estimate == pytest.approx(dim, abs=0.02 * effect.se)


def test_same_answer_for_bool_or_int_treatment_pandas_or_polars_and_any_row_order() -> None:
    df, _ = _observational(300, 3, binary=False)
    base = average_effect(df, outcome="y", treatment="t", covariates=("x1",), **FAST)
    as_int = df.with_columns(pl.col("t").cast(pl.Int64))
    shuffled = as_int.sample(fraction=1.0, shuffle=True, seed=9)
    assert average_effect(as_int, outcome="y", treatment="t", covariates=("x1",), **FAST) == base
    assert average_effect(shuffled.to_pandas(), outcome="y", treatment="t", covariates=("x1",), **FAST) == base


def test_known_propensity_column_and_plot() -> None:
    df, _ = _observational(300, 4, binary=False)
    df = df.with_columns(p=pl.lit(0.4))
    by_column = average_effect(df, outcome="y", treatment="t", covariates=("x1",), propensity="p", **FAST)
    by_number = average_effect(df, outcome="y", treatment="t", covariates=("x1",), propensity=0.4, **FAST)
    assert by_column.estimate == pytest.approx(by_number.estimate, rel=1e-12)
    fig = by_column.plot()
    assert fig.axes


def test_no_overlap_is_refused_naming_the_covariates() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=600)
    df = pl.DataFrame({"y": rng.normal(size=600), "t": x > 0, "x": x})
    with pytest.raises(MethodInputError, match=r"covariates \(x\).*overlap"):
        average_effect(df, outcome="y", treatment="t", covariates=("x",), n_estimators=50)


def test_learners_take_continuous_outcomes() -> None:
    rng = np.random.default_rng(6)
    n = 6_000
    X = rng.normal(size=(n, 2))
    t = rng.random(n) < 0.5
    tau = 3.0 * (X[:, 1] > 0)
    y = X[:, 0] + t * tau + rng.normal(size=n)
    for learner in (TLearner(n_estimators=80, min_child_samples=50), XLearner(n_estimators=80, min_child_samples=50)):
        est = learner.fit(X, t, y).predict(X)
        assert learner.binary_ is False
        assert est[X[:, 1] > 0].mean() - est[X[:, 1] <= 0].mean() == pytest.approx(3.0, abs=0.3)


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda d: d, {"outcome": "nope"}, "column 'nope'"),
        (lambda d: d.with_columns(t=pl.col("t").cast(pl.Int8) * 2), {}, "column 't'"),
        (lambda d: d.with_columns(y=pl.when(pl.col("x1") > 1).then(None).otherwise(pl.col("y"))), {}, "column 'y'"),
        (lambda d: d.with_columns(y=pl.when(pl.col("x1") > 1).then(np.inf).otherwise(pl.col("y"))), {}, "column 'y'"),
        (lambda d: d.with_columns(x1=pl.col("x1").cast(pl.String)), {}, "column 'x1'"),
        (lambda d: d.head(0), {}, "df"),
        (lambda d: d, {"alpha": 0.7}, "alpha"),
        (lambda d: d, {"propensity": 1.0}, "propensity"),
        (lambda d: d, {"folds": 1}, "folds"),
        (lambda d: d.with_columns(t=pl.lit(True)), {}, "column 't'"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(change: object, kwargs: dict, match: str) -> None:
    df, _ = _observational(100, 7, binary=False)
    args = {"outcome": "y", "treatment": "t", "covariates": ("x1",), **kwargs}
    with pytest.raises(MethodInputError, match=match) as err:
        average_effect(change(df), **args)  # type: ignore[operator, arg-type]
    assert "\n" not in str(err.value)


def test_pandas_bool_and_int_columns_alike() -> None:
    df, _ = _observational(200, 8, binary=True)
    pdf = df.to_pandas()
    pdf_int = pdf.assign(t=pdf["t"].astype(int))
    assert isinstance(pdf, pd.DataFrame)
    a = average_effect(pdf, outcome="y", treatment="t", covariates=("x1", "x2"), **FAST)
    b = average_effect(pdf_int, outcome="y", treatment="t", covariates=("x1", "x2"), **FAST)
    assert a == b


def test_learners_fit_frames_with_bool_or_int_treatment() -> None:
    df, _ = _observational(1_500, 9, binary=False)
    kwargs = {"outcome": "y", "treatment": "t", "covariates": ("x1", "x2")}
    small = {"n_estimators": 30, "min_child_samples": 20}
    a = XLearner(**small).fit_frame(df, **kwargs).predict_frame(df)
    b = XLearner(**small).fit_frame(df.with_columns(pl.col("t").cast(pl.Int64)).to_pandas(), **kwargs).predict_frame(df)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(MethodInputError, match="column 'x3'"):
        TLearner().fit_frame(df, outcome="y", treatment="t", covariates=("x3",))
