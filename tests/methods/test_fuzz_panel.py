"""Generated inputs for DiD, EventStudy and SyntheticControl: each call either gives the answer of the clean
equivalent input (0/1 integers or floats for a boolean treatment, shuffled rows, pandas for polars, categorical or
string unit labels) or raises a one-line MethodInputError naming the column or argument at fault (string or 0/1/2
treatments, duplicates, gaps, NaN/inf/missing outcomes, reversals, empty or single-unit panels, unknown columns).
500 generated inputs per method, small panels (a few seconds each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newretail.methods import DiD, EventStudy, MethodInputError, SyntheticControl

FUZZ = settings(max_examples=500, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

EQUIVALENT = ("int", "float", "int8_pandas", "shuffle", "pandas", "categorical_unit", "string_unit")
BAD = {  # variant -> what the one-line error must name
    "string_treatment": "d",
    "value_two": "d",
    "null_treatment": "d",
    "nan_outcome": "y",
    "inf_outcome": "y",
    "null_outcome": "y",
    "duplicate": "unit, time",
    "reversal": "d",
    "unknown_column": "'y'",
    "empty": "empty",
    "single_unit": "unit",
    "all_treated": "d",
}


@st.composite
def did_panels(draw: st.DrawFn) -> pl.DataFrame:
    """3-6 units over 3-6 periods; at least one never treated and one treated from a period after the first."""
    n_units, n_times = draw(st.integers(3, 6)), draw(st.integers(3, 6))
    starts = [draw(st.one_of(st.none(), st.integers(1, n_times - 1))) for _ in range(n_units)]
    starts[0], starts[1] = None, starts[1] or draw(st.integers(1, n_times - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    unit, time = np.repeat(np.arange(n_units), n_times), np.tile(np.arange(n_times), n_units)
    start = np.array([s if s is not None else 10**6 for s in starts])
    d = time >= start[unit]
    y = rng.normal(size=unit.size) + 0.5 * d + rng.normal(size=n_units)[unit]
    return pl.DataFrame({"unit": unit, "time": time, "y": y, "d": d})


def _variant(frame: pl.DataFrame, name: str, rng: np.random.Generator) -> Any:
    at = int(rng.integers(frame.height))
    row = pl.int_range(pl.len()) == at
    treated_row = int(np.flatnonzero(frame["d"].to_numpy())[0]) if frame["d"].any() else 0
    changes = {
        "int": lambda: frame.with_columns(pl.col("d").cast(pl.Int64)),
        "float": lambda: frame.with_columns(pl.col("d").cast(pl.Float64)),
        "int8_pandas": lambda: frame.with_columns(pl.col("d").cast(pl.Int8)).to_pandas(),
        "shuffle": lambda: frame.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(1000))),
        "pandas": lambda: frame.to_pandas().sample(frac=1.0, random_state=int(rng.integers(1000))),
        "categorical_unit": lambda: frame.with_columns(pl.format("u{}", "unit").cast(pl.Categorical).alias("unit")),
        "string_unit": lambda: frame.with_columns(pl.format("u{}", "unit").alias("unit")),
        "string_treatment": lambda: frame.with_columns(pl.col("d").cast(pl.String)),
        "value_two": lambda: frame.with_columns(d=pl.when(row).then(2).otherwise(pl.col("d").cast(pl.Int64))),
        "null_treatment": lambda: frame.with_columns(d=pl.when(row).then(None).otherwise("d")),
        "nan_outcome": lambda: frame.with_columns(y=pl.when(row).then(float("nan")).otherwise("y")),
        "inf_outcome": lambda: frame.with_columns(y=pl.when(row).then(float("-inf")).otherwise("y")),
        "null_outcome": lambda: frame.with_columns(y=pl.when(row).then(None).otherwise("y")),
        "duplicate": lambda: pl.concat([frame, frame[at]]),
        "reversal": lambda: frame.with_columns(  # the first treated unit: on in the first period, off in the second
            d=pl.when(pl.col("unit") == frame["unit"][treated_row])
            .then(pl.when(pl.col("time") == 0).then(True).when(pl.col("time") == 1).then(False).otherwise("d"))
            .otherwise("d")
        ),
        "unknown_column": lambda: frame.rename({"y": "sales"}),
        "empty": lambda: frame.head(0),
        "single_unit": lambda: frame.filter(pl.col("unit") == frame["unit"][treated_row]),
        "all_treated": lambda: frame.with_columns(d=pl.col("time") >= frame["time"].max()),
        "gap": lambda: frame.filter(~row),
    }
    return changes[name]()


def _answer(method: Any, df: Any) -> tuple[str, Any]:
    try:
        method.fit(df)
    except MethodInputError as err:
        return "error", str(err)
    if isinstance(method, DiD):
        return "ok", np.array([method.effect_, method.se_, *method.ci_])
    if isinstance(method, EventStudy):
        return "ok", method.coefs_.select("estimate", "se").to_numpy().ravel()
    return "ok", np.array([*method.gap_["gap"].to_numpy(), method.p_value_, method.pre_rmspe_])


def _check(make: Any, frame: pl.DataFrame, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    clean = _answer(make(), frame)
    kind, got = _answer(make(), _variant(frame, name, rng))
    if name in EQUIVALENT:
        assert kind == clean[0], (name, got, clean)
        if kind == "ok":
            relabelled = name.endswith("_unit")  # units sort by label: same sums in another order
            np.testing.assert_allclose(got, clean[1], rtol=1e-9 if relabelled else 0, atol=1e-12 if relabelled else 0)
        return
    if name == "gap":  # a valid unbalanced panel, or a refusal naming the treatment or the reference
        if kind == "error":
            assert "\n" not in got and any(c in got for c in ("'d'", "reference", "df:")), got
        else:  # equals the same gapped panel in another row order
            redo = _answer(make(), _variant(frame, "gap", np.random.default_rng(seed)).sample(fraction=1.0, seed=1))
            np.testing.assert_array_equal(got, redo[1])
        return
    assert kind == "error", (name, got)
    assert "\n" not in got and BAD[name] in got, (name, got)


VARIANTS = (*EQUIVALENT, *BAD, "gap")


@FUZZ
@given(frame=did_panels(), name=st.sampled_from(VARIANTS), seed=st.integers(0, 10**6))
def test_did_equals_the_clean_answer_or_names_the_column(frame: pl.DataFrame, name: str, seed: int) -> None:
    _check(lambda: DiD("unit", "time", "y", "d"), frame, name, seed)


@FUZZ
@given(frame=did_panels(), name=st.sampled_from(VARIANTS), seed=st.integers(0, 10**6))
def test_event_study_equals_the_clean_answer_or_names_the_column(frame: pl.DataFrame, name: str, seed: int) -> None:
    _check(lambda: EventStudy("unit", "time", "y", "d"), frame, name, seed)


SC_BAD = {
    "nan_outcome": "y",
    "inf_outcome": "y",
    "null_outcome": "y",
    "duplicate": "unit, time",
    "unknown_column": "'y'",
    "empty": "empty",
    "single_unit": "unit",
    "gap": "time",
    "absent_unit": "unit",
    "absent_time": "time",
    "early_time": "time",
    "bad_alpha": "alpha",
}
SC_EQUIVALENT = ("shuffle", "pandas", "categorical_unit", "string_unit")


@st.composite
def sc_panels(draw: st.DrawFn) -> tuple[pl.DataFrame, int, int]:
    n_units, n_times = draw(st.integers(3, 6)), draw(st.integers(4, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = 10 + rng.normal(size=(n_units, n_times)).cumsum(axis=1)
    frame = pl.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_times),
            "time": np.tile(np.arange(1990, 1990 + n_times), n_units),
            "y": y.ravel(),
            "d": np.zeros(n_units * n_times, dtype=bool),
        }
    )
    return frame, draw(st.integers(0, n_units - 1)), 1990 + draw(st.integers(2, n_times - 1))


@FUZZ
@given(case=sc_panels(), name=st.sampled_from((*SC_EQUIVALENT, *SC_BAD)), seed=st.integers(0, 10**6))
def test_synthetic_control_equals_the_clean_answer_or_names_the_column(
    case: tuple[pl.DataFrame, int, int], name: str, seed: int
) -> None:
    frame, treated, when = case
    args: dict[str, Any] = {"treated_unit": treated, "treatment_time": when}
    if name in ("categorical_unit", "string_unit"):
        args["treated_unit"] = f"u{treated}"
    elif name == "absent_unit":
        args["treated_unit"] = 99
    elif name == "absent_time":
        args["treatment_time"] = 2100
    elif name == "early_time":
        args["treatment_time"] = 1991
    elif name == "bad_alpha":
        args["alpha"] = 0.75
    clean = _answer(SyntheticControl("unit", "time", "y", treated, when), frame)
    df = frame if name.startswith(("absent", "early", "bad")) else _variant(frame, name, np.random.default_rng(seed))
    kind, got = _answer(SyntheticControl("unit", "time", "y", **args), df)
    if name in SC_EQUIVALENT:
        assert kind == clean[0] == "ok", got
        np.testing.assert_allclose(got, clean[1], rtol=1e-9, atol=1e-9)
    else:
        assert kind == "error", (name, got)
        assert "\n" not in got and SC_BAD[name] in got, (name, got)


@pytest.mark.parametrize("method", [DiD, EventStudy])
def test_integer_treatment_regression_example(method: Any) -> None:
    """Explicit example: a 0/1 integer treatment equals the boolean one (the old code read it as row indices)."""
    frame = pl.DataFrame(
        {
            "unit": [0, 0, 0, 1, 1, 1, 2, 2, 2],
            "time": [0, 1, 2] * 3,
            "y": [1.0, 1.2, 2.3, 0.5, 0.6, 0.8, 2.0, 2.1, 2.0],
            "d": [False, False, True, False, False, False, False, False, False],
        }
    )
    a = _answer(method("unit", "time", "y", "d"), frame)
    b = _answer(method("unit", "time", "y", "d"), frame.with_columns(pl.col("d").cast(pl.Int64)))
    np.testing.assert_array_equal(a[1], b[1])
