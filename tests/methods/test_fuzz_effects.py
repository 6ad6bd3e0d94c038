"""Fuzzing average_effect (with its estimand and clusters), SyntheticControl (predictor windows, V, placebos),
ratio_interval and ErlangC (with its occupancy cap): each generated input gives the clean input's answer or a
one-line MethodInputError naming the argument, or the column in quotes (``'x'``), with the message its damage calls
for (hypothesis, derandomized)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newretail.methods import ErlangC, MethodInputError, SyntheticControl, average_effect, ratio_interval

TINY = {"n_estimators": 3, "folds": 2, "min_child_samples": 2, "num_leaves": 3}
FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _frame(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n) % 2 == 0
    x = rng.normal(size=n)
    return pl.DataFrame({"y": x + t + rng.normal(size=n), "t": t, "x": x, "g": np.arange(n) // 2})


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
    estimand=st.sampled_from(["ate", "att"]),
    cluster=st.sampled_from([None, "int", "str"]),
)
@settings(FUZZ, max_examples=60)
def test_average_effect_equivalent_inputs_agree(
    seed: int, n: int, treatment_as: str, pandas: bool, shuffle: int, estimand: str, cluster: str | None
) -> None:
    """Bool or 0/1 treatments, pandas or polars, shuffled rows, and cluster labels renamed (numbers or words for the
    same clusters) give the identical effect, interval and overlap."""
    clean = _frame(seed, n)
    args = {"outcome": "y", "treatment": "t", "covariates": ("x",), "estimand": estimand, **TINY}
    if cluster is not None:
        args["cluster"] = "g"
    base = average_effect(clean, **args)  # type: ignore[arg-type]
    cast = {"bool": pl.Boolean, "int8": pl.Int8, "int64": pl.Int64, "float": pl.Float64}[treatment_as]
    other = clean.with_columns(pl.col("t").cast(cast)).sample(fraction=1.0, shuffle=True, seed=shuffle)
    if cluster == "str":
        other = other.with_columns(g=pl.format("shop-{}", 1_000 - pl.col("g")))
    again = average_effect(other.to_pandas() if pandas else other, **args)  # type: ignore[arg-type]
    assert again == base and base.name == estimand.upper()


DAMAGE = st.sampled_from(
    ["nan_y", "inf_x", "null_t", "two_t", "string_x", "empty", "unknown", "one_arm", "null_g", "no_g", "one_g",
     "estimand", "none"]
)  # fmt: skip
EXPECTED = {
    "nan_y": r"^column 'y': (NaN or infinite values|1 missing values)$",  # pandas' NaN arrives as a null
    "inf_x": r"^column 'x': NaN or infinite values$",
    "null_t": r"^column 't': 1 missing values in a treatment indicator$",
    "two_t": r"^column 't': a treatment indicator must be bool or 0/1, found the value [23]$",
    "string_x": r"^column 'x': must be numeric, got dtype String$",
    "empty": r"^df: no rows$",
    "unknown": r"^column 'z' is not in df \(columns: y, t, x, g\)$",
    "one_arm": r"^column 't': 0 treated rows; each arm needs at least folds = 2$",
    "null_g": r"^column 'g': 1 missing cluster labels$",
    "no_g": r"^column 'cluster_id' is not in df",
    "one_g": r"^column 'g': 1 clusters cannot fill folds = 2$",
    "estimand": r"^estimand: must be 'ate' or 'att', got 'atc'$",
}


@given(seed=st.integers(0, 10_000), n=st.integers(6, 16), damage=DAMAGE, row=st.integers(0, 5), pandas=st.booleans())
@settings(FUZZ, max_examples=300)
def test_average_effect_damaged_inputs_are_refused_by_name(
    seed: int, n: int, damage: str, row: int, pandas: bool
) -> None:
    """Each damage gets its own message, naming the column in quotes (or the argument)."""
    df = _frame(seed, n)
    hit = pl.int_range(pl.len()) == row
    args: dict = {"outcome": "y", "treatment": "t", "covariates": ("x",), **TINY}
    if damage == "nan_y":
        df = df.with_columns(y=pl.when(hit).then(float("nan")).otherwise(pl.col("y")))
    elif damage == "inf_x":
        df = df.with_columns(x=pl.when(hit).then(float("inf")).otherwise(pl.col("x")))
    elif damage == "null_t":
        df = df.with_columns(t=pl.when(hit).then(None).otherwise(pl.col("t")))
    elif damage == "two_t":
        df = df.with_columns(t=pl.col("t").cast(pl.Int64) + hit.cast(pl.Int64) * 2)
    elif damage == "string_x":
        df = df.with_columns(pl.col("x").cast(pl.String))
    elif damage == "empty":
        df = df.head(0)
    elif damage == "unknown":
        args["covariates"] = ("x", "z")
    elif damage == "one_arm":
        df = df.with_columns(t=pl.lit(False))
    elif damage == "null_g":
        df, args["cluster"] = df.with_columns(g=pl.when(hit).then(None).otherwise(pl.col("g"))), "g"
    elif damage == "no_g":
        args["cluster"] = "cluster_id"
    elif damage == "one_g":
        df, args["cluster"] = df.with_columns(g=pl.lit(1)), "g"
    elif damage == "estimand":
        args["estimand"] = "atc"
    frame = df.to_pandas() if pandas else df
    if damage == "none":
        assert math.isfinite(average_effect(frame, **args).se)
        return
    with pytest.raises(MethodInputError, match=EXPECTED[damage]) as err:
        average_effect(frame, **args)
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------------------------- SyntheticControl
def _sc_panel(seed: int, units: int, periods: int) -> pl.DataFrame:
    """Random-walk units; ``x`` a noisy level measured only in periods 1-3 (null elsewhere)."""
    rng = np.random.default_rng(seed)
    y = 10 + rng.normal(size=(units, periods)).cumsum(axis=1)
    x = y + rng.normal(0, 0.5, size=y.shape)
    x[:, [0, *range(4, periods)]] = np.nan
    frame = pl.DataFrame(
        {"unit": np.repeat(np.arange(units), periods), "time": np.tile(np.arange(periods), units), "y": y.ravel(),
         "x": x.ravel()}
    )  # fmt: skip
    return frame.with_columns(x=pl.when(pl.col("x").is_nan()).then(None).otherwise("x"))


PREDICTORS = st.sampled_from(
    [None, [("x", (1, 3))], [("x", (1, 3), "median"), ("y", 2)], ["x"], [("x", [1, 3]), ("y", (0, 4))]]
)


@given(
    seed=st.integers(0, 10_000),
    units=st.integers(4, 7),
    predictors=PREDICTORS,
    v=st.sampled_from(["outcome", "custom", "cv"]),
    placebos=st.sampled_from([0, 2, "all"]),
    shuffle=st.integers(0, 10_000),
    pandas=st.booleans(),
)
@settings(FUZZ, max_examples=40)
def test_synthetic_control_equivalent_inputs_agree(
    seed: int, units: int, predictors: list | None, v: str, placebos: int | str, shuffle: int, pandas: bool
) -> None:
    """Shuffled rows, pandas or polars, and a predictor's values after the treatment, outside every window (null,
    or filled with anything), give identical weights, gaps, V and p-values."""
    clean = _sc_panel(seed, units, 9)
    if predictors is None:
        v = "outcome"
    args: dict = {"predictors": predictors, "placebos": placebos, "progress": False}
    if v == "custom" and predictors:
        reads_outcome = any(not isinstance(p, str) and p[0] == "y" for p in predictors)
        args["v"] = [float(k + 1) for k in range(len(predictors) + (0 if reads_outcome else 1))]
    elif v == "cv":
        args |= {"v": "cv", "cv_split": 5, "predictors": [("x", (1, 3)), ("y", (5, 6))]}
        args["cv_predictors"] = [("x", (1, 3)), ("y", (2, 4))]
    try:
        base = SyntheticControl("unit", "time", "y", 0, 7, **args).fit(clean)
    except MethodInputError as err:  # a predictor the same in every unit is refused: then every variant is refused
        assert "cannot weigh donors" in str(err)
        return
    after = pl.col("time") >= 7  # outside every window (all end before the treatment at 7)
    other = clean.with_columns(x=pl.when(after).then(-99.0).otherwise("x"))
    other = other.sample(fraction=1.0, shuffle=True, seed=shuffle)
    again = SyntheticControl("unit", "time", "y", 0, 7, **args).fit(other.to_pandas() if pandas else other)
    assert again.weights_ == base.weights_ and again.gap_.equals(base.gap_) and again.v_weights_ == base.v_weights_
    assert again.p_value_ == base.p_value_ or (math.isnan(again.p_value_) and math.isnan(base.p_value_))


SC_DAMAGE = {
    "late_window": ({"predictors": [("x", (2, 8))]}, r"^predictors: 'x mean 2-8' reads 7, not before the treatment"),
    "empty_window": ({"predictors": [("x", 5)]}, r"^predictors: 'x 5' has no value for unit 0 in its window$"),
    "unknown_time": ({"predictors": [("x", 42)]}, r"^predictors: 'x 42': 42 is not a time of column 'time'$"),
    "unknown_column": ({"predictors": [("w", 2)]}, r"^column 'w' is not in df"),
    "bad_how": ({"predictors": [("x", (1, 3), "max")]}, r"^predictors: \('x', \(1, 3\), 'max'\) aggregates by"),
    "text_predictor": ({"predictors": [("label", 2)]}, r"^column 'label': a predictor must be numeric, got dtype"),
    "short_v": ({"predictors": ["x"], "v": [1.0]}, r"^custom_v: 2 weights expected \(x, y\), got 1$"),
    "negative_placebos": ({"placebos": -2}, r"^placebos: 'all', 0 \(none\) or a whole number, got -2$"),
    "bad_v": ({"predictors": ["x"], "v": "lasso"}, r"^v: one of outcome, custom, cv or a vector of weights"),
    "late_cv_split": ({"predictors": ["x"], "v": "cv", "cv_split": 1}, r"^cv_split: 1 must leave at least two"),
}


@given(seed=st.integers(0, 10_000), damage=st.sampled_from(sorted(SC_DAMAGE)), pandas=st.booleans())
@settings(FUZZ, max_examples=80)
def test_synthetic_control_bad_predictors_and_v_are_refused_by_name(seed: int, damage: str, pandas: bool) -> None:
    frame = _sc_panel(seed, 5, 9).with_columns(label=pl.lit("a"))
    kwargs, message = SC_DAMAGE[damage]
    with pytest.raises(MethodInputError, match=message) as err:
        SyntheticControl("unit", "time", "y", 0, 7, **kwargs).fit(frame.to_pandas() if pandas else frame)
    assert "\n" not in str(err.value)


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
    cap=st.one_of(st.none(), st.floats(0.3, 1.0)),
)
@settings(FUZZ, max_examples=300)
def test_erlang_c_agents_is_the_fewest_meeting_the_target(
    rate: float, aht: float, level: float, answer: float, shrinkage: float, cap: float | None
) -> None:
    """The fewest agents meeting the service level and keeping occupancy A / N at most ``cap``: one fewer misses
    the level or exceeds the cap (or cannot serve the load at all)."""
    queue = ErlangC(rate, aht)
    agents = queue.agents(level, answer, max_occupancy=cap)
    if rate == 0:
        assert agents == 0
        return
    load = rate * aht
    assert queue.service_level(agents, answer) >= level
    assert cap is None or load / agents <= cap * (1 + 1e-9)
    fewer = agents - 1
    assert (
        fewer <= load
        or queue.service_level(fewer, answer) < level
        or (cap is not None and load / fewer > cap * (1 - 1e-9))
    )
    assert ErlangC(np.array([rate]), np.array([aht])).agents(level, answer, max_occupancy=cap).tolist() == [agents]
    rostered = queue.agents(level, answer, shrinkage=shrinkage, max_occupancy=cap)
    assert rostered >= agents and rostered * (1 - shrinkage) >= agents - 1e-9
    assert (rostered - 1) * (1 - shrinkage) < agents + 1e-9


@given(
    bad=st.sampled_from([-1.0, float("nan"), float("inf"), "3", None, True]),
    where=st.sampled_from(["arrivals_per_s", "handle_s", "agents", "answer_s", "service_level", "max_occupancy"]),
)
@settings(FUZZ, max_examples=200)
def test_erlang_c_bad_inputs_are_refused_by_name(bad: object, where: str) -> None:
    args = {"arrivals_per_s": 0.2, "handle_s": 60.0, "agents": 20, "answer_s": 20.0, "service_level": 0.8}
    args[where] = bad  # type: ignore[assignment]
    if where == "max_occupancy" and bad is None:
        return  # None is allowed: no cap
    with pytest.raises(MethodInputError) as err:
        queue = ErlangC(args["arrivals_per_s"], args["handle_s"])
        if where == "service_level":
            queue.agents(args["service_level"], 20.0)  # type: ignore[arg-type]
        elif where == "max_occupancy":
            queue.agents(0.8, 20.0, max_occupancy=bad)  # type: ignore[arg-type]
        else:
            queue.service_level(args["agents"], args["answer_s"])
    _refused(err.value, (where,))
