"""Fuzzing average_effect, ratio_interval and ErlangC: each generated input gives the clean input's answer or a
one-line MethodInputError naming the argument or column (hypothesis, derandomized; 500 inputs per method)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newretail.methods import ErlangC, MethodInputError, average_effect, ratio_interval

TINY = {"n_estimators": 3, "folds": 2, "min_child_samples": 2, "num_leaves": 3}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _frame(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n) % 2 == 0
    x = rng.normal(size=n)
    return pl.DataFrame({"y": x + t + rng.normal(size=n), "t": t, "x": x})


def _refused(err: MethodInputError, names: tuple[str, ...]) -> None:
    message = str(err)
    assert "\n" not in message
    assert any(name in message for name in names), message


# ------------------------------------------------------------------------------------------------ average_effect
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(8, 24),
    treatment_as=st.sampled_from(["bool", "int8", "int64", "float"]),
    pandas=st.booleans(),
    shuffle=st.integers(0, 10_000),
)
@settings(FUZZ, max_examples=70)
def test_average_effect_equivalent_inputs_agree(
    seed: int, n: int, treatment_as: str, pandas: bool, shuffle: int
) -> None:
    clean = _frame(seed, n)
    base = average_effect(clean, outcome="y", treatment="t", covariates=("x",), **TINY)
    cast = {"bool": pl.Boolean, "int8": pl.Int8, "int64": pl.Int64, "float": pl.Float64}[treatment_as]
    other = clean.with_columns(pl.col("t").cast(cast)).sample(fraction=1.0, shuffle=True, seed=shuffle)
    again = average_effect(
        other.to_pandas() if pandas else other, outcome="y", treatment="t", covariates=("x",), **TINY
    )
    assert again == base


DAMAGE = st.sampled_from(["nan_y", "inf_x", "null_t", "two_t", "string_x", "empty", "unknown", "one_arm", "none"])


@given(seed=st.integers(0, 10_000), n=st.integers(6, 16), damage=DAMAGE, row=st.integers(0, 5), pandas=st.booleans())
@settings(FUZZ, max_examples=430)
def test_average_effect_damaged_inputs_are_refused_by_name(
    seed: int, n: int, damage: str, row: int, pandas: bool
) -> None:
    df = _frame(seed, n)
    hit = pl.int_range(pl.len()) == row
    covariates: tuple[str, ...] = ("x",)
    names: tuple[str, ...] = ()
    if damage == "nan_y":
        df, names = df.with_columns(y=pl.when(hit).then(float("nan")).otherwise(pl.col("y"))), ("'y'",)
    elif damage == "inf_x":
        df, names = df.with_columns(x=pl.when(hit).then(float("inf")).otherwise(pl.col("x"))), ("'x'",)
    elif damage == "null_t":
        df, names = df.with_columns(t=pl.when(hit).then(None).otherwise(pl.col("t"))), ("'t'",)
    elif damage == "two_t":
        df, names = df.with_columns(t=pl.col("t").cast(pl.Int64) + hit.cast(pl.Int64) * 2), ("'t'",)
    elif damage == "string_x":
        df, names = df.with_columns(pl.col("x").cast(pl.String)), ("'x'",)
    elif damage == "empty":
        df, names = df.head(0), ("df",)
    elif damage == "unknown":
        covariates, names = ("x", "z"), ("'z'",)
    elif damage == "one_arm":
        df, names = df.with_columns(t=pl.lit(False)), ("'t'",)
    frame = df.to_pandas() if pandas else df
    if damage == "none":
        assert math.isfinite(average_effect(frame, outcome="y", treatment="t", covariates=covariates, **TINY).se)
        return
    with pytest.raises(MethodInputError) as err:
        average_effect(frame, outcome="y", treatment="t", covariates=covariates, **TINY)
    _refused(err.value, names)


# ------------------------------------------------------------------------------------------------ ratio_interval
COUNT = st.integers(0, 5_000)


@given(
    x1=COUNT,
    extra1=st.integers(1, 5_000),
    x0=COUNT,
    extra0=st.integers(1, 5_000),
    method=st.sampled_from(["katz", "fieller", "delta"]),
    form=st.sampled_from(["int", "float", "numpy", "array"]),
)
@settings(FUZZ, max_examples=300)
def test_ratio_interval_same_answer_for_any_numeric_form(
    x1: int, extra1: int, x0: int, extra0: int, method: str, form: str
) -> None:
    n1, n0 = x1 + extra1, x0 + extra0
    base = ratio_interval(x1, n1, x0, n0, method=method)  # type: ignore[arg-type]
    convert = {"int": int, "float": float, "numpy": np.int64, "array": lambda v: np.array([v])}[form]
    other = ratio_interval(convert(x1), convert(n1), convert(x0), convert(n0), method=method)  # type: ignore[arg-type]
    np.testing.assert_allclose(np.ravel(other), np.ravel(base), rtol=0, atol=0, equal_nan=True)
    ratio, low, high = base
    if x1 > 0 and x0 > 0 and math.isfinite(low):
        assert low <= ratio <= high


BAD = st.sampled_from([-1, 2.5, float("nan"), float("inf"), "7", None, [], "over", "zero_n"])


@given(bad=BAD, where=st.sampled_from(["x1", "n1", "x0", "n0"]), method=st.sampled_from(["katz", "fieller", "delta"]))
@settings(FUZZ, max_examples=200)
def test_ratio_interval_bad_counts_are_refused_by_name(bad: object, where: str, method: str) -> None:
    args = {"x1": 10, "n1": 100, "x0": 8, "n0": 120}
    if bad == "over":
        args[where.replace("n", "x")] = 1_000
        where = where.replace("n", "x")
    elif bad == "zero_n":
        where = where.replace("x", "n")
        args[where] = 0
    else:
        args[where] = bad  # type: ignore[assignment]
    with pytest.raises(MethodInputError) as err:
        ratio_interval(args["x1"], args["n1"], args["x0"], args["n0"], method=method)  # type: ignore[arg-type]
    _refused(err.value, (where,))


# ------------------------------------------------------------------------------------------------------- ErlangC
@given(
    rate=st.floats(0.0, 5.0),
    aht=st.floats(1.0, 600.0),
    level=st.floats(0.05, 0.99),
    answer=st.floats(0.0, 120.0),
    shrinkage=st.floats(0.0, 0.6),
)
@settings(FUZZ, max_examples=300)
def test_erlang_c_agents_is_the_fewest_meeting_the_target(
    rate: float, aht: float, level: float, answer: float, shrinkage: float
) -> None:
    queue = ErlangC(rate, aht)
    agents = queue.agents(level, answer)
    if rate == 0:
        assert agents == 0
        return
    assert queue.service_level(agents, answer) >= level
    assert agents - 1 <= rate * aht or queue.service_level(agents - 1, answer) < level
    assert ErlangC(np.array([rate]), np.array([aht])).agents(level, answer).tolist() == [agents]
    rostered = queue.agents(level, answer, shrinkage=shrinkage)
    assert rostered >= agents and rostered * (1 - shrinkage) >= agents - 1e-9
    assert (rostered - 1) * (1 - shrinkage) < agents + 1e-9


@given(
    bad=st.sampled_from([-1.0, float("nan"), float("inf"), "3", None, True]),
    where=st.sampled_from(["arrivals_per_s", "handle_s", "agents", "answer_s", "service_level"]),
)
@settings(FUZZ, max_examples=200)
def test_erlang_c_bad_inputs_are_refused_by_name(bad: object, where: str) -> None:
    args = {"arrivals_per_s": 0.2, "handle_s": 60.0, "agents": 20, "answer_s": 20.0, "service_level": 0.8}
    args[where] = bad  # type: ignore[assignment]
    with pytest.raises(MethodInputError) as err:
        queue = ErlangC(args["arrivals_per_s"], args["handle_s"])
        if where == "service_level":
            queue.agents(args["service_level"], 20.0)  # type: ignore[arg-type]
        else:
            queue.service_level(args["agents"], args["answer_s"])
    _refused(err.value, (where,))
